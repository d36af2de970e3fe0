//! Counting a composite's children (a dynamic spec, a sub-workflow, an array node, or an execution's top-level
//! nodes) and deciding, from counts alone, whether the composite is still running, has succeeded or has failed.
//!
//! The engine keeps these counts on the parent's row and applies a whole batch of child completions as one
//! update, so no parent is locked once per child.

use crate::model::{ExecutionError, NodeTarget};
use crate::resolve::{Outcome, outcome};

use super::phase::NodePhase;

/// How many of a composite's children have settled, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChildCounts {
    pub total: u64,
    pub succeeded: u64,
    /// Failed, timed out or aborted.
    pub failed: u64,
    /// Skipped: an untaken branch or downstream of a failure. Never counts as a success.
    pub skipped: u64,
}

impl ChildCounts {
    pub fn new(total: u64) -> Self {
        ChildCounts {
            total,
            ..ChildCounts::default()
        }
    }

    /// Counts one more child as settled in `phase`. Non-terminal phases are ignored.
    pub fn record(&mut self, phase: NodePhase) {
        match phase {
            NodePhase::Succeeded | NodePhase::Recovered => self.succeeded += 1,
            NodePhase::Failed | NodePhase::TimedOut | NodePhase::Aborted => self.failed += 1,
            NodePhase::Skipped => self.skipped += 1,
            _ => {}
        }
        debug_assert!(
            self.settled() <= self.total,
            "more children settled than exist: {self:?}"
        );
    }

    pub fn settled(&self) -> u64 {
        self.succeeded + self.failed + self.skipped
    }

    pub fn all_settled(&self) -> bool {
        self.settled() >= self.total
    }
}

/// How a composite reacts to its children's failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildRule {
    /// How many children must succeed; `None` means all.
    pub min_successes: Option<u64>,
    /// Fail as soon as success is out of reach (`FailImmediately`), or only once every child has settled.
    pub fail_fast: bool,
}

impl ChildRule {
    pub const ALL_FAIL_FAST: ChildRule = ChildRule {
        min_successes: None,
        fail_fast: true,
    };
}

/// Decides a composite's fate from its children's counts.
pub fn children_outcome(counts: ChildCounts, rule: ChildRule) -> Outcome {
    let required = required_children(counts, rule);
    let decided = outcome(required, counts.succeeded, counts.failed + counts.skipped, counts.total);
    match decided {
        Outcome::Failed if !rule.fail_fast && !counts.all_settled() => Outcome::Pending,
        other => other,
    }
}

/// How many children a composite needs to succeed under `rule`.
pub fn required_children(counts: ChildCounts, rule: ChildRule) -> u64 {
    rule.min_successes.map_or(counts.total, |n| n.min(counts.total))
}

/// How long a composite's error message may grow with the counts of the levels above its failed leaf.
pub const COUNTED_MESSAGE_BYTES: usize = 4096;

/// The error of a composite whose children can no longer meet its rule.
///
/// What an operator needs is the cause, not the count. When a child failed with an error, the composite's error is
/// that error (its kind, code and message, and the scoped id of the node it concerns) with this level's count
/// appended to the message. A failed composite child's own error was built the same way, so at any depth of nesting
/// (dynamic in dynamic, sub-workflow, array node) the error names the first failed descendant and carries its
/// message, followed by one count per level, innermost first, as long as the message stays within
/// [`COUNTED_MESSAGE_BYTES`] (a recursion thousands of levels deep keeps the leaf's message and its innermost
/// counts). Without a failed child's error (only skipped children are known), it is a `children_failed` error with
/// the count alone. The error is never recoverable: the composite does not run again.
pub fn children_failed_error(
    counts: ChildCounts,
    rule: ChildRule,
    first_failure: Option<ExecutionError>,
) -> ExecutionError {
    let count = format!(
        "{} of {} children failed or were skipped; {} succeeded, {} required",
        counts.failed + counts.skipped,
        counts.total,
        counts.succeeded,
        required_children(counts, rule),
    );
    match first_failure {
        Some(mut cause) => {
            if cause.message.len() + count.len() + 3 <= COUNTED_MESSAGE_BYTES {
                cause.message = format!("{} ({count})", cause.message);
            }
            ExecutionError {
                recoverable: false,
                ..cause
            }
        }
        None => ExecutionError::user("children_failed", count),
    }
}

/// The shape of a node as far as its state machine cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// Runs attempts on workers; an attempt may return a dynamic spec, which makes the node a composite.
    Task,
    /// Has children from the start: a sub-workflow, a branch (one child: the taken arm) or an array node.
    Composite,
    /// Starts a child execution and waits for it.
    LaunchPlan,
    /// Waits for time, a signal or an approval; runs nothing.
    Gate,
}

impl NodeKind {
    pub fn of(target: &NodeTarget) -> NodeKind {
        match target {
            NodeTarget::Task(_) => NodeKind::Task,
            NodeTarget::SubWorkflow(_) | NodeTarget::Branch(_) | NodeTarget::Array(_) => NodeKind::Composite,
            NodeTarget::LaunchPlan(_) => NodeKind::LaunchPlan,
            NodeTarget::Gate(_) => NodeKind::Gate,
        }
    }
}
