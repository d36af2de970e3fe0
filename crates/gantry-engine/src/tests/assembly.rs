//! Assembly off the writer: a batch leaves a composite (or an execution) assembling and a job for the assembler,
//! whose result the writer applies only while the target is still assembling. A job lost in a restart is done
//! again at start, one lost otherwise by the sweeper once the target stalled; a result that arrives after a
//! termination is dropped.

use gantry_core::model::{Literal, LiteralMap, TaskTemplate};
use gantry_core::state::{AttemptResult, ExecutionPhase, NodePhase};
use gantry_store::{NodeRow, Page};
use uuid::Uuid;

use super::harness::{Answer, Backend, Harness, complete, fan_out, inputs, register_child_and_generator};
use crate::writer::Request;

const CHILDREN: usize = 3;

/// Runs the generator of `CHILDREN` children and completes them (`y = 10 * x + 1`), with the assembler's jobs held:
/// the generator's node is left assembling. Returns the execution and the node's id.
async fn children_done(harness: &Harness, child: &TaskTemplate, generator: &TaskTemplate) -> (Uuid, String) {
    harness.hold_assemblies(true);
    let execution_id = harness.run_task(generator, inputs(0)).await.id;
    let claimed = harness.claim("w", "q").await;
    let spec = AttemptResult::DynamicSpec(std::sync::Arc::new(fan_out(child, CHILDREN)));
    let answer = harness
        .apply_one(harness.complete_at_the_edge("w", &claimed[0], spec).await)
        .await;
    assert!(matches!(&answer, Answer::Completed(Ok(_))), "{answer:?}");
    assert_eq!(harness.complete_children().await, CHILDREN);
    let node = top_node(harness, execution_id).await;
    assert_eq!(node.phase, NodePhase::Assembling);
    assert_eq!(node.outputs, None);
    assert_eq!(harness.execution(execution_id).await.phase, ExecutionPhase::Running);
    (execution_id, node.node_id)
}

async fn top_node(harness: &Harness, execution_id: Uuid) -> NodeRow {
    let page = Page { after: None, limit: 10 };
    let nodes = harness
        .shared
        .store
        .list_nodes(execution_id, "", &page)
        .await
        .expect("nodes");
    nodes.into_iter().next().expect("a top-level node")
}

fn expected_outputs() -> Literal {
    Literal::Collection((0..CHILDREN as i64).map(|x| Literal::Integer(10 * x + 1)).collect())
}

fn outputs(bytes: Option<&[u8]>) -> LiteralMap {
    crate::codec::decode_literals(bytes.expect("outputs")).expect("decode")
}

/// The jobs of a node and of an execution are lost in a restart (held, then a new engine): the starting engine
/// finds both assembling and assembles them.
async fn assemblies_lost_in_a_restart_are_done_again(backend: Backend) {
    let mut harness = Harness::new(backend).await;
    let (child, generator) = register_child_and_generator(&harness).await;
    let (execution_id, node_id) = children_done(&harness, &child, &generator).await;

    // A plain task's execution left `succeeding` (assembling its outputs) too.
    let task_execution = harness.run_task(&child, inputs(4)).await.id;
    let claimed = harness.claim("w", "q").await;
    let outputs_4 = LiteralMap::from([("y".to_owned(), Literal::Integer(41))]);
    harness
        .apply_one(complete("w", &claimed[0], AttemptResult::Outputs(outputs_4.clone())))
        .await;
    assert_eq!(
        harness.execution(task_execution).await.phase,
        ExecutionPhase::Succeeding
    );

    harness.hold_assemblies(false);
    harness.restart().await;
    let node = harness.node(execution_id, &node_id).await;
    assert_eq!(node.phase, NodePhase::Succeeded);
    assert_eq!(outputs(node.outputs.as_deref())["y"], expected_outputs());
    let done = harness.execution(execution_id).await;
    assert_eq!(done.phase, ExecutionPhase::Succeeded);
    assert_eq!(outputs(done.outputs.as_deref())["y"], expected_outputs());
    let task_done = harness.execution(task_execution).await;
    assert_eq!(task_done.phase, ExecutionPhase::Succeeded);
    assert_eq!(outputs(task_done.outputs.as_deref()), outputs_4);
    harness.records(execution_id, 0).await.assert_sound();
    harness.finish().await;
}

/// The execution is terminated while the node's job is in flight: the job's result comes back stale and is dropped,
/// and the node ends aborted, without outputs.
async fn a_result_after_a_termination_is_dropped(backend: Backend) {
    let harness = Harness::new(backend).await;
    let (child, generator) = register_child_and_generator(&harness).await;
    let (execution_id, node_id) = children_done(&harness, &child, &generator).await;
    let answer = harness
        .apply_one(Request::Terminate(execution_id, "stop".to_owned()))
        .await;
    assert!(matches!(&answer, Answer::Execution(Ok(_))), "{answer:?}");
    harness.hold_assemblies(false);
    assert_eq!(harness.run_assemblies().await, 1, "the job ran");
    let node = harness.node(execution_id, &node_id).await;
    assert_eq!(node.phase, NodePhase::Aborted);
    assert_eq!(node.outputs, None, "the stale result was dropped");
    let done = harness.execution(execution_id).await;
    assert_eq!(done.phase, ExecutionPhase::Aborted);
    assert_eq!(done.outputs, None);
    harness.records(execution_id, 0).await.assert_sound();
    harness.finish().await;
}

/// A job that gave up (the store failed) leaves its node assembling; the sweeper's look finds it only once it
/// stalled, and only when no job of the engine carries it; assembled again, the execution succeeds. A second result
/// for the same node, arriving after it succeeded, is dropped.
async fn a_stalled_assembly_is_taken_over(backend: Backend) {
    let harness = Harness::new(backend).await;
    let (child, generator) = register_child_and_generator(&harness).await;
    let (execution_id, node_id) = children_done(&harness, &child, &generator).await;
    let now = harness.shared.config.clock.now();
    let key = (execution_id, node_id.clone());
    let stalled = || crate::assembly::resumable(&harness.shared, now + crate::assembly::STALLED_AFTER_MS + 1);
    assert!(stalled().await.is_empty(), "its job is still waiting");
    let job = harness.shared.next_assembly().expect("a job");
    let lost = crate::assembly::run_job(&harness.shared, job).await.expect("a result");
    harness.shared.assembly_done(&key);
    assert!(
        crate::assembly::resumable(&harness.shared, now).await.is_empty(),
        "not stalled yet"
    );
    let mut requests = stalled().await;
    assert_eq!(requests.len(), 1);
    let request = requests.pop().expect("one");
    assert!(matches!(&request, Request::Assemble(k) if *k == key));
    harness.hold_assemblies(false);
    harness.apply_one(request).await;
    let done = harness.execution(execution_id).await;
    assert_eq!(done.phase, ExecutionPhase::Succeeded);
    assert_eq!(outputs(done.outputs.as_deref())["y"], expected_outputs());
    let before = harness.records(execution_id, 0).await;
    harness.apply_one(lost).await;
    assert_eq!(
        harness.records(execution_id, 0).await,
        before,
        "the late result changed nothing"
    );
    before.assert_sound();
    harness.finish().await;
}

on_both_stores!(
    assemblies_lost_in_a_restart_are_done_again,
    a_result_after_a_termination_is_dropped,
    a_stalled_assembly_is_taken_over,
);
