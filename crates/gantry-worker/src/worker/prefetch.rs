//! How many attempts to claim ahead of the free slots. Enough that the slots never wait for a poll: a slot runs
//! `round trip / run time` attempts while one poll is out, so `concurrency × round trip / run time` are claimed
//! ahead, between 1 and the configured maximum. Short tasks get a deep prefetch (a no-op task's slot would otherwise
//! idle for most of every round trip); long ones a shallow one, so that a worker does not hoard attempts other
//! workers' free slots could run.
//! Both durations are moving averages of what this worker measured; until it has both, it claims nothing ahead, so that
//! a worker starting on long tasks does not take work from the workers beside it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The measured durations and the bounds.
#[derive(Debug)]
pub(crate) struct Prefetch {
    concurrency: usize,
    max: usize,
    /// How long a handler runs, in microseconds (0: not measured yet).
    run_us: AtomicU64,
    /// How long a poll that found work takes, in microseconds (0: not measured yet).
    round_trip_us: AtomicU64,
}

impl Prefetch {
    pub(crate) fn new(concurrency: usize, max: usize) -> Self {
        Prefetch {
            concurrency,
            max,
            run_us: AtomicU64::new(0),
            round_trip_us: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe_run(&self, took: Duration) {
        observe(&self.run_us, took);
    }

    pub(crate) fn observe_round_trip(&self, took: Duration) {
        observe(&self.round_trip_us, took);
    }

    /// How many attempts to hold now: the slots and those claimed ahead.
    pub(crate) fn target(&self) -> usize {
        let ahead = ahead(
            self.concurrency,
            self.max,
            self.run_us.load(Ordering::Relaxed),
            self.round_trip_us.load(Ordering::Relaxed),
        );
        self.concurrency.saturating_add(ahead)
    }
}

/// An exponentially weighted moving average (weight 1/8), seeded by the first sample.
fn observe(average: &AtomicU64, took: Duration) {
    let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
    let _ = average.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
        Some(match old {
            0 => sample,
            old => old - old / 8 + sample / 8,
        })
    });
}

/// Attempts to claim ahead: `concurrency × round trip / run time`, between 1 and `max` (0 when `max` is 0 or before
/// both durations are measured).
fn ahead(concurrency: usize, max: usize, run_us: u64, round_trip_us: u64) -> usize {
    if max == 0 {
        return 0;
    }
    if run_us == 0 || round_trip_us == 0 {
        return 0;
    }
    let wanted = u64::try_from(concurrency)
        .unwrap_or(u64::MAX)
        .saturating_mul(round_trip_us)
        .div_ceil(run_us);
    usize::try_from(wanted).unwrap_or(usize::MAX).clamp(1, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tasks_prefetch_deep_and_long_ones_shallow_within_the_bounds() {
        // Unmeasured: none.
        assert_eq!(ahead(8, 32, 0, 5_000), 0);
        assert_eq!(ahead(8, 4, 10, 0), 0);
        // A no-op task (10 µs) and a 5 ms round trip: as deep as allowed.
        assert_eq!(ahead(8, 32, 10, 5_000), 32);
        // A 2.5 ms task and a 5 ms round trip: two per slot.
        assert_eq!(ahead(8, 32, 2_500, 5_000), 16);
        // A 1 s task: one ahead, so that a slot that frees starts at once.
        assert_eq!(ahead(8, 32, 1_000_000, 5_000), 1);
        // Prefetching off.
        assert_eq!(ahead(8, 0, 10, 5_000), 0);
    }

    #[test]
    fn the_averages_follow_the_samples() {
        let prefetch = Prefetch::new(2, 100);
        assert_eq!(prefetch.target(), 2, "unmeasured: the slots alone");
        prefetch.observe_round_trip(Duration::from_millis(4));
        prefetch.observe_run(Duration::from_millis(4));
        assert_eq!(
            prefetch.target(),
            4,
            "a task as long as a round trip: one ahead per slot"
        );
        for _ in 0..64 {
            prefetch.observe_run(Duration::from_micros(100));
        }
        let ahead = prefetch.target() - 2;
        assert!(
            (70..=100).contains(&ahead),
            "short tasks now: about 40 per slot, {ahead} in all"
        );
    }
}
