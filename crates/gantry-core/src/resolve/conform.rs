//! Making a resolved value fit the type it is declared with.
//!
//! The compiler has already checked that bindings are castable; what is left at run time is the part that depends
//! on values: stamping union variants, turning JSON numbers read out of structs into integers, strings into enum
//! values, and checking what schemaless struct paths produced. This is a small self-contained check on purpose: it
//! must not change when the compile-time type checker does.

use std::collections::BTreeMap;

use super::ResolveError;
use super::path::{render_path, struct_value_to_literal};
use crate::model::{
    AttrStep, BlobDimensionality, BlobType, Hashed, Literal, LiteralType, StructType, StructValue, UnionValue,
};

/// Whether values may be converted to fit (`Coerce`) or must already be of the declared kind (`Strict`). Union
/// variants are chosen by a strict pass first, so that `union<integer | float>` keeps a float a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Coerce,
}

/// A mismatch found at `path` inside the value.
struct Mismatch {
    path: Vec<AttrStep>,
    message: String,
}

impl Mismatch {
    fn into_error(self) -> ResolveError {
        if self.path.is_empty() {
            ResolveError::new(self.message)
        } else {
            ResolveError::new(format!("at {}: {}", render_path(&self.path), self.message))
        }
    }
}

/// Makes `lit` fit `ty`, recursing through collections, maps and unions:
/// - a value declared as a union (and not already stamped with one of its variants) is wrapped in
///   [`Literal::Union`] with the first variant it fits, preferring variants it fits without conversion; `none` goes
///   to the `none` variant;
/// - a union value declared as a non-union type is unwrapped;
/// - an integral float declared `integer` becomes an integer (values read out of JSON-like structs are floats);
/// - a string declared as an enum becomes an enum value if it is one of the enum's values;
/// - a struct declared as a map becomes a map of its fields' values;
/// - a struct declared with fields must have each of them (or the field's type must accept `none`) with a value
///   that fits; extra fields are allowed.
///
/// Anything else that does not fit is an error naming the path inside the value, such as
/// `at [2]["k"]: expected integer, got string`.
pub fn conform(lit: Literal, ty: &LiteralType) -> Result<Literal, ResolveError> {
    conform_at(lit, ty, &mut Vec::new(), Mode::Coerce).map_err(Mismatch::into_error)
}

fn conform_at(lit: Literal, ty: &LiteralType, path: &mut Vec<AttrStep>, mode: Mode) -> Result<Literal, Mismatch> {
    // A hash stays with the value, outside any union stamp the value gets.
    if let Literal::Hashed(hashed) = lit {
        let Hashed { hash, value } = *hashed;
        return conform_at(value, ty, path, mode).map(|value| Literal::hashed(hash, value));
    }
    // A tagged type is its type; a union's tagged variants are what values are stamped with.
    let ty = ty.untagged();
    // An offloaded literal is checked by the type it was stored with, without fetching it.
    if let Literal::Offloaded(offloaded) = &lit
        && !matches!(ty, LiteralType::Union(_))
    {
        return if crate::typing::is_castable(&offloaded.ty, ty) {
            Ok(lit)
        } else {
            Err(mismatch(
                path,
                format!("expected {ty}, got an offloaded {}", offloaded.ty),
            ))
        };
    }
    if let LiteralType::Union(variants) = ty {
        return conform_union(lit, variants, ty, path, mode);
    }
    let lit = match lit {
        Literal::Union(union) => return conform_at(union.value, ty, path, mode),
        other => other,
    };
    let coerce = mode == Mode::Coerce;
    match (ty, lit) {
        (LiteralType::Integer, Literal::Float(f)) if coerce && integral(f) => Ok(Literal::Integer(f as i64)),
        (LiteralType::Enum(values), Literal::Enum(value)) => enum_value(value, values, path),
        (LiteralType::Enum(values), Literal::String(value)) if coerce => enum_value(value, values, path),
        (LiteralType::Struct(struct_type), Literal::Struct(fields)) => {
            check_struct_fields(&fields, struct_type, path)?;
            Ok(Literal::Struct(fields))
        }
        (LiteralType::Blob(blob_type), Literal::Blob(blob)) => {
            if blob_fits(blob_type, &blob.format, blob.dimensionality) {
                Ok(Literal::Blob(blob))
            } else {
                let got = LiteralType::Blob(BlobType {
                    format: blob.format,
                    dimensionality: blob.dimensionality,
                });
                Err(mismatch(path, format!("expected {ty}, got {got}")))
            }
        }
        (LiteralType::Collection(element), Literal::Collection(items)) => {
            let mut conformed = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                path.push(AttrStep::Index(u32::try_from(index).unwrap_or(u32::MAX)));
                let item = conform_at(item, element, path, mode);
                path.pop();
                conformed.push(item?);
            }
            Ok(Literal::Collection(conformed))
        }
        (LiteralType::Map(value_type), Literal::Map(entries)) => {
            let mut conformed = BTreeMap::new();
            for (key, value) in entries {
                path.push(AttrStep::Key(key.clone()));
                let value = conform_at(value, value_type, path, mode);
                path.pop();
                conformed.insert(key, value?);
            }
            Ok(Literal::Map(conformed))
        }
        (LiteralType::Map(value_type), Literal::Struct(fields)) if coerce => {
            let entries = fields
                .iter()
                .map(|(key, value)| (key.clone(), struct_value_to_literal(value)))
                .collect();
            conform_at(Literal::Map(entries), &LiteralType::Map(value_type.clone()), path, mode)
        }
        (ty, lit) if same_scalar_kind(ty, &lit) => Ok(lit),
        (ty, lit) => Err(mismatch(path, format!("expected {ty}, got {}", lit.kind_name()))),
    }
}

