//! What an execution page's live view knows, built from `WatchExecution`'s changes: the execution's phase, every
//! node's phase (nodes count as they appear, so a dynamic node's children join when created), counters by phase,
//! and the node phases changed since the browser was last told. Pure, so it is tested without a stream.

use std::collections::{BTreeMap, HashMap};

use gantry_proto::v1 as pb;
use serde::Serialize;

use crate::format;

/// The counters an execution page shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Nodes known so far, at every depth.
    pub total: usize,
    /// Nodes in a final phase.
    pub done: usize,
    /// Not started, queued, or waiting to retry.
    pub waiting: usize,
    /// Running: an attempt, or children.
    pub running: usize,
    /// Succeeded or recovered.
    pub succeeded: usize,
    /// Failed or timed out.
    pub failed: usize,
    /// Aborted.
    pub aborted: usize,
    /// Skipped.
    pub skipped: usize,
}

/// The live state of one execution as watched.
#[derive(Debug, Default)]
pub struct Tally {
    execution_phase: Option<i32>,
    nodes: HashMap<String, i32>,
    /// Node phases not yet sent to the browser, by node id.
    changed: BTreeMap<String, i32>,
    /// Whether the counters or the execution's phase changed since last taken.
    dirty: bool,
}

impl Tally {
    /// Applies one change from the stream.
    pub fn apply(&mut self, change: pb::PhaseChange) {
        match change.change {
            Some(pb::phase_change::Change::Execution(execution)) => {
                self.execution_phase = Some(execution.phase);
                self.dirty = true;
            }
            // A phase the tally already holds (a snapshot taken again after the watch fell behind) is no change.
            Some(pb::phase_change::Change::Node(node)) => {
                if self.nodes.get(&node.node_id) != Some(&node.phase) {
                    self.nodes.insert(node.node_id.clone(), node.phase);
                    self.changed.insert(node.node_id, node.phase);
                    self.dirty = true;
                }
            }
            Some(pb::phase_change::Change::Attempt(_)) | None => {}
        }
    }

    /// The execution's phase as a word, once known.
    pub fn execution_phase(&self) -> Option<String> {
        self.execution_phase.map(format::execution_phase)
    }

    /// Whether the execution reached a final phase.
    pub fn finished(&self) -> bool {
        self.execution_phase.is_some_and(format::execution_is_terminal)
    }

    /// Whether some node is known only in a phase that is not final (once the execution is final, a sign of
    /// changes missed).
    pub fn unfinished_nodes(&self) -> bool {
        let counters = self.counters();
        counters.done < counters.total
    }

    /// Counts the nodes by phase.
    pub fn counters(&self) -> Counters {
        let mut counters = Counters {
            total: self.nodes.len(),
            ..Counters::default()
        };
        for phase in self.nodes.values() {
            let Ok(phase) = pb::NodePhase::try_from(*phase) else {
                continue;
            };
            match phase {
                pb::NodePhase::Unspecified
                | pb::NodePhase::NotStarted
                | pb::NodePhase::Queued
                | pb::NodePhase::RetryWaiting => counters.waiting += 1,
                pb::NodePhase::Running
                | pb::NodePhase::SpecAccepted
                | pb::NodePhase::ChildrenRunning
                | pb::NodePhase::Assembling
                | pb::NodePhase::Failing => counters.running += 1,
                pb::NodePhase::Succeeded | pb::NodePhase::Recovered => counters.succeeded += 1,
                pb::NodePhase::Failed | pb::NodePhase::TimedOut => counters.failed += 1,
                pb::NodePhase::Aborted => counters.aborted += 1,
                pb::NodePhase::Skipped => counters.skipped += 1,
            }
        }
        counters.done = counters.succeeded + counters.failed + counters.aborted + counters.skipped;
        counters
    }

    /// Whether anything changed since [`Tally::take`] was last called.
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    /// The node phases changed since the last call, as words by node id, and clears the dirty flag.
    pub fn take(&mut self) -> BTreeMap<String, String> {
        self.dirty = false;
        std::mem::take(&mut self.changed)
            .into_iter()
            .map(|(node, phase)| (node, format::node_phase(phase)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, phase: pb::NodePhase) -> pb::PhaseChange {
        pb::PhaseChange {
            change: Some(pb::phase_change::Change::Node(pb::NodePhaseChange {
                node_id: id.to_owned(),
                phase: phase as i32,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn execution(phase: pb::ExecutionPhase) -> pb::PhaseChange {
        pb::PhaseChange {
            change: Some(pb::phase_change::Change::Execution(pb::ExecutionPhaseChange {
                phase: phase as i32,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn counters_follow_each_nodes_latest_phase() {
        let mut tally = Tally::default();
        tally.apply(execution(pb::ExecutionPhase::Running));
        tally.apply(node("n0", pb::NodePhase::ChildrenRunning));
        tally.apply(node("n0/1/dn0", pb::NodePhase::Queued));
        tally.apply(node("n0/1/dn1", pb::NodePhase::Running));
        tally.apply(node("n0/1/dn0", pb::NodePhase::Succeeded));
        tally.apply(node("n0/1/dn2", pb::NodePhase::Failed));
        let counters = tally.counters();
        assert_eq!(counters.total, 4);
        assert_eq!(counters.running, 2);
        assert_eq!(counters.succeeded, 1);
        assert_eq!(counters.failed, 1);
        assert_eq!(counters.done, 2);
        assert_eq!(tally.execution_phase().as_deref(), Some("running"));
        assert!(!tally.finished());
        tally.apply(execution(pb::ExecutionPhase::Failed));
        assert_eq!(tally.execution_phase().as_deref(), Some("failed"));
        assert!(tally.finished());
    }

    #[test]
    fn the_browser_is_told_each_nodes_last_phase_once() {
        let mut tally = Tally::default();
        assert!(!tally.dirty());
        tally.apply(node("a", pb::NodePhase::Queued));
        tally.apply(node("a", pb::NodePhase::Aborted));
        tally.apply(node("b", pb::NodePhase::Skipped));
        assert!(tally.dirty());
        let sent = tally.take();
        assert_eq!(sent.get("a").map(String::as_str), Some("aborted"));
        assert_eq!(sent.len(), 2);
        assert!(!tally.dirty());
        assert!(tally.take().is_empty());
        assert_eq!(tally.counters().aborted, 1);
    }

    #[test]
    fn a_snapshot_taken_again_sends_on_only_the_phases_that_differ() {
        let mut tally = Tally::default();
        tally.apply(node("a", pb::NodePhase::Succeeded));
        tally.apply(node("b", pb::NodePhase::Running));
        tally.take();
        // The watch fell behind and missed b's end; the new snapshot holds both nodes.
        tally.apply(node("a", pb::NodePhase::Succeeded));
        tally.apply(node("b", pb::NodePhase::Succeeded));
        let sent = tally.take();
        assert_eq!(sent.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(tally.counters().succeeded, 2);
        tally.apply(node("b", pb::NodePhase::Succeeded));
        assert!(!tally.dirty());
    }
}
