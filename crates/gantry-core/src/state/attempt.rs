//! The attempt state machine: one run of a task node on a worker, under a lease and, when the task has timeouts,
//! before a deadline.
//!
//! | from     | event                            | to        | notes                                              |
//! |----------|----------------------------------|-----------|----------------------------------------------------|
//! | Queued   | Claim (before the queue deadline)| Running   | lease starts; the run deadline is now + timeout    |
//! | Queued   | Claim (past the queue deadline)  | error     | `DeadlinePassed`: the sweep is about to time it out|
//! | Running  | Heartbeat (holder, in time)      | Running   | lease extended                                     |
//! | Running  | Complete (holder, in time)       | Succeeded | outputs or a dynamic spec                          |
//! | Running  | Complete error (holder, in time) | Failed    |                                                    |
//! | Succeeded| ResultRefused                    | Failed    | the server refused the outputs or spec: user error |
//! | Running  | Heartbeat, Complete (late)       | error     | `LeaseExpired` or `DeadlinePassed`: refused        |
//! | Running  | LeaseExpired (past expiry)       | Failed    | system error `lease_expired`, recoverable          |
//! | Running  | LeaseExpired (not yet expired)   | Running   | a sweep raced a heartbeat: nothing happens         |
//! | Running  | DeadlinePassed (past deadline)   | TimedOut  | user error `attempt_timeout`, recoverable          |
//! | Queued   | DeadlinePassed (past deadline)   | TimedOut  | system error `queue_timeout`, not recoverable      |
//! | Queued, Running | DeadlinePassed (not yet, or none) | unchanged | a sweep raced a claim or a clock      |
//! | Queued, Running | Abort                     | Aborted   | the worker learns it from its next heartbeat       |
//! | terminal | Abort, LeaseExpired, DeadlinePassed | unchanged | idempotent                                     |
//! | other    | ResultRefused                    | error     | only a result just recorded can be refused         |
//! | terminal | Complete, Heartbeat              | error     | `AlreadyTerminal`: a second completion is refused  |
//!
//! An attempt timeout is the task's own doing (its code ran too long while its worker kept heartbeating), so it is a
//! user error and spends the user retry budget. A queue timeout means no worker of the queue claimed the attempt in
//! time; queueing it again would wait on the same absent workers, so it is not retried.
//!
//! A completion is recorded before its result is judged: outputs are checked against the task's interface, a spec is
//! compiled. When the server refuses the result, the attempt the worker reported as succeeded fails with the user
//! error that fails its node (`ResultRefused`), so the attempt, its record and the completion's answer all say what
//! the node says.
//!
//! Time is passed in as milliseconds since the Unix epoch: the core has no clock.

use super::error::TransitionError;
use super::phase::AttemptPhase;
use crate::model::{DynamicJobSpec, ExecutionError, LiteralMap};

/// What a worker reported at the end of an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    Outputs(LiteralMap),
    /// A dynamic task's generator step returned a spec.
    DynamicSpec(std::sync::Arc<DynamicJobSpec>),
    Error(ExecutionError),
}

impl AttemptResult {
    fn phase(&self) -> AttemptPhase {
        match self {
            AttemptResult::Outputs(_) | AttemptResult::DynamicSpec(_) => AttemptPhase::Succeeded,
            AttemptResult::Error(_) => AttemptPhase::Failed,
        }
    }
}

/// An attempt's state as the engine stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptState {
    pub phase: AttemptPhase,
    /// The worker holding the lease, once claimed.
    pub worker_id: Option<String>,
    pub lease_expires_at_ms: Option<i64>,
    /// Queued: when a worker must have claimed it by (the task's queue timeout). Running: when it must have finished
    /// by (the attempt timeout, from the claim). `None`: no limit.
    pub deadline_ms: Option<i64>,
}

impl AttemptState {
    pub fn queued() -> Self {
        AttemptState::queued_until(None)
    }

    /// A queued attempt that must be claimed before `deadline_ms`.
    pub fn queued_until(deadline_ms: Option<i64>) -> Self {
        AttemptState {
            phase: AttemptPhase::Queued,
            worker_id: None,
            lease_expires_at_ms: None,
            deadline_ms,
        }
    }
}

