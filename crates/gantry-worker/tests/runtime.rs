//! The worker loop against a fake `WorkerService` on 127.0.0.1:0: outputs, dynamic specs, errors and panics are
//! reported; a generator past the spec limits the server announced fails at once; the server's CANCEL stops a
//! handler; shutdown drains running attempts, or reports them after the grace; results ride the next poll, which
//! asks for the free slots and, with a prefetch set and run times measured, more ahead, and go with CompleteAttempts to a server that does not take them.
#![allow(clippy::unwrap_used)]

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use gantry_core::model::LiteralType;
use gantry_proto::v1 as pb;
use gantry_proto::v1::worker_service_server::{WorkerService, WorkerServiceServer};
use gantry_worker::{Inputs, IntoBinding, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs};
use tokio::sync::{Notify, mpsc, oneshot};
use tonic::{Request, Response, Status};

/// Every wait in these tests is on an event; this only bounds a broken test.
const LIMIT: Duration = Duration::from_secs(20);
/// What the fake server announces: small enough for a generator to pass it.
const SPEC_LIMITS: pb::WorkerLimits = pb::WorkerLimits {
    max_spec_nodes: 5,
    max_spec_bytes: 1_000_000,
};

type AttemptKey = (String, String, u32);

struct FakeState {
    queue: Mutex<VecDeque<pb::AttemptAssignment>>,
    work: Notify,
    cancelled: Mutex<HashSet<AttemptKey>>,
    completions: mpsc::UnboundedSender<pb::Completion>,
    complete_calls: AtomicUsize,
    /// Per poll: the attempts asked for and the results carried.
    polls: Mutex<Vec<(u32, usize)>>,
    /// Whether polls record the results they carry (a server from before they could is modelled by `false`).
    takes_carried: std::sync::atomic::AtomicBool,
    lease: Duration,
}

#[derive(Clone)]
struct Fake(Arc<FakeState>);

fn key(attempt: &pb::AttemptRef) -> AttemptKey {
    (attempt.execution_id.clone(), attempt.node_id.clone(), attempt.attempt)
}

fn expiry(lease: Duration) -> prost_types::Timestamp {
    let at = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        + lease;
    prost_types::Timestamp {
        seconds: at.as_secs() as i64,
        nanos: at.subsec_nanos() as i32,
    }
}

#[tonic::async_trait]
impl WorkerService for Fake {
    async fn poll_tasks(
        &self,
        request: Request<pb::PollTasksRequest>,
    ) -> Result<Response<pb::PollTasksResponse>, Status> {
        let request = request.into_inner();
        assert!(!request.worker_id.is_empty() && !request.queues.is_empty());
        assert!(request.max_attempts <= 1_000, "the server's limit per poll");
        assert!(request.completions.len() <= 1_000, "the server's limit per poll");
        self.0
            .polls
            .lock()
            .unwrap()
            .push((request.max_attempts, request.completions.len()));
        let takes_carried = self.0.takes_carried.load(Ordering::SeqCst);
        let carried = takes_carried && !request.completions.is_empty();
        let completion_results = match takes_carried {
            true => self.record(request.completions),
            false => Vec::new(),
        };
        let max = request.max_attempts.max(1) as usize;
        loop {
            let notified = self.0.work.notified();
            {
                let mut queue = self.0.queue.lock().unwrap();
                if !queue.is_empty() {
                    let take = max.min(queue.len());
                    let assignments = queue.drain(..take).collect();
                    return Ok(Response::new(pb::PollTasksResponse {
                        assignments,
                        limits: Some(SPEC_LIMITS),
                        completion_results,
                    }));
                }
            }
            // As the server: a poll that carries results does not wait.
            if carried {
                return Ok(Response::new(pb::PollTasksResponse {
                    completion_results,
                    ..Default::default()
                }));
            }
            if tokio::time::timeout(Duration::from_secs(1), notified).await.is_err() {
                return Ok(Response::new(pb::PollTasksResponse::default()));
            }
        }
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let cancelled = self.0.cancelled.lock().unwrap().clone();
        let statuses = request
            .into_inner()
            .attempts
            .into_iter()
            .map(|leased| {
                let attempt = leased.attempt.unwrap_or_default();
                let state = if cancelled.contains(&key(&attempt)) {
                    pb::LeaseState::Cancel
                } else {
                    pb::LeaseState::Extended
                };
                pb::AttemptLeaseStatus {
                    attempt: Some(attempt),
                    state: state as i32,
                    lease_expires_at: Some(expiry(self.0.lease)),
                }
            })
            .collect();
        Ok(Response::new(pb::HeartbeatResponse { statuses }))
    }

