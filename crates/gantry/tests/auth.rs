//! The CLI and the Rust SDK against a server with authentication: the first admin key made straight on the store,
//! a project and keys made through the CLI, the seed registered, run and watched with an operator's token while a
//! worker key's worker runs it, and a revoked key refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gantry_server::{AuthMode, ServerConfig};
use serde_json::{Value, json};

const SEED_YAML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../gantry-examples/seed.yaml");

async fn ok(args: &[&str], token: Option<&str>) -> String {
    let env: Vec<(&str, &str)> = token.map(|token| ("GANTRY_TOKEN", token)).into_iter().collect();
    let output = common::gantry(args, &env).await;
    common::stdout(&output)
}

async fn json_out(args: &[&str], token: Option<&str>) -> Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&all, token).await).expect("JSON on stdout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_the_rust_sdk_run_the_seed_with_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("gantry.db");
    let data_flag = data.display().to_string();

    // The first admin key, before any server runs: straight on the store.
    let admin = json_out(
        &["auth", "keys", "create", "--role", "admin", "--data-path", &data_flag],
        None,
    )
    .await;
    let admin_token = admin["token"].as_str().unwrap().to_owned();
    assert_eq!(admin["role"], "admin");

    let config = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_path: data.clone(),
        blob_store: dir.path().join("blobs").display().to_string(),
        strict_transitions: true,
        auth: AuthMode::Keys,
        ..ServerConfig::default()
    };
    let server = gantry_server::start(config).await.unwrap();
    let endpoint = format!("http://{}", server.local_addr());
    let at = |args: &[&str]| {
        let mut all = vec!["--endpoint".to_owned(), endpoint.clone()];
        all.extend(args.iter().map(|arg| (*arg).to_owned()));
        all
    };

    // Without a token the server says what is missing.
    let refused = common::gantry(&at(&["list"]).iter().map(String::as_str).collect::<Vec<_>>(), &[]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("authentication required"));

    let args = at(&["projects", "create", "demo"]);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>(), Some(&admin_token)).await;
    let key = |role: &'static str| {
        at(&[
            "--output",
            "json",
            "auth",
            "keys",
            "create",
            "--project",
            "demo",
            "--role",
            role,
            "--expires",
            "30d",
        ])
    };
    let operator: Value = serde_json::from_str(
        &ok(
            &key("operator").iter().map(String::as_str).collect::<Vec<_>>(),
            Some(&admin_token),
        )
        .await,
    )
    .unwrap();
    let worker_key: Value = serde_json::from_str(
        &ok(
            &key("worker").iter().map(String::as_str).collect::<Vec<_>>(),
            Some(&admin_token),
        )
        .await,
    )
    .unwrap();
    let operator_token = operator["token"].as_str().unwrap().to_owned();
    let worker_token = worker_key["token"].as_str().unwrap().to_owned();
    assert!(operator["expires_at"].is_string(), "{operator}");

    // The operator registers the seed; a worker with the worker key runs it.
    let args = at(&["register", SEED_YAML]);
    ok(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Some(&operator_token),
    )
    .await;
    let worker = gantry_examples::seed_worker(&endpoint)
        .token(worker_token.clone())
        .concurrency(4)
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    let args = at(&[
        "--output",
        "json",
        "run",
        "demo/dev/generate_others@1",
        "--inputs",
        r#"{"tasks_count": 5}"#,
        "--watch",
    ]);
    let run: Value = serde_json::from_str(
        &ok(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            Some(&operator_token),
        )
        .await,
    )
    .unwrap();
    assert_eq!(run["execution"]["phase"], "succeeded");
    assert_eq!(run["outputs"], json!({"out": [0, 2, 4, 6, 8]}));

    // Keys are listed without secrets; a revoked key is refused within the cache's few seconds.
    let args = at(&["--output", "json", "auth", "keys", "list"]);
    let listed = ok(&args.iter().map(String::as_str).collect::<Vec<_>>(), Some(&admin_token)).await;
    assert!(listed.contains(operator["id"].as_str().unwrap()));
    assert!(!listed.contains(&operator_token) && !listed.contains(&admin_token));
    let args = at(&["auth", "keys", "revoke", operator["id"].as_str().unwrap()]);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>(), Some(&admin_token)).await;
    let revoked_at = Instant::now();
    let args = at(&["list"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    loop {
        let output = common::gantry(&args, &[("GANTRY_TOKEN", &operator_token)]).await;
        if !output.status.success() {
            assert!(String::from_utf8_lossy(&output.stderr).contains("was revoked"));
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
