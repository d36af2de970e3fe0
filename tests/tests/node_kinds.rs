//! Every node kind end to end: sub-workflows, branches (taken, skipped, else error), array nodes (parallelism,
//! success ratio, a ratio of 1 typed as every element), launch plans chosen at run time by a dynamic task, dynamic tasks ten levels deep, and termination
//! reaching a launch plan's child execution.

use gantry_core::model::{
    ArrayNode, Binding, BooleanExpr, BranchNode, ComparisonOp, ElseArm, FailurePolicy, IfBlock, LaunchPlan, Literal,
    LiteralMap, LiteralType, Node, NodeTarget, Operand, ResourceKind, SuccessCriteria, TaskTemplate, TypedInterface,
    Variable, WorkflowTemplate,
};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin};
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};

fn int(value: i64) -> Literal {
    Literal::Integer(value)
}

fn inputs(pairs: &[(&str, Literal)]) -> LiteralMap {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

fn interface(inputs: &[(&str, LiteralType)], outputs: &[(&str, LiteralType)]) -> TypedInterface {
    TypedInterface {
        inputs: inputs.iter().map(|(n, t)| Variable::new(*n, t.clone())).collect(),
        outputs: outputs.iter().map(|(n, t)| Variable::new(*n, t.clone())).collect(),
    }
}

fn workflow(name: &str, interface: TypedInterface, nodes: Vec<Node>, outputs: Vec<Binding>) -> WorkflowTemplate {
    WorkflowTemplate {
        id: id(name),
        interface,
        nodes,
        outputs,
        failure_policy: FailurePolicy::FailImmediately,
    }
}

fn other_task(node_id: &str, index: Binding) -> Node {
    Node::task(node_id, id("other_task"), vec![index])
}

/// `double_twice(index) = other_task(other_task(index))`, i.e. `4 * index`.
fn double_twice() -> WorkflowTemplate {
    workflow(
        "double_twice",
        interface(
            &[("index", LiteralType::Integer)],
            &[("other_task_out", LiteralType::Integer)],
        ),
        vec![
            other_task("n0", Binding::promise("index", "", "index")),
            other_task("n1", Binding::promise("index", "n0", "other_task_out")),
        ],
        vec![Binding::promise("other_task_out", "n1", "other_task_out")],
    )
}

/// Starts a server on `backend` with the raw worker's tasks registered and the raw worker running.
async fn setup(backend: Backend) -> (TestServer, Admin, tokio::sync::watch::Sender<bool>) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(raw_worker::run(server.worker().await, "raw", 64, stopped));
    (server, admin, stop)
}

async fn run_to_end(
    admin: &mut Admin,
    target: pb::create_execution_request::Target,
    given: LiteralMap,
) -> pb::Execution {
    let created = client::create(admin, target, given, |_| {}).await;
    wait_for_terminal(admin, &created.id).await
}

fn assert_succeeded(execution: &pb::Execution) {
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "execution {} ended with {:?}",
        execution.id,
        execution.error
    );
}

