//! The node state machine.
//!
//! | from                          | event                       | to                          | effects                          |
//! |-------------------------------|-----------------------------|-----------------------------|----------------------------------|
//! | NotStarted                    | Start (task)                | Queued (cache: miss/overwr.)| EnqueueAttempt 0                 |
//! | NotStarted                    | Start (composite)           | SpecAccepted                | CreateChildren                   |
//! | NotStarted                    | Start (launch plan)         | Running                     | StartChildExecution              |
//! | NotStarted                    | Start (gate)                | Running                     | ArmGate                          |
//! | NotStarted                    | CacheHit                    | Succeeded (cache hit)       | Settled                          |
//! | NotStarted                    | Skip                        | Skipped                     | Settled                          |
//! | NotStarted                    | Recover                     | Recovered                   | Settled                          |
//! | NotStarted (task)             | SpecRecovered(k)            | SpecAccepted, attempt k     | PersistSpec, CreateChildren      |
//! | NotStarted                    | InputsFailed                | Failed (no retry)           | Settled                          |
//! | Queued, RetryWaiting          | AttemptStarted              | Running                     |                                  |
//! | Running                       | AttemptSucceeded            | Succeeded                   | WriteCache?, Settled             |
//! | Running                       | SpecCompiled                | SpecAccepted                | PersistSpec, CreateChildren      |
//! | Running                       | SpecRejected                | Failed (user, no retry)     | Settled                          |
//! | Queued, Running, RetryWaiting | AttemptFailed (retryable)   | RetryWaiting                | EnqueueAttempt n+1 after backoff |
//! | Queued, Running, RetryWaiting | AttemptFailed (final)       | Failed / TimedOut           | Settled                          |
//! | SpecAccepted                  | ChildrenCreated             | ChildrenRunning / Assembling| StartChildren / AssembleOutputs  |
//! | ChildrenRunning               | ChildrenProgress (pending)  | ChildrenRunning             |                                  |
//! | ChildrenRunning               | ChildrenProgress (success)  | Assembling                  | AssembleOutputs                  |
//! | ChildrenRunning               | ChildrenProgress (failure)  | Failing, the leaf's error   | AbortChildren                    |
//! | Failing                       | ChildrenAborted             | Failed                      | Settled                          |
//! | Assembling                    | Assembled                   | Succeeded                   | WriteCache?, Settled             |
//! | Assembling                    | AssemblyFailed              | Failed                      | Settled                          |
//! | Running (launch plan)         | ChildExecutionFinished      | Succeeded / Failed          | Settled                          |
//! | Running (gate)                | GateOpened                  | Succeeded                   | DisarmGate, Settled              |
//! | Running (gate)                | GateRejected                | Failed                      | DisarmGate, Settled              |
//! | Running (gate)                | GateExpired                 | TimedOut                    | DisarmGate, Settled              |
//! | any non-terminal              | Abort                       | Aborted                     | AbortAttempt/Children/.., Settled|
//! | any non-terminal              | TimedOut                    | TimedOut                    | AbortAttempt/Children/.., Settled|
//! | any terminal                  | any                         | unchanged                   | none (terminal phases absorb)    |
//!
//! Any other pair is a [`TransitionError::Invalid`].

use crate::model::{Duration, ErrorKind, ExecutionError, LiteralMap, RetryPolicy};
use crate::resolve::Outcome;

use super::children::{ChildCounts, ChildRule, NodeKind, children_failed_error, children_outcome};
use super::error::TransitionError;
use super::phase::{CacheStatus, NodePhase};

/// A node execution's state as the engine stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    pub phase: NodePhase,
    /// Attempts created so far; the current one is `attempts - 1`.
    pub attempts: u32,
    pub user_failures: u32,
    pub system_failures: u32,
    pub cache_status: CacheStatus,
    pub error: Option<ExecutionError>,
}

impl NodeState {
    pub fn new() -> Self {
        NodeState {
            phase: NodePhase::NotStarted,
            attempts: 0,
            user_failures: 0,
            system_failures: 0,
            cache_status: CacheStatus::Disabled,
            error: None,
        }
    }