/// When a queued attempt must be claimed by: `queue_timeout_ms` after it becomes claimable (`not_before_ms`).
pub fn queue_deadline(not_before_ms: i64, queue_timeout_ms: Option<i64>) -> Option<i64> {
    queue_timeout_ms.map(|timeout| not_before_ms.saturating_add(timeout))
}

/// Whether a worker may claim the attempt at `now_ms`: it is queued, due (`not_before_ms <= now_ms`: a retry's
/// backoff is over, and it is not parked under a `max_parallelism`), and the Claim row of the table accepts it (its
/// queue deadline has not passed).
///
/// The store carries the claim out in one statement for many attempts at once: it must pick exactly the attempts
/// this accepts, and write what [`transition`] returns for `Claim`. The engine checks every claimed row against the
/// transition, and the engine's tests iterate this rule over both stores' claims.
pub fn claimable(state: &AttemptState, not_before_ms: i64, now_ms: i64) -> bool {
    state.phase == AttemptPhase::Queued && not_before_ms <= now_ms && state.check_deadline(now_ms).is_ok()
}

/// What can happen to an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptEvent {
    Claim {
        worker_id: String,
        now_ms: i64,
        lease_ms: i64,
        /// The attempt timeout (the node's override, else the task's); `None`: no limit.
        timeout_ms: Option<i64>,
    },
    Heartbeat {
        worker_id: String,
        now_ms: i64,
        lease_ms: i64,
    },
    Complete {
        worker_id: String,
        now_ms: i64,
        result: AttemptResult,
    },
    /// The engine's sweep found the lease past its expiry.
    LeaseExpired {
        now_ms: i64,
    },
    /// The engine's sweep found the attempt's deadline passed: queued too long, or running too long.
    DeadlinePassed {
        now_ms: i64,
    },
    Abort,
    /// The server refused a result just recorded as a success: outputs that do not match the task's interface, or a
    /// dynamic spec that does not compile. `error` is the user error that fails the node too.
    ResultRefused {
        error: ExecutionError,
    },
}

impl AttemptEvent {
    pub fn name(&self) -> &'static str {
        match self {
            AttemptEvent::Claim { .. } => "claim",
            AttemptEvent::Heartbeat { .. } => "heartbeat",
            AttemptEvent::Complete { .. } => "complete",
            AttemptEvent::LeaseExpired { .. } => "lease_expired",
            AttemptEvent::DeadlinePassed { .. } => "deadline_passed",
            AttemptEvent::Abort => "abort",
            AttemptEvent::ResultRefused { .. } => "result_refused",
        }
    }
}

/// What the node machine must hear about, as the attempt's effect.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptEffect {
    /// Nothing for the node: the lease was taken or extended, or a repeated event was absorbed.
    None,
    /// The attempt started running on a worker.
    Started,
    /// The attempt finished; the node machine takes the result.
    Finished(AttemptResult),
    /// The attempt was aborted; a worker holding it should be told to cancel.
    Aborted,
}

