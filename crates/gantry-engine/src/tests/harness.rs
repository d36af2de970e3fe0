//! A store, the engine's shared state on it and a clock the test sets; commands applied as the writer applies them,
//! and the records of an execution read back in a form two runs can be compared by.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use gantry_core::model::{
    Binding, DynamicJobSpec, Identifier, Literal, LiteralMap, LiteralType, Node, TaskTemplate, TypedInterface, Variable,
};
use gantry_store::{AttemptRow, ExecutionRow, NodeRow, Page, PgStore, SqliteStore, Store};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::config::{Clock, EngineConfig};
use crate::ingress::Admitted;
use crate::shared::Shared;
use crate::submit::{CreateExecution, Registration, Target};
use crate::worker::{Assignment, Completion, CompletionOutcome, LeaseStatus};
use crate::writer::{Command, Reply, Request, apply_batch};
use crate::{EngineError, EngineResult, codec};

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The engine's state on a fresh store, without its writer, sweeper, assembler and hydrator tasks: the test applies
/// each batch itself, and after each (unless held) does the assembly and hydration jobs it left and applies their
/// results, until none is left, as the assembler, the hydrator and the writer would.
pub struct Harness {
    pub shared: Arc<Shared>,
    clock: Arc<AtomicI64>,
    /// Whether assembly jobs wait for [`Harness::run_assemblies`] instead of running after each batch.
    hold: AtomicBool,
    /// Whether hydration jobs wait for [`Harness::run_hydrations`] instead of running after each batch.
    hold_hydrations: AtomicBool,
    postgres: Option<(String, String)>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").finish_non_exhaustive()
    }
}

/// A command's answer, as the caller would see it.
#[derive(Debug)]
pub enum Answer {
    Execution(EngineResult<ExecutionRow>),
    Claimed(EngineResult<Vec<Assignment>>),
    Leases(EngineResult<Vec<LeaseStatus>>),
    Completed(EngineResult<Vec<CompletionOutcome>>),
    Polled(EngineResult<crate::writer::Recorded>),
    SignalSet(EngineResult<crate::SignalSet>),
    Schedule(EngineResult<crate::ScheduleRecord>),
    Other(Result<(), EngineError>),
}

enum Waiting {
    Put(oneshot::Receiver<EngineResult<gantry_store::PutOutcome>>),
    Execution(oneshot::Receiver<EngineResult<(ExecutionRow, bool)>>),
    Terminated(oneshot::Receiver<EngineResult<ExecutionRow>>),
    Claimed(oneshot::Receiver<EngineResult<Vec<Assignment>>>),
    Leases(oneshot::Receiver<EngineResult<Vec<LeaseStatus>>>),
    Completed(oneshot::Receiver<EngineResult<Vec<CompletionOutcome>>>),
    Polled(oneshot::Receiver<EngineResult<crate::writer::Recorded>>),
    Swept(oneshot::Receiver<EngineResult<usize>>),
    Audited(oneshot::Receiver<EngineResult<()>>),
    SignalSet(oneshot::Receiver<EngineResult<crate::SignalSet>>),
    Schedule(oneshot::Receiver<EngineResult<crate::ScheduleRecord>>),
    Nothing,
}

impl Harness {
    pub async fn new(backend: Backend) -> Harness {
        Harness::with_config(backend, |_| {}).await
    }

    /// A harness whose engine settings `configure` adjusted.
    pub async fn with_config(backend: Backend, configure: impl FnOnce(&mut EngineConfig)) -> Harness {
        let (store, postgres): (Arc<dyn Store>, _) = match backend {
            Backend::Sqlite => (Arc::new(SqliteStore::open(":memory:").await.expect("sqlite")), None),
            Backend::Postgres => {
                let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL is not set; run scripts/test");
                let (store, url) = PgStore::connect_fresh(&admin).await.expect("a fresh Postgres database");
                (Arc::new(store), Some((admin, url)))
            }
        };
        let clock = Arc::new(AtomicI64::new(1_000_000_000_000));
        let reading = clock.clone();
        let mut config = EngineConfig {
            clock: Clock::from_fn(move || reading.load(Ordering::SeqCst)),
            strict_transitions: true,
            ..EngineConfig::default()
        };
        configure(&mut config);
        Harness {
            shared: Arc::new(Shared::new(store, config)),
            clock,
            hold: AtomicBool::new(false),
            hold_hydrations: AtomicBool::new(false),
            postgres,
        }
    }