    /// The attempt number of the latest attempt, if any was created.
    pub fn current_attempt(&self) -> Option<u32> {
        self.attempts.checked_sub(1)
    }
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState::new()
    }
}

/// What the machine needs to know about the node beyond its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePolicy {
    pub kind: NodeKind,
    pub retries: RetryPolicy,
    /// The task caches its outputs (`cache` on, with a `cache_version`).
    pub cache: bool,
    /// The execution skips cache lookups and replaces entries (`overwrite_cache`).
    pub overwrite_cache: bool,
}

impl NodePolicy {
    pub fn task(retries: RetryPolicy) -> Self {
        NodePolicy {
            kind: NodeKind::Task,
            retries,
            cache: false,
            overwrite_cache: false,
        }
    }

    pub fn composite() -> Self {
        NodePolicy {
            kind: NodeKind::Composite,
            retries: RetryPolicy::default(),
            cache: false,
            overwrite_cache: false,
        }
    }
}

/// What can happen to a node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEvent {
    /// Every upstream succeeded and the inputs resolved.
    Start,
    CacheHit,
    Skip,
    /// Outputs copied from an earlier execution.
    Recover,
    /// A recovered execution reuses the spec attempt `attempt` of the same node returned in the earlier execution,
    /// instead of running the generator again; the children keep their ids (`node/attempt/child`).
    SpecRecovered {
        attempt: u32,
    },
    /// The node's inputs could not be resolved from its upstreams' outputs (a missing key on an attribute path, a
    /// value of the wrong type at run time: a user error), or an offloaded value they need does not exist
    /// (`flow::value_unavailable`: a system error). Neither is retried.
    InputsFailed {
        error: ExecutionError,
    },
    AttemptStarted,
    AttemptSucceeded,
    /// The generator's spec compiled against the node's output interface.
    SpecCompiled,
    /// The generator's spec did not compile: every error, already formatted.
    SpecRejected {
        error: ExecutionError,
    },
    AttemptFailed {
        error: ExecutionError,
        now_ms: i64,
    },
    /// All children rows exist (inserted in one or several batches).
    ChildrenCreated {
        counts: ChildCounts,
        rule: ChildRule,
        /// The error of the first child that failed, if one did (see [`children_failed_error`]).
        first_failure: Option<ExecutionError>,
    },
    /// Some children settled; `counts` are the totals so far.
    ChildrenProgress {
        counts: ChildCounts,
        rule: ChildRule,
        /// The error of the first child that failed, if one did (see [`children_failed_error`]).
        first_failure: Option<ExecutionError>,
    },
    /// Every child is terminal after an abort.
    ChildrenAborted,
    Assembled,
    AssemblyFailed {
        error: ExecutionError,
    },
    /// The child execution of a launch-plan node finished.
    ChildExecutionFinished {
        result: Result<LiteralMap, ExecutionError>,
    },
    /// A gate's sleep ended, or its signal or approval came (see [`super::gate`]); the engine stored its outputs.
    GateOpened,
    /// A gate's approval was refused.
    GateRejected {
        error: ExecutionError,
    },
    /// A gate's signal or approval did not come within its timeout.
    GateExpired {
        error: ExecutionError,
    },
    Abort,
    TimedOut,
}

impl NodeEvent {
    pub fn name(&self) -> &'static str {
        match self {
            NodeEvent::Start => "start",
            NodeEvent::CacheHit => "cache_hit",
            NodeEvent::Skip => "skip",
            NodeEvent::Recover => "recover",
            NodeEvent::SpecRecovered { .. } => "spec_recovered",
            NodeEvent::InputsFailed { .. } => "inputs_failed",
            NodeEvent::AttemptStarted => "attempt_started",
            NodeEvent::AttemptSucceeded => "attempt_succeeded",
            NodeEvent::SpecCompiled => "spec_compiled",
            NodeEvent::SpecRejected { .. } => "spec_rejected",
            NodeEvent::AttemptFailed { .. } => "attempt_failed",
            NodeEvent::ChildrenCreated { .. } => "children_created",
            NodeEvent::ChildrenProgress { .. } => "children_progress",
            NodeEvent::ChildrenAborted => "children_aborted",
            NodeEvent::Assembled => "assembled",
            NodeEvent::AssemblyFailed { .. } => "assembly_failed",
            NodeEvent::ChildExecutionFinished { .. } => "child_execution_finished",
            NodeEvent::GateOpened => "gate_opened",
            NodeEvent::GateRejected { .. } => "gate_rejected",
            NodeEvent::GateExpired { .. } => "gate_expired",
            NodeEvent::Abort => "abort",
            NodeEvent::TimedOut => "timed_out",
        }
    }
}

