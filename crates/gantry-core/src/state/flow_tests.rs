//! Every row of the flow rules' tables (`flow.rs`), iterated over every phase they name.

use super::flow::{
    Counted, Parent, Then, Waiting, child_settled, created_child, elements_started, hydrated, release,
    value_unavailable,
};
use super::node::{self, NodeEvent, NodePolicy, NodeState};
use super::{ChildCounts, NodeKind, NodePhase};

fn started(phase: NodePhase) -> bool {
    !phase.is_terminal() && phase != NodePhase::NotStarted
}

/// What the release table says for one pair, written out row by row: `Err(())` for a refusal.
fn expected_release(upstream: NodePhase, downstream: Waiting) -> Result<(u32, Then), ()> {
    let pending = downstream.upstream_pending;
    match (upstream, downstream.phase) {
        (u, _) if !u.is_terminal() => Err(()),
        (_, d) if started(d) => Err(()),
        (u, NodePhase::NotStarted) if !u.is_success() => Ok((pending, Then::Skip)),
        (u, _) if !u.is_success() => Ok((pending, Then::Nothing)),
        (_, _) if pending == 0 => Err(()),
        (_, NodePhase::NotStarted) if pending == 1 => Ok((0, Then::Start)),
        (_, _) => Ok((pending - 1, Then::Nothing)),
    }
}

#[test]
fn every_pair_of_phases_releases_or_skips_as_the_table_says() {
    let mut rows = 0;
    for upstream in NodePhase::ALL {
        for phase in NodePhase::ALL {
            for upstream_pending in 0..3 {
                let downstream = Waiting {
                    phase,
                    upstream_pending,
                };
                let got = release(upstream, downstream).map(|(after, then)| {
                    assert_eq!(
                        after.phase, phase,
                        "the rule does not change the downstream node's phase"
                    );
                    (after.upstream_pending, then)
                });
                let want = expected_release(upstream, downstream);
                assert_eq!(
                    got.map_err(|_| ()),
                    want,
                    "{upstream:?} settled, downstream {downstream:?}"
                );
                rows += 1;
            }
        }
    }
    assert_eq!(rows, 14 * 14 * 3);
}

#[test]
fn a_refused_release_names_the_downstream_phase() {
    let error = release(
        NodePhase::Succeeded,
        Waiting {
            phase: NodePhase::NotStarted,
            upstream_pending: 0,
        },
    )
    .expect_err("nothing pending");
    assert_eq!(
        error.to_string(),
        "downstream node in phase not_started cannot take event a release with no upstream node pending"
    );
}

fn parent(total: u64, settled: u64, running: bool, parallelism: Option<u32>) -> Parent {
    Parent {
        counts: ChildCounts {
            total,
            succeeded: settled,
            ..ChildCounts::default()
        },
        running,
        parallelism,
    }
}

#[test]
fn a_settled_child_is_counted_by_its_phase() {
    // (phase, succeeded, failed, skipped) after one child of five settled in it.
    let table = [
        (NodePhase::Succeeded, 1, 0, 0),
        (NodePhase::Recovered, 1, 0, 0),
        (NodePhase::Failed, 0, 1, 0),
        (NodePhase::TimedOut, 0, 1, 0),
        (NodePhase::Aborted, 0, 1, 0),
        (NodePhase::Skipped, 0, 0, 1),
    ];
    for (phase, succeeded, failed, skipped) in table {
        let Counted { counts, start_element } = child_settled(parent(5, 0, true, None), phase).expect("counted");
        let want = ChildCounts {
            total: 5,
            succeeded,
            failed,
            skipped,
        };
        assert_eq!((counts, start_element), (want, None), "{phase:?}");
    }
    for phase in NodePhase::ALL.into_iter().filter(|p| !p.is_terminal()) {
        assert!(
            child_settled(parent(5, 0, true, None), phase).is_err(),
            "{phase:?} is not settled"
        );
    }
    assert!(
        child_settled(parent(5, 5, true, None), NodePhase::Succeeded).is_err(),
        "a sixth child of five is refused"
    );
}

