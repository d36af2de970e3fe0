//! In-memory signals: waking long-polling workers when their queues get work, and the stream of phase changes that
//! watchers follow. Nothing here is durable; the database is the truth and both signals are only hints to look.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, broadcast, watch};
use uuid::Uuid;

/// One phase change, as watchers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseChange {
    pub execution_id: Uuid,
    /// Empty for the execution itself.
    pub node_id: String,
    /// The attempt number, for attempt phase changes.
    pub attempt: Option<u32>,
    /// `execution`, `node` or `attempt`.
    pub scope: ChangeScope,
    /// The new phase's name (`as_str()` of the core's phase).
    pub phase: &'static str,
    pub at_ms: i64,
}

/// What a [`PhaseChange`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeScope {
    Execution,
    Node,
    Attempt,
}

/// Wakers per queue, and the phase-change broadcast.
#[derive(Debug)]
pub(crate) struct Signals {
    queues: Mutex<HashMap<String, Arc<Notify>>>,
    /// One channel per watched execution, so that a large fan-out neither costs anything when nobody watches it nor
    /// crowds out the watchers of other executions.
    watchers: Mutex<HashMap<Uuid, broadcast::Sender<PhaseChange>>>,
    capacity: usize,
    closing: AtomicBool,
    /// The writer's batches in flight, so that a watch can wait for those that may have missed it (see `settled`).
    batches: Arc<watch::Sender<InFlight>>,
}

/// The writer's batches in flight, numbered as they begin.
#[derive(Debug, Default)]
struct InFlight {
    next: u64,
    running: BTreeSet<u64>,
}

/// One batch in flight, until dropped: after its changes were published, or with the batch when it rolls back.
#[derive(Debug)]
pub(crate) struct BatchInFlight {
    batches: Arc<watch::Sender<InFlight>>,
    number: u64,
}

impl Drop for BatchInFlight {
    fn drop(&mut self) {
        let number = self.number;
        self.batches.send_modify(|in_flight| {
            in_flight.running.remove(&number);
        });
    }
}

/// Resolves once the batches in flight when a watch subscribed have published their changes (see [`Watch`]).
#[derive(Debug)]
pub struct Settled {
    batches: watch::Receiver<InFlight>,
    /// The number of the first batch that began after the subscription.
    horizon: u64,
}

impl Settled {
    /// Waits until no batch that began before the subscription is in flight.
    pub async fn wait(mut self) {
        let horizon = self.horizon;
        // An error means the engine is gone, and with it every batch.
        let _ = (self.batches)
            .wait_for(|in_flight| in_flight.running.first().is_none_or(|first| *first >= horizon))
            .await;
    }
}

/// A watch of one execution: its phase changes from the subscription on, and when a snapshot may be read.
///
/// A batch asks once whether anyone watches an execution it changes, and builds change events only when someone
/// does. A batch that asked just before the subscription sends this watch none of its changes, and a snapshot read
/// before it commits misses them too: a watch that reads a snapshot first waits for `settled`, after which every
/// batch either sent it its changes or committed before the snapshot is read.
#[derive(Debug)]
pub struct Watch {
    pub changes: broadcast::Receiver<PhaseChange>,
    pub settled: Settled,
}

impl Signals {
    pub fn new(capacity: usize) -> Self {
        Signals {
            queues: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
            capacity,
            closing: AtomicBool::new(false),
            batches: Arc::new(watch::Sender::new(InFlight::default())),
        }
    }

    /// Numbers a batch that begins; it counts as in flight until the returned value is dropped.
    pub fn batch_begins(&self) -> BatchInFlight {
        let mut number = 0;
        self.batches.send_modify(|in_flight| {
            number = in_flight.next;
            in_flight.next += 1;
            in_flight.running.insert(number);
        });
        BatchInFlight {
            batches: self.batches.clone(),
            number,
        }
    }

