//! Size limits and offloaded literals: values above the offload threshold are kept in the blob store and handed to
//! workers and clients whole (and to a branch's condition, fetched outside the writer); values above the hard limits
//! are refused with RESOURCE_EXHAUSTED naming them, and nothing is left stuck.

use gantry_core::model::{
    ArrayNode, AttrStep, Binding, BindingData, BooleanExpr, BranchNode, ComparisonOp, ElseArm, FailurePolicy, IfBlock,
    Literal, LiteralMap, LiteralType, Node, NodeTarget, Operand, Promise, SuccessCriteria, TypedInterface, Variable,
    WorkflowTemplate,
};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin};
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tonic::Code;

const THRESHOLD: u64 = 1024;
const HARD_LIMIT: u64 = 64 * 1024;

fn integer(inputs: &LiteralMap, name: &str) -> i64 {
    match inputs.get(name) {
        Some(Literal::Integer(i)) => *i,
        other => panic!("{name}: {other:?}"),
    }
}

/// `big(n)`: a string of n `x`; `big_list(n)`: three such strings; `measure(text)`: its length — a worker that only
/// ever sees whole values.
fn answer(assignment: &pb::AttemptAssignment) -> pb::completion::Result {
    let name = assignment
        .task
        .as_ref()
        .and_then(|t| t.id.as_ref())
        .map(|i| i.name.clone())
        .unwrap_or_default();
    let inputs: LiteralMap = assignment
        .inputs
        .clone()
        .unwrap_or_default()
        .try_into()
        .expect("inputs convert");
    let outputs = match name.as_str() {
        "big" => LiteralMap::from([(
            "text".to_owned(),
            Literal::String("x".repeat(integer(&inputs, "n") as usize)),
        )]),
        "big_list" => {
            let n = integer(&inputs, "n") as usize;
            let items = (0..3)
                .map(|i| Literal::String(char::from(b'a' + i).to_string().repeat(n)))
                .collect();
            LiteralMap::from([("items".to_owned(), Literal::Collection(items))])
        }
        "measure" => match inputs.get("text") {
            Some(Literal::String(text)) => LiteralMap::from([("len".to_owned(), Literal::Integer(text.len() as i64))]),
            other => panic!("measure got {other:?}, not the whole string"),
        },
        _ => return raw_worker::result_for(assignment),
    };
    pb::completion::Result::Outputs(outputs.into())
}

async fn setup(backend: Backend) -> (TestServer, Admin) {
    let server = TestServer::start_with(backend, |config| {
        config.offload_bytes = THRESHOLD;
        config.max_literal_bytes = HARD_LIMIT;
        config.max_spec_bytes = 16 * 1024;
    })
    .await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    let int = LiteralType::Integer;
    let text = LiteralType::String;
    for template in [
        raw_worker::template("big", &[("n", int.clone())], &[("text", text.clone())]),
        raw_worker::template(
            "big_list",
            &[("n", int.clone())],
            &[("items", LiteralType::collection(text.clone()))],
        ),
        raw_worker::template("measure", &[("text", text)], &[("len", int)]),
    ] {
        client::register_task(&mut admin, template).await;
    }
    (server, admin)
}

/// `big(n) -> measure`, `big_list(n) -> measure(items[1])`, and an array of `big` over `ns`.
fn offloading_workflow() -> WorkflowTemplate {
    let int = LiteralType::Integer;
    let text = LiteralType::String;
    let mut second = Promise::new("l0", "items");
    second.attr_path = vec![AttrStep::Index(1)];
    let nodes = vec![
        Node::task("b0", id("big"), vec![Binding::promise("n", "", "n")]),
        Node::task("m0", id("measure"), vec![Binding::promise("text", "b0", "text")]),
        Node::task("l0", id("big_list"), vec![Binding::promise("n", "", "n")]),
        Node::task(
            "m1",
            id("measure"),
            vec![Binding::new("text", BindingData::Promise(second))],
        ),
        Node {
            id: "each".into(),
            inputs: vec![Binding::promise("n", "", "ns")],
            upstream: Vec::new(),
            target: NodeTarget::Array(ArrayNode {
                node: Box::new(Node::task("inner", id("big"), Vec::new())),
                parallelism: None,
                success: SuccessCriteria::All,
            }),
            overrides: Default::default(),
        },
    ];
    WorkflowTemplate {
        id: id("offloading"),
        interface: TypedInterface {
            inputs: vec![
                Variable::new("n", int.clone()),
                Variable::new("ns", LiteralType::collection(int.clone())),
            ],
            outputs: vec![
                Variable::new("text", text.clone()),
                Variable::new("len", int.clone()),
                Variable::new("second_len", int),
                Variable::new("texts", LiteralType::collection(text)),
            ],
        },
        nodes,
        outputs: vec![
            Binding::promise("text", "b0", "text"),
            Binding::promise("len", "m0", "len"),
            Binding::promise("second_len", "m1", "len"),
            Binding::promise("texts", "each", "text"),
        ],
        failure_policy: FailurePolicy::FailImmediately,
    }
}

