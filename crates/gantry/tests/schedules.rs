//! A schedule through the CLI, end to end: the real server on 127.0.0.1:0 over an embedded SQLite file, a worker in
//! process whose task reports each run's kickoff time on a channel, and the built `gantry` binary. The plan is
//! registered from YAML with a one-second fixed rate, listed inactive, activated (its next ticks shown), ticks twice
//! by itself (the sweeper wakes for it), and is deactivated. Every wait is on the channel or a process exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use gantry_core::model::{LiteralType, Timestamp};
use gantry_worker::{Inputs, TaskContext, TaskDef, TaskError, TaskOutput, Worker};
use serde_json::Value;

const PLAN: &str = r#"
project: demo
domain: dev
version: "1"
tasks:
  - name: stamp
    inputs: {at: datetime}
launch_plans:
  - name: every_second
    task: stamp
    schedule: {fixed_rate: 1s, kickoff_input: at}
"#;

fn stamp_def() -> TaskDef {
    TaskDef::new("demo", "dev", "stamp", "1").input("at", LiteralType::Datetime)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_rate_schedule_ticks_by_itself_once_activated_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::embedded_server(dir.path()).await;
    let endpoint = format!("http://{}", server.local_addr());
    let cli = common::Cli {
        endpoint: endpoint.clone(),
    };
    let plan_file = dir.path().join("plan.yaml");
    std::fs::write(&plan_file, PLAN).unwrap();
    cli.json(&["register", plan_file.to_str().unwrap()]).await;

    let (ticked, mut ticks) = tokio::sync::mpsc::unbounded_channel::<i64>();
    let worker = Worker::builder(endpoint.clone())
        .task(stamp_def(), move |_ctx: TaskContext, inputs: Inputs| {
            let ticked = ticked.clone();
            async move {
                let at: Timestamp = inputs.get("at")?;
                let _ = ticked.send(at.seconds * 1000 + i64::from(at.nanos) / 1_000_000);
                Ok::<_, TaskError>(TaskOutput::none())
            }
        })
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));

    let listed = cli.json(&["schedule", "list"]).await;
    assert_eq!(listed[0]["launch_plan"], "demo/dev/every_second@1");
    assert_eq!(listed[0]["active"], false);
    assert_eq!(listed[0]["schedule"], "every 1s, tick time to \"at\"");
    assert_eq!(listed[0]["next_ticks"], serde_json::json!([]));

    let activated = cli.json(&["schedule", "activate", "every_second"]).await;
    assert_eq!(activated["active"], true);
    assert_eq!(activated["next_ticks"].as_array().unwrap().len(), 5);

    let mut next = async || {
        let tick = tokio::time::timeout(Duration::from_secs(60), ticks.recv()).await;
        tick.expect("a tick within a minute").expect("the worker runs")
    };
    let first = next().await;
    let second = next().await;
    assert_eq!(second - first, 1_000, "one tick a second, each with its own time");

    let deactivated = cli.json(&["schedule", "deactivate", "demo/dev/every_second@1"]).await;
    assert_eq!(deactivated["active"], false);
    assert_eq!(deactivated["next_ticks"], serde_json::json!([]));
    assert!(deactivated["last_tick"].is_string());

    let executions = cli.json(&["list", "--limit", "100"]).await;
    let scheduled: Vec<&Value> = executions
        .as_array()
        .unwrap()
        .iter()
        .filter(|execution| execution["origin"] == "scheduled")
        .collect();
    assert!(scheduled.len() >= 2, "{executions}");
    let names: Vec<&str> = scheduled
        .iter()
        .map(|execution| execution["name"].as_str().unwrap())
        .collect();
    let plan = gantry_core::model::Identifier::new("demo", "dev", "every_second", "1");
    for tick in [first, second] {
        let name = gantry_core::schedule::execution_name(&plan, tick);
        assert!(names.contains(&name.as_str()), "{names:?} lacks {name}");
    }

    // A later version under a name that sorts first: a bare name means the version registered last.
    let later = dir.path().join("later.yaml");
    std::fs::write(&later, PLAN.replace("version: \"1\"", "version: \"0\"")).unwrap();
    cli.json(&["register", later.to_str().unwrap()]).await;
    let shown = cli.json(&["launch-plan", "show", "every_second"]).await;
    assert_eq!(shown["id"], "demo/dev/every_second@0", "{shown}");
    let activated = cli.json(&["schedule", "activate", "every_second"]).await;
    assert_eq!(activated["launch_plan"], "demo/dev/every_second@0");
    let stopped = cli.json(&["schedule", "deactivate", "every_second@0"]).await;
    assert_eq!(stopped["active"], false);

    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    server.shutdown().await.unwrap();
}
