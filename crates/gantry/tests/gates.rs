//! Gates through the CLI, end to end: the real server on 127.0.0.1:0 over an embedded SQLite file, the example worker
//! in process, and the built `gantry` binary. `gated_double` waits for the signal `factor`, doubles it, and waits for
//! the approval `publish`; the test lists what it waits for, sets the signal (a wrong type first), approves, and reads
//! the records; a second run is rejected. Every wait is on a watch or a process exit, never a sleep.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use gantry_proto::v1 as pb;
use serde_json::{Value, json};

/// Starts `gated_double` and returns its execution id once its first gate waits, with the gate's id.
async fn start_gated(cli: &common::Cli, admin: &mut gantry_tests::client::Admin) -> (String, String) {
    let run = cli.json(&["run", "demo/dev/gated_double@1"]).await;
    let id = run["execution"]["id"].as_str().expect("an execution id").to_owned();
    let gate = gantry_tests::wait_for_node(admin, &id, "dn0", pb::NodePhase::Running).await;
    (id, gate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_and_an_approval_set_from_the_cli_complete_the_execution() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::embedded_server(dir.path()).await;
    let endpoint = format!("http://{}", server.local_addr());
    let cli = common::Cli {
        endpoint: endpoint.clone(),
    };
    let worker = gantry_examples::seed_worker(&endpoint).concurrency(4).build().unwrap();
    worker.register_tasks().await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    let mut admin = gantry_tests::client::Admin::connect(endpoint.clone()).await.unwrap();

    let (id, factor_gate) = start_gated(&cli, &mut admin).await;
    let waiting = cli.json(&["signal", "list", &id]).await;
    assert_eq!(
        waiting,
        json!([{"signal_id": "factor", "node_id": factor_gate, "type": "integer", "approval": false,
                "deadline": null, "value": null, "set_by": "", "set_at": null}])
    );

    // A string for an integer: the CLI reads the JSON as the gate's type and refuses it itself; --type passes it to
    // the server, which refuses it too, and nothing changes.
    let refused = cli.run(&["signal", "set", &id, "factor", r#""21""#]).await;
    assert!(!refused.status.success());
    let refused = cli
        .run(&["signal", "set", &id, "factor", r#""21""#, "--type", "string"])
        .await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("InvalidArgument") || said.contains("INVALID_ARGUMENT"),
        "{said}"
    );
    assert!(said.contains("expected integer, got string"), "{said}");
    assert_eq!(
        cli.json(&["signal", "list", &id]).await,
        waiting,
        "a refused signal changes nothing"
    );

    let set = cli.json(&["signal", "set", &id, "factor", "21"]).await;
    assert_eq!(set, json!({"changed": true, "opened_node_ids": [factor_gate]}));
    let again = cli
        .json(&["signal", "set", &id, "factor", "21", "--type", "integer"])
        .await;
    assert_eq!(again, json!({"changed": false, "opened_node_ids": []}));

    let approval_gate = gantry_tests::wait_for_node(&mut admin, &id, "dn2", pb::NodePhase::Running).await;
    let listed = cli.json(&["signal", "list", &id]).await;
    let approval = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|signal| signal["signal_id"] == "publish")
        .expect("the approval waits");
    assert_eq!(
        (approval["node_id"].as_str(), approval["type"].as_str()),
        (Some(approval_gate.as_str()), Some("approval"))
    );
    let factor = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|signal| signal["signal_id"] == "factor")
        .unwrap();
    assert_eq!(
        (factor["value"].clone(), factor["set_by"].as_str()),
        (json!(21), Some("developer"))
    );

    let approved = cli.json(&["approve", &id, "publish"]).await;
    assert_eq!(approved["opened_node_ids"], json!([approval_gate]));
    let done = gantry_tests::wait_for_terminal(&mut admin, &id).await;
    assert_eq!(done.phase, pb::ExecutionPhase::Succeeded as i32, "{:?}", done.error);
    let outputs: Value = serde_json::from_str(&cli.ok(&["outputs", &id]).await).unwrap();
    assert_eq!(outputs, json!({"out": 42}));
    let nodes = cli.ok(&["nodes", &id]).await;
    assert!(nodes.contains("gate"), "{nodes}");

    // Rejected: the approval gate fails, and with it the execution.
    let (rejected, _) = start_gated(&cli, &mut admin).await;
    cli.json(&["signal", "set", &rejected, "factor", "5"]).await;
    gantry_tests::wait_for_node(&mut admin, &rejected, "dn2", pb::NodePhase::Running).await;
    cli.json(&["reject", &rejected, "publish"]).await;
    let failed = gantry_tests::wait_for_terminal(&mut admin, &rejected).await;
    assert_eq!(failed.phase, pb::ExecutionPhase::Failed as i32);
    let error = failed.error.expect("an error");
    assert!(
        error.message.contains("gate_rejected") || error.message.contains("was refused"),
        "{error:?}"
    );

    // A decision is set once; a finished execution takes no new signal.
    let changed_mind = cli.run(&["approve", &rejected, "publish"]).await;
    let said = String::from_utf8_lossy(&changed_mind.stderr);
    assert!(said.contains("already set to another value by \"developer\""), "{said}");
    assert!(said.contains("FailedPrecondition"), "{said}");
    let finished = cli
        .run(&["signal", "set", &rejected, "late", "1", "--type", "integer"])
        .await;
    let said = String::from_utf8_lossy(&finished.stderr);
    assert!(
        said.contains("is already failed") && said.contains("FailedPrecondition"),
        "{said}"
    );

    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    server.shutdown().await.unwrap();
}
