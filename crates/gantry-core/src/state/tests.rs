//! Every row of the three transition tables, and property tests over random event sequences.

use proptest::prelude::*;

use super::*;
use crate::model::{Duration, ErrorKind, ExecutionError, LiteralMap, RetryPolicy};

fn user_error(recoverable: bool) -> ExecutionError {
    ExecutionError::user("boom", "task raised").recoverable(recoverable)
}

fn system_error() -> ExecutionError {
    ExecutionError::system("lost", "worker vanished")
}

fn retries(user: u32, system: u32) -> RetryPolicy {
    RetryPolicy {
        user_retries: user,
        system_retries: system,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(350),
    }
}

fn node_in(phase: NodePhase) -> NodeState {
    NodeState {
        phase,
        attempts: 1,
        ..NodeState::new()
    }
}

fn policy(kind: NodeKind) -> NodePolicy {
    NodePolicy {
        kind,
        retries: retries(1, 1),
        cache: false,
        overwrite_cache: false,
    }
}

fn counts(total: u64, succeeded: u64, failed: u64) -> ChildCounts {
    ChildCounts {
        total,
        succeeded,
        failed,
        skipped: 0,
    }
}

// ---- attempt table ----

fn running(worker: &str, expires: i64) -> AttemptState {
    AttemptState {
        phase: AttemptPhase::Running,
        worker_id: Some(worker.into()),
        lease_expires_at_ms: Some(expires),
        deadline_ms: None,
    }
}

fn running_until(worker: &str, expires: i64, deadline: i64) -> AttemptState {
    AttemptState {
        deadline_ms: Some(deadline),
        ..running(worker, expires)
    }
}

fn attempt_after(state: &AttemptState, event: AttemptEvent) -> Result<(AttemptPhase, AttemptEffect), TransitionError> {
    attempt::transition(state, event).map(|(s, e)| (s.phase, e))
}

#[test]
fn attempt_table_rows() {
    use AttemptPhase as P;
    let outputs = AttemptResult::Outputs(LiteralMap::new());
    let complete = |worker: &str, now_ms, result| AttemptEvent::Complete {
        worker_id: worker.into(),
        now_ms,
        result,
    };

    let (state, effect) = attempt::transition(
        &AttemptState::queued(),
        AttemptEvent::Claim {
            worker_id: "w1".into(),
            now_ms: 1_000,
            lease_ms: 500,
            timeout_ms: Some(2_000),
        },
    )
    .expect("claim");
    assert_eq!(
        (state.phase, state.lease_expires_at_ms, state.deadline_ms),
        (P::Running, Some(1_500), Some(3_000)),
        "the run deadline counts from the claim"
    );
    assert_eq!(effect, AttemptEffect::Started);

    let heartbeat = AttemptEvent::Heartbeat {
        worker_id: "w1".into(),
        now_ms: 1_400,
        lease_ms: 500,
    };
    let (state, _) = attempt::transition(&running("w1", 1_500), heartbeat).expect("heartbeat");
    assert_eq!(state.lease_expires_at_ms, Some(1_900));

    type Case = (AttemptState, AttemptEvent, Result<(P, AttemptEffect), TransitionError>);
    let cases: Vec<Case> = vec![
        (
            running("w1", 1_500),
            complete("w1", 1_200, outputs.clone()),
            Ok((P::Succeeded, AttemptEffect::Finished(outputs.clone()))),
        ),
        (
            running("w1", 1_500),
            complete("w1", 1_200, AttemptResult::Error(user_error(true))),
            Ok((
                P::Failed,
                AttemptEffect::Finished(AttemptResult::Error(user_error(true))),
            )),
        ),
        (
            running("w1", 1_500),
            complete("w2", 1_200, outputs.clone()),
            Err(TransitionError::NotLeaseHolder {
                holder: "w1".into(),
                caller: "w2".into(),
            }),
        ),
        (
            running("w1", 1_500),
            complete("w1", 1_600, outputs.clone()),
            Err(TransitionError::LeaseExpired {
                expired_at_ms: 1_500,
                now_ms: 1_600,
            }),
        ),
        (
            running("w1", 1_500),
            AttemptEvent::LeaseExpired { now_ms: 1_499 },
            Ok((P::Running, AttemptEffect::None)),
        ),
        (
            running_until("w1", 1_500, 1_300),
            AttemptEvent::DeadlinePassed { now_ms: 1_300 },
            Ok((
                P::TimedOut,
                AttemptEffect::Finished(AttemptResult::Error(
                    ExecutionError::user("attempt_timeout", "the attempt ran past the task's timeout")
                        .recoverable(true),
                )),
            )),
        ),
        (
            running_until("w1", 1_500, 1_300),
            AttemptEvent::DeadlinePassed { now_ms: 1_299 },
            Ok((P::Running, AttemptEffect::None)),
        ),
        (
            running("w1", 1_500),
            AttemptEvent::DeadlinePassed { now_ms: 9_999 },
            Ok((P::Running, AttemptEffect::None)),
        ),
        (
            running_until("w1", 1_500, 1_300),
            complete("w1", 1_300, outputs.clone()),
            Err(TransitionError::DeadlinePassed {
                deadline_ms: 1_300,
                now_ms: 1_300,
            }),
        ),
        (
            running_until("w1", 1_500, 1_300),
            AttemptEvent::Heartbeat {
                worker_id: "w1".into(),
                now_ms: 1_301,
                lease_ms: 500,
            },
            Err(TransitionError::DeadlinePassed {
                deadline_ms: 1_300,
                now_ms: 1_301,
            }),
        ),
        (
            AttemptState::queued_until(Some(800)),
            AttemptEvent::Claim {
                worker_id: "w1".into(),
                now_ms: 800,
                lease_ms: 500,
                timeout_ms: None,
            },
            Err(TransitionError::DeadlinePassed {
                deadline_ms: 800,
                now_ms: 800,
            }),
        ),
        (
            AttemptState::queued_until(Some(800)),
            AttemptEvent::DeadlinePassed { now_ms: 799 },
            Ok((P::Queued, AttemptEffect::None)),
        ),
        (
            AttemptState::queued(),
            AttemptEvent::Abort,
            Ok((P::Aborted, AttemptEffect::Aborted)),
        ),
        (
            running("w1", 1_500),
            AttemptEvent::Abort,
            Ok((P::Aborted, AttemptEffect::Aborted)),
        ),
        (
            AttemptState::queued(),
            AttemptEvent::Heartbeat {
                worker_id: "w1".into(),
                now_ms: 0,
                lease_ms: 1,
            },
            Err(TransitionError::Invalid {
                machine: "attempt",
                phase: "queued",
                event: "heartbeat",
            }),
        ),
    ];
    for (i, (state, event, expected)) in cases.into_iter().enumerate() {
        assert_eq!(attempt_after(&state, event), expected, "case {i}");
    }

    let (expired, effect) =
        attempt::transition(&running("w1", 1_500), AttemptEvent::LeaseExpired { now_ms: 1_500 }).expect("expire");
    assert_eq!(expired.phase, P::Failed);
    let AttemptEffect::Finished(AttemptResult::Error(error)) = effect else {
        panic!("expected an error result, got {effect:?}");
    };
    assert_eq!(
        (error.code.as_str(), error.kind, error.recoverable),
        ("lease_expired", ErrorKind::System, true)
    );

    let (timed_out, effect) = attempt::transition(
        &AttemptState::queued_until(attempt::queue_deadline(500, Some(300))),
        AttemptEvent::DeadlinePassed { now_ms: 800 },
    )
    .expect("queue");
    assert_eq!(timed_out.phase, P::TimedOut);
    assert!(
        matches!(effect, AttemptEffect::Finished(AttemptResult::Error(e)) if e.code == "queue_timeout" && !e.recoverable && e.kind == ErrorKind::System)
    );
}

