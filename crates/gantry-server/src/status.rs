//! The one place where engine errors become gRPC statuses (codes chosen as AIP-193 asks).

use gantry_core::names::quote;
use gantry_engine::EngineError;
use tonic::Status;

use crate::oidc::OidcError;

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

/// Maps a refused OIDC token to the status the client sees: UNAUTHENTICATED for a token that proves nothing,
/// PERMISSION_DENIED for a valid one that maps to no grant, UNAVAILABLE when the issuer's keys could not be loaded
/// (the token could not be checked; trying again later may pass).
pub fn oidc_status(error: &OidcError) -> Status {
    let message = error.to_string();
    match error {
        OidcError::NoGrant { .. } => Status::permission_denied(message),
        OidcError::KeySetUnavailable(_) => Status::unavailable(message),
        _ => Status::unauthenticated(message),
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

/// Parses an execution id, naming the field on failure.
pub fn parse_id(field: &str, text: &str) -> Result<uuid::Uuid, Status> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| Status::invalid_argument(format!("{field}: {} is not an execution id", quote(text))))
}

/// Refuses a request that asks for more than a documented limit, naming the field, the limit and the value given.
pub fn within(field: &str, given: usize, limit: usize) -> Result<(), Status> {
    if given > limit {
        return Err(Status::invalid_argument(format!(
            "{field}: {given} given, over the limit of {limit}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_over_a_limit_names_the_field_the_limit_and_the_value() {
        assert!(within("queues", 100, 100).is_ok());
        let refused = within("queues", 100_000, 100).expect_err("over the limit");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert_eq!(refused.message(), "queues: 100000 given, over the limit of 100");
    }

    #[test]
    fn refused_tokens_are_unauthenticated_unless_valid_or_uncheckable() {
        let status = oidc_status(&OidcError::BadSignature);
        assert_eq!(
            (status.code(), status.message()),
            (tonic::Code::Unauthenticated, "invalid signature")
        );
        let no_grant = OidcError::NoGrant {
            principal: "oidc:alice".to_owned(),
            claim: "groups".to_owned(),
        };
        assert_eq!(oidc_status(&no_grant).code(), tonic::Code::PermissionDenied);
        let unavailable = OidcError::KeySetUnavailable("fetching https://issuer/keys: HTTP 503".to_owned());
        assert_eq!(oidc_status(&unavailable).code(), tonic::Code::Unavailable);
    }
}