    async fn complete_attempts(
        &self,
        request: Request<pb::CompleteAttemptsRequest>,
    ) -> Result<Response<pb::CompleteAttemptsResponse>, Status> {
        self.0.complete_calls.fetch_add(1, Ordering::SeqCst);
        let results = self.record(request.into_inner().completions);
        Ok(Response::new(pb::CompleteAttemptsResponse { results }))
    }
}

impl Fake {
    /// Accepts every completion, reported by poll or by CompleteAttempts.
    fn record(&self, completions: Vec<pb::Completion>) -> Vec<pb::CompletionResult> {
        let mut results = Vec::new();
        for completion in completions {
            results.push(pb::CompletionResult {
                attempt: completion.attempt.clone(),
                status: pb::CompletionStatus::Accepted as i32,
                ..Default::default()
            });
            let _ = self.0.completions.send(completion);
        }
        results
    }
}

struct Harness {
    fake: Fake,
    addr: std::net::SocketAddr,
    endpoint: String,
    completions: mpsc::UnboundedReceiver<pb::Completion>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl Harness {
    async fn start(lease: Duration) -> Harness {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (tx, completions) = mpsc::unbounded_channel();
        let fake = Fake(Arc::new(FakeState {
            queue: Mutex::new(VecDeque::new()),
            work: Notify::new(),
            cancelled: Mutex::new(HashSet::new()),
            completions: tx,
            complete_calls: AtomicUsize::new(0),
            polls: Mutex::new(Vec::new()),
            takes_carried: std::sync::atomic::AtomicBool::new(true),
            lease,
        }));
        let addr = listener.local_addr().unwrap();
        let mut harness = Harness {
            fake,
            addr,
            endpoint,
            completions,
            stop: None,
            served: None,
        };
        harness.serve(listener);
        harness
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let service = WorkerServiceServer::new(self.fake.clone());
        self.served = Some(tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                }),
        ));
        self.stop = Some(stop);
    }

    /// Stops the server, waits until it no longer serves, and serves again on the same address.
    async fn restart(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.served.take().unwrap().await.unwrap().unwrap();
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    fn assign(&self, node_id: &str, task: &TaskDef, inputs: gantry_core::model::LiteralMap) {
        let assignment = pb::AttemptAssignment {
            attempt: Some(pb::AttemptRef {
                execution_id: "e1".into(),
                node_id: node_id.into(),
                attempt: 0,
            }),
            lease_id: format!("lease-{node_id}"),
            lease_expires_at: Some(expiry(self.fake.0.lease)),
            task: Some(task.template().clone().into()),
            inputs: Some(inputs.into()),
            deadline: None,
            ..Default::default()
        };
        self.fake.0.queue.lock().unwrap().push_back(assignment);
        self.fake.0.work.notify_waiters();
    }

    async fn next_completion(&mut self) -> (String, pb::completion::Result) {
        let completion = tokio::time::timeout(LIMIT, self.completions.recv())
            .await
            .expect("a completion")
            .unwrap();
        (completion.attempt.unwrap().node_id, completion.result.unwrap())
    }
}

/// Runs `worker` on a task of its own until `stop` fires.
fn run(
    worker: Worker,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), gantry_worker::WorkerError>>,
) {
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    (stop, running)
}

fn double_def() -> TaskDef {
    TaskDef::new("demo", "dev", "double", "1")
        .input("x", LiteralType::Integer)
        .output("y", LiteralType::Integer)
}

async fn double(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let x: i64 = inputs.get("x")?;
    if x < 0 {
        panic!("negative input {x}");
    }
    Ok(outputs().set("y", x * 2).into())
}

fn fan_out_def() -> TaskDef {
    TaskDef::new("demo", "dev", "fan_out", "1").input("n", LiteralType::Integer)
}

