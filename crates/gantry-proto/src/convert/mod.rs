//! Conversions between the `gantry.v1` wire messages and `gantry_core`'s model.
//!
//! `TryFrom<pb::X> for core::X` validates at the edge: missing required messages and oneofs, `UNSPECIFIED` or
//! unknown enum values, names outside their rules (`gantry_core::names`: lengths and characters, so that every
//! store accepts exactly the same names) and literals the core cannot represent (offloaded references) are
//! rejected with a [`ConversionError`] naming the field path. Everything else (unique node ids, type checks, graph
//! shape) is the spec compiler's job. `From<core::X> for pb::X` is total, and `core -> pb -> core` is the identity,
//! except that an empty task queue comes back as `default`.
//!
//! Absent optional messages take the documented defaults: an absent interface is empty, absent task metadata or
//! retry policy take the core's defaults, an absent `LiteralMap` is empty, absent array success criteria mean all.

mod binding;
mod error;
mod execution;
mod interface;
mod literal;
mod spec;
mod task;
mod workflow;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use error::ConversionError;
pub(crate) use error::ResultExt;
pub use interface::check_name;
pub use literal::timeout_from_pb;
pub use task::DEFAULT_QUEUE;

/// Converts a required field of a request: absent gives an error at `field` saying so, a malformed one an error whose
/// path starts with `field`. For handlers: `let task: TaskTemplate = required("task", request.task)?;`.
pub fn required<P, T>(field: &str, value: Option<P>) -> Result<T, ConversionError>
where
    T: TryFrom<P, Error = ConversionError>,
{
    required_with(field, value, "required field is missing")
}

/// Converts the raw `i32` of an enum field to a core value through its wire enum `P`, rejecting unknown numbers and
/// `UNSPECIFIED`. For handlers: `decode_enum::<pb::ExecutionPhase, ExecutionPhase>("phases[0]", raw)`.
pub fn decode_enum<P, T>(field: &str, raw: i32) -> Result<T, ConversionError>
where
    P: TryFrom<i32>,
    T: TryFrom<P, Error = ConversionError>,
{
    let Ok(wire) = P::try_from(raw) else {
        return Err(ConversionError::new(field, format!("unknown enum value {raw}")));
    };
    T::try_from(wire).at(field)
}

/// Like [`required`], with the message to give when the field is absent.
pub(crate) fn required_with<P, T>(field: &str, value: Option<P>, missing: &str) -> Result<T, ConversionError>
where
    T: TryFrom<P, Error = ConversionError>,
{
    match value {
        None => Err(ConversionError::new(field, missing)),
        Some(value) => T::try_from(value).at(field),
    }
}

/// Converts an optional field; a malformed value gives an error at `field`.
pub(crate) fn optional<P, T>(field: &str, value: Option<P>) -> Result<Option<T>, ConversionError>
where
    T: TryFrom<P, Error = ConversionError>,
{
    value.map(|value| T::try_from(value).at(field)).transpose()
}

/// Converts every element of a repeated field, naming a bad one `field[i]`.
pub(crate) fn list<P, T>(field: &str, items: Vec<P>) -> Result<Vec<T>, ConversionError>
where
    T: TryFrom<P, Error = ConversionError>,
{
    // Into a vector of its own, exactly as long: collecting would reuse the wire vector's allocation, sized for
    // the wire type and grown by doubling while decoding, and a 100,000-node spec would hold that slack per node.
    let mut converted = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        converted.push(T::try_from(item).map_err(|error| error.at(&format!("{field}[{index}]")))?);
    }
    Ok(converted)
}

/// Converts every value of a map field, naming a bad one `field['key']`.
pub(crate) fn map<P, T>(field: &str, items: BTreeMap<String, P>) -> Result<BTreeMap<String, T>, ConversionError>
where
    T: TryFrom<P, Error = ConversionError>,
{
    items
        .into_iter()
        .map(|(key, item)| match T::try_from(item) {
            Ok(value) => Ok((key, value)),
            Err(error) => Err(error.at(&format!("{field}['{}']", gantry_core::names::shorten(&key)))),
        })
        .collect()
}

/// Converts every element of a list with a plain `From`, for the core-to-wire direction.
pub(crate) fn into_list<C, P: From<C>>(items: Vec<C>) -> Vec<P> {
    items.into_iter().map(P::from).collect()
}

/// Converts every value of a map with a plain `From`, for the core-to-wire direction.
pub(crate) fn into_map<C, P: From<C>>(items: BTreeMap<String, C>) -> BTreeMap<String, P> {
    items.into_iter().map(|(key, value)| (key, P::from(value))).collect()
}
