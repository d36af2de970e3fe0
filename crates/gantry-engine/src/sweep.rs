//! The sweeper: one task that fails attempts whose lease expired, times out attempts and executions past their
//! deadlines, ends gates' sleeps and timeouts, starts the executions of schedules' ticks (`schedules.rs`), and wakes
//! workers when a retry's backoff ends; every few seconds it also takes over children's
//! creations, assemblies and fetches of offloaded values that stalled. It sleeps until the earliest lease expiry, deadline or
//! backoff end the store knows of (at most a second, so that leases taken meanwhile are seen; a batch that queues a
//! delayed attempt or sets a deadline wakes it at once), and asks the writer to act; it holds no per-node timers.
//! While the store is unreachable it waits: nothing expires for want of heartbeats the server could not record, and
//! when the store is back the health monitor has renewed the leases before the sweeper looks again.
//!
//! Here too: the listener that wakes local long polls when other replicas announce work, listening again whenever
//! its connection is lost.

use std::sync::Weak;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use gantry_store::Announcement;

use crate::notify::{ChangeScope, PhaseChange};
use crate::shared::Shared;
use crate::writer::{Command, Reply, Request};

/// The sweeper's hold on the engine: it must not keep the engine alive.
#[derive(Debug)]
pub(crate) struct WeakEngine {
    pub shared: Weak<Shared>,
    pub commands: mpsc::WeakSender<Command>,
}

const MAX_SLEEP_MS: i64 = 1_000;

pub(crate) async fn run(engine: WeakEngine) {
    // Attempts whose `not_before` is at or before this have had their queues woken.
    let mut announced_until = i64::MIN;
    let mut next_stall_check = i64::MIN;
    loop {
        let Some(shared) = engine.shared.upgrade() else { return };
        if !shared.health.is_reachable() {
            let mut reachable = shared.health.subscribe();
            drop(shared);
            if reachable.wait_for(|reachable| *reachable).await.is_err() {
                return;
            }
            continue;
        }
        let now = shared.config.clock.now();
        if now >= next_stall_check {
            next_stall_check = now + crate::interpret::creation::STALL_CHECK_MS;
            if !take_over_stalled_creations(&engine, &shared, now).await {
                return;
            }
            if !assemble_stalled(&engine, &shared, now).await {
                return;
            }
            if !hydrate_stalled(&engine, &shared, now).await {
                return;
            }
        }
        // Wake the queues of attempts whose backoff ended since the last look, however the sweeper woke: a backoff
        // may end between the sweep that queued the retry and the sweeper's next look, and must not be missed.
        match shared.store.ready_queues(announced_until, now).await {
            Ok(queues) => {
                queues.iter().for_each(|queue| shared.signals.wake(queue));
                announced_until = now;
            }
            Err(error) => warn!(%error, "sweeper could not read ready queues"),
        }
        let next_lease = shared.store.next_lease_expiry().await.unwrap_or_else(|error| {
            warn!(%error, "sweeper could not read lease expiries");
            None
        });
        let next_deadline = shared.store.next_deadline().await.unwrap_or_else(|error| {
            warn!(%error, "sweeper could not read deadlines");
            None
        });
        let next_tick = shared.store.next_tick().await.unwrap_or_else(|error| {
            warn!(%error, "sweeper could not read schedules' next ticks");
            None
        });
        let next_sweep = [next_lease, next_deadline, next_tick].into_iter().flatten().min();
        if next_sweep.is_some_and(|due| due <= now) {
            let Some(commands) = engine.commands.upgrade() else {
                return;
            };
            let (tx, rx) = oneshot::channel();
            let command = Command {
                request: Request::Sweep,
                reply: Reply::Swept(tx),
            };
            if commands.send(command).await.is_err() {
                return;
            }
            if let Ok(Err(error)) = rx.await {
                warn!(%error, "sweeping leases and deadlines failed");
            }
            continue;
        }
        let next_due = shared.store.next_not_before(now).await.unwrap_or(None);
        let wake_at = [next_sweep, next_due]
            .into_iter()
            .flatten()
            .fold(now + MAX_SLEEP_MS, i64::min);
        // A batch that queues a delayed attempt (a retry's backoff) pokes the sweeper, so that it learns of the new
        // earliest due time instead of sleeping past it.
        let poked = shared.sweeper_poke.clone();
        drop(shared);
        let sleep = tokio::time::sleep(Duration::from_millis((wake_at - now).max(1) as u64));
        tokio::select! {
            _ = sleep => {}
            _ = poked.notified() => {}
        }
    }
}

