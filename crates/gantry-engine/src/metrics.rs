//! What the engine counts for operators, through the `metrics` facade: the server installs a Prometheus recorder;
//! without one every call here does nothing. What a batch decided is gathered in its [`Tally`] and emitted only after
//! the batch committed, so that a batch rolled back (and retried command by command) counts once. Every name and
//! label is documented in docs/METRICS.md; labels are phases, outcomes and queue names, never ids.

use std::collections::HashMap;
use std::time::Duration;

use gantry_core::state::{AttemptPhase, CacheStatus, ExecutionPhase, NodePhase};
use gantry_store::{AttemptRow, PARKED};

/// What one batch did that operators count.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    nodes_finished: HashMap<&'static str, u64>,
    executions_finished: HashMap<&'static str, u64>,
    retries: u64,
    attempt_timeouts: u64,
    lease_expiries: u64,
    cache_hits: u64,
    cache_misses: u64,
    /// Seconds from claimable to claimed, by queue.
    queue_waits: HashMap<String, Vec<f64>>,
    /// Seconds from claimed to ended, and how the attempt ended, by queue.
    attempt_runs: HashMap<String, Vec<(&'static str, f64)>>,
}

impl Tally {
    pub fn node_finished(&mut self, phase: NodePhase, count: u64) {
        *self.nodes_finished.entry(phase.as_str()).or_default() += count;
    }

    pub fn execution_finished(&mut self, phase: ExecutionPhase) {
        *self.executions_finished.entry(phase.as_str()).or_default() += 1;
    }

    pub fn retry(&mut self) {
        self.retries += 1;
    }

    pub fn lease_expired(&mut self) {
        self.lease_expiries += 1;
    }

    /// A node's cache status moved from `before` to `after`: a lookup that hit or missed.
    pub fn cache(&mut self, before: CacheStatus, after: CacheStatus) {
        if before == after {
            return;
        }
        match after {
            CacheStatus::Hit => self.cache_hits += 1,
            CacheStatus::Miss => self.cache_misses += 1,
            _ => {}
        }
    }

    /// An attempt claimed at `now`: how long it waited since it became claimable.
    pub fn claimed(&mut self, row: &AttemptRow, now: i64) {
        let ready = if row.not_before == PARKED {
            row.created_at
        } else {
            row.not_before.max(row.created_at)
        };
        of_queue(&mut self.queue_waits, &row.queue).push(seconds(now - ready));
    }

    /// An attempt ended at `now` in `phase` (a completion, a lease expiry, a deadline).
    pub fn attempt_ended(&mut self, row: &AttemptRow, phase: AttemptPhase, now: i64) {
        if phase == AttemptPhase::TimedOut {
            self.attempt_timeouts += 1;
        }
        if let Some(started) = row.started_at {
            of_queue(&mut self.attempt_runs, &row.queue).push((phase.as_str(), seconds(now - started)));
        }
    }

    /// Hands everything counted to the recorder.
    pub fn emit(self) {
        for (phase, count) in self.nodes_finished {
            metrics::counter!("gantry_nodes_finished_total", "phase" => phase).increment(count);
        }
        for (phase, count) in self.executions_finished {
            metrics::counter!("gantry_executions_finished_total", "phase" => phase).increment(count);
        }
        let counters = [
            ("gantry_retries_total", self.retries),
            ("gantry_timeouts_total", self.attempt_timeouts),
            ("gantry_lease_expiries_total", self.lease_expiries),
        ];
        for (name, count) in counters {
            if count > 0 {
                metrics::counter!(name).increment(count);
            }
        }
        for (result, count) in [("hit", self.cache_hits), ("miss", self.cache_misses)] {
            if count > 0 {
                metrics::counter!("gantry_cache_lookups_total", "result" => result).increment(count);
            }
        }
        for (queue, waits) in self.queue_waits {
            let histogram = metrics::histogram!("gantry_queue_wait_seconds", "queue" => queue);
            waits.into_iter().for_each(|wait| histogram.record(wait));
        }
        for (queue, runs) in self.attempt_runs {
            let mut by_outcome: HashMap<&'static str, Vec<f64>> = HashMap::new();
            for (outcome, run) in runs {
                by_outcome.entry(outcome).or_default().push(run);
            }
            for (outcome, runs) in by_outcome {
                let histogram = metrics::histogram!(
                    "gantry_attempt_duration_seconds", "queue" => queue.clone(), "outcome" => outcome
                );
                runs.into_iter().for_each(|run| histogram.record(run));
            }
        }
    }
}

/// One writer batch: how many commands it carried and how long its commit took.
pub(crate) fn batch_committed(commands: usize, commit: Duration) {
    metrics::histogram!("gantry_writer_batch_commands").record(commands as f64);
    metrics::histogram!("gantry_writer_commit_seconds").record(commit.as_secs_f64());
}

/// How long the writer waited for a connection and its transaction to begin.
pub(crate) fn transaction_begun(waited: Duration) {
    metrics::histogram!("gantry_store_acquire_seconds").record(waited.as_secs_f64());
}

/// Bytes moved to or read from the blob store.
pub(crate) fn offloaded(direction: &'static str, bytes: usize) {
    metrics::counter!("gantry_offloaded_bytes_total", "direction" => direction).increment(bytes as u64);
}

/// The queue's entry, its name copied only the first time (not once per attempt of a fan-out).
fn of_queue<'m, T>(map: &'m mut HashMap<String, Vec<T>>, queue: &str) -> &'m mut Vec<T> {
    if !map.contains_key(queue) {
        map.insert(queue.to_owned(), Vec::new());
    }
    map.get_mut(queue).expect("inserted above")
}

fn seconds(millis: i64) -> f64 {
    millis.max(0) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_lookup_counts_once_when_the_status_moves() {
        let mut tally = Tally::default();
        tally.cache(CacheStatus::Disabled, CacheStatus::Miss);
        tally.cache(CacheStatus::Miss, CacheStatus::Miss);
        tally.cache(CacheStatus::Miss, CacheStatus::Populated);
        tally.cache(CacheStatus::Disabled, CacheStatus::Hit);
        assert_eq!((tally.cache_hits, tally.cache_misses), (1, 1));
    }

    #[test]
    fn queue_wait_counts_from_when_the_attempt_became_claimable() {
        let mut tally = Tally::default();
        let row = |not_before: i64| AttemptRow {
            id: uuid::Uuid::now_v7(),
            execution_id: uuid::Uuid::now_v7(),
            node_id: "n".into(),
            attempt: 0,
            queue: "q".into(),
            task: "t".into(),
            project: "p".into(),
            phase: AttemptPhase::Queued,
            worker_id: None,
            not_before,
            lease_expires_at: None,
            timeout_ms: None,
            queue_timeout_ms: None,
            deadline: None,
            error: None,
            created_at: 1_000,
            started_at: None,
            finished_at: None,
        };
        tally.claimed(&row(500), 3_000);
        tally.claimed(&row(2_000), 3_000);
        tally.claimed(&row(PARKED), 3_000);
        assert_eq!(tally.queue_waits["q"], vec![2.0, 1.0, 2.0]);
    }
}
