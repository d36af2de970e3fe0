//! One case per error code: each builds a spec with exactly that problem and names the node and input it must be
//! reported for. `every_code_has_a_case` keeps the list complete.

use std::collections::HashSet;

use super::*;
use crate::model::{
    ArrayNode, BooleanExpr, BranchNode, ComparisonOp, Duration, ElseArm, GateCondition, GateNode, IfBlock, LaunchPlan,
    NodeOverrides, NodeTarget, Operand, ResourceKind, SuccessCriteria,
};

/// A spec that must fail with `code` at `node` / `input` (among possibly other errors).
struct Case {
    code: CompileErrorCode,
    node: &'static str,
    input: &'static str,
    result: Result<CompiledGraph, CompileErrors>,
}

fn case(
    code: CompileErrorCode,
    node: &'static str,
    input: &'static str,
    result: Result<CompiledGraph, CompileErrors>,
) -> Case {
    Case {
        code,
        node,
        input,
        result,
    }
}

fn check(case: Case) -> CompileError {
    find(&expect_errors(case.result), case.code, case.node, case.input).clone()
}

fn node(node_id: &str, target: NodeTarget, inputs: Vec<Binding>) -> Node {
    Node {
        id: node_id.to_owned(),
        inputs,
        upstream: Vec::new(),
        target,
        overrides: NodeOverrides::default(),
    }
}

fn compare(op: ComparisonOp, var: &str, value: i64) -> BooleanExpr {
    BooleanExpr::Comparison {
        op,
        left: Operand::Var(var.to_owned()),
        right: Operand::Literal(Literal::Integer(value)),
    }
}

/// `if x > 0 then <then_node> else <otherwise>`, binding `x` to the parent's `tasks_count`.
fn branch(node_id: &str, then_node: Node, otherwise: Option<ElseArm>) -> Node {
    node(
        node_id,
        NodeTarget::Branch(BranchNode {
            cases: vec![IfBlock {
                condition: compare(ComparisonOp::Gt, "x", 0),
                then_node: Box::new(then_node),
            }],
            otherwise,
        }),
        vec![bind("x", promise("", "tasks_count"))],
    )
}

fn array(node_id: &str, inner: Node, success: SuccessCriteria, inputs: Vec<Binding>) -> Node {
    node(
        node_id,
        NodeTarget::Array(ArrayNode {
            node: Box::new(inner),
            parallelism: None,
            success,
        }),
        inputs,
    )
}

