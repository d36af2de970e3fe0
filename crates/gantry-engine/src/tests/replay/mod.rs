//! Replay: a run recorded through the engine is rebuilt from its stored rows alone. The events each execution, node
//! and attempt went through are derived from the rows (`rebuild.rs`), fed to the core's state machines from their
//! initial states, and where the machines end must be what the engine stored, every decision along the way accepted.
//!
//! The recorded run: a dynamic task whose spec holds a task that fails once with a retryable error and then succeeds
//! (heartbeating once), a nested dynamic task with two children, and a cached task run twice, the second time a
//! cache hit; then a second execution terminated while its children run (one succeeded, one running, one waiting for
//! its retry); and a third whose dynamic task fails when one of its two children fails for good.

mod attempt;
mod node;
mod rebuild;
mod record;
mod rows;

use gantry_core::model::ExecutionError;
use gantry_core::state::{AttemptPhase, CacheStatus, ExecutionPhase, NodePhase};

use self::rebuild::replay;
use self::record::{Recorded, record};
use self::rows::Snapshot;
use super::harness::Backend;

fn node<'s>(snapshot: &'s Snapshot, node_id: &str) -> &'s gantry_store::NodeRow {
    snapshot
        .nodes
        .iter()
        .find(|n| n.node_id == node_id)
        .unwrap_or_else(|| panic!("no node {node_id:?}"))
}

/// The rows hold the run described above, so that a clean replay means something.
fn assert_recorded(
    Recorded {
        nested,
        terminated,
        failed,
    }: &Recorded,
) {
    assert_eq!(nested.execution.phase, ExecutionPhase::Succeeded);
    let flaky = node(nested, "n0/0/flaky");
    assert_eq!(
        (flaky.phase, flaky.attempts, flaky.user_failures),
        (NodePhase::Succeeded, 2, 1)
    );
    assert_eq!(node(nested, "n0/0/cache1").cache_status, CacheStatus::Populated);
    assert_eq!(node(nested, "n0/0/cache2").cache_status, CacheStatus::Hit);
    assert!(node(nested, "n0/0/nested").is_dynamic);
    assert_eq!(node(nested, "n0/0/nested/0/c1").phase, NodePhase::Succeeded);
    assert_eq!(nested.nodes.len(), 1 + 4 + 2);

    assert_eq!(terminated.execution.phase, ExecutionPhase::Aborted);
    let phases: Vec<_> = ["n0", "n0/0/c0", "n0/0/c1", "n0/0/c2"]
        .iter()
        .map(|id| node(terminated, id).phase)
        .collect();
    let (aborted, succeeded) = (NodePhase::Aborted, NodePhase::Succeeded);
    assert_eq!(phases, [aborted, succeeded, aborted, aborted]);
    let attempts: Vec<_> = terminated.attempts["n0/0/c2"].iter().map(|a| a.phase).collect();
    assert_eq!(attempts, [AttemptPhase::Failed, AttemptPhase::Aborted]);

    assert_eq!(failed.execution.phase, ExecutionPhase::Failed);
    let phases: Vec<_> = ["n0", "n0/0/c0", "n0/0/c1"]
        .iter()
        .map(|id| node(failed, id).phase)
        .collect();
    assert_eq!(phases, [NodePhase::Failed, NodePhase::Failed, aborted]);
}

async fn a_recorded_run_replays_to_its_stored_rows(backend: Backend) {
    let (recorder, recorded) = record(backend).await;
    assert_recorded(&recorded);

    let first = replay(&recorded.nested);
    assert!(first.mismatches.is_empty(), "{}", first.mismatches.join("\n"));
    let second = replay(&recorded.terminated);
    assert!(second.mismatches.is_empty(), "{}", second.mismatches.join("\n"));
    let third = replay(&recorded.failed);
    assert!(third.mismatches.is_empty(), "{}", third.mismatches.join("\n"));

    // Every kind of decision the run was recorded for was replayed.
    for (replay, machine, event, times) in [
        (&first, "node", "attempt_failed", 1),
        (&first, "node", "spec_compiled", 2),
        (&first, "node", "cache_hit", 1),
        (&first, "node", "assembled", 2),
        (&first, "attempt", "heartbeat", 1),
        (&first, "attempt", "complete", 7),
        (&first, "execution", "assembled", 1),
        (&second, "execution", "terminate", 1),
        (&second, "node", "abort", 3),
        (&second, "attempt", "abort", 2),
        (&third, "node", "children_aborted", 1),
        (&third, "execution", "nodes_drained", 1),
        (&third, "attempt", "abort", 1),
    ] {
        assert_eq!(
            replay.applied(machine, event),
            times,
            "{machine}:{event} {:?}",
            replay.applied
        );
    }
    recorder.harness.finish().await;
}

#[tokio::test]
async fn a_recorded_run_replays_to_its_stored_rows_sqlite() {
    a_recorded_run_replays_to_its_stored_rows(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_recorded_run_replays_to_its_stored_rows_postgres() {
    a_recorded_run_replays_to_its_stored_rows(Backend::Postgres).await;
}

/// The replay can fail: one field of one row changed is reported, naming the row and the field.
#[tokio::test]
async fn a_tampered_row_fails_the_replay() {
    let (
        recorder,
        Recorded {
            nested,
            terminated,
            failed,
        },
    ) = record(Backend::Sqlite).await;
    assert!(replay(&nested).mismatches.is_empty());

    let mut tampered = nested.clone();
    tampered.node_mut("n0/0/flaky").attempts += 1;
    let found = replay(&tampered).mismatches;
    assert_eq!(found, ["node n0/0/flaky: attempts derived 2, stored 3"]);

    let mut tampered = nested.clone();
    tampered.attempts.get_mut("n0/0/flaky").expect("attempts")[0].phase = AttemptPhase::Succeeded;
    let found = replay(&tampered).mismatches;
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("node n0/0/flaky: attempt_started after it was already succeeded"))
            && found
                .iter()
                .any(|m| m.starts_with("attempt 0 of node n0/0/flaky: error derived None")),
        "{found:#?}"
    );

    let mut tampered = terminated.clone();
    tampered.node_mut("n0").children_succeeded = 0;
    let found = replay(&tampered).mismatches;
    assert_eq!(found, ["node n0: children_succeeded derived 1, stored 0"]);

    // A child's error is what its parent's error is derived from.
    let mut tampered = failed.clone();
    let other = ExecutionError::user("other", "not what happened").at_node("n0/0/c0");
    tampered.node_mut("n0/0/c0").error = Some(crate::codec::encode_error(&other));
    let found = replay(&tampered).mismatches;
    assert!(
        found.len() == 2
            && found[0].starts_with(
                "node n0: error derived Some(ExecutionError { kind: User, recoverable: false, code: \"other\""
            )
            && found[1].starts_with(
                "node n0/0/c0: error derived Some(ExecutionError { kind: User, recoverable: false, code: \"broken\""
            ),
        "{found:#?}"
    );
    recorder.harness.finish().await;
}
