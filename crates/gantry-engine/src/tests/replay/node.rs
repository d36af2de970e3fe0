//! Replaying a node: its events derived from its row, its attempts' rows, its accepted spec and its children's rows;
//! what its decisions' effects ask for checked against the rows.

use gantry_core::model::ExecutionError;
use gantry_core::state::{
    self, AttemptPhase, ChildCounts, ChildRule, NodeEffect, NodeEvent, NodeKind, NodePhase, NodePolicy, NodeState,
};
use gantry_store::{AttemptRow, NodeRow, PARKED};

use super::rebuild::{Replay, decode_error, progress};
use super::rows::Snapshot;
use crate::codec;

/// The policy the engine runs a node under (`interpret/mod.rs` `policy`), from its task's row and its definition.
fn policy(snapshot: &Snapshot, node: &NodeRow) -> Result<NodePolicy, String> {
    if node.kind != NodeKind::Task {
        return Ok(NodePolicy {
            kind: node.kind,
            ..NodePolicy::composite()
        });
    }
    let task_id = node.task.as_deref().ok_or("a task node without a task")?;
    let task = snapshot
        .tasks
        .get(task_id)
        .ok_or_else(|| format!("task {task_id} is not registered"))?;
    let definition = codec::decode_node(&node.definition).map_err(|e| format!("undecodable definition: {e}"))?;
    let cache = task.metadata.cache;
    Ok(NodePolicy {
        kind: NodeKind::Task,
        retries: definition
            .overrides
            .into_set()
            .retries
            .unwrap_or_else(|| task.metadata.retries.clone()),
        cache,
        overwrite_cache: cache && snapshot.execution.overwrite_cache,
    })
}

/// A node's derived events, and its children's counts as its row should hold them.
#[derive(Debug)]
struct Derived {
    events: Vec<NodeEvent>,
    children: ChildCounts,
}

fn node_events(snapshot: &Snapshot, node: &NodeRow) -> Result<Derived, String> {
    let mut derived = Derived {
        events: Vec::new(),
        children: ChildCounts::default(),
    };
    let stored_error = decode_error(node.error.as_deref())?;
    let attempts = snapshot.attempts_of(&node.node_id);
    let events = &mut derived.events;
    match node.phase {
        NodePhase::NotStarted => return Ok(derived),
        NodePhase::Skipped => events.push(NodeEvent::Skip),
        NodePhase::Recovered => return Err("recovered nodes are not replayed".into()),
        // Aborted before it started: the bulk abort found it waiting.
        NodePhase::Aborted if node.started_at.is_none() => events.push(NodeEvent::Abort),
        _ if node.cache_status == state::CacheStatus::Hit => events.push(NodeEvent::CacheHit),
        _ if node.kind != NodeKind::Task => return Err(format!("{:?} nodes are not replayed", node.kind)),
        // Its inputs did not resolve: the node's own error is the only record of why.
        NodePhase::Failed if attempts.is_empty() => events.push(NodeEvent::InputsFailed {
            error: stored_error.clone().ok_or("failed with no attempt and no error")?,
        }),
        _ => {
            events.push(NodeEvent::Start);
            for attempt in attempts {
                attempt_events(snapshot, node, attempt, &stored_error, &mut derived)?;
            }
        }
    }
    if node.phase == NodePhase::Aborted && !matches!(derived.events.last(), Some(NodeEvent::Abort)) {
        derived.events.push(NodeEvent::Abort);
    }
    Ok(derived)
}

/// What one attempt of a task node told its node; for the attempt that returned a spec, the children's events too.
fn attempt_events(
    snapshot: &Snapshot,
    node: &NodeRow,
    attempt: &AttemptRow,
    stored_error: &Option<ExecutionError>,
    derived: &mut Derived,
) -> Result<(), String> {
    let events = &mut derived.events;
    if attempt.started_at.is_some() {
        events.push(NodeEvent::AttemptStarted);
    }
    let failure = || -> Result<ExecutionError, String> {
        let error = decode_error(attempt.error.as_deref())?;
        let error = error.ok_or_else(|| format!("attempt {} {} with no error", attempt.attempt, attempt.phase))?;
        Ok(error.at_node(node.node_id.clone()))
    };
    match attempt.phase {
        AttemptPhase::Queued | AttemptPhase::Running => {}
        AttemptPhase::Aborted => events.push(NodeEvent::Abort),
        AttemptPhase::Failed | AttemptPhase::TimedOut => {
            let error = failure()?;
            if error.code == "compile_error" {
                events.push(NodeEvent::SpecRejected { error });
            } else {
                let now_ms = attempt.finished_at.ok_or("a finished attempt without a finish time")?;
                events.push(NodeEvent::AttemptFailed { error, now_ms });
            }
        }
        AttemptPhase::Succeeded => {
            let Some(spec) = snapshot.specs.get(&(node.node_id.clone(), attempt.attempt)) else {
                events.push(NodeEvent::AttemptSucceeded);
                return Ok(());
            };
            events.push(NodeEvent::SpecCompiled);
            let rule = ChildRule {
                min_successes: spec.min_successes,
                fail_fast: true,
            };
            let total = spec.nodes.len() as u64;
            events.push(NodeEvent::ChildrenCreated {
                counts: ChildCounts::new(total),
                rule,
                first_failure: None,
            });
            let children = snapshot.children_of(&node.node_id);
            let until = (node.phase == NodePhase::Aborted).then_some(node.finished_at).flatten();
            let reports = progress(&children, total, until)?;
            derived.children = reports.last().map_or(ChildCounts::new(total), |r| r.counts);
            for report in reports {
                events.push(NodeEvent::ChildrenProgress {
                    counts: report.counts,
                    rule,
                    first_failure: report.first_failure,
                });
            }
            match (node.phase, stored_error) {
                (NodePhase::Succeeded, _) => events.push(NodeEvent::Assembled),
                (NodePhase::Failed, Some(error)) if error.code == "output_assembly" => {
                    events.push(NodeEvent::AssemblyFailed { error: error.clone() })
                }
                (NodePhase::Failed, _) => events.push(NodeEvent::ChildrenAborted),
                _ => {}
            }
        }
    }
    Ok(())
}

