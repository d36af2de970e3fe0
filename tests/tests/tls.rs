//! TLS end to end: the real server on port 0 serving TLS from certificates generated in the test, the Rust SDK's
//! worker and admin clients over it. The seed with mutual TLS; clients refused (plaintext, another CA, no client
//! certificate) with the cause named; certificates reloaded without a restart, on SIGHUP and when the files change,
//! while a bad file keeps the old one; and `https://` to a plaintext server failing instead of falling back.
//! The CLI's side is in `crates/gantry/tests/tls.rs` (it runs the built binary); the Python SDK's in
//! `sdk/python/tests/test_tls.py`.

use std::time::Duration;

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_server::{ClientAuth, TlsReloads};
use gantry_tests::sdk::RunningWorker;
use gantry_tests::tls::{TlsFiles, presented_certificate};
use gantry_tests::{Backend, TestServer, client, wait_for_terminal};
use gantry_worker::{ClientTls, Worker, WorkerError};
use tokio::sync::watch;
use tonic::transport::Channel;

/// The longest a test waits for an event before failing (a bound, not a pause: the events come much sooner).
const EVENT_WAIT: Duration = Duration::from_secs(30);

async fn tls_server(files: &TlsFiles, client_auth: Option<ClientAuth>, reload_every: Duration) -> TestServer {
    TestServer::start_with(Backend::Sqlite, |config| {
        files.configure(config, client_auth);
        config.tls_reload_interval = reload_every;
    })
    .await
}

/// The system's roots would not know the test CA: trust it alone, and present the test client's certificate when
/// `with_client_cert`.
fn client_tls(files: &TlsFiles, with_client_cert: bool) -> ClientTls {
    let tls = ClientTls::new().with_ca_file(files.path("ca.pem"));
    match with_client_cert {
        true => tls.with_identity(files.path("client.pem"), files.path("client.key")),
        false => tls,
    }
}

async fn admin(endpoint: &str, tls: &ClientTls) -> Result<AdminServiceClient<Channel>, tonic::transport::Error> {
    let channel = gantry_worker::endpoint(endpoint, tls)
        .expect("endpoint")
        .connect()
        .await?;
    Ok(AdminServiceClient::new(channel))
}

/// A worker of the seed's tasks at `endpoint`.
fn seed_worker(endpoint: &str, tls: ClientTls) -> Worker {
    gantry_examples::seed_worker(endpoint)
        .tls(tls)
        .concurrency(4)
        .build()
        .expect("the worker builds")
}

/// The TLS failure a worker stopped with, when it did.
fn tls_cause(result: Result<impl std::fmt::Debug, WorkerError>) -> String {
    match result {
        Err(WorkerError::Tls { cause, .. }) => cause,
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

/// Waits until the server's reload counters satisfy `done`.
async fn reloads_until(reloads: &mut watch::Receiver<TlsReloads>, done: impl Fn(&TlsReloads) -> bool) -> TlsReloads {
    let waited = tokio::time::timeout(EVENT_WAIT, reloads.wait_for(|status| done(status)))
        .await
        .expect("the reload happened in time")
        .expect("the reloader runs");
    waited.clone()
}

fn list_tasks() -> pb::ListTasksRequest {
    pb::ListTasksRequest {
        project: gantry_examples::PROJECT.into(),
        domain: gantry_examples::DOMAIN.into(),
        ..Default::default()
    }
}

async fn generate_others(admin: &mut AdminServiceClient<Channel>, tasks_count: i64) -> pb::Execution {
    let inputs = LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(tasks_count))]);
    let request = pb::CreateExecutionRequest {
        project: gantry_examples::PROJECT.into(),
        domain: gantry_examples::DOMAIN.into(),
        target: Some(client::task_target(gantry_core::model::Identifier::new(
            gantry_examples::PROJECT,
            gantry_examples::DOMAIN,
            "generate_others",
            gantry_examples::VERSION,
        ))),
        inputs: Some(inputs.into()),
        ..Default::default()
    };
    let execution = client::submit(admin, request).await;
    wait_for_terminal(admin, &execution.id).await
}

