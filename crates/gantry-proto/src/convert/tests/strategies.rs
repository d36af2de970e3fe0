//! proptest strategies generating core literals, types and interfaces, kept small: nesting depth 3, lists of at most
//! three. Templates and specs are in `spec_strategies`.

use gantry_core::model::{
    Blob, BlobDimensionality, BlobType, Duration, ErrorKind, ErrorValue, ExecutionError, Identifier, Literal,
    LiteralMap, LiteralType, StructType, StructValue, Timestamp, TypedInterface, UnionValue, Variable,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

pub(super) fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,6}"
}

pub(super) fn text() -> impl Strategy<Value = String> {
    ".{0,8}"
}

/// Every float but NaN, which is not equal to itself.
pub(super) fn float() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("NaN is not equal to itself", |value| !value.is_nan())
}

pub(super) fn duration() -> impl Strategy<Value = Duration> {
    (any::<i64>(), any::<i32>()).prop_map(|(seconds, nanos)| Duration { seconds, nanos })
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (any::<i64>(), any::<i32>()).prop_map(|(seconds, nanos)| Timestamp { seconds, nanos })
}

pub fn identifier() -> impl Strategy<Value = Identifier> {
    (name(), name(), name(), "[a-z0-9.]{1,6}")
        .prop_map(|(project, domain, name, version)| Identifier::new(project, domain, name, version))
}

fn dimensionality() -> impl Strategy<Value = BlobDimensionality> {
    prop_oneof![Just(BlobDimensionality::Single), Just(BlobDimensionality::Multipart)]
}

pub fn literal_type() -> BoxedStrategy<LiteralType> {
    let leaf = prop_oneof![
        Just(LiteralType::Integer),
        Just(LiteralType::Float),
        Just(LiteralType::String),
        Just(LiteralType::Boolean),
        Just(LiteralType::Datetime),
        Just(LiteralType::Duration),
        Just(LiteralType::None),
        Just(LiteralType::Binary),
        Just(LiteralType::Error),
        Just(LiteralType::schemaless_struct()),
        (text(), dimensionality())
            .prop_map(|(format, dimensionality)| LiteralType::Blob(BlobType { format, dimensionality })),
        vec(name(), 0..3).prop_map(LiteralType::Enum),
    ];
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(LiteralType::collection),
            inner.clone().prop_map(LiteralType::map),
            vec(inner.clone(), 0..3).prop_map(LiteralType::Union),
            (name(), inner.clone()).prop_map(|(tag, ty)| LiteralType::tagged(tag, ty)),
            btree_map(name(), inner, 0..3).prop_map(|fields| LiteralType::Struct(StructType { fields })),
        ]
    })
    .boxed()
}

fn struct_value() -> BoxedStrategy<StructValue> {
    let leaf = prop_oneof![
        Just(StructValue::Null),
        any::<bool>().prop_map(StructValue::Bool),
        float().prop_map(StructValue::Number),
        text().prop_map(StructValue::String),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(StructValue::List),
            btree_map(text(), inner, 0..3).prop_map(StructValue::Object),
        ]
    })
    .boxed()
}

pub fn literal() -> BoxedStrategy<Literal> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Literal::Integer),
        float().prop_map(Literal::Float),
        text().prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Boolean),
        timestamp().prop_map(Literal::Datetime),
        duration().prop_map(Literal::Duration),
        Just(Literal::None),
        vec(any::<u8>(), 0..8).prop_map(Literal::Binary),
        btree_map(text(), struct_value(), 0..3).prop_map(Literal::Struct),
        (text(), text(), dimensionality()).prop_map(|(uri, format, dimensionality)| Literal::Blob(Blob {
            uri,
            format,
            dimensionality
        })),
        text().prop_map(Literal::Enum),
        (text(), text()).prop_map(|(failed_node_id, message)| Literal::Error(ErrorValue {
            failed_node_id,
            message
        })),
    ];
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Literal::Collection),
            btree_map(text(), inner.clone(), 0..3).prop_map(Literal::Map),
            (name(), inner.clone()).prop_map(|(hash, value)| Literal::hashed(hash, value)),
            (inner, literal_type())
                .prop_map(|(value, variant)| Literal::Union(Box::new(UnionValue { value, variant }))),
        ]
    })
    .boxed()
}

pub fn literal_map() -> impl Strategy<Value = LiteralMap> {
    btree_map(name(), literal(), 0..3)
}

pub fn variable() -> impl Strategy<Value = Variable> {
    (name(), literal_type(), text(), option::of(literal())).prop_map(|(name, ty, description, default)| Variable {
        name,
        ty,
        description,
        default,
    })
}

pub fn interface() -> impl Strategy<Value = TypedInterface> {
    (vec(variable(), 0..3), vec(variable(), 0..3)).prop_map(|(inputs, outputs)| TypedInterface { inputs, outputs })
}

pub fn execution_error() -> impl Strategy<Value = ExecutionError> {
    let kind = prop_oneof![Just(ErrorKind::User), Just(ErrorKind::System)];
    (kind, any::<bool>(), name(), text(), text()).prop_map(|(kind, recoverable, code, message, node_id)| {
        ExecutionError {
            kind,
            recoverable,
            code,
            message,
            node_id,
        }
    })
}
