//! What workers do: claim attempts, heartbeat their leases, complete them; and the sweep that fails attempts whose
//! lease expired (deadlines are in `interpret/timeouts.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use gantry_core::model::TaskTemplate;
use gantry_core::state::{
    self, AttemptEffect, AttemptEvent, AttemptPhase, AttemptResult, AttemptState, NodeEvent, TransitionError,
};
use gantry_store::AttemptRow;
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::ingress::Admitted;
use crate::notify::ChangeScope;

/// Names an attempt: its execution, scoped node id and attempt number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptRef {
    pub execution_id: Uuid,
    pub node_id: String,
    pub attempt: u32,
}

/// Who claims: the worker id its attempts are recorded under (heartbeats and completions must present the same), and
/// the one project whose executions' attempts it may claim (`None`: every project's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    pub worker_id: String,
    pub project: Option<String>,
}

/// A claimed attempt with everything a worker needs to run it.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub attempt: AttemptRef,
    /// The lease's id (the attempt row's id): heartbeats and completions present it.
    pub lease_id: Uuid,
    pub lease_expires_at_ms: i64,
    /// When the attempt times out (claim time + the attempt timeout); `None` without a timeout.
    pub deadline_ms: Option<i64>,
    /// The task, with the node's timeout override applied to its metadata.
    pub task: Arc<TaskTemplate>,
    /// protobuf-encoded LiteralMap of the resolved inputs.
    pub inputs: Vec<u8>,
    /// The execution's W3C trace context, as stored (`gantry_telemetry::TraceContext::to_stored`).
    pub trace_context: Option<Arc<str>>,
}

/// What a worker must do about one attempt it heartbeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStatus {
    Extended {
        until_ms: i64,
    },
    /// The attempt was aborted or timed out: stop it.
    Cancel,
    /// The lease is gone: stop it; its completion would be refused.
    Lost,
}

/// One finished attempt, as reported.
#[derive(Debug, Clone)]
pub struct Completion {
    pub attempt: AttemptRef,
    pub lease_id: Uuid,
    pub result: AttemptResult,
    /// The result's size as received (protobuf-encoded), checked against the spec limit without encoding it again.
    pub result_bytes: u64,
    /// A dynamic spec as received (protobuf-encoded), stored as it is; `None` has the engine encode it.
    pub encoded_spec: Option<Vec<u8>>,
}

/// Whether a completion was recorded, and the attempt's phase after it.
pub type CompletionOutcome = Result<AttemptPhase, EngineError>;