#[tokio::test]
async fn the_seed_runs_over_mutual_tls() {
    let files = TlsFiles::new();
    let server = tls_server(&files, Some(ClientAuth::Required), Duration::from_secs(3600)).await;
    let tls = client_tls(&files, true);
    let worker = seed_worker(&server.endpoint, tls.clone());
    worker
        .register_tasks()
        .await
        .expect("the tasks register over mutual TLS");
    let worker = RunningWorker::spawn(worker);
    let mut admin = admin(&server.endpoint, &tls).await.expect("the admin client connects");

    let execution = generate_others(&mut admin, 5).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    let outputs = client::outputs(&mut admin, &execution.id).await;
    let expected = Literal::Collection((0..5).map(|i| Literal::Integer(i * 2)).collect());
    assert_eq!(outputs.get("out"), Some(&expected));

    worker.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn clients_the_server_cannot_trust_or_that_cannot_trust_it_are_refused() {
    let files = TlsFiles::new();
    let server = tls_server(&files, None, Duration::from_secs(3600)).await;
    let port = server.server.local_addr().port();

    // Plaintext against TLS: the server's handshake refuses the HTTP/2 preface, and nothing is answered.
    let plaintext = admin(&format!("http://127.0.0.1:{port}"), &ClientTls::new()).await;
    if let Ok(mut admin) = plaintext {
        let refused = admin
            .list_tasks(list_tasks())
            .await
            .expect_err("a plaintext call to a TLS server fails");
        assert!(
            matches!(
                refused.code(),
                tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
            ),
            "not a server's answer: {refused:?}"
        );
    }

    // A client that trusts another CA refuses the server's certificate, and says why.
    let other = TlsFiles::new();
    let worker = seed_worker(&server.endpoint, ClientTls::new().with_ca_file(other.path("ca.pem")));
    let cause = tls_cause(worker.register_tasks().await);
    assert!(
        cause.contains("invalid peer certificate") && cause.contains("UnknownIssuer"),
        "{cause}"
    );
    let run = tokio::time::timeout(EVENT_WAIT, worker.run(std::future::pending::<()>()))
        .await
        .expect("a worker that cannot trust the server stops at once");
    let message = run.expect_err("the worker stops with an error").to_string();
    assert!(
        message.starts_with(&format!("TLS with {} failed: ", server.endpoint)),
        "{message}"
    );

    // The same client trusting the right CA gets in.
    let worker = seed_worker(&server.endpoint, client_tls(&files, false));
    assert!(worker.register_tasks().await.is_ok());
    server.stop().await;
}

#[tokio::test]
async fn mutual_tls_refuses_a_worker_without_a_certificate_of_the_client_ca() {
    let files = TlsFiles::new();
    let server = tls_server(&files, Some(ClientAuth::Required), Duration::from_secs(3600)).await;

    let without = seed_worker(&server.endpoint, client_tls(&files, false));
    let cause = tls_cause(without.register_tasks().await);
    assert!(cause.contains("requires a client certificate"), "{cause}");
    let run = tokio::time::timeout(EVENT_WAIT, without.run(std::future::pending::<()>()))
        .await
        .expect("the refused worker stops at once");
    assert!(matches!(run, Err(WorkerError::Tls { .. })), "{run:?}");

    // A certificate of a CA the server does not trust for clients.
    let stranger = TlsFiles::new();
    let tls = ClientTls::new()
        .with_ca_file(files.path("ca.pem"))
        .with_identity(stranger.path("client.pem"), stranger.path("client.key"));
    let cause = tls_cause(seed_worker(&server.endpoint, tls).register_tasks().await);
    assert!(cause.contains("refused the client certificate"), "{cause}");

    let with = seed_worker(&server.endpoint, client_tls(&files, true));
    assert_eq!(
        with.register_tasks().await.expect("registered"),
        gantry_examples_task_count()
    );
    server.stop().await;
}

fn gantry_examples_task_count() -> usize {
    gantry_examples::seed_worker("http://127.0.0.1:1")
        .build()
        .expect("builds")
        .tasks()
        .len()
}

#[tokio::test]
async fn a_sighup_reloads_the_certificate_for_new_connections_without_a_restart() {
    let files = TlsFiles::new();
    // No timer within the test: only the signal can make it reload.
    let server = tls_server(&files, None, Duration::from_secs(3600)).await;
    let address = server.server.local_addr();
    let mut reloads = server.server.tls_reloads().expect("the server serves TLS");
    assert_eq!(presented_certificate(address, &files.ca.pem).await, files.server.der);
    let tls = client_tls(&files, false);
    let mut open = admin(&server.endpoint, &tls).await.expect("connects");
    open.list_tasks(list_tasks()).await.expect("answers");

    let renewed = files.ca.server_cert(2);
    files.replace_server_cert(&renewed);
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let seen = reloads_until(&mut reloads, |status| status.loaded >= 1).await;
    assert_eq!((seen.loaded, seen.failed), (1, 0));

    assert_eq!(
        presented_certificate(address, &files.ca.pem).await,
        renewed.der,
        "a new connection gets the new certificate (serial 2)"
    );
    assert_ne!(renewed.der, files.server.der);
    open.list_tasks(list_tasks())
        .await
        .expect("the connection opened before the reload still answers");
    let mut fresh = admin(&server.endpoint, &tls).await.expect("a new client connects");
    fresh.list_tasks(list_tasks()).await.expect("answers");
    assert_eq!(server.server.local_addr(), address, "the same server, never restarted");
    server.stop().await;
}

#[tokio::test]
async fn changed_files_are_reloaded_and_a_bad_one_keeps_the_certificate_in_use() {
    let files = TlsFiles::new();
    let server = tls_server(&files, None, Duration::from_millis(100)).await;
    let address = server.server.local_addr();
    let mut reloads = server.server.tls_reloads().expect("the server serves TLS");

    let renewed = files.ca.server_cert(2);
    files.replace_server_cert(&renewed);
    reloads_until(&mut reloads, |status| status.loaded >= 1).await;
    assert_eq!(presented_certificate(address, &files.ca.pem).await, renewed.der);

    // A truncated certificate: refused, logged, and the one in use stays.
    files.write("server.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
    let seen = reloads_until(&mut reloads, |status| status.failed >= 1).await;
    let error = seen.last_error.expect("the refusal says why");
    assert!(
        error.starts_with(&format!("--tls-cert {}", files.path("server.pem").display())),
        "{error}"
    );
    assert_eq!(seen.loaded, 1);
    assert_eq!(presented_certificate(address, &files.ca.pem).await, renewed.der);
    let tls = client_tls(&files, false);
    admin(&server.endpoint, &tls)
        .await
        .expect("clients still connect")
        .list_tasks(list_tasks())
        .await
        .expect("answers");

    // Fixed: the next check loads it.
    let third = files.ca.server_cert(3);
    files.replace_server_cert(&third);
    let seen = reloads_until(&mut reloads, |status| status.loaded >= 2).await;
    assert_eq!(seen.failed, 1, "a bad file is reported once, not at every check");
    assert_eq!(presented_certificate(address, &files.ca.pem).await, third.der);
    server.stop().await;
}

#[tokio::test]
async fn https_to_a_plaintext_server_fails_instead_of_falling_back() {
    let server = TestServer::start(Backend::Sqlite).await;
    let port = server.server.local_addr().port();
    let endpoint = format!("https://localhost:{port}");
    let files = TlsFiles::new();

    let worker = seed_worker(&endpoint, client_tls(&files, false));
    let cause = tls_cause(worker.register_tasks().await);
    assert!(cause.contains("does not speak TLS"), "{cause}");
    let run = tokio::time::timeout(EVENT_WAIT, worker.run(std::future::pending::<()>()))
        .await
        .expect("the worker stops at once");
    assert!(matches!(run, Err(WorkerError::Tls { .. })), "{run:?}");

    let refused = admin(&endpoint, &client_tls(&files, false)).await;
    let error = refused.expect_err("the admin client's TLS handshake fails");
    assert!(gantry_worker::tls_failure(&error).is_some(), "{error:?}");

    // Nothing reached the server in plaintext.
    let mut plain = server.admin().await;
    let tasks = plain.list_tasks(list_tasks()).await.expect("list").into_inner();
    assert!(tasks.tasks.is_empty(), "{:?}", tasks.tasks);
    server.stop().await;
}

#[tokio::test]
async fn health_and_reflection_answer_on_the_tls_port() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let files = TlsFiles::new();
    let server = tls_server(&files, Some(ClientAuth::Required), Duration::from_secs(3600)).await;
    let tls = client_tls(&files, true);
    let channel = gantry_worker::endpoint(&server.endpoint, &tls)
        .expect("endpoint")
        .connect()
        .await
        .expect("connects");

    let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "gantry.v1.WorkerService".into(),
        })
        .await
        .expect("the health service answers over TLS")
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers over TLS")
        .into_inner();
    let Some(Ok(response)) = responses.next().await else {
        panic!("no reflection response");
    };
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("not a service list: {response:?}");
    };
    let services: Vec<String> = list.service.into_iter().map(|service| service.name).collect();
    for expected in [
        "gantry.v1.AdminService",
        "gantry.v1.WorkerService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            services.iter().any(|name| name == expected),
            "{expected} not in {services:?}"
        );
    }
    server.stop().await;
}
