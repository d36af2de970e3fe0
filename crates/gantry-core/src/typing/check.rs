//! Checking a value against a declared type.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::{AttrStep, Literal, LiteralType, StructType, StructValue};

use super::cast::{accepts_none, is_castable};
use super::infer::literal_type_of;

/// A value that does not conform to its declared type, with where inside the value the first offence is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct TypeMismatch {
    /// Steps from the checked value to the offending part, such as `[3]["key"]`; empty for the value itself.
    pub path: String,
    /// The type the offending part was expected to have.
    pub expected: LiteralType,
    /// What was found instead: a kind of value (`string`), a value (`"purple"`) or a type.
    pub found: String,
}

impl TypeMismatch {
    /// A mismatch at `path` (formatted from steps).
    pub fn at(path: &[AttrStep], expected: &LiteralType, found: impl Into<String>) -> Self {
        TypeMismatch {
            path: format_path(path),
            expected: expected.clone(),
            found: found.into(),
        }
    }

    /// The same mismatch seen from an enclosing value, `prefix` steps further out.
    pub fn within(mut self, prefix: &[AttrStep]) -> Self {
        if !prefix.is_empty() {
            self.path = format!("{}{}", format_path(prefix), self.path);
        }
        self
    }
}

impl fmt::Display for TypeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, got {}", self.expected, self.found)?;
        if !self.path.is_empty() {
            write!(f, " at {}", self.path)?;
        }
        Ok(())
    }
}

/// Formats attribute steps the way they appear in messages: `[3]["key"]`.
pub(crate) fn format_path(path: &[AttrStep]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// Whether the value `literal` conforms to the declared type `ty`, checked all the way down.
///
/// Beyond [`is_castable`] on the literal's inferred type this looks at the values: an enum type accepts an enum or
/// string literal only when it is one of the enum's values, a plain value conforms to a union when it conforms to a
/// variant, a union value must conform to the variant it is stamped with (and that variant be castable to `ty`), and
/// a struct value is checked field by field against a fielded struct type. Struct fields whose types JSON cannot
/// express (datetime, duration, binary, blob) accept any non-null JSON value; the SDK decides their encoding.
/// An integer does not conform to `float`.
pub fn check_literal(literal: &Literal, ty: &LiteralType) -> Result<(), TypeMismatch> {
    let mut path = Vec::new();
    check_at(literal, ty, &mut path)
}

fn check_at(literal: &Literal, ty: &LiteralType, path: &mut Vec<AttrStep>) -> Result<(), TypeMismatch> {
    let literal = literal.unhashed();
    let ty = ty.untagged();
    if let Literal::Union(union) = literal {
        check_at(&union.value, &union.variant, path)?;
        if is_castable(&union.variant, ty) {
            return Ok(());
        }
        return Err(TypeMismatch::at(
            path,
            ty,
            format!("a union value of {}", union.variant),
        ));
    }
    let conforms = match (ty, literal) {
        (LiteralType::Union(variants), _) => variants.iter().any(|variant| check_at(literal, variant, path).is_ok()),
        (LiteralType::Integer, Literal::Integer(_))
        | (LiteralType::Float, Literal::Float(_))
        | (LiteralType::String, Literal::String(_) | Literal::Enum(_))
        | (LiteralType::Boolean, Literal::Boolean(_))
        | (LiteralType::Datetime, Literal::Datetime(_))
        | (LiteralType::Duration, Literal::Duration(_))
        | (LiteralType::None, Literal::None)
        | (LiteralType::Binary, Literal::Binary(_))
        | (LiteralType::Error, Literal::Error(_)) => true,
        (LiteralType::Enum(values), Literal::Enum(value) | Literal::String(value)) => {
            if values.contains(value) {
                true
            } else {
                return Err(TypeMismatch::at(path, ty, crate::names::quote(value)));
            }
        }
        (LiteralType::Blob(_), Literal::Blob(_)) => {
            let found = literal_type_of(literal);
            if is_castable(&found, ty) {
                true
            } else {
                return Err(TypeMismatch::at(path, ty, found.to_string()));
            }
        }
        (LiteralType::Struct(struct_type), Literal::Struct(fields)) => {
            return check_struct_fields(fields, struct_type, path);
        }
        (LiteralType::Collection(element), Literal::Collection(items)) => {
            for (index, item) in items.iter().enumerate() {
                path.push(AttrStep::Index(index as u32));
                let result = check_at(item, element, path);
                path.pop();
                result?;
            }
            true
        }
        (LiteralType::Map(value_type), Literal::Map(entries)) => {
            for (key, value) in entries {
                path.push(AttrStep::Key(key.clone()));
                let result = check_at(value, value_type, path);
                path.pop();
                result?;
            }
            true
        }
        _ => false,
    };
    if conforms {
        Ok(())
    } else {
        Err(TypeMismatch::at(path, ty, literal.kind_name()))
    }
}

fn check_struct_fields(
    fields: &BTreeMap<String, StructValue>,
    struct_type: &StructType,
    path: &mut Vec<AttrStep>,
) -> Result<(), TypeMismatch> {
    for (name, field_type) in &struct_type.fields {
        path.push(AttrStep::Key(name.clone()));
        let result = match fields.get(name) {
            Some(value) => check_struct_value(value, field_type, path),
            None if accepts_none(field_type) => Ok(()),
            None => Err(TypeMismatch::at(path, field_type, "a missing field")),
        };
        path.pop();
        result?;
    }
    Ok(())
}

fn struct_value_kind(value: &StructValue) -> &'static str {
    match value {
        StructValue::Null => "null",
        StructValue::Bool(_) => "boolean",
        StructValue::Number(_) => "number",
        StructValue::String(_) => "string",
        StructValue::List(_) => "list",
        StructValue::Object(_) => "object",
    }
}

