//! Children created in chunks (three a batch here): a chain whose links span chunks, with the upstream link
//! settled before and after the next chunk is created; a fan-out whose creation goes on after a restart; an array
//! with limited parallelism and a sub-workflow across chunks, prepared again after a restart; a failure and a
//! termination during creation stopping it. Every batch creates at most one chunk of a composite's children, and
//! the records end sound.

use gantry_core::model::{
    ArrayNode, Binding, BindingData, DynamicJobSpec, Literal, LiteralMap, LiteralType, Node, NodeTarget, Promise,
    SuccessCriteria, TaskTemplate, TypedInterface, Variable, WorkflowTemplate,
};
use gantry_core::state::{AttemptResult, ExecutionPhase};
use uuid::Uuid;

use super::harness::{
    Answer, Backend, Harness, complete, fan_out, id, inputs, list_task, register_child_and_generator,
};
use crate::Registration;
use crate::writer::Request;

const CHUNK: usize = 3;

async fn harness(backend: Backend) -> Harness {
    Harness::with_config(backend, |config| config.children_chunk = CHUNK).await
}

/// Starts the generator and completes its attempt with `spec`.
async fn generate(harness: &Harness, generator: &TaskTemplate, spec: DynamicJobSpec) -> Uuid {
    let execution_id = harness.run_task(generator, inputs(0)).await.id;
    let claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 1);
    let result = AttemptResult::DynamicSpec(std::sync::Arc::new(spec));
    let answer = harness
        .apply_one(harness.complete_at_the_edge("w", &claimed[0], result).await)
        .await;
    assert!(
        matches!(&answer, Answer::Completed(Ok(o)) if o.iter().all(Result::is_ok)),
        "{answer:?}"
    );
    execution_id
}

/// Completes and creates until the execution is done, checking that no batch created more than one chunk.
async fn run_to_end(harness: &Harness, execution_id: Uuid) -> gantry_store::ExecutionRow {
    loop {
        let before = harness.node_count(execution_id).await;
        if let Some(key) = harness.shared.next_creation() {
            harness.apply_one(Request::CreateChildren(key)).await;
            let created = harness.node_count(execution_id).await - before;
            assert!(created <= CHUNK, "{created} children created in one batch");
        }
        let completed = harness.complete_children().await;
        let execution = harness.execution(execution_id).await;
        if execution.phase.is_terminal() {
            return execution;
        }
        assert!(
            completed > 0
                || harness.node_count(execution_id).await > before
                || harness.shared.next_creation().is_some(),
            "no progress: {}",
            harness.records(execution_id, 0).await.text
        );
    }
}

fn outputs_of(execution: &gantry_store::ExecutionRow) -> LiteralMap {
    crate::codec::decode_literals(execution.outputs.as_deref().expect("outputs")).expect("decode")
}

fn list(values: impl IntoIterator<Item = i64>) -> Literal {
    Literal::Collection(values.into_iter().map(Literal::Integer).collect())
}

/// `c0(x = 0) -> c1(x = c0.y) -> ... -> c{n-1}`; the parent's `y` lists every link's output.
fn chain(child: &TaskTemplate, length: usize) -> DynamicJobSpec {
    let nodes = (0..length)
        .map(|i| {
            let x = if i == 0 {
                Binding::literal("x", Literal::Integer(0))
            } else {
                Binding::promise("x", format!("c{}", i - 1), "y")
            };
            Node::task(format!("c{i}"), child.id.clone(), vec![x])
        })
        .collect();
    let outputs = (0..length)
        .map(|i| BindingData::Promise(Promise::new(format!("c{i}"), "y")))
        .collect();
    DynamicJobSpec {
        nodes,
        outputs: vec![Binding::new("y", BindingData::Collection(outputs))],
        ..Default::default()
    }
}

/// The chain's outputs: y0 = 1, y(i) = 10 * y(i - 1) + 1.
fn chain_outputs(length: usize) -> Literal {
    list((0..length).scan(0i64, |y, _| {
        *y = 10 * *y + 1;
        Some(*y)
    }))
}

async fn chain_spans_chunks(backend: Backend) {
    let harness = harness(backend).await;
    let (child, generator) = register_child_and_generator(&harness).await;
    // Links settle before their downstream link's chunk exists, and after. A last node waits on the eighth link
    // and on the first, which settled chunks before it was created.
    let mut spec = chain(&child, 8);
    let mut tail = Node::task("tail", child.id.clone(), vec![Binding::promise("x", "c7", "y")]);
    tail.upstream = vec!["c0".into()];
    spec.nodes.push(tail);
    let BindingData::Collection(items) = &mut spec.outputs[0].data else {
        unreachable!()
    };
    items.push(BindingData::Promise(Promise::new("tail", "y")));
    let execution_id = generate(&harness, &generator, spec).await;
    assert_eq!(
        harness.node_count(execution_id).await,
        1 + CHUNK,
        "the first chunk only"
    );
    for _ in 0..3 {
        assert_eq!(harness.complete_children().await, 1, "one link at a time");
    }
    let execution = run_to_end(&harness, execution_id).await;
    assert_eq!(execution.phase, ExecutionPhase::Succeeded);
    // The tail continues the chain: a ninth link.
    assert_eq!(outputs_of(&execution)["y"], chain_outputs(9));
    harness.records(execution_id, 0).await.assert_sound();
    harness.finish().await;
}

