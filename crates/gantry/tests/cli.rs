//! End to end: the real server on 127.0.0.1:0 over an embedded SQLite file in a temp dir, the example worker in
//! process, and the built `gantry` binary driving them. No sleeps: every step waits on a process exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};

const SEED_YAML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../gantry-examples/seed.yaml");

/// A workflow over the seed's tasks and a launch plan of the seed's dynamic task.
const MORE_YAML: &str = r#"
project: demo
domain: dev
version: "1"
workflows:
  - name: twice
    inputs: {x: integer}
    nodes:
      - {id: a, task: other_task, inputs: {index: {from: inputs.x}}}
      - {id: b, task: other_task, inputs: {index: {from: a.other_task_out}}}
    outputs:
      y: {type: integer, from: b.other_task_out}
      both: {type: "list<integer>", list: [{from: a.other_task_out}, {from: b.other_task_out}]}
launch_plans:
  - name: three_others
    task: generate_others
    default_inputs: {tasks_count: 3}
"#;

fn node_ids(nodes: &Value, out: &mut Vec<String>) {
    for node in nodes.as_array().unwrap() {
        out.push(node["node_id"].as_str().unwrap().to_owned());
        node_ids(&node["children"], out);
    }
}

fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_run_watch_and_inspect_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::embedded_server(dir.path()).await;
    let endpoint = format!("http://{}", server.local_addr());
    let cli = common::Cli {
        endpoint: endpoint.clone(),
    };

    // Register the seed's templates from the example file.
    let registered = cli.json(&["register", SEED_YAML]).await;
    assert_eq!(
        registered,
        json!([
            {"kind": "task", "id": "demo/dev/other_task@1", "created": true},
            {"kind": "task", "id": "demo/dev/generate_others@1", "created": true},
        ])
    );
    let again = cli.ok(&["register", SEED_YAML]).await;
    assert!(again.contains("already registered"), "{again}");

    // The example worker registers the rest of the examples (the seed's two again, identically) and runs them.
    let worker = gantry_examples::seed_worker(&endpoint).concurrency(8).build().unwrap();
    assert_eq!(worker.register_tasks().await.unwrap(), 5);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));

    // The seed: five other_tasks, and their outputs assembled in order.
    let run = cli
        .json(&[
            "run",
            "demo/dev/generate_others@1",
            "--inputs",
            r#"{"tasks_count": 5}"#,
            "--name",
            "seed-5",
            "--watch",
        ])
        .await;
    assert_eq!(run["execution"]["phase"], "succeeded");
    assert_eq!(run["outputs"], json!({"out": [0, 2, 4, 6, 8]}));
    let execution_id = run["execution"]["id"].as_str().unwrap().to_owned();

    let outputs: Value = serde_json::from_str(&cli.ok(&["outputs", &execution_id]).await).unwrap();
    assert_eq!(outputs, json!({"out": [0, 2, 4, 6, 8]}));
    let got = cli.json(&["get", &execution_id]).await;
    assert_eq!(
        (got["name"].as_str(), got["phase"].as_str()),
        (Some("seed-5"), Some("succeeded"))
    );
    assert_eq!(got["inputs"], json!({"tasks_count": 5}));

    // The node tree has the dynamic parent and its five children.
    let nodes = cli.json(&["nodes", &execution_id]).await;
    let mut ids = Vec::new();
    node_ids(&nodes, &mut ids);
    let children: Vec<&str> = ids
        .iter()
        .map(|id| last_segment(id))
        .filter(|id| id.starts_with("dn"))
        .collect();
    assert_eq!(children, ["dn0", "dn1", "dn2", "dn3", "dn4"], "{ids:?}");
    let table = cli.ok(&["nodes", &execution_id]).await;
    assert!((0..5).all(|i| table.contains(&format!("dn{i}"))), "{table}");
    assert!(table.contains("(dynamic)"), "{table}");
    let top_only = cli.json(&["nodes", &execution_id, "--depth", "1"]).await;
    assert!(top_only.as_array().unwrap().iter().all(|n| n["children"] == json!([])));

    let listed = cli.json(&["list"]).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == execution_id.as_str()),
        "{listed}"
    );
    let succeeded = cli.json(&["list", "--phase", "succeeded", "--limit", "5"]).await;
    assert!(succeeded.as_array().unwrap().iter().all(|e| e["phase"] == "succeeded"));
    let filtered = cli
        .json(&[
            "list",
            "--target",
            "task:generate_others@1",
            "--search",
            "seed",
            "--since",
            "1h",
        ])
        .await;
    let names: Vec<&str> = filtered
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["seed-5"], "{filtered}");
    let by_id = cli.json(&["list", "--search", &execution_id]).await;
    assert_eq!(by_id.as_array().unwrap().len(), 1, "{by_id}");
    let nothing = cli
        .run(&["list", "--search", "nobody", "--until", "2000-01-01T00:00:00Z"])
        .await;
    assert!(nothing.status.success());
    let said = String::from_utf8_lossy(&nothing.stderr);
    assert!(
        said.contains(r#"no executions matching "nobody" created in that time range"#),
        "{said}"
    );
    let refused = cli.run(&["list", "--target", "dag:x"]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a kind of target"));

    // Three levels of dynamic parents.
    let nested = cli
        .json(&[
            "run",
            "demo/dev/nested_dynamic",
            "--inputs",
            r#"{"depth": 3, "width": 2}"#,
            "--watch",
        ])
        .await;
    assert_eq!(nested["outputs"], json!({"total": [0, 2, 0, 2, 0, 2, 0, 2]}));
    let nested_id = nested["execution"]["id"].as_str().unwrap();
    let mut ids = Vec::new();
    node_ids(&cli.json(&["nodes", nested_id]).await, &mut ids);
    let deepest = ids.iter().map(|id| id.matches("/dn").count()).max().unwrap();
    assert_eq!(deepest, 3, "{ids:?}");

    // A workflow and a launch plan from a spec file, run by kind.
    let spec = dir.path().join("more.yaml");
    std::fs::write(&spec, MORE_YAML).unwrap();
    let registered = cli.json(&["register", spec.to_str().unwrap()]).await;
    assert_eq!(registered.as_array().unwrap().len(), 2, "{registered}");
    let twice = cli
        .json(&[
            "run",
            "--workflow",
            "demo/dev/twice@1",
            "--inputs",
            r#"{"x": 3}"#,
            "--watch",
        ])
        .await;
    assert_eq!(twice["outputs"], json!({"y": 12, "both": [6, 12]}));
    let planned = cli
        .json(&["run", "--launch-plan", "demo/dev/three_others@1", "--watch"])
        .await;
    assert_eq!(planned["outputs"], json!({"out": [0, 2, 4]}));

    // A failing task: exit code 3, and the user error on stderr.
    let failed = cli
        .run(&[
            "run",
            "demo/dev/fail_task@1",
            "--inputs",
            r#"{"message": "disk on fire"}"#,
            "--watch",
        ])
        .await;
    assert_eq!(failed.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("disk on fire"));
    // Its failed nodes at every depth, flat: the task's one node, `n0`, with its error.
    let failures = cli.json(&["list", "--phase", "failed"]).await;
    let failed_id = failures[0]["id"].as_str().unwrap();
    let failed_nodes = cli.json(&["nodes", failed_id, "--failed"]).await;
    assert_eq!(failed_nodes.as_array().unwrap().len(), 1, "{failed_nodes}");
    assert_eq!(failed_nodes[0]["node_id"], "n0");
    assert!(
        failed_nodes[0]["error"].to_string().contains("disk on fire"),
        "{failed_nodes}"
    );
    let succeeded_nodes = cli.json(&["nodes", &execution_id, "--failed"]).await;
    assert_eq!(succeeded_nodes, json!([]), "a succeeded execution has no failed node");

    // Mistakes name what was wrong.
    let unknown = cli.run(&["run", "demo/dev/no_such_task@1"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no_such_task"));
    let misspelt = cli
        .run(&["run", "demo/dev/generate_others@1", "--inputs", r#"{"task_count": 5}"#])
        .await;
    assert_eq!(misspelt.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&misspelt.stderr).contains("no such input (the inputs are: tasks_count: integer)"));

    // A task no worker serves stays queued until terminated.
    let orphan = dir.path().join("orphan.yaml");
    std::fs::write(
        &orphan,
        "project: demo\ndomain: dev\nversion: \"1\"\ntasks:\n  - {name: orphan, queue: nobody}\n",
    )
    .unwrap();
    cli.ok(&["register", orphan.to_str().unwrap()]).await;
    let started = cli.json(&["run", "demo/dev/orphan@1"]).await;
    let orphan_id = started["execution"]["id"].as_str().unwrap();
    let terminated = cli.json(&["terminate", orphan_id, "--reason", "test over"]).await;
    assert!(
        ["aborting", "aborted"].contains(&terminated["phase"].as_str().unwrap()),
        "{terminated}"
    );

    // A dynamic task built with the SDK picks a launch plan by its input (plans registered from a file).
    let plans = dir.path().join("plans.yaml");
    std::fs::write(
        &plans,
        "project: demo\ndomain: dev\nversion: \"1\"\nlaunch_plans:\n  - {name: double, task: other_task}\n  \
         - {name: double_hundred, task: other_task, fixed_inputs: {index: 100}}\n",
    )
    .unwrap();
    cli.ok(&["register", plans.to_str().unwrap()]).await;
    for (n, expected) in [(3, 6), (20, 200)] {
        let inputs = format!(r#"{{"n": {n}}}"#);
        let chosen = cli
            .json(&["run", "demo/dev/choose_plan@1", "--inputs", &inputs, "--watch"])
            .await;
        assert_eq!(chosen["outputs"]["out"], json!(expected), "{chosen}");
    }

    // Relaunch runs the same target with the same inputs again; recover needs an execution that did not succeed.
    let relaunched = cli
        .json(&["relaunch", &execution_id, "--name", "seed-5-again", "--watch"])
        .await;
    assert_eq!(relaunched["execution"]["origin"], "relaunched", "{relaunched}");
    assert_eq!(relaunched["execution"]["source_execution_id"], execution_id.as_str());
    assert_eq!(relaunched["outputs"]["out"], json!([0, 2, 4, 6, 8]));
    let refused = cli.run(&["recover", &execution_id]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("can be recovered"),
        "{refused:?}"
    );
    let recovered = cli.json(&["recover", orphan_id, "--name", "orphan-again"]).await;
    assert_eq!(recovered["execution"]["origin"], "recovered", "{recovered}");
    assert_eq!(recovered["created"], true);
    let recovered_id = recovered["execution"]["id"].as_str().unwrap().to_owned();
    cli.json(&["terminate", &recovered_id]).await;

    stop.send(()).unwrap();
    worker.await.unwrap().unwrap();
    server.shutdown().await.unwrap();
}

/// The README's first command: the server with the examples runs the seed once it is up and prints its outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_with_examples_runs_the_seed() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args([
            "server",
            "--examples",
            "--seed-tasks",
            "4",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-path")
        .arg(dir.path().join("gantry.db"))
        .arg("--blob-store")
        .arg(dir.path().join("blobs"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let seed_line = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("seed example:") {
                return line;
            }
        }
        panic!("the server exited before running the seed");
    })
    .await
    .expect("the seed ran within a minute");
    assert!(seed_line.contains("succeeded"), "{seed_line}");
    assert!(seed_line.ends_with(r#"{"out":[0,2,4,6]}"#), "{seed_line}");
    child.kill().await.unwrap();
}

/// A server that takes connections and never answers (a hung process, a black-holing proxy) ends a command at its
/// `--request-timeout` with the deadline named, instead of holding the terminal forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_ends_the_command_at_its_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });

    let output = common::gantry(
        &["--endpoint", &endpoint, "--request-timeout", "1s", "task", "list"],
        &[],
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("no answer from the server within 1s (DeadlineExceeded)"),
        "{stderr}"
    );
    silent.abort();
}
