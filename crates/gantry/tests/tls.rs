//! The CLI over TLS, through the built binary: the seed run and watched with `--ca-file` against a TLS server (with
//! the Rust SDK's example worker over TLS), `gantry server --tls-cert --examples` as a process reloading its
//! certificate on SIGHUP, mutual TLS with `--client-cert`, and refusals that name their cause: a CA the CLI does not
//! trust, a missing client certificate, and `https://` to a plaintext server (never retried in plaintext).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{GANTRY, gantry, stdout};
use gantry_server::{ClientAuth, RunningServer, ServerConfig};
use gantry_tests::tls::{TlsFiles, presented_certificate};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The longest a test waits for a line from the server process before failing (a bound, not a pause).
const EVENT_WAIT: Duration = Duration::from_secs(60);

/// The one error line of a failed command.
fn error_line(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "the command succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr.clone()).unwrap().trim().to_owned()
}

/// A TLS server in process on an embedded store, with the seed's example worker connected over TLS.
async fn tls_server_with_worker(files: &TlsFiles, client_auth: Option<ClientAuth>) -> (RunningServer, String) {
    let mut config = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_path: files.path("gantry.db"),
        blob_store: files.path("blobs").display().to_string(),
        strict_transitions: true,
        ..ServerConfig::default()
    };
    files.configure(&mut config, client_auth);
    let server = gantry_server::start(config).await.unwrap();
    let endpoint = format!("https://localhost:{}", server.local_addr().port());
    let tls = gantry_worker::ClientTls::new()
        .with_ca_file(files.path("ca.pem"))
        .with_identity(files.path("client.pem"), files.path("client.key"));
    let worker = gantry_examples::seed_worker(&endpoint).tls(tls).build().unwrap();
    worker.register_tasks().await.unwrap();
    tokio::spawn(worker.run(std::future::pending::<()>()));
    (server, endpoint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_runs_and_is_watched_through_the_cli_over_tls() {
    let files = TlsFiles::new();
    let (_server, endpoint) = tls_server_with_worker(&files, None).await;
    let ca = files.path("ca.pem");
    let ca = ca.to_str().unwrap();

    let run = stdout(
        &gantry(
            &[
                "--endpoint",
                &endpoint,
                "--ca-file",
                ca,
                "--output",
                "json",
                "run",
                "demo/dev/generate_others@1",
                "--inputs",
                r#"{"tasks_count": 5}"#,
                "--watch",
            ],
            &[],
        )
        .await,
    );
    let run: Value = serde_json::from_str(&run).unwrap();
    assert_eq!(run["execution"]["phase"], "succeeded");
    assert_eq!(run["outputs"], json!({"out": [0, 2, 4, 6, 8]}));
    let id = run["execution"]["id"].as_str().unwrap();

    // The same through the environment, as a deployment sets it.
    let outputs = stdout(
        &gantry(
            &["outputs", id],
            &[("GANTRY_ENDPOINT", &endpoint), ("GANTRY_CA_FILE", ca)],
        )
        .await,
    );
    assert_eq!(
        serde_json::from_str::<Value>(&outputs).unwrap(),
        json!({"out": [0, 2, 4, 6, 8]})
    );

    // Without the CA file the system's roots are trusted, which do not know the test CA.
    let refused = error_line(&gantry(&["--endpoint", &endpoint, "list"], &[]).await);
    assert_eq!(
        refused,
        format!("error: TLS with the Gantry server at {endpoint} failed: invalid peer certificate: UnknownIssuer")
    );
    let other = TlsFiles::new();
    let refused = error_line(
        &gantry(
            &[
                "--endpoint",
                &endpoint,
                "--ca-file",
                other.path("ca.pem").to_str().unwrap(),
                "list",
            ],
            &[],
        )
        .await,
    );
    assert!(
        refused.ends_with("invalid peer certificate: UnknownIssuer"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_takes_the_client_certificate_and_refuses_the_cli_without_one() {
    let files = TlsFiles::new();
    let (_server, endpoint) = tls_server_with_worker(&files, Some(ClientAuth::Required)).await;
    let path = |name: &str| files.path(name).to_str().unwrap().to_owned();
    let (ca, cert, key) = (path("ca.pem"), path("client.pem"), path("client.key"));

    let listed = stdout(
        &gantry(
            &[
                "--endpoint",
                &endpoint,
                "--ca-file",
                &ca,
                "--client-cert",
                &cert,
                "--client-key",
                &key,
                "task",
                "list",
            ],
            &[],
        )
        .await,
    );
    assert!(listed.contains("generate_others"), "{listed}");

    let refused = error_line(&gantry(&["--endpoint", &endpoint, "--ca-file", &ca, "task", "list"], &[]).await);
    assert_eq!(
        refused,
        format!(
            "error: TLS with the Gantry server at {endpoint} failed: received fatal alert: CertificateRequired (the \
             server requires a client certificate)"
        )
    );

    let half = error_line(&gantry(&["--endpoint", &endpoint, "--client-cert", &cert, "list"], &[]).await);
    assert!(half.contains("--client-key"), "{half}");
}

/// A call the client's deadline ended is looked into as a transport failure is: against a server that requires a
/// client certificate, the CLI names the refusal, not only the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ended_by_its_deadline_names_the_tls_refusal_behind_it() {
    let files = TlsFiles::new();
    let (_server, endpoint) = tls_server_with_worker(&files, Some(ClientAuth::Required)).await;
    // What a call queued on a connection the server refused after its handshake fails with, once nothing answered it.
    let status = gantry_worker::DeadlinePassed::status(Duration::from_secs(60));

    let without_certificate = gantry_worker::ClientTls::new().with_ca_file(files.path("ca.pem"));
    let cause = gantry_worker::tls_refusal(&endpoint, &without_certificate, &status).await;
    assert_eq!(
        cause.as_deref(),
        Some("received fatal alert: CertificateRequired (the server requires a client certificate)")
    );
    // With the certificate the server takes, the same status is only a deadline.
    let with_certificate = without_certificate.with_identity(files.path("client.pem"), files.path("client.key"));
    assert_eq!(
        gantry_worker::tls_refusal(&endpoint, &with_certificate, &status).await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plaintext_server_is_an_error_not_a_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_path: dir.path().join("gantry.db"),
        blob_store: dir.path().join("blobs").display().to_string(),
        ..ServerConfig::default()
    };
    let server = gantry_server::start(config).await.unwrap();
    let port = server.local_addr().port();
    let endpoint = format!("https://127.0.0.1:{port}");
    let refused = error_line(&gantry(&["--endpoint", &endpoint, "list"], &[]).await);
    assert!(
        refused.starts_with(&format!("error: TLS with the Gantry server at {endpoint} failed: ")),
        "{refused}"
    );
    assert!(refused.contains("does not speak TLS"), "{refused}");

    // The same server in plaintext answers: it was the scheme that was refused.
    let plain = gantry(&["--endpoint", &format!("http://127.0.0.1:{port}"), "list"], &[]).await;
    assert!(plain.status.success());
    server.shutdown().await.unwrap();
}

/// `gantry server` with TLS as a process: its example worker and seed run over TLS, and SIGHUP swaps the certificate
/// new connections get while the process goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_process_serves_tls_and_reloads_its_certificate_on_sighup() {
    let files = TlsFiles::new();
    let path = |name: &str| files.path(name).to_str().unwrap().to_owned();
    let mut child = tokio::process::Command::new(GANTRY)
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--examples",
            "--seed-tasks",
            "3",
        ])
        .args(["--data-path", &path("gantry.db"), "--blob-store", &path("blobs")])
        .args(["--tls-cert", &path("server.pem"), "--tls-key", &path("server.key")])
        .args(["--ca-file", &path("ca.pem")])
        // The timer would also reload: only the signal may, here.
        .args(["--tls-reload-interval", "1h"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let (log_lines, mut log) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            eprintln!("server: {line}");
            let _ = log_lines.send(line);
        }
    });

    let mut endpoint = None;
    let seed = tokio::time::timeout(EVENT_WAIT, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            eprintln!("server stdout: {line}");
            if let Some(rest) = line.strip_prefix("gantry listening on ") {
                endpoint = rest.split_whitespace().next().map(str::to_owned);
            }
            if line.starts_with("seed example:") {
                return line;
            }
        }
        panic!("the server exited before the seed ran");
    })
    .await
    .expect("the seed ran in time");
    let endpoint = endpoint.expect("the banner names the endpoint");
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    assert!(
        seed.contains("succeeded") && seed.ends_with(r#"{"out":[0,2,4]}"#),
        "{seed}"
    );
    let address: SocketAddr = endpoint.trim_start_matches("https://").parse().unwrap();
    assert_eq!(presented_certificate(address, &files.ca.pem).await, files.server.der);

    let renewed = files.ca.server_cert(2);
    files.replace_server_cert(&renewed);
    let pid = child.id().expect("the server runs").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::timeout(EVENT_WAIT, async {
        while let Some(line) = log.recv().await {
            if line.contains("tls certificate reloaded") {
                return;
            }
        }
        panic!("the server's log ended before the reload");
    })
    .await
    .expect("the reload was logged in time");

    assert_eq!(presented_certificate(address, &files.ca.pem).await, renewed.der);
    assert_eq!(child.try_wait().unwrap(), None, "the server never restarted");
    let listed = stdout_of_list(&endpoint, &path("ca.pem")).await;
    assert!(listed.contains("generate_others"), "{listed}");
    child.kill().await.unwrap();
}

async fn stdout_of_list(endpoint: &str, ca: &str) -> String {
    stdout(&gantry(&["--endpoint", endpoint, "--ca-file", ca, "list"], &[]).await)
}
