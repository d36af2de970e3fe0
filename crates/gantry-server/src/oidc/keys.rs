//! The issuer's signing keys: a JWKS document parsed into verifying keys, and the choice of a token's key.
//!
//! Only asymmetric keys of the accepted algorithms are kept: a symmetric (`oct`) key, a key for encryption
//! (`use: enc`), an unknown type or curve, and an RSA key under 2048 bits are skipped with a reason. A token's key
//! must be of the type its header's algorithm needs (an RSA key for RS256, a P-256 key for ES256, ...), and of the
//! algorithm the key names when it names one: that, and accepting no HMAC algorithm at all, is what refuses key
//! confusion (an HS256 token "signed" with the issuer's public RSA key).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_core::names::quote;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::OidcError;

/// The algorithms a token may be signed with, for messages.
pub(crate) const ACCEPTED_ALGORITHMS: &str = "RS256, RS384, RS512, ES256, ES384, EdDSA";

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// The algorithm a header names, if it is one of the accepted ones.
pub(crate) fn accepted_algorithm(name: &str) -> Result<Algorithm, OidcError> {
    match name {
        "RS256" => Ok(Algorithm::RS256),
        "RS384" => Ok(Algorithm::RS384),
        "RS512" => Ok(Algorithm::RS512),
        "ES256" => Ok(Algorithm::ES256),
        "ES384" => Ok(Algorithm::ES384),
        "EdDSA" => Ok(Algorithm::EdDSA),
        _ if name.eq_ignore_ascii_case("none") => Err(OidcError::Unsigned),
        _ => Err(OidcError::UnsupportedAlgorithm(name.to_owned())),
    }
}

/// What a public key is, as far as which algorithm it verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyType {
    /// The type of key an accepted algorithm needs.
    fn for_algorithm(algorithm: Algorithm) -> Option<KeyType> {
        match algorithm {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => Some(KeyType::Rsa),
            Algorithm::ES256 => Some(KeyType::P256),
            Algorithm::ES384 => Some(KeyType::P384),
            Algorithm::EdDSA => Some(KeyType::Ed25519),
            _ => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            KeyType::Rsa => "an RSA key",
            KeyType::P256 => "a P-256 EC key",
            KeyType::P384 => "a P-384 EC key",
            KeyType::Ed25519 => "an Ed25519 key",
        }
    }
}

/// One key of the set, ready to verify.
#[derive(Debug, Clone)]
struct VerifyingKey {
    kid: Option<String>,
    key_type: KeyType,
    /// The algorithm the key is published for (`alg`), when the JWK says.
    algorithm: Option<String>,
    decoding: DecodingKey,
}

impl VerifyingKey {
    /// Why this key cannot verify `algorithm`, if it cannot.
    fn mismatch(&self, algorithm: Algorithm) -> Option<String> {
        if KeyType::for_algorithm(algorithm) != Some(self.key_type) {
            return Some(format!("it is {}", self.key_type.describe()));
        }
        match &self.algorithm {
            Some(named) if *named != format!("{algorithm:?}") => Some(format!("it is published for {}", quote(named))),
            _ => None,
        }
    }
}

/// The issuer's usable signing keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<VerifyingKey>,
}

/// A JWK as published: only the members that decide whether and how it is used.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    public_key_use: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}

