//! Inferring the type of a literal.

use crate::model::{BlobType, Literal, LiteralType};

use super::cast::is_castable;

/// The *nothing* type, `Union(vec![])`: no value has it and it is castable to every type. Empty collections and maps
/// infer as collections and maps of it, so that `[]` binds to any `list<T>`.
pub fn nothing() -> LiteralType {
    LiteralType::Union(Vec::new())
}

/// The type of a literal, as narrow as the value allows.
///
/// A collection's element type (and a map's value type) is the one type every element has; when elements disagree it
/// is the union of their distinct types (with types castable to another member folded into it, and enums merged), and
/// for an empty collection it is [`nothing`]. A union value has the variant it was stamped with, a struct value is a
/// schemaless struct, and an enum value is an enum of just that value.
pub fn literal_type_of(literal: &Literal) -> LiteralType {
    match literal {
        Literal::Integer(_) => LiteralType::Integer,
        Literal::Float(_) => LiteralType::Float,
        Literal::String(_) => LiteralType::String,
        Literal::Boolean(_) => LiteralType::Boolean,
        Literal::Datetime(_) => LiteralType::Datetime,
        Literal::Duration(_) => LiteralType::Duration,
        Literal::None => LiteralType::None,
        Literal::Binary(_) => LiteralType::Binary,
        Literal::Error(_) => LiteralType::Error,
        Literal::Struct(_) => LiteralType::schemaless_struct(),
        Literal::Blob(blob) => LiteralType::Blob(BlobType {
            format: blob.format.clone(),
            dimensionality: blob.dimensionality,
        }),
        Literal::Collection(items) => LiteralType::collection(union_of(items.iter().map(literal_type_of))),
        Literal::Map(entries) => LiteralType::map(union_of(entries.values().map(literal_type_of))),
        Literal::Union(union) => union.variant.clone(),
        Literal::Enum(value) => LiteralType::Enum(vec![value.clone()]),
        Literal::Offloaded(offloaded) => offloaded.ty.clone(),
        Literal::Hashed(hashed) => literal_type_of(&hashed.value),
    }
}

/// The narrowest type that every given type is castable to: the single type if they all agree, [`nothing`] if there
/// are none, and otherwise a union of the distinct types. Nested unions are flattened, a type castable to another
/// member is dropped, and enums are merged into one enum.
pub fn union_of(types: impl IntoIterator<Item = LiteralType>) -> LiteralType {
    let mut members: Vec<LiteralType> = Vec::new();
    for ty in types {
        add_member(&mut members, ty);
    }
    if members.len() == 1
        && let Some(only) = members.pop()
    {
        return only;
    }
    LiteralType::Union(members)
}

fn add_member(members: &mut Vec<LiteralType>, ty: LiteralType) {
    if let LiteralType::Union(variants) = ty {
        for variant in variants {
            add_member(members, variant);
        }
        return;
    }
    if members.iter().any(|member| is_castable(&ty, member)) {
        return;
    }
    if let LiteralType::Enum(values) = &ty
        && let Some(LiteralType::Enum(existing)) = members.iter_mut().find(|m| matches!(m, LiteralType::Enum(_)))
    {
        for value in values {
            if !existing.contains(value) {
                existing.push(value.clone());
            }
        }
        return;
    }
    members.retain(|member| !is_castable(member, &ty));
    members.push(ty);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{Blob, BlobDimensionality, UnionValue};

    #[test]
    fn scalars_have_their_own_type() {
        assert_eq!(literal_type_of(&Literal::Integer(1)), LiteralType::Integer);
        assert_eq!(literal_type_of(&Literal::String("a".into())), LiteralType::String);
        assert_eq!(literal_type_of(&Literal::None), LiteralType::None);
        assert_eq!(
            literal_type_of(&Literal::Struct(BTreeMap::new())),
            LiteralType::schemaless_struct()
        );
    }

    #[test]
    fn collections_agree_or_become_unions() {
        let same = Literal::Collection(vec![Literal::Integer(1), Literal::Integer(2)]);
        assert_eq!(literal_type_of(&same), LiteralType::collection(LiteralType::Integer));
        let mixed = Literal::Collection(vec![
            Literal::Integer(1),
            Literal::String("a".into()),
            Literal::Integer(3),
        ]);
        assert_eq!(
            literal_type_of(&mixed),
            LiteralType::collection(LiteralType::Union(vec![LiteralType::Integer, LiteralType::String]))
        );
    }

    #[test]
    fn empty_collections_and_maps_hold_nothing() {
        assert_eq!(
            literal_type_of(&Literal::Collection(vec![])),
            LiteralType::collection(nothing())
        );
        assert_eq!(
            literal_type_of(&Literal::Map(BTreeMap::new())),
            LiteralType::map(nothing())
        );
    }

    #[test]
    fn nested_empty_collections_fold_into_the_fuller_type() {
        let nested = Literal::Collection(vec![
            Literal::Collection(vec![]),
            Literal::Collection(vec![Literal::Integer(1)]),
        ]);
        assert_eq!(
            literal_type_of(&nested),
            LiteralType::collection(LiteralType::collection(LiteralType::Integer))
        );
    }

    #[test]
    fn enums_merge_and_fold_into_strings() {
        let enums = Literal::Collection(vec![Literal::Enum("a".into()), Literal::Enum("b".into())]);
        assert_eq!(
            literal_type_of(&enums),
            LiteralType::collection(LiteralType::Enum(vec!["a".into(), "b".into()]))
        );
        let with_string = Literal::Collection(vec![Literal::Enum("a".into()), Literal::String("x".into())]);
        assert_eq!(
            literal_type_of(&with_string),
            LiteralType::collection(LiteralType::String)
        );
    }

    #[test]
    fn union_values_have_their_stamped_variant_and_blobs_their_format() {
        let union = Literal::Union(Box::new(UnionValue {
            value: Literal::Integer(1),
            variant: LiteralType::Integer,
        }));
        assert_eq!(literal_type_of(&union), LiteralType::Integer);
        let blob = Literal::Blob(Blob {
            uri: "s3://b/k".into(),
            format: "csv".into(),
            dimensionality: BlobDimensionality::Multipart,
        });
        assert_eq!(
            literal_type_of(&blob),
            LiteralType::Blob(BlobType {
                format: "csv".into(),
                dimensionality: BlobDimensionality::Multipart
            })
        );
    }

    #[test]
    fn union_of_flattens_and_handles_none() {
        assert_eq!(union_of([]), nothing());
        assert_eq!(
            union_of([LiteralType::optional(LiteralType::Integer), LiteralType::String]),
            LiteralType::Union(vec![LiteralType::Integer, LiteralType::None, LiteralType::String])
        );
    }
}
