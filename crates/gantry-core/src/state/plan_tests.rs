//! Each kind of plan as a table of cases: what its children (and inputs) produced, and what it assembles.

use super::*;
use crate::model::{
    BindingData, FailurePolicy, Identifier, LiteralType, Node, Promise, SuccessCriteria, TaskMetadata, TypedInterface,
};

fn int(i: i64) -> Literal {
    Literal::Integer(i)
}

fn map(values: &[(&str, Literal)]) -> LiteralMap {
    values.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// Children in position order: `(local id, outputs)`, `None` for a child without outputs.
fn children(values: &[(&str, Option<LiteralMap>)]) -> Vec<ChildOutputs> {
    values
        .iter()
        .map(|(id, outputs)| ((*id).to_owned(), outputs.clone().map(|map| map.into_iter().collect())))
        .collect()
}

/// The value with union wrappers taken off, at any depth: what a list of optionals holds, as plain values.
fn plain(literal: &Literal) -> Literal {
    match literal {
        Literal::Union(union) => plain(&union.value),
        Literal::Collection(items) => Literal::Collection(items.iter().map(plain).collect()),
        other => other.clone(),
    }
}

fn task(outputs: Vec<Variable>) -> TaskTemplate {
    TaskTemplate {
        id: Identifier::new("p", "d", "t", "1"),
        interface: TypedInterface {
            inputs: vec![Variable::new("x", LiteralType::Integer)],
            outputs,
        },
        metadata: TaskMetadata::default(),
        container: None,
        plugin: None,
    }
}

fn array(success: SuccessCriteria, parallelism: Option<u32>) -> ArrayNode {
    ArrayNode {
        node: Box::new(Node::task("inner", Identifier::new("p", "d", "t", "1"), Vec::new())),
        parallelism,
        success,
    }
}

fn workflow(outputs: Vec<Binding>, vars: Vec<Variable>, failure_policy: FailurePolicy) -> WorkflowTemplate {
    WorkflowTemplate {
        id: Identifier::new("p", "d", "w", "1"),
        interface: TypedInterface {
            inputs: vec![Variable::new("x", LiteralType::Integer)],
            outputs: vars,
        },
        nodes: Vec::new(),
        outputs,
        failure_policy,
    }
}

#[test]
fn each_kind_of_composite_has_its_rule_and_parallelism() {
    let y = vec![Variable::new("y", LiteralType::Integer)];
    let cases: Vec<(&str, CompositePlan, ChildRule, Option<u32>)> = vec![
        (
            "workflow failing at once",
            CompositePlan::workflow(&workflow(Vec::new(), Vec::new(), FailurePolicy::FailImmediately)),
            ChildRule {
                min_successes: None,
                fail_fast: true,
            },
            None,
        ),
        (
            "workflow running the others to completion",
            CompositePlan::workflow(&workflow(
                Vec::new(),
                Vec::new(),
                FailurePolicy::FailAfterExecutableNodesComplete,
            )),
            ChildRule {
                min_successes: None,
                fail_fast: false,
            },
            None,
        ),
        (
            "dynamic spec with min_successes",
            CompositePlan::dynamic(Vec::new(), y.clone(), Some(3)),
            ChildRule {
                min_successes: Some(3),
                fail_fast: true,
            },
            None,
        ),
        (
            "branch",
            CompositePlan::branch(),
            ChildRule {
                min_successes: Some(1),
                fail_fast: true,
            },
            None,
        ),
        (
            "array of 10, all must succeed, 2 at once",
            CompositePlan::array(&task(y.clone()), &array(SuccessCriteria::All, Some(2)), 10),
            ChildRule {
                min_successes: Some(10),
                fail_fast: true,
            },
            Some(2),
        ),
        (
            "array of 10, ratio 0.25",
            CompositePlan::array(
                &task(y.clone()),
                &array(SuccessCriteria::MinSuccessRatio(0.25), None),
                10,
            ),
            ChildRule {
                min_successes: Some(3),
                fail_fast: true,
            },
            None,
        ),
    ];
    for (name, plan, rule, parallelism) in cases {
        assert_eq!(plan.rule, rule, "{name}");
        assert_eq!(plan.parallelism, parallelism, "{name}");
    }
}

#[test]
fn plans_assemble_outputs_from_children_and_inputs() {
    let y_int = vec![Variable::new("y", LiteralType::Integer)];
    let ys = vec![Variable::new("ys", LiteralType::collection(LiteralType::Integer))];
    let from_child = CompositePlan::dynamic(vec![Binding::promise("y", "n1", "out")], y_int.clone(), None);
    let from_inputs = CompositePlan::workflow(&workflow(
        vec![Binding::promise("y", "", "x")],
        y_int.clone(),
        FailurePolicy::FailImmediately,
    ));
    let list_of_children = CompositePlan::dynamic(
        vec![Binding::new(
            "ys",
            BindingData::Collection(vec![
                BindingData::Promise(Promise::new("n0", "out")),
                BindingData::Promise(Promise::new("n1", "out")),
                BindingData::Promise(Promise::new("", "x")),
            ]),
        )],
        ys.clone(),
        None,
    );
    let wrong_type = CompositePlan::dynamic(vec![Binding::promise("y", "n0", "out")], y_int.clone(), None);
    let optional_elements =
        CompositePlan::array(&task(y_int.clone()), &array(SuccessCriteria::MinSuccesses(2), None), 3);
    let all_elements = CompositePlan::array(&task(y_int.clone()), &array(SuccessCriteria::All, None), 3);
    let branch = CompositePlan::branch();

    let inputs = map(&[("x", int(7))]);
    let done = |v: i64| Some(map(&[("out", int(v))]));
    let element = |v: i64| Some(map(&[("y", int(v))]));
    type Expected = Result<LiteralMap, &'static str>;
    let cases: Vec<(&str, &CompositePlan, Vec<ChildOutputs>, Expected)> = vec![
        (
            "a binding to a child's output",
            &from_child,
            children(&[("n0", done(1)), ("n1", done(2))]),
            Ok(map(&[("y", int(2))])),
        ),
        (
            "a binding to the composite's inputs",
            &from_inputs,
            children(&[("n0", done(1))]),
            Ok(map(&[("y", int(7))])),
        ),
        (
            "a list of children's outputs and an input",
            &list_of_children,
            children(&[("n0", done(1)), ("n1", done(2))]),
            Ok(map(&[("ys", Literal::Collection(vec![int(1), int(2), int(7)]))])),
        ),
        (
            "a missing child output",
            &from_child,
            children(&[("n0", done(1)), ("n1", Some(map(&[("other", int(2))])))]),
            Err("value not available"),
        ),
        (
            "a child without outputs",
            &from_child,
            children(&[("n0", done(1)), ("n1", None)]),
            Err("value not available"),
        ),
        (
            "a value that does not conform",
            &wrong_type,
            children(&[("n0", Some(map(&[("out", Literal::String("seven".into()))])))]),
            Err("expected integer"),
        ),
        (
            "the taken arm",
            &branch,
            children(&[("a", None), ("b", done(5)), ("c", None)]),
            Ok(map(&[("out", int(5))])),
        ),
        (
            "no arm ran",
            &branch,
            children(&[("a", None), ("b", None)]),
            Err("no arm of the branch produced outputs"),
        ),
        (
            "an array gather, a failed element giving none",
            &optional_elements,
            children(&[("0", element(10)), ("1", None), ("2", element(12))]),
            Ok(map(&[(
                "y",
                Literal::Collection(vec![int(10), Literal::None, int(12)]),
            )])),
        ),
        (
            "an array whose elements must all succeed, one without outputs",
            &all_elements,
            children(&[("0", element(10)), ("1", None), ("2", element(12))]),
            Err("output \"y\""),
        ),
        (
            "an array element of the wrong type",
            &all_elements,
            children(&[("0", element(10)), ("1", Some(map(&[("y", Literal::Boolean(true))])))]),
            Err("output \"y\""),
        ),
    ];
    for (name, plan, children, expected) in cases {
        let got = plan.assembly.assemble(&inputs, &children);
        match (got, expected) {
            (Ok(got), Ok(expected)) => {
                let got: LiteralMap = got.iter().map(|(k, v)| (k.clone(), plain(v))).collect();
                assert_eq!(got, expected, "{name}");
            }
            (Err(got), Err(expected)) => assert!(got.contains(expected), "{name}: {got:?} should say {expected:?}"),
            (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn only_bindings_read_the_composite_inputs() {
    assert!(
        CompositePlan::dynamic(Vec::new(), Vec::new(), None)
            .assembly
            .reads_inputs()
    );
    assert!(!CompositePlan::branch().assembly.reads_inputs());
    let y = vec![Variable::new("y", LiteralType::Integer)];
    assert!(
        !CompositePlan::array(&task(y), &array(SuccessCriteria::All, None), 1)
            .assembly
            .reads_inputs()
    );
}