async fn fan_out(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let n: i64 = inputs.get("n")?;
    let mut spec = ctx.dynamic_spec();
    let mut outs = Vec::new();
    for i in 0..n {
        outs.push(spec.task(&double_def(), [("x", i.into_binding())])?.output("y"));
    }
    spec.set_output("ys", outs);
    Ok(TaskOutput::Dynamic(spec))
}

fn inputs(name: &str, value: i64) -> gantry_core::model::LiteralMap {
    [(name.to_owned(), gantry_core::model::Literal::Integer(value))].into()
}

#[tokio::test]
async fn reports_outputs_specs_errors_and_panics() {
    let mut harness = Harness::start(Duration::from_secs(30)).await;
    let worker = Worker::builder(&harness.endpoint)
        .concurrency(2_000)
        .task(double_def(), double)
        .task(fan_out_def(), fan_out)
        .build()
        .unwrap();
    let (stop, running) = run(worker);

    harness.assign("a", &double_def(), inputs("x", 21));
    harness.assign("b", &fan_out_def(), inputs("n", 3));
    harness.assign("c", &double_def(), inputs("x", -1));
    harness.assign("d", &double_def(), inputs("wrong", 1));
    harness.assign(
        "e",
        &TaskDef::new("demo", "dev", "nobody_runs_this", "1"),
        Default::default(),
    );
    harness.assign("f", &fan_out_def(), inputs("n", i64::MAX));

    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..6 {
        let (node, result) = harness.next_completion().await;
        seen.insert(node, result);
    }
    use pb::completion::Result as R;
    match &seen["a"] {
        R::Outputs(map) => assert_eq!(map.literals["y"].value, Some(pb::literal::Value::Integer(42))),
        other => panic!("a: {other:?}"),
    }
    match &seen["b"] {
        R::DynamicSpec(spec) => {
            assert_eq!(
                spec.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
                ["dn0", "dn1", "dn2"]
            );
            assert_eq!(spec.outputs[0].var, "ys");
        }
        other => panic!("b: {other:?}"),
    }
    match &seen["c"] {
        R::Error(error) => {
            assert_eq!(error.kind, pb::ErrorKind::User as i32);
            assert_eq!(error.code, "panic");
            assert!(error.message.contains("negative input -1"), "{}", error.message);
        }
        other => panic!("c: {other:?}"),
    }
    match &seen["d"] {
        R::Error(error) => {
            assert_eq!((error.code.as_str(), error.recoverable), ("bad_input", false));
            assert!(error.message.contains("input \"x\""), "{}", error.message);
        }
        other => panic!("d: {other:?}"),
    }
    match &seen["e"] {
        R::Error(error) => {
            assert_eq!(
                (error.kind, error.code.as_str()),
                (pb::ErrorKind::System as i32, "unknown_task")
            );
        }
        other => panic!("e: {other:?}"),
    }
    match &seen["f"] {
        R::Error(error) => {
            assert_eq!((error.code.as_str(), error.recoverable), ("spec_too_large", false));
            assert!(error.message.contains("limit of 5 nodes"), "{}", error.message);
        }
        other => panic!("f: the runaway generator stops at the announced limit: {other:?}"),
    }
    let calls = harness.fake.0.complete_calls.load(Ordering::SeqCst);
    assert!((1..=6).contains(&calls), "{calls} CompleteAttempts calls for 6 results");

    stop.send(()).unwrap();
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap().unwrap();
}