#[test]
fn second_completion_is_refused_and_changes_nothing() {
    let complete = AttemptEvent::Complete {
        worker_id: "w1".into(),
        now_ms: 10,
        result: AttemptResult::Outputs(LiteralMap::new()),
    };
    let (done, _) = attempt::transition(&running("w1", 100), complete.clone()).expect("first completion");
    assert_eq!(
        attempt::transition(&done, complete),
        Err(TransitionError::AlreadyTerminal {
            phase: "succeeded",
            event: "complete",
        })
    );
    for absorbed in [
        AttemptEvent::Abort,
        AttemptEvent::DeadlinePassed { now_ms: 1_000 },
        AttemptEvent::LeaseExpired { now_ms: 1_000 },
    ] {
        assert_eq!(
            attempt::transition(&done, absorbed),
            Ok((done.clone(), AttemptEffect::None))
        );
    }
}

// ---- node table ----

fn node_after(state: &NodeState, policy: &NodePolicy, event: NodeEvent) -> (NodePhase, Vec<NodeEffect>) {
    let decision = node::transition(state, policy, event).expect("valid transition");
    (decision.state.phase, decision.effects)
}

#[test]
fn node_table_rows() {
    use NodeEffect as E;
    use NodePhase as P;
    let task = policy(NodeKind::Task);
    let composite = policy(NodeKind::Composite);
    let launch_plan = policy(NodeKind::LaunchPlan);
    let gate = policy(NodeKind::Gate);
    let fresh = NodeState::new();
    let all = ChildRule::ALL_FAIL_FAST;
    let enqueue0 = E::EnqueueAttempt {
        attempt: 0,
        not_before_ms: None,
    };

    type Row<'p> = (&'static str, NodeState, &'p NodePolicy, NodeEvent, P, Vec<NodeEffect>);
    let rows: Vec<Row> = vec![
        (
            "start task",
            fresh.clone(),
            &task,
            NodeEvent::Start,
            P::Queued,
            vec![enqueue0],
        ),
        (
            "start composite",
            fresh.clone(),
            &composite,
            NodeEvent::Start,
            P::SpecAccepted,
            vec![E::CreateChildren { attempt: 0 }],
        ),
        (
            "start launch plan",
            fresh.clone(),
            &launch_plan,
            NodeEvent::Start,
            P::Running,
            vec![E::StartChildExecution],
        ),
        (
            "cache hit",
            fresh.clone(),
            &task,
            NodeEvent::CacheHit,
            P::Succeeded,
            vec![E::Settled(P::Succeeded)],
        ),
        (
            "skip",
            fresh.clone(),
            &task,
            NodeEvent::Skip,
            P::Skipped,
            vec![E::Settled(P::Skipped)],
        ),
        (
            "recover",
            fresh.clone(),
            &task,
            NodeEvent::Recover,
            P::Recovered,
            vec![E::Settled(P::Recovered)],
        ),
        (
            "inputs failed",
            fresh.clone(),
            &task,
            NodeEvent::InputsFailed {
                error: user_error(false),
            },
            P::Failed,
            vec![E::Settled(P::Failed)],
        ),
        (
            "attempt started",
            node_in(P::Queued),
            &task,
            NodeEvent::AttemptStarted,
            P::Running,
            vec![],
        ),
        (
            "retry started",
            node_in(P::RetryWaiting),
            &task,
            NodeEvent::AttemptStarted,
            P::Running,
            vec![],
        ),
        (
            "attempt succeeded",
            node_in(P::Running),
            &task,
            NodeEvent::AttemptSucceeded,
            P::Succeeded,
            vec![E::Settled(P::Succeeded)],
        ),
        (
            "spec compiled",
            node_in(P::Running),
            &task,
            NodeEvent::SpecCompiled,
            P::SpecAccepted,
            vec![E::PersistSpec, E::CreateChildren { attempt: 0 }],
        ),
        (
            "spec rejected",
            node_in(P::Running),
            &task,
            NodeEvent::SpecRejected {
                error: user_error(false),
            },
            P::Failed,
            vec![E::Settled(P::Failed)],
        ),
        (
            "attempt failed, retry",
            node_in(P::Running),
            &task,
            NodeEvent::AttemptFailed {
                error: user_error(true),
                now_ms: 1_000,
            },
            P::RetryWaiting,
            vec![E::EnqueueAttempt {
                attempt: 1,
                not_before_ms: Some(1_100),
            }],
        ),
        (
            "attempt failed, final",
            node_in(P::Running),
            &task,
            NodeEvent::AttemptFailed {
                error: user_error(false),
                now_ms: 1_000,
            },
            P::Failed,
            vec![E::Settled(P::Failed)],
        ),
        (
            "queue timeout, final",
            node_in(P::Queued),
            &task,
            NodeEvent::AttemptFailed {
                error: ExecutionError::system("queue_timeout", "x").recoverable(false),
                now_ms: 0,
            },
            P::TimedOut,
            vec![E::Settled(P::TimedOut)],
        ),
        (
            "attempt timeout, retried under the user budget",
            node_in(P::Running),
            &task,
            NodeEvent::AttemptFailed {
                error: ExecutionError::user("attempt_timeout", "x").recoverable(true),
                now_ms: 1_000,
            },
            P::RetryWaiting,
            vec![E::EnqueueAttempt {
                attempt: 1,
                not_before_ms: Some(1_100),
            }],
        ),
        (
            "attempt timeout, user budget spent",
            NodeState {
                user_failures: 1,
                attempts: 2,
                ..node_in(P::Running)
            },
            &task,
            NodeEvent::AttemptFailed {
                error: ExecutionError::user("attempt_timeout", "x").recoverable(true),
                now_ms: 1_000,
            },
            P::TimedOut,
            vec![E::Settled(P::TimedOut)],
        ),
        (
            "children created",
            node_in(P::SpecAccepted),
            &task,
            NodeEvent::ChildrenCreated {
                counts: counts(3, 0, 0),
                rule: all,
                first_failure: None,
            },
            P::ChildrenRunning,
            vec![E::StartChildren],
        ),
        (
            "zero children",
            node_in(P::SpecAccepted),
            &task,
            NodeEvent::ChildrenCreated {
                counts: counts(0, 0, 0),
                rule: all,
                first_failure: None,
            },
            P::Assembling,
            vec![E::AssembleOutputs],
        ),
        (
            "children pending",
            node_in(P::ChildrenRunning),
            &task,
            NodeEvent::ChildrenProgress {
                counts: counts(3, 2, 0),
                rule: all,
                first_failure: None,
            },
            P::ChildrenRunning,
            vec![],
        ),
        (
            "children succeeded",
            node_in(P::ChildrenRunning),
            &task,
            NodeEvent::ChildrenProgress {
                counts: counts(3, 3, 0),
                rule: all,
                first_failure: None,
            },
            P::Assembling,
            vec![E::AssembleOutputs],
        ),
        (
            "child failed",
            node_in(P::ChildrenRunning),
            &task,
            NodeEvent::ChildrenProgress {
                counts: counts(3, 0, 1),
                rule: all,
                first_failure: None,
            },
            P::Failing,
            vec![E::AbortChildren],
        ),
        (
            "progress while failing",
            node_in(P::Failing),
            &task,
            NodeEvent::ChildrenProgress {
                counts: counts(3, 1, 1),
                rule: all,
                first_failure: None,
            },
            P::Failing,
            vec![],
        ),
        (
            "children aborted",
            node_in(P::Failing),
            &task,
            NodeEvent::ChildrenAborted,
            P::Failed,
            vec![E::Settled(P::Failed)],
        ),
        (
            "assembled",
            node_in(P::Assembling),
            &task,
            NodeEvent::Assembled,
            P::Succeeded,
            vec![E::Settled(P::Succeeded)],
        ),
        (
            "assembly failed",
            node_in(P::Assembling),
            &task,
            NodeEvent::AssemblyFailed {
                error: user_error(false),
            },
            P::Failed,
            vec![E::Settled(P::Failed)],
        ),
        (
            "child execution succeeded",
            node_in(P::Running),
            &launch_plan,
            NodeEvent::ChildExecutionFinished {
                result: Ok(LiteralMap::new()),
            },
            P::Succeeded,
            vec![E::Settled(P::Succeeded)],
        ),
        (
            "child execution failed",
            node_in(P::Running),
            &launch_plan,
            NodeEvent::ChildExecutionFinished {
                result: Err(user_error(false)),
            },
            P::Failed,
            vec![E::Settled(P::Failed)],
        ),
        (
            "start gate",
            fresh.clone(),
            &gate,
            NodeEvent::Start,
            P::Running,
            vec![E::ArmGate],
        ),
        (
            "gate opened",
            node_in(P::Running),
            &gate,
            NodeEvent::GateOpened,
            P::Succeeded,
            vec![E::DisarmGate, E::Settled(P::Succeeded)],
        ),
        (
            "gate rejected",
            node_in(P::Running),
            &gate,
            NodeEvent::GateRejected {
                error: user_error(false),
            },
            P::Failed,
            vec![E::DisarmGate, E::Settled(P::Failed)],
        ),
        (
            "gate expired",
            node_in(P::Running),
            &gate,
            NodeEvent::GateExpired {
                error: user_error(false),
            },
            P::TimedOut,
            vec![E::DisarmGate, E::Settled(P::TimedOut)],
        ),
        (
            "abort waiting gate",
            node_in(P::Running),
            &gate,
            NodeEvent::Abort,
            P::Aborted,
            vec![E::DisarmGate, E::Settled(P::Aborted)],
        ),
        (
            "abort running task",
            node_in(P::Running),
            &task,
            NodeEvent::Abort,
            P::Aborted,
            vec![E::AbortAttempt, E::Settled(P::Aborted)],
        ),
        (
            "abort not started",
            fresh.clone(),
            &task,
            NodeEvent::Abort,
            P::Aborted,
            vec![E::Settled(P::Aborted)],
        ),
        (
            "abort children",
            node_in(P::ChildrenRunning),
            &task,
            NodeEvent::Abort,
            P::Aborted,
            vec![E::AbortChildren, E::Settled(P::Aborted)],
        ),
        (
            "abort launch plan",
            node_in(P::Running),
            &launch_plan,
            NodeEvent::Abort,
            P::Aborted,
            vec![E::AbortChildExecution, E::Settled(P::Aborted)],
        ),
        (
            "timeout",
            node_in(P::Queued),
            &task,
            NodeEvent::TimedOut,
            P::TimedOut,
            vec![E::AbortAttempt, E::Settled(P::TimedOut)],
        ),
        (
            "terminal absorbs",
            node_in(P::Succeeded),
            &task,
            NodeEvent::Abort,
            P::Succeeded,
            vec![],
        ),
    ];
    for (name, state, policy, event, phase, effects) in rows {
        assert_eq!(node_after(&state, policy, event), (phase, effects), "row {name:?}");
    }
}

