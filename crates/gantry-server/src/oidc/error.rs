//! Why a token was refused. Messages say what was wrong and never echo the token; the few values they quote from it
//! (a key id, an issuer, a claim's name) are cut to a short prefix by `quote`.

use gantry_core::names::quote;

/// A token the verifier refused, or a key set it could not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// Not a compact JWS: three base64url parts, a JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `alg: none`: an unsigned token.
    #[error("unsigned token (alg \"none\") refused")]
    Unsigned,
    /// An algorithm outside the accepted asymmetric ones (HS256 among them: a shared secret has no place here).
    #[error("algorithm {} is not accepted (only {})", quote(.0), super::keys::ACCEPTED_ALGORITHMS)]
    UnsupportedAlgorithm(String),
    /// The token names a key the issuer's key set does not hold (after a refresh, unless one ran too recently).
    #[error("unknown signing key {}: not in the issuer's key set", quote(.0))]
    UnknownKey(String),
    /// The token names no key, and the key set has none, or several, of its algorithm's type.
    #[error("the token names no key (kid) and the issuer's key set holds {candidates} keys for {algorithm}")]
    NoKeyId { algorithm: String, candidates: usize },
    /// The named key cannot verify the header's algorithm (an EC key for RS256, a key published for another one).
    #[error("key {} cannot verify {algorithm}: {reason}", quote(.kid))]
    KeyMismatch {
        kid: String,
        algorithm: String,
        reason: String,
    },
    /// The signature does not verify under the key: a forged or altered token.
    #[error("invalid signature")]
    BadSignature,
    /// Past `exp` (plus the clock skew).
    #[error("token expired at {expired_at} (clock skew allowed: {skew_seconds}s)")]
    Expired { expired_at: String, skew_seconds: u64 },
    /// Before `nbf` (less the clock skew).
    #[error("token not valid before {valid_from} (clock skew allowed: {skew_seconds}s)")]
    NotYetValid { valid_from: String, skew_seconds: u64 },
    /// `iss` is not the configured issuer.
    #[error("wrong issuer {}: expected {}", quote_found(.found), quote(.expected))]
    WrongIssuer { expected: String, found: Option<String> },
    /// `aud` names none of the configured audiences.
    #[error("wrong audience: the token is not meant for {}", .expected.join(" or "))]
    WrongAudience { expected: Vec<String> },
    /// A required claim is absent (`exp`, `iss`, `aud`, the principal claim).
    #[error("missing claim {}", quote(.0))]
    MissingClaim(String),
    /// A claim of the wrong type (a numeric `exp` as text, a principal that is not a string).
    #[error("claim {} {reason}", quote(.claim))]
    InvalidClaim { claim: String, reason: String },
    /// The token is valid but the mapping rules give it no grant.
    #[error("{principal} has no grant: no value of claim {} matches a grant rule", quote(.claim))]
    NoGrant { principal: String, claim: String },
    /// The issuer's key set could not be loaded (the token could not be checked at all).
    #[error("the issuer's key set is unavailable: {0}")]
    KeySetUnavailable(String),
}

fn quote_found(found: &Option<String>) -> String {
    found.as_deref().map_or_else(|| "(none)".to_owned(), quote)
}
