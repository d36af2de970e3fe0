//! Gate nodes in dynamic specs, on both stores: a signal whose value flows on, a sleep the sweeper ends, an approval
//! given or refused, a timeout, a termination while gates wait, and a recovery that keeps what was signalled. Every
//! refused signal is checked to change nothing.

use std::sync::Arc;

use gantry_core::model::{
    Binding, BindingData, Duration, DynamicJobSpec, ExecutionError, GateCondition, GateNode, Literal, LiteralMap,
    LiteralType, Node, NodeOverrides, NodeTarget, Promise,
};
use gantry_core::state::{AttemptResult, ExecutionPhase, NodePhase};
use gantry_store::Page;
use uuid::Uuid;

use super::harness::{Answer, Backend, Harness, assert_completed, complete, id, inputs, int_task};
use crate::writer::Request;
use crate::{CreateExecution, EngineError, Origin, Registration, SignalSet, Target, codec};

fn gate(id: &str, condition: GateCondition, timeout: Option<Duration>, inputs: Vec<Binding>) -> Node {
    Node {
        id: id.to_owned(),
        inputs,
        upstream: Vec::new(),
        target: NodeTarget::Gate(GateNode { condition, timeout }),
        overrides: NodeOverrides::default(),
    }
}

fn signal(signal_id: &str) -> GateCondition {
    GateCondition::Signal {
        id: signal_id.to_owned(),
        ty: LiteralType::Integer,
        output: "o0".to_owned(),
    }
}

/// `gate -> c(x = gate.<output>)`, the spec's `y` from `c`.
fn gated_spec(gate_node: Node, output: &str) -> DynamicJobSpec {
    let gate_id = gate_node.id.clone();
    let mut consumer = Node::task("c", id("child"), vec![Binding::promise("x", &gate_id, output)]);
    if output.is_empty() {
        consumer.inputs = vec![Binding::literal("x", Literal::Integer(7))];
        consumer.upstream = vec![gate_id];
    }
    DynamicJobSpec {
        nodes: vec![gate_node, consumer],
        outputs: vec![Binding::new("y", BindingData::Promise(Promise::new("c", "y")))],
        ..DynamicJobSpec::default()
    }
}

/// Runs `generator` and has it return `spec`; returns the execution and the generator's node id.
async fn start(harness: &Harness, spec: DynamicJobSpec) -> (Uuid, String) {
    let (child, generator) = (int_task("child", "q"), int_task("generator", "q"));
    harness
        .register(vec![Registration::Task(child), Registration::Task(generator.clone())])
        .await;
    let execution_id = harness.run_task(&generator, inputs(0)).await.id;
    let claimed = harness.claim("w", "q").await;
    let result = AttemptResult::DynamicSpec(Arc::new(spec));
    assert_completed(
        &harness
            .apply_one(harness.complete_at_the_edge("w", &claimed[0], result).await)
            .await,
    );
    let page = Page { after: None, limit: 10 };
    let top = harness
        .shared
        .store
        .list_nodes(execution_id, "", &page)
        .await
        .expect("nodes");
    (execution_id, top[0].node_id.clone())
}