#[test]
fn node_invalid_transitions_are_typed_errors() {
    let task = policy(NodeKind::Task);
    let cases = [
        (NodePhase::NotStarted, NodeEvent::AttemptSucceeded),
        (NodePhase::Queued, NodeEvent::Assembled),
        (NodePhase::Running, NodeEvent::ChildrenAborted),
        (NodePhase::ChildrenRunning, NodeEvent::Start),
    ];
    for (phase, event) in cases {
        let name = event.name();
        assert_eq!(
            node::transition(&node_in(phase), &task, event),
            Err(TransitionError::Invalid {
                machine: "node",
                phase: phase.as_str(),
                event: name,
            })
        );
    }
    // A launch-plan node takes no attempt results; a task node no child execution.
    assert!(
        node::transition(
            &node_in(NodePhase::Running),
            &policy(NodeKind::LaunchPlan),
            NodeEvent::AttemptSucceeded
        )
        .is_err()
    );
    let finished = NodeEvent::ChildExecutionFinished {
        result: Ok(LiteralMap::new()),
    };
    assert!(node::transition(&node_in(NodePhase::Running), &task, finished).is_err());
}

#[test]
fn retry_budgets_are_separate_and_backoff_doubles_up_to_the_cap() {
    let task = NodePolicy::task(retries(1, 2));
    let mut state = node_in(NodePhase::Running);
    let mut delays = Vec::new();
    for error in [system_error(), user_error(true), system_error()] {
        let decision = node::transition(&state, &task, NodeEvent::AttemptFailed { error, now_ms: 0 }).expect("fail");
        assert_eq!(decision.state.phase, NodePhase::RetryWaiting);
        let [
            NodeEffect::EnqueueAttempt {
                not_before_ms: Some(at),
                ..
            },
        ] = decision.effects[..]
        else {
            panic!("expected one enqueue, got {:?}", decision.effects);
        };
        delays.push(at);
        state = node::transition(&decision.state, &task, NodeEvent::AttemptStarted)
            .expect("start")
            .state;
    }
    assert_eq!(delays, vec![100, 200, 350]);
    assert_eq!((state.user_failures, state.system_failures, state.attempts), (1, 2, 4));
    // Both budgets are spent: the next error of either kind is final.
    let decision = node::transition(
        &state,
        &task,
        NodeEvent::AttemptFailed {
            error: user_error(true),
            now_ms: 0,
        },
    )
    .expect("fail");
    assert_eq!(decision.state.phase, NodePhase::Failed);
    assert_eq!(decision.state.error, Some(user_error(true)));
}

