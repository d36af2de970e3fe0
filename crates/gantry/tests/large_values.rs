//! End to end: the CLI shows values the server answers with by reference (too large for one response) as values.
//! The server runs with an 8 MiB message limit, so that 6 MB is too large for a response and the test stays quick.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Instant;

use gantry_core::model::LiteralType;
use gantry_server::ServerConfig;
use gantry_worker::{Inputs, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs};
use serde_json::Value;

const MIB: usize = 1024 * 1024;

fn echo_def() -> TaskDef {
    TaskDef::new("demo", "dev", "echo", "1")
        .input("text", LiteralType::String)
        .output("text", LiteralType::String)
}

async fn echo(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let text: String = inputs.get("text")?;
    Ok(outputs().set("text", text).into())
}

async fn gantry(endpoint: &str, args: &[&str]) -> String {
    let started = Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .env_remove("GANTRY_OUTPUT")
        .output()
        .await
        .expect("the gantry binary runs");
    assert!(
        output.status.success(),
        "gantry {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("figure: gantry {} took {:?}", args.join(" "), started.elapsed());
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_shows_values_sent_by_reference() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_path: dir.path().join("gantry.db"),
        blob_store: dir.path().join("blobs").display().to_string(),
        max_message_bytes: 8 * MIB,
        strict_transitions: true,
        ..ServerConfig::default()
    };
    let server = gantry_server::start(config).await.unwrap();
    let endpoint = format!("http://{}", server.local_addr());
    let worker = Worker::builder(endpoint.clone())
        .task(echo_def(), echo)
        .build()
        .unwrap();
    worker.register_tasks().await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));

    // 6 MB: more than the 4 MiB of values a response carries here, so every read of it is by reference.
    let text: String = (0..6_000_000u32).map(|i| char::from(b'a' + (i % 23) as u8)).collect();
    let inputs = dir.path().join("inputs.json");
    std::fs::write(&inputs, serde_json::json!({ "text": text }).to_string()).unwrap();
    let inputs_arg = format!("@{}", inputs.display());
    let run = gantry(
        &endpoint,
        &[
            "--output",
            "json",
            "run",
            "demo/dev/echo@1",
            "--inputs",
            &inputs_arg,
            "--watch",
        ],
    )
    .await;
    let run: Value = serde_json::from_str(&run).unwrap();
    assert_eq!(run["outputs"]["text"], Value::String(text.clone()));
    assert_eq!(run["execution"]["inputs"]["text"], Value::String(text.clone()));
    let id = run["execution"]["id"].as_str().unwrap().to_owned();

    let shown: Value = serde_json::from_str(&gantry(&endpoint, &["outputs", &id]).await).unwrap();
    assert_eq!(shown["text"].as_str().map(str::len), Some(text.len()));
    assert!(
        shown["text"] == Value::String(text.clone()),
        "gantry outputs: the value, byte for byte"
    );
    let got: Value = serde_json::from_str(&gantry(&endpoint, &["--output", "json", "get", &id]).await).unwrap();
    assert!(
        got["inputs"]["text"] == Value::String(text),
        "gantry get: the inputs, byte for byte"
    );

    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    server.shutdown().await.unwrap();
}
