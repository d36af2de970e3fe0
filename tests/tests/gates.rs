//! Gate nodes in a registered workflow, over gRPC, on both stores: a sleep of one second seen in the records, a typed
//! signal set through `SetSignal` (a wrong type refused first, with nothing changed), and an approval; `ListSignals`
//! shows what waits and what was set, and the audit log records who set what.

use std::time::Duration as StdDuration;

use gantry_core::model::{
    Binding, BindingData, Duration, GateCondition, GateNode, Identifier, Literal, LiteralMap, LiteralType, Node,
    NodeOverrides, NodeTarget, Promise, TypedInterface, Variable, WorkflowTemplate,
};
use gantry_proto::v1 as pb;
use gantry_proto::v1::audit_service_client::AuditServiceClient;
use gantry_tests::client;
use gantry_tests::sdk::{RunningWorker, task_def};
use gantry_tests::{Backend, TestServer, wait_for_node, wait_for_terminal};
use gantry_worker::{Inputs, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs};
use tonic::Code;

fn double_def() -> TaskDef {
    task_def("gate_double")
        .input("x", LiteralType::Integer)
        .output("y", LiteralType::Integer)
}

async fn double(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let x: i64 = inputs.get("x")?;
    Ok(outputs().set("y", x * 2).into())
}

fn gate(id: &str, condition: GateCondition, inputs: Vec<Binding>, upstream: &[&str]) -> Node {
    Node {
        id: id.to_owned(),
        inputs,
        upstream: upstream.iter().map(|id| (*id).to_owned()).collect(),
        target: NodeTarget::Gate(GateNode {
            condition,
            timeout: None,
        }),
        overrides: NodeOverrides::default(),
    }
}

/// `nap` (1 s) and `ask` (an integer) -> `double(x = ask)` -> approval `ship` of its `y` -> the workflow's `y`.
fn gated_workflow() -> WorkflowTemplate {
    let ask = GateCondition::Signal {
        id: "ask".to_owned(),
        ty: LiteralType::Integer,
        output: "o0".to_owned(),
    };
    let mut doubled = Node::task("d", double_def().id().clone(), vec![Binding::promise("x", "ask", "o0")]);
    doubled.upstream = vec!["nap".to_owned()];
    WorkflowTemplate {
        id: Identifier::new("demo", "dev", "gated", "1"),
        interface: TypedInterface {
            inputs: Vec::new(),
            outputs: vec![Variable::new("y", LiteralType::Integer)],
        },
        nodes: vec![
            gate("nap", GateCondition::Sleep(Duration::from_secs(1)), vec![], &[]),
            gate("ask", ask, vec![], &[]),
            doubled,
            gate(
                "ship",
                GateCondition::Approve { id: "ship".to_owned() },
                vec![Binding::promise("v", "d", "y")],
                &[],
            ),
        ],
        outputs: vec![Binding::new("y", BindingData::Promise(Promise::new("ship", "v")))],
        failure_policy: Default::default(),
    }
}

fn set(execution_id: &str, signal_id: &str, value: Literal) -> pb::SetSignalRequest {
    pb::SetSignalRequest {
        execution_id: execution_id.to_owned(),
        signal_id: signal_id.to_owned(),
        value: Some(value.into()),
    }
}

async fn signals(admin: &mut client::Admin, execution_id: &str) -> Vec<pb::Signal> {
    let request = pb::ListSignalsRequest {
        execution_id: execution_id.to_owned(),
    };
    admin
        .list_signals(request)
        .await
        .expect("list signals")
        .into_inner()
        .signals
}