fn conform_union(
    lit: Literal,
    variants: &[LiteralType],
    ty: &LiteralType,
    path: &mut Vec<AttrStep>,
    mode: Mode,
) -> Result<Literal, Mismatch> {
    let lit = match lit {
        // A value stamped with one of the declared variants keeps its stamp and must fit it.
        Literal::Union(union) if variants.contains(&union.variant) => {
            let UnionValue { value, variant } = *union;
            let value = conform_at(value, &variant, path, mode)?;
            return Ok(stamp(value, variant.clone()));
        }
        // Stamped with a variant of some other union: choose again among ours, a variant of the same tag first.
        Literal::Union(union) => {
            let UnionValue { value, variant } = *union;
            if let Some(tag) = variant.tag()
                && let Some(same) = variants.iter().find(|v| v.tag() == Some(tag))
                && let Ok(value) = conform_at(value.clone(), same, path, mode)
            {
                return Ok(stamp(value, same.clone()));
            }
            value
        }
        other => other,
    };
    let passes: &[Mode] = match mode {
        Mode::Strict => &[Mode::Strict],
        Mode::Coerce => &[Mode::Strict, Mode::Coerce],
    };
    for &pass in passes {
        let candidates: Vec<&LiteralType> = variants.iter().filter(|v| may_fit(&lit, v, pass)).collect();
        for variant in candidates {
            if let Ok(value) = conform_at(lit.clone(), variant, path, pass) {
                return Ok(stamp(value, variant.clone()));
            }
        }
    }
    Err(mismatch(path, format!("expected {ty}, got {}", lit.kind_name())))
}

/// `value` stamped with `variant`, a hash it carries moved outside the stamp (where a hash always is).
fn stamp(value: Literal, variant: LiteralType) -> Literal {
    match value {
        Literal::Hashed(hashed) => {
            let Hashed { hash, value } = *hashed;
            Literal::hashed(hash, stamp(value, variant))
        }
        value => Literal::Union(Box::new(UnionValue { value, variant })),
    }
}

/// A cheap look at the top level only, so that choosing a union variant clones the value only for plausible ones.
fn may_fit(lit: &Literal, ty: &LiteralType, mode: Mode) -> bool {
    let lit = lit.unhashed();
    let ty = ty.untagged();
    let coerce = mode == Mode::Coerce;
    match (ty, lit) {
        (LiteralType::Union(_), _) | (_, Literal::Union(_) | Literal::Offloaded(_)) => true,
        (LiteralType::Integer, Literal::Float(f)) => coerce && integral(*f),
        (LiteralType::Enum(_), Literal::String(_)) | (LiteralType::Map(_), Literal::Struct(_)) => coerce,
        (LiteralType::Enum(_), Literal::Enum(_))
        | (LiteralType::Struct(_), Literal::Struct(_))
        | (LiteralType::Blob(_), Literal::Blob(_))
        | (LiteralType::Collection(_), Literal::Collection(_))
        | (LiteralType::Map(_), Literal::Map(_)) => true,
        (ty, lit) => same_scalar_kind(ty, lit),
    }
}