/// Applies `event` to `state`. Returns the new state and what the node must learn.
pub fn transition(state: &AttemptState, event: AttemptEvent) -> Result<(AttemptState, AttemptEffect), TransitionError> {
    use AttemptPhase as P;
    let invalid = |event: &AttemptEvent| TransitionError::Invalid {
        machine: "attempt",
        phase: state.phase.as_str(),
        event: event.name(),
    };
    let unchanged = || Ok((state.clone(), AttemptEffect::None));
    let with_phase = |phase: AttemptPhase| AttemptState { phase, ..state.clone() };

    match (state.phase, event) {
        (
            P::Queued,
            AttemptEvent::Claim {
                worker_id,
                now_ms,
                lease_ms,
                timeout_ms,
            },
        ) => {
            state.check_deadline(now_ms)?;
            Ok((
                AttemptState {
                    phase: P::Running,
                    worker_id: Some(worker_id),
                    lease_expires_at_ms: Some(now_ms.saturating_add(lease_ms)),
                    deadline_ms: timeout_ms.map(|timeout| now_ms.saturating_add(timeout)),
                },
                AttemptEffect::Started,
            ))
        }
        (
            P::Running,
            AttemptEvent::Heartbeat {
                worker_id,
                now_ms,
                lease_ms,
            },
        ) => {
            state.check_lease(&worker_id, now_ms)?;
            let next = AttemptState {
                lease_expires_at_ms: Some(now_ms.saturating_add(lease_ms)),
                ..state.clone()
            };
            Ok((next, AttemptEffect::None))
        }
        (
            P::Running,
            AttemptEvent::Complete {
                worker_id,
                now_ms,
                result,
            },
        ) => {
            state.check_lease(&worker_id, now_ms)?;
            Ok((with_phase(result.phase()), AttemptEffect::Finished(result)))
        }
        (P::Running, AttemptEvent::LeaseExpired { now_ms }) => {
            if state.lease_expires_at_ms.is_some_and(|expiry| now_ms < expiry) {
                return unchanged();
            }
            let error = ExecutionError::system("lease_expired", "the worker stopped heartbeating; its lease expired");
            Ok((
                with_phase(P::Failed),
                AttemptEffect::Finished(AttemptResult::Error(error)),
            ))
        }
        (phase @ (P::Queued | P::Running), AttemptEvent::DeadlinePassed { now_ms }) => {
            if state.check_deadline(now_ms).is_ok() {
                return unchanged();
            }
            let error = match phase {
                P::Queued => {
                    ExecutionError::system("queue_timeout", "no worker claimed the attempt in the allowed time")
                        .recoverable(false)
                }
                _ => {
                    ExecutionError::user("attempt_timeout", "the attempt ran past the task's timeout").recoverable(true)
                }
            };
            Ok((
                with_phase(P::TimedOut),
                AttemptEffect::Finished(AttemptResult::Error(error)),
            ))
        }
        (P::Succeeded, AttemptEvent::ResultRefused { error }) => Ok((
            with_phase(P::Failed),
            AttemptEffect::Finished(AttemptResult::Error(error)),
        )),
        (P::Queued | P::Running, AttemptEvent::Abort) => Ok((with_phase(P::Aborted), AttemptEffect::Aborted)),
        (phase, AttemptEvent::Abort | AttemptEvent::LeaseExpired { .. } | AttemptEvent::DeadlinePassed { .. })
            if phase.is_terminal() =>
        {
            unchanged()
        }
        (phase, event @ (AttemptEvent::Complete { .. } | AttemptEvent::Heartbeat { .. })) if phase.is_terminal() => {
            Err(TransitionError::AlreadyTerminal {
                phase: phase.as_str(),
                event: event.name(),
            })
        }
        (_, event) => Err(invalid(&event)),
    }
}

impl AttemptState {
    fn check_lease(&self, worker_id: &str, now_ms: i64) -> Result<(), TransitionError> {
        let holder = self.worker_id.as_deref().unwrap_or_default();
        if holder != worker_id {
            return Err(TransitionError::NotLeaseHolder {
                holder: holder.to_owned(),
                caller: worker_id.to_owned(),
            });
        }
        match self.lease_expires_at_ms {
            Some(expired_at_ms) if now_ms >= expired_at_ms => {
                Err(TransitionError::LeaseExpired { expired_at_ms, now_ms })
            }
            _ => self.check_deadline(now_ms),
        }
    }

    fn check_deadline(&self, now_ms: i64) -> Result<(), TransitionError> {
        match self.deadline_ms {
            Some(deadline_ms) if now_ms >= deadline_ms => Err(TransitionError::DeadlinePassed { deadline_ms, now_ms }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> AttemptState {
        AttemptState {
            phase: AttemptPhase::Running,
            worker_id: Some("w1".into()),
            lease_expires_at_ms: Some(1_500),
            deadline_ms: None,
        }
    }
    #[test]
    fn a_refused_result_fails_the_attempt_just_recorded_and_nothing_else() {
        let refusal = ExecutionError::user("invalid_outputs", "output \"x\" is missing");
        let succeeded = AttemptState {
            phase: AttemptPhase::Succeeded,
            ..running()
        };
        let refused = AttemptEvent::ResultRefused { error: refusal.clone() };
        assert_eq!(
            transition(&succeeded, refused.clone()).map(|(s, e)| (s.phase, e)),
            Ok((
                AttemptPhase::Failed,
                AttemptEffect::Finished(AttemptResult::Error(refusal))
            ))
        );
        for phase in [
            AttemptPhase::Queued,
            AttemptPhase::Running,
            AttemptPhase::Failed,
            AttemptPhase::Aborted,
        ] {
            let state = AttemptState { phase, ..running() };
            assert!(
                matches!(
                    transition(&state, refused.clone()),
                    Err(TransitionError::Invalid { .. })
                ),
                "{phase:?}"
            );
        }
    }
}
