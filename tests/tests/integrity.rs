//! Nothing the server acknowledged is ever undone, whatever arrives with it. A worker completes each attempt while a
//! heartbeat for the same attempt is in flight (an SDK's heartbeat falls due while it reports), six other clients
//! keep the writer busy with empty polls so that both land in one batch, and the records must say exactly what the
//! completions were acknowledged with: the first attempt failed with a recoverable user error, the second succeeded,
//! nothing left running, no lease expired. Before the fix a heartbeat applied after the completion in the same batch
//! wrote the attempt back to `running`.

use std::time::Duration;

use gantry_core::model::{Literal, LiteralMap, RetryPolicy};
use gantry_proto::v1 as pb;
use gantry_tests::raw_worker::{self, acknowledged, completion, id};
use gantry_tests::records::{self, Acknowledged};
use gantry_tests::scripted::{self, register};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tokio::sync::watch;

const EXECUTIONS: usize = 200;
const QUEUE: &str = "racy";

async fn completion_and_heartbeat_together(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    let mut task = raw_worker::template(
        "racy",
        &[("index", gantry_core::model::LiteralType::Integer)],
        &[("other_task_out", gantry_core::model::LiteralType::Integer)],
    );
    task.metadata.queue = QUEUE.to_owned();
    task.metadata.retries = RetryPolicy {
        user_retries: 1,
        system_retries: 0,
        initial_backoff: gantry_core::model::Duration::from_millis(0),
        max_backoff: gantry_core::model::Duration::from_millis(0),
    };
    register(&mut admin, [task]).await;
    let mut executions = Vec::with_capacity(EXECUTIONS);
    for index in 0..EXECUTIONS as i64 {
        let request = pb::CreateExecutionRequest {
            project: "demo".into(),
            domain: "dev".into(),
            target: Some(pb::create_execution_request::Target::Task(id("racy").into())),
            inputs: Some(LiteralMap::from([("index".to_owned(), Literal::Integer(index))]).into()),
            ..Default::default()
        };
        let created = admin.create_execution(request).await.expect("create").into_inner();
        executions.push(created.execution.expect("execution").id);
    }

    // Six clients keep the writer busy, so that a completion and a heartbeat sent together share a batch.
    let (stop, stopped) = watch::channel(false);
    let mut busy = Vec::new();
    for n in 0..6 {
        let mut worker = server.worker().await;
        let mut stopped = stopped.clone();
        busy.push(tokio::spawn(async move {
            let mut polls = 0u64;
            while !*stopped.borrow_and_update() {
                let poll = pb::PollTasksRequest {
                    worker_id: format!("idle-{n}"),
                    queues: vec!["nothing-here".into()],
                    max_attempts: 1,
                    wait: Some(prost_types::Duration { seconds: 0, nanos: 0 }),
                };
                worker.poll_tasks(poll).await.expect("empty poll");
                polls += 1;
            }
            polls
        }));
    }

    let mut worker = server.worker().await;
    let mut acknowledged_completions: Vec<Acknowledged> = Vec::new();
    let mut pending = Vec::new();
    let mut succeeded = 0;
    while succeeded < EXECUTIONS {
        let poll = pb::PollTasksRequest {
            worker_id: "racer".into(),
            queues: vec![QUEUE.into()],
            max_attempts: 64,
            wait: Some(prost_types::Duration { seconds: 5, nanos: 0 }),
        };
        let assignments = worker.poll_tasks(poll).await.expect("poll").into_inner().assignments;
        assert!(!assignments.is_empty(), "work was left to claim");
        for assignment in assignments {
            let first = scripted::attempt_number(&assignment) == 0;
            let result = if first {
                scripted::error(pb::ErrorKind::User, true, "try_again")
            } else {
                succeeded += 1;
                pb::completion::Result::Outputs(
                    LiteralMap::from([("other_task_out".to_owned(), Literal::Integer(1))]).into(),
                )
            };
            let (mut completing, mut heartbeating) = (worker.clone(), worker.clone());
            pending.push(tokio::spawn(async move {
                let complete = pb::CompleteAttemptsRequest {
                    worker_id: "racer".into(),
                    completions: vec![completion(&assignment, result)],
                };
                let heartbeat = pb::HeartbeatRequest {
                    worker_id: "racer".into(),
                    attempts: vec![pb::LeasedAttempt {
                        attempt: assignment.attempt.clone(),
                        lease_id: assignment.lease_id.clone(),
                    }],
                };
                let (completed, _) = tokio::join!(
                    completing.complete_attempts(complete),
                    heartbeating.heartbeat(heartbeat)
                );
                completed.expect("complete").into_inner().results
            }));
        }
        // A retry is queued only once its first attempt's completion was applied.
        for task in pending.drain(..) {
            for result in task.await.expect("completion task") {
                assert_eq!(
                    result.status,
                    pb::CompletionStatus::Accepted as i32,
                    "{}",
                    result.message
                );
                acknowledged_completions.extend(acknowledged(&result));
            }
        }
    }
    stop.send(true).expect("stop");
    let mut polls = 0;
    for client in busy {
        polls += client.await.expect("busy client");
    }

    let mut failed = Vec::new();
    for execution_id in &executions {
        let execution = wait_for_terminal(&mut admin, execution_id).await;
        if execution.phase != pb::ExecutionPhase::Succeeded as i32 {
            failed.push(execution_id.clone());
        }
    }
    let db = server.records_db().await;
    let report = records::check(&db, &acknowledged_completions).await;
    db.close().await;
    println!(
        "{backend:?}: {} of {EXECUTIONS} executions failed; {} completions acknowledged; {polls} empty polls alongside; \
         records {report:?}",
        failed.len(),
        acknowledged_completions.len()
    );
    assert!(
        failed.is_empty(),
        "executions failed although every worker did right: {failed:?}"
    );
    assert_eq!(acknowledged_completions.len(), 2 * EXECUTIONS);
    assert_eq!(report.attempts, 2 * EXECUTIONS, "two attempts per execution, no more");
    assert_eq!(report.error_codes.get("try_again"), Some(&EXECUTIONS));
    assert_eq!(report.error_codes.get("lease_expired"), None);
    report.assert_sound();
    // The heartbeats sent with the last completions must not keep anything alive.
    tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .expect("the server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_with_a_completion_undoes_nothing_postgres() {
    completion_and_heartbeat_together(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_with_a_completion_undoes_nothing_sqlite() {
    completion_and_heartbeat_together(Backend::Sqlite).await;
}
