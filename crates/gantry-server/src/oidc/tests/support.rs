//! What the OIDC tests share: signing keys generated here (RSA and EC), tokens signed with them, a clock moved by
//! hand, and a JWKS server on port 0 that counts its fetches.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey as _;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

use super::super::cache::Clock;
use super::super::{ClaimMapping, DEFAULT_GRANT_RULES, JwksSource, OidcConfig, OidcVerifier};

pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "gantry";
pub const REFRESH: Duration = Duration::from_secs(900);
pub const MIN_REFRESH: Duration = Duration::from_secs(30);

/// A signing key and its public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The public key's bytes as an attacker would find them (for RSA, the modulus): what an HS256 forgery uses.
    pub public_bytes: Vec<u8>,
}

fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A generated RSA key: its PKCS#1 DER, modulus and exponent.
struct RsaMaterial {
    der: Vec<u8>,
    n: Vec<u8>,
    e: Vec<u8>,
}

/// Two 2048-bit RSA keys, generated once per test run (generation is the slow part of these tests).
fn rsa_keys() -> &'static [RsaMaterial; 2] {
    static KEYS: OnceLock<[RsaMaterial; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [0, 1].map(|_| {
            let key = rsa::PrivateKey::new(&mut rsa::rand_core::UnwrapErr(getrandom::SysRng), 2048).expect("RSA key");
            RsaMaterial {
                der: key.to_pkcs1_der().expect("PKCS#1").as_bytes().to_vec(),
                n: key.n_bytes().to_vec(),
                e: key.e_bytes().to_vec(),
            }
        })
    })
}

/// An RSA key (`index` 0 or 1 of the generated two) published as `kid`, for RS256.
pub fn rsa_key(kid: &str, index: usize) -> TestKey {
    let RsaMaterial { der, n, e } = &rsa_keys()[index];
    TestKey {
        kid: kid.to_owned(),
        algorithm: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_der(der),
        jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": base64url(n), "e": base64url(e)}),
        public_bytes: n.clone(),
    }
}

/// A fresh P-256 key published as `kid`, for ES256.
pub fn ec_key(kid: &str) -> TestKey {
    let secret = <p256::SecretKey as p256::elliptic_curve::Generate>::generate();
    let der = secret.to_pkcs8_der().expect("PKCS#8").as_bytes().to_vec();
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&secret.public_key(), false);
    let (x, y) = (point.x().expect("x"), point.y().expect("y"));
    TestKey {
        kid: kid.to_owned(),
        algorithm: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(&der),
        jwk: json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": base64url(x), "y": base64url(y)}),
        public_bytes: point.as_bytes().to_vec(),
    }
}

pub fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|key| key.jwk.clone()).collect::<Vec<_>>()}).to_string()
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Claims that pass: this issuer and audience, valid for ten minutes, an operator of `ml`.
pub fn claims() -> Value {
    let now = now();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "248289761001",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 600,
        "groups": ["gantry:ml:operator", "everyone"],
    })
}

/// A token signed by `key` with its algorithm and kid.
pub fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("signing")
}

/// A token put together by hand: any header, any signature.
pub fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes()),
        base64url(signature)
    )
}

/// A clock the tests move.
#[derive(Debug)]
pub struct ManualClock(Mutex<Instant>);

impl ManualClock {
    pub fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(Instant::now())))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().expect("clock")
    }
}

pub fn config(jwks: JwksSource) -> OidcConfig {
    OidcConfig {
        issuer: ISSUER.to_owned(),
        audiences: vec![AUDIENCE.to_owned()],
        jwks,
        jwks_refresh: REFRESH,
        jwks_min_refresh: MIN_REFRESH,
        clock_skew: Duration::from_secs(60),
        mapping: ClaimMapping {
            principal_claim: "sub".to_owned(),
            roles_claim: "groups".to_owned(),
            rules: DEFAULT_GRANT_RULES
                .iter()
                .map(|rule| rule.parse().expect("default rule"))
                .collect(),
        },
    }
}

/// A verifier over a JWKS file holding `keys`, with a clock of its own.
pub struct FileVerifier {
    pub verifier: OidcVerifier,
    pub clock: Arc<ManualClock>,
    pub path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl FileVerifier {
    pub fn new(keys: &[&TestKey]) -> FileVerifier {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, jwks(keys)).expect("writing the key set");
        let clock = ManualClock::new();
        let verifier =
            OidcVerifier::with_clock(config(JwksSource::File(path.clone())), clock.clone()).expect("verifier");
        FileVerifier {
            verifier,
            clock,
            path,
            _dir: dir,
        }
    }

    /// Replaces the file whole, as a secret's rotation does.
    pub fn publish(&self, keys: &[&TestKey]) {
        let staged = self.path.with_extension("new");
        std::fs::write(&staged, jwks(keys)).expect("writing the key set");
        std::fs::rename(&staged, &self.path).expect("replacing the key set");
    }
}

/// A JWKS endpoint on 127.0.0.1, port 0: serves what it was last given (an HTTP status and a body) and counts the
/// requests it answered.
pub struct JwksServer {
    pub address: SocketAddr,
    document: Arc<Mutex<(u16, String)>>,
    fetches: Arc<AtomicUsize>,
    serving: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(document: String) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let document = Arc::new(Mutex::new((200, document)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (document.clone(), fetches.clone());
        let serving = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (served, counted) = (served.clone(), counted.clone());
                let service = service_fn(move |_request| {
                    let (status, body) = served.lock().expect("document").clone();
                    counted.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let response = hyper::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body)))
                            .expect("response");
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        JwksServer {
            address,
            document,
            fetches,
            serving,
        }
    }

    pub fn url(&self) -> JwksSource {
        JwksSource::Url(format!("http://{}/keys", self.address).parse().expect("url"))
    }

    pub fn publish(&self, status: u16, document: String) {
        *self.document.lock().expect("document") = (status, document);
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.serving.abort();
    }
}
