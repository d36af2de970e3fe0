//! Literals to and from JSON, the one place Gantry does it (the CLI and the console use it).
//!
//! JSON to literal is guided by the declared type: `3` is an integer for `integer` and a float for `float`;
//! datetimes are RFC 3339 strings, durations strings such as `"1.5s"` (or numbers of seconds), binary values base64
//! strings, blobs `{"uri": .., "format": .., "dimensionality": "single"|"multipart"}` or a bare URI string, `null`
//! is `none`. Literal to JSON needs no type and uses the same spellings.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use gantry_core::model::{
    Blob, BlobDimensionality, ErrorValue, Literal, LiteralMap, LiteralType, StructValue, TypedInterface,
};
use serde_json::{Map, Number, Value};

use crate::time_text::{format_duration, format_timestamp, parse_duration, parse_timestamp};
use crate::types::format_type;

/// A JSON value that does not fit its declared type; `path` locates it (`tasks_count`, `xs[2]`, `m["k"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// The input and the steps into it.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input {:?}: {}", self.path, self.message)
    }
}

impl std::error::Error for JsonError {}

fn mismatch(path: &str, ty: &LiteralType, value: &Value) -> JsonError {
    let found = match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    };
    JsonError {
        path: path.to_owned(),
        message: format!("expected {}, got {found}", format_type(ty)),
    }
}