#[test]
fn an_array_starts_its_next_element_while_its_children_run() {
    // (total, settled before, running, parallelism, next element)
    let table = [
        (10, 0, true, Some(3), Some(3)),
        (10, 6, true, Some(3), Some(9)),
        (10, 7, true, Some(3), None),
        (10, 0, true, Some(0), Some(1)),
        (10, 0, true, None, None),
        (10, 0, false, Some(3), None),
        (1, 0, true, Some(1), None),
    ];
    for (total, settled, running, parallelism, next) in table {
        let counted =
            child_settled(parent(total, settled, running, parallelism), NodePhase::Succeeded).expect("counted");
        assert_eq!(
            counted.start_element, next,
            "{total} {settled} {running} {parallelism:?}"
        );
    }
}

#[test]
fn a_created_child_waits_for_its_unsettled_upstream_nodes_and_skips_after_a_failed_one() {
    use NodePhase as P;
    let table: [(&[Option<P>], u32, Then); 7] = [
        (&[], 0, Then::Start),
        (&[Some(P::Succeeded), Some(P::Recovered)], 0, Then::Start),
        (&[None, Some(P::Succeeded)], 1, Then::Nothing),
        (&[Some(P::Running), None], 2, Then::Nothing),
        (&[Some(P::Failed), None], 1, Then::Skip),
        (&[Some(P::Skipped)], 0, Then::Skip),
        (&[Some(P::Aborted), Some(P::Succeeded)], 0, Then::Skip),
    ];
    for (upstream, pending, then) in table {
        assert_eq!(created_child(upstream.iter().copied()), (pending, then), "{upstream:?}");
    }
}

#[test]
fn elements_start_up_to_the_parallelism_plus_those_settled() {
    let table = [
        (10, None, 0, 10),
        (10, Some(3), 0, 3),
        (10, Some(3), 4, 7),
        (10, Some(3), 9, 10),
        (10, Some(0), 0, 1),
    ];
    for (total, parallelism, settled, started) in table {
        assert_eq!(
            elements_started(total, parallelism, settled),
            started,
            "{total} {parallelism:?} {settled}"
        );
    }
}

#[test]
fn a_node_below_an_abort_ends_as_the_abort_row_says() {
    for phase in NodePhase::ALL {
        for kind in [NodeKind::Task, NodeKind::Composite, NodeKind::LaunchPlan] {
            let state = NodeState {
                phase,
                attempts: 1,
                ..NodeState::new()
            };
            let policy = NodePolicy {
                kind,
                ..NodePolicy::composite()
            };
            let decided = node::transition(&state, &policy, NodeEvent::Abort).expect("an abort is always taken");
            assert_eq!(node::aborted_below(phase), decided.state.phase, "{kind:?} in {phase:?}");
        }
    }
}

#[test]
fn hydrated_values_start_only_a_node_that_still_waits_for_them() {
    for phase in NodePhase::ALL {
        for waiting in [false, true] {
            let expected = if waiting && phase == NodePhase::NotStarted {
                Then::Start
            } else {
                Then::Nothing
            };
            assert_eq!(hydrated(phase, waiting), expected, "{phase} waiting {waiting}");
        }
    }
}

#[test]
fn an_unavailable_value_is_a_final_system_error_naming_the_input_and_the_uri() {
    let error = value_unavailable("x", None, "s3://bucket/offloaded/e/1", "does not exist");
    assert_eq!(error.kind, crate::model::ErrorKind::System);
    assert!(!error.recoverable);
    assert_eq!(error.code, "input_value_unavailable");
    assert_eq!(
        error.message,
        "input \"x\" needs the offloaded value s3://bucket/offloaded/e/1, which does not exist"
    );
    let nested = value_unavailable("index", Some("big"), "memory:///o", "cannot be decoded: bad tag");
    assert_eq!(
        nested.message,
        "input \"index\" of \"big\" needs the offloaded value memory:///o, which cannot be decoded: bad tag"
    );
    // A started node is not failed by it: only a node not started takes `InputsFailed`.
    let failed = node::transition(
        &NodeState::new(),
        &NodePolicy::composite(),
        NodeEvent::InputsFailed { error: error.clone() },
    )
    .expect("a node not started fails");
    assert_eq!(failed.state.phase, NodePhase::Failed);
    assert_eq!(failed.state.error, Some(error));
}
