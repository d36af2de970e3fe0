//! Terminating an execution in the middle of a nested dynamic fan-out (`nest(2)`: three levels of generators, twelve
//! leaf tasks held by a worker) leaves nothing queued or running at any depth: every node and attempt is ABORTED,
//! the worker learns CANCEL from its heartbeat, and its late completions are refused.

use std::time::Duration;

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::raw_worker::{self, id};
use gantry_tests::scripted::{self, Scripted, register};
use gantry_tests::{Backend, TestServer, wait_for_terminal};

async fn terminate_nested_fan_out(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    register(&mut admin, raw_worker::task_templates()).await;
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id("nest").into())),
        inputs: Some(LiteralMap::from([("depth".to_owned(), Literal::Integer(2))]).into()),
        ..Default::default()
    };
    let execution_id = admin
        .create_execution(request)
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution")
        .id;
    let mut worker = Scripted::new(&server, "holder").await;
    // 1 + 2 + 4 generators complete; 4 × 3 leaves are claimed and held.
    let held = scripted::hold_leaves(&mut worker, 12, Duration::from_secs(20)).await;
    assert_eq!(held.len(), 12);
    assert!(
        held.iter().all(|a| scripted::node_id(a).matches('/').count() == 6),
        "the held leaves are three levels down"
    );

    let terminated = admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id: execution_id.clone(),
            reason: "stop the fan-out".into(),
        })
        .await
        .expect("terminate")
        .into_inner()
        .execution
        .expect("execution");
    assert_eq!(terminated.phase, pb::ExecutionPhase::Aborted as i32);
    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Aborted as i32);
    scripted::assert_all_aborted(&mut admin, &mut worker, &execution_id, &held, 1 + 2 + 4 + 12).await;
    // Nothing is left for a worker to claim.
    assert!(worker.poll(64, Duration::ZERO).await.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_a_nested_fan_out_aborts_everything_on_postgres() {
    terminate_nested_fan_out(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_a_nested_fan_out_aborts_everything_on_sqlite() {
    terminate_nested_fan_out(Backend::Sqlite).await;
}