async fn fan_out_goes_on_after_a_restart(backend: Backend) {
    let mut harness = harness(backend).await;
    let (child, generator) = register_child_and_generator(&harness).await;
    let execution_id = generate(&harness, &generator, fan_out(&child, 10)).await;
    assert_eq!(harness.node_count(execution_id).await, 1 + CHUNK);
    harness.restart().await;
    let execution = run_to_end(&harness, execution_id).await;
    assert_eq!(execution.phase, ExecutionPhase::Succeeded);
    assert_eq!(outputs_of(&execution)["y"], list((0..10).map(|x| 10 * x + 1)));
    assert_eq!(harness.node_count(execution_id).await, 11, "every child created once");
    harness.records(execution_id, 0).await.assert_sound();
    harness.finish().await;
}

/// A spec of one array node over `0..7` with parallelism 2, and one sub-workflow node of five links of a chain.
fn array_and_sub_workflow(child: &TaskTemplate) -> (DynamicJobSpec, WorkflowTemplate) {
    let links = chain(child, 5);
    let list_of_ints = LiteralType::Collection(Box::new(LiteralType::Integer));
    let sub_workflow = WorkflowTemplate {
        id: id("links"),
        interface: TypedInterface {
            inputs: vec![],
            outputs: vec![Variable::new("y", list_of_ints)],
        },
        nodes: links.nodes,
        outputs: links.outputs,
        failure_policy: Default::default(),
    };
    let array = Node {
        id: "arr".into(),
        inputs: vec![Binding::literal("x", list(0..7))],
        upstream: vec![],
        target: NodeTarget::Array(ArrayNode {
            node: Box::new(Node::task("e", child.id.clone(), vec![])),
            parallelism: Some(2),
            success: SuccessCriteria::All,
        }),
        overrides: Default::default(),
    };
    let sub = Node {
        target: NodeTarget::SubWorkflow(sub_workflow.id.clone()),
        ..Node::task("sub", child.id.clone(), vec![])
    };
    let spec = DynamicJobSpec {
        nodes: vec![array, sub],
        outputs: vec![Binding::new(
            "y",
            BindingData::Collection(vec![
                BindingData::Promise(Promise::new("sub", "y")),
                BindingData::Promise(Promise::new("arr", "y")),
            ]),
        )],
        subworkflows: vec![sub_workflow.clone()],
        ..Default::default()
    };
    (spec, sub_workflow)
}

async fn array_and_sub_workflow_span_chunks_and_restarts(backend: Backend) {
    let mut harness = harness(backend).await;
    let (child, _) = register_child_and_generator(&harness).await;
    let mut generator = list_task("nested", "q");
    let list_of_ints = LiteralType::Collection(Box::new(LiteralType::Integer));
    generator.interface.outputs = vec![Variable::new("y", LiteralType::Collection(Box::new(list_of_ints)))];
    harness.register(vec![Registration::Task(generator.clone())]).await;
    let (spec, _) = array_and_sub_workflow(&child);
    let execution_id = generate(&harness, &generator, spec).await;
    // The array's first chunk and the sub-workflow's first chunk exist; the array runs two elements at a time.
    assert_eq!(harness.node_count(execution_id).await, 1 + 2 + CHUNK + CHUNK);
    assert_eq!(harness.complete_children().await, 3, "two elements and the first link");
    harness.restart().await;
    let execution = run_to_end(&harness, execution_id).await;
    assert_eq!(
        execution.phase,
        ExecutionPhase::Succeeded,
        "{}",
        harness.records(execution_id, 0).await.text
    );
    assert_eq!(
        outputs_of(&execution)["y"],
        Literal::Collection(vec![chain_outputs(5), list((0..7).map(|x| 10 * x + 1))])
    );
    assert_eq!(harness.node_count(execution_id).await, 1 + 2 + 7 + 5);
    harness.records(execution_id, 0).await.assert_sound();
    harness.finish().await;
}

async fn a_failure_or_termination_stops_creation(backend: Backend) {
    let harness = harness(backend).await;
    let (child, generator) = register_child_and_generator(&harness).await;
    for terminate in [false, true] {
        let execution_id = generate(&harness, &generator, fan_out(&child, 10)).await;
        let claimed = harness.claim("w", "q").await;
        assert_eq!(claimed.len(), CHUNK);
        let stop = if terminate {
            Request::Terminate(execution_id, "stopped".into())
        } else {
            let error = gantry_core::model::ExecutionError::user("boom", "failed");
            complete("w", &claimed[0], AttemptResult::Error(error))
        };
        harness.apply_one(stop).await;
        harness.create_queued_children().await;
        let execution = harness.execution(execution_id).await;
        let expected = if terminate {
            ExecutionPhase::Aborted
        } else {
            ExecutionPhase::Failed
        };
        assert_eq!(execution.phase, expected);
        assert_eq!(
            harness.node_count(execution_id).await,
            1 + CHUNK,
            "nothing created after the parent ended"
        );
        harness.records(execution_id, 0).await.assert_sound();
        assert!(
            harness
                .shared
                .store
                .nodes_creating_children(i64::MAX)
                .await
                .expect("read")
                .is_empty()
        );
    }
    harness.finish().await;
}

on_both_stores!(
    chain_spans_chunks,
    fan_out_goes_on_after_a_restart,
    array_and_sub_workflow_span_chunks_and_restarts,
    a_failure_or_termination_stops_creation,
);
