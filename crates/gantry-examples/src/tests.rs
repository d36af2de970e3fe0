//! The example handlers, run locally by a tiny evaluator of dynamic specs: each node runs as soon as it is reached
//! (the builder only lets a node depend on nodes added before it), and promises read the outputs of earlier nodes.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use gantry_core::model::{BindingData, Identifier, Literal, LiteralMap, NodeTarget, TaskTemplate};
use gantry_worker::{AttemptId, FromLiteral, Inputs, TaskContext, TaskError, TaskOutput};

use super::*;

fn ctx(task: TaskTemplate) -> TaskContext {
    let attempt = AttemptId {
        execution_id: "e".into(),
        node_id: "n".into(),
        attempt: 0,
    };
    TaskContext::new(attempt, "test-worker", task)
}

fn run_task(id: Identifier, inputs: LiteralMap) -> Pin<Box<dyn Future<Output = Result<LiteralMap, TaskError>>>> {
    Box::pin(async move {
        let def = all_tasks()
            .into_iter()
            .find(|d| d.id() == &id)
            .expect("an example task");
        let ctx = ctx(def.into_template());
        let inputs = Inputs::new(inputs);
        let output = match id.name.as_str() {
            "other_task" => other_task(ctx, inputs).await?,
            "generate_others" => generate_others(ctx, inputs).await?,
            "nested_dynamic" => nested_dynamic(ctx, inputs).await?,
            "flatten_lists" => flatten_lists(ctx, inputs).await?,
            "fail_task" => fail_task(ctx, inputs).await?,
            other => panic!("no handler for {other}"),
        };
        match output {
            TaskOutput::Outputs(outputs) => Ok(outputs),
            TaskOutput::Dynamic(spec) => {
                let spec = spec.into_job_spec();
                let mut results: BTreeMap<String, LiteralMap> = BTreeMap::new();
                for node in &spec.nodes {
                    let NodeTarget::Task(task) = &node.target else {
                        panic!("only task nodes here")
                    };
                    let inputs = node
                        .inputs
                        .iter()
                        .map(|b| (b.var.clone(), resolve(&b.data, &results)))
                        .collect();
                    results.insert(node.id.clone(), run_task(task.clone(), inputs).await?);
                }
                Ok(spec
                    .outputs
                    .iter()
                    .map(|b| (b.var.clone(), resolve(&b.data, &results)))
                    .collect())
            }
        }
    })
}

fn resolve(data: &BindingData, results: &BTreeMap<String, LiteralMap>) -> Literal {
    match data {
        BindingData::Literal(literal) => literal.clone(),
        BindingData::Promise(promise) => results[&promise.node_id][&promise.output].clone(),
        BindingData::Collection(items) => Literal::Collection(items.iter().map(|i| resolve(i, results)).collect()),
        BindingData::Map(items) => Literal::Map(items.iter().map(|(k, v)| (k.clone(), resolve(v, results))).collect()),
    }
}

fn ints(pairs: &[(&str, i64)]) -> LiteralMap {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Literal::Integer(*v)))
        .collect()
}

#[tokio::test]
async fn generate_others_assembles_the_doubled_indices() {
    let outputs = run_task(generate_others_def().id().clone(), ints(&[("tasks_count", 5)]))
        .await
        .unwrap();
    assert_eq!(Vec::<i64>::from_literal(&outputs["out"]), Ok(vec![0, 2, 4, 6, 8]));
}

#[tokio::test]
async fn nested_dynamic_flattens_three_levels() {
    let inputs = ints(&[("depth", 3), ("width", 2)]);
    let outputs = run_task(nested_dynamic_def().id().clone(), inputs).await.unwrap();
    assert_eq!(
        Vec::<i64>::from_literal(&outputs["total"]),
        Ok(vec![0, 2, 0, 2, 0, 2, 0, 2])
    );
}

