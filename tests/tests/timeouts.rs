//! Timeouts end to end, on Postgres and SQLite: an attempt past its timeout is timed out by the server whether or not
//! its worker stops (and retried under the user budget), an attempt nobody claims times out in the queue, and an
//! execution past its timeout aborts everything below it. Every figure is read from the server's records.

use std::time::Duration;

use gantry_core::model::{Literal, LiteralMap, RetryPolicy};
use gantry_proto::v1 as pb;
use gantry_tests::raw_worker::{self, id};
use gantry_tests::scripted::{self, Scripted, attempts, millis, ms, node, register};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tonic::Code;

fn create(task: &str, input: (&str, i64), timeout_ms: Option<i64>) -> pb::CreateExecutionRequest {
    pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id(task).into())),
        inputs: Some(LiteralMap::from([(input.0.to_owned(), Literal::Integer(input.1))]).into()),
        timeout: timeout_ms.map(millis),
        ..Default::default()
    }
}

async fn start(
    admin: &mut gantry_proto::v1::admin_service_client::AdminServiceClient<tonic::transport::Channel>,
    request: pb::CreateExecutionRequest,
) -> pb::Execution {
    admin
        .create_execution(request)
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution")
}

async fn attempt_past_its_timeout(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    let mut task = raw_worker::task_templates().remove(0);
    task.metadata.timeout = Some(gantry_core::model::Duration::from_millis(300));
    task.metadata.retries = RetryPolicy {
        user_retries: 1,
        system_retries: 3,
        initial_backoff: gantry_core::model::Duration::from_millis(50),
        max_backoff: gantry_core::model::Duration::from_secs(1),
    };
    register(&mut admin, [task]).await;
    let execution = start(&mut admin, create("other_task", ("index", 1), None)).await;
    let mut worker = Scripted::new(&server, "stubborn").await;

    let first = worker.poll_one().await;
    let records = attempts(&mut admin, &execution.id, "n0").await;
    assert_eq!(
        ms(&first.deadline),
        ms(&records[0].started_at) + 300,
        "the deadline is the claim time plus the task's timeout"
    );
    assert_eq!(ms(&first.deadline), ms(&records[0].deadline));
    // The worker never stops: the server times the attempt out at its deadline anyway (the lease is 30 s), and
    // the retry comes after the backoff.
    let second = worker.poll_one().await;
    assert_eq!(scripted::attempt_number(&second), 1);
    let statuses = worker.heartbeat(std::slice::from_ref(&first)).await;
    assert_eq!(
        statuses[0].state,
        pb::LeaseState::Cancel as i32,
        "the timed-out attempt is cancelled"
    );
    let late = worker
        .complete(vec![raw_worker::completion(&first, raw_worker::result_for(&first))])
        .await;
    assert_eq!(late[0].status, pb::CompletionStatus::Rejected as i32);
    assert_eq!(late[0].code, Code::FailedPrecondition as i32, "{}", late[0].message);

    // The retry times out too: the user budget (1) is spent and the node is TIMED_OUT.
    let finished = wait_for_terminal(&mut admin, &execution.id).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::Failed as i32);
    assert_eq!(
        finished.error.as_ref().map(|e| e.code.as_str()),
        Some("attempt_timeout")
    );
    let n0 = node(&mut admin, &execution.id, "n0").await;
    assert_eq!(
        (n0.phase, n0.attempts, n0.user_failures, n0.system_failures),
        (pb::NodePhase::TimedOut as i32, 2, 2, 0)
    );
    let records = attempts(&mut admin, &execution.id, "n0").await;
    for record in &records {
        assert_eq!(record.phase, pb::AttemptPhase::TimedOut as i32);
        let error = record.error.as_ref().expect("error");
        assert_eq!(
            (error.code.as_str(), error.kind, error.recoverable),
            ("attempt_timeout", pb::ErrorKind::User as i32, true)
        );
        assert!(ms(&record.finished_at) >= ms(&record.deadline), "never timed out early");
    }
    assert_eq!(
        ms(&records[1].not_before) - ms(&records[0].finished_at),
        50,
        "the retry waits the backoff after the timeout"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_past_its_timeout_is_timed_out_retried_then_timed_out_on_postgres() {
    attempt_past_its_timeout(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_past_its_timeout_is_timed_out_retried_then_timed_out_on_sqlite() {
    attempt_past_its_timeout(Backend::Sqlite).await;
}

async fn attempt_nobody_claims(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    let mut task = raw_worker::task_templates().remove(0);
    task.metadata.queue = "nobody".into();
    task.metadata.queue_timeout = Some(gantry_core::model::Duration::from_millis(200));
    register(&mut admin, [task]).await;
    let execution = start(&mut admin, create("other_task", ("index", 1), None)).await;

    let finished = wait_for_terminal(&mut admin, &execution.id).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::Failed as i32);
    let n0 = node(&mut admin, &execution.id, "n0").await;
    assert_eq!(
        (n0.phase, n0.attempts, n0.user_failures, n0.system_failures),
        (pb::NodePhase::TimedOut as i32, 1, 0, 1),
        "a queue timeout is not retried, though system retries remain"
    );
    let records = attempts(&mut admin, &execution.id, "n0").await;
    assert_eq!(records.len(), 1);
    let error = records[0].error.as_ref().expect("error");
    assert_eq!(
        (records[0].phase, error.code.as_str(), error.kind, error.recoverable),
        (
            pb::AttemptPhase::TimedOut as i32,
            "queue_timeout",
            pb::ErrorKind::System as i32,
            false
        )
    );
    assert_eq!(ms(&records[0].deadline), ms(&records[0].not_before) + 200);
    assert!(ms(&records[0].finished_at) >= ms(&records[0].deadline));
    assert!(
        records[0].worker_id.is_empty() && records[0].started_at.is_none(),
        "never claimed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_nobody_claims_times_out_in_the_queue_on_postgres() {
    attempt_nobody_claims(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_nobody_claims_times_out_in_the_queue_on_sqlite() {
    attempt_nobody_claims(Backend::Sqlite).await;
}

/// `nest(1)`: generators complete, the 6 leaf `other_task`s are claimed and held, then the execution's timeout
/// passes: everything below is aborted, the held attempts are cancelled and their completions refused.
async fn execution_past_its_timeout(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    register(&mut admin, raw_worker::task_templates()).await;
    let execution = start(&mut admin, create("nest", ("depth", 1), Some(1_000))).await;
    assert_eq!(ms(&execution.deadline), ms(&execution.created_at) + 1_000);
    assert_eq!(execution.timeout, Some(millis(1_000)));

    let mut worker = Scripted::new(&server, "holder").await;
    let held = scripted::hold_leaves(&mut worker, 6, Duration::from_secs(10)).await;
    assert_eq!(held.len(), 6, "every leaf was claimed before the timeout");

    let finished = wait_for_terminal(&mut admin, &execution.id).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::TimedOut as i32);
    assert_eq!(
        finished.error.as_ref().map(|e| e.code.as_str()),
        Some("execution_timeout")
    );
    assert!(ms(&finished.finished_at) >= ms(&finished.deadline));
    scripted::assert_all_aborted(&mut admin, &mut worker, &execution.id, &held, 9).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_past_its_timeout_aborts_every_descendant_on_postgres() {
    execution_past_its_timeout(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_past_its_timeout_aborts_every_descendant_on_sqlite() {
    execution_past_its_timeout(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_plan_timeout_is_the_default_and_the_request_overrides_it() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut admin = server.admin().await;
    register(&mut admin, raw_worker::task_templates()).await;
    let plan = pb::LaunchPlan {
        id: Some(id("timed_plan").into()),
        target: Some(id("other_task").into()),
        target_type: pb::ResourceType::Task as i32,
        timeout: Some(millis(200)),
        ..Default::default()
    };
    admin
        .register_launch_plan(pb::RegisterLaunchPlanRequest {
            launch_plan: Some(plan),
        })
        .await
        .expect("register launch plan");
    let by_plan = |timeout: Option<i64>| pb::CreateExecutionRequest {
        target: Some(pb::create_execution_request::Target::LaunchPlan(
            id("timed_plan").into(),
        )),
        ..create("other_task", ("index", 1), timeout)
    };
    let defaulted = start(&mut admin, by_plan(None)).await;
    let overridden = start(&mut admin, by_plan(Some(60_000))).await;
    assert_eq!(defaulted.timeout, Some(millis(200)));
    assert_eq!(ms(&overridden.deadline), ms(&overridden.created_at) + 60_000);

    // No worker runs: the defaulted one times out with its attempt still queued, which is aborted.
    let finished = wait_for_terminal(&mut admin, &defaulted.id).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::TimedOut as i32);
    let records = attempts(&mut admin, &defaulted.id, "n0").await;
    assert_eq!(records[0].phase, pb::AttemptPhase::Aborted as i32);
    let still = admin
        .get_execution(pb::GetExecutionRequest {
            id: overridden.id.clone(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner()
        .execution
        .expect("execution");
    assert_eq!(
        still.phase,
        pb::ExecutionPhase::Running as i32,
        "its own timeout is far away"
    );

    let zero = admin
        .create_execution(by_plan(Some(0)))
        .await
        .expect_err("a zero timeout is refused");
    assert_eq!(zero.code(), Code::InvalidArgument);
    assert!(zero.message().contains("timeout"), "{}", zero.message());
    server.stop().await;
}

/// A dynamic spec's node override replaces the task's (absent) timeout: the child's assignment carries the deadline
/// and the overridden metadata, and the child times out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_override_gives_a_dynamic_child_its_timeout() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut admin = server.admin().await;
    register(&mut admin, raw_worker::task_templates()).await;
    let execution = start(&mut admin, create("generate_others", ("tasks_count", 1), None)).await;
    let mut worker = Scripted::new(&server, "w").await;
    let generator = worker.poll_one().await;
    assert!(generator.deadline.is_none(), "no timeout, no deadline");
    let mut spec = raw_worker::seed_spec(1);
    spec.nodes[0].overrides.timeout = Some(gantry_core::model::Duration::from_millis(250));
    worker
        .finish(&generator, pb::completion::Result::DynamicSpec(spec.into()))
        .await;
    let child = worker.poll_one().await;
    let metadata = child.task.as_ref().and_then(|t| t.metadata.as_ref()).expect("metadata");
    assert_eq!(
        metadata.timeout,
        Some(millis(250)),
        "the override is applied to the assignment's task"
    );
    let records = attempts(&mut admin, &execution.id, "n0/0/dn0").await;
    assert_eq!(ms(&child.deadline), ms(&records[0].started_at) + 250);

    let finished = wait_for_terminal(&mut admin, &execution.id).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::Failed as i32);
    assert_eq!(
        node(&mut admin, &execution.id, "n0/0/dn0").await.phase,
        pb::NodePhase::TimedOut as i32
    );
    assert_eq!(
        node(&mut admin, &execution.id, "n0").await.phase,
        pb::NodePhase::Failed as i32
    );
    server.stop().await;
}

/// Under `max_parallelism = 1` a child waiting for a slot is parked: its queue timeout does not run while it waits
/// for its own execution's limit, only from its release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_timeout_counts_from_the_release_of_a_parked_attempt() {
    let server = TestServer::start(Backend::Postgres).await;
    let mut admin = server.admin().await;
    let mut tasks = raw_worker::task_templates();
    tasks[0].metadata.queue_timeout = Some(gantry_core::model::Duration::from_secs(60));
    register(&mut admin, tasks).await;
    let request = pb::CreateExecutionRequest {
        max_parallelism: Some(1),
        ..create("generate_others", ("tasks_count", 2), None)
    };
    let execution = start(&mut admin, request).await;
    let mut worker = Scripted::new(&server, "w").await;
    let generator = worker.poll_one().await;
    worker.finish(&generator, raw_worker::result_for(&generator)).await;
    let first = worker.poll_one().await;
    assert_eq!(scripted::node_id(&first), "n0/0/dn0");
    let parked = attempts(&mut admin, &execution.id, "n0/0/dn1").await;
    assert_eq!(parked[0].deadline, None, "no queue deadline while parked");
    worker.finish(&first, raw_worker::result_for(&first)).await;
    // Released by the completion that freed the slot, and not claimed yet.
    let released = attempts(&mut admin, &execution.id, "n0/0/dn1").await;
    assert_eq!(released[0].phase, pb::AttemptPhase::Queued as i32);
    assert_eq!(
        ms(&released[0].deadline),
        ms(&released[0].not_before) + 60_000,
        "the queue deadline counts from the release"
    );
    let first_record = attempts(&mut admin, &execution.id, "n0/0/dn0").await;
    assert_eq!(
        ms(&released[0].not_before),
        ms(&first_record[0].finished_at),
        "released as the slot freed"
    );
    let second = worker.poll_one().await;
    worker.finish(&second, raw_worker::result_for(&second)).await;
    let finished = wait_for_terminal(&mut admin, &execution.id).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::Succeeded as i32);
    server.stop().await;
}