    /// The waker of `queue`: a poller registers interest (`notified()`) before looking for work, so a wake-up between
    /// its look and its wait is never lost.
    pub fn queue(&self, queue: &str) -> Arc<Notify> {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        queues.entry(queue.to_owned()).or_default().clone()
    }

    pub fn wake(&self, queue: &str) {
        let waker = self
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(queue)
            .cloned();
        if let Some(waker) = waker {
            waker.notify_waiters();
        }
    }

    pub fn wake_all(&self) {
        let wakers: Vec<_> = self
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        wakers.iter().for_each(|w| w.notify_waiters());
    }

    /// Tells long polls to return and ends every watch once it has what was published before: the server is
    /// stopping. Dropping the channels' senders closes their receivers; a watch subscribing later is closed at once.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake_all();
        self.watchers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Whether anyone watches the execution: change events are only built for watched executions.
    pub fn watched(&self, execution_id: Uuid) -> bool {
        let watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        watchers.get(&execution_id).is_some_and(|w| w.receiver_count() > 0)
    }

    pub fn publish(&self, changes: Vec<PhaseChange>) {
        if changes.is_empty() {
            return;
        }
        let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        for change in changes {
            if let Some(watcher) = watchers.get(&change.execution_id) {
                // An error only means nobody listens any more.
                let _ = watcher.send(change);
            }
        }
        watchers.retain(|_, w| w.receiver_count() > 0);
    }

    /// Phase changes of one execution from now on, and when a snapshot of it may be read.
    pub fn watch(&self, execution_id: Uuid) -> Watch {
        let changes = self.subscribe(execution_id);
        // Read after subscribing: a batch numbered from here on asks after the subscription and sees it.
        let horizon = self.batches.borrow().next;
        let settled = Settled {
            batches: self.batches.subscribe(),
            horizon,
        };
        Watch { changes, settled }
    }

    /// Phase changes of one execution from now on.
    pub fn subscribe(&self, execution_id: Uuid) -> broadcast::Receiver<PhaseChange> {
        let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_closing() {
            return broadcast::channel(1).1;
        }
        watchers.retain(|_, w| w.receiver_count() > 0);
        watchers
            .entry(execution_id)
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe()
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};

    use super::*;

    fn change(execution_id: Uuid) -> PhaseChange {
        PhaseChange {
            execution_id,
            node_id: "n".to_owned(),
            attempt: None,
            scope: ChangeScope::Node,
            phase: "running",
            at_ms: 1,
        }
    }

    #[tokio::test]
    async fn closing_ends_watches_after_what_was_published_and_refuses_new_ones() {
        let signals = Signals::new(16);
        let id = Uuid::now_v7();
        let mut watch = signals.subscribe(id);
        signals.publish(vec![change(id)]);
        signals.close();
        assert_eq!(watch.recv().await.map(|c| c.phase), Ok("running"));
        assert_eq!(watch.recv().await.map(|c| c.phase), Err(RecvError::Closed));
        let mut late = signals.subscribe(id);
        assert_eq!(late.try_recv().map(|c| c.phase), Err(TryRecvError::Closed));
        assert!(!signals.watched(id));
    }

    #[tokio::test]
    async fn a_watch_is_settled_once_the_batches_in_flight_when_it_subscribed_are_done() {
        let signals = Signals::new(16);
        let id = Uuid::now_v7();
        let before = signals.batch_begins();
        let also_before = signals.batch_begins();
        let watch = signals.watch(id);
        let after = signals.batch_begins();
        let mut settled = tokio::spawn(watch.settled.wait());
        drop(before);
        tokio::task::yield_now().await;
        assert!(
            !settled.is_finished(),
            "a batch that began before the watch is still in flight"
        );
        drop(also_before);
        tokio::time::timeout(std::time::Duration::from_secs(10), &mut settled)
            .await
            .expect("settled although a batch that began after the watch is in flight")
            .expect("joined");
        drop(after);
        // With nothing in flight, a watch is settled at once.
        signals.watch(id).settled.wait().await;
    }
}
