//! What workers do: claim attempts, heartbeat their leases, complete them; and the sweep that fails attempts whose
//! lease expired (deadlines are in `timeouts.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use gantry_core::compile::{Registry, compile_dynamic};
use gantry_core::model::{DynamicJobSpec, ExecutionError, TaskTemplate};
use gantry_core::resolve;
use gantry_core::state::{
    self, AttemptEffect, AttemptEvent, AttemptPhase, AttemptResult, AttemptState, CompositePlan, NodeEvent,
    TransitionError,
};
use gantry_store::{AttemptRow, PutOutcome, ResourceKind, ResourceRow, SpecRow};
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::composite::Children;
use crate::error::{EngineError, EngineResult};
use crate::ingress::{Admitted, CompiledSpec};
use crate::notify::ChangeScope;

/// Names an attempt: its execution, scoped node id and attempt number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptRef {
    pub execution_id: Uuid,
    pub node_id: String,
    pub attempt: u32,
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
        let mut by_execution: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
        for row in rows {
            by_execution
                .entry(row.execution_id)
                .or_default()
                .push(row.node_id.clone());
        }
        for (execution_id, node_ids) in &by_execution {
            self.load_nodes(*execution_id, node_ids).await?;
        }
        Ok(())
    }

    pub async fn claim(
        &mut self,
        worker_id: &str,
        queues: &[String],
        limit: u32,
        lease_ms: i64,
    ) -> EngineResult<Vec<Assignment>> {
        self.write_attempts().await?;
        let rows = self
            .tx
            .claim_attempts(queues, limit, worker_id, self.now, lease_ms)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        self.shared.compaction.claimed(rows.len(), &self.shared.store);
        self.hold_written_attempts(rows.clone());
        self.load_attempt_nodes(&rows).await?;
        let mut assignments = Vec::with_capacity(rows.len());
        for row in rows {
            let key: NodeKey = (row.execution_id, row.node_id.clone());
            self.check_claim(&row, worker_id, lease_ms)?;
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
            let inputs = self.node(&key).await?.inputs.clone().unwrap_or_default();
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
        self.lock_attempts(&ids).await?;
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
                    self.update_attempt(row.clone());
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
        self.lock_attempts(&ids).await?;
        let rows: Vec<AttemptRow> = ids.iter().filter_map(|id| self.held_attempt(id).cloned()).collect();
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
            row.phase = next.phase;
            row.finished_at = Some(self.now);
            if let AttemptEffect::Finished(AttemptResult::Error(error)) = &effect {
                row.error = Some(codec::encode_error(error));
            }
            self.update_attempt(row.clone());
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
        Ok(expired + self.pass_deadlines(limit).await?)
    }

    /// Fails running attempts whose lease expired; their nodes retry under the system budget.
    async fn expire_leases(&mut self, limit: u32) -> EngineResult<usize> {
        self.flush().await?;
        let rows = self.tx.expired_attempts(self.now, limit).await?;
        let count = rows.len();
        self.hold_attempts(rows.clone());
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
            self.end_attempt(row, next.phase, effect).await?;
        }
        self.run().await?;
        Ok(count)
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
                let task_id = self.node(key).await?.task.clone().unwrap_or_default();
                let task = self.task(&task_id).await?;
                match resolve::task_outputs(&outputs, &task.interface) {
                    Ok(outputs) => {
                        self.node_mut(key).outputs = Some(codec::encode_literals(&outputs));
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

    /// Compiles a generator's spec against its task's output interface. Accepted: persisted (with its embedded
    /// tasks registered) and kept for creating the children. Rejected: the node fails with every compile error.
    async fn accept_spec(
        &mut self,
        key: &NodeKey,
        attempt: i32,
        spec: &DynamicJobSpec,
        compiled: Option<&CompiledSpec>,
    ) -> EngineResult<NodeEvent> {
        let task_id = self.node(key).await?.task.clone().unwrap_or_default();
        let task = self.task(&task_id).await?;
        let reject = |message: String| NodeEvent::SpecRejected {
            error: ExecutionError::user("compile_error", message)
                .recoverable(false)
                .at_node(key.1.clone()),
        };
        let graph = match compiled {
            Some(compiled) => compiled.graph.clone(),
            None => {
                let registry = self
                    .shared
                    .templates
                    .registry_for(self.tx.as_mut(), &spec.nodes, &Registry::new())
                    .await?;
                compile_dynamic(spec, &task.interface, &registry)
                    .map(Arc::new)
                    .map_err(|errors| errors.to_string())
            }
        };
        let graph = match graph {
            Ok(graph) => graph,
            Err(errors) => return Ok(reject(format!("the dynamic spec does not compile: {errors}"))),
        };
        let embedded = spec
            .tasks
            .iter()
            .map(|task| (ResourceKind::Task, "task", &task.id, codec::encode_task(task)))
            .chain(spec.subworkflows.iter().map(|workflow| {
                let template = codec::encode_workflow(workflow);
                (ResourceKind::Workflow, "workflow", &workflow.id, template)
            }));
        for (kind, what, id, template) in embedded {
            let row = ResourceRow {
                key: codec::resource_key(id),
                template,
                created_at: self.now,
            };
            match self.tx.get_resource(kind, &row.key).await? {
                Some(existing) if existing.template != row.template => {
                    return Ok(reject(format!(
                        "embedded {what} {id} differs from the {what} registered under that id"
                    )));
                }
                Some(_) => {}
                None => {
                    let outcome = self.tx.put_resource(kind, &row).await?;
                    debug_assert_eq!(outcome, PutOutcome::Created);
                }
            }
        }
        let bytes = match compiled {
            Some(compiled) => compiled.bytes.clone(),
            None => codec::spec_to_store(codec::encode_spec(spec).into()),
        };
        self.install_spec(key, attempt, spec, graph, &task, bytes);
        Ok(NodeEvent::SpecCompiled)
    }

    /// Keeps a compiled spec for the node's attempt: stored as `bytes` (so the generator never runs again for it),
    /// its output assembly remembered, its children prepared.
    pub fn install_spec(
        &mut self,
        key: &NodeKey,
        attempt: i32,
        spec: &DynamicJobSpec,
        graph: Arc<gantry_core::compile::CompiledGraph>,
        task: &TaskTemplate,
        bytes: bytes::Bytes,
    ) {
        // The graph's outputs are the spec's (a spec compiled as it was accepted no longer has them).
        let plan = CompositePlan::dynamic(
            graph.outputs.clone(),
            task.interface.outputs.clone(),
            spec.min_successes,
        );
        self.add_spec(SpecRow {
            execution_id: key.0,
            node_id: key.1.clone(),
            attempt,
            spec: bytes,
            created_at: self.now,
        });
        self.node_mut(key).is_dynamic = true;
        self.shared.remember_plan(key.0, &key.1, attempt, Arc::new(plan));
        self.prepared.insert(key.clone(), Children::Graph(graph));
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
        row.phase = phase;
        row.finished_at = Some(self.now);
        if let AttemptEffect::Finished(AttemptResult::Error(error)) = &effect {
            row.error = Some(codec::encode_error(error));
        }
        let key: NodeKey = (row.execution_id, row.node_id.clone());
        let attempt = row.attempt;
        self.update_attempt(row);
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
        self.held_attempt(lease_id)
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
