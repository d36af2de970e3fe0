//! Watches and batches: a batch asks once whether anyone watches an execution it changes and builds change events
//! only for watched ones. A watch that begins during such a batch, after it asked, gets none of its changes and may
//! have read the execution before the commit; after the commit it is sent the execution's committed phase, so that
//! it never waits for a change that already happened, and a watch that reads a snapshot waits until the batch has
//! committed and published, so that the snapshot holds the node changes it was never sent.

use gantry_core::state::{ExecutionPhase, NodePhase};

use super::harness::{Backend, Harness, inputs, register_child_and_generator};
use crate::batch::Batch;
use crate::notify::ChangeScope;

async fn a_watch_that_begins_during_a_batch_gets_the_committed_phase(backend: Backend) {
    let harness = Harness::new(backend).await;
    let (_, generator) = register_child_and_generator(&harness).await;
    let execution_id = harness.run_task(&generator, inputs(0)).await.id;

    let mut batch = Batch::begin(&harness.shared).await.expect("begin");
    batch.terminate(execution_id, "stop").await.expect("terminated");
    // The batch asked (nobody watched), then the watch begins, before the commit.
    let mut watch = harness.shared.signals.subscribe(execution_id);
    let outcome = batch.commit().await.expect("committed");
    assert_eq!(outcome.changes, Vec::new(), "nobody watched when the batch asked");
    assert_eq!(outcome.unwatched, vec![execution_id]);
    crate::writer::after_batch(&harness.shared, outcome).await;

    let stored = harness.execution(execution_id).await;
    assert!(
        matches!(stored.phase, ExecutionPhase::Aborting | ExecutionPhase::Aborted),
        "{:?}",
        stored.phase
    );
    let change = watch.try_recv().expect("the late watch is sent the committed phase");
    assert_eq!(change.scope, ChangeScope::Execution);
    assert_eq!(change.node_id, "");
    assert_eq!(change.phase, stored.phase.as_str());
    assert!(watch.try_recv().is_err(), "once");
    harness.finish().await;
}

/// A watch present when the batch asks gets the batch's own changes, and no extra read's.
async fn a_watch_present_before_the_batch_gets_its_changes(backend: Backend) {
    let harness = Harness::new(backend).await;
    let (_, generator) = register_child_and_generator(&harness).await;
    let execution_id = harness.run_task(&generator, inputs(0)).await.id;

    let mut watch = harness.shared.signals.subscribe(execution_id);
    let mut batch = Batch::begin(&harness.shared).await.expect("begin");
    batch.terminate(execution_id, "stop").await.expect("terminated");
    let outcome = batch.commit().await.expect("committed");
    assert!(outcome.unwatched.is_empty());
    let built = outcome.changes.len();
    assert!(built > 0, "the batch built the watched execution's changes");
    crate::writer::after_batch(&harness.shared, outcome).await;
    let mut received = Vec::new();
    while let Ok(change) = watch.try_recv() {
        received.push(change);
    }
    assert_eq!(received.len(), built, "{received:?}");
    harness.finish().await;
}

/// A watch that begins during a batch is settled only once that batch has committed and published: a snapshot read
/// then holds what the batch did to every node, although the batch sent the watch none of it.
async fn a_watch_that_begins_during_a_batch_is_settled_after_its_commit(backend: Backend) {
    let harness = Harness::new(backend).await;
    let (_, generator) = register_child_and_generator(&harness).await;
    let execution_id = harness.run_task(&generator, inputs(0)).await.id;

    let mut batch = Batch::begin(&harness.shared).await.expect("begin");
    batch.terminate(execution_id, "stop").await.expect("terminated");
    let watch = harness.shared.signals.watch(execution_id);
    let mut settled = tokio::spawn(watch.settled.wait());
    tokio::task::yield_now().await;
    assert!(!settled.is_finished(), "the batch is still open");
    let outcome = batch.commit().await.expect("committed");
    assert_eq!(outcome.changes, Vec::new(), "nobody watched when the batch asked");
    tokio::task::yield_now().await;
    assert!(
        !settled.is_finished(),
        "committed, but its changes are not published yet"
    );
    crate::writer::after_batch(&harness.shared, outcome).await;
    tokio::time::timeout(std::time::Duration::from_secs(10), &mut settled)
        .await
        .expect("settled once the batch published")
        .expect("joined");

    // What a snapshot reads now: the node the batch aborted, of which the watch was sent nothing.
    let node = harness.node(execution_id, "n0").await;
    assert_eq!(node.phase, NodePhase::Aborted);
    harness.finish().await;
}

on_both_stores!(
    a_watch_that_begins_during_a_batch_gets_the_committed_phase,
    a_watch_present_before_the_batch_gets_its_changes,
    a_watch_that_begins_during_a_batch_is_settled_after_its_commit,
);
