//! Property tests of the type checker: inferred types hold their values, castability is reflexive and every type is
//! castable to its optional, and attribute paths into values agree with paths into their types.

use proptest::prelude::*;

use super::*;
use crate::model::{
    AttrStep, Blob, BlobDimensionality, BlobType, Duration, Literal, LiteralType, StructType, StructValue, Timestamp,
    UnionValue,
};

fn arb_dimensionality() -> impl Strategy<Value = BlobDimensionality> {
    prop_oneof![Just(BlobDimensionality::Single), Just(BlobDimensionality::Multipart)]
}

fn arb_struct_value() -> impl Strategy<Value = StructValue> {
    let leaf = prop_oneof![
        Just(StructValue::Null),
        any::<bool>().prop_map(StructValue::Bool),
        (-1000i32..1000).prop_map(|n| StructValue::Number(f64::from(n))),
        "[a-z]{0,4}".prop_map(StructValue::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(StructValue::List),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..3).prop_map(StructValue::Object),
        ]
    })
}

fn arb_literal() -> impl Strategy<Value = Literal> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Literal::Integer),
        (-1e6f64..1e6).prop_map(Literal::Float),
        "[a-z]{0,5}".prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Boolean),
        (any::<i64>(), 0i32..1_000_000_000)
            .prop_map(|(seconds, nanos)| Literal::Datetime(Timestamp { seconds, nanos })),
        any::<i64>().prop_map(|s| Literal::Duration(Duration::from_secs(s))),
        Just(Literal::None),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(Literal::Binary),
        prop::collection::btree_map("[a-z]{1,3}", arb_struct_value(), 0..3).prop_map(Literal::Struct),
        (
            prop_oneof![Just(""), Just("csv"), Just("parquet")],
            arb_dimensionality()
        )
            .prop_map(|(format, dimensionality)| Literal::Blob(Blob {
                uri: "s3://bucket/key".into(),
                format: format.into(),
                dimensionality,
            })),
        prop_oneof![Just("red"), Just("green"), Just("blue")].prop_map(|v| Literal::Enum(v.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Literal::Collection),
            prop::collection::btree_map("[a-z]{1,3}", inner.clone(), 0..4).prop_map(Literal::Map),
            (inner, any::<bool>()).prop_map(|(value, widen)| {
                let ty = literal_type_of(&value);
                let variant = if widen { LiteralType::optional(ty) } else { ty };
                Literal::Union(Box::new(UnionValue { value, variant }))
            }),
        ]
    })
}

fn arb_type() -> impl Strategy<Value = LiteralType> {
    let leaf = prop_oneof![
        Just(LiteralType::Integer),
        Just(LiteralType::Float),
        Just(LiteralType::String),
        Just(LiteralType::Boolean),
        Just(LiteralType::Datetime),
        Just(LiteralType::Duration),
        Just(LiteralType::None),
        Just(LiteralType::Binary),
        Just(LiteralType::schemaless_struct()),
        (prop_oneof![Just(""), Just("csv")], arb_dimensionality()).prop_map(|(format, dimensionality)| {
            LiteralType::Blob(BlobType {
                format: format.into(),
                dimensionality,
            })
        }),
        prop::collection::vec(prop_oneof![Just("a".to_owned()), Just("b".to_owned())], 0..3)
            .prop_map(LiteralType::Enum),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(LiteralType::collection),
            inner.clone().prop_map(LiteralType::map),
            prop::collection::vec(inner.clone(), 0..3).prop_map(LiteralType::Union),
            prop::collection::btree_map("[a-z]{1,2}", inner, 1..3)
                .prop_map(|fields| LiteralType::Struct(StructType { fields })),
        ]
    })
}

/// Follows `choices` into `literal` through collections and maps, returning the steps taken and the part reached.
fn walk<'a>(literal: &'a Literal, choices: &[usize]) -> (Vec<AttrStep>, &'a Literal) {
    let mut path = Vec::new();
    let mut current = literal;
    for choice in choices {
        current = match current {
            Literal::Collection(items) if !items.is_empty() => {
                let index = choice % items.len();
                path.push(AttrStep::Index(index as u32));
                &items[index]
            }
            Literal::Map(entries) if !entries.is_empty() => {
                let Some((key, value)) = entries.iter().nth(choice % entries.len()) else {
                    break;
                };
                path.push(AttrStep::Key(key.clone()));
                value
            }
            _ => break,
        };
    }
    (path, current)
}

proptest! {
    #[test]
    fn a_literal_conforms_to_its_inferred_type(literal in arb_literal()) {
        let ty = literal_type_of(&literal);
        prop_assert!(check_literal(&literal, &ty).is_ok(), "{literal:?} does not conform to {ty}");
        prop_assert!(check_literal(&literal, &LiteralType::optional(ty.clone())).is_ok());
    }

    #[test]
    fn castability_is_reflexive_and_optional_widens(ty in arb_type()) {
        prop_assert!(is_castable(&ty, &ty));
        prop_assert!(is_castable(&ty, &LiteralType::optional(ty.clone())));
        prop_assert!(is_castable(&LiteralType::None, &LiteralType::optional(ty.clone())));
        prop_assert!(is_castable(&nothing(), &ty));
        prop_assert!(is_castable(&LiteralType::collection(ty.clone()), &LiteralType::collection(LiteralType::optional(ty))));
    }

    #[test]
    fn inferred_types_are_reflexive(literal in arb_literal()) {
        let ty = literal_type_of(&literal);
        prop_assert!(is_castable(&ty, &ty));
        prop_assert!(is_castable(&ty, &LiteralType::optional(ty.clone())));
    }

    #[test]
    fn element_types_are_castable_to_the_inferred_collection_element(items in prop::collection::vec(arb_literal(), 0..6)) {
        let element = match literal_type_of(&Literal::Collection(items.clone())) {
            LiteralType::Collection(element) => *element,
            other => return Err(TestCaseError::fail(format!("not a collection type: {other}"))),
        };
        for item in &items {
            prop_assert!(is_castable(&literal_type_of(item), &element));
        }
    }

    #[test]
    fn paths_into_values_agree_with_paths_into_types(literal in arb_literal(), choices in prop::collection::vec(0usize..8, 0..4)) {
        let (path, part) = walk(&literal, &choices);
        let ty = literal_type_of(&literal);
        match type_at_path(&ty, &path) {
            Ok(PathType::Known(part_type)) => prop_assert!(check_literal(part, &part_type).is_ok()),
            Ok(PathType::Unknown) => prop_assert!(false, "no schemaless struct lies on a walk through lists and maps"),
            // Heterogeneous elements infer as unions, which must be resolved before indexing.
            Err(error) => prop_assert!(matches!(error.reason, AttrPathErrorReason::Union | AttrPathErrorReason::Optional)),
        }
    }

    #[test]
    fn a_literal_checks_against_a_type_iff_wrapping_it_in_a_list_does(literal in arb_literal(), ty in arb_type()) {
        let single = check_literal(&literal, &ty).is_ok();
        let wrapped = check_literal(&Literal::Collection(vec![literal]), &LiteralType::collection(ty)).is_ok();
        prop_assert_eq!(single, wrapped);
    }
}
