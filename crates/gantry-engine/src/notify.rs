//! In-memory signals: waking long-polling workers when their queues get work, and the stream of phase changes that
//! watchers follow. Nothing here is durable; the database is the truth and both signals are only hints to look.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, broadcast};
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
    changes: broadcast::Sender<PhaseChange>,
    closing: AtomicBool,
}

impl Signals {
    pub fn new(capacity: usize) -> Self {
        let (changes, _) = broadcast::channel(capacity);
        Signals {
            queues: Mutex::new(HashMap::new()),
            changes,
            closing: AtomicBool::new(false),
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

    /// Tells long polls to return: the server is stopping.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Whether anyone watches: building change events is skipped otherwise.
    pub fn watched(&self) -> bool {
        self.changes.receiver_count() > 0
    }

    pub fn publish(&self, changes: Vec<PhaseChange>) {
        for change in changes {
            // An error only means nobody listens any more.
            let _ = self.changes.send(change);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<PhaseChange> {
        self.changes.subscribe()
    }
}