fn ids(nodes: &[pb::NodeExecution]) -> Vec<(String, String)> {
    nodes
        .iter()
        .map(|n| (n.node_id.clone(), client::phase_name(n.phase)))
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

async fn sub_workflow_runs_inside_the_parent(backend: Backend) {
    let (server, mut admin, stop) = setup(backend).await;
    client::register_workflow(&mut admin, double_twice()).await;
    let outer = workflow(
        "outer",
        interface(&[("x", LiteralType::Integer)], &[("out", LiteralType::Integer)]),
        vec![
            Node {
                target: NodeTarget::SubWorkflow(id("double_twice")),
                ..other_task("s0", Binding::promise("index", "", "x"))
            },
            other_task("t1", Binding::promise("index", "s0", "other_task_out")),
        ],
        vec![Binding::promise("out", "t1", "other_task_out")],
    );
    client::register_workflow(&mut admin, outer).await;

    let execution = run_to_end(
        &mut admin,
        client::workflow_target(id("outer")),
        inputs(&[("x", int(3))]),
    )
    .await;
    assert_succeeded(&execution);
    assert_eq!(client::outputs(&mut admin, &execution.id).await["out"], int(24));

    let top = client::children(&mut admin, &execution.id, "").await;
    assert_eq!(ids(&top), owned(&[("s0", "SUCCEEDED"), ("t1", "SUCCEEDED")]));
    assert_eq!(top[0].kind, pb::NodeKind::SubWorkflow as i32);
    assert!(top[0].is_parent);
    let inner = client::children(&mut admin, &execution.id, "s0").await;
    assert_eq!(
        ids(&inner),
        owned(&[("s0/0/n0", "SUCCEEDED"), ("s0/0/n1", "SUCCEEDED")])
    );
    let _ = stop.send(true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_workflow_postgres() {
    sub_workflow_runs_inside_the_parent(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_workflow_sqlite() {
    sub_workflow_runs_inside_the_parent(Backend::Sqlite).await;
}

/// `if x > 5 and x != 100: big = other_task(x) elif x == 0: zero = other_task(50) else: small = other_task(1)`.
fn branch_workflow(name: &str, otherwise: Option<ElseArm>) -> WorkflowTemplate {
    let compare = |op, value| BooleanExpr::Comparison {
        op,
        left: Operand::Var("x".into()),
        right: Operand::Literal(int(value)),
    };
    let branch = BranchNode {
        cases: vec![
            IfBlock {
                condition: BooleanExpr::Conjunction {
                    op: gantry_core::model::ConjunctionOp::And,
                    left: Box::new(compare(ComparisonOp::Gt, 5)),
                    right: Box::new(compare(ComparisonOp::Neq, 100)),
                },
                then_node: Box::new(other_task("big", Binding::promise("index", "", "x"))),
            },
            IfBlock {
                condition: compare(ComparisonOp::Eq, 0),
                then_node: Box::new(other_task("zero", Binding::literal("index", int(50)))),
            },
        ],
        otherwise,
    };
    let node = Node {
        id: "b".into(),
        inputs: vec![Binding::promise("x", "", "x")],
        upstream: Vec::new(),
        target: NodeTarget::Branch(branch),
        overrides: Default::default(),
    };
    workflow(
        name,
        interface(&[("x", LiteralType::Integer)], &[("out", LiteralType::Integer)]),
        vec![node],
        vec![Binding::promise("out", "b", "other_task_out")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_runs_the_taken_arm_and_skips_the_others() {
    let (server, mut admin, stop) = setup(Backend::Postgres).await;
    let small = ElseArm::Node(Box::new(other_task("small", Binding::literal("index", int(1)))));
    client::register_workflow(&mut admin, branch_workflow("branchy", Some(small))).await;
    let cases = [
        (
            7,
            14,
            [
                ("b/0/big", "SUCCEEDED"),
                ("b/0/zero", "SKIPPED"),
                ("b/0/small", "SKIPPED"),
            ],
        ),
        (
            0,
            100,
            [
                ("b/0/big", "SKIPPED"),
                ("b/0/zero", "SUCCEEDED"),
                ("b/0/small", "SKIPPED"),
            ],
        ),
        (
            100,
            2,
            [
                ("b/0/big", "SKIPPED"),
                ("b/0/zero", "SKIPPED"),
                ("b/0/small", "SUCCEEDED"),
            ],
        ),
        (
            3,
            2,
            [
                ("b/0/big", "SKIPPED"),
                ("b/0/zero", "SKIPPED"),
                ("b/0/small", "SUCCEEDED"),
            ],
        ),
    ];
    for (x, expected, arms) in cases {
        let execution = run_to_end(
            &mut admin,
            client::workflow_target(id("branchy")),
            inputs(&[("x", int(x))]),
        )
        .await;
        assert_succeeded(&execution);
        assert_eq!(
            client::outputs(&mut admin, &execution.id).await["out"],
            int(expected),
            "x = {x}"
        );
        let top = client::children(&mut admin, &execution.id, "").await;
        assert_eq!(top[0].kind, pb::NodeKind::Branch as i32);
        assert_eq!(
            ids(&client::children(&mut admin, &execution.id, "b").await),
            owned(&arms),
            "x = {x}"
        );
    }

    let error = ElseArm::Error("x must exceed 5 or be 0".into());
    client::register_workflow(&mut admin, branch_workflow("branchy_strict", Some(error))).await;
    let execution = run_to_end(
        &mut admin,
        client::workflow_target(id("branchy_strict")),
        inputs(&[("x", int(3))]),
    )
    .await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    let error = execution.error.expect("error");
    assert!(error.message.contains("x must exceed 5 or be 0"), "{}", error.message);
    let b = client::node(&mut admin, &execution.id, "b").await;
    assert_eq!(client::phase_name(b.phase), "FAILED");
    assert!(client::children(&mut admin, &execution.id, "b").await.is_empty());
    let _ = stop.send(true);
    server.stop().await;
}

fn array_workflow(name: &str, task: &str, parallelism: Option<u32>, success: SuccessCriteria) -> WorkflowTemplate {
    let element = match success.requires_all() {
        true => LiteralType::Integer,
        false => LiteralType::optional(LiteralType::Integer),
    };
    let node = Node {
        id: "m".into(),
        inputs: vec![Binding::promise("index", "", "xs")],
        upstream: Vec::new(),
        target: NodeTarget::Array(ArrayNode {
            node: Box::new(Node::task("inner", id(task), Vec::new())),
            parallelism,
            success,
        }),
        overrides: Default::default(),
    };
    workflow(
        name,
        interface(
            &[("xs", LiteralType::collection(LiteralType::Integer))],
            &[("out", LiteralType::collection(element))],
        ),
        vec![node],
        vec![Binding::promise("out", "m", "other_task_out")],
    )
}

fn plain(literal: &Literal) -> Literal {
    match literal {
        Literal::Union(union) => plain(&union.value),
        Literal::Collection(items) => Literal::Collection(items.iter().map(plain).collect()),
        other => other.clone(),
    }
}

fn list(values: impl IntoIterator<Item = Option<i64>>) -> Literal {
    Literal::Collection(values.into_iter().map(|v| v.map_or(Literal::None, int)).collect())
}

async fn array_maps_with_parallelism_and_ratio(backend: Backend) {
    let (server, mut admin, stop) = setup(backend).await;
    client::register_workflow(
        &mut admin,
        array_workflow("mapped", "other_task", Some(3), SuccessCriteria::All),
    )
    .await;
    let xs = Literal::Collection((0..10).map(int).collect());
    let execution = run_to_end(
        &mut admin,
        client::workflow_target(id("mapped")),
        inputs(&[("xs", xs.clone())]),
    )
    .await;
    assert_succeeded(&execution);
    let out = client::outputs(&mut admin, &execution.id).await;
    assert_eq!(plain(&out["out"]), list((0..10).map(|i| Some(i * 2))));
    let elements = client::children(&mut admin, &execution.id, "m").await;
    assert_eq!(elements.len(), 10);
    assert_eq!(elements[9].node_id, "m/0/9");
    // The server's own records: at no instant were more than 3 elements running.
    let mut spans = Vec::new();
    for element in &elements {
        for attempt in client::attempts(&mut admin, &execution.id, &element.node_id).await {
            let (start, end) = (
                attempt.started_at.expect("started"),
                attempt.finished_at.expect("finished"),
            );
            spans.push((to_nanos(&start), to_nanos(&end)));
        }
    }
    assert_eq!(spans.len(), 10);
    assert!(max_overlap(&spans) <= 3, "more than 3 elements ran at once: {spans:?}");

    // A ratio of 1 (flytekit's `map_task` states one) is every element: the outputs are plain integers, no unions.
    let ratio = |r| SuccessCriteria::MinSuccessRatio(r);
    client::register_workflow(&mut admin, array_workflow("whole", "other_task", None, ratio(1.0))).await;
    let execution = run_to_end(
        &mut admin,
        client::workflow_target(id("whole")),
        inputs(&[("xs", xs.clone())]),
    )
    .await;
    assert_succeeded(&execution);
    let out = client::outputs(&mut admin, &execution.id).await;
    assert_eq!(out["out"], list((0..10).map(|i| Some(i * 2))));

    client::register_workflow(&mut admin, array_workflow("half", "flaky", None, ratio(0.5))).await;
    let execution = run_to_end(
        &mut admin,
        client::workflow_target(id("half")),
        inputs(&[("xs", xs.clone())]),
    )
    .await;
    assert_succeeded(&execution);
    let out = client::outputs(&mut admin, &execution.id).await;
    assert_eq!(
        plain(&out["out"]),
        list((0..10).map(|i| (i % 2 == 0).then_some(i * 2))),
        "failed elements are none"
    );

    client::register_workflow(&mut admin, array_workflow("most", "flaky", None, ratio(0.6))).await;
    let execution = run_to_end(&mut admin, client::workflow_target(id("most")), inputs(&[("xs", xs)])).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    let m = client::node(&mut admin, &execution.id, "m").await;
    assert_eq!(client::phase_name(m.phase), "FAILED");
    let message = m.error.expect("error").message;
    assert!(message.contains("6 required"), "{message}");
    let _ = stop.send(true);
    server.stop().await;
}

fn to_nanos(t: &prost_types::Timestamp) -> i128 {
    t.seconds as i128 * 1_000_000_000 + t.nanos as i128
}

/// The most spans that contain one instant (a span's end and the next one's start may touch).
fn max_overlap(spans: &[(i128, i128)]) -> usize {
    let mut edges: Vec<(i128, i32)> = spans.iter().flat_map(|&(s, e)| [(s, 1), (e, -1)]).collect();
    edges.sort_by_key(|&(t, delta)| (t, delta));
    let (mut current, mut most) = (0i32, 0i32);
    for (_, delta) in edges {
        current += delta;
        most = most.max(current);
    }
    most as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_postgres() {
    array_maps_with_parallelism_and_ratio(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_sqlite() {
    array_maps_with_parallelism_and_ratio(Backend::Sqlite).await;
}

fn launch_plan(name: &str, target: &str, kind: ResourceKind) -> LaunchPlan {
    LaunchPlan {
        id: id(name),
        target: id(target),
        target_kind: kind,
        default_inputs: LiteralMap::new(),
        fixed_inputs: LiteralMap::new(),
        max_parallelism: None,
        timeout: None,
        schedule: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_task_chooses_a_launch_plan_by_its_inputs() {
    let (server, mut admin, stop) = setup(Backend::Postgres).await;
    client::register_workflow(&mut admin, double_twice()).await;
    client::register_launch_plan(&mut admin, launch_plan("lp_small", "other_task", ResourceKind::Task)).await;
    client::register_launch_plan(
        &mut admin,
        launch_plan("lp_big", "double_twice", ResourceKind::Workflow),
    )
    .await;
    for (n, expected, plan) in [(3, 6, "lp_small"), (20, 80, "lp_big")] {
        let execution = run_to_end(
            &mut admin,
            client::task_target(id("choose_plan")),
            inputs(&[("n", int(n))]),
        )
        .await;
        assert_succeeded(&execution);
        assert_eq!(client::outputs(&mut admin, &execution.id).await["out"], int(expected));
        let lp = client::node(&mut admin, &execution.id, "n0/0/lp").await;
        assert_eq!(lp.kind, pb::NodeKind::LaunchPlan as i32);
        assert_eq!(lp.target.as_ref().map(|t| t.name.as_str()), Some(plan));
        assert!(!lp.child_execution_id.is_empty(), "the node names its child execution");
        // Visible from the child's side too.
        let child = client::execution(&mut admin, &lp.child_execution_id).await;
        assert_succeeded(&child);
        let parent = child.parent_node_execution.expect("parent node");
        assert_eq!(
            (parent.execution_id.as_str(), parent.node_id.as_str()),
            (execution.id.as_str(), "n0/0/lp")
        );
        assert_eq!(child.origin, pb::ExecutionOrigin::Child as i32);
        assert_eq!(
            client::outputs(&mut admin, &child.id).await["other_task_out"],
            int(expected)
        );
    }
    let _ = stop.send(true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_tasks_ten_levels_deep() {
    let (server, mut admin, stop) = setup(Backend::Postgres).await;
    let execution = run_to_end(
        &mut admin,
        client::task_target(id("deep")),
        inputs(&[("depth", int(9))]),
    )
    .await;
    assert_succeeded(&execution);
    assert_eq!(client::outputs(&mut admin, &execution.id).await["out"], int(42));
    // Ten dynamic levels (deep(9) .. deep(0)) and the leaf task under the last one.
    let mut node_id = "n0".to_owned();
    for level in 0..10 {
        let node = client::node(&mut admin, &execution.id, &node_id).await;
        assert!(node.is_dynamic_parent, "level {level}: {node_id} is a dynamic parent");
        assert_eq!(client::phase_name(node.phase), "SUCCEEDED");
        let children = client::children(&mut admin, &execution.id, &node_id).await;
        assert_eq!(children.len(), 1, "level {level}");
        node_id = format!("{node_id}/0/dn0");
        assert_eq!(children[0].node_id, node_id);
    }
    let leaf = client::node(&mut admin, &execution.id, &node_id).await;
    assert!(!leaf.is_dynamic_parent);
    assert_eq!(leaf.target.expect("target").name, "other_task");
    let _ = stop.send(true);
    server.stop().await;
}

/// Registers `task` on a queue no worker serves.
async fn register_unserved(admin: &mut Admin, mut task: TaskTemplate) {
    task.metadata.queue = "nobody".into();
    client::register_task(admin, task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_reaches_child_executions() {
    let server = TestServer::start(Backend::Postgres).await;
    let mut admin = server.admin().await;
    // Nobody serves the queue of `stuck`: its attempt stays queued until the termination.
    register_unserved(
        &mut admin,
        raw_worker::template("stuck", &[], &[("out", LiteralType::Integer)]),
    )
    .await;
    client::register_launch_plan(&mut admin, launch_plan("lp_stuck", "stuck", ResourceKind::Task)).await;
    let parent = workflow(
        "parent",
        interface(&[], &[("out", LiteralType::Integer)]),
        vec![Node {
            id: "lp".into(),
            inputs: Vec::new(),
            upstream: Vec::new(),
            target: NodeTarget::LaunchPlan(id("lp_stuck")),
            overrides: Default::default(),
        }],
        vec![Binding::promise("out", "lp", "out")],
    );
    client::register_workflow(&mut admin, parent).await;
    let created = client::create(
        &mut admin,
        client::workflow_target(id("parent")),
        LiteralMap::new(),
        |_| {},
    )
    .await;
    // The launch-plan node starts its child execution in the transaction that creates the parent.
    let lp = client::node(&mut admin, &created.id, "lp").await;
    assert_eq!(client::phase_name(lp.phase), "RUNNING");
    let child_id = lp.child_execution_id.clone();
    assert!(!child_id.is_empty());
    assert_eq!(
        client::execution(&mut admin, &child_id).await.phase,
        pb::ExecutionPhase::Running as i32
    );

    admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id: created.id.clone(),
            reason: "test".into(),
        })
        .await
        .expect("terminate");
    let parent = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(parent.phase, pb::ExecutionPhase::Aborted as i32);
    let child = wait_for_terminal(&mut admin, &child_id).await;
    assert_eq!(child.phase, pb::ExecutionPhase::Aborted as i32);
    let stuck_node = client::node(&mut admin, &child_id, "n0").await;
    assert_eq!(client::phase_name(stuck_node.phase), "ABORTED");
    let attempts = client::attempts(&mut admin, &child_id, "n0").await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].phase, pb::AttemptPhase::Aborted as i32);
    server.stop().await;
}

/// `a = flaky(1)` fails; `b` runs beside it; `c` waits on `a`.
fn policy_workflow(name: &str, policy: FailurePolicy, b_task: &str) -> WorkflowTemplate {
    let mut c = other_task("c", Binding::literal("index", int(2)));
    c.upstream = vec!["a".into()];
    WorkflowTemplate {
        failure_policy: policy,
        ..workflow(
            name,
            interface(&[], &[("out", LiteralType::Integer)]),
            vec![
                Node::task("a", id("flaky"), vec![Binding::literal("index", int(1))]),
                Node::task("b", id(b_task), vec![Binding::literal("index", int(4))]),
                c,
            ],
            vec![Binding::promise("out", "c", "other_task_out")],
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_immediately_aborts_the_running_nodes() {
    let (server, mut admin, stop) = setup(Backend::Postgres).await;
    // Nobody serves `stuck_b`'s queue: only an abort ends it.
    let int = LiteralType::Integer;
    let stuck = raw_worker::template("stuck_b", &[("index", int.clone())], &[("other_task_out", int)]);
    register_unserved(&mut admin, stuck).await;
    let immediately = policy_workflow("fails_at_once", FailurePolicy::FailImmediately, "stuck_b");
    client::register_workflow(&mut admin, immediately).await;

    let execution = run_to_end(
        &mut admin,
        client::workflow_target(id("fails_at_once")),
        LiteralMap::new(),
    )
    .await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    assert!(execution.error.expect("error").message.contains("index 1 is odd"));
    let nodes = ids(&client::children(&mut admin, &execution.id, "").await);
    assert_eq!(nodes, owned(&[("a", "FAILED"), ("b", "ABORTED"), ("c", "SKIPPED")]));

    let _ = stop.send(true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_after_every_runnable_node_waits_for_them() {
    // With `a` failed, the execution still runs until `b` has finished: a manual worker holds `b` to see it.
    let server = TestServer::start(Backend::Postgres).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    let after = policy_workflow(
        "fails_after",
        FailurePolicy::FailAfterExecutableNodesComplete,
        "other_task",
    );
    client::register_workflow(&mut admin, after).await;
    let mut worker = server.worker().await;
    let created = client::create(
        &mut admin,
        client::workflow_target(id("fails_after")),
        LiteralMap::new(),
        |_| {},
    )
    .await;
    let polled = worker
        .poll_tasks(pb::PollTasksRequest {
            worker_id: "manual".into(),
            queues: vec!["default".into()],
            max_attempts: 2,
            wait: Some(prost_types::Duration { seconds: 10, nanos: 0 }),
            completions: Vec::new(),
        })
        .await
        .expect("poll")
        .into_inner()
        .assignments;
    let node_of = |a: &pb::AttemptAssignment| a.attempt.as_ref().expect("attempt").node_id.clone();
    let (a, b): (Vec<_>, Vec<_>) = polled.into_iter().partition(|assignment| node_of(assignment) == "a");
    assert_eq!((a.len(), b.len()), (1, 1), "a and b are both ready");
    let complete = |assignment: &pb::AttemptAssignment| pb::CompleteAttemptsRequest {
        worker_id: "manual".into(),
        completions: vec![raw_worker::completion(assignment, raw_worker::result_for(assignment))],
    };
    worker.complete_attempts(complete(&a[0])).await.expect("complete a");
    assert_eq!(
        client::execution(&mut admin, &created.id).await.phase,
        pb::ExecutionPhase::Running as i32
    );
    let held = ids(&client::children(&mut admin, &created.id, "").await);
    assert_eq!(held, owned(&[("a", "FAILED"), ("b", "RUNNING"), ("c", "SKIPPED")]));
    worker.complete_attempts(complete(&b[0])).await.expect("complete b");
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    let nodes = ids(&client::children(&mut admin, &execution.id, "").await);
    assert_eq!(nodes, owned(&[("a", "FAILED"), ("b", "SUCCEEDED"), ("c", "SKIPPED")]));
    server.stop().await;
}
