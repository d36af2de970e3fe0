//! Node overrides that change a template (cache, resources, image) make the node run a derived template: the worker
//! receives the task's template with them applied, the node's cache follows the overridden settings, and a
//! registered workflow keeps pointing at its derived templates (registering it again changes nothing).

use std::sync::Arc;

use gantry_core::model::{
    Binding, BindingData, CacheOverride, DynamicJobSpec, Identifier, Literal, LiteralMap, Node, NodeOverrides,
    OverrideSet, Promise, Resources, TypedInterface, Variable, WorkflowTemplate,
};
use gantry_core::state::{AttemptResult, ExecutionPhase};
use gantry_store::ResourceKind;

use super::harness::{Backend, Harness, assert_completed, complete, id, inputs, int_task, list_task};
use crate::submit::Target;
use crate::{Registration, codec};

fn overridden() -> NodeOverrides {
    OverrideSet {
        cache: Some(CacheOverride {
            cache: true,
            cache_version: "v2".to_owned(),
            cache_serializable: false,
        }),
        resources: Some(Resources {
            requests: [("cpu".to_owned(), "2".to_owned())].into(),
            limits: [("memory".to_owned(), "1Gi".to_owned())].into(),
        }),
        container_image: Some("registry/app:2".to_owned()),
        ..OverrideSet::default()
    }
    .into()
}

fn child_node() -> Node {
    Node {
        overrides: overridden(),
        ..Node::task("c", id("child"), vec![Binding::literal("x", Literal::Integer(4))])
    }
}

fn y(value: i64) -> AttemptResult {
    AttemptResult::Outputs(LiteralMap::from([("y".to_owned(), Literal::Integer(value))]))
}

/// Checks the one claimed attempt runs the derived `child` and completes it.
async fn run_derived_child(harness: &Harness) -> Identifier {
    let claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 1);
    let task = &claimed[0].task;
    assert_eq!(task.id.name, "child");
    assert!(task.id.version.starts_with("1~spec-"), "{}", task.id);
    let container = task.container.as_ref().expect("a container with the overrides");
    assert_eq!(container.image, "registry/app:2");
    assert_eq!(
        container.resources,
        overridden().into_set().resources.expect("resources")
    );
    assert!(task.metadata.cache && task.metadata.cache_version == "v2");
    assert_completed(&harness.apply_one(complete("w", &claimed[0], y(41))).await);
    task.id.clone()
}

async fn a_spec_node_runs_its_derived_template_and_caches_by_it(backend: Backend) {
    let harness = Harness::new(backend).await;
    let child = int_task("child", "q");
    let mut generator = list_task("generator", "q");
    generator.interface.outputs = vec![Variable::new("y", gantry_core::model::LiteralType::Integer)];
    harness
        .register(vec![
            Registration::Task(child.clone()),
            Registration::Task(generator.clone()),
        ])
        .await;
    let spec = || {
        AttemptResult::DynamicSpec(Arc::new(DynamicJobSpec {
            nodes: vec![child_node()],
            outputs: vec![Binding::new("y", BindingData::Promise(Promise::new("c", "y")))],
            ..DynamicJobSpec::default()
        }))
    };
    let mut derived = Vec::new();
    for _ in 0..2 {
        let execution_id = harness.run_task(&generator, inputs(0)).await.id;
        let claimed = harness.claim("w", "q").await;
        let request = harness.complete_at_the_edge("w", &claimed[0], spec()).await;
        assert_completed(&harness.apply_one(request).await);
        if derived.is_empty() {
            derived.push(run_derived_child(&harness).await);
        } else {
            // The task itself is not cached; the node's override is: the second child is a hit.
            assert!(harness.claim("w", "q").await.is_empty(), "the override's cache hit");
        }
        let done = harness.execution(execution_id).await;
        assert_eq!(done.phase, ExecutionPhase::Succeeded);
    }
    let registered = harness
        .shared
        .store
        .get_resource(ResourceKind::Task, &codec::resource_key(&child.id))
        .await;
    let registered = codec::decode_task(&registered.expect("read").expect("registered").template).expect("valid");
    assert_eq!(registered, child, "the registered task is left as it was");
    harness.finish().await;
}

async fn a_registered_workflow_keeps_pointing_at_its_derived_templates(backend: Backend) {
    let mut harness = Harness::new(backend).await;
    let child = int_task("child", "q");
    harness.register(vec![Registration::Task(child.clone())]).await;
    let workflow = WorkflowTemplate {
        id: id("overriding"),
        interface: TypedInterface {
            inputs: Vec::new(),
            outputs: vec![Variable::new("y", gantry_core::model::LiteralType::Integer)],
        },
        nodes: vec![child_node()],
        outputs: vec![Binding::promise("y", "c", "y")],
        failure_policy: Default::default(),
    };
    harness.register(vec![Registration::Workflow(workflow.clone())]).await;
    harness.register(vec![Registration::Workflow(workflow.clone())]).await;
    harness.restart().await;
    let stored = harness
        .shared
        .store
        .get_resource(ResourceKind::Workflow, &codec::resource_key(&workflow.id))
        .await;
    let stored = codec::decode_workflow(&stored.expect("read").expect("registered").template).expect("valid");
    let execution_id = harness
        .run(Target::Workflow(workflow.id.clone()), LiteralMap::new())
        .await
        .id;
    let derived = run_derived_child(&harness).await;
    assert_eq!(stored.nodes[0].target, gantry_core::model::NodeTarget::Task(derived));
    assert!(
        !stored.nodes[0].overrides.changes_template(),
        "the derived template carries them"
    );
    assert_eq!(harness.execution(execution_id).await.phase, ExecutionPhase::Succeeded);
    harness.finish().await;
}

on_both_stores!(
    a_spec_node_runs_its_derived_template_and_caches_by_it,
    a_registered_workflow_keeps_pointing_at_its_derived_templates,
);