/// Signals when dropped: the handler's future was dropped, not left running.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[tokio::test]
async fn a_cancel_from_the_server_drops_the_handler_and_reports_nothing() {
    let mut harness = Harness::start(Duration::from_millis(300)).await;
    let (started_tx, started) = mpsc::unbounded_channel::<()>();
    let (dropped_tx, dropped) = oneshot::channel::<()>();
    let dropped_tx = Arc::new(Mutex::new(Some(dropped_tx)));
    let def = TaskDef::new("demo", "dev", "forever", "1");
    let worker = Worker::builder(&harness.endpoint)
        .task(def.clone(), move |_ctx, _inputs| {
            let guard = DropSignal(dropped_tx.lock().unwrap().take());
            let started_tx = started_tx.clone();
            async move {
                let _guard = guard;
                let _ = started_tx.send(());
                std::future::pending::<Result<TaskOutput, TaskError>>().await
            }
        })
        .task(double_def(), double)
        .build()
        .unwrap();
    let (stop, running) = run(worker);
    harness.assign("slow", &def, Default::default());
    let mut started = started;
    tokio::time::timeout(LIMIT, started.recv()).await.unwrap();
    harness
        .fake
        .0
        .cancelled
        .lock()
        .unwrap()
        .insert(("e1".into(), "slow".into(), 0));
    tokio::time::timeout(LIMIT, dropped)
        .await
        .expect("the handler is dropped")
        .unwrap();

    // The cancelled attempt reports nothing; the next one's result is the first to arrive.
    harness.assign("after", &double_def(), inputs("x", 1));
    let (node, _) = harness.next_completion().await;
    assert_eq!(node, "after");
    stop.send(()).unwrap();
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_lets_running_attempts_finish_then_reports_them() {
    let mut harness = Harness::start(Duration::from_secs(30)).await;
    let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
    let (release_tx, release) = oneshot::channel::<()>();
    let release = Arc::new(Mutex::new(Some(release)));
    let def = TaskDef::new("demo", "dev", "gated", "1").output("done", LiteralType::Boolean);
    let worker = Worker::builder(&harness.endpoint)
        .task(def.clone(), move |_ctx, _inputs| {
            let release = release.lock().unwrap().take();
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(());
                if let Some(release) = release {
                    let _ = release.await;
                }
                Ok(outputs().set("done", true).into())
            }
        })
        .build()
        .unwrap();
    let (stop, running) = run(worker);
    harness.assign("gated", &def, Default::default());
    tokio::time::timeout(LIMIT, started.recv()).await.unwrap();
    stop.send(()).unwrap();
    // Shutting down, the worker still waits for the running attempt.
    tokio::task::yield_now().await;
    assert!(!running.is_finished());
    release_tx.send(()).unwrap();
    let (node, result) = harness.next_completion().await;
    assert_eq!(node, "gated");
    assert!(matches!(result, pb::completion::Result::Outputs(_)));
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn attempts_still_running_after_the_grace_are_reported_as_system_errors() {
    let mut harness = Harness::start(Duration::from_secs(30)).await;
    let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
    let def = TaskDef::new("demo", "dev", "stuck", "1");
    let worker = Worker::builder(&harness.endpoint)
        .shutdown_grace(Duration::from_millis(50))
        .task(def.clone(), move |_ctx, _inputs| {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(());
                std::future::pending::<Result<TaskOutput, TaskError>>().await
            }
        })
        .build()
        .unwrap();
    let (stop, running) = run(worker);
    harness.assign("stuck", &def, Default::default());
    tokio::time::timeout(LIMIT, started.recv()).await.unwrap();
    stop.send(()).unwrap();
    let (node, result) = harness.next_completion().await;
    assert_eq!(node, "stuck");
    match result {
        pb::completion::Result::Error(error) => {
            assert_eq!(
                (error.kind, error.code.as_str(), error.recoverable),
                (pb::ErrorKind::System as i32, "worker_shutdown", true)
            );
        }
        other => panic!("{other:?}"),
    }
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn the_builder_rejects_unusable_configurations() {
    assert!(Worker::builder("http://127.0.0.1:1").concurrency(0).build().is_err());
    assert!(Worker::builder("not a uri").build().is_err());
    assert!(
        Worker::builder("http://127.0.0.1:1")
            .queues(Vec::<String>::new())
            .build()
            .is_err()
    );
    let twice = Worker::builder("http://127.0.0.1:1")
        .task(double_def(), double)
        .task(double_def(), double)
        .build();
    assert!(twice.is_err());
}

#[tokio::test]
async fn the_worker_comes_back_when_the_server_does() {
    let mut harness = Harness::start(Duration::from_secs(30)).await;
    let worker = Worker::builder(&harness.endpoint)
        .task(double_def(), double)
        .build()
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(stopped));
    harness.assign("before", &double_def(), inputs("x", 1));
    assert_eq!(harness.next_completion().await.0, "before");

    harness.restart().await;
    harness.assign("after", &double_def(), inputs("x", 2));
    let (node, result) = harness.next_completion().await;
    assert_eq!(node, "after");
    assert!(matches!(result, pb::completion::Result::Outputs(_)));
    stop.send(()).unwrap();
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn results_ride_the_next_poll_which_claims_ahead_of_the_free_slots() {
    // Twenty attempts, two slots, two ahead at the most.
    let mut harness = Harness::start(Duration::from_secs(30)).await;
    for i in 0..20 {
        harness.assign(&format!("n{i}"), &double_def(), inputs("x", i));
    }
    // A linger this long means only a poll could have carried the results.
    let worker = Worker::builder(&harness.endpoint)
        .concurrency(2)
        .prefetch(2)
        .completion_linger(Duration::from_secs(600))
        .task(double_def(), double)
        .build()
        .unwrap();
    let (stop, running) = run(worker);
    let mut doubled = std::collections::BTreeMap::new();
    for _ in 0..20 {
        let (node, result) = harness.next_completion().await;
        let pb::completion::Result::Outputs(map) = result else {
            panic!("{node}: {result:?}");
        };
        doubled.insert(node, map.literals["y"].value.clone());
    }
    for i in 0..20 {
        assert_eq!(doubled[&format!("n{i}")], Some(pb::literal::Value::Integer(2 * i)));
    }
    assert_eq!(
        harness.fake.0.complete_calls.load(Ordering::SeqCst),
        0,
        "every result rode a poll"
    );
    let polls = harness.fake.0.polls.lock().unwrap().clone();
    assert_eq!(
        polls[0],
        (2, 0),
        "the first poll, before any run was measured, asks for the 2 slots alone"
    );
    assert!(
        polls.iter().any(|(asked, _)| *asked > 2),
        "later polls claim ahead: {polls:?}"
    );
    assert_eq!(polls.iter().map(|(_, carried)| carried).sum::<usize>(), 20);
    assert!(
        polls.iter().all(|(asked, _)| *asked <= 4),
        "never more than the 4 it may hold: {polls:?}"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn a_server_that_ignores_results_in_polls_gets_them_with_complete_attempts() {
    let mut harness = Harness::start(Duration::from_secs(30)).await;
    harness.fake.0.takes_carried.store(false, Ordering::SeqCst);
    for i in 0..5 {
        harness.assign(&format!("n{i}"), &double_def(), inputs("x", i));
    }
    let worker = Worker::builder(&harness.endpoint)
        .concurrency(1)
        .prefetch(0)
        .task(double_def(), double)
        .build()
        .unwrap();
    let (stop, running) = run(worker);
    let mut nodes = std::collections::BTreeSet::new();
    for _ in 0..5 {
        nodes.insert(harness.next_completion().await.0);
    }
    assert_eq!(nodes.len(), 5, "no result was lost: {nodes:?}");
    assert!(harness.fake.0.complete_calls.load(Ordering::SeqCst) >= 1);
    let polls = harness.fake.0.polls.lock().unwrap().clone();
    assert_eq!(polls[0].0, 1, "without prefetch a poll asks for the free slot only");
    assert!(
        polls.iter().filter(|(_, carried)| *carried > 0).count() <= 1,
        "after one unanswered poll, results stop riding polls: {polls:?}"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn a_worker_of_short_tasks_claims_deeper_ahead_once_it_has_measured_them() {
    let mut harness = Harness::start(Duration::from_secs(30)).await;
    for i in 0..60 {
        harness.assign(&format!("n{i}"), &double_def(), inputs("x", i));
    }
    let worker = Worker::builder(&harness.endpoint)
        .concurrency(2)
        .prefetch(8)
        .task(double_def(), double)
        .build()
        .unwrap();
    let (stop, running) = run(worker);
    for _ in 0..60 {
        harness.next_completion().await;
    }
    let asked: Vec<u32> = harness
        .fake
        .0
        .polls
        .lock()
        .unwrap()
        .iter()
        .map(|(asked, _)| *asked)
        .collect();
    assert_eq!(asked[0], 2, "unmeasured: the 2 slots alone");
    // A task far shorter than a round trip: as deep as the maximum allows.
    assert_eq!(asked.iter().max(), Some(&10), "{asked:?}");
    stop.send(()).unwrap();
    tokio::time::timeout(LIMIT, running).await.unwrap().unwrap().unwrap();
}