/// What the engine must do after persisting a node's new state.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEffect {
    /// Create attempt `attempt`, claimable from `not_before_ms` on (a retry's backoff; `None` = now).
    EnqueueAttempt {
        attempt: u32,
        not_before_ms: Option<i64>,
    },
    /// Store the accepted spec so the generator never runs again for this attempt.
    PersistSpec,
    /// Insert the node's children (of the spec, sub-workflow, taken branch arm or array elements) in batches.
    CreateChildren {
        attempt: u32,
    },
    /// Start the children that wait on no other child.
    StartChildren,
    StartChildExecution,
    /// Record the gate's deadline and the signal it waits for, and open it at once if that signal is already set.
    ArmGate,
    /// The gate waits no more: forget its deadline and signal.
    DisarmGate,
    AbortAttempt,
    AbortChildren,
    AbortChildExecution,
    /// Resolve the node's outputs from the spec's output bindings and its children's outputs.
    AssembleOutputs,
    WriteCache,
    /// The node is terminal: release or skip its downstream nodes and count it on its parent.
    Settled(NodePhase),
}

/// A node's next state and the effects to carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDecision {
    pub state: NodeState,
    pub effects: Vec<NodeEffect>,
}

/// Whether a `ChildrenProgress` (for a spec just accepted: `ChildrenCreated`) with `counts` under `rule` fails a
/// composite in `phase`: only then does the event need the error of its first failed child, which the engine looks
/// up in the store.
pub fn progress_fails(phase: NodePhase, counts: ChildCounts, rule: ChildRule) -> bool {
    matches!(phase, NodePhase::SpecAccepted | NodePhase::ChildrenRunning)
        && counts.failed > 0
        && children_outcome(counts, rule) == Outcome::Failed
}

