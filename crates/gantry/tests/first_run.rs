//! What a newcomer meets first, through the built binary: `host:port` endpoints, errors that say each thing once and
//! suggest the registered name, `--phase` listing the phases, empty listings said in words, tasks and launch plans
//! listed and shown, one default project and domain, shell completions, and a closed stdout ending a command quietly.
//! The real server on 127.0.0.1:0 over an embedded SQLite file, the example worker in process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Output, Stdio};

use common::{GANTRY, gantry, stdout};
use serde_json::Value;

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// No part of an error line (`a: b: c`) is said twice.
fn assert_said_once(text: &str) {
    let line = text.trim();
    let parts: Vec<&str> = line.split(": ").map(str::trim).filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(!parts[i + 1..].contains(part), "{part:?} said twice in {line:?}");
    }
}

/// Runs `args` with stdout a pipe whose reading end is already closed, as `gantry ... | head` leaves it.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    std::process::Command::new(GANTRY)
        .args(args)
        .env_remove("GANTRY_OUTPUT")
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Runs `args` with stdout and stderr both closed pipes (`gantry ... 2>&1 | head` after head left): its exit code.
fn with_closed_stdout_and_stderr(args: &[&str]) -> std::process::ExitStatus {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    std::process::Command::new(GANTRY)
        .args(args)
        .env_remove("GANTRY_OUTPUT")
        .stdout(Stdio::from(writer.try_clone().unwrap()))
        .stderr(Stdio::from(writer))
        .status()
        .unwrap()
}

fn assert_quiet_exit(output: &Output, what: &str) {
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{what}: {:?} {err}", output.status);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{what}: {err}"
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let output = std::process::Command::new(GANTRY)
            .args(["completions", shell])
            .output()
            .unwrap();
        let script = stdout(&output);
        assert!(script.contains("gantry") && script.contains("launch-plan"), "{shell}");
    }
    assert_quiet_exit(
        &with_closed_stdout(&["completions", "bash"]),
        "completions into a closed pipe",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_run_without_surprises() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::embedded_server(dir.path()).await;
    // host:port, as grpcurl takes it.
    let endpoint = server.local_addr().to_string();
    let e = ["--endpoint", endpoint.as_str()];
    let with = |args: &[&'static str]| -> Vec<String> { e.iter().chain(args).map(|s| (*s).to_owned()).collect() };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        gantry(&args, &[]).await
    };

    // Nothing yet: said in words, not drawn as an empty table.
    let empty = run(with(&["list"])).await;
    assert!(stdout(&empty).is_empty());
    assert!(
        stderr(&empty).contains("no executions in demo/dev"),
        "{}",
        stderr(&empty)
    );
    let no_plans = run(with(&["launch-plan", "list"])).await;
    assert!(stderr(&no_plans).contains("no launch plan is registered in demo/dev"));

    let worker = gantry_examples::seed_worker(format!("http://{endpoint}"))
        .concurrency(4)
        .build()
        .unwrap();
    worker.register_tasks().await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));

    // A typo'd target: the registered name suggested, nothing said twice.
    let typo = run(with(&["run", "generate_other", "--inputs", r#"{"tasks_count": 2}"#])).await;
    assert!(!typo.status.success());
    let message = stderr(&typo);
    assert!(message.contains("did you mean generate_others?"), "{message}");
    assert_said_once(&message);
    let version = run(with(&["run", "generate_others@7"])).await;
    assert!(
        stderr(&version).contains("registered versions, newest first: 1"),
        "{}",
        stderr(&version)
    );

    // A phase that does not exist: the valid ones are listed.
    let phase = run(with(&["list", "--phase", "done"])).await;
    assert!(!phase.status.success());
    assert!(
        stderr(&phase).contains("succeeded") && stderr(&phase).contains("timed_out"),
        "{}",
        stderr(&phase)
    );

    // No project or domain anywhere: the SDKs' default, so `list` finds it.
    let started = run(with(&[
        "--output",
        "json",
        "run",
        "generate_others",
        "--inputs",
        r#"{"tasks_count": 3}"#,
        "--watch",
    ]))
    .await;
    let started: Value = serde_json::from_str(&stdout(&started)).unwrap();
    assert_eq!(started["execution"]["project"], gantry_worker::DEFAULT_PROJECT);
    assert_eq!(started["execution"]["domain"], gantry_worker::DEFAULT_DOMAIN);
    let id = started["execution"]["id"].as_str().unwrap().to_owned();
    let listed = stdout(&run(with(&["execution", "list"])).await);
    assert!(listed.contains(&id), "{listed}");

    // Tasks listed and shown.
    let tasks = stdout(&run(with(&["task", "list"])).await);
    assert!(
        tasks.contains("demo/dev/generate_others@1") && tasks.contains("other_task"),
        "{tasks}"
    );
    let shown = stdout(&run(with(&["--output", "json", "task", "show", "generate_others"])).await);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["inputs"][0]["name"], "tasks_count");
    assert_eq!(shown["id"], "demo/dev/generate_others@1");
    let unknown = run(with(&["workflow", "show", "nope@1"])).await;
    assert!(
        stderr(&unknown).contains("no workflow is registered in demo/dev"),
        "{}",
        stderr(&unknown)
    );

    // `gantry nodes ID | head`: the reader goes away, the command ends quietly.
    for args in [
        vec!["nodes", id.as_str()],
        vec!["list"],
        vec!["--output", "json", "get", id.as_str()],
    ] {
        let all: Vec<&str> = e.iter().copied().chain(args.iter().copied()).collect();
        assert_quiet_exit(&with_closed_stdout(&all), &args.join(" "));
    }

    // Both closed: a panic would exit with 101.
    let all: Vec<&str> = e.iter().copied().chain(["list", "--phase", "failed"]).collect();
    assert!(
        with_closed_stdout_and_stderr(&all).success(),
        "an empty listing, nowhere to say so"
    );
    let all: Vec<&str> = e
        .iter()
        .copied()
        .chain(["run", "generate_others", "--inputs", r#"{"tasks_count": 2}"#, "--watch"])
        .collect();
    assert!(
        with_closed_stdout_and_stderr(&all).success(),
        "run --watch, nowhere to print"
    );

    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bad_endpoint_is_said_once() {
    for endpoint in ["http://[::1", "127.0.0.1:1"] {
        let output = gantry(&["--endpoint", endpoint, "list"], &[]).await;
        assert!(!output.status.success());
        let message = stderr(&output);
        assert!(message.starts_with("error: "), "{message}");
        assert!(!message.contains("scheme is missing"), "{message}");
        assert_said_once(&message);
    }
}