async fn a_gated_workflow_sleeps_takes_a_signal_and_an_approval(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_task(&mut admin, double_def().into_template()).await;
    client::register_workflow(&mut admin, gated_workflow()).await;
    let worker = Worker::builder(server.endpoint.clone())
        .task(double_def(), double)
        .build()
        .expect("worker");
    let worker = RunningWorker::spawn(worker);

    let target = client::workflow_target(gated_workflow().id);
    let id = client::create(&mut admin, target, LiteralMap::new(), |_| {}).await.id;
    wait_for_node(&mut admin, &id, "ask", pb::NodePhase::Running).await;
    let waiting = signals(&mut admin, &id).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        (waiting[0].signal_id.as_str(), waiting[0].node_id.as_str()),
        ("ask", "ask")
    );
    assert_eq!(waiting[0].r#type, Some(LiteralType::Integer.into()));

    let refused = admin
        .set_signal(set(&id, "ask", Literal::String("4".into())))
        .await
        .expect_err("a string for an integer");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("expected integer, got string"),
        "{}",
        refused.message()
    );
    let malformed = admin
        .set_signal(set(&id, "not a name", Literal::Integer(4)))
        .await
        .expect_err("a malformed signal id");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(
        malformed.message().starts_with("signal_id \"not a name\""),
        "{}",
        malformed.message()
    );
    let unknown = admin
        .set_signal(set(&id, "nobody", Literal::Integer(4)))
        .await
        .expect_err("no gate waits");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(signals(&mut admin, &id).await, waiting, "refusals change nothing");

    let answer = admin
        .set_signal(set(&id, "ask", Literal::Integer(4)))
        .await
        .expect("set")
        .into_inner();
    assert_eq!((answer.changed, answer.opened_node_ids), (true, vec!["ask".to_owned()]));
    wait_for_node(&mut admin, &id, "ship", pb::NodePhase::Running).await;
    let answer = admin
        .set_signal(set(&id, "ship", Literal::Boolean(true)))
        .await
        .expect("approve");
    assert_eq!(answer.into_inner().opened_node_ids, ["ship"]);

    let done = wait_for_terminal(&mut admin, &id).await;
    assert_eq!(done.phase, pb::ExecutionPhase::Succeeded as i32, "{:?}", done.error);
    assert_eq!(client::outputs(&mut admin, &id).await["y"], Literal::Integer(8));
    let nap = client::node(&mut admin, &id, "nap").await;
    assert_eq!(nap.kind, pb::NodeKind::Gate as i32);
    let slept = |node: &pb::NodeExecution| {
        let (start, end) = (node.started_at.expect("started"), node.finished_at.expect("finished"));
        StdDuration::from_secs((end.seconds - start.seconds) as u64) + StdDuration::from_nanos(end.nanos as u64)
            - StdDuration::from_nanos(start.nanos as u64)
    };
    assert!(slept(&nap) >= StdDuration::from_secs(1), "slept {:?}", slept(&nap));
    let set_signals = signals(&mut admin, &id).await;
    let described: Vec<_> = set_signals
        .iter()
        .map(|signal| {
            (
                signal.signal_id.as_str(),
                signal.node_id.as_str(),
                signal.set_by.as_str(),
            )
        })
        .collect();
    assert_eq!(described, [("ask", "", "developer"), ("ship", "", "developer")]);
    assert_eq!(set_signals[0].value, Some(Literal::Integer(4).into()));

    let mut audit = AuditServiceClient::connect(server.endpoint.clone())
        .await
        .expect("audit client");
    let request = pb::ListAuditEntriesRequest {
        rpc: "SetSignal".into(),
        ..Default::default()
    };
    let entries = audit
        .list_audit_entries(request)
        .await
        .expect("audit")
        .into_inner()
        .entries;
    let lines: Vec<_> = entries
        .iter()
        .rev()
        .map(|entry| format!("{} {} {}", entry.outcome, entry.summary, entry.message.len()))
        .collect();
    assert_eq!(entries.len(), 5, "{lines:?}");
    assert!(entries.iter().all(|entry| entry.target == id), "{entries:?}");
    assert!(
        entries[0].summary.contains("signal \"ship\"") && entries[0].summary.contains("to true"),
        "{:?}",
        entries[0]
    );
    assert!(
        !entries.iter().any(|entry| entry.summary.contains('4')),
        "values other than decisions are not logged"
    );

    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gated_workflow_sleeps_takes_a_signal_and_an_approval_on_postgres() {
    a_gated_workflow_sleeps_takes_a_signal_and_an_approval(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gated_workflow_sleeps_takes_a_signal_and_an_approval_on_sqlite() {
    a_gated_workflow_sleeps_takes_a_signal_and_an_approval(Backend::Sqlite).await;
}
