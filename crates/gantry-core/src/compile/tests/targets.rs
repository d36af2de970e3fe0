//! Branch and array nodes: what they compile to, their interfaces, and errors inside them.

use super::*;
use crate::model::{
    ArrayNode, BooleanExpr, BranchNode, ComparisonOp, ElseArm, IfBlock, NodeOverrides, NodeTarget, Operand,
    SuccessCriteria,
};

fn node(node_id: &str, target: NodeTarget, inputs: Vec<Binding>) -> Node {
    Node {
        id: node_id.to_owned(),
        inputs,
        upstream: Vec::new(),
        target,
        overrides: NodeOverrides::default(),
    }
}

/// `br`: `if x > 0 then <then_node> else <otherwise>`, with `x` bound to the parent's `tasks_count`.
fn branch(then_node: Node, otherwise: ElseArm) -> Node {
    let condition = BooleanExpr::Comparison {
        op: ComparisonOp::Gt,
        left: Operand::Var("x".into()),
        right: Operand::Literal(Literal::Integer(0)),
    };
    node(
        "br",
        NodeTarget::Branch(BranchNode {
            cases: vec![IfBlock {
                condition,
                then_node: Box::new(then_node),
            }],
            otherwise: Some(otherwise),
        }),
        vec![bind("x", promise("", "tasks_count"))],
    )
}

fn array(inner: Node, success: SuccessCriteria, inputs: Vec<Binding>) -> Node {
    node(
        "arr",
        NodeTarget::Array(ArrayNode {
            node: Box::new(inner),
            parallelism: Some(10),
            success,
        }),
        inputs,
    )
}

fn ints(values: &[i64]) -> BindingData {
    BindingData::Literal(Literal::Collection(
        values.iter().map(|v| Literal::Integer(*v)).collect(),
    ))
}

#[test]
fn a_branch_reads_outer_nodes_and_exposes_its_arms_outputs() {
    let then_node = task_node("then", "double", vec![bind("x", promise("a", "y"))]);
    let else_node = task_node("else", "double", vec![bind("x", int(1))]);
    let nodes = vec![
        task_node("a", "double", vec![bind("x", int(1))]),
        branch(then_node, ElseArm::Node(Box::new(else_node))),
        task_node("after", "double", vec![bind("x", promise("br", "y"))]),
    ];
    let graph = expect_graph(compile_nodes(nodes));
    let br = graph.node("br").expect("br");
    assert_eq!(br.upstream, vec![0]);
    assert_eq!(graph.node("after").map(|n| n.upstream.clone()), Some(vec![1]));
    assert_eq!(br.interface.input("x").map(|v| &v.ty), Some(&LiteralType::Integer));
    assert_eq!(br.interface.output("y").map(|v| &v.ty), Some(&LiteralType::Integer));
    let CompiledTarget::Branch { cases, otherwise } = &br.target else {
        panic!("a branch")
    };
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].upstream, vec![0]);
    assert!(
        otherwise
            .as_ref()
            .is_some_and(|arm| arm.upstream.is_empty() && arm.interface.output("y").is_some())
    );
    assert_eq!(graph.order, vec![0, 1, 2]);
}

#[test]
fn a_branch_may_end_in_an_error() {
    let then_node = task_node("then", "double", vec![bind("x", int(1))]);
    let graph = expect_graph(compile_nodes(vec![branch(
        then_node,
        ElseArm::Error("x must be positive".into()),
    )]));
    assert!(matches!(
        &graph.nodes[0].target,
        CompiledTarget::Branch { otherwise: None, .. }
    ));
}

#[test]
fn errors_in_arms_carry_the_arm_path_and_arm_promises_can_cycle() {
    let then_node = task_node("then", "double", vec![bind("x", string("no"))]);
    let else_node = task_node("else", "double", vec![bind("x", promise("br", "y"))]);
    let errors = expect_errors(compile_nodes(vec![branch(
        then_node,
        ElseArm::Node(Box::new(else_node)),
    )]));
    find(&errors, CompileErrorCode::TypeMismatch, "br/then", "x");
    find(&errors, CompileErrorCode::Cycle, "br", "");
}

