//! Gate nodes: a signal's output typed by its declaration, an approval's by what it binds (an approval of an approval
//! too), and every malformed gate reported under the node.

use super::*;
use crate::model::{Duration, GateCondition, GateNode, NodeOverrides, NodeTarget};

fn gate(node_id: &str, condition: GateCondition, timeout: Option<Duration>, inputs: Vec<Binding>) -> Node {
    Node {
        id: node_id.to_owned(),
        inputs,
        upstream: Vec::new(),
        target: NodeTarget::Gate(GateNode { condition, timeout }),
        overrides: NodeOverrides::default(),
    }
}

fn signal(signal_id: &str, ty: LiteralType) -> GateCondition {
    GateCondition::Signal {
        id: signal_id.to_owned(),
        ty,
        output: "o0".to_owned(),
    }
}

fn approve(signal_id: &str) -> GateCondition {
    GateCondition::Approve {
        id: signal_id.to_owned(),
    }
}

fn out_of(nodes: Vec<Node>, data: BindingData) -> DynamicJobSpec {
    DynamicJobSpec {
        nodes,
        outputs: vec![bind("out", data)],
        ..DynamicJobSpec::default()
    }
}

#[test]
fn a_signal_and_approvals_chained_type_what_follows() {
    // `ask` gives a list of integers, `ok2` approves `ok1`'s approval of it, and the parent returns it.
    let nodes = vec![
        gate("ok2", approve("second"), None, vec![bind("v", promise("ok1", "v"))]),
        gate(
            "ok1",
            approve("first"),
            Some(Duration::from_secs(60)),
            vec![bind("v", promise("ask", "o0"))],
        ),
        gate(
            "ask",
            signal("xs", LiteralType::collection(LiteralType::Integer)),
            None,
            vec![],
        ),
    ];
    let graph = compile_dynamic(&out_of(nodes, promise("ok2", "v")), &seed_parent(), &registry()).expect("compiles");
    let outputs = |position: usize| graph.nodes[position].interface.outputs[0].ty.clone();
    let list = LiteralType::collection(LiteralType::Integer);
    assert_eq!((outputs(0), outputs(1), outputs(2)), (list.clone(), list.clone(), list));
    assert!(matches!(graph.nodes[0].target, CompiledTarget::Gate));
    assert_eq!(graph.nodes[0].upstream, vec![1], "an approval waits for what it binds");
}

#[test]
fn a_value_of_the_wrong_type_from_a_signal_is_a_type_mismatch() {
    let nodes = vec![
        gate("ask", signal("name", LiteralType::String), None, vec![]),
        task_node("d", "double", vec![bind("x", promise("ask", "o0"))]),
    ];
    let errors = expect_errors(compile_dynamic(&spec_of(nodes), &seed_parent(), &registry()));
    find(&errors, CompileErrorCode::TypeMismatch, "d", "x");
}

#[test]
fn a_sleep_is_waited_for_through_upstream() {
    let mut after = task_node("d", "double", vec![bind("x", int(1))]);
    after.upstream = vec!["nap".to_owned()];
    let nodes = vec![
        gate("nap", GateCondition::Sleep(Duration::from_secs(1)), None, vec![]),
        after,
    ];
    let graph = compile_dynamic(&spec_of(nodes), &seed_parent(), &registry()).expect("compiles");
    assert_eq!(graph.nodes[1].upstream, vec![0]);
    assert!(graph.nodes[0].interface.outputs.is_empty());
}

#[test]
fn malformed_gates_are_each_reported_under_their_node() {
    let nodes = vec![
        gate("bad_id", signal("has space", LiteralType::String), None, vec![]),
        gate(
            "no_time",
            GateCondition::Sleep(Duration::from_secs(1)),
            Some(Duration::from_secs(1)),
            vec![],
        ),
        gate("bound", signal("s", LiteralType::String), None, vec![bind("x", int(1))]),
        gate("two", approve("a"), None, vec![bind("x", int(1)), bind("y", int(2))]),
        gate(
            "zero",
            signal("z", LiteralType::String),
            Some(Duration::from_millis(0)),
            vec![],
        ),
    ];
    let errors = expect_errors(compile_dynamic(&spec_of(nodes), &seed_parent(), &registry()));
    let message = |node: &str| find(&errors, CompileErrorCode::InvalidGate, node, "").message.clone();
    assert!(
        message("bad_id").contains("the signal id \"has space\""),
        "{}",
        message("bad_id")
    );
    assert_eq!(
        message("no_time"),
        "a sleep has no timeout: its duration is its deadline"
    );
    assert_eq!(message("bound"), "a signal takes no inputs, and this one binds 1");
    assert_eq!(
        message("two"),
        "an approval passes on exactly one input, and this one has 2"
    );
    assert_eq!(message("zero"), "the timeout is 0; it must be positive");
}

#[test]
fn an_approval_of_an_unknown_node_reports_the_node_once() {
    let nodes = vec![gate(
        "ok",
        approve("a"),
        None,
        vec![bind("v", promise("missing", "o0"))],
    )];
    let errors = expect_errors(compile_dynamic(&spec_of(nodes), &seed_parent(), &registry()));
    find(&errors, CompileErrorCode::UnknownNode, "ok", "v");
    assert!(
        errors.iter().all(|e| e.code != CompileErrorCode::InvalidGate),
        "{errors:?}"
    );
}