/// Applies `event` to `state` under `policy`.
pub fn transition(state: &NodeState, policy: &NodePolicy, event: NodeEvent) -> Result<NodeDecision, TransitionError> {
    use NodeEffect as E;
    use NodePhase as P;

    if state.phase.is_terminal() {
        return Ok(NodeDecision {
            state: state.clone(),
            effects: Vec::new(),
        });
    }
    let invalid = TransitionError::Invalid {
        machine: "node",
        phase: state.phase.as_str(),
        event: event.name(),
    };
    let mut next = state.clone();
    let effects = match (state.phase, event) {
        (P::NotStarted, NodeEvent::Start) => match policy.kind {
            NodeKind::Task => {
                next.phase = P::Queued;
                next.attempts = 1;
                if policy.cache {
                    next.cache_status = if policy.overwrite_cache {
                        CacheStatus::Overwritten
                    } else {
                        CacheStatus::Miss
                    };
                }
                vec![E::EnqueueAttempt {
                    attempt: 0,
                    not_before_ms: None,
                }]
            }
            NodeKind::Composite => {
                next.phase = P::SpecAccepted;
                next.attempts = 1;
                vec![E::CreateChildren { attempt: 0 }]
            }
            NodeKind::LaunchPlan => {
                next.phase = P::Running;
                vec![E::StartChildExecution]
            }
            NodeKind::Gate => {
                next.phase = P::Running;
                vec![E::ArmGate]
            }
        },
        (P::NotStarted, NodeEvent::CacheHit) => {
            next.cache_status = CacheStatus::Hit;
            settle(&mut next, P::Succeeded, None)
        }
        (P::NotStarted, NodeEvent::Skip) => settle(&mut next, P::Skipped, None),
        (P::NotStarted, NodeEvent::Recover) => settle(&mut next, P::Recovered, None),
        (P::NotStarted, NodeEvent::SpecRecovered { attempt }) if policy.kind == NodeKind::Task => {
            next.phase = P::SpecAccepted;
            next.attempts = attempt + 1;
            vec![E::PersistSpec, E::CreateChildren { attempt }]
        }
        (P::NotStarted, NodeEvent::InputsFailed { error }) => settle(&mut next, P::Failed, Some(error)),
        (P::Queued | P::RetryWaiting, NodeEvent::AttemptStarted) => {
            next.phase = P::Running;
            Vec::new()
        }
        (P::Running, NodeEvent::AttemptSucceeded) if policy.kind == NodeKind::Task => {
            let mut effects = cache_write(&mut next, policy);
            effects.extend(settle(&mut next, P::Succeeded, None));
            effects
        }
        (P::Running, NodeEvent::SpecCompiled) if policy.kind == NodeKind::Task => {
            next.phase = P::SpecAccepted;
            vec![
                E::PersistSpec,
                E::CreateChildren {
                    attempt: state.current_attempt().unwrap_or_default(),
                },
            ]
        }
        (P::Running, NodeEvent::SpecRejected { error }) => settle(&mut next, P::Failed, Some(error)),
        (P::Queued | P::Running | P::RetryWaiting, NodeEvent::AttemptFailed { error, now_ms })
            if policy.kind == NodeKind::Task =>
        {
            match error.kind {
                ErrorKind::User => next.user_failures += 1,
                ErrorKind::System => next.system_failures += 1,
            }
            match retry_backoff(&next, &policy.retries, &error) {
                Some(backoff) => {
                    next.phase = P::RetryWaiting;
                    next.error = Some(error);
                    let attempt = next.attempts;
                    next.attempts += 1;
                    vec![E::EnqueueAttempt {
                        attempt,
                        not_before_ms: Some(now_ms.saturating_add(backoff.as_millis())),
                    }]
                }
                None => {
                    let phase = if matches!(error.code.as_str(), "attempt_timeout" | "queue_timeout") {
                        P::TimedOut
                    } else {
                        P::Failed
                    };
                    settle(&mut next, phase, Some(error))
                }
            }
        }
        (
            P::SpecAccepted,
            NodeEvent::ChildrenCreated {
                counts,
                rule,
                first_failure,
            },
        ) => {
            if counts.total == 0 {
                next.phase = P::Assembling;
                vec![E::AssembleOutputs]
            } else {
                next.phase = P::ChildrenRunning;
                let mut effects = vec![E::StartChildren];
                effects.extend(on_children(&mut next, counts, rule, first_failure));
                effects
            }
        }
        (
            P::ChildrenRunning,
            NodeEvent::ChildrenProgress {
                counts,
                rule,
                first_failure,
            },
        ) => on_children(&mut next, counts, rule, first_failure),
        (P::Failing, NodeEvent::ChildrenProgress { .. }) => Vec::new(),
        (P::Failing, NodeEvent::ChildrenAborted) => {
            let error = next.error.take();
            settle(&mut next, P::Failed, error)
        }
        (P::Assembling, NodeEvent::Assembled) => {
            let mut effects = cache_write(&mut next, policy);
            effects.extend(settle(&mut next, P::Succeeded, None));
            effects
        }
        (P::Assembling, NodeEvent::AssemblyFailed { error }) => settle(&mut next, P::Failed, Some(error)),
        (P::Running, NodeEvent::ChildExecutionFinished { result }) if policy.kind == NodeKind::LaunchPlan => {
            match result {
                Ok(_) => settle(&mut next, P::Succeeded, None),
                Err(error) => settle(&mut next, P::Failed, Some(error)),
            }
        }
        (P::Running, NodeEvent::GateOpened) if policy.kind == NodeKind::Gate => {
            let mut effects = vec![E::DisarmGate];
            effects.extend(settle(&mut next, P::Succeeded, None));
            effects
        }
        (P::Running, NodeEvent::GateRejected { error }) if policy.kind == NodeKind::Gate => {
            let mut effects = vec![E::DisarmGate];
            effects.extend(settle(&mut next, P::Failed, Some(error)));
            effects
        }
        (P::Running, NodeEvent::GateExpired { error }) if policy.kind == NodeKind::Gate => {
            let mut effects = vec![E::DisarmGate];
            effects.extend(settle(&mut next, P::TimedOut, Some(error)));
            effects
        }
        (phase, NodeEvent::Abort) => {
            let mut effects = stop_effects(phase, policy.kind);
            effects.extend(settle(&mut next, P::Aborted, None));
            effects
        }
        (phase, NodeEvent::TimedOut) => {
            let mut effects = stop_effects(phase, policy.kind);
            let error = ExecutionError::user("node_timeout", "the node ran past its timeout");
            effects.extend(settle(&mut next, P::TimedOut, Some(error)));
            effects
        }
        _ => return Err(invalid),
    };
    Ok(NodeDecision { state: next, effects })
}