    /// Another replica on the same store and clock: an engine of its own (its caches, its batches), sharing nothing
    /// else with this one. Dropping it leaves the store to this harness.
    pub fn replica(&self) -> Harness {
        let config = self.shared.config.clone();
        Harness {
            shared: Arc::new(Shared::new(self.shared.health.store.clone(), config)),
            clock: self.clock.clone(),
            hold: AtomicBool::new(false),
            hold_hydrations: AtomicBool::new(false),
            postgres: None,
        }
    }

    /// As if the server restarted on the same store: every in-memory cache and queue is new, and the composites left
    /// creating children are queued again, the targets left assembling assembled again and the nodes left waiting for
    /// offloaded values fetched again, as a starting writer does.
    pub async fn restart(&mut self) {
        let config = self.shared.config.clone();
        self.shared = Arc::new(Shared::new(self.shared.health.store.clone(), config));
        crate::interpret::creation::resume(&self.shared).await;
        let max_batch = self.shared.config.max_batch.max(1);
        crate::writer::resume_assemblies(&self.shared, max_batch).await;
        crate::writer::resume_hydrations(&self.shared, max_batch).await;
        self.after_batch().await;
    }

    /// Holds hydration jobs back (a restart then loses them, as a crash would) until [`Harness::run_hydrations`], or
    /// lets them run after each batch again.
    pub fn hold_hydrations(&self, hold: bool) {
        self.hold_hydrations.store(hold, Ordering::SeqCst);
    }

    /// Does the waiting hydration jobs as the hydrator does (all of them in one round) and applies their results,
    /// each in a batch of its own, until none is left; returns how many jobs ran.
    pub async fn run_hydrations(&self) -> usize {
        let mut ran = 0;
        loop {
            let mut jobs = Vec::new();
            while let Some(job) = self.shared.next_hydration() {
                jobs.push(job);
            }
            if jobs.is_empty() {
                return ran;
            }
            ran += jobs.len();
            for (key, request) in crate::hydration::run_jobs(&self.shared.offloader, jobs).await {
                if let Some(request) = request {
                    let command = Command {
                        request,
                        reply: Reply::Internal,
                    };
                    apply_batch(&self.shared, vec![command]).await;
                }
                self.shared.hydration_done(&key);
            }
        }
    }

    /// Holds assembly jobs back (a restart then loses them, as a crash would) until [`Harness::run_assemblies`], or
    /// lets them run after each batch again.
    pub fn hold_assemblies(&self, hold: bool) {
        self.hold.store(hold, Ordering::SeqCst);
    }

    /// Does the waiting assembly jobs as the assembler does and applies their results, each in a batch of its own,
    /// until none is left (a result may finish a parent, whose assembly is then another job); returns how many jobs
    /// ran.
    pub async fn run_assemblies(&self) -> usize {
        let mut ran = 0;
        while let Some(job) = self.shared.next_assembly() {
            let key = job.target.key();
            if let Some(request) = crate::assembly::run_job(&self.shared, job).await {
                let command = Command {
                    request,
                    reply: Reply::Internal,
                };
                apply_batch(&self.shared, vec![command]).await;
            }
            self.shared.assembly_done(&key);
            ran += 1;
        }
        ran
    }

    async fn after_batch(&self) {
        loop {
            let mut ran = 0;
            if !self.hold_hydrations.load(Ordering::SeqCst) {
                ran += self.run_hydrations().await;
            }
            if !self.hold.load(Ordering::SeqCst) {
                ran += self.run_assemblies().await;
            }
            if ran == 0 {
                return;
            }
        }
    }

    /// Creates the queued chunks of children, one chunk a batch as the writer does, until none is left; returns how
    /// many batches that took.
    pub async fn create_queued_children(&self) -> usize {
        let mut batches = 0;
        while let Some(key) = self.shared.next_creation() {
            let answer = self.apply_one(Request::CreateChildren(key)).await;
            assert!(matches!(answer, Answer::Other(Ok(()))), "{answer:?}");
            batches += 1;
        }
        batches
    }

    /// How many nodes the execution has.
    pub async fn node_count(&self, execution_id: Uuid) -> usize {
        self.records(execution_id, 0)
            .await
            .text
            .lines()
            .filter(|l| l.starts_with("node "))
            .count()
    }

    pub fn set_now(&self, now_ms: i64) {
        self.clock.store(now_ms, Ordering::SeqCst);
    }

