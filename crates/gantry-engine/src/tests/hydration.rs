//! Hydration off the writer: a node whose start needs an offloaded value waits for it, not started, with a row in
//! `hydrations` and a job for the hydrator, whose values the writer applies only while the node still waits. The
//! batches that leave it waiting never read the blob store (a blob store whose reads wait on the test's signal
//! holds no batch up); a missing value fails the node; a job lost in a restart is done again at start, a failed one
//! by the sweeper once it stalled; values that come back after a termination are dropped with their row; an array's
//! elements prepared again after a restart fetch their values the same way. Nothing offloaded: no statement on
//! `hydrations` at all.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use gantry_core::model::{
    ArrayNode, AttrStep, Binding, BindingData, BooleanExpr, BranchNode, ComparisonOp, ElseArm, ErrorKind, IfBlock,
    Literal, LiteralMap, LiteralType, Node, NodeTarget, Operand, Promise, SuccessCriteria, TaskTemplate,
    TypedInterface, Variable, WorkflowTemplate,
};
use gantry_core::state::{AttemptResult, ExecutionPhase, NodePhase};
use gantry_store::ExecutionRow;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions,
    PutPayload, PutResult,
};
use tokio::sync::watch;
use uuid::Uuid;

use super::harness::{Answer, Backend, Harness, complete, id, int_task};
use crate::blobs::BlobStore;
use crate::hydration::STALLED_AFTER_MS;
use crate::submit::{CreateExecution, Registration, Target};
use crate::writer::Request;

/// Values above this many bytes are offloaded.
const THRESHOLD: u64 = 100;

/// What the gated store's reads do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Open,
    /// Reads wait until the gate opens (or fails).
    Closed,
    /// Reads fail, as an unreachable store's would.
    Failing,
}

/// The in-memory blob store, whose reads the test holds or fails: writes go through.
#[derive(Debug)]
struct GatedStore {
    inner: InMemory,
    gate: watch::Sender<Gate>,
    /// Reads waiting at the closed gate.
    waiting: watch::Sender<usize>,
}

impl GatedStore {
    fn new() -> Arc<GatedStore> {
        Arc::new(GatedStore {
            inner: InMemory::new(),
            gate: watch::Sender::new(Gate::Open),
            waiting: watch::Sender::new(0),
        })
    }

    fn blob_store(self: &Arc<Self>) -> BlobStore {
        BlobStore {
            store: self.clone(),
            base: "memory://".to_owned(),
        }
    }

    fn set(&self, gate: Gate) {
        self.gate.send_replace(gate);
    }

    /// Until a read waits at the closed gate.
    async fn until_a_read_waits(&self) {
        let mut waiting = self.waiting.subscribe();
        waiting.wait_for(|n| *n > 0).await.expect("the store lives");
    }
}

impl std::fmt::Display for GatedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GatedStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for GatedStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        let mut gate = self.gate.subscribe();
        if *gate.borrow_and_update() == Gate::Closed {
            self.waiting.send_modify(|n| *n += 1);
            let _ = gate.wait_for(|gate| *gate != Gate::Closed).await;
            self.waiting.send_modify(|n| *n -= 1);
        }
        if *gate.borrow() == Gate::Failing {
            return Err(object_store::Error::Generic {
                store: "gated",
                source: "the blob store is unreachable".into(),
            });
        }
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &Path) -> object_store::Result<()> {
        self.inner.delete(location).await
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> std::pin::Pin<Box<dyn futures_core::Stream<Item = object_store::Result<ObjectMeta>> + Send>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy_if_not_exists(from, to).await
    }
}

/// A harness whose blob store is `gated`'s, offloading values above [`THRESHOLD`], with children created three at
/// a time; the templates registered.
async fn harness(backend: Backend, gated: &Arc<GatedStore>) -> Harness {
    let blobs = gated.blob_store();
    let harness = Harness::with_config(backend, |config| {
        config.limits.offload_bytes = THRESHOLD;
        config.blobs = Some(blobs);
        config.children_chunk = 3;
    })
    .await;
    harness
        .register(vec![
            Registration::Task(int_task("child", "q")),
            Registration::Task(texter()),
            Registration::Task(lists_task()),
            Registration::Workflow(branchy()),
            Registration::Workflow(arrays()),
        ])
        .await;
    harness
}

