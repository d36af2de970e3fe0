//! Literals and literal types, with the well-known types they use (timestamps, durations, JSON-like structs).

use std::collections::BTreeMap;

use gantry_core::model::{
    Blob, BlobDimensionality, BlobType, Duration, ErrorValue, Hashed, Literal, LiteralMap, LiteralType, Offloaded,
    StructType, StructValue, TaggedType, Timestamp, UnionValue,
};
use prost_types::value::Kind as ValueKind;

use super::{ConversionError, ResultExt, decode_enum, into_list, into_map, list, map, required_with};
use crate::v1 as pb;

// ---- literal types ----

impl TryFrom<pb::LiteralType> for LiteralType {
    type Error = ConversionError;

    fn try_from(literal_type: pb::LiteralType) -> Result<Self, ConversionError> {
        use pb::literal_type::Kind;
        let Some(kind) = literal_type.kind else {
            return Err(ConversionError::new("", "literal type has no kind set"));
        };
        if !literal_type.tag.is_empty() {
            super::interface::check_name("tag", &literal_type.tag, gantry_core::names::NAME)?;
        }
        let ty = match kind {
            Kind::Simple(raw) => decode_enum::<pb::SimpleType, LiteralType>("simple", raw)?,
            Kind::StructType(struct_type) => LiteralType::Struct(StructType {
                fields: map("fields", struct_type.fields).at("struct_type")?,
            }),
            Kind::Blob(blob) => LiteralType::Blob(BlobType::try_from(blob).at("blob")?),
            Kind::CollectionType(element) => {
                LiteralType::collection(LiteralType::try_from(*element).at("collection_type")?)
            }
            Kind::MapValueType(value) => LiteralType::map(LiteralType::try_from(*value).at("map_value_type")?),
            Kind::UnionType(union) => LiteralType::Union(list("variants", union.variants).at("union_type")?),
            Kind::EnumType(enum_type) => LiteralType::Enum(enum_type.values),
        };
        Ok(LiteralType::tagged(literal_type.tag, ty))
    }
}

/// The scalar literal types; `UNSPECIFIED` is rejected.
impl TryFrom<pb::SimpleType> for LiteralType {
    type Error = ConversionError;

    fn try_from(simple: pb::SimpleType) -> Result<Self, ConversionError> {
        Ok(match simple {
            pb::SimpleType::Unspecified => {
                return Err(ConversionError::new("", "simple type is unspecified"));
            }
            pb::SimpleType::Integer => LiteralType::Integer,
            pb::SimpleType::Float => LiteralType::Float,
            pb::SimpleType::String => LiteralType::String,
            pb::SimpleType::Boolean => LiteralType::Boolean,
            pb::SimpleType::Datetime => LiteralType::Datetime,
            pb::SimpleType::Duration => LiteralType::Duration,
            pb::SimpleType::None => LiteralType::None,
            pb::SimpleType::Binary => LiteralType::Binary,
            pb::SimpleType::Error => LiteralType::Error,
        })
    }
}

impl From<LiteralType> for pb::LiteralType {
    fn from(literal_type: LiteralType) -> Self {
        use pb::literal_type::Kind;
        let simple = |simple: pb::SimpleType| Kind::Simple(simple as i32);
        let kind = match literal_type {
            LiteralType::Tagged(tagged) => {
                let TaggedType { tag, ty } = *tagged;
                return pb::LiteralType { tag, ..ty.into() };
            }
            LiteralType::Integer => simple(pb::SimpleType::Integer),
            LiteralType::Float => simple(pb::SimpleType::Float),
            LiteralType::String => simple(pb::SimpleType::String),
            LiteralType::Boolean => simple(pb::SimpleType::Boolean),
            LiteralType::Datetime => simple(pb::SimpleType::Datetime),
            LiteralType::Duration => simple(pb::SimpleType::Duration),
            LiteralType::None => simple(pb::SimpleType::None),
            LiteralType::Binary => simple(pb::SimpleType::Binary),
            LiteralType::Error => simple(pb::SimpleType::Error),
            LiteralType::Struct(struct_type) => Kind::StructType(pb::StructType {
                fields: into_map(struct_type.fields),
            }),
            LiteralType::Blob(blob) => Kind::Blob(blob.into()),
            LiteralType::Collection(element) => Kind::CollectionType(Box::new((*element).into())),
            LiteralType::Map(value) => Kind::MapValueType(Box::new((*value).into())),
            LiteralType::Union(variants) => Kind::UnionType(pb::UnionType {
                variants: into_list(variants),
            }),
            LiteralType::Enum(values) => Kind::EnumType(pb::EnumType { values }),
        };
        pb::LiteralType {
            kind: Some(kind),
            tag: String::new(),
        }
    }
}