    /// Applies the requests in one batch, as the writer would, and returns their answers in order.
    pub async fn apply(&self, requests: Vec<Request>) -> Vec<Answer> {
        let mut commands = Vec::new();
        let mut waiting = Vec::new();
        for request in requests {
            let reply = match &request {
                Request::Register(_) => reply(Reply::Put, Waiting::Put, &mut waiting),
                Request::Create(_) => reply(Reply::Execution, Waiting::Execution, &mut waiting),
                Request::Terminate(..) => reply(Reply::Terminated, Waiting::Terminated, &mut waiting),
                Request::Claim { .. } => reply(Reply::Claimed, Waiting::Claimed, &mut waiting),
                Request::Heartbeat { .. } => reply(Reply::Leases, Waiting::Leases, &mut waiting),
                Request::Complete { .. } => reply(Reply::Completed, Waiting::Completed, &mut waiting),
                Request::Poll { .. } => reply(Reply::Polled, Waiting::Polled, &mut waiting),
                Request::Sweep => reply(Reply::Swept, Waiting::Swept, &mut waiting),
                Request::Audit(_) => reply(Reply::Audited, Waiting::Audited, &mut waiting),
                Request::SetSignal { .. } => reply(Reply::SignalSet, Waiting::SignalSet, &mut waiting),
                Request::SetSchedule { .. } => reply(Reply::Schedule, Waiting::Schedule, &mut waiting),
                Request::CreateChildren(_)
                | Request::Assemble(_)
                | Request::Assembled { .. }
                | Request::Hydrate(_)
                | Request::Hydrated { .. } => {
                    waiting.push(Waiting::Nothing);
                    Reply::Internal
                }
            };
            commands.push(Command { request, reply });
        }
        apply_batch(&self.shared, commands).await;
        self.after_batch().await;
        let mut answers = Vec::new();
        for waiting in waiting {
            let dropped = || EngineError::Internal("the batch dropped the reply".into());
            answers.push(match waiting {
                Waiting::Put(rx) => Answer::Other(rx.await.unwrap_or_else(|_| Err(dropped())).map(drop)),
                Waiting::Execution(rx) => Answer::Execution(rx.await.unwrap_or_else(|_| Err(dropped())).map(|r| r.0)),
                Waiting::Terminated(rx) => Answer::Execution(rx.await.unwrap_or_else(|_| Err(dropped()))),
                Waiting::Claimed(rx) => Answer::Claimed(rx.await.unwrap_or_else(|_| Err(dropped()))),
                Waiting::Leases(rx) => Answer::Leases(rx.await.unwrap_or_else(|_| Err(dropped()))),
                Waiting::Completed(rx) => Answer::Completed(rx.await.unwrap_or_else(|_| Err(dropped()))),
                Waiting::Polled(rx) => Answer::Polled(rx.await.unwrap_or_else(|_| Err(dropped()))),
                Waiting::Swept(rx) => Answer::Other(rx.await.unwrap_or_else(|_| Err(dropped())).map(drop)),
                Waiting::Audited(rx) => Answer::Other(rx.await.unwrap_or_else(|_| Err(dropped()))),
                Waiting::SignalSet(rx) => Answer::SignalSet(rx.await.unwrap_or_else(|_| Err(dropped()))),
                Waiting::Schedule(rx) => Answer::Schedule(rx.await.unwrap_or_else(|_| Err(dropped()))),
                Waiting::Nothing => Answer::Other(Ok(())),
            });
        }
        answers
    }

    /// Applies one request alone and returns its answer.
    pub async fn apply_one(&self, request: Request) -> Answer {
        self.apply(vec![request]).await.pop().expect("one answer")
    }

    /// Registers the templates, failing the test on a refusal.
    pub async fn register(&self, registrations: Vec<Registration>) {
        for answer in self
            .apply(registrations.into_iter().map(Request::Register).collect())
            .await
        {
            let Answer::Other(result) = answer else { unreachable!() };
            result.expect("registered");
        }
    }

    /// Creates an execution of a task.
    pub async fn run_task(&self, task: &TaskTemplate, inputs: LiteralMap) -> ExecutionRow {
        self.run(Target::Task(task.id.clone()), inputs).await
    }

