//! Task nodes: a task node runs as attempts on workers. Queuing an attempt (with its limits, parked under a
//! `max_parallelism`), and turning an attempt's result into its node's event: outputs checked against the task's
//! interface, a dynamic spec handed to `dynamic.rs`, an error. The cache a task may have is in `cache.rs`.

use gantry_core::model::ExecutionError;
use gantry_core::resolve;
use gantry_core::state::{AttemptPhase, AttemptResult, NodeEvent};
use gantry_store::{AttemptRow, PARKED};
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::EngineResult;
use crate::ingress::CompiledSpec;
use crate::notify::ChangeScope;

impl Batch<'_> {
    pub(super) async fn enqueue_attempt(
        &mut self,
        key: &NodeKey,
        attempt: u32,
        not_before_ms: Option<i64>,
    ) -> EngineResult<()> {
        let task_id = self.rows.node(key).await?.task.clone().unwrap_or_default();
        let task = self.task(&task_id).await?;
        // Under a `max_parallelism`, a first attempt waits parked for a slot; a retry takes over the slot its failed
        // attempt held (both count as active), keeping its backoff.
        let not_before = match (not_before_ms, self.cap(key.0).await?) {
            (Some(not_before), _) => not_before,
            (None, Some(_)) => PARKED,
            (None, None) => self.now,
        };
        let limits = self.attempt_limits(key, &task, not_before).await?;
        // From the execution's facts, read once per process: the execution's row is not locked for it.
        let project = self.facts(key.0).await?.project.to_string();
        let row = AttemptRow {
            id: Uuid::now_v7(),
            execution_id: key.0,
            node_id: key.1.clone(),
            attempt: attempt as i32,
            queue: task.metadata.queue.clone(),
            task: task_id,
            project,
            phase: AttemptPhase::Queued,
            worker_id: None,
            not_before,
            lease_expires_at: None,
            timeout_ms: limits.timeout_ms,
            queue_timeout_ms: limits.queue_timeout_ms,
            deadline: limits.queue_deadline,
            error: None,
            created_at: self.now,
            started_at: None,
            finished_at: None,
        };
        self.add_attempt(row);
        if attempt > 0 {
            self.outcome.tally.retry();
        }
        self.changed(key.0, &key.1, Some(attempt), ChangeScope::Attempt, "queued");
        Ok(())
    }

    /// Turns an attempt's result into its node's event; a dynamic spec compiled at the edge comes as `compiled`.
    /// Returns the user error when the server refuses the result (outputs that do not match the task's interface, a
    /// spec that does not compile): the node fails with it, and so must the attempt.
    pub(crate) async fn attempt_finished(
        &mut self,
        key: &NodeKey,
        attempt: i32,
        result: AttemptResult,
        compiled: Option<&CompiledSpec>,
    ) -> EngineResult<Option<ExecutionError>> {
        let (event, refusal) = match result {
            AttemptResult::Outputs(outputs) => {
                let task_id = self.rows.node(key).await?.task.clone().unwrap_or_default();
                let task = self.task(&task_id).await?;
                match resolve::task_outputs(&outputs, &task.interface) {
                    Ok(outputs) => {
                        self.rows.node_mut(key).outputs = Some(codec::encode_literals(&outputs));
                        (NodeEvent::AttemptSucceeded, None)
                    }
                    Err(error) => {
                        let error = error.at_node(key.1.clone());
                        let event = NodeEvent::AttemptFailed {
                            error: error.clone(),
                            now_ms: self.now,
                        };
                        (event, Some(error))
                    }
                }
            }
            AttemptResult::DynamicSpec(spec) => match self.accept_spec(key, attempt, &spec, compiled).await? {
                NodeEvent::SpecRejected { error } => (NodeEvent::SpecRejected { error: error.clone() }, Some(error)),
                event => (event, None),
            },
            AttemptResult::Error(error) => (
                NodeEvent::AttemptFailed {
                    error: error.at_node(key.1.clone()),
                    now_ms: self.now,
                },
                None,
            ),
        };
        self.events.push_back((key.clone(), event));
        Ok(refusal)
    }
}
