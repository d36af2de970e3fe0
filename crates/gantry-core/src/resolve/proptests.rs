//! Properties of resolution and conformance: well-typed bindings resolve to values that fit the declared types.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::model::{
    AttrStep, Blob, BlobDimensionality, BlobType, Duration, ErrorValue, LiteralType, StructType, StructValue,
    Timestamp, UnionValue,
};

// ---------------------------------------------------------------------------------------------------------------
// Types and literals of those types.

fn arb_json_type() -> impl Strategy<Value = LiteralType> {
    prop_oneof![
        Just(LiteralType::Integer),
        Just(LiteralType::Float),
        Just(LiteralType::String),
        Just(LiteralType::Boolean),
        Just(LiteralType::optional(LiteralType::Integer)),
    ]
}

fn arb_leaf_type() -> impl Strategy<Value = LiteralType> {
    prop_oneof![
        Just(LiteralType::Integer),
        Just(LiteralType::Float),
        Just(LiteralType::String),
        Just(LiteralType::Boolean),
        Just(LiteralType::Datetime),
        Just(LiteralType::Duration),
        Just(LiteralType::None),
        Just(LiteralType::Error),
        Just(LiteralType::Binary),
        prop::sample::subsequence(vec!["a", "b", "c"], 1..=3)
            .prop_map(|values| LiteralType::Enum(values.into_iter().map(str::to_owned).collect())),
        (prop::sample::select(vec!["", "csv"]), any::<bool>()).prop_map(|(format, multipart)| {
            LiteralType::Blob(BlobType {
                format: format.to_owned(),
                dimensionality: dimensionality(multipart),
            })
        }),
        prop::collection::btree_map("[a-c]", arb_json_type(), 0..3)
            .prop_map(|fields| LiteralType::Struct(StructType { fields })),
    ]
}

fn arb_type() -> impl Strategy<Value = LiteralType> {
    arb_leaf_type().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(LiteralType::collection),
            inner.clone().prop_map(LiteralType::map),
            prop::collection::vec(inner.clone(), 1..4).prop_map(LiteralType::Union),
            ("[a-c]{1,2}", inner).prop_map(|(tag, ty)| LiteralType::tagged(tag, ty)),
        ]
    })
}

fn dimensionality(multipart: bool) -> BlobDimensionality {
    if multipart {
        BlobDimensionality::Multipart
    } else {
        BlobDimensionality::Single
    }
}

/// Floats without NaN, so that literals compare equal to themselves.
fn arb_float() -> impl Strategy<Value = f64> {
    any::<f64>().prop_map(|f| if f.is_nan() { 0.5 } else { f })
}

/// A JSON integer: exactly representable as a float.
fn arb_json_integer() -> impl Strategy<Value = i64> {
    -(1_i64 << 53)..=(1_i64 << 53)
}

fn arb_json_value(ty: &LiteralType) -> BoxedStrategy<StructValue> {
    match ty {
        LiteralType::Integer => arb_json_integer().prop_map(|i| StructValue::Number(i as f64)).boxed(),
        LiteralType::Float => arb_float().prop_map(StructValue::Number).boxed(),
        LiteralType::String => "[a-z]{0,3}".prop_map(StructValue::String).boxed(),
        LiteralType::Boolean => any::<bool>().prop_map(StructValue::Bool).boxed(),
        _ => prop_oneof![
            Just(StructValue::Null),
            arb_json_integer().prop_map(|i| StructValue::Number(i as f64))
        ]
        .boxed(),
    }
}

