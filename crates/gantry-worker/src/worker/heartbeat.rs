//! The heartbeat loop: each third of the lease, `Heartbeat` calls for every running attempt (one call per 10,000,
//! the server's limit); attempts the server cancels or no longer leases to us are stopped. A heartbeat that fails
//! (the server or its database unavailable) stops nothing: the attempts keep running and the next beat tries again.
//! A server whose database was unreachable renews every running lease once it is back, so an outage does not cost
//! the attempts their leases.

use std::sync::Arc;
use std::time::Duration;

use gantry_proto::v1 as pb;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::MAX_HEARTBEAT_ATTEMPTS;
use super::run::Shared;

/// Heartbeats never come closer together than this, however short the lease.
const MIN_INTERVAL: Duration = Duration::from_millis(50);
/// A heartbeat call is given up after one interval, but never sooner than this.
const MIN_RPC_DEADLINE: Duration = Duration::from_secs(1);

pub(crate) async fn heartbeat_loop(shared: Arc<Shared>, stop: CancellationToken) {
    let mut lease = shared.lease_updates();
    let mut last_beat = Instant::now();
    loop {
        let interval = (*lease.borrow_and_update() / 3).max(MIN_INTERVAL);
        tokio::select! {
            () = stop.cancelled() => return,
            changed = lease.changed() => {
                if changed.is_err() {
                    return;
                }
                // A different lease: recompute when the next beat is due.
                continue;
            }
            () = tokio::time::sleep_until(last_beat + interval) => {}
        }
        last_beat = Instant::now();
        beat(&shared, interval.max(MIN_RPC_DEADLINE)).await;
    }
}

async fn beat(shared: &Shared, deadline: Duration) {
    let mut leased = shared.leased_attempts();
    while !leased.is_empty() {
        let rest = leased.split_off(leased.len().min(MAX_HEARTBEAT_ATTEMPTS));
        beat_some(shared, leased, deadline).await;
        leased = rest;
    }
}

async fn beat_some(shared: &Shared, leased: Vec<(crate::context::AttemptId, pb::LeasedAttempt)>, deadline: Duration) {
    let (ids, attempts): (Vec<_>, Vec<_>) = leased.into_iter().unzip();
    let mut request = tonic::Request::new(pb::HeartbeatRequest {
        worker_id: shared.config.worker_id.clone(),
        attempts,
    });
    // A call the server does not answer must not hold up the beats after it.
    request.set_timeout(deadline);
    let response = match shared.client().heartbeat(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            // The next beat retries; the lease outlives two missed beats.
            warn!(code = ?status.code(), error = %status.message(), attempts = ids.len(), "heartbeat failed");
            return;
        }
    };
    debug!(attempts = ids.len(), "heartbeat sent");
    for (id, status) in ids.iter().zip(&response.statuses) {
        match pb::LeaseState::try_from(status.state) {
            Ok(pb::LeaseState::Extended) => shared.observe_lease(status.lease_expires_at.as_ref()),
            Ok(pb::LeaseState::Cancel) => {
                info!(attempt = %id, "server cancelled the attempt, stopping it");
                shared.cancel(id);
            }
            Ok(pb::LeaseState::Lost) => {
                warn!(attempt = %id, "lease lost, stopping the attempt");
                shared.cancel(id);
            }
            Ok(pb::LeaseState::Unspecified) | Err(_) => {
                warn!(attempt = %id, state = status.state, "heartbeat answered with an unknown lease state");
            }
        }
    }
}