/// A composite failed by its children takes the first failed child's error: kind, code, message and the node it
/// concerns (the leaf, at any depth, since a failed composite child's error already names it), with each level's
/// count appended, innermost first; all the way up to the execution, whose error is its first failed node's.
#[test]
fn a_failed_composite_names_its_first_failed_descendant_at_every_depth() {
    let task = policy(NodeKind::Task);
    let composite = policy(NodeKind::Composite);
    let leaf = ExecutionError::system("lease_expired", "the worker stopped heartbeating").at_node("n0/0/dn1/0/arr/0/3");
    let fail = |policy: &NodePolicy, counts: ChildCounts, first_failure: Option<ExecutionError>| {
        let failing = node::transition(
            &node_in(NodePhase::ChildrenRunning),
            policy,
            NodeEvent::ChildrenProgress {
                counts,
                rule: ChildRule::ALL_FAIL_FAST,
                first_failure,
            },
        )
        .expect("children failed");
        assert_eq!(failing.state.phase, NodePhase::Failing);
        let failed = node::transition(&failing.state, policy, NodeEvent::ChildrenAborted).expect("aborted");
        assert_eq!(failed.state.phase, NodePhase::Failed);
        failed.state.error.expect("a failed composite has an error")
    };
    let array = fail(&composite, counts(5, 3, 1), Some(leaf.clone()));
    let inner = fail(&task, counts(2, 1, 1), Some(array));
    let outer = fail(&task, counts(3, 0, 1), Some(inner));
    assert_eq!(
        (
            outer.kind,
            outer.recoverable,
            outer.code.as_str(),
            outer.node_id.as_str()
        ),
        (ErrorKind::System, false, "lease_expired", "n0/0/dn1/0/arr/0/3"),
        "the leaf's kind, code and id, never retried at the composite"
    );
    assert_eq!(
        outer.message,
        "the worker stopped heartbeating (1 of 5 children failed or were skipped; 3 succeeded, 5 required) \
         (1 of 2 children failed or were skipped; 1 succeeded, 2 required) \
         (1 of 3 children failed or were skipped; 0 succeeded, 3 required)"
    );
    let execution = execution::transition(
        &ExecutionState {
            phase: ExecutionPhase::Running,
            error: None,
        },
        ExecutionEvent::NodesProgress {
            counts: counts(1, 0, 1),
            rule: ChildRule::ALL_FAIL_FAST,
            first_error: Some(outer.clone()),
        },
    )
    .expect("the execution fails");
    assert_eq!(execution.state.error, Some(outer));
}