/// `texter(x: int) -> t: str` on queue `q`.
fn texter() -> TaskTemplate {
    let mut task = int_task("texter", "q");
    task.interface.outputs = vec![Variable::new("t", LiteralType::String)];
    task
}

/// `lists(x: int) -> l: list[list[int]]` on queue `q`.
fn lists_task() -> TaskTemplate {
    let mut task = int_task("lists", "q");
    let ints = LiteralType::Collection(Box::new(LiteralType::Integer));
    task.interface.outputs = vec![Variable::new("l", LiteralType::Collection(Box::new(ints)))];
    task
}

fn child(node_id: &str, x: i64) -> Node {
    Node::task(node_id, id("child"), vec![Binding::literal("x", Literal::Integer(x))])
}

/// `u = texter(x); if u.t > "w": big = child(1) else: small = child(2)`, whose `out` is the arm's `y`.
fn branchy() -> WorkflowTemplate {
    let branch = BranchNode {
        cases: vec![IfBlock {
            condition: BooleanExpr::Comparison {
                op: ComparisonOp::Gt,
                left: Operand::Var("t".into()),
                right: Operand::Literal(Literal::String("w".into())),
            },
            then_node: Box::new(child("big", 1)),
        }],
        otherwise: Some(ElseArm::Node(Box::new(child("small", 2)))),
    };
    let nodes = vec![
        Node::task("u", texter().id, vec![Binding::promise("x", "", "x")]),
        Node {
            id: "b".into(),
            inputs: vec![Binding::promise("t", "u", "t")],
            upstream: Vec::new(),
            target: NodeTarget::Branch(branch),
            overrides: Default::default(),
        },
    ];
    WorkflowTemplate {
        id: id("branchy"),
        interface: TypedInterface {
            inputs: vec![Variable::new("x", LiteralType::Integer)],
            outputs: vec![Variable::new("out", LiteralType::Integer)],
        },
        nodes,
        outputs: vec![Binding::promise("out", "b", "y")],
        failure_policy: Default::default(),
    }
}

/// `u = lists(x); arr = [child(x) for x in u.l[1]]` (parallelism 2), whose `ys` are the elements' `y`.
fn arrays() -> WorkflowTemplate {
    let mut second = Promise::new("u", "l");
    second.attr_path = vec![AttrStep::Index(1)];
    let ints = LiteralType::Collection(Box::new(LiteralType::Integer));
    let nodes = vec![
        Node::task("u", lists_task().id, vec![Binding::promise("x", "", "x")]),
        Node {
            id: "arr".into(),
            inputs: vec![Binding::new("x", BindingData::Promise(second))],
            upstream: Vec::new(),
            target: NodeTarget::Array(ArrayNode {
                node: Box::new(Node::task("e", id("child"), Vec::new())),
                parallelism: Some(2),
                success: SuccessCriteria::All,
            }),
            overrides: Default::default(),
        },
    ];
    WorkflowTemplate {
        id: id("arrays"),
        interface: TypedInterface {
            inputs: vec![Variable::new("x", LiteralType::Integer)],
            outputs: vec![Variable::new("ys", ints)],
        },
        nodes,
        outputs: vec![Binding::promise("ys", "arr", "y")],
        failure_policy: Default::default(),
    }
}