fn check_struct_value(value: &StructValue, ty: &LiteralType, path: &mut Vec<AttrStep>) -> Result<(), TypeMismatch> {
    let conforms = match (ty, value) {
        (LiteralType::Union(variants), _) => variants
            .iter()
            .any(|variant| check_struct_value(value, variant, path).is_ok()),
        (LiteralType::None, StructValue::Null)
        | (LiteralType::Boolean, StructValue::Bool(_))
        | (LiteralType::Float, StructValue::Number(_))
        | (LiteralType::String, StructValue::String(_)) => true,
        (LiteralType::Integer, StructValue::Number(number)) => {
            if number.is_finite() && number.fract() == 0.0 {
                true
            } else {
                return Err(TypeMismatch::at(path, ty, format!("the number {number}")));
            }
        }
        (LiteralType::Enum(values), StructValue::String(text)) => {
            if values.contains(text) {
                true
            } else {
                return Err(TypeMismatch::at(path, ty, crate::names::quote(text)));
            }
        }
        (LiteralType::Datetime | LiteralType::Duration | LiteralType::Binary | LiteralType::Blob(_), _) => {
            !matches!(value, StructValue::Null)
        }
        (LiteralType::Collection(element), StructValue::List(items)) => {
            for (index, item) in items.iter().enumerate() {
                path.push(AttrStep::Index(index as u32));
                let result = check_struct_value(item, element, path);
                path.pop();
                result?;
            }
            true
        }
        (LiteralType::Map(value_type), StructValue::Object(entries)) => {
            for (key, entry) in entries {
                path.push(AttrStep::Key(key.clone()));
                let result = check_struct_value(entry, value_type, path);
                path.pop();
                result?;
            }
            true
        }
        (LiteralType::Struct(struct_type), StructValue::Object(fields)) => {
            return check_struct_fields(fields, struct_type, path);
        }
        _ => false,
    };
    if conforms {
        Ok(())
    } else {
        Err(TypeMismatch::at(path, ty, struct_value_kind(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UnionValue;

    fn fielded(fields: &[(&str, LiteralType)]) -> LiteralType {
        LiteralType::Struct(StructType {
            fields: fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        })
    }

    fn message(result: Result<(), TypeMismatch>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn scalars_and_the_message_format() {
        assert!(check_literal(&Literal::Integer(1), &LiteralType::Integer).is_ok());
        assert_eq!(
            message(check_literal(&Literal::String("a".into()), &LiteralType::Integer)),
            "expected integer, got string"
        );
        assert!(check_literal(&Literal::Integer(1), &LiteralType::Float).is_err());
    }

    #[test]
    fn the_path_points_into_collections_and_maps() {
        let value = Literal::Collection(vec![
            Literal::Map(BTreeMap::from([("key".to_owned(), Literal::Integer(1))])),
            Literal::Map(BTreeMap::from([("key".to_owned(), Literal::String("x".into()))])),
        ]);
        let ty = LiteralType::collection(LiteralType::map(LiteralType::Integer));
        let error = check_literal(&value, &ty).expect_err("the second map holds a string");
        assert_eq!(error.path, "[1][\"key\"]");
        assert_eq!(error.to_string(), "expected integer, got string at [1][\"key\"]");
    }

    #[test]
    fn enums_accept_their_values_as_enums_or_strings() {
        let color = LiteralType::Enum(vec!["red".into(), "blue".into()]);
        assert!(check_literal(&Literal::Enum("red".into()), &color).is_ok());
        assert!(check_literal(&Literal::String("blue".into()), &color).is_ok());
        assert_eq!(
            message(check_literal(&Literal::String("green".into()), &color)),
            "expected enum{red, blue}, got \"green\""
        );
        assert!(check_literal(&Literal::Enum("red".into()), &LiteralType::String).is_ok());
    }

    #[test]
    fn unions_accept_a_conforming_variant_and_check_stamped_values() {
        let optional = LiteralType::optional(LiteralType::Integer);
        assert!(check_literal(&Literal::None, &optional).is_ok());
        assert!(check_literal(&Literal::Integer(3), &optional).is_ok());
        assert!(check_literal(&Literal::String("3".into()), &optional).is_err());
        let stamped = Literal::Union(Box::new(UnionValue {
            value: Literal::Integer(3),
            variant: LiteralType::Integer,
        }));
        assert!(check_literal(&stamped, &optional).is_ok());
        assert!(check_literal(&stamped, &LiteralType::String).is_err());
        let lying = Literal::Union(Box::new(UnionValue {
            value: Literal::String("3".into()),
            variant: LiteralType::Integer,
        }));
        assert!(check_literal(&lying, &optional).is_err());
    }

    #[test]
    fn empty_collections_conform_to_any_collection() {
        assert!(
            check_literal(
                &Literal::Collection(vec![]),
                &LiteralType::collection(LiteralType::Float)
            )
            .is_ok()
        );
        assert!(check_literal(&Literal::Map(BTreeMap::new()), &LiteralType::map(LiteralType::Float)).is_ok());
    }

    #[test]
    fn structs_are_checked_field_by_field() {
        let ty = fielded(&[
            ("n", LiteralType::Integer),
            ("tags", LiteralType::collection(LiteralType::String)),
            ("note", LiteralType::optional(LiteralType::String)),
        ]);
        let good = Literal::Struct(BTreeMap::from([
            ("n".to_owned(), StructValue::Number(2.0)),
            (
                "tags".to_owned(),
                StructValue::List(vec![StructValue::String("a".into())]),
            ),
            ("extra".to_owned(), StructValue::Bool(true)),
        ]));
        assert!(check_literal(&good, &ty).is_ok());
        assert!(check_literal(&good, &LiteralType::schemaless_struct()).is_ok());
        let bad = Literal::Struct(BTreeMap::from([
            ("n".to_owned(), StructValue::Number(2.5)),
            ("tags".to_owned(), StructValue::List(vec![])),
        ]));
        assert_eq!(
            message(check_literal(&bad, &ty)),
            "expected integer, got the number 2.5 at [\"n\"]"
        );
        let missing = Literal::Struct(BTreeMap::from([("n".to_owned(), StructValue::Number(1.0))]));
        assert_eq!(
            message(check_literal(&missing, &ty)),
            "expected list<string>, got a missing field at [\"tags\"]"
        );
    }

    #[test]
    fn blobs_check_format_and_dimensionality() {
        use crate::model::{Blob, BlobDimensionality, BlobType};
        let csv = Literal::Blob(Blob {
            uri: "s3://x".into(),
            format: "csv".into(),
            dimensionality: BlobDimensionality::Single,
        });
        let any_single = LiteralType::Blob(BlobType::default());
        let parquet = LiteralType::Blob(BlobType {
            format: "parquet".into(),
            dimensionality: BlobDimensionality::Single,
        });
        assert!(check_literal(&csv, &any_single).is_ok());
        assert_eq!(
            message(check_literal(&csv, &parquet)),
            "expected blob(parquet, single), got blob(csv, single)"
        );
    }
}