impl Batch<'_> {
    /// Reads the nodes of these attempts: one statement per execution, not one per attempt.
    pub(crate) async fn load_attempt_nodes<'r>(
        &mut self,
        rows: impl IntoIterator<Item = &'r AttemptRow>,
    ) -> EngineResult<()> {
        for (execution_id, node_ids) in &nodes_by_execution(rows) {
            self.rows.load_nodes(*execution_id, node_ids).await?;
        }
        Ok(())
    }

    /// Starts the nodes of claimed attempts ahead of their `AttemptStarted` events: one statement per execution
    /// writes them `running` and reads them (see [`crate::rows::Rows::start_nodes`]).
    async fn start_attempt_nodes(&mut self, rows: &[AttemptRow]) -> EngineResult<()> {
        for (execution_id, node_ids) in &nodes_by_execution(rows) {
            self.rows.start_nodes(*execution_id, node_ids, self.now).await?;
        }
        Ok(())
    }

    pub async fn claim(
        &mut self,
        claimant: &Claimant,
        queues: &[String],
        limit: u32,
        lease_ms: i64,
    ) -> EngineResult<Vec<Assignment>> {
        self.rows.write_attempts().await?;
        let worker_id = claimant.worker_id.as_str();
        let claim = gantry_store::Claim {
            queues,
            project: claimant.project.as_deref(),
            limit,
            worker_id,
            now: self.now,
            lease_ms,
        };
        let rows = self.rows.tx.claim_attempts(&claim).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        self.shared.compaction.claimed(rows.len(), &self.shared.store);
        self.rows.hold_written_attempts(rows.clone());
        self.start_attempt_nodes(&rows).await?;
        let mut assignments = Vec::with_capacity(rows.len());
        for row in rows {
            let key: NodeKey = (row.execution_id, row.node_id.clone());
            self.check_claim(&row, worker_id, lease_ms)?;
            self.outcome.tally.claimed(&row, self.now);
            self.changed(key.0, &key.1, Some(row.attempt as u32), ChangeScope::Attempt, "running");
            self.events.push_back((key.clone(), NodeEvent::AttemptStarted));
            let mut task = self.task(&row.task).await?;
            let timeout = row.timeout_ms.map(gantry_core::model::Duration::from_millis);
            if timeout != task.metadata.timeout {
                Arc::make_mut(&mut task).metadata.timeout = timeout;
            }
            if row.deadline.is_some() {
                self.wake_sweeper();
            }
            let inputs = self.rows.node(&key).await?.inputs.clone().unwrap_or_default();
            // Read once per execution and process, as its project is: no statement per attempt.
            let trace_context = self.facts(row.execution_id).await?.trace_context;
            assignments.push(Assignment {
                attempt: AttemptRef {
                    execution_id: row.execution_id,
                    node_id: row.node_id.clone(),
                    attempt: row.attempt as u32,
                },
                lease_id: row.id,
                lease_expires_at_ms: row.lease_expires_at.unwrap_or(self.now + lease_ms),
                deadline_ms: row.deadline,
                task,
                inputs,
                trace_context,
            });
        }
        self.run().await?;
        Ok(assignments)
    }

    pub async fn heartbeat(
        &mut self,
        worker_id: &str,
        leases: &[(AttemptRef, Uuid)],
        lease_ms: i64,
    ) -> EngineResult<Vec<LeaseStatus>> {
        let ids: Vec<Uuid> = leases.iter().map(|(_, id)| *id).collect();
        self.rows.lock_attempts(&ids).await?;
        let mut statuses = Vec::with_capacity(leases.len());
        let mut holders = Vec::new();
        for (attempt, lease_id) in leases {
            let Some(mut row) = self.leased_attempt(lease_id, attempt) else {
                statuses.push(LeaseStatus::Lost);
                continue;
            };
            let event = AttemptEvent::Heartbeat {
                worker_id: worker_id.to_owned(),
                now_ms: self.now,
                lease_ms,
            };
            let status = match state::attempt::transition(&attempt_state(&row), event) {
                Ok((next, _)) => {
                    row.lease_expires_at = next.lease_expires_at_ms;
                    self.rows.update_attempt(row.clone());
                    if self.task(&row.task).await?.metadata.cache_serializable {
                        holders.push((row.execution_id, row.node_id.clone()));
                    }
                    LeaseStatus::Extended {
                        until_ms: next.lease_expires_at_ms.unwrap_or(self.now),
                    }
                }
                Err(_) if matches!(row.phase, AttemptPhase::Aborted | AttemptPhase::TimedOut) => LeaseStatus::Cancel,
                // Past its deadline the attempt is timing out (the sweep records it): the worker must stop.
                Err(TransitionError::DeadlinePassed { .. }) => LeaseStatus::Cancel,
                Err(_) => LeaseStatus::Lost,
            };
            statuses.push(status);
        }
        self.extend_reservations(holders).await?;
        Ok(statuses)
    }

    pub async fn complete(
        &mut self,
        worker_id: &str,
        completions: &[Admitted],
    ) -> EngineResult<Vec<CompletionOutcome>> {
        let ids: Vec<Uuid> = completions.iter().map(|c| c.completion.lease_id).collect();
        self.rows.lock_attempts(&ids).await?;
        let rows: Vec<AttemptRow> = ids
            .iter()
            .filter_map(|id| self.rows.held_attempt(id).cloned())
            .collect();
        self.load_attempt_nodes(&rows).await?;
        let mut outcomes = Vec::with_capacity(completions.len());
        for Admitted { completion, spec } in completions {
            let Some(mut row) = self.leased_attempt(&completion.lease_id, &completion.attempt) else {
                // Told apart from a made-up lease on a real attempt after the batch, by a read that does not hold
                // up the writer (`Engine::complete`).
                outcomes.push(Err(EngineError::NotFound(format!(
                    "no attempt {} of node {} in execution {} holds lease {}",
                    completion.attempt.attempt,
                    gantry_core::names::quote(&completion.attempt.node_id),
                    completion.attempt.execution_id,
                    completion.lease_id
                ))));
                continue;
            };
            let event = AttemptEvent::Complete {
                worker_id: worker_id.to_owned(),
                now_ms: self.now,
                result: completion.result.clone(),
            };
            let (next, effect) = match state::attempt::transition(&attempt_state(&row), event) {
                Ok(decision) => decision,
                Err(refused) => {
                    outcomes.push(Err(refusal_error(&completion.attempt, refused)));
                    continue;
                }
            };
            let key: NodeKey = (row.execution_id, row.node_id.clone());
            let attempt = row.attempt;
            // The result is judged before the attempt is written: a refused one fails the attempt as it fails the
            // node, so that the attempt's record and this completion's answer say what the node says.
            let refusal = match &effect {
                AttemptEffect::Finished(result) => {
                    self.attempt_finished(&key, attempt, result.clone(), spec.as_deref())
                        .await?
                }
                _ => None,
            };
            let (next, effect) = match refusal {
                Some(error) => state::attempt::transition(&next, AttemptEvent::ResultRefused { error })
                    .map_err(|refused| refusal_error(&completion.attempt, refused))?,
                None => (next, effect),
            };
            self.outcome.tally.attempt_ended(&row, next.phase, self.now);
            row.phase = next.phase;
            row.finished_at = Some(self.now);
            if let AttemptEffect::Finished(AttemptResult::Error(error)) = &effect {
                row.error = Some(codec::encode_error(error));
            }
            self.rows.update_attempt(row.clone());
            tracing::debug!(execution_id = %key.0, node_id = %key.1, attempt, worker_id, phase = next.phase.as_str(),
                "attempt completed");
            self.changed(
                key.0,
                &key.1,
                Some(attempt as u32),
                ChangeScope::Attempt,
                next.phase.as_str(),
            );
            outcomes.push(Ok(next.phase));
        }
        self.run().await?;
        Ok(outcomes)
    }

    /// Fails running attempts whose lease expired (their nodes retry under the system budget) and times out attempts
    /// and executions past their deadlines. Returns how many rows it looked at.
    pub async fn sweep(&mut self, limit: u32) -> EngineResult<usize> {
        let expired = self.expire_leases(limit).await?;
        let passed = self.pass_deadlines(limit).await?;
        let gates = self.pass_gate_deadlines(limit).await?;
        Ok(expired + passed + gates + self.tick(limit).await?)
    }

    /// Fails running attempts whose lease expired; their nodes retry under the system budget.
    async fn expire_leases(&mut self, limit: u32) -> EngineResult<usize> {
        self.rows.flush().await?;
        let rows = self.rows.tx.expired_attempts(self.now, limit).await?;
        let count = rows.len();
        self.rows.hold_attempts(rows.clone());
        self.load_attempt_nodes(&rows).await?;
        for row in rows {
            let (next, effect) =
                match state::attempt::transition(&attempt_state(&row), AttemptEvent::LeaseExpired { now_ms: self.now })
                {
                    Ok(decision) => decision,
                    Err(_) => continue,
                };
            if next.phase == row.phase {
                continue;
            }
            tracing::warn!(execution_id = %row.execution_id, node_id = %row.node_id, attempt = row.attempt,
                worker_id = row.worker_id.as_deref().unwrap_or(""), "lease expired");
            self.outcome.tally.lease_expired();
            self.end_attempt(row, next.phase, effect).await?;
        }
        self.run().await?;
        Ok(count)
    }
}

