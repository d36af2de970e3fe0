//! What the server logs about authentication, at every level of every crate: a server without authentication says
//! so with a warning, and no token or key secret ever appears, whether the key is accepted, wrong or revoked. Its
//! own test binary: the log capture is the process's one subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use gantry_proto::v1 as pb;
use gantry_proto::v1::project_service_client::ProjectServiceClient;
use gantry_tests::auth::{AuthServer, bearer};
use gantry_tests::{Backend, TestServer};

/// Every line logged, at TRACE and above, by every crate.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_developer_mode_warns_and_no_secret_is_ever_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let developer = TestServer::start(Backend::Sqlite).await;
    let logged = captured.text();
    assert!(
        logged
            .lines()
            .any(|line| line.contains("WARN") && line.contains("authentication is off")),
        "a server without authentication warns"
    );
    developer.stop().await;

    let server = AuthServer::start(Backend::Sqlite).await;
    server.project("alpha").await;
    let (id, token) = server.key(Some("alpha"), pb::Role::Viewer, None).await;
    let (revoked_id, revoked) = server.key(Some("alpha"), pb::Role::Viewer, None).await;
    server.revoke(&revoked_id).await;
    let wrong = format!("{}{}", &token[..token.len() - 64], "f".repeat(64));
    let mut projects = ProjectServiceClient::new(server.channel().await);
    for presented in [&token, &revoked, &wrong, &server.admin_token] {
        let _ = projects
            .list_projects(bearer(pb::ListProjectsRequest {}, Some(presented)))
            .await;
    }
    server.server.stop().await;

    let logged = captured.text();
    assert!(
        logged.contains(&id) || logged.contains(&revoked_id),
        "the key ids (not secret) may be logged"
    );
    for (what, token) in [
        ("a valid key", &token),
        ("a revoked key", &revoked),
        ("a wrong secret", &wrong),
    ] {
        let secret = token.rsplit('_').next().expect("secret");
        assert!(!logged.contains(secret), "{what}'s secret appears in the log");
    }
    let admin_secret = server.admin_token.rsplit('_').next().expect("secret");
    assert!(
        !logged.contains(admin_secret),
        "the admin key's secret appears in the log"
    );
    assert!(logged.lines().count() > 100, "the capture saw the trace-level logs too");
}
