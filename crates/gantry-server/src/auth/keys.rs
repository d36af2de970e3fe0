//! API keys issued by Gantry: a token is `gantry_<key id>_<secret>`, the secret 256 bits from the operating system's
//! CSPRNG in hex; the store keeps only the secret's SHA-256, compared in constant time. The id is a UUIDv7 and the
//! key's principal name, so a token is looked up by id and nothing secret is ever logged.
//!
//! Verified keys are cached for a short TTL (`KEY_CACHE_TTL`), so a busy worker costs no read per request while a
//! revocation reaches every replica within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gantry_engine::{Engine, EngineError};
use gantry_store::ApiKeyRow;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::AuthError;
use crate::caller::{Caller, Grant, Role};

/// What every token of an API key starts with: the layer hands such tokens to [`KeyVerifier`], others elsewhere.
pub const KEY_PREFIX: &str = "gantry_";

/// How long a verified key is trusted without reading it again: the longest a revocation takes to reach a replica.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// The cache is cleared when it holds more keys than this (a flood of distinct valid keys cannot grow it forever).
const CACHE_LIMIT: usize = 10_000;

/// A new key: the row to store and the token to show once.
#[derive(Debug)]
pub struct IssuedKey {
    pub row: ApiKeyRow,
    pub token: String,
}

/// The parts of a new key.
#[derive(Debug)]
pub struct KeySpec {
    pub project: Option<String>,
    pub role: Role,
    pub description: String,
    pub expires_at: Option<i64>,
}

/// Issues a key: a fresh id and secret, the secret's hash in the row.
pub fn issue(spec: KeySpec, now: i64) -> Result<IssuedKey, AuthError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|error| AuthError::Internal(format!("no randomness: {error}")))?;
    let secret = hex::encode(secret);
    let id = Uuid::now_v7().to_string();
    let token = format!("{KEY_PREFIX}{id}_{secret}");
    let row = ApiKeyRow {
        id,
        secret_hash: hash(&secret).to_vec(),
        project: spec.project,
        role: role_name(spec.role).to_owned(),
        description: spec.description,
        created_at: now,
        expires_at: spec.expires_at,
        revoked_at: None,
    };
    Ok(IssuedKey { row, token })
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A role as stored and shown.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Operator => "operator",
        Role::Viewer => "viewer",
        Role::Worker => "worker",
    }
}

/// A role by its name.
pub fn parse_role(name: &str) -> Option<Role> {
    match name {
        "admin" => Some(Role::Admin),
        "operator" => Some(Role::Operator),
        "viewer" => Some(Role::Viewer),
        "worker" => Some(Role::Worker),
        _ => None,
    }
}

/// `(id, secret)` of a key's token; `None` when it is not one.
fn parse_token(token: &str) -> Option<(Uuid, &str)> {
    let rest = token.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id = Uuid::parse_str(id).ok()?;
    (secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit())).then_some((id, secret))
}

#[derive(Debug, Clone)]
struct Verified {
    secret_hash: Vec<u8>,
    caller: Caller,
    expires_at: Option<i64>,
    read_at: Instant,
}

/// Verifies key tokens against the store, with a short cache.
#[derive(Debug)]
pub struct KeyVerifier {
    engine: Engine,
    ttl: Duration,
    cache: Mutex<HashMap<Uuid, Verified>>,
    /// Ids no key has, when last looked up: a flood of made-up ids costs one read per id and `ttl`, not one per
    /// request. A key created meanwhile on another replica is refused here for at most `ttl`.
    unknown: Mutex<HashMap<Uuid, Instant>>,
}

impl KeyVerifier {
    pub fn new(engine: Engine, ttl: Duration) -> Self {
        KeyVerifier {
            engine,
            ttl,
            cache: Mutex::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
        }
    }

    /// The caller a key token stands for.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let (id, secret) = parse_token(token).ok_or(AuthError::Malformed)?;
        let presented = hash(secret);
        let now = gantry_engine::now_ms();
        let cached = self.cached(id);
        let verified = match cached {
            Some(verified) => verified,
            None if self.known_unknown(id) => return Err(AuthError::UnknownKey(id)),
            None => self.read(id).await?,
        };
        if !bool::from(verified.secret_hash.as_slice().ct_eq(&presented)) {
            return Err(AuthError::WrongSecret(id));
        }
        if verified.expires_at.is_some_and(|expires_at| expires_at <= now) {
            return Err(AuthError::Expired(id));
        }
        Ok(verified.caller)
    }

    /// Whether `id` was looked up and not found within `ttl`.
    fn known_unknown(&self, id: Uuid) -> bool {
        let unknown = self.unknown.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        unknown.get(&id).is_some_and(|at| at.elapsed() < self.ttl)
    }

    fn cached(&self, id: Uuid) -> Option<Verified> {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(&id)
            .filter(|verified| verified.read_at.elapsed() < self.ttl)
            .cloned()
    }

    async fn read(&self, id: Uuid) -> Result<Verified, AuthError> {
        let row = self
            .engine
            .api_key(&id.to_string())
            .await
            .map_err(|error| match error {
                EngineError::Unavailable(message) => AuthError::Unavailable(message),
                other => AuthError::Internal(other.to_string()),
            })?;
        let Some(row) = row else {
            let mut unknown = self.unknown.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if unknown.len() >= CACHE_LIMIT {
                unknown.clear();
            }
            unknown.insert(id, Instant::now());
            return Err(AuthError::UnknownKey(id));
        };
        if row.revoked_at.is_some() {
            return Err(AuthError::Revoked(id));
        }
        let role = parse_role(&row.role).ok_or_else(|| AuthError::Internal(format!("key {id}: unknown role")))?;
        let verified = Verified {
            secret_hash: row.secret_hash,
            caller: Caller {
                principal: row.id,
                grants: vec![Grant {
                    project: row.project,
                    role,
                }],
            },
            expires_at: row.expires_at,
            read_at: Instant::now(),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(id, verified.clone());
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_only_in_their_own_shape() {
        let issued = issue(
            KeySpec {
                project: Some("p".to_owned()),
                role: Role::Worker,
                description: String::new(),
                expires_at: None,
            },
            0,
        )
        .expect("issued");
        let (id, secret) = parse_token(&issued.token).expect("parses");
        assert_eq!(id.to_string(), issued.row.id);
        assert_eq!(secret.len(), 64, "256 bits in hex");
        assert_eq!(issued.row.secret_hash, hash(secret).to_vec());
        assert!(!issued.token.contains(&hex::encode(&issued.row.secret_hash)));
        assert!(parse_token("gantry_nope_00").is_none());
        assert!(parse_token(&issued.token.replace("gantry_", "other_")).is_none());
        assert!(parse_token(&issued.token[..issued.token.len() - 1]).is_none());
    }
}
