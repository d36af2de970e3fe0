//! Malformed nodes, workflows, dynamic specs and launch plans are rejected with an error naming the exact field path.

use gantry_core::model::{DynamicJobSpec, LaunchPlan, Node, WorkflowTemplate};

use super::malformed::{assert_error, expect_error, id, task_node};
use crate::convert::required;
use crate::v1 as pb;

#[test]
fn workflow_errors_name_the_node_and_the_nested_field() {
    let mut no_target = task_node("b");
    no_target.target = None;
    let workflow = pb::WorkflowTemplate {
        id: Some(id("wf")),
        nodes: vec![task_node("a"), no_target],
        failure_policy: pb::FailurePolicy::FailImmediately as i32,
        ..Default::default()
    };
    assert_error(
        &expect_error::<WorkflowTemplate, _>(workflow.clone()),
        "nodes[1]",
        "node has no target set",
    );

    let workflow = pb::WorkflowTemplate {
        nodes: vec![task_node("a")],
        failure_policy: 0,
        ..workflow
    };
    assert_error(
        &expect_error::<WorkflowTemplate, _>(workflow),
        "failure_policy",
        "failure policy is unspecified",
    );
}

#[test]
fn branch_conditions_are_checked_to_the_operator() {
    let var = |name: &str| pb::Operand {
        kind: Some(pb::operand::Kind::Var(name.to_owned())),
    };
    let comparison = |op: pb::ComparisonOperator| pb::BooleanExpression {
        expr: Some(pb::boolean_expression::Expr::Comparison(pb::ComparisonExpression {
            op: op as i32,
            left: Some(var("x")),
            right: Some(var("y")),
        })),
    };
    let condition = pb::BooleanExpression {
        expr: Some(pb::boolean_expression::Expr::Conjunction(Box::new(
            pb::ConjunctionExpression {
                op: pb::ConjunctionOperator::And as i32,
                left: Some(Box::new(comparison(pb::ComparisonOperator::Lt))),
                right: Some(Box::new(comparison(pb::ComparisonOperator::Unspecified))),
            },
        ))),
    };
    let branch = pb::Node {
        id: "decide".to_owned(),
        target: Some(pb::node::Target::Branch(Box::new(pb::BranchNode {
            cases: vec![pb::IfBlock {
                condition: Some(condition),
                then_node: Some(task_node("then")),
            }],
            otherwise: Some(pb::branch_node::Otherwise::ElseError("no case held".to_owned())),
        }))),
        ..Default::default()
    };
    let error = expect_error::<Node, _>(branch.clone());
    assert_error(
        &error,
        "branch.cases[0].condition.conjunction.right.comparison.op",
        "comparison operator is unspecified",
    );

    let mut missing_then = branch;
    if let Some(pb::node::Target::Branch(branch)) = &mut missing_then.target {
        branch.cases[0].condition = Some(comparison(pb::ComparisonOperator::Eq));
        branch.cases[0].then_node = None;
    }
    assert_error(
        &expect_error::<Node, _>(missing_then.clone()),
        "branch.cases[0].then_node",
        "missing node",
    );

    if let Some(pb::node::Target::Branch(branch)) = &mut missing_then.target {
        branch.cases[0].then_node = Some(task_node("then"));
        branch.otherwise = Some(pb::branch_node::Otherwise::ElseNode(Box::default()));
    }
    assert_error(
        &expect_error::<Node, _>(missing_then),
        "branch.else_node",
        "node has no target set",
    );
}

#[test]
fn array_nodes_and_bindings_name_their_parts() {
    let array = pb::Node {
        id: "map".to_owned(),
        target: Some(pb::node::Target::Array(Box::default())),
        ..Default::default()
    };
    assert_error(&expect_error::<Node, _>(array), "array.node", "missing node");

    let mut node = task_node("n");
    node.inputs = vec![pb::Binding {
        var: "x".to_owned(),
        binding: None,
    }];
    assert_error(
        &expect_error::<Node, _>(node.clone()),
        "inputs[0].binding",
        "missing binding data",
    );

    node.inputs[0].binding = Some(pb::BindingData {
        value: Some(pb::binding_data::Value::Promise(pb::Promise {
            node_id: "up".to_owned(),
            output: "o".to_owned(),
            attr_path: vec![
                pb::AttrStep {
                    step: Some(pb::attr_step::Step::Index(0)),
                },
                pb::AttrStep { step: None },
            ],
        })),
    });
    assert_error(
        &expect_error::<Node, _>(node),
        "inputs[0].binding.promise.attr_path[1]",
        "attribute step has neither an index nor a key",
    );
}

#[test]
fn dynamic_specs_name_the_embedded_template() {
    let spec = pb::DynamicJobSpec {
        nodes: vec![task_node("dn0")],
        tasks: vec![pb::TaskTemplate::default()],
        ..Default::default()
    };
    let error = required::<_, DynamicJobSpec>("dynamic_spec", Some(spec)).unwrap_err();
    assert_error(&error, "dynamic_spec.tasks[0].id", "missing identifier");

    let mut bad_map = pb::BindingMap::default();
    bad_map.bindings.insert("k".to_owned(), pb::BindingData::default());
    let spec = pb::DynamicJobSpec {
        outputs: vec![pb::Binding {
            var: "out".to_owned(),
            binding: Some(pb::BindingData {
                value: Some(pb::binding_data::Value::Map(bad_map)),
            }),
        }],
        ..Default::default()
    };
    assert_error(
        &expect_error::<DynamicJobSpec, _>(spec),
        "outputs[0].binding.map.bindings['k']",
        "binding data has no value set",
    );
}

#[test]
fn launch_plans_need_a_target_and_its_type() {
    let launch_plan = pb::LaunchPlan {
        id: Some(id("lp")),
        target_type: pb::ResourceType::Workflow as i32,
        ..Default::default()
    };
    assert_error(
        &expect_error::<LaunchPlan, _>(launch_plan.clone()),
        "target",
        "missing identifier",
    );

    let launch_plan = pb::LaunchPlan {
        target: Some(id("wf")),
        target_type: 0,
        ..launch_plan
    };
    assert_error(
        &expect_error::<LaunchPlan, _>(launch_plan.clone()),
        "target_type",
        "resource type is unspecified",
    );

    let mut fixed = pb::LiteralMap::default();
    fixed.literals.insert("x".to_owned(), pb::Literal::default());
    let launch_plan = pb::LaunchPlan {
        target_type: pb::ResourceType::Task as i32,
        fixed_inputs: Some(fixed),
        ..launch_plan
    };
    assert_error(
        &expect_error::<LaunchPlan, _>(launch_plan),
        "fixed_inputs.literals['x']",
        "literal has no value set",
    );
}