/// Asks the writer to go on creating the children of composites no one has created a chunk of for a while (the
/// replica creating them died). Returns `false` once the engine is gone.
async fn take_over_stalled_creations(engine: &WeakEngine, shared: &Shared, now: i64) -> bool {
    let stalled = match shared
        .store
        .nodes_creating_children(now - crate::interpret::creation::STALLED_AFTER_MS)
        .await
    {
        Ok(stalled) => stalled,
        Err(error) => {
            warn!(%error, "sweeper could not read which composites still create children");
            return true;
        }
    };
    let Some(commands) = engine.commands.upgrade() else {
        return false;
    };
    for key in stalled {
        tracing::info!(execution_id = %key.0, node_id = %key.1, "taking over the creation of stalled children");
        let command = Command {
            request: Request::CreateChildren(key),
            reply: Reply::Internal,
        };
        if commands.send(command).await.is_err() {
            return false;
        }
    }
    true
}

/// Asks the writer to assemble again the nodes and executions left assembling for a while with no job of this
/// engine's carrying them (the replica assembling them died, or the job failed). Returns `false` once the engine is
/// gone.
async fn assemble_stalled(engine: &WeakEngine, shared: &Shared, now: i64) -> bool {
    let requests = crate::assembly::resumable(shared, now - crate::assembly::STALLED_AFTER_MS).await;
    send_internal(engine, requests).await
}

/// Asks the writer to fetch again the values of nodes left waiting for them for a while with no job of this engine's
/// fetching them (the replica fetching them died, or the blob store failed), and to delete the waits gone stale.
/// Returns `false` once the engine is gone.
async fn hydrate_stalled(engine: &WeakEngine, shared: &Shared, now: i64) -> bool {
    let requests = crate::hydration::resumable(shared, now - crate::hydration::STALLED_AFTER_MS).await;
    send_internal(engine, requests).await
}

/// Sends the writer the engine's own requests, answered by no one. Returns `false` once the engine is gone.
async fn send_internal(engine: &WeakEngine, requests: Vec<Request>) -> bool {
    if requests.is_empty() {
        return true;
    }
    let Some(commands) = engine.commands.upgrade() else {
        return false;
    };
    for request in requests {
        let command = Command {
            request,
            reply: Reply::Internal,
        };
        if commands.send(command).await.is_err() {
            return false;
        }
    }
    true
}

/// Wakes local long polls when another replica sharing the database announces work on a queue, and tells local
/// watchers of executions whose phase another replica changed. The store ends the channel when its connection is
/// lost; then this listens again once the store is reachable, and wakes every local poll, since announcements made
/// meanwhile were missed.
pub(crate) async fn listen(engine: WeakEngine) {
    loop {
        let Some(shared) = engine.shared.upgrade() else { return };
        let mut reachable = shared.health.subscribe();
        let retry_after = shared.config.store_probe_interval;
        let mut announcements = match shared.store.listen().await {
            Ok(Some(wakeups)) => wakeups,
            Ok(None) => return,
            Err(error) => {
                warn!(%error, "cannot listen for other replicas' queue announcements; trying again");
                drop(shared);
                if reachable.wait_for(|reachable| *reachable).await.is_err() {
                    return;
                }
                tokio::time::sleep(retry_after).await;
                continue;
            }
        };
        shared.signals.wake_all();
        drop(shared);
        while let Some(announcement) = announcements.recv().await {
            let Some(shared) = engine.shared.upgrade() else { return };
            match announcement {
                Announcement::Queue(queue) => shared.signals.wake(&queue),
                Announcement::Execution { origin, id, phase } if origin != shared.instance => {
                    let change = PhaseChange {
                        execution_id: id,
                        node_id: String::new(),
                        attempt: None,
                        scope: ChangeScope::Execution,
                        phase: phase.as_str(),
                        at_ms: shared.config.clock.now(),
                    };
                    shared.signals.publish(vec![change]);
                }
                Announcement::Execution { .. } => {}
            }
        }
        if reachable.wait_for(|reachable| *reachable).await.is_err() {
            return;
        }
    }
}
