//! Typed access to literals: [`FromLiteral`] reads a Rust value out of a [`Literal`], [`IntoLiteral`] makes one.
//!
//! Union values are looked through on the way in: an `optional<integer>` input holding `3` reads as `Some(3i64)`
//! and as `3i64`. Nothing is coerced between kinds (an integer is not a float); the server's type checker has already
//! made the literal match the task's declared interface.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use gantry_core::model::{Blob, Duration, ErrorValue, Literal, Timestamp};

/// A literal that does not hold the Rust type asked for. `path` locates the offending value inside the literal
/// (`[2]`, `['key']`), empty for the literal itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LiteralError {
    /// Where in the literal: `[i]` for collection elements, `['key']` for map entries; empty for the whole value.
    pub path: String,
    /// What is wrong, e.g. `expected integer, got string`.
    pub message: String,
}

impl LiteralError {
    /// An error about the whole value.
    pub fn new(message: impl Into<String>) -> Self {
        LiteralError {
            path: String::new(),
            message: message.into(),
        }
    }

    fn mismatch(expected: &str, got: &Literal) -> Self {
        LiteralError::new(format!("expected {expected}, got {}", got.kind_name()))
    }

    /// Prepends a path step (`[2]` or `['key']`) to the error's path.
    #[must_use]
    pub fn at(mut self, step: &str) -> Self {
        self.path = format!("{step}{}", self.path);
        self
    }
}

impl fmt::Display for LiteralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

/// The value inside any number of union wrappers, without its hash.
fn plain(literal: &Literal) -> &Literal {
    literal.bare()
}

/// A Rust type that can be read out of a literal, for [`crate::Inputs::get`].
pub trait FromLiteral: Sized {
    /// Reads the value; a literal of another kind is an error naming both kinds.
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError>;

    /// What an absent value reads as: an error, except for `Option<T>` (`None`).
    fn from_missing() -> Result<Self, LiteralError> {
        Err(LiteralError::new("value is missing"))
    }
}

/// A Rust value that can be made into a literal, for [`crate::Outputs::set`] and dynamic spec bindings.
pub trait IntoLiteral {
    /// Makes the literal.
    fn into_literal(self) -> Literal;
}

impl FromLiteral for Literal {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        Ok(literal.clone())
    }
}

impl IntoLiteral for Literal {
    fn into_literal(self) -> Literal {
        self
    }
}

impl FromLiteral for i64 {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Integer(value) => Ok(*value),
            other => Err(LiteralError::mismatch("integer", other)),
        }
    }
}

impl IntoLiteral for i64 {
    fn into_literal(self) -> Literal {
        Literal::Integer(self)
    }
}

/// Narrower integers read from an integer literal, rejecting values out of their range.
macro_rules! narrow_integer {
    ($($ty:ty),*) => {$(
        impl FromLiteral for $ty {
            fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
                let wide = i64::from_literal(literal)?;
                <$ty>::try_from(wide).map_err(|_| {
                    LiteralError::new(format!("integer {wide} does not fit in {}", stringify!($ty)))
                })
            }
        }
    )*};
}

narrow_integer!(i32, u32, u64, usize);

/// Integers that always fit in an `i64`.
macro_rules! lossless_integer {
    ($($ty:ty),*) => {$(
        impl IntoLiteral for $ty {
            fn into_literal(self) -> Literal {
                Literal::Integer(i64::from(self))
            }
        }
    )*};
}

lossless_integer!(i32, u32, i16, u16);

/// Saturates at `i64::MAX`, which no length or count reaches.
impl IntoLiteral for usize {
    fn into_literal(self) -> Literal {
        Literal::Integer(i64::try_from(self).unwrap_or(i64::MAX))
    }
}

/// Saturates at `i64::MAX`.
impl IntoLiteral for u64 {
    fn into_literal(self) -> Literal {
        Literal::Integer(i64::try_from(self).unwrap_or(i64::MAX))
    }
}

impl FromLiteral for f64 {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Float(value) => Ok(*value),
            other => Err(LiteralError::mismatch("float", other)),
        }
    }
}

impl IntoLiteral for f64 {
    fn into_literal(self) -> Literal {
        Literal::Float(self)
    }
}

impl IntoLiteral for f32 {
    fn into_literal(self) -> Literal {
        Literal::Float(f64::from(self))
    }
}

/// Reads strings and enum values.
impl FromLiteral for String {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::String(value) | Literal::Enum(value) => Ok(value.clone()),
            other => Err(LiteralError::mismatch("string", other)),
        }
    }
}

impl IntoLiteral for String {
    fn into_literal(self) -> Literal {
        Literal::String(self)
    }
}

impl IntoLiteral for &str {
    fn into_literal(self) -> Literal {
        Literal::String(self.to_owned())
    }
}

impl IntoLiteral for &String {
    fn into_literal(self) -> Literal {
        Literal::String(self.clone())
    }
}

impl FromLiteral for bool {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Boolean(value) => Ok(*value),
            other => Err(LiteralError::mismatch("boolean", other)),
        }
    }
}

impl IntoLiteral for bool {
    fn into_literal(self) -> Literal {
        Literal::Boolean(self)
    }
}

/// Bytes are the `binary` literal, not a collection of integers.
impl FromLiteral for Vec<u8> {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Binary(bytes) => Ok(bytes.clone()),
            other => Err(LiteralError::mismatch("binary", other)),
        }
    }
}

/// Bytes are the `binary` literal, not a collection of integers.
impl IntoLiteral for Vec<u8> {
    fn into_literal(self) -> Literal {
        Literal::Binary(self)
    }
}

