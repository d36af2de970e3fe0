//! The TLS layer on its own: a tonic server over `incoming`, a health service behind an interceptor that records the
//! client certificates handlers see, and clients with and without certificates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::*;

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

struct Leaf {
    cert: String,
    key: String,
    der: Vec<u8>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    fn leaf(&self, name: &str) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

struct Served {
    address: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Option<Vec<u8>>>>>,
    _dir: tempfile::TempDir,
    _tls: ServerTls,
}

/// A health service over TLS, its interceptor recording the first certificate each request's client presented.
async fn serve(ca: &Ca, client_ca: Option<(&Ca, ClientAuth)>) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let server = ca.leaf("localhost");
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
        client_ca: client_ca.map(|_| dir.path().join("client-ca.pem")),
        client_auth: client_ca.map_or(ClientAuth::Required, |(_, auth)| auth),
    };
    std::fs::write(&files.cert, &server.cert).unwrap();
    std::fs::write(&files.key, &server.key).unwrap();
    if let (Some(path), Some((client_ca, _))) = (&files.client_ca, client_ca) {
        std::fs::write(path, &client_ca.pem).unwrap();
    }
    let tls = ServerTls::start(files, Duration::from_secs(3600)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let (_, health) = tonic_health::server::health_reporter();
    let router = tonic::transport::Server::builder()
        .layer(tonic::service::InterceptorLayer::new(
            move |request: tonic::Request<()>| {
                let first = request
                    .peer_certs()
                    .and_then(|certs| certs.first().map(|cert| cert.to_vec()));
                recorder.lock().unwrap().push(first);
                Ok(request)
            },
        ))
        .add_service(health);
    tokio::spawn(router.serve_with_incoming(incoming(listener, tls.config.clone())));
    Served {
        address,
        seen,
        _dir: dir,
        _tls: tls,
    }
}

async fn check(address: std::net::SocketAddr, ca: &Ca, identity: Option<&Leaf>) -> Result<(), tonic::Status> {
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca.pem));
    if let Some(leaf) = identity {
        config = config.identity(Identity::from_pem(&leaf.cert, &leaf.key));
    }
    let endpoint = Endpoint::from_shared(format!("https://localhost:{}", address.port()))
        .unwrap()
        .tls_config(config)
        .unwrap();
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| tonic::Status::from_error(Box::new(error)))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map(|_| ())
}

#[tokio::test]
async fn optional_client_auth_hands_handlers_the_certificate_a_client_presented() {
    let ca = Ca::new("server ca");
    let client_ca = Ca::new("client ca");
    let served = serve(&ca, Some((&client_ca, ClientAuth::Optional))).await;
    let client = client_ca.leaf("worker-7");

    check(served.address, &ca, None)
        .await
        .expect("a client without a certificate is accepted");
    check(served.address, &ca, Some(&client))
        .await
        .expect("a client with a certificate is accepted");
    let seen = served.seen.lock().unwrap().clone();
    assert_eq!(seen, vec![None, Some(client.der.clone())]);

    let stranger = Ca::new("another ca").leaf("intruder");
    assert!(
        check(served.address, &ca, Some(&stranger)).await.is_err(),
        "a certificate it does present must chain to the client CA"
    );
    assert_eq!(
        served.seen.lock().unwrap().len(),
        2,
        "the refused client reached no handler"
    );
}

#[tokio::test]
async fn required_client_auth_refuses_a_client_without_a_certificate() {
    let ca = Ca::new("server ca");
    let client_ca = Ca::new("client ca");
    let served = serve(&ca, Some((&client_ca, ClientAuth::Required))).await;
    assert!(check(served.address, &ca, None).await.is_err());
    check(served.address, &ca, Some(&client_ca.leaf("worker")))
        .await
        .expect("a client with a certificate of the client CA is accepted");
    assert_eq!(served.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn files_that_do_not_make_a_certificate_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("ca");
    let (one, two) = (ca.leaf("localhost"), ca.leaf("localhost"));
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
        client_ca: None,
        client_auth: ClientAuth::Required,
    };
    let start = |cert: &str, key: &str| {
        std::fs::write(&files.cert, cert).unwrap();
        std::fs::write(&files.key, key).unwrap();
        let files = files.clone();
        async move { ServerTls::start(files, Duration::from_secs(3600)).await.map(|_| ()) }
    };
    let error = start("garbage", &one.key).await.expect_err("no certificate");
    assert!(
        error.starts_with("--tls-cert ") && error.ends_with("no PEM certificate in the file"),
        "{error}"
    );
    let error = start(&one.cert, "garbage").await.expect_err("no key");
    assert!(error.starts_with("--tls-key "), "{error}");
    let error = start(&one.cert, &two.key)
        .await
        .expect_err("a key of another certificate");
    assert!(error.contains("with --tls-cert") && error.contains("key"), "{error}");
    start(&one.cert, &one.key).await.expect("a matching pair");
}