impl TryFrom<pb::BlobType> for BlobType {
    type Error = ConversionError;

    fn try_from(blob: pb::BlobType) -> Result<Self, Self::Error> {
        Ok(BlobType {
            format: blob.format,
            dimensionality: decode_enum::<pb::BlobDimensionality, _>("dimensionality", blob.dimensionality)?,
        })
    }
}

impl From<BlobType> for pb::BlobType {
    fn from(blob: BlobType) -> Self {
        pb::BlobType {
            format: blob.format,
            dimensionality: pb::BlobDimensionality::from(blob.dimensionality) as i32,
        }
    }
}

/// `UNSPECIFIED` is rejected.
impl TryFrom<pb::BlobDimensionality> for BlobDimensionality {
    type Error = ConversionError;

    fn try_from(dimensionality: pb::BlobDimensionality) -> Result<Self, Self::Error> {
        match dimensionality {
            pb::BlobDimensionality::Unspecified => Err(ConversionError::new("", "blob dimensionality is unspecified")),
            pb::BlobDimensionality::Single => Ok(BlobDimensionality::Single),
            pb::BlobDimensionality::Multipart => Ok(BlobDimensionality::Multipart),
        }
    }
}

impl From<BlobDimensionality> for pb::BlobDimensionality {
    fn from(dimensionality: BlobDimensionality) -> Self {
        match dimensionality {
            BlobDimensionality::Single => pb::BlobDimensionality::Single,
            BlobDimensionality::Multipart => pb::BlobDimensionality::Multipart,
        }
    }
}

// ---- literals ----

impl TryFrom<pb::Literal> for Literal {
    type Error = ConversionError;

    fn try_from(literal: pb::Literal) -> Result<Self, ConversionError> {
        use pb::literal::Value;
        let Some(value) = literal.value else {
            return Err(ConversionError::new("", "literal has no value set"));
        };
        if !literal.hash.is_empty() {
            super::interface::check_name("hash", &literal.hash, gantry_core::names::NAME)?;
        }
        let value = match value {
            Value::Integer(value) => Literal::Integer(value),
            Value::FloatValue(value) => Literal::Float(value),
            Value::StringValue(value) => Literal::String(value),
            Value::Boolean(value) => Literal::Boolean(value),
            Value::Datetime(timestamp) => Literal::Datetime(timestamp_from_pb(timestamp)),
            Value::Duration(duration) => Literal::Duration(duration_from_pb(duration)),
            Value::None(_) => Literal::None,
            Value::Binary(bytes) => Literal::Binary(bytes),
            Value::StructValue(object) => Literal::Struct(struct_from_pb(object).at("struct_value")?),
            Value::Blob(blob) => Literal::Blob(Blob::try_from(blob).at("blob")?),
            Value::Collection(collection) => {
                Literal::Collection(list("literals", collection.literals).at("collection")?)
            }
            Value::Map(literal_map) => Literal::Map(LiteralMap::try_from(literal_map).at("map")?),
            Value::Union(union) => Literal::Union(Box::new(UnionValue::try_from(*union).at("union")?)),
            Value::EnumValue(value) => Literal::Enum(value),
            Value::Offloaded(offloaded) => Literal::Offloaded(Offloaded::try_from(offloaded).at("offloaded")?),
            Value::Error(error) => Literal::Error(ErrorValue {
                failed_node_id: error.failed_node_id,
                message: error.message,
            }),
        };
        Ok(Literal::hashed(literal.hash, value))
    }
}