/// A failure thousands of levels deep: the counts stop growing the message at its bound, the leaf's id, code and
/// message stay.
#[test]
fn a_failure_deep_down_keeps_its_message_bounded() {
    let leaf = ExecutionError::user("boom", "the leaf's own words").at_node("deep");
    let mut error = leaf.clone();
    for _ in 0..10_000 {
        error = children_failed_error(counts(2, 1, 1), ChildRule::ALL_FAIL_FAST, Some(error));
    }
    assert!(error.message.len() <= COUNTED_MESSAGE_BYTES, "{}", error.message.len());
    assert!(
        error
            .message
            .starts_with("the leaf's own words (1 of 2 children failed")
    );
    assert_eq!((error.code, error.node_id), (leaf.code, leaf.node_id));
}

/// Only skipped children known (no failed child's error): the count alone, under `children_failed`.
#[test]
fn a_composite_failed_by_skipped_children_alone_says_how_many() {
    let error = children_failed_error(
        ChildCounts {
            skipped: 3,
            ..counts(4, 1, 0)
        },
        ChildRule::ALL_FAIL_FAST,
        None,
    );
    assert_eq!(
        (error.code.as_str(), error.node_id.as_str(), error.message.as_str()),
        (
            "children_failed",
            "",
            "3 of 4 children failed or were skipped; 1 succeeded, 4 required"
        )
    );
}

#[test]
fn min_successes_lets_a_dynamic_parent_succeed_with_failed_children() {
    let task = policy(NodeKind::Task);
    let rule = ChildRule {
        min_successes: Some(2),
        fail_fast: true,
    };
    let progress = |s, f| NodeEvent::ChildrenProgress {
        counts: counts(3, s, f),
        rule,
        first_failure: None,
    };
    assert_eq!(
        node_after(&node_in(NodePhase::ChildrenRunning), &task, progress(1, 1)).0,
        NodePhase::ChildrenRunning
    );
    assert_eq!(
        node_after(&node_in(NodePhase::ChildrenRunning), &task, progress(2, 1)).0,
        NodePhase::Assembling
    );
    assert_eq!(
        node_after(&node_in(NodePhase::ChildrenRunning), &task, progress(1, 2)).0,
        NodePhase::Failing
    );
}

