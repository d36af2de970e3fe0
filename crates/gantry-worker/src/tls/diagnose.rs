//! Finding out why an `https://` connection died when the HTTP/2 client could not say. A TLS 1.3 server refuses a
//! client's certificate after the client's side of the handshake is done; a call queued on that connection then fails
//! as "connection closed", the server's alert lost. A second connection with the same settings, which sends the
//! HTTP/2 preface itself and reads the server's answer, gets the alert.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::codegen::http::Uri;

use super::{ClientTls, tls_failure};

/// The longest the diagnosis takes: it runs after a failure, while the caller waits.
const DIAGNOSIS_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP/2 client preface and an empty SETTINGS frame: what the server answers (SETTINGS) or refuses (an alert).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// The TLS failure a fresh connection to `url` with `tls` meets, if any (see [`super::tls_failure`]); `None` for an
/// `http://` URL, a server that answers, or one that cannot be reached at all.
pub async fn diagnose_tls(url: &str, tls: &ClientTls) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    if uri.scheme_str() != Some("https") {
        return None;
    }
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let server_name = ServerName::try_from(host.clone()).ok()?;
    let config = client_config(tls).ok()?;
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut stream = connector.connect(server_name, tcp).await?;
        stream.write_all(H2_PREFACE).await?;
        stream.flush().await?;
        // The first byte of the server's SETTINGS, or the alert refusing us.
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).await?;
        Ok::<(), io::Error>(())
    };
    match tokio::time::timeout(DIAGNOSIS_TIMEOUT, attempt).await {
        Ok(Err(error)) => tls_failure(&error),
        _ => None,
    }
}

/// The rustls configuration `tls` describes, as tonic builds it: the CA file or the system's roots, the client
/// certificate, HTTP/2 by ALPN.
fn client_config(tls: &ClientTls) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match tls.ca_file() {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|error| error.to_string())?;
            for cert in CertificateDer::pem_slice_iter(&bytes) {
                roots
                    .add(cert.map_err(|error| error.to_string())?)
                    .map_err(|error| error.to_string())?;
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots);
    let mut config = match tls.identity() {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(Iterator::collect)
                .map_err(|error| error.to_string())?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|error| error.to_string())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| error.to_string())?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}
