//! Spec limits (issue 9, "input that kills workers"): the seed with `tasks_count = 2^63 - 1` on the Rust example
//! worker fails its execution at once with a non-recoverable `spec_too_large` naming the limit the server announced —
//! one attempt, no child, no retry — and the worker goes on serving. The server enforces the node limit itself: a
//! spec over it is refused with RESOURCE_EXHAUSTED and the attempt keeps running. On Postgres and on SQLite.

use std::time::{Duration, Instant};

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin};
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tokio::sync::oneshot;

/// Small enough for a runaway generator to reach quickly in a debug build, far above the specs the test accepts.
const SPEC_NODES: u64 = 10_000;
/// Generous for a debug build on a busy machine; what matters is that nothing like 2^63 nodes is attempted.
const FAILS_WITHIN: Duration = Duration::from_secs(60);

fn seed_inputs(tasks_count: i64) -> LiteralMap {
    LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(tasks_count))])
}

/// The server refuses a spec over its node limit, naming it, and the attempt keeps running: a valid spec afterwards
/// is accepted.
async fn the_server_refuses_a_spec_over_its_node_limit(server: &TestServer, admin: &mut Admin) {
    let execution = client::create(
        admin,
        client::task_target(id("generate_others")),
        seed_inputs(3),
        |_| {},
    )
    .await;
    let mut worker = server.worker().await;
    let poll = pb::PollTasksRequest {
        worker_id: "raw".to_owned(),
        queues: vec!["default".to_owned()],
        max_attempts: 1,
        wait: Some(prost_types::Duration { seconds: 10, nanos: 0 }),
        completions: Vec::new(),
    };
    let response = worker.poll_tasks(poll).await.expect("poll").into_inner();
    let limits = response.limits.expect("every poll response announces the limits");
    assert_eq!(limits.max_spec_nodes, SPEC_NODES);
    // The spec limit alone (256 MiB by default), beyond the 64 MiB message limit: a spec goes by itself in a
    // `CompleteAttempts` call, which the server takes that large.
    assert_eq!(limits.max_spec_bytes, 256 * 1024 * 1024);
    let assignment = &response.assignments[0];
    assert_eq!(assignment.attempt.as_ref().expect("attempt").execution_id, execution.id);
    let complete = |spec: gantry_core::model::DynamicJobSpec| pb::CompleteAttemptsRequest {
        worker_id: "raw".to_owned(),
        completions: vec![raw_worker::completion(
            assignment,
            pb::completion::Result::DynamicSpec(spec.into()),
        )],
    };
    let over = complete(raw_worker::seed_spec(SPEC_NODES as i64 + 1));
    let result = &worker
        .complete_attempts(over)
        .await
        .expect("complete")
        .into_inner()
        .results[0];
    assert_eq!(result.status, pb::CompletionStatus::Rejected as i32);
    assert_eq!(result.code, tonic::Code::ResourceExhausted as i32);
    assert!(
        result.message.contains("10001 nodes, above the limit of 10000 nodes"),
        "{}",
        result.message
    );
    let within = complete(raw_worker::seed_spec(3));
    let result = &worker
        .complete_attempts(within)
        .await
        .expect("complete")
        .into_inner()
        .results[0];
    assert_eq!(
        result.status,
        pb::CompletionStatus::Accepted as i32,
        "{}",
        result.message
    );
}

async fn a_runaway_generator_fails_at_once(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.max_spec_nodes = SPEC_NODES).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    the_server_refuses_a_spec_over_its_node_limit(&server, &mut admin).await;

    let worker = gantry_examples::seed_worker(&server.endpoint)
        .concurrency(8)
        .build()
        .expect("the example worker");
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(stopped));

    let started = Instant::now();
    let runaway = client::create(
        &mut admin,
        client::task_target(id("generate_others")),
        seed_inputs(i64::MAX),
        |_| {},
    )
    .await;
    let execution = wait_for_terminal(&mut admin, &runaway.id).await;
    let elapsed = started.elapsed();
    println!("{backend:?}: generate_others(2^63 - 1) failed in {elapsed:?}");
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    let error = execution.error.expect("the execution's error");
    assert_eq!(
        (error.kind, error.code.as_str(), error.recoverable),
        (pb::ErrorKind::User as i32, "spec_too_large", false)
    );
    assert!(error.message.contains("limit of 10000 nodes"), "{}", error.message);
    assert!(elapsed < FAILS_WITHIN, "failed after {elapsed:?}");
    let top = client::children(&mut admin, &runaway.id, "").await;
    let [top] = top.as_slice() else {
        panic!("one top-level node: {top:?}")
    };
    assert_eq!(top.phase, pb::NodePhase::Failed as i32);
    assert_eq!(
        client::attempts(&mut admin, &runaway.id, &top.node_id).await.len(),
        1,
        "not retried"
    );
    assert!(
        client::children(&mut admin, &runaway.id, &top.node_id).await.is_empty(),
        "no child was created"
    );

    // The worker is still serving: the refused-then-accepted spec's children and a new seed run on it.
    assert!(!running.is_finished(), "the worker is still running");
    let seed = client::create(
        &mut admin,
        client::task_target(id("generate_others")),
        seed_inputs(5),
        |_| {},
    )
    .await;
    let execution = wait_for_terminal(&mut admin, &seed.id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );

    stop.send(()).expect("the worker is listening");
    running.await.expect("the worker task").expect("a clean stop");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_generator_fails_at_once_on_postgres() {
    a_runaway_generator_fails_at_once(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_generator_fails_at_once_on_sqlite() {
    a_runaway_generator_fails_at_once(Backend::Sqlite).await;
}
