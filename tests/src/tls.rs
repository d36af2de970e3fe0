//! TLS for the tests: a CA and certificates generated in the test (rcgen), written to a temporary directory as a
//! server and its clients would read them, and a look at the certificate a server presents to a new connection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_server::{ClientAuth, ServerConfig};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use rustls::pki_types::{CertificateDer, ServerName};

/// A certificate authority made for one test.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, PEM.
    pub pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

/// A certificate and its key.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    /// The certificate, DER: what a TLS peer presents.
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let pem = params.self_signed(&key).expect("a CA certificate").pem();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1`, with serial number `serial`.
    pub fn server_cert(&self, serial: u64) -> Leaf {
        self.server_cert_for(&["localhost", "127.0.0.1"], serial)
    }

    /// A server certificate for `names` (host names or IP addresses), with serial number `serial`.
    pub fn server_cert_for(&self, names: &[&str], serial: u64) -> Leaf {
        self.leaf(names[0], names, serial, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate for mutual TLS, named `name`.
    pub fn client_cert(&self, name: &str) -> Leaf {
        self.leaf(name, &[name], 1, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(&self, name: &str, names: &[&str], serial: u64, usage: ExtendedKeyUsagePurpose) -> Leaf {
        let key = KeyPair::generate().expect("a key");
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("certificate parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer).expect("a certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// A server's TLS files and its clients': `ca.pem` (the server CA), `server.pem` and `server.key` (serial 1), and for
/// mutual TLS `client-ca.pem` with `client.pem` and `client.key` signed by it.
#[derive(Debug)]
pub struct TlsFiles {
    dir: tempfile::TempDir,
    pub ca: Ca,
    pub server: Leaf,
    pub client_ca: Ca,
    pub client: Leaf,
}

impl TlsFiles {
    pub fn new() -> TlsFiles {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // Names of their own: another test's CA is another CA (a namesake would fail as a bad signature instead).
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let ca = Ca::new(&format!("gantry test CA {unique}"));
        let server = ca.server_cert(1);
        let client_ca = Ca::new(&format!("gantry test client CA {unique}"));
        let client = client_ca.client_cert("test-worker");
        let files = TlsFiles {
            dir,
            ca,
            server,
            client_ca,
            client,
        };
        files.write("ca.pem", &files.ca.pem);
        files.write("server.pem", &files.server.cert_pem);
        files.write("server.key", &files.server.key_pem);
        files.write("client-ca.pem", &files.client_ca.pem);
        files.write("client.pem", &files.client.cert_pem);
        files.write("client.key", &files.client.key_pem);
        files
    }

    /// A file of the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `name` whole: a new file renamed over the old one, as a secret's update does, so that a reader sees the
    /// old bytes or the new ones.
    pub fn write(&self, name: &str, contents: &str) {
        let staged = self.path(&format!(".{name}.new"));
        std::fs::write(&staged, contents).expect("write a TLS file");
        std::fs::rename(&staged, self.path(name)).expect("rename a TLS file");
    }

    /// Replaces the server's certificate and key (the key first, so that the files never hold a new certificate with
    /// the old key).
    pub fn replace_server_cert(&self, leaf: &Leaf) {
        self.write("server.key", &leaf.key_pem);
        self.write("server.pem", &leaf.cert_pem);
    }

    /// Serve TLS from these files; with `client_auth`, mutual TLS against the client CA.
    pub fn configure(&self, config: &mut ServerConfig, client_auth: Option<ClientAuth>) {
        config.tls_cert = Some(self.path("server.pem"));
        config.tls_key = Some(self.path("server.key"));
        if let Some(auth) = client_auth {
            config.tls_client_ca = Some(self.path("client-ca.pem"));
            config.tls_client_auth = Some(auth);
        }
    }

    /// The directory, for tests that put more files in it.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for TlsFiles {
    fn default() -> Self {
        TlsFiles::new()
    }
}

/// The certificate (DER) a server at `address` presents to a new connection for `localhost`, verified against
/// `ca_pem`.
pub async fn presented_certificate(address: SocketAddr, ca_pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("a CA certificate")).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.expect("connect");
    let server_name = ServerName::try_from("localhost").expect("a server name");
    let tls = connector.connect(server_name, tcp).await.expect("a TLS handshake");
    let (_, session) = tls.get_ref();
    session
        .peer_certificates()
        .and_then(|certs| certs.first())
        .expect("the server presented a certificate")
        .to_vec()
}
