//! The engine's settings, filled by the server's configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::blobs::{BlobStore, Limits};

/// Settings of the engine. `Default` gives the values the server uses unless told otherwise.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a claimed attempt's lease lasts unless heartbeated.
    pub lease: Duration,
    /// The most commands the writer applies in one transaction.
    pub max_batch: usize,
    /// Phase changes buffered per watcher before it must resynchronise.
    pub watch_buffer: usize,
    /// The longest a poll may wait for work.
    pub max_poll_wait: Duration,
    /// The most attempts one poll may claim.
    pub max_poll_attempts: u32,
    /// How long a `cache_serializable` reservation lasts unless the holder's worker heartbeats.
    pub cache_reservation: Duration,
    /// The most children one batch creates: a larger composite gets the rest in later batches, interleaved with
    /// other clients' work. Within it, the chunk adapts so that a batch that creates children takes about
    /// `children_batch_target`.
    pub children_chunk: usize,
    /// How long a batch that creates children should take, at most: what another client may wait for it.
    pub children_batch_target: Duration,
    /// Byte limits and the offload threshold.
    pub limits: Limits,
    /// Where offloaded literals go; `None` keeps them in memory (for tests).
    pub blobs: Option<BlobStore>,
    /// The engine's only clock: every batch reads it once, and the sweeper sleeps by it.
    pub clock: Clock,
    /// How often the store's reachability is checked (and so how soon an outage with no traffic, or the end of
    /// one, is noticed).
    pub store_probe_interval: Duration,
    /// A check of the store slower than this, twice in a row, counts as the store being unreachable.
    pub store_probe_timeout: Duration,
    /// Whether a transition the core refuses fails the batch that asked for it. A refusal means the engine asked the
    /// core for something its tables have no row for: a bug. Tests run strict so that one fails them; a server counts
    /// and logs each refusal and goes on, since failing a batch would fail every other request in it too.
    pub strict_transitions: bool,
    /// Whether a dynamic spec may refer only to registered templates of its execution's project (the server sets it
    /// when it authenticates callers: a worker of one project must not run or learn another's templates). A
    /// reference elsewhere fails the spec as a template that is not registered. Templates the spec embeds are its own.
    pub own_project_references: bool,
    /// After how many claimed attempts the store rids the claim's index of their entries (see `compaction.rs`); 0:
    /// never.
    pub compact_claims_every: u64,
}

/// Milliseconds since the Unix epoch. The system clock unless a test sets its own, so that batches applied together
/// and one after the other can be compared at the same instant.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(crate::now_ms))
    }

    /// A clock that reads `now`.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            lease: Duration::from_secs(30),
            max_batch: 256,
            watch_buffer: 65_536,
            max_poll_wait: Duration::from_secs(60),
            max_poll_attempts: 1_000,
            cache_reservation: Duration::from_secs(60),
            children_chunk: 5_000,
            children_batch_target: Duration::from_millis(25),
            limits: Limits::default(),
            blobs: None,
            clock: Clock::system(),
            store_probe_interval: Duration::from_secs(1),
            store_probe_timeout: Duration::from_secs(1),
            strict_transitions: false,
            own_project_references: false,
            compact_claims_every: 50_000,
        }
    }
}