pub(super) fn replay_node(snapshot: &Snapshot, node: &NodeRow, out: &mut Replay) -> Result<(), String> {
    let what = format!("node {}", node.node_id);
    let policy = policy(snapshot, node)?;
    let derived = node_events(snapshot, node)?;
    let attempts = snapshot.attempts_of(&node.node_id);
    let mut current = NodeState::new();
    let mut enqueued = Vec::new();
    for event in derived.events {
        let name = event.name();
        if current.phase.is_terminal() {
            return Err(format!("{name} after it was already {}", current.phase));
        }
        let decision = state::node::transition(&current, &policy, event)
            .map_err(|refused| format!("in phase {} refused {name}: {refused}", current.phase))?;
        out.count("node", name);
        for effect in &decision.effects {
            check_effect(snapshot, node, attempts, effect, out);
            if let NodeEffect::EnqueueAttempt { attempt, .. } = effect {
                enqueued.push(*attempt as i32);
            }
        }
        if name == "cache_hit" {
            check_cache(snapshot, node, false, out);
        }
        current = decision.state;
    }
    let stored_error = decode_error(node.error.as_deref())?;
    out.differs(&what, "phase", current.phase, node.phase);
    out.differs(&what, "attempts", current.attempts as i32, node.attempts);
    out.differs(&what, "user_failures", current.user_failures as i32, node.user_failures);
    out.differs(
        &what,
        "system_failures",
        current.system_failures as i32,
        node.system_failures,
    );
    out.differs(&what, "cache_status", current.cache_status, node.cache_status);
    out.differs(&what, "error", current.error, stored_error);
    let stored_attempts: Vec<i32> = attempts.iter().map(|a| a.attempt).collect();
    out.differs(&what, "attempt rows", enqueued, stored_attempts);
    let children = derived.children;
    out.differs(&what, "children_total", children.total as i64, node.children_total);
    out.differs(
        &what,
        "children_succeeded",
        children.succeeded as i64,
        node.children_succeeded,
    );
    out.differs(&what, "children_failed", children.failed as i64, node.children_failed);
    out.differs(
        &what,
        "children_skipped",
        children.skipped as i64,
        node.children_skipped,
    );
    let created = snapshot.children_of(&node.node_id).len() as i64;
    out.differs(&what, "children_created", created, node.children_created);
    Ok(())
}

/// Checks that what an effect asks for is in the rows.
fn check_effect(snapshot: &Snapshot, node: &NodeRow, attempts: &[AttemptRow], effect: &NodeEffect, out: &mut Replay) {
    let what = format!("node {}", node.node_id);
    match effect {
        NodeEffect::EnqueueAttempt { attempt, not_before_ms } => {
            let Some(row) = attempts.iter().find(|a| a.attempt as u32 == *attempt) else {
                return out
                    .mismatches
                    .push(format!("{what}: attempt {attempt} enqueued, but it has no row"));
            };
            // A first attempt is claimable at once (from its creation) or parked under `max_parallelism`.
            let parked = not_before_ms.is_none() && row.not_before == PARKED;
            if !parked {
                let field = format!("attempt {attempt} not_before");
                out.differs(&what, &field, not_before_ms.unwrap_or(row.created_at), row.not_before);
            }
        }
        NodeEffect::CreateChildren { attempt } => {
            let prefix = format!("{}/{attempt}/", node.node_id);
            for child in snapshot.children_of(&node.node_id) {
                if !child.node_id.starts_with(&prefix) {
                    out.mismatches.push(format!(
                        "{what}: child {} is not a child of attempt {attempt}",
                        child.node_id
                    ));
                }
            }
        }
        NodeEffect::WriteCache => check_cache(snapshot, node, true, out),
        NodeEffect::Settled(_) if node.finished_at.is_none() => {
            out.mismatches
                .push(format!("{what}: settled, but it has no finish time"));
        }
        _ => {}
    }
}

/// A node that wrote the cache is the writer of the entry under its key; one that hit it holds that entry's outputs.
fn check_cache(snapshot: &Snapshot, node: &NodeRow, wrote: bool, out: &mut Replay) {
    let what = format!("node {}", node.node_id);
    let Some(entry) = snapshot.cache.get(&node.node_id) else {
        return out.mismatches.push(format!("{what}: no cache entry under its key"));
    };
    if wrote {
        let writer = (entry.execution_id, entry.node_id.as_str());
        out.differs(
            &what,
            "cache entry writer",
            (node.execution_id, node.node_id.as_str()),
            writer,
        );
    }
    out.differs(
        &what,
        "outputs (cache entry)",
        Some(&entry.outputs),
        node.outputs.as_ref(),
    );
}
