//! `--log-format json`: every line the server writes on stderr is one JSON object, events inside an attempt carry
//! its execution, node and attempt, and nothing secret (the database password, a client's token) is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const PASSWORD: &str = "pw-never-logged-7f3a";
const TOKEN: &str = "gantry_token_never_logged_91c2";

/// The database the server runs on: a fresh Postgres database reached with a password in its URL (the test
/// databases trust local connections, so any password is accepted) when `DATABASE_URL` is set, else SQLite.
async fn database(dir: &std::path::Path) -> Vec<String> {
    let Ok(admin_url) = std::env::var("DATABASE_URL") else {
        return vec!["--data-path".into(), dir.join("gantry.db").display().to_string()];
    };
    let (store, url) = gantry_store::PgStore::connect_fresh(&admin_url).await.unwrap();
    store.close().await;
    let url = url.replacen("://postgres@", &format!("://postgres:{PASSWORD}@"), 1);
    assert!(url.contains(PASSWORD), "the URL names the postgres user: {url}");
    vec!["--database-url".into(), url]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_attempts_fields_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(common::GANTRY);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GANTRY_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(["--log-format", "json", "server", "--examples", "--seed-tasks", "3"])
        .args(["--http-listen", "127.0.0.1:0"])
        .args(["--listen", "127.0.0.1:0"])
        .args(database(dir.path()).await)
        .arg("--blob-store")
        .arg(dir.path().join("blobs"))
        // The SDK's attempt events are at debug.
        .env("RUST_LOG", "info,gantry_worker=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let mut endpoint = String::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("gantry listening on ") {
                endpoint = rest.split_whitespace().next().unwrap().to_owned();
            }
            if line.starts_with("seed example:") {
                assert!(line.contains("succeeded"), "{line}");
                return;
            }
        }
        panic!("the server exited before running the seed");
    })
    .await
    .expect("the seed ran within a minute");
    // A client's token reaches the server (which, without authentication, ignores it).
    let listed = common::gantry(&["--token", TOKEN, "--endpoint", &endpoint, "list"], &[]).await;
    assert!(listed.status.success());
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let mut text = String::new();
    stderr.read_to_string(&mut text).await.unwrap();

    assert!(!text.contains(PASSWORD), "the database password was logged");
    assert!(!text.contains(TOKEN), "the token was logged");
    assert!(!String::from_utf8_lossy(&listed.stderr).contains(TOKEN));
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(lines.len() > 5, "{text}");
    for line in &lines {
        for field in ["timestamp", "level", "target", "fields"] {
            assert!(line.get(field).is_some(), "no {field}: {line}");
        }
    }
    let finished = lines
        .iter()
        .find(|line| line["fields"]["message"] == "execution finished")
        .expect("the execution's end is logged");
    assert_eq!(finished["fields"]["phase"], "succeeded");
    assert!(finished["fields"]["execution_id"].is_string());
    // Events inside an attempt carry its span's fields.
    let in_attempts: Vec<&Value> = lines.iter().filter(|line| line["span"]["name"] == "attempt").collect();
    assert!(!in_attempts.is_empty(), "no event inside an attempt: {text}");
    for line in in_attempts {
        let span = &line["span"];
        assert_eq!(span["execution_id"], finished["fields"]["execution_id"], "{line}");
        assert!(span["node_id"].as_str().is_some_and(|id| !id.is_empty()), "{line}");
        assert!(span["attempt"].is_u64(), "{line}");
    }
}
