//! What the server logs about authentication, at every level of every crate: a server without authentication says
//! so with a warning, and no token or key secret ever appears, whether the key is accepted, wrong or revoked. Its
//! own test binary: the log capture is the process's one subscriber. Nor does an input value, accepted or refused.

use std::io::Write;
use std::sync::{Arc, Mutex};

use gantry_core::model::{Literal, LiteralMap, LiteralType};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_proto::v1::project_service_client::ProjectServiceClient;
use gantry_tests::auth::{AuthServer, bearer};
use gantry_tests::raw_worker::{self, template};
use gantry_tests::{Backend, TestServer};

/// An input value no log line may hold.
const INPUT_SECRET: &str = "input-secret-7f3a9c";

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
    // An input value, accepted and refused (the refusal's message quotes it to the client, and only to it).
    server.project("demo").await;
    let admin = Some(server.admin_token.as_str());
    let mut client = AdminServiceClient::new(server.channel().await);
    let secret_task = template(
        "secret_task",
        &[("password", LiteralType::String)],
        &[("out", LiteralType::Integer)],
    );
    let colour_task = template(
        "colour_task",
        &[("colour", LiteralType::Enum(vec!["red".into(), "blue".into()]))],
        &[("out", LiteralType::Integer)],
    );
    for task in [secret_task, colour_task] {
        let request = pb::RegisterTaskRequest {
            task: Some(task.into()),
        };
        client.register_task(bearer(request, admin)).await.expect("register");
    }
    let run = |task: &str, input: &str| pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(raw_worker::id(task).into())),
        inputs: Some(LiteralMap::from([(input.to_owned(), Literal::String(INPUT_SECRET.to_owned()))]).into()),
        ..Default::default()
    };
    client
        .create_execution(bearer(run("secret_task", "password"), admin))
        .await
        .expect("an execution with a secret input");
    let refused = client
        .create_execution(bearer(run("colour_task", "colour"), admin))
        .await
        .expect_err("not one of the enum's values");
    assert!(
        refused.message().contains(INPUT_SECRET),
        "the client is told what it sent"
    );
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
    assert!(!logged.contains(INPUT_SECRET), "an input value appears in the log");
    assert!(logged.lines().count() > 100, "the capture saw the trace-level logs too");
}