#[test]
fn recovered_spec_keeps_the_attempt_of_the_earlier_run() {
    let decision = node::transition(
        &NodeState::new(),
        &policy(NodeKind::Task),
        NodeEvent::SpecRecovered { attempt: 2 },
    )
    .expect("recover spec");
    assert_eq!(decision.state.phase, NodePhase::SpecAccepted);
    assert_eq!(
        decision.state.current_attempt(),
        Some(2),
        "children are scoped under attempt 2, as before"
    );
    assert_eq!(
        decision.effects,
        vec![NodeEffect::PersistSpec, NodeEffect::CreateChildren { attempt: 2 }]
    );
    let refused = node::transition(
        &NodeState::new(),
        &policy(NodeKind::Composite),
        NodeEvent::SpecRecovered { attempt: 0 },
    );
    assert!(refused.is_err(), "only task nodes have specs");
}

#[test]
fn overwriting_task_records_overwritten() {
    let overwriting = NodePolicy {
        cache: true,
        overwrite_cache: true,
        ..policy(NodeKind::Task)
    };
    let queued = node::transition(&NodeState::new(), &overwriting, NodeEvent::Start)
        .expect("start")
        .state;
    assert_eq!(queued.cache_status, CacheStatus::Overwritten);
    let running = NodeState {
        phase: NodePhase::Running,
        ..queued
    };
    let done = node::transition(&running, &overwriting, NodeEvent::AttemptSucceeded).expect("done");
    assert_eq!(
        done.state.cache_status,
        CacheStatus::Overwritten,
        "not reported as a plain populate"
    );
    assert_eq!(
        done.effects,
        vec![NodeEffect::WriteCache, NodeEffect::Settled(NodePhase::Succeeded)]
    );
}

#[test]
fn cached_task_records_populated() {
    let cached = NodePolicy {
        cache: true,
        ..policy(NodeKind::Task)
    };
    let queued = node::transition(&NodeState::new(), &cached, NodeEvent::Start)
        .expect("start")
        .state;
    assert_eq!(queued.cache_status, CacheStatus::Miss);
    let running = NodeState {
        phase: NodePhase::Running,
        ..queued
    };
    let done = node::transition(&running, &cached, NodeEvent::AttemptSucceeded).expect("done");
    assert_eq!(done.state.cache_status, CacheStatus::Populated);
    assert_eq!(
        done.effects,
        vec![NodeEffect::WriteCache, NodeEffect::Settled(NodePhase::Succeeded)]
    );
}

// ---- execution table ----

#[test]
fn execution_table_rows() {
    use ExecutionEffect as E;
    use ExecutionPhase as P;
    let at = |phase| ExecutionState { phase, error: None };
    let progress = |total, succeeded, failed| ExecutionEvent::NodesProgress {
        counts: counts(total, succeeded, failed),
        rule: ChildRule::ALL_FAIL_FAST,
        first_error: None,
    };
    let terminate = || ExecutionEvent::Terminate {
        reason: "operator".into(),
    };
    let rows: Vec<(P, ExecutionEvent, P, Vec<ExecutionEffect>)> = vec![
        (P::Queued, ExecutionEvent::Start, P::Running, vec![E::StartNodes]),
        (P::Running, progress(2, 1, 0), P::Running, vec![]),
        (P::Running, progress(2, 2, 0), P::Succeeding, vec![E::AssembleOutputs]),
        (P::Running, progress(2, 0, 1), P::Failing, vec![E::AbortNodes]),
        (P::Failing, progress(2, 1, 1), P::Failing, vec![]),
        (
            P::Failing,
            ExecutionEvent::NodesDrained,
            P::Failed,
            vec![E::Finished(P::Failed)],
        ),
        (
            P::Succeeding,
            ExecutionEvent::Assembled,
            P::Succeeded,
            vec![E::Finished(P::Succeeded)],
        ),
        (
            P::Succeeding,
            ExecutionEvent::AssemblyFailed {
                error: user_error(false),
            },
            P::Failed,
            vec![E::Finished(P::Failed)],
        ),
        (P::Queued, terminate(), P::Aborting, vec![E::AbortNodes]),
        (P::Running, terminate(), P::Aborting, vec![E::AbortNodes]),
        (P::Succeeding, terminate(), P::Aborting, vec![E::AbortNodes]),
        (P::Failing, terminate(), P::Aborting, vec![E::AbortNodes]),
        (
            P::Aborting,
            ExecutionEvent::NodesDrained,
            P::Aborted,
            vec![E::Finished(P::Aborted)],
        ),
        (P::Aborting, terminate(), P::Aborting, vec![]),
        (P::Aborting, progress(2, 1, 0), P::Aborting, vec![]),
        (
            P::Running,
            ExecutionEvent::TimedOut,
            P::TimedOut,
            vec![E::AbortNodes, E::Finished(P::TimedOut)],
        ),
        (P::Succeeded, terminate(), P::Succeeded, vec![]),
    ];
    for (from, event, to, effects) in rows {
        let name = event.name();
        let decision = execution::transition(&at(from), event).expect("valid");
        assert_eq!(
            (decision.state.phase, decision.effects),
            (to, effects),
            "{from} + {name}"
        );
    }
    assert_eq!(
        execution::transition(&at(P::Queued), ExecutionEvent::Assembled),
        Err(TransitionError::Invalid {
            machine: "execution",
            phase: "queued",
            event: "assembled",
        })
    );
}