/// A key set parsed, and the keys of it that were skipped, each with its reason.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) set: KeySet,
    pub(crate) skipped: Vec<String>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`). Keys that cannot be used are skipped and listed; a document with
    /// no usable key is an error, so that a bad publication never replaces a good set.
    pub(crate) fn parse(document: &[u8]) -> Result<Parsed, String> {
        let raw: RawJwkSet = serde_json::from_slice(document)
            .map_err(|error| format!("not a JWKS document ({{\"keys\": [...]}}): {error}"))?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (index, value) in raw.keys.into_iter().enumerate() {
            let kid = value.get("kid").and_then(|kid| kid.as_str()).map(quote);
            let name = kid.unwrap_or_else(|| format!("#{index}"));
            match serde_json::from_value::<RawJwk>(value)
                .map_err(|error| error.to_string())
                .and_then(verifying_key)
            {
                Ok(key) => keys.push(key),
                Err(reason) => skipped.push(format!("key {name}: {reason}")),
            }
        }
        if keys.is_empty() {
            let detail = if skipped.is_empty() {
                String::new()
            } else {
                format!(" ({})", skipped.join("; "))
            };
            return Err(format!("no usable signing key in the key set{detail}"));
        }
        Ok(Parsed {
            set: KeySet { keys },
            skipped,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key that verifies a token with this header. `UnknownKey` (and `NoKeyId` with no candidate) may succeed
    /// after a refresh; the other errors would not.
    pub(crate) fn select(&self, kid: Option<&str>, algorithm: Algorithm) -> Result<&DecodingKey, OidcError> {
        let Some(kid) = kid else {
            let candidates: Vec<&VerifyingKey> = self
                .keys
                .iter()
                .filter(|key| key.mismatch(algorithm).is_none())
                .collect();
            return match candidates.as_slice() {
                [only] => Ok(&only.decoding),
                _ => Err(OidcError::NoKeyId {
                    algorithm: format!("{algorithm:?}"),
                    candidates: candidates.len(),
                }),
            };
        };
        let mut named = self
            .keys
            .iter()
            .filter(|key| key.kid.as_deref() == Some(kid))
            .peekable();
        if named.peek().is_none() {
            return Err(OidcError::UnknownKey(kid.to_owned()));
        }
        let mut reasons = Vec::new();
        for key in named {
            match key.mismatch(algorithm) {
                None => return Ok(&key.decoding),
                Some(reason) => reasons.push(reason),
            }
        }
        Err(OidcError::KeyMismatch {
            kid: kid.to_owned(),
            algorithm: format!("{algorithm:?}"),
            reason: reasons.join(", "),
        })
    }
}

/// A published key made ready to verify, or why it cannot be used.
fn verifying_key(raw: RawJwk) -> Result<VerifyingKey, String> {
    if let Some(public_key_use) = &raw.public_key_use
        && public_key_use != "sig"
    {
        return Err(format!("published for {}, not for signatures", quote(public_key_use)));
    }
    let member = |name: &str, value: &Option<String>| value.clone().ok_or_else(|| format!("member {name} is missing"));
    let kty = member("kty", &raw.kty)?;
    let (key_type, decoding) = match (kty.as_str(), raw.crv.as_deref()) {
        ("RSA", _) => {
            let n = member("n", &raw.n)?;
            let modulus = URL_SAFE_NO_PAD
                .decode(&n)
                .map_err(|_| "member n is not base64url".to_owned())?;
            let bits = significant_bits(&modulus);
            if bits < MIN_RSA_BITS {
                return Err(format!("an RSA key of {bits} bits, under the {MIN_RSA_BITS} accepted"));
            }
            let decoding = DecodingKey::from_rsa_components(&n, &member("e", &raw.e)?)
                .map_err(|error| format!("not an RSA public key: {error}"))?;
            (KeyType::Rsa, decoding)
        }
        ("EC", Some(curve @ ("P-256" | "P-384"))) => {
            let (key_type, coordinate_bytes) = if curve == "P-256" {
                (KeyType::P256, 32)
            } else {
                (KeyType::P384, 48)
            };
            let (x, y) = (member("x", &raw.x)?, member("y", &raw.y)?);
            for (name, coordinate) in [("x", &x), ("y", &y)] {
                let decoded = URL_SAFE_NO_PAD
                    .decode(coordinate)
                    .map_err(|_| format!("member {name} is not base64url"))?;
                if decoded.len() != coordinate_bytes {
                    return Err(format!("member {name} is not a {curve} coordinate"));
                }
            }
            let decoding =
                DecodingKey::from_ec_components(&x, &y).map_err(|error| format!("not an EC public key: {error}"))?;
            (key_type, decoding)
        }
        ("OKP", Some("Ed25519")) => {
            let x = member("x", &raw.x)?;
            let decoded = URL_SAFE_NO_PAD
                .decode(&x)
                .map_err(|_| "member x is not base64url".to_owned())?;
            if decoded.len() != 32 {
                return Err("member x is not an Ed25519 public key".to_owned());
            }
            let decoding =
                DecodingKey::from_ed_components(&x).map_err(|error| format!("not an Ed25519 public key: {error}"))?;
            (KeyType::Ed25519, decoding)
        }
        ("oct", _) => return Err("a symmetric key (kty oct): only asymmetric keys verify tokens".to_owned()),
        (kty, curve) => {
            let curve = curve
                .map(|curve| format!(" on curve {}", quote(curve)))
                .unwrap_or_default();
            return Err(format!("unsupported key type {}{curve}", quote(kty)));
        }
    };
    if let Some(algorithm) = &raw.alg {
        let accepted = accepted_algorithm(algorithm).map_err(|error| format!("{error}"))?;
        if KeyType::for_algorithm(accepted) != Some(key_type) {
            return Err(format!("{} published for {}", key_type.describe(), quote(algorithm)));
        }
    }
    Ok(VerifyingKey {
        kid: raw.kid,
        key_type,
        algorithm: raw.alg,
        decoding,
    })
}

/// The bit length of a big-endian unsigned integer.
fn significant_bits(bytes: &[u8]) -> usize {
    match bytes.iter().position(|byte| *byte != 0) {
        None => 0,
        Some(first) => (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths_ignore_leading_zeros() {
        assert_eq!(significant_bits(&[]), 0);
        assert_eq!(significant_bits(&[0, 0]), 0);
        assert_eq!(significant_bits(&[0, 1]), 1);
        assert_eq!(significant_bits(&[0x80, 0]), 16);
        assert_eq!(significant_bits(&[0, 0x7f, 0xff]), 15);
    }

    #[test]
    fn unusable_keys_are_skipped_with_their_reason() {
        let document = br#"{"keys": [
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "enc", "use": "enc", "crv": "P-256", "x": "", "y": ""},
            {"kty": "EC", "kid": "k1", "crv": "P-521", "x": "", "y": ""}
        ]}"#;
        let error = KeySet::parse(document).expect_err("nothing usable");
        assert!(error.starts_with("no usable signing key in the key set"), "{error}");
        for reason in [
            "key \"shared\": a symmetric key (kty oct)",
            "key \"small\": an RSA key of 17 bits, under the 2048 accepted",
            "key \"enc\": published for \"enc\", not for signatures",
            "key \"k1\": unsupported key type \"EC\" on curve \"P-521\"",
        ] {
            assert!(error.contains(reason), "{reason} in {error}");
        }
        assert!(KeySet::parse(b"[]").is_err());
    }

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        for name in ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"] {
            assert!(accepted_algorithm(name).is_ok(), "{name}");
        }
        assert_eq!(accepted_algorithm("none"), Err(OidcError::Unsigned));
        assert_eq!(accepted_algorithm("NONE"), Err(OidcError::Unsigned));
        for name in ["HS256", "HS512", "PS256", "ES512", ""] {
            assert_eq!(
                accepted_algorithm(name),
                Err(OidcError::UnsupportedAlgorithm(name.to_owned()))
            );
        }
    }
}
