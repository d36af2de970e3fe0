//! Connections to the server: `https://` endpoints speak TLS, verifying the server against the system's roots or a CA
//! file and presenting a client certificate for mutual TLS when given one; `http://` endpoints stay plaintext. Neither
//! falls back to the other: a TLS failure is an error that says so ([`tls_failure`]).

use std::error::Error as StdError;
use std::io;
use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

mod diagnose;

pub use diagnose::diagnose_tls;

/// How a client reaches a server over `https://`: whom it trusts (the system's roots unless given a CA file) and the
/// certificate it presents, for mutual TLS. `http://` endpoints stay plaintext whatever it says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    ca_file: Option<PathBuf>,
    identity: Option<(PathBuf, PathBuf)>,
}

impl ClientTls {
    /// The system's roots, no client certificate.
    pub fn new() -> Self {
        ClientTls::default()
    }

    /// Trusts the CA certificates in this PEM file instead of the system's roots.
    #[must_use]
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Presents this PEM certificate chain and private key to servers that ask for one (mutual TLS).
    #[must_use]
    pub fn with_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.identity = Some((cert.into(), key.into()));
        self
    }

    /// The CA file trusted instead of the system's roots, if any.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The client certificate and key files, if any.
    pub fn identity(&self) -> Option<(&Path, &Path)> {
        self.identity
            .as_ref()
            .map(|(cert, key)| (cert.as_path(), key.as_path()))
    }
}

/// Why a connection's settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Not a URL.
    #[error("{endpoint:?} is not a valid endpoint (http://host:port or https://host:port): {reason}")]
    InvalidEndpoint {
        /// What was given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS file could not be read or holds nothing usable.
    #[error("{what} {}: {reason}", path.display())]
    File {
        /// Which file: `CA file`, `client certificate` or `client key`.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The TLS settings were refused (the system has no roots, the key does not fit the certificate, ...).
    #[error("TLS settings for {endpoint}: {source}")]
    Tls {
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: tonic::transport::Error,
    },
}

/// The endpoint for `url`: TLS as `tls` says for `https://`, plaintext for `http://`.
pub fn endpoint(url: &str, tls: &ClientTls) -> Result<Endpoint, ConnectError> {
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|error| ConnectError::InvalidEndpoint {
        endpoint: url.to_owned(),
        reason: error.to_string(),
    })?;
    if endpoint.uri().scheme_str() != Some("https") {
        return Ok(endpoint);
    }
    let mut config = ClientTlsConfig::new();
    config = match &tls.ca_file {
        Some(path) => config.ca_certificate(Certificate::from_pem(read_certificates("CA file", path)?)),
        None => config.with_native_roots(),
    };
    if let Some((cert, key)) = &tls.identity {
        let cert_pem = read_certificates("client certificate", cert)?;
        let key_pem = read_file("client key", key)?;
        config = config.identity(Identity::from_pem(cert_pem, key_pem));
    }
    endpoint.tls_config(config).map_err(|source| ConnectError::Tls {
        endpoint: url.to_owned(),
        source,
    })
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, ConnectError> {
    std::fs::read(path).map_err(|error| ConnectError::File {
        what,
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

/// A PEM file's bytes, once checked to hold certificates (tonic would skip what does not parse, and trust nothing).
fn read_certificates(what: &'static str, path: &Path) -> Result<Vec<u8>, ConnectError> {
    let bytes = read_file(what, path)?;
    let refused = |reason: String| ConnectError::File {
        what,
        path: path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| refused(error.to_string()))?;
    if certificates.is_empty() {
        return Err(refused("no PEM certificate in the file".to_owned()));
    }
    Ok(bytes)
}

/// Why `error` (a failed connection or call, with its sources) failed at TLS, if it did: the server's certificate
/// refused, a server that does not speak TLS there, or the server refusing this client's certificate. Retrying does
/// not fix these, and a client must never go on without TLS: callers report them and stop.
pub fn tls_failure(error: &(dyn StdError + 'static)) -> Option<String> {
    if let Some(tls) = rustls_error(error) {
        let hint = match tls {
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                " (the server does not speak TLS there: a plaintext server is reached with http://)"
            }
            rustls::Error::AlertReceived(alert) => alert_hint(&format!("{alert:?}")),
            _ => "",
        };
        return Some(format!("{tls}{hint}"));
    }
    // An alert after the handshake (TLS 1.3 servers refuse a client's certificate then) comes through HTTP/2, which
    // keeps only the text of the I/O error: rustls' own words for an alert.
    let text = io_error_text(error)?;
    let alert = text.strip_prefix(ALERT_PREFIX)?;
    Some(format!("{text}{}", alert_hint(alert)))
}

/// Why a failed call to `endpoint` failed at TLS, if it did: [`tls_failure`] on `status`, or, when the HTTP/2 client
/// lost the cause (a transport failure of an `https://` call), what a fresh connection meets ([`diagnose_tls`]).
pub async fn tls_refusal(endpoint: &str, tls: &ClientTls, status: &tonic::Status) -> Option<String> {
    if let Some(cause) = tls_failure(status) {
        return Some(cause);
    }
    // A status the server sent has no source; one the client made of a transport failure has, as has a call the
    // client's deadline ended (a connection refused after its handshake can leave a call unanswered).
    let transport = StdError::source(status).is_some()
        && matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::Unknown | tonic::Code::DeadlineExceeded
        );
    if !transport || !endpoint.starts_with("https://") {
        return None;
    }
    diagnose_tls(endpoint, tls).await
}

/// How rustls words a fatal alert from the peer.
const ALERT_PREFIX: &str = "received fatal alert: ";

/// What an alert from the server (named as rustls names it) means for a client.
fn alert_hint(alert: &str) -> &'static str {
    match alert {
        "CertificateRequired" | "HandshakeFailure" => " (the server requires a client certificate)",
        "UnknownCA" | "BadCertificate" | "CertificateUnknown" | "UnsupportedCertificate" | "AccessDenied" => {
            " (the server refused the client certificate)"
        }
        _ => "",
    }
}

/// The rustls error somewhere in `error`'s sources. tokio-rustls hands it over inside an `io::Error`, whose
/// `source()` skips the error it wraps: those are opened with `get_ref`.
fn rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = error.downcast_ref::<io::Error>().and_then(io::Error::get_ref)
            && let Some(tls) = rustls_error(inner)
        {
            return Some(tls);
        }
        next = error.source();
    }
    None
}

