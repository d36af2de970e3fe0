//! Replaying an attempt: claimed, heartbeated (the last time only), completed, expired, timed out or aborted, as its
//! row says.

use std::sync::Arc;

use gantry_core::model::LiteralMap;
use gantry_core::state::{self, AttemptEffect, AttemptEvent, AttemptPhase, AttemptResult, AttemptState};
use gantry_store::{AttemptRow, NodeRow, PARKED};

use super::rebuild::{Replay, decode_error};
use super::rows::Snapshot;
use crate::codec;

/// What a successful attempt of `node` returned: its spec, or the node's outputs.
fn success(snapshot: &Snapshot, node: &NodeRow, attempt: &AttemptRow) -> Result<AttemptResult, String> {
    if let Some(spec) = snapshot.specs.get(&(node.node_id.clone(), attempt.attempt)) {
        return Ok(AttemptResult::DynamicSpec(Arc::new(spec.clone())));
    }
    let outputs = match &node.outputs {
        Some(bytes) => codec::decode_literals(bytes).map_err(|e| format!("undecodable outputs: {e}"))?,
        None => LiteralMap::new(),
    };
    Ok(AttemptResult::Outputs(outputs))
}

pub(super) fn replay_attempt(
    snapshot: &Snapshot,
    node: &NodeRow,
    row: &AttemptRow,
    out: &mut Replay,
) -> Result<(), String> {
    let what = format!("attempt {} of node {}", row.attempt, node.node_id);
    let queue_deadline = match row.not_before {
        PARKED => None,
        not_before => state::attempt::queue_deadline(not_before, row.queue_timeout_ms),
    };
    let worker_id = row.worker_id.clone().unwrap_or_default();
    let lease_ms = snapshot.lease_ms;
    let stored_error = decode_error(row.error.as_deref())?;
    let finished = || row.finished_at.ok_or("finished without a finish time");
    let mut events = Vec::new();
    if let Some(now_ms) = row.started_at {
        events.push(AttemptEvent::Claim {
            worker_id: worker_id.clone(),
            now_ms,
            lease_ms,
            timeout_ms: row.timeout_ms,
        });
        // Only the last extension of the lease is kept: earlier heartbeats are not derivable.
        if let Some(expiry) = row.lease_expires_at
            && expiry != now_ms + lease_ms
        {
            events.push(AttemptEvent::Heartbeat {
                worker_id: worker_id.clone(),
                now_ms: expiry - lease_ms,
                lease_ms,
            });
        }
    }
    match (row.phase, &stored_error) {
        (AttemptPhase::Queued | AttemptPhase::Running, _) => {}
        (AttemptPhase::Succeeded, _) => events.push(AttemptEvent::Complete {
            worker_id,
            now_ms: finished()?,
            result: success(snapshot, node, row)?,
        }),
        (AttemptPhase::Failed, Some(error)) if error.code == "lease_expired" => {
            events.push(AttemptEvent::LeaseExpired { now_ms: finished()? })
        }
        // The server refused what the worker reported as a success.
        (AttemptPhase::Failed, Some(error)) if matches!(error.code.as_str(), "compile_error" | "invalid_outputs") => {
            events.push(AttemptEvent::Complete {
                worker_id,
                now_ms: finished()?,
                result: success(snapshot, node, row)?,
            });
            events.push(AttemptEvent::ResultRefused { error: error.clone() });
        }
        (AttemptPhase::Failed, Some(error)) => events.push(AttemptEvent::Complete {
            worker_id,
            now_ms: finished()?,
            result: AttemptResult::Error(error.clone()),
        }),
        (AttemptPhase::Failed, None) => return Err("failed with no error".into()),
        (AttemptPhase::TimedOut, _) => events.push(AttemptEvent::DeadlinePassed { now_ms: finished()? }),
        (AttemptPhase::Aborted, _) => events.push(AttemptEvent::Abort),
    }
    let mut current = AttemptState::queued_until(queue_deadline);
    let mut error = None;
    for event in events {
        let name = event.name();
        let (next, effect) = state::attempt::transition(&current, event)
            .map_err(|refused| format!("in phase {} refused {name}: {refused}", current.phase))?;
        out.count("attempt", name);
        if let AttemptEffect::Finished(AttemptResult::Error(e)) = effect {
            error = Some(e);
        }
        current = next;
    }
    out.differs(&what, "phase", current.phase, row.phase);
    out.differs(&what, "error", error, stored_error);
    out.differs(&what, "worker_id", current.worker_id, row.worker_id.clone());
    out.differs(
        &what,
        "lease_expires_at",
        current.lease_expires_at_ms,
        row.lease_expires_at,
    );
    out.differs(&what, "deadline", current.deadline_ms, row.deadline);
    Ok(())
}
