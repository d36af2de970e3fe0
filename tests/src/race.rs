//! The heartbeat/completion race as a user meets it: a worker completes each attempt while a heartbeat for the same
//! attempt is in flight (an SDK's heartbeat falls due while it reports), and six other clients keep the writer busy
//! with empty polls so that both land in one batch. Each first attempt fails with a recoverable user error, each
//! second one succeeds. Used against one server (both stores) and across replicas (the completion to one, the
//! heartbeat to another).

use gantry_core::model::{Literal, LiteralMap, LiteralType, RetryPolicy};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use tokio::sync::watch;
use tonic::transport::Channel;

use crate::raw_worker::{self, acknowledged, completion, id};
use crate::records::{self, Acknowledged, Db};
use crate::scripted::{self, register};
use crate::wait_for_terminal;

/// How many executions the race runs.
pub const EXECUTIONS: usize = 200;
const QUEUE: &str = "racy";

/// Where the race sends what.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Registration, executions, polls and completions.
    pub main: String,
    /// Heartbeats (the same server, or another replica).
    pub heartbeats: String,
    /// The busy clients' empty polls.
    pub busy: Vec<String>,
}

/// What came of it.
#[derive(Debug)]
pub struct RaceOutcome {
    pub failed_executions: Vec<String>,
    pub acknowledged: Vec<Acknowledged>,
    pub empty_polls: u64,
    pub report: records::Report,
}

impl RaceOutcome {
    /// Every execution succeeded and the records say exactly what was acknowledged.
    pub fn assert_nothing_undone(&self) {
        assert!(
            self.failed_executions.is_empty(),
            "executions failed although every worker did right: {:?}",
            self.failed_executions
        );
        assert_eq!(self.acknowledged.len(), 2 * EXECUTIONS);
        assert_eq!(
            self.report.attempts,
            2 * EXECUTIONS,
            "two attempts per execution, no more"
        );
        assert_eq!(self.report.error_codes.get("try_again"), Some(&EXECUTIONS));
        assert_eq!(self.report.error_codes.get("lease_expired"), None);
        self.report.assert_sound();
    }
}

async fn connect_admin(endpoint: &str) -> AdminServiceClient<Channel> {
    AdminServiceClient::connect(endpoint.to_owned())
        .await
        .expect("admin connects")
}

async fn connect_worker(endpoint: &str) -> WorkerServiceClient<Channel> {
    WorkerServiceClient::connect(endpoint.to_owned())
        .await
        .expect("worker connects")
}

/// Runs the race and reads the records from `db`.
pub async fn run(endpoints: &Endpoints, db: &Db) -> RaceOutcome {
    let mut admin = connect_admin(&endpoints.main).await;
    let mut task = raw_worker::template(
        "racy",
        &[("index", LiteralType::Integer)],
        &[("other_task_out", LiteralType::Integer)],
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

    // Six clients keep the writers busy, so that a completion and a heartbeat sent together share a batch.
    let (stop, stopped) = watch::channel(false);
    let mut busy = Vec::new();
    for n in 0..6 {
        let mut worker = connect_worker(&endpoints.busy[n % endpoints.busy.len()]).await;
        let mut stopped = stopped.clone();
        busy.push(tokio::spawn(async move {
            let mut polls = 0u64;
            while !*stopped.borrow_and_update() {
                let poll = pb::PollTasksRequest {
                    worker_id: format!("idle-{n}"),
                    queues: vec!["nothing-here".into()],
                    max_attempts: 1,
                    wait: Some(prost_types::Duration { seconds: 0, nanos: 0 }),
                    completions: Vec::new(),
                };
                worker.poll_tasks(poll).await.expect("empty poll");
                polls += 1;
            }
            polls
        }));
    }

    let mut worker = connect_worker(&endpoints.main).await;
    let heartbeats = connect_worker(&endpoints.heartbeats).await;
    let mut acknowledged_completions: Vec<Acknowledged> = Vec::new();
    let mut succeeded = 0;
    while succeeded < EXECUTIONS {
        let poll = pb::PollTasksRequest {
            worker_id: "racer".into(),
            queues: vec![QUEUE.into()],
            max_attempts: 64,
            wait: Some(prost_types::Duration { seconds: 5, nanos: 0 }),
            completions: Vec::new(),
        };
        let assignments = worker.poll_tasks(poll).await.expect("poll").into_inner().assignments;
        assert!(!assignments.is_empty(), "work was left to claim");
        let mut pending = Vec::new();
        for assignment in assignments {
            let result = if scripted::attempt_number(&assignment) == 0 {
                scripted::error(pb::ErrorKind::User, true, "try_again")
            } else {
                succeeded += 1;
                pb::completion::Result::Outputs(
                    LiteralMap::from([("other_task_out".to_owned(), Literal::Integer(1))]).into(),
                )
            };
            let (mut completing, mut heartbeating) = (worker.clone(), heartbeats.clone());
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
        for task in pending {
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
    let mut empty_polls = 0;
    for client in busy {
        empty_polls += client.await.expect("busy client");
    }
    let mut failed_executions = Vec::new();
    for execution_id in &executions {
        let execution = wait_for_terminal(&mut admin, execution_id).await;
        if execution.phase != pb::ExecutionPhase::Succeeded as i32 {
            failed_executions.push(execution_id.clone());
        }
    }
    let report = records::check(db, &acknowledged_completions).await;
    RaceOutcome {
        failed_executions,
        acknowledged: acknowledged_completions,
        empty_polls,
        report,
    }
}