fn arb_literal(ty: &LiteralType) -> BoxedStrategy<Literal> {
    match ty {
        LiteralType::Tagged(tagged) => arb_literal(&tagged.ty),
        LiteralType::Integer => prop_oneof![any::<i64>(), -1000_i64..1000]
            .prop_map(Literal::Integer)
            .boxed(),
        LiteralType::Float => arb_float().prop_map(Literal::Float).boxed(),
        LiteralType::String => "[a-z]{0,4}".prop_map(Literal::String).boxed(),
        LiteralType::Boolean => any::<bool>().prop_map(Literal::Boolean).boxed(),
        LiteralType::Datetime => (any::<i64>(), 0..1_000_000_000_i32)
            .prop_map(|(seconds, nanos)| Literal::Datetime(Timestamp { seconds, nanos }))
            .boxed(),
        LiteralType::Duration => any::<i64>()
            .prop_map(|ms| Literal::Duration(Duration::from_millis(ms)))
            .boxed(),
        LiteralType::None => Just(Literal::None).boxed(),
        LiteralType::Error => ("[a-z0-9/]{0,6}", "[ -~]{0,8}")
            .prop_map(|(failed_node_id, message)| {
                Literal::Error(ErrorValue {
                    failed_node_id,
                    message,
                })
            })
            .boxed(),
        LiteralType::Binary => prop::collection::vec(any::<u8>(), 0..4)
            .prop_map(Literal::Binary)
            .boxed(),
        LiteralType::Enum(values) => (prop::sample::select(values.clone()), any::<bool>())
            .prop_map(|(value, as_enum)| {
                if as_enum {
                    Literal::Enum(value)
                } else {
                    Literal::String(value)
                }
            })
            .boxed(),
        LiteralType::Blob(blob_type) => {
            let formats = if blob_type.format.is_empty() {
                vec!["", "csv", "parquet"]
            } else {
                vec!["", "csv"]
            };
            let dimensionality = blob_type.dimensionality;
            prop::sample::select(formats)
                .prop_map(move |format| {
                    Literal::Blob(Blob {
                        uri: "mem://b".to_owned(),
                        format: format.to_owned(),
                        dimensionality,
                    })
                })
                .boxed()
        }
        LiteralType::Struct(struct_type) => {
            let declared: Vec<BoxedStrategy<(String, StructValue)>> = struct_type
                .fields
                .iter()
                .map(|(name, field_type)| {
                    let name = name.clone();
                    arb_json_value(field_type)
                        .prop_map(move |value| (name.clone(), value))
                        .boxed()
                })
                .collect();
            (declared, prop::option::of(arb_json_value(&LiteralType::Float)))
                .prop_map(|(fields, extra)| {
                    let mut fields: BTreeMap<String, StructValue> = fields.into_iter().collect();
                    fields.extend(extra.map(|value| ("extra".to_owned(), value)));
                    Literal::Struct(fields)
                })
                .boxed()
        }
        LiteralType::Collection(element) => prop::collection::vec(arb_literal(element), 0..4)
            .prop_map(Literal::Collection)
            .boxed(),
        LiteralType::Map(value) => prop::collection::btree_map("[a-z]{1,2}", arb_literal(value), 0..4)
            .prop_map(Literal::Map)
            .boxed(),
        LiteralType::Union(variants) => {
            let choices: Vec<BoxedStrategy<Literal>> = variants
                .iter()
                .map(|variant| {
                    let stamp = variant.clone();
                    (arb_literal(variant), any::<bool>())
                        .prop_map(move |(value, stamped)| {
                            if stamped {
                                Literal::Union(Box::new(UnionValue {
                                    value,
                                    variant: stamp.clone(),
                                }))
                            } else {
                                value
                            }
                        })
                        .boxed()
                })
                .collect();
            prop::strategy::Union::new(choices).boxed()
        }
    }
}

fn arb_typed_literal() -> impl Strategy<Value = (LiteralType, Literal)> {
    arb_type().prop_flat_map(|ty| {
        let literal = arb_literal(&ty);
        (Just(ty), literal)
    })
}

