//! Authentication: who makes each request. The [`layer`] reads `authorization: Bearer <token>` from every request to
//! Gantry's own services (not `grpc.health.v1`, not reflection), has the token verified, checks the RPC's rule
//! ([`rules`]) against the caller's grants, and puts the [`rules::Access`] (the [`Caller`] and the rule) into the
//! request's extensions for the handler to finish the check in the project it acts in.
//!
//! A token that starts with [`keys::KEY_PREFIX`] is an API key Gantry issued ([`keys::KeyVerifier`]); any other goes
//! to an optional second [`TokenVerifier`] (where OIDC JWTs will be verified), and is refused without one.

pub mod api;
pub mod keys;
pub mod layer;
pub mod rules;

use std::fmt;
use std::sync::Arc;

use tonic::Status;
use uuid::Uuid;

use crate::caller::Caller;
use keys::{KEY_PREFIX, KeyVerifier};

/// Why a request is not authenticated (or could not be). Messages name the key's id at most, never the token.
#[derive(Debug, Clone)]
pub enum AuthError {
    Missing,
    /// Not `Bearer <token>`, or not a token any verifier reads.
    Malformed,
    UnknownKey(Uuid),
    WrongSecret(Uuid),
    Expired(Uuid),
    Revoked(Uuid),
    /// Another verifier's answer, as it would be sent (its message must not hold the token either).
    Other(Status),
    /// The store could not be read: UNAVAILABLE, as everywhere.
    Unavailable(String),
    Internal(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Missing => write!(
                f,
                "authentication required: send the metadata `authorization: Bearer <token>`"
            ),
            AuthError::Malformed => write!(
                f,
                "the authorization token is malformed (expected `Bearer gantry_<key id>_<secret>`)"
            ),
            AuthError::UnknownKey(id) => write!(f, "API key {id} does not exist"),
            AuthError::WrongSecret(id) => write!(f, "API key {id}: the secret does not match"),
            AuthError::Expired(id) => write!(f, "API key {id} has expired"),
            AuthError::Revoked(id) => write!(f, "API key {id} was revoked"),
            AuthError::Other(status) => write!(f, "{}", status.message()),
            AuthError::Unavailable(message) => write!(f, "database unavailable: {message}"),
            AuthError::Internal(message) => write!(f, "{message}"),
        }
    }
}

impl From<AuthError> for Status {
    fn from(error: AuthError) -> Status {
        match &error {
            AuthError::Other(status) => status.clone(),
            AuthError::Unavailable(_) => Status::unavailable(error.to_string()),
            AuthError::Internal(_) => Status::internal(error.to_string()),
            _ => Status::unauthenticated(error.to_string()),
        }
    }
}

/// A verifier of tokens that are not Gantry API keys (OIDC JWTs, say): the caller a token stands for, or why not.
#[tonic::async_trait]
pub trait TokenVerifier: Send + Sync + fmt::Debug + 'static {
    async fn verify(&self, token: &str) -> Result<Caller, AuthError>;
}

/// Every way a token is verified.
#[derive(Debug)]
pub struct Authenticator {
    pub keys: KeyVerifier,
    pub other: Option<Arc<dyn TokenVerifier>>,
}

impl Authenticator {
    /// The caller of a request whose `authorization` metadata is `header` (`None`: none sent).
    pub async fn authenticate(&self, header: Option<&[u8]>) -> Result<Caller, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let header = std::str::from_utf8(header).map_err(|_| AuthError::Malformed)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed);
        }
        let token = token.trim();
        if token.starts_with(KEY_PREFIX) {
            return self.keys.verify(token).await;
        }
        match &self.other {
            Some(other) => other.verify(token).await,
            None => Err(AuthError::Malformed),
        }
    }
}

/// OIDC tokens: the tokens that are not API keys, when the server has an issuer (`--oidc-issuer`).
#[tonic::async_trait]
impl TokenVerifier for crate::oidc::OidcVerifier {
    async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        crate::oidc::OidcVerifier::verify(self, token)
            .await
            .map_err(|error| AuthError::Other(crate::status::oidc_status(&error)))
    }
}
