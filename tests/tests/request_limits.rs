//! Limits on what one request may ask for (worker.proto and admin.proto): queues and attempts per poll, completions
//! per call, leases per heartbeat, page sizes. Beyond them the server answers INVALID_ARGUMENT at once, naming the
//! field, the limit and the value, before anything reaches the engine's writer; at them it serves the request. And
//! while one client sends the oversized poll over and over, or polls and completes at the allowed maximum, another
//! client's writes keep their latency — on Postgres and on SQLite.

use std::time::{Duration, Instant};

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin};
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tokio::sync::watch;
use tonic::Code;

/// An oversized request is refused at the edge: this is generous for a debug build on a busy machine.
const REFUSED_WITHIN: Duration = Duration::from_secs(2);
/// Every other client's call must come back within this while the big requests go on.
const OTHERS_WITHIN: Duration = Duration::from_secs(2);

fn queues(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("queue-{i}")).collect()
}

fn poll(queues: Vec<String>, max_attempts: u32) -> pb::PollTasksRequest {
    pb::PollTasksRequest {
        worker_id: "limits".to_owned(),
        queues,
        max_attempts,
        wait: Some(prost_types::Duration { seconds: 0, nanos: 0 }),
        completions: Vec::new(),
    }
}

/// A completion that names no real attempt: only its count matters here.
fn stranger_completion(i: usize) -> pb::Completion {
    pb::Completion {
        attempt: Some(pb::AttemptRef {
            execution_id: uuid::Uuid::now_v7().to_string(),
            node_id: format!("n{i}"),
            attempt: 0,
        }),
        lease_id: uuid::Uuid::now_v7().to_string(),
        result: Some(pb::completion::Result::Outputs(LiteralMap::new().into())),
    }
}

fn stranger_lease(i: usize) -> pb::LeasedAttempt {
    let completion = stranger_completion(i);
    pb::LeasedAttempt {
        attempt: completion.attempt,
        lease_id: completion.lease_id,
    }
}

/// Asserts an INVALID_ARGUMENT that names `field`, `limit` and `given`, answered within [`REFUSED_WITHIN`].
fn assert_refused<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, tonic::Status>,
    elapsed: Duration,
    (field, limit, given): (&str, usize, usize),
) {
    let status = result.expect_err(&format!("{what}: the server must refuse it"));
    assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    let message = status.message();
    assert!(
        message.starts_with(field),
        "{what}: the message names the field: {message}"
    );
    assert!(
        message.contains(&format!("limit of {limit}")),
        "{what}: the message names the limit: {message}"
    );
    assert!(
        message.contains(&given.to_string()),
        "{what}: the message names the value: {message}"
    );
    assert!(elapsed < REFUSED_WITHIN, "{what}: refused after {elapsed:?}");
    println!("{what}: refused in {elapsed:?}: {message}");
}

macro_rules! timed {
    ($call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        (result, started.elapsed())
    }};
}

async fn oversized_requests_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    let mut worker = server.worker().await;

    let (result, elapsed) = timed!(worker.poll_tasks(poll(queues(100_000), 1)));
    assert_refused("a poll of 100,000 queues", result, elapsed, ("queues", 100, 100_000));
    let (result, elapsed) = timed!(worker.poll_tasks(poll(queues(101), 1)));
    assert_refused("a poll of 101 queues", result, elapsed, ("queues", 100, 101));
    let (result, elapsed) = timed!(worker.poll_tasks(poll(queues(1), 1_001)));
    assert_refused(
        "a poll for 1,001 attempts",
        result,
        elapsed,
        ("max_attempts", 1_000, 1_001),
    );
    let carrying = pb::PollTasksRequest {
        completions: (0..1_001).map(stranger_completion).collect(),
        ..poll(queues(1), 1)
    };
    let (result, elapsed) = timed!(worker.poll_tasks(carrying));
    assert_refused(
        "a poll carrying 1,001 completions",
        result,
        elapsed,
        ("completions", 1_000, 1_001),
    );
    let at_the_limit = worker.poll_tasks(poll(queues(100), 1_000)).await;
    assert!(
        at_the_limit.is_ok(),
        "100 queues and 1,000 attempts are allowed: {at_the_limit:?}"
    );

    let completions = (0..1_001).map(stranger_completion).collect();
    let request = pb::CompleteAttemptsRequest {
        worker_id: "limits".to_owned(),
        completions,
    };
    let (result, elapsed) = timed!(worker.complete_attempts(request));
    assert_refused(
        "1,001 completions in one call",
        result,
        elapsed,
        ("completions", 1_000, 1_001),
    );
    let request = pb::CompleteAttemptsRequest {
        worker_id: "limits".to_owned(),
        completions: (0..1_000).map(stranger_completion).collect(),
    };
    let results = worker
        .complete_attempts(request)
        .await
        .expect("1,000 completions are allowed");
    assert_eq!(
        results.into_inner().results.len(),
        1_000,
        "each completion is answered on its own"
    );

    let request = pb::HeartbeatRequest {
        worker_id: "limits".to_owned(),
        attempts: (0..10_001).map(stranger_lease).collect(),
    };
    let (result, elapsed) = timed!(worker.heartbeat(request));
    assert_refused(
        "a heartbeat of 10,001 leases",
        result,
        elapsed,
        ("attempts", 10_000, 10_001),
    );
    let request = pb::HeartbeatRequest {
        worker_id: "limits".to_owned(),
        attempts: (0..10_000).map(stranger_lease).collect(),
    };
    let statuses = worker
        .heartbeat(request)
        .await
        .expect("10,000 leases are allowed")
        .into_inner();
    assert!(
        statuses.statuses.iter().all(|s| s.state == pb::LeaseState::Lost as i32),
        "leases nobody holds are lost"
    );

    page_sizes_are_bounded(&mut admin).await;
    server.stop().await;
}

