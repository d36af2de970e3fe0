//! Whether the store is reachable: the one place that knows, and the one task that finds out.
//!
//! The monitor pings the store every `store_probe_interval` (at once when a call failed as unavailable), on a
//! connection outside the pool. A ping that fails (a refused or lost connection) means the store is unreachable; a
//! ping slower than `store_probe_timeout` is tried again at once, and a second slow one means it too (one slow answer
//! from a busy database must not take every replica out of service). While the store is
//! unreachable, every call through [`GuardedStore`] (every read, and every writer batch, which begins with one)
//! fails at once as unavailable instead of waiting out a timeout in turn, the sweeper expires nothing, and long polls
//! end. When the store answers again, the monitor first renews the lease of every running attempt (heartbeats could
//! not be recorded meanwhile, so the outage must not count against them), and only then lets requests and the
//! sweeper through. Several replicas sharing one database each do so after the same outage; the renewal only moves
//! leases forward, so that is safe.

use std::sync::{Arc, Weak};
use std::time::Instant;

use gantry_store::{Store, StoreError, StoreResult};
use tokio::sync::{Notify, watch};
use tracing::{debug, info, warn};

use crate::shared::Shared;

/// How a call is refused while the store is known to be unreachable (the error adds "database unavailable").
const UNREACHABLE: &str = "the server cannot reach it; retry later";

/// The store's reachability, and the store itself, unguarded, for the monitor.
#[derive(Debug)]
pub(crate) struct StoreHealth {
    pub store: Arc<dyn Store>,
    reachable: watch::Sender<bool>,
    /// A call failed as unavailable: probe now rather than at the next interval.
    suspect: Notify,
}

impl StoreHealth {
    /// A store that was just opened, so reachable.
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreHealth {
            store,
            reachable: watch::Sender::new(true),
            suspect: Notify::new(),
        }
    }

    pub fn is_reachable(&self) -> bool {
        *self.reachable.borrow()
    }

    /// The reachability from now on, to follow.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.reachable.subscribe()
    }

    /// The error of a call refused because the store is unreachable.
    pub fn unreachable() -> StoreError {
        StoreError::Unavailable(UNREACHABLE.to_owned())
    }

    /// Refuses at once while the store is known to be unreachable.
    pub fn check(&self) -> StoreResult<()> {
        match self.is_reachable() {
            true => Ok(()),
            false => Err(StoreHealth::unreachable()),
        }
    }

    /// Resolves once the store is declared unreachable (at once if it is).
    pub async fn until_unreachable(&self) {
        let mut reachable = self.reachable.subscribe();
        // The sender lives as long as `self`, so this only ends by the store becoming unreachable.
        let _ = reachable.wait_for(|reachable| !*reachable).await;
    }

    /// A call failed as unavailable: have the monitor look now.
    pub fn suspect(&self) {
        self.suspect.notify_one();
    }

    fn set(&self, reachable: bool) {
        self.reachable
            .send_if_modified(|current| std::mem::replace(current, reachable) != reachable);
    }
}

/// Runs until the engine is dropped: probes the store, declares it unreachable or reachable again, and renews the
/// leases of running attempts before letting anything through after an outage.
pub(crate) async fn monitor(engine: Weak<Shared>) {
    let Some(shared) = engine.upgrade() else { return };
    let health = shared.health.clone();
    let interval = shared.config.store_probe_interval;
    let timeout = shared.config.store_probe_timeout;
    drop(shared);
    let mut unreachable_since = Instant::now();
    let mut slow_before = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = health.suspect.notified() => {}
        }
        let Some(shared) = engine.upgrade() else { return };
        let (answered, slow) = match tokio::time::timeout(timeout, health.store.ping()).await {
            Ok(Ok(())) => (Ok(()), false),
            Ok(Err(error)) => (Err(error.to_string()), false),
            Err(_) => (Err(format!("no answer within {timeout:?}")), true),
        };
        let slow_twice = std::mem::replace(&mut slow_before, slow) && slow;
        match (health.is_reachable(), answered) {
            (true, Ok(())) => {}
            (true, Err(error)) if slow && !slow_twice => {
                debug!(%error, "the database answers slowly; checking again");
                health.suspect();
            }
            (true, Err(error)) => {
                warn!(%error, "the database is unreachable; refusing requests until it answers again");
                unreachable_since = Instant::now();
                health.set(false);
            }
            (false, Err(error)) => debug!(%error, "the database is still unreachable"),
            (false, Ok(())) => match renew_leases(&shared).await {
                Ok(renewed) => {
                    health.set(true);
                    info!(outage = ?unreachable_since.elapsed(), renewed_leases = renewed, "the database is reachable again");
                    // The sweeper learns of the new lease expiries; waiting polls look for work they may have
                    // missed being told of.
                    shared.sweeper_poke.notify_one();
                    shared.signals.wake_all();
                }
                Err(error) => warn!(%error, "the database answers again, but renewing leases failed; trying again"),
            },
        }
    }
}

/// Gives every running attempt a full lease from now (and its node's cache reservation a full reservation): the
/// time the server could not record heartbeats must not count against them. Only ever extends, so running it on
/// several replicas after the same outage, or twice, changes nothing more.
async fn renew_leases(shared: &Shared) -> StoreResult<u64> {
    let now = shared.config.clock.now();
    let lease_until = now.saturating_add(duration_ms(shared.config.lease));
    let reservation_until = now.saturating_add(duration_ms(shared.config.cache_reservation));
    let mut tx = shared.health.store.begin().await?;
    let renewed = tx.renew_leases(lease_until, reservation_until).await?;
    tx.commit().await?;
    Ok(renewed)
}

fn duration_ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_while_unreachable_and_wakes_waiters_on_the_change() {
        let store = gantry_store::SqliteStore::open(":memory:").await.expect("sqlite");
        let health = Arc::new(StoreHealth::new(Arc::new(store)));
        assert!(health.check().is_ok());
        let mut followed = health.subscribe();
        let waiting = tokio::spawn({
            let health = health.clone();
            async move { health.until_unreachable().await }
        });
        health.set(false);
        waiting.await.expect("woken when the store became unreachable");
        assert!(followed.has_changed().expect("open"));
        assert!(!*followed.borrow_and_update());
        assert!(matches!(health.check(), Err(StoreError::Unavailable(message)) if message == UNREACHABLE));
        health.set(false);
        assert!(!followed.has_changed().expect("open"), "no change, no wake-up");
        health.set(true);
        assert!(*followed.borrow_and_update());
        assert!(health.check().is_ok());
    }
}