impl From<Literal> for pb::Literal {
    fn from(literal: Literal) -> Self {
        use pb::literal::Value;
        let value = match literal {
            Literal::Hashed(hashed) => {
                let Hashed { hash, value } = *hashed;
                return pb::Literal { hash, ..value.into() };
            }
            Literal::Integer(value) => Value::Integer(value),
            Literal::Float(value) => Value::FloatValue(value),
            Literal::String(value) => Value::StringValue(value),
            Literal::Boolean(value) => Value::Boolean(value),
            Literal::Datetime(timestamp) => Value::Datetime(timestamp_to_pb(timestamp)),
            Literal::Duration(duration) => Value::Duration(duration_to_pb(duration)),
            Literal::None => Value::None(pb::NoneValue {}),
            Literal::Binary(bytes) => Value::Binary(bytes),
            Literal::Struct(fields) => Value::StructValue(struct_to_pb(fields)),
            Literal::Blob(blob) => Value::Blob(blob.into()),
            Literal::Collection(literals) => Value::Collection(pb::LiteralCollection {
                literals: into_list(literals),
            }),
            Literal::Map(literals) => Value::Map(literals.into()),
            Literal::Union(union) => Value::Union(Box::new((*union).into())),
            Literal::Enum(value) => Value::EnumValue(value),
            Literal::Offloaded(offloaded) => Value::Offloaded(offloaded.into()),
            Literal::Error(error) => Value::Error(pb::ErrorValue {
                failed_node_id: error.failed_node_id,
                message: error.message,
            }),
        };
        pb::Literal {
            value: Some(value),
            hash: String::new(),
        }
    }
}

impl TryFrom<pb::OffloadedLiteral> for Offloaded {
    type Error = ConversionError;

    fn try_from(offloaded: pb::OffloadedLiteral) -> Result<Self, Self::Error> {
        if offloaded.uri.is_empty() {
            return Err(ConversionError::new("uri", "must not be empty"));
        }
        Ok(Offloaded {
            uri: offloaded.uri,
            size_bytes: offloaded.size_bytes,
            ty: required_with("type", offloaded.r#type, "required field is missing")?,
            sha256: offloaded.sha256,
        })
    }
}

impl From<Offloaded> for pb::OffloadedLiteral {
    fn from(offloaded: Offloaded) -> Self {
        pb::OffloadedLiteral {
            uri: offloaded.uri,
            size_bytes: offloaded.size_bytes,
            r#type: Some(offloaded.ty.into()),
            sha256: offloaded.sha256,
        }
    }
}

/// Literal maps: the inputs and outputs of tasks, nodes and executions.
impl TryFrom<pb::LiteralMap> for LiteralMap {
    type Error = ConversionError;

    fn try_from(literal_map: pb::LiteralMap) -> Result<Self, Self::Error> {
        map("literals", literal_map.literals)
    }
}

impl From<LiteralMap> for pb::LiteralMap {
    fn from(literals: LiteralMap) -> Self {
        pb::LiteralMap {
            literals: into_map(literals),
        }
    }
}

/// An absent `LiteralMap` field is an empty map.
pub(crate) fn literal_map_or_empty(field: &str, value: Option<pb::LiteralMap>) -> Result<LiteralMap, ConversionError> {
    value.map_or_else(|| Ok(LiteralMap::new()), |value| LiteralMap::try_from(value).at(field))
}

impl TryFrom<pb::UnionValue> for UnionValue {
    type Error = ConversionError;

    fn try_from(union: pb::UnionValue) -> Result<Self, Self::Error> {
        Ok(UnionValue {
            value: required_with("value", union.value.map(|value| *value), "missing union value")?,
            variant: required_with("variant", union.variant, "missing union variant type")?,
        })
    }
}

impl From<UnionValue> for pb::UnionValue {
    fn from(union: UnionValue) -> Self {
        pb::UnionValue {
            value: Some(Box::new(union.value.into())),
            variant: Some(union.variant.into()),
        }
    }
}

impl TryFrom<pb::Blob> for Blob {
    type Error = ConversionError;