    /// Creates an execution of a task, workflow or launch plan of the target's project and domain.
    pub async fn run(&self, target: Target, inputs: LiteralMap) -> ExecutionRow {
        let id = match &target {
            Target::Task(id) | Target::Workflow(id) | Target::LaunchPlan(id) => id.clone(),
        };
        let create = CreateExecution {
            project: id.project.clone(),
            domain: id.domain.clone(),
            name: None,
            target,
            inputs,
            max_parallelism: None,
            overwrite_cache: false,
            timeout: None,
            origin: Default::default(),
            trace_context: None,
        };
        match self.apply_one(Request::Create(Box::new(create))).await {
            Answer::Execution(result) => result.expect("created"),
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// A completion admitted as the engine's edge admits it: a dynamic spec compiled before the writer sees it.
    pub async fn complete_at_the_edge(
        &self,
        worker: &str,
        assignment: &Assignment,
        result: gantry_core::state::AttemptResult,
    ) -> Request {
        let admitted = crate::ingress::admit_spec(&self.shared, completion(assignment, result)).await;
        assert!(admitted.spec.is_some(), "the spec compiled at the edge");
        Request::Complete {
            worker_id: worker.to_owned(),
            completions: vec![admitted],
        }
    }

    /// Claims what `worker` finds on `queue`.
    pub async fn claim(&self, worker: &str, queue: &str) -> Vec<Assignment> {
        match self.apply_one(claim(worker, queue)).await {
            Answer::Claimed(result) => result.expect("claimed"),
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// Claims everything claimable on `w`/`q` and completes each `child(x)` with `y = 10 * x + 1`, checking every
    /// completion was accepted; returns how many it completed.
    pub async fn complete_children(&self) -> usize {
        let claimed = self.claim("w", "q").await;
        for assignment in &claimed {
            let inputs = codec::decode_literals(&assignment.inputs).expect("inputs");
            let Some(Literal::Integer(x)) = inputs.get("x") else {
                panic!("no x in {inputs:?}")
            };
            let outputs = LiteralMap::from([("y".to_owned(), Literal::Integer(10 * x + 1))]);
            let result = gantry_core::state::AttemptResult::Outputs(outputs);
            let answer = self.apply_one(complete("w", assignment, result)).await;
            assert!(
                matches!(&answer, Answer::Completed(Ok(o)) if o.iter().all(Result::is_ok)),
                "{answer:?}"
            );
        }
        claimed.len()
    }

    /// The execution's row as stored.
    pub async fn execution(&self, execution_id: Uuid) -> ExecutionRow {
        let row = self.shared.store.get_execution(execution_id).await.expect("read");
        row.expect("the execution exists")
    }

    /// The node's row as stored.
    pub async fn node(&self, execution_id: Uuid, node_id: &str) -> NodeRow {
        let row = self.shared.store.get_node(execution_id, node_id).await.expect("read");
        row.unwrap_or_else(|| panic!("node {node_id:?} exists"))
    }

    /// Every row of the execution and its nodes and attempts, with times relative to `base` and ids replaced, so
    /// that two runs of one scenario can be compared.
    pub async fn records(&self, execution_id: Uuid, base: i64) -> Records {
        let store = &self.shared.store;
        let execution = self.execution(execution_id).await;
        let mut nodes = Vec::new();
        for node in all_nodes(store.as_ref(), execution_id).await {
            let attempts = store
                .list_attempts(execution_id, &node.node_id)
                .await
                .expect("attempts");
            nodes.push((node, attempts));
        }
        Records::describe(&execution, &nodes, base)
    }

    /// Drops the Postgres database.
    pub async fn finish(self) {
        if let Some((admin, url)) = &self.postgres {
            drop(self.shared);
            PgStore::drop_fresh(admin, url).await.expect("drop the test database");
        }
    }
}

fn reply<T>(
    make: impl FnOnce(oneshot::Sender<T>) -> Reply,
    wait: impl FnOnce(oneshot::Receiver<T>) -> Waiting,
    waiting: &mut Vec<Waiting>,
) -> Reply {
    let (tx, rx) = oneshot::channel();
    waiting.push(wait(rx));
    make(tx)
}

/// A description of an execution's records, comparable between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records {
    pub text: String,
    /// `(node, attempt, phase)` of attempts left queued or running under a node that finished.
    pub orphans: Vec<String>,
    /// Nodes with more than one succeeded attempt.
    pub succeeded_twice: Vec<String>,
}

impl Records {
    fn describe(execution: &ExecutionRow, nodes: &[(NodeRow, Vec<AttemptRow>)], base: i64) -> Records {
        let at = |t: i64| t - base;
        let at_opt = |t: Option<i64>| t.map(|t| t - base);
        let exec = execution.id.to_string();
        let mut text = String::new();
        let _ = writeln!(
            text,
            "execution {} nodes {}/{}/{}/{} error {} outputs {} updated {} finished {:?}",
            execution.phase,
            execution.nodes_total,
            execution.nodes_succeeded,
            execution.nodes_failed,
            execution.nodes_skipped,
            describe_error(execution.error.as_deref()),
            describe_literals(execution.outputs.as_deref()),
            at(execution.updated_at),
            at_opt(execution.finished_at),
        );
        let mut orphans = Vec::new();
        let mut succeeded_twice = Vec::new();
        for (node, attempts) in nodes {
            let _ = writeln!(
                text,
                "node {} {} attempts {} failures {}/{} upstream {} children {}/{}/{}/{} outputs {} error {} \
                 started {:?} finished {:?}",
                node.node_id,
                node.phase,
                node.attempts,
                node.user_failures,
                node.system_failures,
                node.upstream_pending,
                node.children_total,
                node.children_succeeded,
                node.children_failed,
                node.children_skipped,
                describe_literals(node.outputs.as_deref()),
                describe_error(node.error.as_deref()),
                at_opt(node.started_at),
                at_opt(node.finished_at),
            );
            for attempt in attempts {
                let _ = writeln!(
                    text,
                    "  attempt {} {} worker {:?} not_before {} lease {:?} deadline {:?} error {} started {:?} \
                     finished {:?}",
                    attempt.attempt,
                    attempt.phase,
                    attempt.worker_id,
                    at(attempt.not_before.min(i64::MAX - 1)),
                    at_opt(attempt.lease_expires_at),
                    at_opt(attempt.deadline),
                    describe_error(attempt.error.as_deref()),
                    at_opt(attempt.started_at),
                    at_opt(attempt.finished_at),
                );
                if node.phase.is_terminal() && !attempt.phase.is_terminal() {
                    orphans.push(format!(
                        "{} attempt {} {}",
                        node.node_id, attempt.attempt, attempt.phase
                    ));
                }
            }
            let succeeded = attempts
                .iter()
                .filter(|a| a.phase == gantry_core::state::AttemptPhase::Succeeded)
                .count();
            if succeeded > 1 {
                succeeded_twice.push(node.node_id.clone());
            }
        }
        Records {
            text: relative_times(&text.replace(&exec, "<execution>"), base),
            orphans,
            succeeded_twice,
        }
    }
}

/// Every node row of an execution, at every depth, in node id order.
pub async fn all_nodes(store: &dyn Store, execution_id: Uuid) -> Vec<NodeRow> {
    let mut nodes = Vec::new();
    let mut parents = vec![String::new()];
    while let Some(parent) = parents.pop() {
        let page = Page {
            after: None,
            limit: 10_000,
        };
        for node in store.list_nodes(execution_id, &parent, &page).await.expect("nodes") {
            parents.push(node.node_id.clone());
            nodes.push(node);
        }
    }
    nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    nodes
}

/// Asserts a completion was accepted, every result in it.
pub fn assert_completed(answer: &Answer) {
    assert!(
        matches!(answer, Answer::Completed(Ok(o)) if o.iter().all(Result::is_ok)),
        "{answer:?}"
    );
}

/// Registers `int_task` "child" on queue `q` and the dynamic `list_task` "generator" that fans out to it.
pub async fn register_child_and_generator(harness: &Harness) -> (TaskTemplate, TaskTemplate) {
    let child = int_task("child", "q");
    let generator = list_task("generator", "q");
    harness
        .register(vec![
            Registration::Task(child.clone()),
            Registration::Task(generator.clone()),
        ])
        .await;
    (child, generator)
}

/// Replaces instants near `base` written in messages (`deadline passed at 1000601210000 ms`) by their offset from
/// it, so that runs at different instants compare equal.
pub fn relative_times(text: &str, base: i64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        match digits.parse::<i64>() {
            Ok(t) if digits.len() >= 12 && (base - 86_400_000..base + 86_400_000).contains(&t) => {
                let _ = write!(out, "base{:+}", t - base);
            }
            _ => out.push_str(digits),
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

impl Records {
    /// No attempt left queued or running under a finished node, no node succeeded twice.
    pub fn assert_sound(&self) {
        assert!(
            self.orphans.is_empty() && self.succeeded_twice.is_empty(),
            "open attempts under finished nodes {:?}, nodes succeeded twice {:?}\n{}",
            self.orphans,
            self.succeeded_twice,
            self.text
        );
    }
}

fn describe_error(bytes: Option<&[u8]>) -> String {
    match bytes.map(codec::decode_error) {
        None => "-".into(),
        Some(Ok(error)) => format!("{}:{}:{}:{}", error.kind, error.code, error.node_id, error.message),
        Some(Err(error)) => format!("undecodable {error}"),
    }
}

fn describe_literals(bytes: Option<&[u8]>) -> String {
    match bytes.map(codec::decode_literals) {
        None => "-".into(),
        Some(Ok(map)) => format!("{map:?}"),
        Some(Err(error)) => format!("undecodable {error}"),
    }
}

/// `project/domain/name@1`.
pub fn id(name: &str) -> Identifier {
    Identifier::new("test", "dev", name, "1")
}

/// A task `name(x: int) -> y: int` on `queue`.
pub fn int_task(name: &str, queue: &str) -> TaskTemplate {
    TaskTemplate {
        id: id(name),
        interface: TypedInterface {
            inputs: vec![Variable::new("x", LiteralType::Integer)],
            outputs: vec![Variable::new("y", LiteralType::Integer)],
        },
        metadata: gantry_core::model::TaskMetadata {
            queue: queue.to_owned(),
            ..Default::default()
        },
        container: None,
        plugin: None,
    }
}

/// A dynamic task `name(x: int) -> y: list[int]` on `queue`.
pub fn list_task(name: &str, queue: &str) -> TaskTemplate {
    let mut task = int_task(name, queue);
    task.interface.outputs = vec![Variable::new(
        "y",
        LiteralType::Collection(Box::new(LiteralType::Integer)),
    )];
    task
}

/// A spec of `count` nodes `c<i>` running `child` on input `i`, whose list of outputs is the parent's `y`.
pub fn fan_out(child: &TaskTemplate, count: usize) -> DynamicJobSpec {
    let nodes: Vec<Node> = (0..count)
        .map(|i| {
            Node::task(
                format!("c{i}"),
                child.id.clone(),
                vec![Binding::literal("x", Literal::Integer(i as i64))],
            )
        })
        .collect();
    let outputs = gantry_core::model::BindingData::Collection(
        (0..count)
            .map(|i| gantry_core::model::BindingData::Promise(gantry_core::model::Promise::new(format!("c{i}"), "y")))
            .collect(),
    );
    DynamicJobSpec {
        nodes,
        min_successes: None,
        outputs: vec![Binding::new("y", outputs)],
        tasks: Vec::new(),
        subworkflows: Vec::new(),
    }
}

pub fn inputs(x: i64) -> LiteralMap {
    LiteralMap::from([("x".to_owned(), Literal::Integer(x))])
}

pub fn claim(worker: &str, queue: &str) -> Request {
    Request::Claim {
        claimant: any_project(worker),
        queues: vec![queue.to_owned()],
        limit: 10,
    }
}

/// A worker that claims attempts of every project.
fn any_project(worker: &str) -> crate::worker::Claimant {
    crate::worker::Claimant {
        worker_id: worker.to_owned(),
        project: None,
    }
}

pub fn heartbeat(worker: &str, assignment: &Assignment) -> Request {
    Request::Heartbeat {
        worker_id: worker.to_owned(),
        leases: vec![(assignment.attempt.clone(), assignment.lease_id)],
    }
}

/// A completion as the writer gets it when its dynamic spec could not be compiled at the edge: the writer compiles
/// it (see [`Harness::complete_at_the_edge`] for the usual way).
pub fn complete(worker: &str, assignment: &Assignment, result: gantry_core::state::AttemptResult) -> Request {
    Request::Complete {
        worker_id: worker.to_owned(),
        completions: vec![Admitted {
            completion: completion(assignment, result),
            spec: None,
        }],
    }
}

/// A poll by `worker` of `queue` carrying a completion of `assignment`.
pub fn poll(worker: &str, queue: &str, assignment: &Assignment, result: gantry_core::state::AttemptResult) -> Request {
    Request::Poll {
        claimant: any_project(worker),
        completions: vec![Admitted {
            completion: completion(assignment, result),
            spec: None,
        }],
        queues: vec![queue.to_owned()],
        limit: 10,
    }
}

fn completion(assignment: &Assignment, result: gantry_core::state::AttemptResult) -> Completion {
    Completion {
        attempt: assignment.attempt.clone(),
        lease_id: assignment.lease_id,
        result,
        result_bytes: 0,
        encoded_spec: None,
    }
}
