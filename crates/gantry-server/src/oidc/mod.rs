//! OIDC: bearer tokens (JWTs) from one issuer, verified against its published keys and mapped to a [`Caller`].
//!
//! The authentication layer hands [`OidcVerifier::verify`] the tokens that are not Gantry API keys. A token passes when
//! its header names an accepted asymmetric algorithm (never `none`, never HMAC), its key is in the issuer's key set and
//! of the algorithm's type, its signature verifies, and its `iss`, `aud`, `exp` and `nbf` hold (the last two within
//! the clock skew); its claims then make the caller (`grants.rs`), and a token that makes no grant is refused.
//!
//! - `config.rs`: the `--oidc-*` flags and the configuration they make.
//! - `keys.rs`: a JWKS document parsed into verifying keys, and which key verifies a token.
//! - `cache.rs`: the key set loaded from a file or URL, cached, refreshed periodically and on unknown keys, with a
//!   floor on how often.
//! - `grants.rs`: claims to principal and grants, through `PATTERN=GRANT` rules.
//! - `error.rs`: why a token was refused, in words that never echo the token.
//!
//! The signature and the registered claims are checked by `jsonwebtoken` (RustCrypto backend); this module decides
//! which algorithms and keys it may use, and says what was wrong.

mod cache;
mod config;
mod error;
mod grants;
mod keys;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;

pub use cache::KeySetLoads;
pub use config::{JwksSource, OidcArgs, OidcConfig};
pub use error::OidcError;
pub use grants::{ClaimMapping, DEFAULT_GRANT_RULES, GrantRule};

use crate::caller::Caller;
use cache::{Clock, KeyCache, SystemClock};

/// The longest token looked at; real ones are 1-4 KB.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Verifies OIDC tokens of one issuer. Cheap to clone: clones share the key set.
#[derive(Debug, Clone)]
pub struct OidcVerifier {
    config: Arc<OidcConfig>,
    keys: Arc<KeyCache>,
}

/// The header members that choose the key.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

impl OidcVerifier {
    /// A verifier holding no keys yet: the first token loads them (see [`OidcVerifier::load_keys`]).
    pub fn new(config: OidcConfig) -> Result<Self, String> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub(crate) fn with_clock(config: OidcConfig, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let keys = KeyCache::new(config.jwks.clone(), config.jwks_refresh, config.jwks_min_refresh, clock)?;
        Ok(OidcVerifier {
            config: Arc::new(config),
            keys: Arc::new(keys),
        })
    }

    /// The verifier a server starts with: its key set loaded at once. A key set file that does not load is an error
    /// (a mistake in the deployment); an issuer that does not answer is logged, and its keys are fetched again when
    /// tokens need them, so that the server starts while the issuer is down.
    pub async fn start(config: OidcConfig) -> Result<Self, String> {
        let verifier = Self::new(config)?;
        match (verifier.load_keys().await, &verifier.config.jwks) {
            (Ok(_), _) | (Err(_), JwksSource::Url(_)) => Ok(verifier),
            (Err(error), JwksSource::File(_)) => Err(error.to_string()),
        }
    }

    /// Loads the key set now (at start-up: a missing file or an unreachable issuer shows at once); returns how many
    /// usable keys it holds.
    pub async fn load_keys(&self) -> Result<usize, OidcError> {
        self.keys.load_now().await
    }

    /// What the key set's loads did so far, as they happen.
    pub fn key_set_loads(&self) -> watch::Receiver<KeySetLoads> {
        self.keys.loads()
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The caller a token makes, or why it makes none.
    pub async fn verify(&self, token: &str) -> Result<Caller, OidcError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(OidcError::Malformed(format!("longer than {MAX_TOKEN_BYTES} bytes")));
        }
        let header = header(token)?;
        let algorithm = keys::accepted_algorithm(&header.alg)?;
        let key = self.keys.key(header.kid.as_deref(), algorithm).await?;
        let claims = jsonwebtoken::decode::<Value>(token, &key, &self.validation(algorithm))
            .map_err(|error| self.refusal(error.into_kind(), token, &header))?
            .claims;
        self.config.mapping.caller(&claims)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.config.clock_skew.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&self.config.audiences);
        validation.required_spec_claims = HashSet::from(["exp", "iss", "aud"].map(str::to_owned));
        validation
    }

    /// Why `jsonwebtoken` refused a token, in our words. Claims errors come after the signature verified, so the
    /// values they quote from the claims are the issuer's.
    fn refusal(&self, kind: ErrorKind, token: &str, header: &Header) -> OidcError {
        let claim = |name: &str| {
            jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token)
                .ok()
                .and_then(|claims| claims.get(name).cloned())
        };
        let time = |name: &str| {
            claim(name)
                .and_then(|value| value.as_i64())
                .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
                .map_or_else(|| "(unreadable)".to_owned(), |at| at.to_string())
        };
        let skew_seconds = self.config.clock_skew.as_secs();
        match kind {
            ErrorKind::InvalidSignature => OidcError::BadSignature,
            ErrorKind::ExpiredSignature => OidcError::Expired {
                expired_at: time("exp"),
                skew_seconds,
            },
            ErrorKind::ImmatureSignature => OidcError::NotYetValid {
                valid_from: time("nbf"),
                skew_seconds,
            },
            ErrorKind::InvalidIssuer => OidcError::WrongIssuer {
                expected: self.config.issuer.clone(),
                found: claim("iss").and_then(|iss| iss.as_str().map(str::to_owned)),
            },
            ErrorKind::InvalidAudience => OidcError::WrongAudience {
                expected: self.config.audiences.clone(),
            },
            ErrorKind::MissingRequiredClaim(name) => OidcError::MissingClaim(name),
            ErrorKind::InvalidClaimFormat(name) => OidcError::InvalidClaim {
                claim: name,
                reason: "has the wrong type".to_owned(),
            },
            ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidKeyFormat => OidcError::KeyMismatch {
                kid: header.kid.clone().unwrap_or_default(),
                algorithm: header.alg.clone(),
                reason: "the published key does not load".to_owned(),
            },
            ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm | ErrorKind::InvalidAlgorithmName => {
                OidcError::UnsupportedAlgorithm(header.alg.clone())
            }
            ErrorKind::Base64(_) => OidcError::Malformed("a part is not base64url".to_owned()),
            ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                OidcError::Malformed("the payload is not a JSON object".to_owned())
            }
            other => OidcError::Malformed(format!("{other:?}")),
        }
    }
}

/// The header of a compact JWS, read before anything is verified: only to choose the algorithm and the key.
fn header(token: &str) -> Result<Header, OidcError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(OidcError::Malformed(
            "not a JWT: expected three base64url parts separated by dots".to_owned(),
        ));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map_err(|_| OidcError::Malformed("the header is not base64url".to_owned()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| OidcError::Malformed("the header is not a JSON object with a string alg".to_owned()))
}