macro_rules! cases {
    ($($name:ident => $body:expr;)*) => {
        $(fn $name() -> Case { $body })*
        const CASES: &[fn() -> Case] = &[$($name),*];
        mod each {
            $(#[test] fn $name() { super::check(super::$name()); })*
        }
    };
}

cases! {
    no_nodes => {
        let empty = workflow("empty", interface(&[], &[]), vec![], vec![]);
        case(CompileErrorCode::NoNodes, "", "", compile_workflow(&empty, &registry()))
    };
    duplicate_node_id => case(CompileErrorCode::DuplicateNodeId, "a", "", compile_nodes(vec![
        task_node("a", "double", vec![bind("x", int(1))]),
        task_node("a", "double", vec![bind("x", int(2))]),
    ]));
    invalid_node_id => case(CompileErrorCode::InvalidNodeId, "bad id!", "", compile_nodes(vec![
        task_node("bad id!", "double", vec![bind("x", int(1))]),
    ]));
    reserved_node_id => case(CompileErrorCode::ReservedNodeId, "start", "", compile_nodes(vec![
        task_node("start", "double", vec![bind("x", int(1))]),
    ]));
    unknown_task => case(CompileErrorCode::UnknownTask, "n1", "", compile_nodes(vec![
        task_node("n1", "missing", vec![]),
    ]));
    unknown_workflow => case(CompileErrorCode::UnknownWorkflow, "sw", "", compile_nodes(vec![
        node("sw", NodeTarget::SubWorkflow(id("missing")), vec![]),
    ]));
    unknown_launch_plan => case(CompileErrorCode::UnknownLaunchPlan, "lp", "", compile_nodes(vec![
        node("lp", NodeTarget::LaunchPlan(id("missing")), vec![]),
    ]));
    recursive_sub_workflow => {
        let inner = workflow("inner", interface(&[], &[]), vec![node("back", NodeTarget::SubWorkflow(id("outer")), vec![])], vec![]);
        let outer = workflow("outer", interface(&[], &[]), vec![node("sw", NodeTarget::SubWorkflow(id("inner")), vec![])], vec![]);
        let mut registry = registry();
        registry.add_workflow(inner).add_workflow(outer.clone());
        case(CompileErrorCode::RecursiveSubWorkflow, "sw/back", "", compile_workflow(&outer, &registry))
    };
    duplicate_template => {
        let mut spec = spec_of(vec![task_node("n1", "local", vec![])]);
        spec.tasks = vec![task("local", &[], &[]), task("local", &[("x", LiteralType::Integer)], &[])];
        case(CompileErrorCode::DuplicateTemplate, "", "", compile_dynamic(&spec, &seed_parent(), &registry()))
    };
    interface_error => {
        let mut spec = spec_of(vec![task_node("n1", "local", vec![bind("x", int(1))])]);
        spec.tasks = vec![task("local", &[("x", LiteralType::Integer), ("x", LiteralType::Integer)], &[])];
        case(CompileErrorCode::InterfaceError, "n1", "x", compile_dynamic(&spec, &seed_parent(), &registry()))
    };
    unbound_input => case(CompileErrorCode::UnboundInput, "n1", "x", compile_nodes(vec![
        task_node("n1", "double", vec![]),
    ]));
    duplicate_binding => case(CompileErrorCode::DuplicateBinding, "n1", "x", compile_nodes(vec![
        task_node("n1", "double", vec![bind("x", int(1)), bind("x", int(2))]),
    ]));
    unknown_input => case(CompileErrorCode::UnknownInput, "n1", "z", compile_nodes(vec![
        task_node("n1", "double", vec![bind("x", int(1)), bind("z", int(2))]),
    ]));
    unknown_node => case(CompileErrorCode::UnknownNode, "n1", "x", compile_nodes(vec![
        task_node("n1", "double", vec![bind("x", promise("ghost", "y"))]),
    ]));
    unknown_output => case(CompileErrorCode::UnknownOutput, "n2", "x", compile_nodes(vec![
        task_node("n1", "double", vec![bind("x", int(1))]),
        task_node("n2", "double", vec![bind("x", promise("n1", "nope"))]),
    ]));
    type_mismatch => case(CompileErrorCode::TypeMismatch, "dn3", "index", compile_nodes(vec![
        task_node("dn3", "other_task", vec![bind("index", string("3"))]),
    ]));
    invalid_attribute_path => case(CompileErrorCode::InvalidAttributePath, "n2", "x", compile_nodes(vec![
        task_node("n1", "gen_list", vec![]),
        task_node("n2", "double", vec![bind("x", BindingData::Promise(Promise {
            attr_path: vec![crate::model::AttrStep::Index(0), crate::model::AttrStep::Index(1)],
            ..Promise::new("n1", "xs")
        }))]),
    ]));
    cycle => case(CompileErrorCode::Cycle, "a", "", compile_nodes(vec![
        task_node("a", "double", vec![bind("x", promise("b", "y"))]),
        task_node("b", "double", vec![bind("x", promise("a", "y"))]),
    ]));
    unreachable => case(CompileErrorCode::Unreachable, "c", "", compile_nodes(vec![
        task_node("a", "double", vec![bind("x", promise("b", "y"))]),
        task_node("b", "double", vec![bind("x", promise("a", "y"))]),
        task_node("c", "double", vec![bind("x", promise("b", "y"))]),
    ]));
    branch_without_cases => case(CompileErrorCode::BranchWithoutCases, "br", "", compile_nodes(vec![
        node("br", NodeTarget::Branch(BranchNode { cases: vec![], otherwise: Some(ElseArm::Error("no".into())) }), vec![]),
    ]));
    branch_without_else => case(CompileErrorCode::BranchWithoutElse, "br", "", compile_nodes(vec![
        branch("br", task_node("then", "double", vec![bind("x", int(1))]), None),
    ]));
    branch_output_mismatch => case(CompileErrorCode::BranchOutputMismatch, "br", "", compile_nodes(vec![
        branch(
            "br",
            task_node("then", "double", vec![bind("x", int(1))]),
            Some(ElseArm::Node(Box::new(task_node("else", "to_str", vec![bind("x", int(1))])))),
        ),
    ]));
    array_target_not_task => {
        let inner = node("inner", NodeTarget::SubWorkflow(id("missing")), vec![]);
        case(CompileErrorCode::ArrayTargetNotTask, "arr", "", compile_nodes(vec![array("arr", inner, SuccessCriteria::All, vec![])]))
    };
    invalid_success_ratio => {
        let inner = task_node("inner", "double", vec![]);
        let inputs = vec![bind("x", BindingData::Literal(Literal::Collection(vec![Literal::Integer(1)])))];
        case(CompileErrorCode::InvalidSuccessRatio, "arr", "", compile_nodes(vec![
            array("arr", inner, SuccessCriteria::MinSuccessRatio(1.5), inputs),
        ]))
    };
    missing_output_binding => {
        let spec = DynamicJobSpec { nodes: vec![task_node("n1", "noop", vec![])], ..DynamicJobSpec::default() };
        case(CompileErrorCode::MissingOutputBinding, "", "out", compile_dynamic(&spec, &seed_parent(), &registry()))
    };
    unknown_output_binding => {
        let mut spec = spec_of(vec![task_node("n1", "noop", vec![])]);
        spec.outputs.push(bind("extra", int(1)));
        case(CompileErrorCode::UnknownOutputBinding, "", "extra", compile_dynamic(&spec, &seed_parent(), &registry()))
    };
    duplicate_output_binding => {
        let mut spec = spec_of(vec![task_node("n1", "noop", vec![])]);
        spec.outputs.push(bind("out", BindingData::Collection(vec![])));
        case(CompileErrorCode::DuplicateOutputBinding, "", "out", compile_dynamic(&spec, &seed_parent(), &registry()))
    };
    output_type_mismatch => {
        let mut spec = spec_of(vec![task_node("n1", "to_str", vec![bind("x", int(1))])]);
        spec.outputs = vec![bind("out", BindingData::Collection(vec![promise("n1", "y")]))];
        case(CompileErrorCode::OutputTypeMismatch, "", "out", compile_dynamic(&spec, &seed_parent(), &registry()))
    };
    invalid_gate => {
        let sleep = GateNode { condition: GateCondition::Sleep(Duration::from_millis(0)), timeout: None };
        let spec = spec_of(vec![node("nap", NodeTarget::Gate(sleep), vec![])]);
        case(CompileErrorCode::InvalidGate, "nap", "", compile_dynamic(&spec, &seed_parent(), &registry()))
    };
    invalid_min_successes => {
        let mut spec = spec_of(vec![task_node("n1", "noop", vec![])]);
        spec.min_successes = Some(2);
        case(CompileErrorCode::InvalidMinSuccesses, "", "", compile_dynamic(&spec, &seed_parent(), &registry()))
    };
}

#[test]
fn every_code_has_a_case() {
    let covered: HashSet<CompileErrorCode> = CASES.iter().map(|build| build().code).collect();
    let missing: Vec<_> = CompileErrorCode::ALL
        .iter()
        .filter(|code| !covered.contains(code))
        .collect();
    assert!(missing.is_empty(), "codes without a case: {missing:?}");
}

#[test]
fn messages_name_the_node_and_the_input() {
    assert_eq!(
        check(type_mismatch()).to_string(),
        "node \"dn3\" input \"index\": expected integer, got string"
    );
    assert_eq!(
        check(output_type_mismatch()).to_string(),
        "output \"out\": expected integer, got string from n1.y at [0]"
    );
    assert_eq!(
        check(invalid_attribute_path()).to_string(),
        "node \"n2\" input \"x\": n1.xs[0][1]: cannot index [1] into integer"
    );
    assert_eq!(
        check(unknown_node()).message,
        "ghost.y reads node \"ghost\", which does not exist"
    );
    assert_eq!(check(cycle()).message, "the node is on a cycle with \"b\"");
}

#[test]
fn many_errors_come_back_at_once() {
    let mut spec = spec_of(vec![
        task_node("dn0", "other_task", vec![bind("index", string("0"))]),
        task_node("dn1", "other_task", vec![]),
        task_node("dn1", "missing", vec![]),
        task_node(
            "dn3",
            "double",
            vec![bind("x", promise("ghost", "y")), bind("q", int(1))],
        ),
    ]);
    spec.outputs.push(bind("extra", int(1)));
    spec.min_successes = Some(9);
    let errors = expect_errors(compile_dynamic(&spec, &seed_parent(), &registry()));
    find(&errors, CompileErrorCode::TypeMismatch, "dn0", "index");
    find(&errors, CompileErrorCode::UnboundInput, "dn1", "index");
    find(&errors, CompileErrorCode::DuplicateNodeId, "dn1", "");
    find(&errors, CompileErrorCode::UnknownTask, "dn1", "");
    find(&errors, CompileErrorCode::UnknownNode, "dn3", "x");
    find(&errors, CompileErrorCode::UnknownInput, "dn3", "q");
    find(&errors, CompileErrorCode::UnknownOutputBinding, "", "extra");
    find(&errors, CompileErrorCode::InvalidMinSuccesses, "", "");
    assert_eq!(errors.len(), 8, "{errors:#?}");
}

#[test]
fn unknown_upstream_and_parent_inputs_are_reported() {
    let mut with_upstream = task_node("n1", "double", vec![bind("x", promise("", "nope"))]);
    with_upstream.upstream = vec!["ghost".into()];
    let errors = expect_errors(compile_nodes(vec![with_upstream]));
    find(&errors, CompileErrorCode::UnknownNode, "n1", "");
    let unknown_input = find(&errors, CompileErrorCode::UnknownOutput, "n1", "x");
    assert_eq!(
        unknown_input.message,
        "inputs.nope reads an input the parent task does not have"
    );
}

#[test]
fn invalid_ids_of_every_shape() {
    let long = "x".repeat(64);
    let errors = expect_errors(compile_nodes(vec![
        task_node("", "noop", vec![]),
        task_node(&long, "noop", vec![]),
        task_node("a.b", "noop", vec![]),
        task_node("end", "noop", vec![]),
    ]));
    let codes: Vec<_> = errors.iter().map(|e| e.code).collect();
    assert_eq!(
        codes,
        [
            CompileErrorCode::InvalidNodeId,
            CompileErrorCode::InvalidNodeId,
            CompileErrorCode::InvalidNodeId,
            CompileErrorCode::ReservedNodeId
        ]
    );
    assert_eq!(errors[0].message, "the node at position 0 has an empty id");
    assert!(compile_nodes(vec![task_node(&"x".repeat(63), "noop", vec![])]).is_ok());
}

#[test]
fn errors_inside_sub_workflows_carry_the_node_path() {
    let inner = workflow(
        "inner",
        interface(&[("n", LiteralType::Integer)], &[("r", LiteralType::Integer)]),
        vec![task_node("inner_node", "double", vec![bind("x", string("oops"))])],
        vec![],
    );
    let mut registry = registry();
    registry.add_workflow(inner);
    let outer = workflow(
        "outer",
        interface(&[], &[]),
        vec![node(
            "sw1",
            NodeTarget::SubWorkflow(id("inner")),
            vec![bind("n", int(1))],
        )],
        vec![],
    );
    let errors = expect_errors(compile_workflow(&outer, &registry));
    find(&errors, CompileErrorCode::TypeMismatch, "sw1/inner_node", "x");
    let missing = find(&errors, CompileErrorCode::MissingOutputBinding, "sw1", "r");
    assert_eq!(
        missing.to_string(),
        "node \"sw1\" output \"r\": the workflow declares the output (integer) but nothing binds it"
    );
}

#[test]
fn a_workflow_that_calls_itself_is_recursive() {
    let looping = workflow(
        "loop",
        interface(&[], &[]),
        vec![node("again", NodeTarget::SubWorkflow(id("loop")), vec![])],
        vec![],
    );
    let mut registry = registry();
    registry.add_workflow(looping.clone());
    let errors = expect_errors(compile_workflow(&looping, &registry));
    find(&errors, CompileErrorCode::RecursiveSubWorkflow, "again", "");
}

#[test]
fn launch_plans_hide_fixed_inputs_and_default_others() {
    let target = interface(
        &[("a", LiteralType::Integer), ("b", LiteralType::Integer)],
        &[("o", LiteralType::Integer)],
    );
    let plan = LaunchPlan {
        id: id("lp"),
        target: id("wf"),
        target_kind: ResourceKind::Workflow,
        default_inputs: [("b".to_owned(), Literal::Integer(2))].into(),
        fixed_inputs: [("a".to_owned(), Literal::Integer(1))].into(),
        max_parallelism: None,
        timeout: None,
        schedule: None,
    };
    let mut registry = registry();
    registry.add_launch_plan(plan, &target);
    let spec = spec_of(vec![node(
        "lp",
        NodeTarget::LaunchPlan(id("lp")),
        vec![bind("a", int(5))],
    )]);
    let errors = expect_errors(compile_dynamic(&spec, &seed_parent(), &registry));
    find(&errors, CompileErrorCode::UnknownInput, "lp", "a");
    assert_eq!(errors.len(), 1, "b has a default: {errors:#?}");
}

#[test]
fn conditions_must_read_bound_inputs_and_compare_comparable_types() {
    let then_node = task_node("then", "double", vec![bind("x", int(1))]);
    let mut bad_branch = branch("br", then_node, Some(ElseArm::Error("no".into())));
    if let NodeTarget::Branch(b) = &mut bad_branch.target {
        b.cases.push(IfBlock {
            condition: BooleanExpr::Conjunction {
                op: crate::model::ConjunctionOp::And,
                left: Box::new(compare(ComparisonOp::Eq, "missing", 1)),
                right: Box::new(BooleanExpr::Comparison {
                    op: ComparisonOp::Lt,
                    left: Operand::Var("x".into()),
                    right: Operand::Literal(Literal::String("1".into())),
                }),
            },
            then_node: Box::new(task_node("then2", "double", vec![bind("x", int(1))])),
        });
    }
    let errors = expect_errors(compile_nodes(vec![bad_branch]));
    find(&errors, CompileErrorCode::UnknownInput, "br", "missing");
    let mismatch = find(&errors, CompileErrorCode::TypeMismatch, "br", "x");
    assert_eq!(mismatch.message, "cannot compare integer with string");
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn interface_defaults_must_fit_their_type() {
    let mut parent = seed_parent();
    parent.inputs[0].default = Some(Literal::String("three".into()));
    let errors = expect_errors(compile_dynamic(&seed_spec(1), &parent, &registry()));
    let error = find(&errors, CompileErrorCode::InterfaceError, "", "tasks_count");
    assert_eq!(
        error.message,
        "the parent task has a default that does not fit: expected integer, got string"
    );
}

#[test]
fn a_broken_sub_workflow_is_reported_once_under_its_first_user() {
    let broken = workflow("broken", interface(&[], &[]), vec![], vec![]);
    let mut registry = registry();
    registry.add_workflow(broken);
    let outer = workflow(
        "outer",
        interface(&[], &[]),
        vec![
            node("sw1", NodeTarget::SubWorkflow(id("broken")), vec![]),
            node("sw2", NodeTarget::SubWorkflow(id("broken")), vec![]),
        ],
        vec![],
    );
    let errors = expect_errors(compile_workflow(&outer, &registry));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    find(&errors, CompileErrorCode::NoNodes, "sw1", "");
}