    fn try_from(blob: pb::Blob) -> Result<Self, Self::Error> {
        Ok(Blob {
            uri: blob.uri,
            format: blob.format,
            dimensionality: decode_enum::<pb::BlobDimensionality, _>("dimensionality", blob.dimensionality)?,
        })
    }
}

impl From<Blob> for pb::Blob {
    fn from(blob: Blob) -> Self {
        pb::Blob {
            uri: blob.uri,
            format: blob.format,
            dimensionality: pb::BlobDimensionality::from(blob.dimensionality) as i32,
        }
    }
}

// ---- well-known types ----

/// Seconds and nanos are copied as they are: neither side normalises them.
pub(crate) fn timestamp_from_pb(timestamp: prost_types::Timestamp) -> Timestamp {
    Timestamp {
        seconds: timestamp.seconds,
        nanos: timestamp.nanos,
    }
}

pub(crate) fn timestamp_to_pb(timestamp: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: timestamp.seconds,
        nanos: timestamp.nanos,
    }
}

/// Seconds and nanos are copied as they are: neither side normalises them.
pub(crate) fn duration_from_pb(duration: prost_types::Duration) -> Duration {
    Duration {
        seconds: duration.seconds,
        nanos: duration.nanos,
    }
}

/// A limit on time (a timeout): absent means none; present, it must be positive.
pub fn timeout_from_pb(
    field: &str,
    duration: Option<prost_types::Duration>,
) -> Result<Option<Duration>, ConversionError> {
    let Some(duration) = duration else {
        return Ok(None);
    };
    let duration = duration_from_pb(duration);
    if duration.as_millis() <= 0 {
        return Err(ConversionError::new(
            field,
            "a timeout must be at least one millisecond",
        ));
    }
    Ok(Some(duration))
}

pub(crate) fn duration_to_pb(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: duration.seconds,
        nanos: duration.nanos,
    }
}

/// A `google.protobuf.Struct` is an object at the top by construction; every nested value must have a kind.
fn struct_from_pb(object: prost_types::Struct) -> Result<BTreeMap<String, StructValue>, ConversionError> {
    object
        .fields
        .into_iter()
        .map(|(key, value)| match struct_value_from_pb(value) {
            Ok(value) => Ok((key, value)),
            Err(error) => Err(error.at(&format!("fields['{key}']"))),
        })
        .collect()
}

fn struct_value_from_pb(value: prost_types::Value) -> Result<StructValue, ConversionError> {
    let Some(kind) = value.kind else {
        return Err(ConversionError::new("", "struct value has no kind set"));
    };
    Ok(match kind {
        ValueKind::NullValue(_) => StructValue::Null,
        ValueKind::NumberValue(number) => StructValue::Number(number),
        ValueKind::StringValue(string) => StructValue::String(string),
        ValueKind::BoolValue(boolean) => StructValue::Bool(boolean),
        ValueKind::StructValue(object) => StructValue::Object(struct_from_pb(object).at("struct_value")?),
        ValueKind::ListValue(items) => {
            let items = items
                .values
                .into_iter()
                .enumerate()
                .map(|(index, item)| struct_value_from_pb(item).map_err(|error| error.at(&format!("[{index}]"))))
                .collect::<Result<_, _>>()
                .at("list_value.values")?;
            StructValue::List(items)
        }
    })
}

fn struct_to_pb(fields: BTreeMap<String, StructValue>) -> prost_types::Struct {
    prost_types::Struct {
        fields: fields
            .into_iter()
            .map(|(key, value)| (key, struct_value_to_pb(value)))
            .collect(),
    }
}

fn struct_value_to_pb(value: StructValue) -> prost_types::Value {
    let kind = match value {
        StructValue::Null => ValueKind::NullValue(prost_types::NullValue::NullValue as i32),
        StructValue::Bool(boolean) => ValueKind::BoolValue(boolean),
        StructValue::Number(number) => ValueKind::NumberValue(number),
        StructValue::String(string) => ValueKind::StringValue(string),
        StructValue::List(items) => ValueKind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(struct_value_to_pb).collect(),
        }),
        StructValue::Object(fields) => ValueKind::StructValue(struct_to_pb(fields)),
    };
    prost_types::Value { kind: Some(kind) }
}