#[test]
fn fail_after_executable_nodes_waits_for_every_node() {
    let rule = ChildRule {
        min_successes: None,
        fail_fast: false,
    };
    let state = ExecutionState {
        phase: ExecutionPhase::Running,
        error: None,
    };
    let progress = |succeeded, failed| ExecutionEvent::NodesProgress {
        counts: counts(3, succeeded, failed),
        rule,
        first_error: Some(user_error(false)),
    };
    assert_eq!(
        execution::transition(&state, progress(1, 1)).expect("ok").state.phase,
        ExecutionPhase::Running
    );
    let failing = execution::transition(&state, progress(2, 1)).expect("ok").state;
    assert_eq!(failing.phase, ExecutionPhase::Failing);
    assert_eq!(failing.error, Some(user_error(false)));
}

// ---- properties ----

fn any_node_event() -> impl Strategy<Value = NodeEvent> {
    let error = prop_oneof![Just(user_error(true)), Just(user_error(false)), Just(system_error())];
    let child_counts = (0u64..5, 0u64..5, 0u64..5).prop_map(|(t, s, f)| counts(t + s + f, s, f));
    let rule = (prop::option::of(0u64..6), any::<bool>()).prop_map(|(min_successes, fail_fast)| ChildRule {
        min_successes,
        fail_fast,
    });
    prop_oneof![
        Just(NodeEvent::Start),
        Just(NodeEvent::CacheHit),
        Just(NodeEvent::Skip),
        Just(NodeEvent::Recover),
        (0u32..3).prop_map(|attempt| NodeEvent::SpecRecovered { attempt }),
        error.clone().prop_map(|error| NodeEvent::InputsFailed { error }),
        Just(NodeEvent::AttemptStarted),
        Just(NodeEvent::AttemptSucceeded),
        Just(NodeEvent::SpecCompiled),
        error.clone().prop_map(|error| NodeEvent::SpecRejected { error }),
        (error.clone(), 0i64..10_000).prop_map(|(error, now_ms)| NodeEvent::AttemptFailed { error, now_ms }),
        (child_counts.clone(), rule.clone()).prop_map(|(counts, rule)| NodeEvent::ChildrenCreated {
            counts,
            rule,
            first_failure: None,
        }),
        (child_counts, rule).prop_map(|(counts, rule)| NodeEvent::ChildrenProgress {
            counts,
            rule,
            first_failure: None,
        }),
        Just(NodeEvent::ChildrenAborted),
        Just(NodeEvent::Assembled),
        error.clone().prop_map(|error| NodeEvent::AssemblyFailed { error }),
        error
            .clone()
            .prop_map(|error| NodeEvent::ChildExecutionFinished { result: Err(error) }),
        Just(NodeEvent::GateOpened),
        error.clone().prop_map(|error| NodeEvent::GateRejected { error }),
        error.prop_map(|error| NodeEvent::GateExpired { error }),
        Just(NodeEvent::Abort),
        Just(NodeEvent::TimedOut),
    ]
}