/// The text of the first `InvalidData` I/O error in `error`'s sources (how rustls' errors reach us through HTTP/2).
fn io_error_text(error: &(dyn StdError + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(io) = error.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::InvalidData
        {
            return io.get_ref().map(ToString::to_string);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use rustls::AlertDescription;

    use super::*;

    #[test]
    fn http_stays_plaintext_and_https_needs_readable_files() {
        let tls = ClientTls::new().with_ca_file("/nonexistent/ca.pem");
        assert!(
            endpoint("http://127.0.0.1:1", &tls).is_ok(),
            "http ignores the TLS settings"
        );
        let error = endpoint("https://127.0.0.1:1", &tls).expect_err("an unreadable CA file");
        assert!(
            error.to_string().starts_with("CA file /nonexistent/ca.pem: "),
            "{error}"
        );
        assert!(matches!(
            endpoint("not a url", &ClientTls::new()),
            Err(ConnectError::InvalidEndpoint { .. })
        ));
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("gantry-tls-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("ca.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let error = endpoint("https://127.0.0.1:1", &ClientTls::new().with_ca_file(&path)).expect_err("refused");
        assert!(error.to_string().ends_with("no PEM certificate in the file"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn tls_failures_are_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = io::Error::new(io::ErrorKind::InvalidData, tls);
        let status = tonic::Status::from_error(Box::new(wrapped));
        assert_eq!(
            tls_failure(&status).as_deref(),
            Some("invalid peer certificate: UnknownIssuer")
        );
        let plain = io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
        assert_eq!(tls_failure(&plain), None);
        // What HTTP/2 makes of an alert after the handshake: the words alone.
        let alert = rustls::Error::AlertReceived(AlertDescription::CertificateRequired).to_string();
        let status = tonic::Status::from_error(Box::new(io::Error::new(io::ErrorKind::InvalidData, alert)));
        assert_eq!(
            tls_failure(&status).as_deref(),
            Some("received fatal alert: CertificateRequired (the server requires a client certificate)")
        );
    }
}