fn bad(path: &str, message: impl Into<String>) -> JsonError {
    JsonError {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// A JSON object of inputs to literals, by the interface's declared input types. Unknown names are an error listing
/// the known ones; missing inputs are left to the server (which fills in defaults).
pub fn inputs_from_json(value: &Value, interface: &TypedInterface) -> Result<LiteralMap, JsonError> {
    let Value::Object(entries) = value else {
        return Err(bad("", "inputs must be a JSON object of input names to values"));
    };
    let mut literals = LiteralMap::new();
    for (name, value) in entries {
        let Some(variable) = interface.input(name) else {
            let known: Vec<String> = interface
                .inputs
                .iter()
                .map(|v| format!("{}: {}", v.name, format_type(&v.ty)))
                .collect();
            let known = if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            };
            return Err(bad(name, format!("no such input (the inputs are: {known})")));
        };
        literals.insert(name.clone(), literal_from_json(value, &variable.ty, name)?);
    }
    Ok(literals)
}

/// One value of type `ty`; `path` names it in errors.
pub fn literal_from_json(value: &Value, ty: &LiteralType, path: &str) -> Result<Literal, JsonError> {
    let literal = match (ty.untagged(), value) {
        (LiteralType::Integer, Value::Number(n)) => match n.as_i64() {
            Some(i) => Literal::Integer(i),
            None => match n.as_f64() {
                // `3.0` is an integer; `3.5` and integers beyond i64 are not.
                Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Literal::Integer(f as i64),
                _ => return Err(mismatch(path, ty, value)),
            },
        },
        (LiteralType::Float, Value::Number(n)) => Literal::Float(n.as_f64().ok_or_else(|| mismatch(path, ty, value))?),
        (LiteralType::String, Value::String(s)) => Literal::String(s.clone()),
        (LiteralType::Boolean, Value::Bool(b)) => Literal::Boolean(*b),
        (LiteralType::Datetime, Value::String(s)) => Literal::Datetime(parse_timestamp(s).map_err(|e| bad(path, e))?),
        (LiteralType::Duration, Value::String(s)) => Literal::Duration(parse_duration(s).map_err(|e| bad(path, e))?),
        (LiteralType::Duration, Value::Number(n)) => {
            Literal::Duration(parse_duration(&n.to_string()).map_err(|e| bad(path, e))?)
        }
        (LiteralType::None, Value::Null) => Literal::None,
        (LiteralType::Binary, Value::String(s)) => Literal::Binary(
            BASE64
                .decode(s)
                .map_err(|e| bad(path, format!("binary values are base64: {e}")))?,
        ),
        (LiteralType::Struct(_), Value::Object(object)) => Literal::Struct(struct_fields(object)),
        (LiteralType::Error, Value::Object(object)) => {
            let text = |key: &str| match object.get(key) {
                None => Ok(String::new()),
                Some(Value::String(text)) => Ok(text.clone()),
                Some(_) => Err(bad(path, format!("an error's {key:?} is a string"))),
            };
            Literal::Error(ErrorValue {
                failed_node_id: text("failed_node_id")?,
                message: text("message")?,
            })
        }
        (LiteralType::Blob(blob_type), Value::String(uri)) => Literal::Blob(Blob {
            uri: uri.clone(),
            format: blob_type.format.clone(),
            dimensionality: blob_type.dimensionality,
        }),
        (LiteralType::Blob(blob_type), Value::Object(object)) => {
            Literal::Blob(blob_from_json(object, blob_type, path)?)
        }
        (LiteralType::Collection(element), Value::Array(items)) => Literal::Collection(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| literal_from_json(item, element, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        (LiteralType::Map(value_type), Value::Object(object)) => Literal::Map(
            object
                .iter()
                .map(|(k, v)| Ok((k.clone(), literal_from_json(v, value_type, &format!("{path}[{k:?}]"))?)))
                .collect::<Result<_, JsonError>>()?,
        ),
        (LiteralType::Union(variants), _) => {
            // The first variant the value fits, as the server casts; the server stamps the variant.
            return variants
                .iter()
                .find_map(|variant| literal_from_json(value, variant, path).ok())
                .ok_or_else(|| mismatch(path, ty, value));
        }
        (LiteralType::Enum(values), Value::String(s)) => {
            if !values.contains(s) {
                return Err(bad(path, format!("{s:?} is not one of {}", values.join(", "))));
            }
            Literal::Enum(s.clone())
        }
        _ => return Err(mismatch(path, ty, value)),
    };
    Ok(literal)
}

fn blob_from_json(
    object: &Map<String, Value>,
    blob_type: &gantry_core::model::BlobType,
    path: &str,
) -> Result<Blob, JsonError> {
    let Some(Value::String(uri)) = object.get("uri") else {
        return Err(bad(path, "a blob needs a \"uri\" string"));
    };
    let format = match object.get("format") {
        Some(Value::String(format)) => format.clone(),
        _ => blob_type.format.clone(),
    };
    let dimensionality = match object.get("dimensionality").and_then(Value::as_str) {
        Some("multipart") => BlobDimensionality::Multipart,
        Some("single") => BlobDimensionality::Single,
        Some(other) => {
            return Err(bad(
                path,
                format!("blob dimensionality {other:?} is not single or multipart"),
            ));
        }
        None => blob_type.dimensionality,
    };
    Ok(Blob {
        uri: uri.clone(),
        format,
        dimensionality,
    })
}

fn struct_fields(object: &Map<String, Value>) -> BTreeMap<String, StructValue> {
    object.iter().map(|(k, v)| (k.clone(), struct_value(v))).collect()
}

fn struct_value(value: &Value) -> StructValue {
    match value {
        Value::Null => StructValue::Null,
        Value::Bool(b) => StructValue::Bool(*b),
        Value::Number(n) => StructValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => StructValue::String(s.clone()),
        Value::Array(items) => StructValue::List(items.iter().map(struct_value).collect()),
        Value::Object(object) => StructValue::Object(struct_fields(object)),
    }
}

/// A literal as JSON, in the spellings [`literal_from_json`] reads.
pub fn literal_to_json(literal: &Literal) -> Value {
    match literal {
        Literal::Integer(i) => Value::from(*i),
        Literal::Float(f) => float(*f),
        Literal::String(s) | Literal::Enum(s) => Value::String(s.clone()),
        Literal::Boolean(b) => Value::Bool(*b),
        Literal::Datetime(t) => Value::String(format_timestamp(*t)),
        Literal::Duration(d) => Value::String(format_duration(*d)),
        Literal::None => Value::Null,
        Literal::Binary(bytes) => Value::String(BASE64.encode(bytes)),
        Literal::Struct(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), struct_to_json(v))).collect()),
        Literal::Blob(blob) => serde_json::json!({
            "uri": blob.uri,
            "format": blob.format,
            "dimensionality": match blob.dimensionality {
                BlobDimensionality::Single => "single",
                BlobDimensionality::Multipart => "multipart",
            },
        }),
        Literal::Collection(items) => Value::Array(items.iter().map(literal_to_json).collect()),
        Literal::Map(items) => Value::Object(items.iter().map(|(k, v)| (k.clone(), literal_to_json(v))).collect()),
        Literal::Union(union) => literal_to_json(&union.value),
        // The hash is the producer's business; the value is what a reader wants.
        Literal::Hashed(hashed) => literal_to_json(&hashed.value),
        Literal::Error(error) => serde_json::json!({
            "failed_node_id": error.failed_node_id,
            "message": error.message,
        }),
        // The CLI reads references before it shows literals (see `client::read_references`); one left is shown as
        // what it is.
        Literal::Offloaded(offloaded) => serde_json::json!({
            "offloaded": offloaded.uri,
            "size_bytes": offloaded.size_bytes,
        }),
    }
}

/// A literal map as a JSON object.
pub fn literal_map_to_json(literals: &LiteralMap) -> Value {
    Value::Object(literals.iter().map(|(k, v)| (k.clone(), literal_to_json(v))).collect())
}

/// Non-finite floats have no JSON number; they are written as the strings `NaN`, `inf` and `-inf`.
fn float(value: f64) -> Value {
    match Number::from_f64(value) {
        Some(number) => Value::Number(number),
        None => Value::String(value.to_string()),
    }
}

fn struct_to_json(value: &StructValue) -> Value {
    match value {
        StructValue::Null => Value::Null,
        StructValue::Bool(b) => Value::Bool(*b),
        StructValue::Number(n) => float(*n),
        StructValue::String(s) => Value::String(s.clone()),
        StructValue::List(items) => Value::Array(items.iter().map(struct_to_json).collect()),
        StructValue::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), struct_to_json(v))).collect())
        }
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
