//! Transitions the core refused. The engine asks the core only for what its tables have a row for, so a refusal is a
//! bug in the engine: it is counted and logged, and under `strict_transitions` (every test) it fails the batch that
//! asked, so that no test passes over one.

use std::sync::atomic::{AtomicU64, Ordering};

use gantry_core::state::TransitionError;
use tracing::error;

use crate::error::{EngineError, EngineResult};

#[derive(Debug)]
pub(crate) struct Refusals {
    count: AtomicU64,
    strict: bool,
}

impl Refusals {
    pub fn new(strict: bool) -> Self {
        Refusals {
            count: AtomicU64::new(0),
            strict,
        }
    }

    /// Records that the core refused `refused` for `subject` (what the event was about: a node, an execution).
    pub fn refused(&self, subject: &str, refused: &TransitionError) -> EngineResult<()> {
        self.disagreed(subject, refused)
    }

    /// Records that what the store wrote for `subject` is not what the core decided.
    pub fn disagreed(&self, subject: &str, refused: &dyn std::fmt::Display) -> EngineResult<()> {
        self.count.fetch_add(1, Ordering::Relaxed);
        error!(subject, error = %refused, "transition refused");
        if self.strict {
            return Err(EngineError::Internal(format!(
                "transition refused for {subject}: {refused}"
            )));
        }
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal() -> TransitionError {
        TransitionError::Invalid {
            machine: "node",
            phase: "succeeded",
            event: "start",
        }
    }

    #[test]
    fn a_strict_engine_fails_on_a_refusal_and_a_lenient_one_counts_it() {
        let strict = Refusals::new(true);
        let error = strict.refused("node \"n0\"", &refusal()).expect_err("strict");
        assert_eq!(
            error.to_string(),
            "internal error: transition refused for node \"n0\": node in phase succeeded cannot take event start"
        );
        let lenient = Refusals::new(false);
        lenient.refused("node \"n0\"", &refusal()).expect("lenient");
        lenient.disagreed("attempt 0", &"written otherwise").expect("lenient");
        assert_eq!((strict.count(), lenient.count()), (1, 2));
    }
}