/// `b0 = big(n); if b0.text > "w": long = measure(b0.text) else: short = measure("short")`, whose `len` is the
/// arm's: the branch's condition reads an offloaded value.
fn offloaded_branch_workflow() -> WorkflowTemplate {
    let int = LiteralType::Integer;
    let branch = BranchNode {
        cases: vec![IfBlock {
            condition: BooleanExpr::Comparison {
                op: ComparisonOp::Gt,
                left: Operand::Var("text".into()),
                right: Operand::Literal(Literal::String("w".into())),
            },
            then_node: Box::new(Node::task(
                "long",
                id("measure"),
                vec![Binding::promise("text", "b0", "text")],
            )),
        }],
        otherwise: Some(ElseArm::Node(Box::new(Node::task(
            "short",
            id("measure"),
            vec![Binding::literal("text", Literal::String("short".into()))],
        )))),
    };
    let nodes = vec![
        Node::task("b0", id("big"), vec![Binding::promise("n", "", "n")]),
        Node {
            id: "br".into(),
            inputs: vec![Binding::promise("text", "b0", "text")],
            upstream: Vec::new(),
            target: NodeTarget::Branch(branch),
            overrides: Default::default(),
        },
    ];
    WorkflowTemplate {
        id: id("offloaded_branch"),
        interface: TypedInterface {
            inputs: vec![Variable::new("n", int.clone())],
            outputs: vec![Variable::new("len", int)],
        },
        nodes,
        outputs: vec![Binding::promise("len", "br", "len")],
        failure_policy: FailurePolicy::FailImmediately,
    }
}

fn offloaded_in(outputs: &Option<Vec<u8>>) -> Vec<String> {
    let outputs = gantry_engine::decode_literals(outputs.as_deref().expect("outputs")).expect("decode");
    outputs
        .into_iter()
        .filter(|(_, literal)| matches!(literal, Literal::Offloaded(_)))
        .map(|(name, _)| name)
        .collect()
}