async fn run_workflow(harness: &Harness, name: &str) -> Uuid {
    let create = CreateExecution {
        project: "test".into(),
        domain: "dev".into(),
        name: None,
        target: Target::Workflow(id(name)),
        inputs: LiteralMap::from([("x".to_owned(), Literal::Integer(0))]),
        max_parallelism: None,
        overwrite_cache: false,
        timeout: None,
        origin: Default::default(),
        trace_context: None,
    };
    match harness.apply_one(Request::Create(Box::new(create))).await {
        Answer::Execution(result) => result.expect("created").id,
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Claims the upstream node `u`'s attempt and completes it with `outputs`, offloaded as the engine's edge would.
async fn complete_upstream(harness: &Harness, execution_id: Uuid, outputs: LiteralMap) {
    let claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempt.node_id, "u");
    let outputs = harness
        .shared
        .offloader
        .admit(outputs, &execution_id.to_string(), "outputs", u64::MAX)
        .await
        .expect("admitted");
    let answer = harness
        .apply_one(complete("w", &claimed[0], AttemptResult::Outputs(outputs)))
        .await;
    assert!(
        matches!(&answer, Answer::Completed(Ok(o)) if o.iter().all(Result::is_ok)),
        "{answer:?}"
    );
}

fn text(first: char) -> LiteralMap {
    LiteralMap::from([(
        "t".to_owned(),
        Literal::String(first.to_string().repeat(THRESHOLD as usize * 5)),
    )])
}

/// A node's stored outputs, decoded.
async fn node_outputs(harness: &Harness, execution_id: Uuid, node_id: &str) -> LiteralMap {
    let outputs = harness.node(execution_id, node_id).await.outputs;
    crate::codec::decode_literals(outputs.as_deref().expect("outputs")).expect("decode")
}

/// The nodes waiting for hydration, as the store lists them.
async fn waiting(harness: &Harness) -> Vec<(Uuid, String)> {
    harness.shared.store.hydrations(i64::MAX).await.expect("read")
}

fn statements(harness: &Harness) -> usize {
    harness.shared.hydration_statements.load(Ordering::SeqCst)
}

fn out(execution: &ExecutionRow) -> Literal {
    let outputs = crate::codec::decode_literals(execution.outputs.as_deref().expect("outputs")).expect("decode");
    outputs
        .get("out")
        .or_else(|| outputs.get("ys"))
        .expect("an output")
        .clone()
}

/// Runs `branchy` with `u`'s text offloaded, up to the branch waiting for it (the hydrator's jobs held).
async fn branch_waiting(harness: &Harness, first: char) -> Uuid {
    harness.hold_hydrations(true);
    let execution_id = run_workflow(harness, "branchy").await;
    complete_upstream(harness, execution_id, text(first)).await;
    let u = node_outputs(harness, execution_id, "u").await;
    assert!(matches!(u["t"], Literal::Offloaded(_)), "the text is offloaded");
    assert_eq!(harness.node(execution_id, "b").await.phase, NodePhase::NotStarted);
    assert_eq!(waiting(harness).await, [(execution_id, "b".to_owned())]);
    execution_id
}

/// The branch's arm and the execution finish: the arm `taken` succeeded with `y = expected`, the other skipped, and
/// no node waits for hydration.
async fn finishes_with_arm(harness: &Harness, execution_id: Uuid, taken: &str, expected: i64) {
    assert_eq!(harness.complete_children().await, 1, "the taken arm's task");
    let done = harness.execution(execution_id).await;
    assert_eq!(
        done.phase,
        ExecutionPhase::Succeeded,
        "{}",
        harness.records(execution_id, 0).await.text
    );
    assert_eq!(out(&done), Literal::Integer(expected));
    for arm in ["big", "small"] {
        let expected = if arm == taken {
            NodePhase::Succeeded
        } else {
            NodePhase::Skipped
        };
        assert_eq!(harness.node(execution_id, &format!("b/0/{arm}")).await.phase, expected);
    }
    assert!(waiting(harness).await.is_empty(), "no node waits");
    harness.records(execution_id, 0).await.assert_sound();
}

/// The branch's condition reads an offloaded output: the batch that settles the upstream node leaves the branch
/// waiting; the hydrator's values start it on the right arm, either way.
async fn a_branch_on_an_offloaded_value_takes_the_right_arm(backend: Backend) {
    let gated = GatedStore::new();
    let harness = harness(backend, &gated).await;
    for (first, taken, expected) in [('x', "big", 11), ('a', "small", 21)] {
        let execution_id = branch_waiting(&harness, first).await;
        harness.hold_hydrations(false);
        assert_eq!(harness.run_hydrations().await, 1);
        assert_eq!(harness.node(execution_id, "b").await.phase, NodePhase::ChildrenRunning);
        finishes_with_arm(&harness, execution_id, taken, expected).await;
    }
    harness.finish().await;
}

/// The same branch on a text that is not offloaded starts in the batch that settles its upstream node, and no
/// batch of the execution runs a statement on `hydrations`; an offloaded one does.
async fn nothing_offloaded_runs_no_statement_on_hydrations(backend: Backend) {
    let gated = GatedStore::new();
    let harness = harness(backend, &gated).await;
    let execution_id = run_workflow(&harness, "branchy").await;
    let small = LiteralMap::from([("t".to_owned(), Literal::String("x".repeat(10)))]);
    complete_upstream(&harness, execution_id, small).await;
    assert_eq!(harness.node(execution_id, "b").await.phase, NodePhase::ChildrenRunning);
    finishes_with_arm(&harness, execution_id, "big", 11).await;
    assert_eq!(statements(&harness), 0, "no statement on hydrations");

    let execution_id = branch_waiting(&harness, 'x').await;
    assert_eq!(statements(&harness), 1, "the wait's insert");
    harness.hold_hydrations(false);
    harness.run_hydrations().await;
    assert_eq!(statements(&harness), 3, "the check that it still waits, and the delete");
    finishes_with_arm(&harness, execution_id, "big", 11).await;
    harness.finish().await;
}

/// While the hydrator's read waits on the blob store, batches go on: another execution is created and succeeds,
/// the first one's branch still waiting; once the read goes on, the first execution succeeds too.
async fn the_writer_goes_on_while_a_fetch_waits(backend: Backend) {
    let gated = GatedStore::new();
    let harness = harness(backend, &gated).await;
    let execution_id = branch_waiting(&harness, 'x').await;
    gated.set(Gate::Closed);
    let job = harness.shared.next_hydration().expect("the branch's job");
    let offloader = harness.shared.offloader.clone();
    let fetching = tokio::spawn(async move { crate::hydration::run_jobs(&offloader, vec![job]).await });
    gated.until_a_read_waits().await;

    let other = harness
        .run_task(&int_task("child", "q"), super::harness::inputs(4))
        .await
        .id;
    assert_eq!(harness.complete_children().await, 1);
    let other = harness.execution(other).await;
    assert_eq!(other.phase, ExecutionPhase::Succeeded);
    assert_eq!(harness.node(execution_id, "b").await.phase, NodePhase::NotStarted);
    assert!(!fetching.is_finished(), "the read still waits");

    gated.set(Gate::Open);
    let mut results = fetching.await.expect("the fetch ran");
    let (key, request) = results.pop().expect("one result");
    assert_eq!(key, (execution_id, "b".to_owned()));
    harness.hold_hydrations(false);
    harness.apply_one(request.expect("values")).await;
    harness.shared.hydration_done(&key);
    finishes_with_arm(&harness, execution_id, "big", 11).await;
    harness.finish().await;
}

/// The offloaded value is gone from the blob store: the branch fails with a system error naming it, its input and
/// its URI, and the execution fails; nothing waits.
async fn a_missing_value_fails_the_node(backend: Backend) {
    let gated = GatedStore::new();
    let harness = harness(backend, &gated).await;
    let execution_id = branch_waiting(&harness, 'x').await;
    let u = node_outputs(&harness, execution_id, "u").await;
    let Literal::Offloaded(offloaded) = &u["t"] else {
        panic!("{u:?}")
    };
    let key = offloaded.uri.strip_prefix("memory:///").expect("in the blob store");
    gated.inner.delete(&Path::from(key)).await.expect("deleted");
    harness.hold_hydrations(false);
    assert_eq!(harness.run_hydrations().await, 1);

    let b = harness.node(execution_id, "b").await;
    assert_eq!(b.phase, NodePhase::Failed);
    let error = crate::codec::decode_error(b.error.as_deref().expect("an error")).expect("decode");
    assert_eq!(error.kind, ErrorKind::System);
    assert!(!error.recoverable);
    assert_eq!(error.code, "input_value_unavailable");
    assert_eq!(error.node_id, "b");
    assert!(
        error.message.contains("input \"t\"") && error.message.contains(&offloaded.uri),
        "{}",
        error.message
    );
    assert!(error.message.ends_with("which does not exist"), "{}", error.message);
    let done = harness.execution(execution_id).await;
    assert_eq!(done.phase, ExecutionPhase::Failed);
    assert!(waiting(&harness).await.is_empty());
    harness.records(execution_id, 0).await.assert_sound();
    harness.finish().await;
}

/// The job is lost in a restart (held, then a new engine on the same store): the starting engine finds the node
/// waiting and fetches its values again.
async fn a_wait_lost_in_a_restart_is_taken_up_at_start(backend: Backend) {
    let gated = GatedStore::new();
    let mut harness = harness(backend, &gated).await;
    let execution_id = branch_waiting(&harness, 'x').await;
    harness.hold_hydrations(false);
    harness.restart().await;
    assert_eq!(harness.node(execution_id, "b").await.phase, NodePhase::ChildrenRunning);
    finishes_with_arm(&harness, execution_id, "big", 11).await;
    harness.finish().await;
}

/// A job whose read failed (the blob store unreachable) gives up and leaves the node waiting; the sweeper's look
/// finds it only once it stalled, and only when no job of the engine carries it; fetched again, the branch starts.
/// Values that come back after that are dropped.
async fn a_failed_fetch_is_taken_up_by_the_sweeper(backend: Backend) {
    let gated = GatedStore::new();
    let harness = harness(backend, &gated).await;
    let execution_id = branch_waiting(&harness, 'x').await;
    let key = (execution_id, "b".to_owned());
    let now = harness.shared.config.clock.now();
    let stalled = || crate::hydration::resumable(&harness.shared, now + STALLED_AFTER_MS + 1);
    assert!(stalled().await.is_empty(), "its job is still waiting");

    gated.set(Gate::Failing);
    let job = harness.shared.next_hydration().expect("a job");
    let results = crate::hydration::run_jobs(&harness.shared.offloader, vec![job.clone()]).await;
    assert!(matches!(&results[..], [(k, None)] if *k == key), "no values");
    harness.shared.hydration_done(&key);
    assert_eq!(harness.node(execution_id, "b").await.phase, NodePhase::NotStarted);
    assert_eq!(waiting(&harness).await, std::slice::from_ref(&key));
    assert!(
        crate::hydration::resumable(&harness.shared, now).await.is_empty(),
        "not stalled yet"
    );

    gated.set(Gate::Open);
    let mut requests = stalled().await;
    assert_eq!(requests.len(), 1);
    let request = requests.pop().expect("one");
    assert!(matches!(&request, Request::Hydrate(k) if *k == key));
    harness.hold_hydrations(false);
    harness.apply_one(request).await;
    assert_eq!(harness.node(execution_id, "b").await.phase, NodePhase::ChildrenRunning);
    assert!(waiting(&harness).await.is_empty());

    let (_, late) = crate::hydration::run_jobs(&harness.shared.offloader, vec![job])
        .await
        .pop()
        .expect("a result");
    let before = harness.records(execution_id, 0).await;
    harness.apply_one(late.expect("values")).await;
    assert_eq!(
        harness.records(execution_id, 0).await,
        before,
        "the late values changed nothing"
    );
    finishes_with_arm(&harness, execution_id, "big", 11).await;
    harness.finish().await;
}

/// The execution is terminated while the branch waits: the branch is aborted with it, the values that come back
/// after are stale and dropped, and the row goes with them. A stale row the sweeper finds goes too.
async fn a_termination_while_waiting_drops_the_late_values(backend: Backend) {
    let gated = GatedStore::new();
    let harness = harness(backend, &gated).await;
    for late_values in [true, false] {
        let execution_id = branch_waiting(&harness, 'x').await;
        let job = harness.shared.next_hydration().expect("a job");
        let answer = harness
            .apply_one(Request::Terminate(execution_id, "stop".to_owned()))
            .await;
        assert!(matches!(&answer, Answer::Execution(Ok(_))), "{answer:?}");
        assert_eq!(harness.node(execution_id, "b").await.phase, NodePhase::Aborted);
        let request = if late_values {
            let (key, request) = crate::hydration::run_jobs(&harness.shared.offloader, vec![job])
                .await
                .pop()
                .expect("a result");
            harness.shared.hydration_done(&key);
            request.expect("values")
        } else {
            harness.shared.hydration_done(&job.key);
            let mut requests = crate::hydration::resumable(&harness.shared, i64::MAX).await;
            assert_eq!(requests.len(), 1, "the stale row is found");
            requests.pop().expect("one")
        };
        harness.apply_one(request).await;
        assert_eq!(harness.node(execution_id, "b").await.phase, NodePhase::Aborted);
        assert_eq!(
            harness.node(execution_id, "b").await.children_total,
            0,
            "no arm created"
        );
        assert_eq!(harness.execution(execution_id).await.phase, ExecutionPhase::Aborted);
        assert!(waiting(&harness).await.is_empty(), "the stale row is deleted");
        harness.records(execution_id, 0).await.assert_sound();
    }
    harness.finish().await;
}

/// An array over an attribute path into an offloaded list waits for it; its seven elements are created three a
/// batch, and after a restart the elements still to create are prepared again from values fetched the same way
/// (no row: the unfinished creation is what is resumed). Every element runs once; nothing is left waiting.
async fn an_array_prepared_again_after_a_restart_fetches_its_values(backend: Backend) {
    let gated = GatedStore::new();
    let mut harness = harness(backend, &gated).await;
    let execution_id = run_workflow(&harness, "arrays").await;
    let lists = |offset: i64| Literal::Collection((0..7).map(|i| Literal::Integer(offset + i)).collect());
    let outputs = LiteralMap::from([(
        "l".to_owned(),
        Literal::Collection(vec![lists(0), lists(100), lists(200)]),
    )]);
    complete_upstream(&harness, execution_id, outputs).await;
    let u = node_outputs(&harness, execution_id, "u").await;
    assert!(matches!(u["l"], Literal::Offloaded(_)), "the lists are offloaded");
    assert!(statements(&harness) > 0, "the array waited for them");
    assert_eq!(harness.node(execution_id, "arr").await.children_created, 3);
    assert!(waiting(&harness).await.is_empty());
    assert_eq!(harness.complete_children().await, 2, "two elements at a time");

    harness.hold_hydrations(true);
    harness.restart().await;
    assert!(
        harness.shared.next_creation().is_some(),
        "the array's creation is resumed"
    );
    let key = (execution_id, "arr".to_owned());
    harness.apply_one(Request::CreateChildren(key.clone())).await;
    assert_eq!(
        harness.node(execution_id, "arr").await.children_created,
        3,
        "no chunk without the values"
    );
    assert!(waiting(&harness).await.is_empty(), "no row for a composite's children");
    harness.hold_hydrations(false);
    assert_eq!(harness.run_hydrations().await, 1);
    assert_eq!(harness.node(execution_id, "arr").await.children_created, 6);
    loop {
        harness.create_queued_children().await;
        if harness.complete_children().await == 0 {
            break;
        }
    }
    let done = harness.execution(execution_id).await;
    assert_eq!(
        done.phase,
        ExecutionPhase::Succeeded,
        "{}",
        harness.records(execution_id, 0).await.text
    );
    assert_eq!(
        out(&done),
        Literal::Collection((100..107).map(|x| Literal::Integer(10 * x + 1)).collect())
    );
    assert!(waiting(&harness).await.is_empty());
    harness.records(execution_id, 0).await.assert_sound();
    harness.finish().await;
}

on_both_stores!(
    a_branch_on_an_offloaded_value_takes_the_right_arm,
    nothing_offloaded_runs_no_statement_on_hydrations,
    the_writer_goes_on_while_a_fetch_waits,
    a_missing_value_fails_the_node,
    a_wait_lost_in_a_restart_is_taken_up_at_start,
    a_failed_fetch_is_taken_up_by_the_sweeper,
    a_termination_while_waiting_drops_the_late_values,
    an_array_prepared_again_after_a_restart_fetches_its_values,
);