/// Every listing refuses a page size of 1,001 and serves 1,000.
async fn page_sizes_are_bounded(admin: &mut Admin) {
    let execution = client::create(
        admin,
        client::task_target(id("other_task")),
        LiteralMap::from([("index".to_owned(), Literal::Integer(1))]),
        |_| {},
    )
    .await;
    let (project, domain) = ("demo".to_owned(), "dev".to_owned());
    for page_size in [1_001, 1_000] {
        let executions = pb::ListExecutionsRequest {
            project: project.clone(),
            domain: domain.clone(),
            page_size,
            ..Default::default()
        };
        let nodes = pb::ListNodeExecutionsRequest {
            execution_id: execution.id.clone(),
            page_size,
            ..Default::default()
        };
        let tasks = pb::ListTasksRequest {
            project: project.clone(),
            domain: domain.clone(),
            page_size,
            ..Default::default()
        };
        let workflows = pb::ListWorkflowsRequest {
            project: project.clone(),
            domain: domain.clone(),
            page_size,
            ..Default::default()
        };
        let plans = pb::ListLaunchPlansRequest {
            project: project.clone(),
            domain: domain.clone(),
            page_size,
            ..Default::default()
        };
        let results = [
            ("ListExecutions", timed!(admin.list_executions(executions)).map_ok()),
            ("ListNodeExecutions", timed!(admin.list_node_executions(nodes)).map_ok()),
            ("ListTasks", timed!(admin.list_tasks(tasks)).map_ok()),
            ("ListWorkflows", timed!(admin.list_workflows(workflows)).map_ok()),
            ("ListLaunchPlans", timed!(admin.list_launch_plans(plans)).map_ok()),
        ];
        for (rpc, (result, elapsed)) in results {
            if page_size > 1_000 {
                assert_refused(
                    &format!("{rpc} page_size 1,001"),
                    result,
                    elapsed,
                    ("page_size", 1_000, 1_001),
                );
            } else {
                assert!(result.is_ok(), "{rpc}: page_size 1,000 is allowed: {result:?}");
            }
        }
    }
}

/// Drops a response's body, keeping whether it succeeded.
trait MapOk {
    fn map_ok(self) -> (Result<(), tonic::Status>, Duration);
}

