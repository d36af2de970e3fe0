//! The execution state machine. An execution's top-level nodes are its children; it decides from their counts.
//!
//! | from                                 | event                       | to         | effects                  |
//! |--------------------------------------|-----------------------------|------------|--------------------------|
//! | Queued                               | Start                       | Running    | StartNodes               |
//! | Running                              | NodesProgress (pending)     | Running    |                          |
//! | Running                              | NodesProgress (success)     | Succeeding | AssembleOutputs          |
//! | Running                              | NodesProgress (failure)     | Failing    | AbortNodes               |
//! | Failing                              | NodesProgress               | Failing    |                          |
//! | Failing                              | NodesDrained                | Failed     | Finished                 |
//! | Succeeding                           | Assembled                   | Succeeded  | Finished                 |
//! | Succeeding                           | AssemblyFailed              | Failed     | Finished                 |
//! | Queued, Running, Succeeding, Failing | Terminate                   | Aborting   | AbortNodes               |
//! | Aborting                             | NodesDrained                | Aborted    | Finished                 |
//! | Aborting                             | Terminate, NodesProgress    | Aborting   | (idempotent)             |
//! | any non-terminal                     | TimedOut                    | TimedOut   | AbortNodes, Finished     |
//! | any terminal                         | any                         | unchanged  | none (terminal absorbs)  |

use crate::model::ExecutionError;
use crate::resolve::Outcome;

use super::children::{ChildCounts, ChildRule, children_outcome};
use super::error::TransitionError;
use super::phase::ExecutionPhase;

/// An execution's state as the engine stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionState {
    pub phase: ExecutionPhase,
    pub error: Option<ExecutionError>,
}

impl ExecutionState {
    pub fn queued() -> Self {
        ExecutionState {
            phase: ExecutionPhase::Queued,
            error: None,
        }
    }
}

/// What can happen to an execution.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionEvent {
    Start,
    /// Top-level nodes settled; `counts` are the totals so far, `first_error` the error of the first node that
    /// failed, if any.
    NodesProgress {
        counts: ChildCounts,
        rule: ChildRule,
        first_error: Option<ExecutionError>,
    },
    /// No node of the execution is running or queued any more.
    NodesDrained,
    Assembled,
    AssemblyFailed {
        error: ExecutionError,
    },
    Terminate {
        reason: String,
    },
    TimedOut,
}

impl ExecutionEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ExecutionEvent::Start => "start",
            ExecutionEvent::NodesProgress { .. } => "nodes_progress",
            ExecutionEvent::NodesDrained => "nodes_drained",
            ExecutionEvent::Assembled => "assembled",
            ExecutionEvent::AssemblyFailed { .. } => "assembly_failed",
            ExecutionEvent::Terminate { .. } => "terminate",
            ExecutionEvent::TimedOut => "timed_out",
        }
    }
}

/// What the engine must do after persisting an execution's new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionEffect {
    /// Create the top-level nodes and start those with no upstream.
    StartNodes,
    /// Abort every non-terminal node and attempt of the execution, at any depth, and its child executions.
    AbortNodes,
    AssembleOutputs,
    /// The execution is terminal: notify watchers and, for a child execution, its parent node.
    Finished(ExecutionPhase),
}

/// An execution's next state and the effects to carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDecision {
    pub state: ExecutionState,
    pub effects: Vec<ExecutionEffect>,
}

/// Whether a `NodesProgress` with `counts` under `rule` fails an execution in `phase`: only then does the event need
/// the error of its first failed node, which the engine looks up in the store.
pub fn progress_fails(phase: ExecutionPhase, counts: ChildCounts, rule: ChildRule) -> bool {
    phase == ExecutionPhase::Running && counts.failed > 0 && children_outcome(counts, rule) == Outcome::Failed
}

/// Applies `event` to `state`.
pub fn transition(state: &ExecutionState, event: ExecutionEvent) -> Result<ExecutionDecision, TransitionError> {
    use ExecutionEffect as E;
    use ExecutionPhase as P;

    if state.phase.is_terminal() {
        return Ok(ExecutionDecision {
            state: state.clone(),
            effects: Vec::new(),
        });
    }
    let invalid = TransitionError::Invalid {
        machine: "execution",
        phase: state.phase.as_str(),
        event: event.name(),
    };
    let mut next = state.clone();
    let finish = |next: &mut ExecutionState, phase: ExecutionPhase| {
        next.phase = phase;
        vec![E::Finished(phase)]
    };
    let effects = match (state.phase, event) {
        (P::Queued, ExecutionEvent::Start) => {
            next.phase = P::Running;
            vec![E::StartNodes]
        }
        (
            P::Running,
            ExecutionEvent::NodesProgress {
                counts,
                rule,
                first_error,
            },
        ) => match children_outcome(counts, rule) {
            Outcome::Pending => Vec::new(),
            Outcome::Succeeded => {
                next.phase = P::Succeeding;
                vec![E::AssembleOutputs]
            }
            Outcome::Failed => {
                next.phase = P::Failing;
                next.error = Some(first_error.unwrap_or_else(|| {
                    ExecutionError::user(
                        "nodes_failed",
                        format!("{} of {} nodes failed", counts.failed, counts.total),
                    )
                }));
                vec![E::AbortNodes]
            }
        },
        (P::Failing | P::Aborting, ExecutionEvent::NodesProgress { .. }) => Vec::new(),
        (P::Failing, ExecutionEvent::NodesDrained) => finish(&mut next, P::Failed),
        (P::Aborting, ExecutionEvent::NodesDrained) => finish(&mut next, P::Aborted),
        (P::Succeeding, ExecutionEvent::Assembled) => finish(&mut next, P::Succeeded),
        (P::Succeeding, ExecutionEvent::AssemblyFailed { error }) => {
            next.error = Some(error);
            finish(&mut next, P::Failed)
        }
        (P::Queued | P::Running | P::Succeeding | P::Failing, ExecutionEvent::Terminate { reason }) => {
            next.phase = P::Aborting;
            next.error = Some(ExecutionError::user("terminated", reason).recoverable(false));
            vec![E::AbortNodes]
        }
        (P::Aborting, ExecutionEvent::Terminate { .. }) => Vec::new(),
        (_, ExecutionEvent::TimedOut) => {
            next.error = Some(ExecutionError::user(
                "execution_timeout",
                "the execution ran past its timeout",
            ));
            let mut effects = vec![E::AbortNodes];
            effects.extend(finish(&mut next, P::TimedOut));
            effects
        }
        _ => return Err(invalid),
    };
    Ok(ExecutionDecision { state: next, effects })
}