impl<T: FromLiteral> FromLiteral for Vec<T> {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Collection(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| T::from_literal(item).map_err(|e| e.at(&format!("[{index}]"))))
                .collect(),
            other => Err(LiteralError::mismatch("collection", other)),
        }
    }
}

impl<T: IntoLiteral> IntoLiteral for Vec<T> {
    fn into_literal(self) -> Literal {
        Literal::Collection(self.into_iter().map(IntoLiteral::into_literal).collect())
    }
}

impl<T: FromLiteral> FromLiteral for BTreeMap<String, T> {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Map(items) => items
                .iter()
                .map(|(key, item)| match T::from_literal(item) {
                    Ok(value) => Ok((key.clone(), value)),
                    Err(error) => Err(error.at(&format!("['{key}']"))),
                })
                .collect(),
            other => Err(LiteralError::mismatch("map", other)),
        }
    }
}

impl<T: IntoLiteral> IntoLiteral for BTreeMap<String, T> {
    fn into_literal(self) -> Literal {
        Literal::Map(self.into_iter().map(|(k, v)| (k, v.into_literal())).collect())
    }
}

impl<T: IntoLiteral> IntoLiteral for HashMap<String, T> {
    fn into_literal(self) -> Literal {
        Literal::Map(self.into_iter().map(|(k, v)| (k, v.into_literal())).collect())
    }
}

/// `none` (or an absent input) reads as `None`; anything else as `Some`.
impl<T: FromLiteral> FromLiteral for Option<T> {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::None => Ok(None),
            other => T::from_literal(other).map(Some),
        }
    }

    fn from_missing() -> Result<Self, LiteralError> {
        Ok(None)
    }
}

/// `None` is the `none` literal; the server stamps the union variant when it checks the value against the type.
impl<T: IntoLiteral> IntoLiteral for Option<T> {
    fn into_literal(self) -> Literal {
        self.map_or(Literal::None, IntoLiteral::into_literal)
    }
}

impl FromLiteral for Duration {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Duration(value) => Ok(*value),
            other => Err(LiteralError::mismatch("duration", other)),
        }
    }
}

impl IntoLiteral for Duration {
    fn into_literal(self) -> Literal {
        Literal::Duration(self)
    }
}

/// Negative durations are an error.
impl FromLiteral for std::time::Duration {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        let duration = Duration::from_literal(literal)?;
        let total_nanos = i128::from(duration.seconds) * 1_000_000_000 + i128::from(duration.nanos);
        let nanos = u128::try_from(total_nanos)
            .map_err(|_| LiteralError::new("negative duration does not fit in std::time::Duration"))?;
        let seconds = u64::try_from(nanos / 1_000_000_000).map_err(|_| LiteralError::new("duration is too long"))?;
        // The remainder of a division by 1e9 always fits in a u32.
        let subsec = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
        Ok(std::time::Duration::new(seconds, subsec))
    }
}

/// Saturates at `i64::MAX` seconds.
impl IntoLiteral for std::time::Duration {
    fn into_literal(self) -> Literal {
        Literal::Duration(Duration {
            seconds: i64::try_from(self.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(self.subsec_nanos()).unwrap_or(0),
        })
    }
}

impl FromLiteral for Timestamp {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Datetime(value) => Ok(*value),
            other => Err(LiteralError::mismatch("datetime", other)),
        }
    }
}

impl IntoLiteral for Timestamp {
    fn into_literal(self) -> Literal {
        Literal::Datetime(self)
    }
}

impl FromLiteral for SystemTime {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        let timestamp = Timestamp::from_literal(literal)?;
        let nanos =
            u32::try_from(timestamp.nanos).map_err(|_| LiteralError::new("datetime has negative nanoseconds"))?;
        let since_epoch = |seconds: u64| std::time::Duration::new(seconds, 0);
        let time = if timestamp.seconds >= 0 {
            UNIX_EPOCH.checked_add(since_epoch(timestamp.seconds.unsigned_abs()))
        } else {
            UNIX_EPOCH.checked_sub(since_epoch(timestamp.seconds.unsigned_abs()))
        };
        time.and_then(|t| t.checked_add(std::time::Duration::from_nanos(u64::from(nanos))))
            .ok_or_else(|| LiteralError::new("datetime is out of the range of SystemTime"))
    }
}

impl IntoLiteral for SystemTime {
    fn into_literal(self) -> Literal {
        let timestamp = match self.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp {
                seconds: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(after.subsec_nanos()).unwrap_or(0),
            },
            Err(before) => {
                let before = before.duration();
                let seconds = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                let nanos = i32::try_from(before.subsec_nanos()).unwrap_or(0);
                if nanos == 0 {
                    Timestamp {
                        seconds: -seconds,
                        nanos: 0,
                    }
                } else {
                    Timestamp {
                        seconds: -seconds - 1,
                        nanos: 1_000_000_000 - nanos,
                    }
                }
            }
        };
        Literal::Datetime(timestamp)
    }
}

impl FromLiteral for Blob {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Blob(blob) => Ok(blob.clone()),
            other => Err(LiteralError::mismatch("blob", other)),
        }
    }
}

impl IntoLiteral for Blob {
    fn into_literal(self) -> Literal {
        Literal::Blob(self)
    }
}

/// A node's failure as a value (the `error` type).
impl FromLiteral for ErrorValue {
    fn from_literal(literal: &Literal) -> Result<Self, LiteralError> {
        match plain(literal) {
            Literal::Error(error) => Ok(error.clone()),
            other => Err(LiteralError::mismatch("error", other)),
        }
    }
}

impl IntoLiteral for ErrorValue {
    fn into_literal(self) -> Literal {
        Literal::Error(self)
    }
}

#[cfg(test)]
#[path = "literal_tests.rs"]
mod tests;
