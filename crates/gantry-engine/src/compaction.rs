//! Keeping claims cheap: every `compact_claims_every` claimed attempts, one task asks the store to rid the claim's
//! index of the entries the claimed ones left behind (`Store::compact_claims`: `VACUUM attempts` on Postgres). A
//! claim walks the queue's index in id order from its oldest entry; without this, during a 1,000,000-child fan-out on
//! a Postgres with autovacuum off it stepped over every attempt claimed so far, and claims took half the run. At most
//! one compaction runs at a time, outside the writer; a failed one is logged and the next comes after as many claims.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

use gantry_store::Store;
use tracing::{debug, warn};

#[derive(Debug)]
pub(crate) struct ClaimCompaction {
    /// Claimed attempts between compactions; 0: never compact.
    every: u64,
    /// Attempts claimed since the last compaction started.
    claimed: AtomicU64,
    running: Arc<AtomicBool>,
    /// Compactions started, for tests.
    started: AtomicU64,
    /// Signalled as each compaction ends, for tests.
    ended: Arc<Notify>,
}

impl ClaimCompaction {
    pub fn new(every: u64) -> Self {
        ClaimCompaction {
            every,
            claimed: AtomicU64::new(0),
            running: Arc::new(AtomicBool::new(false)),
            started: AtomicU64::new(0),
            ended: Arc::new(Notify::new()),
        }
    }

    /// Counts `count` claimed attempts and, once `every` were claimed and no compaction runs, starts one on `store`.
    pub fn claimed(&self, count: usize, store: &Arc<dyn Store>) {
        if self.every == 0 {
            return;
        }
        let claimed = self.claimed.fetch_add(count as u64, Ordering::Relaxed) + count as u64;
        if claimed < self.every || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.claimed.store(0, Ordering::Relaxed);
        self.started.fetch_add(1, Ordering::Relaxed);
        let (store, running, ended) = (store.clone(), self.running.clone(), self.ended.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match store.compact_claims().await {
                Ok(()) => debug!(
                    claimed,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "claims compacted"
                ),
                Err(error) => warn!(%error, "could not compact the claimed attempts' index entries"),
            }
            running.store(false, Ordering::Release);
            ended.notify_one();
        });
    }

    /// How many compactions were started.
    #[cfg(test)]
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Waits until a compaction started ends.
    #[cfg(test)]
    pub async fn ended(&self) {
        self.ended.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use gantry_store::SqliteStore;

    use super::*;

    #[tokio::test]
    async fn a_compaction_starts_once_enough_attempts_were_claimed_and_never_when_off() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(":memory:").await.expect("sqlite"));
        let compaction = ClaimCompaction::new(10);
        compaction.claimed(6, &store);
        assert_eq!(compaction.started(), 0, "6 of 10");
        compaction.claimed(4, &store);
        assert_eq!(compaction.started(), 1, "10 of 10");
        compaction.claimed(9, &store);
        assert_eq!(compaction.started(), 1, "9 more of 10");
        let off = ClaimCompaction::new(0);
        off.claimed(1_000_000, &store);
        assert_eq!(off.started(), 0);
    }
}
