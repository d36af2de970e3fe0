//! The TLS material read from the PEM files, and the two things that hand it to handshakes and swap on reload: the
//! certificate resolver and the client verifier.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::{ClientAuth, TlsFiles};

/// The files' bytes, as read: a reload compares them with the ones in use, so that a file replaced by a rename or a
/// symlink swap counts as changed whatever its modification time says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileBytes {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl FileBytes {
    pub(super) async fn read(files: &TlsFiles) -> Result<FileBytes, String> {
        let client_ca = match &files.client_ca {
            Some(path) => Some(read_file("--tls-client-ca", path).await?),
            None => None,
        };
        Ok(FileBytes {
            cert: read_file("--tls-cert", &files.cert).await?,
            key: read_file("--tls-key", &files.key).await?,
            client_ca,
        })
    }
}

async fn read_file(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    tokio::fs::read(path)
        .await
        .map_err(|error| format!("{flag} {}: {error}", path.display()))
}

/// A certificate with its key, and the client verifier when mutual TLS is on.
#[derive(Debug)]
pub(super) struct Material {
    pub(super) certified: Arc<CertifiedKey>,
    pub(super) client_verifier: Option<Arc<dyn ClientCertVerifier>>,
}

impl Material {
    /// Parses the files' bytes; an error names the file and what is wrong with it.
    pub(super) fn build(
        files: &TlsFiles,
        bytes: &FileBytes,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Material, String> {
        let cert_path = files.cert.display();
        let chain = CertificateDer::pem_slice_iter(&bytes.cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("--tls-cert {cert_path}: {error}"))?;
        if chain.is_empty() {
            return Err(format!("--tls-cert {cert_path}: no PEM certificate in the file"));
        }
        let key_path = files.key.display();
        let key = PrivateKeyDer::from_pem_slice(&bytes.key)
            .map_err(|error| format!("--tls-key {key_path}: no PEM private key (PKCS#8, PKCS#1 or SEC1): {error}"))?;
        let certified = CertifiedKey::from_der(chain, key, provider)
            .map_err(|error| format!("--tls-key {key_path} with --tls-cert {cert_path}: {error}"))?;
        let client_verifier = match (&files.client_ca, &bytes.client_ca) {
            (Some(path), Some(ca)) => Some(client_verifier(path, ca, files.client_auth, provider)?),
            _ => None,
        };
        Ok(Material {
            certified: Arc::new(certified),
            client_verifier,
        })
    }
}

fn client_verifier(
    path: &Path,
    ca: &[u8],
    auth: ClientAuth,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let flag = format!("--tls-client-ca {}", path.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca) {
        let cert = cert.map_err(|error| format!("{flag}: {error}"))?;
        roots.add(cert).map_err(|error| format!("{flag}: {error}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{flag}: no PEM certificate in the file"));
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    let builder = match auth {
        ClientAuth::Required => builder,
        ClientAuth::Optional => builder.allow_unauthenticated(),
    };
    builder.build().map_err(|error| format!("{flag}: {error}"))
}

/// Hands every handshake the certificate in use; a reload swaps it for the handshakes after.
#[derive(Debug)]
pub(super) struct CertResolver {
    current: ArcSwap<CertifiedKey>,
}

impl CertResolver {
    pub(super) fn new(certified: Arc<CertifiedKey>) -> Self {
        CertResolver {
            current: ArcSwap::new(certified),
        }
    }

    pub(super) fn swap(&self, certified: Arc<CertifiedKey>) {
        self.current.store(certified);
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// `ArcSwap` holds sized values: the verifier in use, boxed once more.
#[derive(Debug)]
struct Current(Arc<dyn ClientCertVerifier>);

/// Verifies client certificates with the verifier built from the client CA in use; a reload swaps it.
#[derive(Debug)]
pub(super) struct ClientVerifier {
    current: ArcSwap<Current>,
}

impl ClientVerifier {
    pub(super) fn new(inner: Arc<dyn ClientCertVerifier>) -> Self {
        ClientVerifier {
            current: ArcSwap::from_pointee(Current(inner)),
        }
    }

    pub(super) fn swap(&self, inner: Arc<dyn ClientCertVerifier>) {
        self.current.store(Arc::new(Current(inner)));
    }

    fn inner(&self) -> Arc<Current> {
        self.current.load_full()
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner().0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner().0.client_auth_mandatory()
    }

    /// No hints: they would borrow from a verifier a reload may drop. Hints are optional in TLS, and a client with
    /// one certificate (every gRPC client) sends it without them.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner().0.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner().0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner().0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner().0.supported_verify_schemes()
    }
}
