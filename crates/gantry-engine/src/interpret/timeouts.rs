//! Timeouts: the limits an attempt gets when it is queued (its attempt timeout, and the deadline by which a worker
//! must claim it), and the sweep's handling of passed deadlines. The core decides what a passed deadline means
//! (`AttemptEvent::DeadlinePassed`, `ExecutionEvent::TimedOut`); this file finds the rows and persists the result.
//! Nothing here holds a timer: the sweeper wakes at the earliest deadline the store knows of.

use gantry_core::model::TaskTemplate;
use gantry_core::state::{self, AttemptEvent, ExecutionEvent};

use gantry_store::PARKED;

use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::EngineResult;
use crate::worker::attempt_state;

/// The limits of a new attempt, as stored on its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttemptLimits {
    /// The attempt timeout, counted from the claim.
    pub timeout_ms: Option<i64>,
    /// The queue timeout, counted from when the attempt becomes claimable.
    pub queue_timeout_ms: Option<i64>,
    /// When a worker must have claimed it by.
    pub queue_deadline: Option<i64>,
}

impl Batch<'_> {
    /// The node's timeout override, else the task's; and the queue deadline of an attempt claimable from
    /// `not_before` (none while parked under `max_parallelism`: its release sets it).
    pub(crate) async fn attempt_limits(
        &mut self,
        key: &NodeKey,
        task: &TaskTemplate,
        not_before: i64,
    ) -> EngineResult<AttemptLimits> {
        let definition = codec::decode_node(&self.rows.node(key).await?.definition)?;
        let timeout = definition.overrides.timeout.or(task.metadata.timeout);
        let queue_timeout_ms = task.metadata.queue_timeout.map(|t| t.as_millis());
        let limits = AttemptLimits {
            timeout_ms: timeout.map(|t| t.as_millis()),
            queue_timeout_ms,
            queue_deadline: match not_before {
                PARKED => None,
                _ => state::attempt::queue_deadline(not_before, queue_timeout_ms),
            },
        };
        if limits.queue_timeout_ms.is_some() {
            self.wake_sweeper();
        }
        Ok(limits)
    }

    /// Times out queued and running attempts whose deadline passed, and executions past theirs. Returns how many
    /// rows it looked at.
    pub(crate) async fn pass_deadlines(&mut self, limit: u32) -> EngineResult<usize> {
        self.rows.flush().await?;
        let rows = self.rows.tx.overdue_attempts(self.now, limit).await?;
        let mut count = rows.len();
        self.rows.hold_attempts(rows.clone());
        self.load_attempt_nodes(&rows).await?;
        for row in rows {
            let event = AttemptEvent::DeadlinePassed { now_ms: self.now };
            let Ok((next, effect)) = state::attempt::transition(&attempt_state(&row), event) else {
                continue;
            };
            if next.phase == row.phase {
                continue;
            }
            tracing::info!(execution_id = %row.execution_id, node_id = %row.node_id, attempt = row.attempt,
                was = %row.phase, "attempt timed out");
            self.end_attempt(row, next.phase, effect).await?;
        }
        self.run().await?;

        self.rows.flush().await?;
        let executions = self.rows.tx.overdue_executions(self.now, limit).await?;
        count += executions.len();
        for id in executions {
            tracing::info!(execution_id = %id, "execution timed out");
            self.execution_events.push_back((id, ExecutionEvent::TimedOut));
        }
        self.run().await?;
        Ok(count)
    }
}
