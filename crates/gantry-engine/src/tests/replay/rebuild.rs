//! The replayer: from a [`Snapshot`]'s rows alone, derives the events each execution, node and attempt went through,
//! feeds them to the core's state machines from their initial states, and compares where the machines end with the
//! stored rows. Every refused event and every difference is a mismatch naming the row, the field or event, and both
//! values.
//!
//! How the events are derived (the engine's own rules, see `interpret/mod.rs`, `interpret/execution.rs`, `worker.rs`):
//! - A node's attempts, in order, give `AttemptStarted` (claimed: a start time), then `AttemptSucceeded`,
//!   `SpecCompiled` (a spec row for that attempt), `AttemptFailed` (the attempt's stored error, at its finish) or
//!   `Abort` (aborted).
//! - A dynamic node's children give `ChildrenCreated` (the spec's node count) and one `ChildrenProgress` per instant
//!   at which some of them settled (a batch reads the clock once), with the counts so far and the first failed
//!   child's error by finish time and position, as `first_child_error` reads it. Aborted children are not counted:
//!   an abort is one bulk update that no parent counts (`abort_below`), and the engine never sends `Abort` itself.
//! - The end follows from the stored phase: `Assembled`, `ChildrenAborted` after a failed child, `Abort`.
//! - An attempt: `Claim` at its start, `Heartbeat`, then `Complete`, `LeaseExpired`, `DeadlinePassed` or `Abort`.
//!
//! Effects are checked against the rows too: each enqueued attempt has its row, claimable when the decision said (a
//! retry after its backoff), and no other attempt row exists; children are those of the attempt that returned the
//! spec; a cache write is the entry under the node's key, a cache hit holds that entry's outputs.
//!
//! What rows cannot tell, and the replay takes from elsewhere or does not check:
//! - A lease's length is the engine's setting (`Snapshot::lease_ms`); a row keeps only the last expiry, so only the
//!   last heartbeat is replayed, and an attempt heartbeated past its first lease would be refused here.
//! - Two batches in one millisecond settle children at one instant: their progress replays as one report, which
//!   changes only the counts in a failed composite's message. The recorder advances the clock between batches.
//! - A termination's reason is kept only in the execution's error: `Terminate` takes it from there. A node that failed
//!   before it started (`InputsFailed`) or a rejected spec has no other record of its error either.
//! - Composite and launch-plan nodes, recovered nodes and specs taken from an earlier execution are not derived:
//!   the replay reports them as not covered.

use std::collections::BTreeMap;

use gantry_core::model::{ExecutionError, FailurePolicy};
use gantry_core::state::{self, ChildCounts, ChildRule, ExecutionEvent, ExecutionPhase, ExecutionState, NodePhase};
use gantry_store::NodeRow;

use super::attempt::replay_attempt;
use super::node::replay_node;
use super::rows::Snapshot;
use crate::codec;

/// What a replay found: the mismatches, and how many events of each machine it applied.
#[derive(Debug, Default)]
pub struct Replay {
    pub mismatches: Vec<String>,
    /// `machine:event` -> how many were applied.
    pub applied: BTreeMap<String, usize>,
}

impl Replay {
    pub fn applied(&self, machine: &str, event: &str) -> usize {
        self.applied
            .get(&format!("{machine}:{event}"))
            .copied()
            .unwrap_or_default()
    }

    pub(super) fn count(&mut self, machine: &str, event: &str) {
        *self.applied.entry(format!("{machine}:{event}")).or_default() += 1;
    }

    pub(super) fn differs<T: std::fmt::Debug + PartialEq>(&mut self, what: &str, field: &str, derived: T, stored: T) {
        if derived != stored {
            self.mismatches
                .push(format!("{what}: {field} derived {derived:?}, stored {stored:?}"));
        }
    }
}

/// Replays every row of the snapshot.
pub fn replay(snapshot: &Snapshot) -> Replay {
    let mut out = Replay::default();
    replay_execution(snapshot, &mut out);
    for node in &snapshot.nodes {
        if let Err(problem) = replay_node(snapshot, node, &mut out) {
            out.mismatches.push(format!("node {}: {problem}", node.node_id));
        }
        for attempt in snapshot.attempts_of(&node.node_id) {
            if let Err(problem) = replay_attempt(snapshot, node, attempt, &mut out) {
                out.mismatches.push(format!(
                    "attempt {} of node {}: {problem}",
                    attempt.attempt, node.node_id
                ));
            }
        }
    }
    out
}

pub(super) fn decode_error(bytes: Option<&[u8]>) -> Result<Option<ExecutionError>, String> {
    bytes
        .map(codec::decode_error)
        .transpose()
        .map_err(|e| format!("undecodable error: {e}"))
}