async fn set(harness: &Harness, execution_id: Uuid, signal_id: &str, value: Literal) -> Result<SignalSet, EngineError> {
    let request = Request::SetSignal {
        execution_id,
        signal_id: signal_id.to_owned(),
        value,
        set_by: "tester".to_owned(),
    };
    match harness.apply_one(request).await {
        Answer::SignalSet(result) => result,
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Claims the one attempt of `child` and completes it with `y = x + 1`; returns the `x` it got.
async fn run_child(harness: &Harness) -> i64 {
    let claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 1, "one child attempt");
    let x = match codec::decode_literals(&claimed[0].inputs).expect("inputs")["x"] {
        Literal::Integer(x) => x,
        ref other => panic!("x is {other:?}"),
    };
    let outputs = LiteralMap::from([("y".to_owned(), Literal::Integer(x + 1))]);
    assert_completed(
        &harness
            .apply_one(complete("w", &claimed[0], AttemptResult::Outputs(outputs)))
            .await,
    );
    x
}

/// How a gate ended: its phase, and its error's code and message.
async fn gate_ended(harness: &Harness, execution_id: Uuid, gate_id: &str) -> (NodePhase, String, String) {
    let row = harness.node(execution_id, gate_id).await;
    let error = codec::decode_error(row.error.as_deref().expect("an error")).expect("decodes");
    (row.phase, error.code, error.message)
}

async fn a_signal_opens_its_gate_and_its_value_flows_on(backend: Backend) {
    let harness = Harness::new(backend).await;
    let (execution_id, parent) = start(&harness, gated_spec(gate("ask", signal("count"), None, vec![]), "o0")).await;
    let gate_id = format!("{parent}/0/ask");
    assert_eq!(harness.node(execution_id, &gate_id).await.phase, NodePhase::Running);
    let waiting = crate::reads::signals::list(&harness.shared, execution_id)
        .await
        .expect("signals");
    assert_eq!(waiting.len(), 1);
    assert_eq!(
        (
            waiting[0].signal_id.as_str(),
            waiting[0].node_id.as_str(),
            waiting[0].ty.clone()
        ),
        ("count", gate_id.as_str(), Some(LiteralType::Integer))
    );
    assert!(waiting[0].value.is_none() && !waiting[0].approval && waiting[0].deadline_ms.is_none());

    // A value of the wrong type, and a signal no gate waits for: refused, and nothing changes.
    let Err(EngineError::InvalidArgument(message)) =
        set(&harness, execution_id, "count", Literal::String("3".into())).await
    else {
        panic!("a string for an integer signal is refused");
    };
    assert!(
        message.contains("\"count\"") && message.contains(&gate_id) && message.contains("expected integer, got string"),
        "{message}"
    );
    let Err(EngineError::NotFound(message)) = set(&harness, execution_id, "other", Literal::Integer(1)).await else {
        panic!("an unknown signal is NOT_FOUND");
    };
    assert!(message.contains("no gate waiting for signal \"other\""), "{message}");
    let Err(EngineError::NotFound(_)) = set(&harness, Uuid::now_v7(), "count", Literal::Integer(1)).await else {
        panic!("an unknown execution is NOT_FOUND");
    };
    assert_eq!(harness.node(execution_id, &gate_id).await.phase, NodePhase::Running);
    assert!(
        harness
            .shared
            .store
            .signals_of(execution_id)
            .await
            .expect("signals")
            .is_empty()
    );

    let set_once = set(&harness, execution_id, "count", Literal::Integer(41))
        .await
        .expect("set");
    assert_eq!(
        set_once,
        SignalSet {
            changed: true,
            opened: vec![gate_id.clone()]
        }
    );
    let gate_row = harness.node(execution_id, &gate_id).await;
    assert_eq!(gate_row.phase, NodePhase::Succeeded);
    assert_eq!(
        codec::decode_literals(gate_row.outputs.as_deref().unwrap()).unwrap()["o0"],
        Literal::Integer(41)
    );
    assert!(
        harness
            .shared
            .store
            .gates_of(execution_id)
            .await
            .expect("gates")
            .is_empty(),
        "disarmed"
    );
    assert_eq!(run_child(&harness).await, 41);
    assert_eq!(harness.execution(execution_id).await.phase, ExecutionPhase::Succeeded);

    // Idempotent with the same value; another value is refused.
    let again = set(&harness, execution_id, "count", Literal::Integer(41))
        .await
        .expect("set again");
    assert_eq!(
        again,
        SignalSet {
            changed: false,
            opened: vec![]
        }
    );
    let Err(EngineError::FailedPrecondition(message)) = set(&harness, execution_id, "count", Literal::Integer(5)).await
    else {
        panic!("another value is refused");
    };
    assert!(
        message.contains("already set to another value by \"tester\""),
        "{message}"
    );
    let listed = crate::reads::signals::list(&harness.shared, execution_id)
        .await
        .expect("signals");
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].node_id.as_str(), listed[0].set_by.as_str()), ("", "tester"));
    assert_eq!(listed[0].value, Some(Literal::Integer(41).into()));
    harness.finish().await;
}

async fn a_sleep_ends_when_its_time_has_passed_even_across_a_restart(backend: Backend) {
    let mut harness = Harness::new(backend).await;
    let started = 1_000_000_000_000;
    let sleep = gate("nap", GateCondition::Sleep(Duration::from_secs(1)), None, vec![]);
    let (execution_id, parent) = start(&harness, gated_spec(sleep, "")).await;
    let gate_id = format!("{parent}/0/nap");
    harness.restart().await;
    harness.set_now(started + 999);
    harness.apply_one(Request::Sweep).await;
    assert_eq!(harness.node(execution_id, &gate_id).await.phase, NodePhase::Running);
    assert!(
        harness.claim("w", "q").await.is_empty(),
        "the consumer waits for the sleep"
    );

    harness.set_now(started + 1_000);
    harness.apply_one(Request::Sweep).await;
    let slept = harness.node(execution_id, &gate_id).await;
    assert_eq!(slept.phase, NodePhase::Succeeded);
    assert_eq!(
        slept.finished_at.zip(slept.started_at).map(|(end, start)| end - start),
        Some(1_000)
    );
    assert_eq!(run_child(&harness).await, 7);
    assert_eq!(harness.execution(execution_id).await.phase, ExecutionPhase::Succeeded);
    harness.finish().await;
}