proptest! {
    #[test]
    fn node_terminal_phases_never_change(
        kind in prop_oneof![Just(NodeKind::Task), Just(NodeKind::Composite), Just(NodeKind::LaunchPlan), Just(NodeKind::Gate)],
        events in prop::collection::vec(any_node_event(), 0..40),
    ) {
        let policy = NodePolicy { kind, retries: retries(2, 2), cache: true, overwrite_cache: false };
        let mut state = NodeState::new();
        let mut settled = 0;
        for event in events {
            let Ok(decision) = node::transition(&state, &policy, event) else { continue };
            settled += decision.effects.iter().filter(|e| matches!(e, NodeEffect::Settled(_))).count();
            if state.phase.is_terminal() {
                prop_assert_eq!(&decision.state, &state);
                prop_assert!(decision.effects.is_empty());
            }
            if let Some(NodeEffect::Settled(phase)) = decision.effects.last() {
                prop_assert_eq!(*phase, decision.state.phase);
                prop_assert!(phase.is_terminal());
            }
            // Every attempt number enqueued is the next one.
            for effect in &decision.effects {
                if let NodeEffect::EnqueueAttempt { attempt, .. } = effect {
                    prop_assert_eq!(*attempt + 1, decision.state.attempts);
                }
            }
            prop_assert!(decision.state.user_failures <= 3 && decision.state.system_failures <= 3);
            state = decision.state;
        }
        // A node reports that it settled at most once, and does so exactly when it is terminal.
        prop_assert_eq!(settled, usize::from(state.phase.is_terminal()));
    }

    #[test]
    fn execution_terminal_phases_never_change(events in prop::collection::vec(
        prop_oneof![
            Just(ExecutionEvent::Start),
            (0u64..4, 0u64..4, 0u64..4).prop_map(|(t, s, f)| ExecutionEvent::NodesProgress {
                counts: counts(t + s + f, s, f), rule: ChildRule::ALL_FAIL_FAST, first_error: None,
            }),
            Just(ExecutionEvent::NodesDrained),
            Just(ExecutionEvent::Assembled),
            Just(ExecutionEvent::AssemblyFailed { error: user_error(false) }),
            Just(ExecutionEvent::Terminate { reason: "r".into() }),
            Just(ExecutionEvent::TimedOut),
        ], 0..30)) {
        let mut state = ExecutionState::queued();
        let mut finished = 0;
        for event in events {
            let Ok(decision) = execution::transition(&state, event) else { continue };
            if state.phase.is_terminal() {
                prop_assert_eq!(&decision.state, &state);
            }
            finished += decision.effects.iter().filter(|e| matches!(e, ExecutionEffect::Finished(_))).count();
            // Every failed execution carries an error.
            if matches!(decision.state.phase, ExecutionPhase::Failed | ExecutionPhase::Aborted | ExecutionPhase::TimedOut) {
                prop_assert!(decision.state.error.is_some());
            }
            state = decision.state;
        }
        prop_assert_eq!(finished, usize::from(state.phase.is_terminal()));
    }

    #[test]
    fn attempt_terminal_phases_never_change(events in prop::collection::vec(
        prop_oneof![
            (0i64..100, prop::option::of(0i64..50)).prop_map(|(now_ms, timeout_ms)| AttemptEvent::Claim { worker_id: "w".into(), now_ms, lease_ms: 10, timeout_ms }),
            (0i64..100).prop_map(|now_ms| AttemptEvent::Heartbeat { worker_id: "w".into(), now_ms, lease_ms: 10 }),
            (0i64..100).prop_map(|now_ms| AttemptEvent::Complete { worker_id: "w".into(), now_ms, result: AttemptResult::Outputs(LiteralMap::new()) }),
            (0i64..100).prop_map(|now_ms| AttemptEvent::LeaseExpired { now_ms }),
            (0i64..100).prop_map(|now_ms| AttemptEvent::DeadlinePassed { now_ms }),
            Just(AttemptEvent::Abort),
        ], 0..30)) {
        let mut state = AttemptState::queued_until(Some(60));
        let mut finished = 0;
        for event in events {
            let Ok((next, effect)) = attempt::transition(&state, event) else { continue };
            if state.phase.is_terminal() {
                prop_assert_eq!(&next, &state);
            }
            finished += usize::from(matches!(effect, AttemptEffect::Finished(_) | AttemptEffect::Aborted));
            state = next;
        }
        prop_assert_eq!(finished, usize::from(state.phase.is_terminal()));
    }
}

/// The engine looks a failed child's error up only when `progress_fails` says so; it must say so exactly when the
/// progress event moves the composite (or execution) to `Failing`, for every phase and count.
#[test]
fn progress_fails_exactly_when_the_progress_event_fails_the_composite() {
    let rules = [
        ChildRule::ALL_FAIL_FAST,
        ChildRule {
            min_successes: Some(2),
            fail_fast: false,
        },
    ];
    let mut checked = 0;
    for rule in rules {
        for (total, succeeded, failed) in [
            (4, 0, 0),
            (4, 1, 1),
            (4, 3, 1),
            (4, 1, 3),
            (4, 2, 2),
            (4, 4, 0),
            (1, 0, 1),
        ] {
            let counts = counts(total, succeeded, failed);
            for (phase, kind) in NodePhase::ALL
                .into_iter()
                .flat_map(|phase| [(phase, NodeKind::Task), (phase, NodeKind::Composite)])
            {
                // A spec's children report their first progress as they are created.
                let event = match phase {
                    NodePhase::SpecAccepted => NodeEvent::ChildrenCreated {
                        counts,
                        rule,
                        first_failure: None,
                    },
                    _ => NodeEvent::ChildrenProgress {
                        counts,
                        rule,
                        first_failure: None,
                    },
                };
                let fails = matches!(
                    node::transition(&node_in(phase), &policy(kind), event),
                    Ok(decision) if decision.state.phase == NodePhase::Failing && phase != NodePhase::Failing
                );
                assert_eq!(
                    node::progress_fails(phase, counts, rule),
                    fails,
                    "{phase} {kind:?} {counts:?} {rule:?}"
                );
                checked += 1;
            }
            for phase in ExecutionPhase::ALL {
                let state = ExecutionState { phase, error: None };
                let event = ExecutionEvent::NodesProgress {
                    counts,
                    rule,
                    first_error: None,
                };
                let fails = matches!(
                    execution::transition(&state, event),
                    Ok(decision) if decision.state.phase == ExecutionPhase::Failing && phase != ExecutionPhase::Failing
                );
                assert_eq!(
                    execution::progress_fails(phase, counts, rule),
                    fails,
                    "{phase} {counts:?} {rule:?}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 7 * (2 * 14 + 9));
}
