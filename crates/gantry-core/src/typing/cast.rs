//! Castability: may a value of one type be bound where another type is declared?

use crate::model::{LiteralType, StructType};

/// Whether a value of type `from` may be bound to a variable of type `to`, decided on types alone.
///
/// - Identical types are castable, and [`nothing`](super::nothing) is castable to everything. Tags are ignored.
/// - A union source is castable when every variant is; anything is castable to a union with a castable variant (so
///   `none` and `T` are castable to the optional `union<T | none>`).
/// - Strict scalars: `integer` is not castable to `float`. An enum is castable to `string` and to an enum holding all
///   of its values; a `string` is not castable to an enum (a string *literal* may still conform to one, see
///   [`check_literal`](super::check_literal)).
/// - Collections and maps are covariant.
/// - Blobs: the dimensionality must match, and the formats too unless either is empty.
/// - Structs: a schemaless target accepts any struct and a schemaless source is accepted by any struct (Flyte does
///   the same; its fields are only known at run time). Between fielded structs, every target field must exist in the
///   source with a castable type, or accept `none` when missing; extra source fields are ignored.
pub fn is_castable(from: &LiteralType, to: &LiteralType) -> bool {
    if from == to {
        return true;
    }
    // Tags name types; they do not change what a value may be bound to.
    let (from, to) = (from.untagged(), to.untagged());
    if from == to {
        return true;
    }
    if let LiteralType::Union(variants) = from {
        return variants.iter().all(|variant| is_castable(variant, to));
    }
    if let LiteralType::Union(variants) = to {
        return variants.iter().any(|variant| is_castable(from, variant));
    }
    match (from, to) {
        (LiteralType::Enum(_), LiteralType::String) => true,
        (LiteralType::Enum(from_values), LiteralType::Enum(to_values)) => {
            from_values.iter().all(|value| to_values.contains(value))
        }
        (LiteralType::Collection(from_element), LiteralType::Collection(to_element)) => {
            is_castable(from_element, to_element)
        }
        (LiteralType::Map(from_value), LiteralType::Map(to_value)) => is_castable(from_value, to_value),
        (LiteralType::Blob(from_blob), LiteralType::Blob(to_blob)) => {
            from_blob.dimensionality == to_blob.dimensionality
                && (from_blob.format.is_empty() || to_blob.format.is_empty() || from_blob.format == to_blob.format)
        }
        (LiteralType::Struct(from_struct), LiteralType::Struct(to_struct)) => struct_castable(from_struct, to_struct),
        _ => false,
    }
}

/// Whether `ty` accepts the `none` value: `none` itself or a union with a variant that accepts it.
pub fn accepts_none(ty: &LiteralType) -> bool {
    is_castable(&LiteralType::None, ty)
}

fn struct_castable(from: &StructType, to: &StructType) -> bool {
    if to.fields.is_empty() || from.fields.is_empty() {
        return true;
    }
    to.fields.iter().all(|(name, to_field)| match from.fields.get(name) {
        Some(from_field) => is_castable(from_field, to_field),
        None => accepts_none(to_field),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{BlobDimensionality, BlobType};
    use crate::typing::nothing;

    fn blob(format: &str, dimensionality: BlobDimensionality) -> LiteralType {
        LiteralType::Blob(BlobType {
            format: format.into(),
            dimensionality,
        })
    }

    fn fielded(fields: &[(&str, LiteralType)]) -> LiteralType {
        LiteralType::Struct(StructType {
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        })
    }

    #[test]
    fn scalars_are_strict() {
        assert!(is_castable(&LiteralType::Integer, &LiteralType::Integer));
        assert!(!is_castable(&LiteralType::Integer, &LiteralType::Float));
        assert!(!is_castable(&LiteralType::String, &LiteralType::Integer));
    }

    #[test]
    fn enums_cast_to_strings_but_not_back() {
        let color = LiteralType::Enum(vec!["red".into(), "blue".into()]);
        assert!(is_castable(&color, &LiteralType::String));
        assert!(!is_castable(&LiteralType::String, &color));
        assert!(is_castable(&LiteralType::Enum(vec!["red".into()]), &color));
        assert!(!is_castable(&color, &LiteralType::Enum(vec!["red".into()])));
    }

    #[test]
    fn unions_and_optionals() {
        let optional_int = LiteralType::optional(LiteralType::Integer);
        assert!(is_castable(&LiteralType::None, &optional_int));
        assert!(is_castable(&LiteralType::Integer, &optional_int));
        assert!(!is_castable(&optional_int, &LiteralType::Integer));
        let wider = LiteralType::Union(vec![LiteralType::Integer, LiteralType::String, LiteralType::None]);
        assert!(is_castable(&optional_int, &wider));
        assert!(!is_castable(&wider, &optional_int));
    }

    #[test]
    fn nothing_is_castable_to_anything_and_containers_are_covariant() {
        assert!(is_castable(&nothing(), &LiteralType::Integer));
        assert!(is_castable(
            &LiteralType::collection(nothing()),
            &LiteralType::collection(LiteralType::String)
        ));
        assert!(is_castable(
            &LiteralType::map(nothing()),
            &LiteralType::map(LiteralType::Float)
        ));
        assert!(!is_castable(
            &LiteralType::collection(nothing()),
            &LiteralType::map(LiteralType::Float)
        ));
        assert!(is_castable(
            &LiteralType::collection(LiteralType::Integer),
            &LiteralType::collection(LiteralType::optional(LiteralType::Integer))
        ));
        assert!(!is_castable(&LiteralType::Integer, &nothing()));
    }

    #[test]
    fn blobs_match_format_unless_empty_and_dimensionality_always() {
        use BlobDimensionality::{Multipart, Single};
        assert!(is_castable(&blob("csv", Single), &blob("", Single)));
        assert!(is_castable(&blob("", Single), &blob("csv", Single)));
        assert!(!is_castable(&blob("csv", Single), &blob("parquet", Single)));
        assert!(!is_castable(&blob("csv", Single), &blob("csv", Multipart)));
    }

    #[test]
    fn structs() {
        let point = fielded(&[("x", LiteralType::Float), ("y", LiteralType::Float)]);
        let point3 = fielded(&[
            ("x", LiteralType::Float),
            ("y", LiteralType::Float),
            ("z", LiteralType::Float),
        ]);
        assert!(is_castable(&point, &LiteralType::schemaless_struct()));
        assert!(is_castable(&LiteralType::schemaless_struct(), &point));
        assert!(is_castable(&point3, &point));
        assert!(!is_castable(&point, &point3));
        let with_optional_z = fielded(&[
            ("x", LiteralType::Float),
            ("z", LiteralType::optional(LiteralType::Float)),
        ]);
        assert!(is_castable(&point, &with_optional_z));
        assert!(!is_castable(&fielded(&[("x", LiteralType::Integer)]), &point));
    }
}