#[test]
fn the_seed_spec_for_five_has_five_other_tasks() {
    let job = generate_others_spec(DynamicSpec::new(), 5)
        .expect("within the limits")
        .into_job_spec();
    let ids: Vec<_> = job.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["dn0", "dn1", "dn2", "dn3", "dn4"]);
    assert!(
        job.nodes
            .iter()
            .all(|n| n.target == NodeTarget::Task(other_task_def().id().clone()))
    );
    assert!(matches!(&job.outputs[0].data, BindingData::Collection(items) if items.len() == 5));
}

#[test]
fn nested_specs_recurse_then_reduce() {
    let job = nested_dynamic_spec(DynamicSpec::new(), 3, 2)
        .expect("within the limits")
        .into_job_spec();
    assert_eq!(job.nodes.len(), 3, "two nested children and the flatten node");
    assert_eq!(job.nodes[2].target, NodeTarget::Task(flatten_lists_def().id().clone()));
    assert_eq!(
        nested_dynamic_spec(DynamicSpec::new(), 0, 4)
            .expect("within the limits")
            .into_job_spec()
            .nodes
            .len(),
        0
    );
}

#[tokio::test]
async fn fail_task_quotes_its_input() {
    let inputs: LiteralMap = [("message".to_owned(), Literal::String("disk on fire".into()))].into();
    let error = run_task(fail_task_def().id().clone(), inputs).await.unwrap_err();
    assert!(error.message().contains("disk on fire"), "{error}");
    assert!(!error.is_recoverable());
}

#[tokio::test]
async fn a_missing_input_is_a_user_error_naming_it() {
    let error = run_task(other_task_def().id().clone(), LiteralMap::new())
        .await
        .unwrap_err();
    assert!(error.message().contains("\"index\""), "{error}");
}

#[test]
fn every_example_has_a_handler_and_the_seed_is_cached() {
    let worker = seed_worker("http://127.0.0.1:1");
    let names: Vec<String> = all_tasks().iter().map(|d| d.name().to_owned()).collect();
    let debug = format!("{worker:?}");
    assert!(names.iter().all(|name| debug.contains(name.as_str())), "{debug}");
    let generate = generate_others_def().into_template();
    assert!(generate.metadata.cache);
    assert_eq!(generate.metadata.cache_version, "1");
}

#[test]
fn gated_double_waits_for_a_signal_then_an_approval() {
    use gantry_core::model::{GateCondition, NodeTarget};
    let spec = gated_double_spec(DynamicSpec::new())
        .expect("within the limits")
        .into_job_spec();
    let gates: Vec<_> = spec
        .nodes
        .iter()
        .filter_map(|node| match &node.target {
            NodeTarget::Gate(gate) => Some((node.id.as_str(), gate.condition.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(gates.len(), 2);
    assert!(matches!(&gates[0].1, GateCondition::Signal { id, ty: LiteralType::Integer, .. } if id == "factor"));
    assert!(matches!(&gates[1].1, GateCondition::Approve { id } if id == "publish"));
    let mut registry = gantry_core::compile::Registry::new();
    for task in all_tasks() {
        registry.add_task(task.into_template());
    }
    let parent = gated_double_def().into_template().interface;
    gantry_core::compile::compile_dynamic(&spec, &parent, &registry).expect("the spec compiles");
}

#[test]
fn choose_plan_picks_a_launch_plan_by_its_input() {
    use gantry_core::model::NodeTarget;
    let plans: Vec<String> = launch_plans().iter().map(|plan| plan.id.name.clone()).collect();
    assert_eq!(plans, ["double", "double_hundred"]);
    for (n, plan, inputs) in [(3, "double", 1), (11, "double_hundred", 0)] {
        let spec = choose_plan_spec(DynamicSpec::new(), n)
            .expect("within the limits")
            .into_job_spec();
        assert_eq!(spec.nodes.len(), 1);
        match &spec.nodes[0].target {
            NodeTarget::LaunchPlan(id) => assert_eq!(id.name, plan, "n = {n}"),
            other => panic!("n = {n}: {other:?}"),
        }
        assert_eq!(spec.nodes[0].inputs.len(), inputs);
        assert_eq!(spec.outputs.len(), 1);
    }
}