async fn an_approval_passes_its_value_on_or_fails_the_node(backend: Backend) {
    let harness = Harness::new(backend).await;
    let approve = || {
        gate(
            "ok",
            GateCondition::Approve { id: "ship".into() },
            None,
            vec![Binding::literal("v", Literal::Integer(9))],
        )
    };
    let (approved, _) = start(&harness, gated_spec(approve(), "v")).await;
    let Err(EngineError::InvalidArgument(message)) = set(&harness, approved, "ship", Literal::Integer(1)).await else {
        panic!("an approval takes a boolean");
    };
    assert!(message.contains("expected boolean, got integer"), "{message}");
    set(&harness, approved, "ship", Literal::Boolean(true))
        .await
        .expect("approved");
    assert_eq!(run_child(&harness).await, 9, "the approved value passed on");
    assert_eq!(harness.execution(approved).await.phase, ExecutionPhase::Succeeded);

    // Registering the tasks again in `start` changes nothing.
    let (refused, _) = start(&harness, gated_spec(approve(), "v")).await;
    let opened = set(&harness, refused, "ship", Literal::Boolean(false))
        .await
        .expect("refusal recorded");
    let gate_id = opened.opened[0].clone();
    assert!(gate_id.ends_with("/0/ok"), "{gate_id}");
    assert_eq!(
        gate_ended(&harness, refused, &gate_id).await,
        (
            NodePhase::Failed,
            "gate_rejected".to_owned(),
            "the approval \"ship\" was refused".to_owned()
        )
    );
    assert_eq!(harness.execution(refused).await.phase, ExecutionPhase::Failed);
    assert!(harness.claim("w", "q").await.is_empty(), "nothing downstream ran");
    harness.records(refused, 0).await.assert_sound();
    harness.finish().await;
}

async fn a_signal_not_given_in_time_times_the_gate_out(backend: Backend) {
    let harness = Harness::new(backend).await;
    let started = 1_000_000_000_000;
    let waiting = gate("ask", signal("count"), Some(Duration::from_secs(5)), vec![]);
    let (execution_id, parent) = start(&harness, gated_spec(waiting, "o0")).await;
    let gate_id = format!("{parent}/0/ask");
    let listed = crate::reads::signals::list(&harness.shared, execution_id)
        .await
        .expect("signals");
    assert_eq!(listed[0].deadline_ms, Some(started + 5_000));
    harness.set_now(started + 5_000);
    harness.apply_one(Request::Sweep).await;
    assert_eq!(
        gate_ended(&harness, execution_id, &gate_id).await,
        (
            NodePhase::TimedOut,
            "gate_timeout".to_owned(),
            "the signal \"count\" was not given within 5s".to_owned()
        )
    );
    assert_eq!(harness.execution(execution_id).await.phase, ExecutionPhase::Failed);
    let Err(EngineError::FailedPrecondition(message)) = set(&harness, execution_id, "count", Literal::Integer(1)).await
    else {
        panic!("a failed execution takes no signal");
    };
    assert!(message.ends_with("is already failed"), "{message}");
    harness.records(execution_id, 0).await.assert_sound();
    harness.finish().await;
}

async fn termination_aborts_waiting_gates(backend: Backend) {
    let harness = Harness::new(backend).await;
    let started = 1_000_000_000_000;
    let spec = DynamicJobSpec {
        nodes: vec![
            gate("ask", signal("count"), Some(Duration::from_secs(60)), vec![]),
            gate("nap", GateCondition::Sleep(Duration::from_secs(30)), None, vec![]),
        ],
        outputs: vec![Binding::literal("y", Literal::Integer(0))],
        ..DynamicJobSpec::default()
    };
    let (execution_id, parent) = start(&harness, spec).await;
    let answer = harness.apply_one(Request::Terminate(execution_id, "stop".into())).await;
    assert!(matches!(answer, Answer::Execution(Ok(_))), "{answer:?}");
    for gate_id in ["ask", "nap"] {
        let row = harness.node(execution_id, &format!("{parent}/0/{gate_id}")).await;
        assert_eq!(row.phase, NodePhase::Aborted, "{gate_id}");
    }
    assert_eq!(harness.execution(execution_id).await.phase, ExecutionPhase::Aborted);
    let Err(EngineError::FailedPrecondition(message)) = set(&harness, execution_id, "count", Literal::Integer(1)).await
    else {
        panic!("an aborted execution takes no signal");
    };
    assert!(message.ends_with("is already aborted"), "{message}");
    assert!(
        crate::reads::signals::list(&harness.shared, execution_id)
            .await
            .expect("signals")
            .is_empty()
    );
    // The bulk abort took the gates' waits with it: nothing for the sweeper to find.
    let waits = harness.shared.store.gates_of(execution_id).await.expect("gates");
    assert!(waits.is_empty(), "{waits:?}");
    assert_eq!(harness.shared.store.next_deadline().await.expect("deadline"), None);
    harness.set_now(started + 60_000);
    assert!(matches!(harness.apply_one(Request::Sweep).await, Answer::Other(Ok(()))));
    harness.records(execution_id, 0).await.assert_sound();
    harness.finish().await;
}

