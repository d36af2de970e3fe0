//! The one error of the conversions: what was wrong, and where in the message.

use std::fmt;

/// A wire message that does not make a valid core value. `field` is the dotted path of the offending field, built up
/// as the conversion descends (`task.interface.inputs[2].type`, `literals['x'].union.value`); it is empty when the
/// message handed to the conversion is itself at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConversionError {
    /// Dotted path of the field, with `[i]` for list elements and `['key']` for map entries.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConversionError {
    /// An error about `field` (a path relative to the message being converted).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConversionError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Prepends `prefix` to the field path: `at("task")` turns `interface.inputs[2].type` into
    /// `task.interface.inputs[2].type`, and `at("inputs")` turns `[2].type` into `inputs[2].type`.
    #[must_use]
    pub fn at(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_owned()
        } else if self.field.starts_with('[') || prefix.is_empty() {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field \"{}\": {}", self.field, self.message)
        }
    }
}

/// A malformed request is the caller's fault: INVALID_ARGUMENT, with the field path in the message.
#[cfg(feature = "services")]
impl From<ConversionError> for tonic::Status {
    fn from(error: ConversionError) -> Self {
        tonic::Status::invalid_argument(error.to_string())
    }
}

/// Adds [`ConversionError::at`] to results, so that a conversion reads `Blob::try_from(b).at("blob")?`.
pub(crate) trait ResultExt<T> {
    /// Prepends `prefix` to the error's field path.
    fn at(self, prefix: &str) -> Result<T, ConversionError>;
}

impl<T> ResultExt<T> for Result<T, ConversionError> {
    fn at(self, prefix: &str) -> Result<T, ConversionError> {
        self.map_err(|error| error.at(prefix))
    }
}
