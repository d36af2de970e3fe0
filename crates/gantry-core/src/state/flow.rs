//! What follows a node's end, and a composite's children's creation: the rules that decide which nodes start, which
//! are skipped, and what the parent counts. The engine loads the rows these rules read and writes what they return.
//!
//! A node settled in phase `u`; each of its downstream siblings `d` waits on `pending` upstream nodes:
//!
//! | `u`          | `d`'s phase  | `pending` | `d`'s pending after | then                                        |
//! |--------------|--------------|-----------|---------------------|---------------------------------------------|
//! | success      | NotStarted   | 1         | 0                   | Start `d` (resolve its inputs)              |
//! | success      | NotStarted   | n > 1     | n - 1               | nothing                                     |
//! | success      | terminal     | n > 0     | n - 1               | nothing (`d` was aborted or skipped already)|
//! | success      | any          | 0         | -                   | refused: more releases than upstream nodes  |
//! | success      | started      | any       | -                   | refused: `d` ran before its upstream ended  |
//! | no success   | NotStarted   | any       | unchanged           | Skip `d` (and so, in turn, its downstreams) |
//! | no success   | terminal     | any       | unchanged           | nothing                                     |
//! | no success   | started      | any       | -                   | refused: `d` ran before its upstream ended  |
//! | not terminal | any          | any       | -                   | refused: only a settled node releases       |
//!
//! The settled node's parent (a composite, or the execution for a top-level node) counts it once; an array node
//! with a `parallelism` then starts its next element not started yet. A child created in a later chunk than its
//! upstream nodes looks at them when it is created (`created_child`), so releases and creation meet whatever order
//! the batches ran in.
//!
//! A node whose start needs offloaded values (a branch's condition inputs, an attribute path into a value) waits for
//! them, not started, while they are fetched outside the writer (**hydration**). When they come back:
//!
//! | the node's phase | still waiting | then                                                            |
//! |------------------|---------------|-----------------------------------------------------------------|
//! | NotStarted       | yes           | Start it with the values (and it waits no more)                 |
//! | NotStarted       | no            | nothing: stale (another result started it, or it never waited) |
//! | any other        | any           | nothing: stale (aborted, skipped or started meanwhile)          |
//!
//! A value that does not exist any more can never be fetched: the node fails (`value_unavailable`).

use crate::model::ExecutionError;
use crate::names::quote;

use super::children::ChildCounts;
use super::error::TransitionError;
use super::phase::NodePhase;

/// What becomes of a node after a rule looked at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Nothing,
    /// Every upstream node succeeded: the node resolves its inputs and starts.
    Start,
    /// An upstream node did not succeed: the node can never run.
    Skip,
}

/// A downstream node as the release rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub phase: NodePhase,
    /// Upstream nodes it still waits for.
    pub upstream_pending: u32,
}

/// The release rule (the table above): `upstream` settled; what becomes of `downstream`.
pub fn release(upstream: NodePhase, downstream: Waiting) -> Result<(Waiting, Then), TransitionError> {
    let refused = |event: &'static str| TransitionError::Invalid {
        machine: "downstream node",
        phase: downstream.phase.as_str(),
        event,
    };
    if !upstream.is_terminal() {
        return Err(refused("release by an upstream node that has not settled"));
    }
    let started = !downstream.phase.is_terminal() && downstream.phase != NodePhase::NotStarted;
    if started {
        return Err(refused("its upstream node settling after it started"));
    }
    if !upstream.is_success() {
        let then = if downstream.phase == NodePhase::NotStarted {
            Then::Skip
        } else {
            Then::Nothing
        };
        return Ok((downstream, then));
    }
    let Some(pending) = downstream.upstream_pending.checked_sub(1) else {
        return Err(refused("a release with no upstream node pending"));
    };
    let then = if pending == 0 && downstream.phase == NodePhase::NotStarted {
        Then::Start
    } else {
        Then::Nothing
    };
    Ok((
        Waiting {
            upstream_pending: pending,
            ..downstream
        },
        then,
    ))
}

/// A composite (or an execution) as the counting rule sees it when one of its children settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    pub counts: ChildCounts,
    /// Whether its children are running (an aborting or failing parent starts no more of them).
    pub running: bool,
    /// An array node's parallelism: how many elements run at once.
    pub parallelism: Option<u32>,
}

/// What the parent does when a child settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub counts: ChildCounts,
    /// The position of the array element to start next, if any.
    pub start_element: Option<u64>,
}

/// The counting rule: a child of `parent` settled in `phase`.
///
/// Elements of an array node start in order, so after `s` elements settled, `parallelism + s - 1` have started and
/// the next is at that position.
pub fn child_settled(parent: Parent, phase: NodePhase) -> Result<Counted, TransitionError> {
    let refused = |event: &'static str| TransitionError::Invalid {
        machine: "parent's children",
        phase: phase.as_str(),
        event,
    };
    if !phase.is_terminal() {
        return Err(refused("counted before it settled"));
    }
    if parent.counts.all_settled() {
        return Err(refused("counted when every child had settled already"));
    }
    let mut counts = parent.counts;
    counts.record(phase);
    let start_element = match parent.parallelism {
        Some(parallelism) if parent.running => {
            let next = (u64::from(parallelism.max(1)) + counts.settled()).saturating_sub(1);
            (next < counts.total).then_some(next)
        }
        _ => None,
    };
    Ok(Counted { counts, start_element })
}

/// A child of a graph (a spec or a sub-workflow) created with the phases of its upstream nodes: `None` for one not
/// settled yet (running, or still to be created). Returns how many it waits for and whether it starts now.
pub fn created_child(upstream: impl IntoIterator<Item = Option<NodePhase>>) -> (u32, Then) {
    let mut pending = 0;
    let mut skipped = false;
    for phase in upstream {
        match phase {
            Some(phase) if phase.is_terminal() => skipped |= !phase.is_success(),
            _ => pending += 1,
        }
    }
    let then = if skipped {
        Then::Skip
    } else if pending == 0 {
        Then::Start
    } else {
        Then::Nothing
    };
    (pending, then)
}

/// How many of an array node's elements may have started once `settled` of them finished: all of them without a
/// parallelism, else `parallelism + settled`.
pub fn elements_started(total: u64, parallelism: Option<u32>, settled: u64) -> u64 {
    parallelism.map_or(total, |p| (u64::from(p.max(1)) + settled).min(total))
}

/// The hydration rule (the table above): the offloaded values a node waited for were fetched; the node is in
/// `phase` and `waiting` says whether it still waits for them. [`Then::Start`] starts it with them; anything else
/// means the values are stale, and are dropped (with what recorded the wait).
pub fn hydrated(phase: NodePhase, waiting: bool) -> Then {
    if waiting && phase == NodePhase::NotStarted {
        Then::Start
    } else {
        Then::Nothing
    }
}

/// Why a node cannot start: its input `input` (of its own bindings, or of the nested node `nested`: a branch arm, an
/// array's inner node) needs the offloaded value at `uri`, which `problem` (`does not exist`). Fetching again cannot
/// help, and the user's code did not cause it: a system error, not recoverable. The engine puts the node's id on it.
pub fn value_unavailable(input: &str, nested: Option<&str>, uri: &str, problem: &str) -> ExecutionError {
    let input = match nested {
        Some(node) => format!("input {} of {}", quote(input), quote(node)),
        None => format!("input {}", quote(input)),
    };
    ExecutionError::system(
        "input_value_unavailable",
        format!("{input} needs the offloaded value {uri}, which {problem}"),
    )
    .recoverable(false)
}