/// A composite's progress as it heard of it: at each instant some children settled, the counts so far and the first
/// failed child's error.
#[derive(Debug)]
pub(super) struct Progress {
    pub counts: ChildCounts,
    pub first_failure: Option<ExecutionError>,
}

/// The progress reports of a composite with `total` children among `children`, before `until` if given.
pub(super) fn progress(children: &[&NodeRow], total: u64, until: Option<i64>) -> Result<Vec<Progress>, String> {
    let mut settled: Vec<(i64, i64, &NodeRow)> = children
        .iter()
        .filter(|c| c.phase.is_terminal() && c.phase != NodePhase::Aborted)
        .filter_map(|c| Some((c.finished_at?, c.position, *c)))
        .filter(|(at, _, _)| until.is_none_or(|until| *at < until))
        .collect();
    settled.sort_by_key(|(at, position, _)| (*at, *position));
    let mut reports: Vec<Progress> = Vec::new();
    let mut counts = ChildCounts::new(total);
    let mut first_failure = None;
    for (i, (at, _, child)) in settled.iter().enumerate() {
        counts.record(child.phase);
        if first_failure.is_none() && matches!(child.phase, NodePhase::Failed | NodePhase::TimedOut) {
            first_failure = decode_error(child.error.as_deref())?;
        }
        if settled.get(i + 1).is_none_or(|(next, _, _)| next != at) {
            reports.push(Progress {
                counts,
                first_failure: first_failure.clone(),
            });
        }
    }
    Ok(reports)
}

fn replay_execution(snapshot: &Snapshot, out: &mut Replay) {
    let row = &snapshot.execution;
    let what = "execution";
    let top = snapshot.children_of("");
    let rule = ChildRule {
        min_successes: None,
        fail_fast: snapshot.workflow.failure_policy == FailurePolicy::FailImmediately,
    };
    let stored_error = match decode_error(row.error.as_deref()) {
        Ok(error) => error,
        Err(problem) => return out.mismatches.push(format!("{what}: {problem}")),
    };
    let mut events = Vec::new();
    if row.started_at.is_some() {
        events.push(ExecutionEvent::Start);
    }
    let until = matches!(row.phase, ExecutionPhase::Aborted | ExecutionPhase::TimedOut)
        .then_some(row.finished_at)
        .flatten();
    let reports = match progress(&top, top.len() as u64, until) {
        Ok(reports) => reports,
        Err(problem) => return out.mismatches.push(format!("{what}: {problem}")),
    };
    let counts = reports.last().map_or(ChildCounts::new(top.len() as u64), |r| r.counts);
    for report in reports {
        events.push(ExecutionEvent::NodesProgress {
            counts: report.counts,
            rule,
            first_error: report.first_failure,
        });
    }
    match (row.phase, &stored_error) {
        (ExecutionPhase::Succeeded, _) => events.push(ExecutionEvent::Assembled),
        (ExecutionPhase::Failed, Some(error)) if error.code == "output_assembly" => {
            events.push(ExecutionEvent::AssemblyFailed { error: error.clone() })
        }
        (ExecutionPhase::Failed, _) => events.push(ExecutionEvent::NodesDrained),
        (ExecutionPhase::Aborted, _) => {
            // The reason is kept only in the error the termination wrote.
            let reason = stored_error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
            events.push(ExecutionEvent::Terminate { reason });
            events.push(ExecutionEvent::NodesDrained);
        }
        (ExecutionPhase::TimedOut, _) => events.push(ExecutionEvent::TimedOut),
        _ => {}
    }
    let mut current = ExecutionState::queued();
    for event in events {
        let name = event.name();
        if current.phase.is_terminal() {
            out.mismatches
                .push(format!("{what}: {name} after it was already {}", current.phase));
            break;
        }
        match state::execution::transition(&current, event) {
            Ok(decision) => {
                out.count("execution", name);
                current = decision.state;
            }
            Err(refused) => {
                out.mismatches
                    .push(format!("{what} in phase {} refused {name}: {refused}", current.phase));
                return;
            }
        }
    }
    out.differs(what, "phase", current.phase, row.phase);
    out.differs(what, "error", current.error, stored_error);
    out.differs(what, "nodes_total", top.len() as i64, row.nodes_total);
    out.differs(what, "nodes_succeeded", counts.succeeded as i64, row.nodes_succeeded);
    out.differs(what, "nodes_failed", counts.failed as i64, row.nodes_failed);
    out.differs(what, "nodes_skipped", counts.skipped as i64, row.nodes_skipped);
}
