//! Exponential backoff with jitter, for retrying RPCs while the server is unavailable.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Doubles from `initial` up to `max`; each delay is jittered down by up to a quarter so that a fleet of workers
/// that lost the server together does not come back in lockstep.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            current: initial,
        }
    }

    /// The next delay to wait.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.current;
        self.current = (self.current * 2).min(self.max);
        let jitter_range = u64::try_from(delay.as_nanos() / 4).unwrap_or(u64::MAX);
        if jitter_range == 0 {
            return delay;
        }
        // The clock's nanoseconds are random enough for jitter and need no dependency.
        let noise = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()));
        delay.saturating_sub(Duration::from_nanos(noise % jitter_range))
    }

    /// Back to the initial delay, after a success.
    pub(crate) fn reset(&mut self) {
        self.current = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum_with_bounded_jitter() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<Duration> = (0..5).map(|_| backoff.next_delay()).collect();
        let nominal = [100, 200, 350, 350, 350];
        for (delay, nominal) in delays.iter().zip(nominal) {
            let nominal = Duration::from_millis(nominal);
            assert!(
                *delay <= nominal && *delay >= nominal * 3 / 4,
                "{delay:?} vs {nominal:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