#[test]
fn an_array_maps_lists_and_collects_lists() {
    // A ratio of 1 (what flytekit's `map_task` states) means every element, as no criteria do.
    for success in [SuccessCriteria::All, SuccessCriteria::MinSuccessRatio(1.0)] {
        an_array_of(success);
    }
}

fn an_array_of(success: SuccessCriteria) {
    let nodes = vec![
        array(
            task_node("inner", "double", vec![]),
            success,
            vec![bind("x", ints(&[1, 2, 3]))],
        ),
        task_node("total", "sum", vec![bind("xs", promise("arr", "y"))]),
    ];
    let graph = expect_graph(compile_nodes(nodes));
    let arr = &graph.nodes[0];
    assert_eq!(
        arr.interface.input("x").map(|v| &v.ty),
        Some(&LiteralType::collection(LiteralType::Integer))
    );
    assert_eq!(
        arr.interface.output("y").map(|v| &v.ty),
        Some(&LiteralType::collection(LiteralType::Integer))
    );
    assert!(matches!(&arr.target, CompiledTarget::Array { task } if task.id == id("double")));
    assert_eq!(graph.nodes[1].upstream, vec![0]);
}

#[test]
fn partial_success_yields_lists_of_optionals() {
    for success in [
        SuccessCriteria::MinSuccesses(2),
        SuccessCriteria::MinSuccessRatio(0.5),
        SuccessCriteria::MinSuccessRatio(0.999),
    ] {
        let nodes = vec![
            array(
                task_node("inner", "double", vec![]),
                success,
                vec![bind("x", ints(&[1, 2, 3]))],
            ),
            task_node("total", "sum", vec![bind("xs", promise("arr", "y"))]),
        ];
        let errors = expect_errors(compile_nodes(nodes));
        let mismatch = find(&errors, CompileErrorCode::TypeMismatch, "total", "xs");
        assert_eq!(
            mismatch.message,
            "expected list<integer>, got list<union<integer | none>> from arr.y"
        );
    }
}

#[test]
fn inner_bindings_are_shared_by_every_element() {
    // `concat(a, b = "")`: `a` is shared, `b` is mapped but has a default.
    let inner = task_node("inner", "concat", vec![bind("a", string("prefix-"))]);
    let graph = expect_graph(compile_nodes(vec![array(inner.clone(), SuccessCriteria::All, vec![])]));
    let names: Vec<&str> = graph.nodes[0]
        .interface
        .inputs
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(names, ["b"]);

    let twice = array(
        inner,
        SuccessCriteria::All,
        vec![bind("a", BindingData::Collection(vec![]))],
    );
    let errors = expect_errors(compile_nodes(vec![twice]));
    find(&errors, CompileErrorCode::DuplicateBinding, "arr", "a");
}

#[test]
fn array_errors_name_the_array_or_its_inner_node() {
    let errors = expect_errors(compile_nodes(vec![array(
        task_node("inner", "double", vec![]),
        SuccessCriteria::All,
        vec![],
    )]));
    find(&errors, CompileErrorCode::UnboundInput, "arr", "x");
    let errors = expect_errors(compile_nodes(vec![array(
        task_node("inner", "missing", vec![]),
        SuccessCriteria::All,
        vec![],
    )]));
    find(&errors, CompileErrorCode::UnknownTask, "arr/inner", "");
    let wrong_element = array(
        task_node("inner", "double", vec![]),
        SuccessCriteria::All,
        vec![bind("x", string("1"))],
    );
    let errors = expect_errors(compile_nodes(vec![wrong_element]));
    assert_eq!(
        errors[0].to_string(),
        "node \"arr\" input \"x\": expected list<integer>, got string"
    );
}