async fn a_recovery_keeps_the_signals_received(backend: Backend) {
    let harness = Harness::new(backend).await;
    // `ask -> c`, and `c` fails for good: the execution fails after the signal was received.
    let (failed, parent) = start(&harness, gated_spec(gate("ask", signal("count"), None, vec![]), "o0")).await;
    set(&harness, failed, "count", Literal::Integer(3)).await.expect("set");
    let claimed = harness.claim("w", "q").await;
    let error = ExecutionError::user("boom", "no").recoverable(false);
    assert_completed(
        &harness
            .apply_one(complete("w", &claimed[0], AttemptResult::Error(error)))
            .await,
    );
    assert_eq!(harness.execution(failed).await.phase, ExecutionPhase::Failed);

    let create = CreateExecution {
        project: "test".into(),
        domain: "dev".into(),
        name: None,
        target: Target::Task(id("generator")),
        inputs: inputs(0),
        max_parallelism: None,
        overwrite_cache: false,
        timeout: None,
        origin: Origin::Recovered(failed),
        trace_context: None,
    };
    let answer = harness.apply_one(Request::Create(Box::new(create))).await;
    let Answer::Execution(Ok(recovered)) = answer else {
        panic!("recovered: {answer:?}");
    };
    let signals = harness.shared.store.signals_of(recovered.id).await.expect("signals");
    assert_eq!(signals.len(), 1);
    assert_eq!(
        (signals[0].signal_id.as_str(), signals[0].set_by.as_str()),
        ("count", "tester")
    );
    assert_eq!(
        harness.node(recovered.id, &format!("{parent}/0/ask")).await.phase,
        NodePhase::Recovered
    );
    assert_eq!(
        run_child(&harness).await,
        3,
        "the recovered gate's value reached the consumer"
    );
    assert_eq!(harness.execution(recovered.id).await.phase, ExecutionPhase::Succeeded);
    harness.finish().await;
}

async fn a_gate_that_starts_after_its_signal_was_set_opens_at_once_or_fails_on_its_type(backend: Backend) {
    let harness = Harness::new(backend).await;
    let after_first = |id: &str, ty: LiteralType| {
        let mut node = gate(
            id,
            GateCondition::Signal {
                id: "s".to_owned(),
                ty,
                output: "o0".to_owned(),
            },
            None,
            vec![],
        );
        node.upstream = vec!["first".to_owned()];
        node
    };
    let spec = DynamicJobSpec {
        nodes: vec![
            gate("first", signal("s"), None, vec![]),
            after_first("same", LiteralType::Integer),
            after_first("other", LiteralType::String),
        ],
        outputs: vec![Binding::new("y", BindingData::Promise(Promise::new("same", "o0")))],
        ..DynamicJobSpec::default()
    };
    let (execution_id, parent) = start(&harness, spec).await;
    let opened = set(&harness, execution_id, "s", Literal::Integer(5))
        .await
        .expect("set");
    assert_eq!(
        opened.opened,
        [format!("{parent}/0/first")],
        "only the gate that waited when it was set"
    );
    let same = harness.node(execution_id, &format!("{parent}/0/same")).await;
    assert_eq!(same.phase, NodePhase::Succeeded, "opened as it started");
    assert_eq!(
        codec::decode_literals(same.outputs.as_deref().unwrap()).unwrap()["o0"],
        Literal::Integer(5)
    );
    let (phase, code, message) = gate_ended(&harness, execution_id, &format!("{parent}/0/other")).await;
    assert_eq!((phase, code.as_str()), (NodePhase::Failed, "gate_signal_type"));
    assert!(
        message.contains("signal \"s\" was set to a value this gate cannot take"),
        "{message}"
    );
    assert!(
        harness
            .shared
            .store
            .gates_of(execution_id)
            .await
            .expect("gates")
            .is_empty()
    );
    harness.finish().await;
}

on_both_stores!(
    a_gate_that_starts_after_its_signal_was_set_opens_at_once_or_fails_on_its_type,
    a_signal_opens_its_gate_and_its_value_flows_on,
    a_sleep_ends_when_its_time_has_passed_even_across_a_restart,
    an_approval_passes_its_value_on_or_fails_the_node,
    a_signal_not_given_in_time_times_the_gate_out,
    termination_aborts_waiting_gates,
    a_recovery_keeps_the_signals_received,
);