fn settle(next: &mut NodeState, phase: NodePhase, error: Option<ExecutionError>) -> Vec<NodeEffect> {
    next.phase = phase;
    if phase.is_success() {
        next.error = None;
    } else if error.is_some() {
        next.error = error;
    }
    vec![NodeEffect::Settled(phase)]
}

fn cache_write(next: &mut NodeState, policy: &NodePolicy) -> Vec<NodeEffect> {
    if !policy.cache {
        return Vec::new();
    }
    if next.cache_status != CacheStatus::Overwritten {
        next.cache_status = CacheStatus::Populated;
    }
    vec![NodeEffect::WriteCache]
}

fn on_children(
    next: &mut NodeState,
    counts: ChildCounts,
    rule: ChildRule,
    first_failure: Option<ExecutionError>,
) -> Vec<NodeEffect> {
    match children_outcome(counts, rule) {
        Outcome::Pending => Vec::new(),
        Outcome::Succeeded => {
            next.phase = NodePhase::Assembling;
            vec![NodeEffect::AssembleOutputs]
        }
        Outcome::Failed => {
            next.phase = NodePhase::Failing;
            next.error = Some(children_failed_error(counts, rule, first_failure));
            vec![NodeEffect::AbortChildren]
        }
    }
}

fn stop_effects(phase: NodePhase, kind: NodeKind) -> Vec<NodeEffect> {
    match (phase, kind) {
        (NodePhase::Queued | NodePhase::Running | NodePhase::RetryWaiting, NodeKind::Task) => {
            vec![NodeEffect::AbortAttempt]
        }
        (NodePhase::Running, NodeKind::LaunchPlan) => vec![NodeEffect::AbortChildExecution],
        (NodePhase::Running, NodeKind::Gate) => vec![NodeEffect::DisarmGate],
        (NodePhase::SpecAccepted | NodePhase::ChildrenRunning | NodePhase::Failing | NodePhase::Assembling, _) => {
            vec![NodeEffect::AbortChildren]
        }
        _ => Vec::new(),
    }
}

/// What an abort of a composite (or of the execution) makes of a node below it. The engine aborts a whole subtree in
/// one statement per table (`Tx::abort_descendants`), so the rule depends on the phase alone: the `Abort` row of the
/// table without its effects, which the bulk abort carries out for the subtree at once (its attempts aborted, child
/// executions terminated). No node below reports `Settled`: every composite above it, up to the aborted one, is
/// stopping too. The store's conformance suite checks the store against this rule.
pub fn aborted_below(phase: NodePhase) -> NodePhase {
    if phase.is_terminal() { phase } else { NodePhase::Aborted }
}

/// The delay before the next attempt, or `None` when `error` must not be retried. `state` already counts `error`.
pub fn retry_backoff(state: &NodeState, policy: &RetryPolicy, error: &ExecutionError) -> Option<Duration> {
    if !error.recoverable {
        return None;
    }
    let within_budget = match error.kind {
        ErrorKind::User => state.user_failures <= policy.user_retries,
        ErrorKind::System => state.system_failures <= policy.system_retries,
    };
    if !within_budget {
        return None;
    }
    let retries_so_far = (state.user_failures + state.system_failures).saturating_sub(1);
    let factor = 1i64.checked_shl(retries_so_far.min(32)).unwrap_or(i64::MAX);
    let millis = policy
        .initial_backoff
        .as_millis()
        .saturating_mul(factor)
        .min(policy.max_backoff.as_millis());
    Some(Duration::from_millis(millis))
}