/// An independent statement of what a conformed value looks like: exactly the declared kind, unions stamped with a
/// declared variant, enum values among the enum's values.
fn fits(lit: &Literal, ty: &LiteralType) -> bool {
    match (ty.untagged(), lit) {
        (LiteralType::Union(variants), Literal::Union(union)) => {
            variants.contains(&union.variant) && fits(&union.value, &union.variant)
        }
        (LiteralType::Enum(values), Literal::Enum(value)) => values.contains(value),
        (LiteralType::Struct(struct_type), Literal::Struct(fields)) => {
            struct_type
                .fields
                .iter()
                .all(|(name, field_type)| match fields.get(name) {
                    Some(value) => json_fits(value, field_type),
                    None => json_fits(&StructValue::Null, field_type),
                })
        }
        (LiteralType::Blob(blob_type), Literal::Blob(blob)) => {
            blob.dimensionality == blob_type.dimensionality
                && (blob_type.format.is_empty() || blob.format.is_empty() || blob.format == blob_type.format)
        }
        (LiteralType::Collection(element), Literal::Collection(items)) => items.iter().all(|i| fits(i, element)),
        (LiteralType::Map(value), Literal::Map(entries)) => entries.values().all(|v| fits(v, value)),
        (LiteralType::Integer, Literal::Integer(_))
        | (LiteralType::Float, Literal::Float(_))
        | (LiteralType::String, Literal::String(_))
        | (LiteralType::Boolean, Literal::Boolean(_))
        | (LiteralType::Datetime, Literal::Datetime(_))
        | (LiteralType::Duration, Literal::Duration(_))
        | (LiteralType::None, Literal::None)
        | (LiteralType::Binary, Literal::Binary(_))
        | (LiteralType::Error, Literal::Error(_)) => true,
        _ => false,
    }
}

fn json_fits(value: &StructValue, ty: &LiteralType) -> bool {
    match (ty.untagged(), value) {
        (LiteralType::Integer, StructValue::Number(n)) => n.fract() == 0.0,
        (LiteralType::Float, StructValue::Number(_))
        | (LiteralType::String, StructValue::String(_))
        | (LiteralType::Boolean, StructValue::Bool(_))
        | (LiteralType::None, StructValue::Null) => true,
        (LiteralType::Union(variants), value) => variants.iter().any(|v| json_fits(value, v)),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Bindings of a typed literal: how the value reaches the input.

/// How one copy of the value is bound.
#[derive(Debug, Clone)]
enum Leaf {
    Literal,
    Promise,
    /// The value sits at an index of a producing node's list output.
    InCollection {
        before: usize,
        after: usize,
    },
    /// The value sits under a key of a producing node's map output.
    InMap,
    /// The value sits in a field of a producing node's struct output (only for values JSON holds exactly).
    InStruct,
}

#[derive(Debug, Clone)]
enum Wrap {
    Leaf(Leaf),
    /// A collection binding of this many copies, each bound the same way.
    Collection(usize, Box<Wrap>),
    /// A map binding of this many copies, each bound the same way.
    Map(usize, Box<Wrap>),
    Optional(Box<Wrap>),
}

fn arb_wrap() -> impl Strategy<Value = Wrap> {
    let leaf = prop_oneof![
        Just(Leaf::Literal),
        Just(Leaf::Promise),
        (0..3_usize, 0..3_usize).prop_map(|(before, after)| Leaf::InCollection { before, after }),
        Just(Leaf::InMap),
        Just(Leaf::InStruct),
    ]
    .prop_map(Wrap::Leaf);
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (0..3_usize, inner.clone()).prop_map(|(n, w)| Wrap::Collection(n, Box::new(w))),
            (0..3_usize, inner.clone()).prop_map(|(n, w)| Wrap::Map(n, Box::new(w))),
            inner.prop_map(|w| Wrap::Optional(Box::new(w))),
        ]
    })
}

fn as_json(lit: &Literal, ty: &LiteralType) -> Option<StructValue> {
    match (ty, lit) {
        (LiteralType::Integer, Literal::Integer(i)) if i.unsigned_abs() <= 1 << 53 => {
            Some(StructValue::Number(*i as f64))
        }
        (LiteralType::Float, Literal::Float(f)) => Some(StructValue::Number(*f)),
        (LiteralType::String, Literal::String(s)) => Some(StructValue::String(s.clone())),
        (LiteralType::Boolean, Literal::Boolean(b)) => Some(StructValue::Bool(*b)),
        (LiteralType::None, Literal::None) => Some(StructValue::Null),
        _ => None,
    }
}