async fn offloaded_literals_round_trip(backend: Backend) {
    let (server, mut admin) = setup(backend).await;
    client::register_workflow(&mut admin, offloading_workflow()).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(raw_worker::run_with(server.worker().await, "big", 16, stopped, answer));
    let n = 10_000;
    let inputs = LiteralMap::from([
        ("n".to_owned(), Literal::Integer(n)),
        (
            "ns".to_owned(),
            Literal::Collection(vec![Literal::Integer(2_000), Literal::Integer(3_000)]),
        ),
    ]);
    let created = client::create(&mut admin, client::workflow_target(id("offloading")), inputs, |_| {}).await;
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );

    // Clients get whole values.
    let outputs = client::outputs(&mut admin, &execution.id).await;
    assert_eq!(outputs["text"], Literal::String("x".repeat(n as usize)));
    assert_eq!(outputs["len"], Literal::Integer(n), "the worker got the whole string");
    assert_eq!(
        outputs["second_len"],
        Literal::Integer(n),
        "an attribute path reached into an offloaded list"
    );
    assert_eq!(
        outputs["texts"],
        Literal::Collection(vec![
            Literal::String("x".repeat(2_000)),
            Literal::String("x".repeat(3_000))
        ])
    );
    let data = admin
        .get_node_execution_data(pb::GetNodeExecutionDataRequest {
            execution_id: execution.id.clone(),
            node_id: "m0".into(),
            ..Default::default()
        })
        .await
        .expect("node data")
        .into_inner();
    let m0_inputs: LiteralMap = data.inputs.expect("inputs").try_into().expect("convert");
    assert_eq!(m0_inputs["text"], Literal::String("x".repeat(n as usize)));

    // The rows hold references; the blob store holds the values.
    let store = server.store().await;
    let uuid = execution.id.parse().expect("uuid");
    let b0 = store.get_node(uuid, "b0").await.expect("read").expect("b0");
    assert_eq!(offloaded_in(&b0.outputs), ["text"]);
    assert!(
        b0.outputs.as_ref().expect("outputs").len() < 1024,
        "the row keeps a reference only"
    );
    let l0 = store.get_node(uuid, "l0").await.expect("read").expect("l0");
    assert_eq!(offloaded_in(&l0.outputs), ["items"]);
    let m0 = store.get_node(uuid, "m0").await.expect("read").expect("m0");
    assert!(offloaded_in(&m0.outputs).is_empty(), "small values stay inline");
    let each = store.get_node(uuid, "each").await.expect("read").expect("each");
    match &gantry_engine::decode_literals(each.outputs.as_deref().expect("outputs")).expect("decode")["text"] {
        Literal::Collection(items) => assert!(items.iter().all(|item| matches!(item, Literal::Offloaded(_)))),
        other => panic!("gathered {other:?}"),
    }
    assert_eq!(
        walk(&server.blobs),
        4,
        "b0's text, l0's items and the two elements; the execution's text refers to b0's object, not a copy"
    );
    let stored = store.get_execution(uuid).await.expect("read").expect("execution");
    assert_eq!(offloaded_in(&stored.outputs), ["text"]);
    drop(store);
    let _ = stop.send(true);
    server.stop().await;
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| if entry.path().is_dir() { walk(&entry.path()) } else { 1 })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offloaded_literals_postgres() {
    offloaded_literals_round_trip(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offloaded_literals_sqlite() {
    offloaded_literals_round_trip(Backend::Sqlite).await;
}

/// The branch's condition reads `b0`'s offloaded text: the branch waits, not started, while the server's hydrator
/// fetches it outside the writer, then takes the arm the whole value selects; the execution succeeds, its records
/// are sound and no node is left waiting for values.
async fn a_branch_reads_an_offloaded_value(backend: Backend) {
    let (server, mut admin) = setup(backend).await;
    client::register_workflow(&mut admin, offloaded_branch_workflow()).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(raw_worker::run_with(server.worker().await, "big", 16, stopped, answer));
    let n = 10_000;
    let inputs = LiteralMap::from([("n".to_owned(), Literal::Integer(n))]);
    let created = client::create(
        &mut admin,
        client::workflow_target(id("offloaded_branch")),
        inputs,
        |_| {},
    )
    .await;
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    assert_eq!(
        client::outputs(&mut admin, &execution.id).await["len"],
        Literal::Integer(n),
        "the long arm measured the whole text"
    );
    let arms: Vec<(String, String)> = client::children(&mut admin, &execution.id, "br")
        .await
        .into_iter()
        .map(|node| (node.node_id.clone(), client::phase_name(node.phase)))
        .collect();
    assert_eq!(
        arms,
        [
            ("br/0/long".to_owned(), "SUCCEEDED".to_owned()),
            ("br/0/short".to_owned(), "SKIPPED".to_owned()),
        ]
    );

    let store = server.store().await;
    let uuid = execution.id.parse().expect("uuid");
    let b0 = store.get_node(uuid, "b0").await.expect("read").expect("b0");
    assert_eq!(
        offloaded_in(&b0.outputs),
        ["text"],
        "the condition read an offloaded value"
    );
    assert!(
        store.hydrations(i64::MAX).await.expect("read").is_empty(),
        "no node is left waiting for values"
    );
    drop(store);
    let db = server.records_db().await;
    gantry_tests::records::check(&db, &[]).await.assert_sound();
    db.close().await;
    let _ = stop.send(true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offloaded_branch_postgres() {
    a_branch_reads_an_offloaded_value(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offloaded_branch_sqlite() {
    a_branch_reads_an_offloaded_value(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_cleanly_and_lose_nothing() {
    let (server, mut admin) = setup(Backend::Postgres).await;
    let mut worker = server.worker().await;

    // An execution's input above the hard limit: refused, naming it.
    let huge = LiteralMap::from([("text".to_owned(), Literal::String("y".repeat(HARD_LIMIT as usize + 1)))]);
    let refused = admin
        .create_execution(pb::CreateExecutionRequest {
            project: "demo".into(),
            domain: "dev".into(),
            target: Some(client::task_target(id("measure"))),
            inputs: Some(huge.into()),
            ..Default::default()
        })
        .await
        .expect_err("too large");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("\"text\""), "{}", refused.message());

    // Clients never send offloaded literals.
    let forged = pb::Literal {
        value: Some(pb::literal::Value::Offloaded(pb::OffloadedLiteral {
            uri: "file:///etc/passwd".into(),
            size_bytes: 10,
            r#type: Some(LiteralType::String.into()),
            sha256: String::new(),
        })),
        hash: String::new(),
    };
    let refused = admin
        .create_execution(pb::CreateExecutionRequest {
            project: "demo".into(),
            domain: "dev".into(),
            target: Some(client::task_target(id("measure"))),
            inputs: Some(pb::LiteralMap {
                literals: [("text".to_owned(), forged)].into(),
            }),
            ..Default::default()
        })
        .await
        .expect_err("forged");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    // A task output above the hard limit: that completion is refused, the attempt stays the worker's, and its error
    // report ends the execution.
    let created = client::create(
        &mut admin,
        client::task_target(id("big")),
        LiteralMap::from([("n".to_owned(), Literal::Integer(HARD_LIMIT as i64 * 2))]),
        |_| {},
    )
    .await;
    let assignment = poll_one(&mut worker).await;
    let result = answer(&assignment);
    let outcome = complete(&mut worker, &assignment, result).await;
    assert_eq!(outcome.status, pb::CompletionStatus::Rejected as i32);
    assert_eq!(outcome.code, Code::ResourceExhausted as i32, "{}", outcome.message);
    assert!(
        outcome.message.contains("\"text\"") && outcome.message.contains("node \"n0\""),
        "{}",
        outcome.message
    );
    let error = gantry_core::model::ExecutionError::user("too_large", "output too large").recoverable(false);
    let outcome = complete(&mut worker, &assignment, pb::completion::Result::Error(error.into())).await;
    assert_eq!(
        outcome.status,
        pb::CompletionStatus::Accepted as i32,
        "{}",
        outcome.message
    );
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);

    // A spec above its limit: refused the same way.
    let created = client::create(
        &mut admin,
        client::task_target(id("generate_others")),
        LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(2_000))]),
        |_| {},
    )
    .await;
    let assignment = poll_one(&mut worker).await;
    let outcome = complete(&mut worker, &assignment, raw_worker::result_for(&assignment)).await;
    assert_eq!(outcome.code, Code::ResourceExhausted as i32, "{}", outcome.message);
    assert!(outcome.message.contains("dynamic spec"), "{}", outcome.message);
    let small = pb::completion::Result::DynamicSpec(raw_worker::seed_spec(3).into());
    let outcome = complete(&mut worker, &assignment, small).await;
    assert_eq!(
        outcome.status,
        pb::CompletionStatus::Accepted as i32,
        "{}",
        outcome.message
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(raw_worker::run(server.worker().await, "raw", 16, stopped));
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Succeeded as i32);
    let _ = stop.send(true);
    server.stop().await;
}

async fn poll_one(
    worker: &mut gantry_proto::v1::worker_service_client::WorkerServiceClient<tonic::transport::Channel>,
) -> pb::AttemptAssignment {
    let polled = worker
        .poll_tasks(pb::PollTasksRequest {
            worker_id: "manual".into(),
            queues: vec!["default".into()],
            max_attempts: 1,
            wait: Some(prost_types::Duration { seconds: 10, nanos: 0 }),
            completions: Vec::new(),
        })
        .await
        .expect("poll")
        .into_inner();
    polled.assignments.into_iter().next().expect("an assignment")
}

async fn complete(
    worker: &mut gantry_proto::v1::worker_service_client::WorkerServiceClient<tonic::transport::Channel>,
    assignment: &pb::AttemptAssignment,
    result: pb::completion::Result,
) -> pb::CompletionResult {
    let response = worker
        .complete_attempts(pb::CompleteAttemptsRequest {
            worker_id: "manual".into(),
            completions: vec![raw_worker::completion(assignment, result)],
        })
        .await
        .expect("complete")
        .into_inner();
    response.results.into_iter().next().expect("a result")
}
