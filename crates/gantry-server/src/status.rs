//! The one place where engine errors become gRPC statuses (codes chosen as AIP-193 asks).

use gantry_engine::EngineError;
use tonic::Status;

/// Maps an engine error to the status the client sees. Internal details stay in the server's log.
pub fn to_status(error: EngineError) -> Status {
    match error {
        EngineError::InvalidArgument(message) => Status::invalid_argument(message),
        EngineError::NotFound(message) => Status::not_found(message),
        EngineError::AlreadyExists(message) => Status::already_exists(message),
        EngineError::FailedPrecondition(message) => Status::failed_precondition(message),
        EngineError::ResourceExhausted(message) => Status::resource_exhausted(message),
        EngineError::Unavailable(message) => Status::unavailable(message),
        EngineError::Internal(message) => Status::internal(message),
    }
}

/// `to_status` for results.
pub trait IntoStatus<T> {
    fn or_status(self) -> Result<T, Status>;
}

impl<T> IntoStatus<T> for Result<T, EngineError> {
    fn or_status(self) -> Result<T, Status> {
        self.map_err(to_status)
    }
}

impl<T> IntoStatus<T> for Result<T, gantry_store::StoreError> {
    fn or_status(self) -> Result<T, Status> {
        self.map_err(|e| to_status(e.into()))
    }
}

/// Parses an execution id, naming the field on failure.
pub fn parse_id(field: &str, text: &str) -> Result<uuid::Uuid, Status> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| Status::invalid_argument(format!("{field}: {text:?} is not an execution id")))
}
