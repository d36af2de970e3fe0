//! `max_parallelism`: at most that many task attempts of an execution (dynamic children, sub-workflows and array
//! elements included) hold a slot at once — queued and claimable, or running. Further attempts are inserted parked
//! (never claimable) and released oldest first when a batch that finished some of the execution's attempts ends.
//! Executions without a limit never pay for it: their attempts are claimable at once and nothing is counted.

use std::collections::BTreeSet;
use std::sync::Arc;

use uuid::Uuid;

use crate::batch::Batch;
use crate::error::EngineResult;
use crate::shared::ExecutionFacts;

impl Batch<'_> {
    /// The execution's `max_parallelism`.
    pub async fn cap(&mut self, execution_id: Uuid) -> EngineResult<Option<u32>> {
        Ok(self.facts(execution_id).await?.cap)
    }

    /// What never changes about the execution, read once per process.
    pub async fn facts(&mut self, execution_id: Uuid) -> EngineResult<ExecutionFacts> {
        if let Some(facts) = self.shared.facts(execution_id) {
            return Ok(facts);
        }
        let row = self.rows.execution(execution_id).await?;
        let facts = ExecutionFacts {
            project: row.project.as_str().into(),
            cap: row.max_parallelism.map(|n| n.max(0) as u32),
            recovered_from: row.source_execution_id.filter(|_| row.origin == "recovered"),
            trace_context: row.trace_context.as_deref().map(Arc::from),
        };
        self.shared.remember_facts(execution_id, facts.clone());
        Ok(facts)
    }

    /// Notes that the execution's attempts changed (one was queued, finished or aborted): its slots are recounted
    /// before the batch commits, if it has a limit.
    pub async fn attempts_changed(&mut self, execution_id: Uuid) -> EngineResult<()> {
        if self.cap(execution_id).await?.is_some() {
            self.rebalance.insert(execution_id);
        }
        Ok(())
    }

    /// Releases parked attempts of the executions whose attempts changed, up to each one's free slots.
    pub async fn release_slots(&mut self) -> EngineResult<()> {
        if self.rebalance.is_empty() {
            return Ok(());
        }
        self.rows.flush().await?;
        for execution_id in std::mem::take(&mut self.rebalance) {
            let Some(cap) = self.cap(execution_id).await? else {
                continue;
            };
            let active = self.rows.tx.count_active_attempts(execution_id).await?;
            let free = u64::from(cap.max(1)).saturating_sub(active);
            if free > 0 {
                let queues = self.rows.tx.unpark_attempts(execution_id, free, self.now).await?;
                self.rows.forget_attempts(execution_id);
                self.outcome.woken.extend(queues);
            }
        }
        Ok(())
    }
}

/// Executions whose slots must be recounted before a batch commits.
pub(crate) type Rebalance = BTreeSet<Uuid>;