/// Builds the declared type and the binding for `wrap`, putting produced values into `source`.
fn build(
    wrap: &Wrap,
    ty: &LiteralType,
    lit: &Literal,
    source: &mut BTreeMap<String, LiteralMap>,
) -> (LiteralType, BindingData) {
    let mut produce = |value: Literal, path: Vec<AttrStep>| {
        let node_id = format!("n{}", source.len());
        source.insert(node_id.clone(), [("o".to_owned(), value)].into());
        BindingData::Promise(Promise {
            node_id,
            output: "o".to_owned(),
            attr_path: path,
        })
    };
    match wrap {
        Wrap::Leaf(Leaf::Literal) => (ty.clone(), BindingData::Literal(lit.clone())),
        Wrap::Leaf(Leaf::Promise) => (ty.clone(), produce(lit.clone(), Vec::new())),
        Wrap::Leaf(Leaf::InCollection { before, after }) => {
            let mut items = vec![Literal::Boolean(false); *before];
            items.push(lit.clone());
            items.extend(vec![Literal::String("pad".into()); *after]);
            (
                ty.clone(),
                produce(Literal::Collection(items), vec![AttrStep::Index(*before as u32)]),
            )
        }
        Wrap::Leaf(Leaf::InMap) => {
            let map = [("k".to_owned(), lit.clone()), ("other".to_owned(), Literal::None)].into();
            (
                ty.clone(),
                produce(Literal::Map(map), vec![AttrStep::Key("k".to_owned())]),
            )
        }
        Wrap::Leaf(Leaf::InStruct) => match as_json(lit, ty) {
            Some(json) => {
                let fields = [("f".to_owned(), json)].into();
                (
                    ty.clone(),
                    produce(Literal::Struct(fields), vec![AttrStep::Key("f".to_owned())]),
                )
            }
            None => (ty.clone(), produce(lit.clone(), Vec::new())),
        },
        Wrap::Collection(count, item) => {
            let element_type = build(item, ty, lit, &mut BTreeMap::new()).0;
            let bindings = (0..*count).map(|_| build(item, ty, lit, source).1).collect();
            (LiteralType::collection(element_type), BindingData::Collection(bindings))
        }
        Wrap::Map(count, item) => {
            let value_type = build(item, ty, lit, &mut BTreeMap::new()).0;
            let bindings = (0..*count)
                .map(|i| (format!("k{i}"), build(item, ty, lit, source).1))
                .collect();
            (LiteralType::map(value_type), BindingData::Map(bindings))
        }
        Wrap::Optional(inner) => {
            let (inner_type, binding) = build(inner, ty, lit, source);
            (LiteralType::optional(inner_type), binding)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_literals_fit_their_types((ty, lit) in arb_typed_literal()) {
        let conformed = conform(lit, &ty);
        prop_assert!(conformed.as_ref().is_ok_and(|value| fits(value, &ty)), "{conformed:?} does not fit {ty}");
    }

    #[test]
    fn conforming_a_fitting_value_changes_nothing((ty, lit) in arb_typed_literal()) {
        let once = conform(lit, &ty).expect("generated values conform");
        prop_assert_eq!(conform(once.clone(), &ty), Ok(once));
    }

    #[test]
    fn resolved_well_typed_bindings_fit_the_declared_type((ty, lit) in arb_typed_literal(), wrap in arb_wrap()) {
        let mut source = BTreeMap::new();
        let (declared_type, data) = build(&wrap, &ty, &lit, &mut source);
        let declared = [Variable::new("v", declared_type.clone())];
        let resolved = resolve_inputs(&[Binding::new("v", data)], &declared, &source);
        let value = resolved.as_ref().ok().and_then(|map| map.get("v"));
        prop_assert!(value.is_some_and(|value| fits(value, &declared_type)), "{resolved:?} does not fit {declared_type}");
    }
}