impl Batch<'_> {
    /// Ends an attempt the server decided on (a lease expired, a deadline passed): records its new phase and error,
    /// tells watchers, and lets its node react.
    pub(crate) async fn end_attempt(
        &mut self,
        mut row: AttemptRow,
        phase: AttemptPhase,
        effect: AttemptEffect,
    ) -> EngineResult<()> {
        self.outcome.tally.attempt_ended(&row, phase, self.now);
        row.phase = phase;
        row.finished_at = Some(self.now);
        if let AttemptEffect::Finished(AttemptResult::Error(error)) = &effect {
            row.error = Some(codec::encode_error(error));
        }
        let key: NodeKey = (row.execution_id, row.node_id.clone());
        let attempt = row.attempt;
        self.rows.update_attempt(row);
        self.changed(
            key.0,
            &key.1,
            Some(attempt as u32),
            ChangeScope::Attempt,
            phase.as_str(),
        );
        if let AttemptEffect::Finished(result) = effect {
            self.attempt_finished(&key, attempt, result, None).await?;
        }
        Ok(())
    }
}

impl Batch<'_> {
    /// Checks that the store wrote the claim of `row` as the core's `Claim` transition decides. The store picked the
    /// row by the core's rule (`attempt::claimable`), queue deadline included, in one statement for many attempts.
    fn check_claim(&self, row: &AttemptRow, worker_id: &str, lease_ms: i64) -> EngineResult<()> {
        let claim = AttemptEvent::Claim {
            worker_id: worker_id.to_owned(),
            now_ms: self.now,
            lease_ms,
            timeout_ms: row.timeout_ms,
        };
        let claimed = attempt_state(row);
        match state::attempt::transition(&AttemptState::queued(), claim) {
            Ok((decided, _)) if decided == claimed => Ok(()),
            Ok((decided, _)) => {
                let subject = format!(
                    "attempt {} of node {:?} in execution {}",
                    row.attempt, row.node_id, row.execution_id
                );
                let detail = format!("the store claimed it as {claimed:?}; the core decides {decided:?}");
                self.shared.refusals.disagreed(&subject, &detail)
            }
            Err(refused) => self.refused(&(row.execution_id, row.node_id.clone()), &refused),
        }
    }

    /// The held attempt under `lease_id`, if it is the named attempt (a lease id names one attempt row).
    fn leased_attempt(&self, lease_id: &Uuid, attempt: &AttemptRef) -> Option<AttemptRow> {
        self.rows
            .held_attempt(lease_id)
            .filter(|row| same_attempt(row, attempt))
            .cloned()
    }
}

fn same_attempt(row: &AttemptRow, attempt: &AttemptRef) -> bool {
    row.execution_id == attempt.execution_id && row.node_id == attempt.node_id && row.attempt as u32 == attempt.attempt
}

pub(crate) fn attempt_state(row: &AttemptRow) -> AttemptState {
    AttemptState {
        phase: row.phase,
        worker_id: row.worker_id.clone(),
        lease_expires_at_ms: row.lease_expires_at,
        deadline_ms: row.deadline,
    }
}

fn refusal_error(attempt: &AttemptRef, refused: TransitionError) -> EngineError {
    EngineError::FailedPrecondition(format!(
        "attempt {} of node {:?} in execution {}: {refused}",
        attempt.attempt, attempt.node_id, attempt.execution_id
    ))
}

/// The node ids of these attempts, by execution.
fn nodes_by_execution<'r>(rows: impl IntoIterator<Item = &'r AttemptRow>) -> BTreeMap<Uuid, Vec<String>> {
    let mut by_execution: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    for row in rows {
        by_execution
            .entry(row.execution_id)
            .or_default()
            .push(row.node_id.clone());
    }
    by_execution
}
