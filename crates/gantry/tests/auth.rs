//! The CLI and the Rust SDK against a server with authentication, over TLS (a token only ever travels over TLS): the
//! first admin key made straight on the store, a project and keys made through the CLI, the seed registered, run and
//! watched with an operator's token (`--ca-file` and `--token`) while a worker key's worker runs it (its `ca_file` and
//! token), the same calls refused without their tokens, and a revoked key refused. Certificates are generated in the
//! test (`gantry_tests::tls::TlsFiles`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::Output;
use std::time::{Duration, Instant};

use gantry_server::{AuthMode, ServerConfig};
use gantry_tests::tls::TlsFiles;
use gantry_worker::WorkerError;
use serde_json::{Value, json};

const SEED_YAML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../gantry-examples/seed.yaml");

/// The CLI pointed at one TLS server, trusting the test CA.
struct Cli {
    endpoint: String,
    ca_file: String,
}

impl Cli {
    /// Runs `gantry --endpoint .. --ca-file .. [--token ..] args`.
    async fn run(&self, args: &[&str], token: Option<&str>) -> Output {
        let mut all = vec!["--endpoint", self.endpoint.as_str(), "--ca-file", self.ca_file.as_str()];
        if let Some(token) = token {
            all.extend(["--token", token]);
        }
        all.extend_from_slice(args);
        common::gantry(&all, &[]).await
    }

    /// The JSON printed by `gantry --output json args`, which must succeed.
    async fn json(&self, args: &[&str], token: &str) -> Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&common::stdout(&self.run(&all, Some(token)).await)).expect("JSON on stdout")
    }
}

/// The error a refused command printed.
fn refusal(output: &Output) -> String {
    assert!(!output.status.success(), "the command succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_the_rust_sdk_run_the_seed_with_tokens_over_tls() {
    let files = TlsFiles::new();
    let data = files.path("gantry.db");

    // The first admin key, before any server runs: straight on the store.
    let created = common::gantry(
        &[
            "--output",
            "json",
            "auth",
            "keys",
            "create",
            "--role",
            "admin",
            "--data-path",
            data.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let admin: Value = serde_json::from_str(&common::stdout(&created)).unwrap();
    let admin_token = admin["token"].as_str().unwrap().to_owned();
    assert_eq!(admin["role"], "admin");

    // `--auth keys` with `--tls-cert` and `--tls-key`.
    let mut config = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_path: data,
        blob_store: files.path("blobs").display().to_string(),
        strict_transitions: true,
        auth: AuthMode::Keys,
        ..ServerConfig::default()
    };
    files.configure(&mut config, None);
    let server = gantry_server::start(config).await.unwrap();
    let endpoint = format!("https://localhost:{}", server.local_addr().port());
    let cli = Cli {
        endpoint: endpoint.clone(),
        ca_file: files.path("ca.pem").to_str().unwrap().to_owned(),
    };

    common::stdout(&cli.run(&["projects", "create", "demo"], Some(&admin_token)).await);
    let key = |role: &'static str| {
        let cli = &cli;
        let admin_token = &admin_token;
        async move {
            cli.json(
                &[
                    "auth",
                    "keys",
                    "create",
                    "--project",
                    "demo",
                    "--role",
                    role,
                    "--expires",
                    "30d",
                ],
                admin_token,
            )
            .await
        }
    };
    let operator = key("operator").await;
    let worker_key = key("worker").await;
    let operator_token = operator["token"].as_str().unwrap().to_owned();
    let worker_token = worker_key["token"].as_str().unwrap().to_owned();
    assert!(operator["expires_at"].is_string(), "{operator}");

    // The operator registers the seed; without the token the same call is refused (past TLS: by authentication).
    let register = ["register", SEED_YAML];
    let refused = refusal(&cli.run(&register, None).await);
    assert!(refused.contains("authentication required"), "{refused}");
    common::stdout(&cli.run(&register, Some(&operator_token)).await);

    // A worker without the token is refused on its first poll, and stops instead of retrying.
    let tokenless = gantry_examples::seed_worker(&endpoint)
        .ca_file(files.path("ca.pem"))
        .build()
        .unwrap();
    match tokenless.run(std::future::pending::<()>()).await {
        Err(WorkerError::Rpc { status, .. }) => {
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status}");
            assert!(status.message().contains("authentication required"), "{status}");
        }
        other => panic!("a worker without a token was not refused: {other:?}"),
    }

    // With the worker key the worker runs the seed the operator starts and watches.
    let worker = gantry_examples::seed_worker(&endpoint)
        .ca_file(files.path("ca.pem"))
        .token(worker_token.clone())
        .concurrency(4)
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    let run = [
        "--output",
        "json",
        "run",
        "demo/dev/generate_others@1",
        "--inputs",
        r#"{"tasks_count": 10}"#,
        "--watch",
    ];
    let refused = refusal(&cli.run(&run, None).await);
    assert!(refused.contains("authentication required"), "{refused}");
    let run: Value = serde_json::from_str(&common::stdout(&cli.run(&run, Some(&operator_token)).await)).unwrap();
    assert_eq!(run["execution"]["phase"], "succeeded");
    assert_eq!(run["outputs"], json!({"out": [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]}));

    // Keys are listed without secrets; a revoked key is refused within the cache's few seconds (the token given
    // through the environment this time, as a deployment sets it).
    let listed = cli.json(&["auth", "keys", "list"], &admin_token).await.to_string();
    assert!(listed.contains(operator["id"].as_str().unwrap()));
    assert!(!listed.contains(&operator_token) && !listed.contains(&admin_token));
    common::stdout(
        &cli.run(
            &["auth", "keys", "revoke", operator["id"].as_str().unwrap()],
            Some(&admin_token),
        )
        .await,
    );
    let revoked_at = Instant::now();
    let list = [
        "--endpoint",
        cli.endpoint.as_str(),
        "--ca-file",
        cli.ca_file.as_str(),
        "list",
    ];
    loop {
        let output = common::gantry(&list, &[("GANTRY_TOKEN", &operator_token)]).await;
        if !output.status.success() {
            assert!(refusal(&output).contains("was revoked"));
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(10),
            "a revoked key still works"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    server.shutdown().await.unwrap();
}