impl<T> MapOk for (Result<tonic::Response<T>, tonic::Status>, Duration) {
    fn map_ok(self) -> (Result<(), tonic::Status>, Duration) {
        (self.0.map(|_| ()), self.1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_invalid_argument_on_postgres() {
    oversized_requests_are_refused(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_invalid_argument_on_sqlite() {
    oversized_requests_are_refused(Backend::Sqlite).await;
}

/// Latencies, sorted, as `p50 / p99 / max`.
fn summary(mut latencies: Vec<Duration>) -> String {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    format!(
        "n = {}, p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// Another client's writes: `count` CreateExecution calls one after the other, each timed.
async fn other_client_writes(server: &TestServer, label: &str, count: usize) -> Vec<Duration> {
    let mut admin = server.admin().await;
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let request = pb::CreateExecutionRequest {
            project: "demo".into(),
            domain: "dev".into(),
            name: format!("{label}-{i}"),
            target: Some(client::task_target(id("other_task"))),
            inputs: Some(LiteralMap::from([("index".to_owned(), Literal::Integer(i as i64))]).into()),
            ..Default::default()
        };
        let started = Instant::now();
        admin
            .create_execution(request)
            .await
            .expect("the other client's write succeeds");
        latencies.push(started.elapsed());
    }
    latencies
}

/// One client sends the 100,000-queue poll over and over until told to stop; returns how each was answered, and
/// how long it took.
async fn oversized_polls(
    server: &TestServer,
    started: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) -> Vec<(Code, Duration)> {
    let mut worker = server.worker().await;
    let queues = queues(100_000);
    let mut answers = Vec::new();
    while !*stop.borrow_and_update() {
        let request = poll(queues.clone(), 1);
        let begun = Instant::now();
        let call = worker.poll_tasks(request);
        started.send_replace(true);
        let code = match call.await {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        answers.push((code, begun.elapsed()));
    }
    answers
}

/// A worker that polls and completes at the allowed maximum: 100 queues, 1,000 attempts, 1,000 completions in a call.
struct MaximalWorker {
    worker: pb::worker_service_client::WorkerServiceClient<tonic::transport::Channel>,
    queues: Vec<String>,
}

impl MaximalWorker {
    async fn new(server: &TestServer) -> Self {
        let mut queues = queues(99);
        queues.push("default".to_owned());
        MaximalWorker {
            worker: server.worker().await,
            queues,
        }
    }

    /// Polls once (waiting up to a second for work, like a real worker, rather than spinning) and completes what it
    /// got in one call; returns how many it completed.
    async fn round(&mut self) -> usize {
        let assignments = self
            .worker
            .poll_tasks(pb::PollTasksRequest {
                wait: Some(prost_types::Duration { seconds: 1, nanos: 0 }),
                ..poll(self.queues.clone(), 1_000)
            })
            .await
            .expect("the maximal poll is served")
            .into_inner()
            .assignments;
        if assignments.is_empty() {
            return 0;
        }
        let completions = assignments
            .iter()
            .map(|a| raw_worker::completion(a, raw_worker::result_for(a)))
            .collect();
        let request = pb::CompleteAttemptsRequest {
            worker_id: "limits".to_owned(),
            completions,
        };
        let results = self
            .worker
            .complete_attempts(request)
            .await
            .expect("the maximal completion is served")
            .into_inner()
            .results;
        assert!(
            results
                .iter()
                .all(|r| r.status == pb::CompletionStatus::Accepted as i32),
            "every completion is accepted: {:?}",
            results
                .iter()
                .find(|r| r.status != pb::CompletionStatus::Accepted as i32)
        );
        results.len()
    }

    /// Rounds until told to stop; returns how many attempts it completed.
    async fn run(mut self, mut stop: watch::Receiver<bool>) -> usize {
        let mut completed = 0;
        while !*stop.borrow_and_update() {
            completed += self.round().await;
        }
        completed
    }
}

async fn others_keep_their_latency(backend: Backend) {
    const WRITES: usize = 40;
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;

    // Phase 1: the oversized poll, again and again.
    let (started_tx, mut started) = watch::channel(false);
    let (stop_tx, stop) = watch::channel(false);
    let spammer = {
        let server = &server;
        async move { oversized_polls(server, started_tx, stop).await }
    };
    let writer = async {
        started.wait_for(|s| *s).await.expect("the spammer started");
        let latencies = other_client_writes(&server, "during-oversized-polls", WRITES).await;
        stop_tx.send_replace(true);
        latencies
    };
    let (answers, latencies) = tokio::join!(spammer, writer);
    let refusals: Vec<Duration> = answers.iter().map(|(_, elapsed)| *elapsed).collect();
    println!("{backend:?}: oversized polls answered: {}", summary(refusals.clone()));
    println!(
        "{backend:?}: other client's CreateExecution during them: {}",
        summary(latencies.clone())
    );
    assert!(
        answers.iter().all(|(code, _)| *code == Code::InvalidArgument),
        "every oversized poll is refused: {answers:?}"
    );
    assert!(
        refusals.iter().all(|l| *l < REFUSED_WITHIN),
        "every oversized poll is refused quickly"
    );
    assert!(
        latencies.iter().all(|l| *l < OTHERS_WITHIN),
        "every other write within {OTHERS_WITHIN:?}: {}",
        summary(latencies)
    );

    // Phase 2: a 5,000-child fan-out claimed and completed by a worker at the allowed maximum. Its generator runs
    // first: accepting the spec is one command whose time grows with the spec's nodes, not what is measured here.
    let seed = client::create(
        &mut admin,
        client::task_target(id("generate_others")),
        LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(5_000))]),
        |_| {},
    )
    .await;
    let mut maximal = MaximalWorker::new(&server).await;
    assert!(
        maximal.round().await > WRITES,
        "the generator and the first phase's executions"
    );
    let (stop_tx, stop) = watch::channel(false);
    let worker = maximal.run(stop);
    let writer = async {
        let latencies = other_client_writes(&server, "during-maximal-polls", WRITES).await;
        let execution = wait_for_terminal(&mut admin, &seed.id).await;
        stop_tx.send_replace(true);
        (latencies, execution)
    };
    let (completed, (latencies, execution)) = tokio::join!(worker, writer);
    println!(
        "{backend:?}: other client's CreateExecution during maximal polls: {}",
        summary(latencies.clone())
    );
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    assert!(completed >= 5_000, "the maximal worker ran the fan-out: {completed}");
    assert!(
        latencies.iter().all(|l| *l < OTHERS_WITHIN),
        "every other write within {OTHERS_WITHIN:?}: {}",
        summary(latencies)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_poll_does_not_stall_other_clients_on_postgres() {
    others_keep_their_latency(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_poll_does_not_stall_other_clients_on_sqlite() {
    others_keep_their_latency(Backend::Sqlite).await;
}