fn same_scalar_kind(ty: &LiteralType, lit: &Literal) -> bool {
    matches!(
        (ty, lit),
        (LiteralType::Integer, Literal::Integer(_))
            | (LiteralType::Float, Literal::Float(_))
            | (LiteralType::String, Literal::String(_))
            | (LiteralType::Boolean, Literal::Boolean(_))
            | (LiteralType::Datetime, Literal::Datetime(_))
            | (LiteralType::Duration, Literal::Duration(_))
            | (LiteralType::None, Literal::None)
            | (LiteralType::Binary, Literal::Binary(_))
            | (LiteralType::Error, Literal::Error(_))
    )
}

/// Whether `f` is a whole number that an `i64` holds exactly.
fn integral(f: f64) -> bool {
    // 2^63 is exact in f64; every f64 in [-2^63, 2^63) with no fraction converts to i64 without loss.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    f.is_finite() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)
}

fn blob_fits(ty: &BlobType, format: &str, dimensionality: BlobDimensionality) -> bool {
    let format_fits = ty.format.is_empty() || format.is_empty() || ty.format == format;
    format_fits && ty.dimensionality == dimensionality
}

fn check_struct_fields(
    fields: &BTreeMap<String, StructValue>,
    struct_type: &StructType,
    path: &mut Vec<AttrStep>,
) -> Result<(), Mismatch> {
    for (name, field_type) in &struct_type.fields {
        path.push(AttrStep::Key(name.clone()));
        // JSON has no integers, so a struct's fields are always checked with conversions allowed.
        let checked = match fields.get(name) {
            // As in `typing::check_literal`: JSON cannot express these types, so the SDK decides their encoding.
            Some(value) if !matches!(value, StructValue::Null) && json_opaque(field_type) => Ok(()),
            Some(value) => conform_at(struct_value_to_literal(value), field_type, path, Mode::Coerce).map(drop),
            None if accepts_none(field_type) => Ok(()),
            None => Err(mismatch(path, "missing field".to_owned())),
        };
        path.pop();
        checked?;
    }
    Ok(())
}

/// A struct field type JSON has no spelling for (datetime, duration, binary, blob), or an optional one.
fn json_opaque(ty: &LiteralType) -> bool {
    match ty.untagged() {
        LiteralType::Datetime | LiteralType::Duration | LiteralType::Binary | LiteralType::Blob(_) => true,
        LiteralType::Union(variants) => variants.iter().any(json_opaque),
        _ => false,
    }
}

fn accepts_none(ty: &LiteralType) -> bool {
    crate::typing::accepts_none(ty)
}

fn enum_value(value: String, values: &[String], path: &[AttrStep]) -> Result<Literal, Mismatch> {
    if values.contains(&value) {
        Ok(Literal::Enum(value))
    } else {
        Err(mismatch(
            path,
            format!(
                "{} is not one of enum{{{}}}",
                crate::names::quote(&value),
                values.join(", ")
            ),
        ))
    }
}

fn mismatch(path: &[AttrStep], message: String) -> Mismatch {
    Mismatch {
        path: path.to_vec(),
        message,
    }
}

#[cfg(test)]
#[path = "conform_tests.rs"]
mod tests;

/// Checks a task's reported outputs against its interface: each declared output present and fitting its type (as
/// [`conform`] makes it fit), none undeclared. `Err` is the user error that fails the attempt and its node (not
/// recoverable: the same code would report the same outputs again).
pub fn task_outputs(
    outputs: &crate::model::LiteralMap,
    interface: &crate::model::TypedInterface,
) -> Result<crate::model::LiteralMap, crate::model::ExecutionError> {
    let invalid = |problem: String| crate::model::ExecutionError::user("invalid_outputs", problem);
    if let Some(extra) = outputs.keys().find(|name| interface.output(name).is_none()) {
        return Err(invalid(format!(
            "output {} is not declared by the task's interface",
            crate::names::quote(extra)
        )));
    }
    interface
        .outputs
        .iter()
        .map(|var| match outputs.get(&var.name) {
            Some(value) => conform(value.clone(), &var.ty)
                .map(|value| (var.name.clone(), value))
                .map_err(|e| invalid(format!("output {}: {e}", crate::names::quote(&var.name)))),
            None => Err(invalid(format!("output {} is missing", crate::names::quote(&var.name)))),
        })
        .collect()
}
