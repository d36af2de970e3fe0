//! The engine's one error type. The server maps it to gRPC codes in one place.

use gantry_store::StoreError;

/// Why a request to the engine was refused or failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// A malformed request: wrong input types, a spec that does not compile, a bad id.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    /// A name already taken by something different.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request does not fit the current state: a second completion, an expired lease, a finished execution.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A limit was exceeded.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The database cannot be reached; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or corrupt data. Logged with details; the caller gets a short message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => EngineError::AlreadyExists(message),
            StoreError::Unavailable(message) => EngineError::Unavailable(format!("database unavailable: {message}")),
            // The caller made the token up: the listing never handed it out.
            StoreError::InvalidPage(message) => EngineError::InvalidArgument(format!("page_token: {message}")),
            other => {
                tracing::error!(error = %other, "store failure");
                EngineError::Internal("storage failure".to_owned())
            }
        }
    }
}

impl From<gantry_proto::ConversionError> for EngineError {
    fn from(error: gantry_proto::ConversionError) -> Self {
        EngineError::InvalidArgument(error.to_string())
    }
}

/// Shorthand for the engine's results.
pub type EngineResult<T> = Result<T, EngineError>;
