//! The cascade: applies queued node and execution events through the core's state machines, writes the decisions
//! into the batch, and carries out their effects, which queue further events. A batch of completions settles
//! children first and then reports each touched parent's progress once, so a parent is locked once per batch, not
//! once per child.

use std::collections::HashMap;

use gantry_core::ids::NodeExecutionId;
use gantry_core::model::{ExecutionError, Identifier, LiteralMap, NodeTarget, Offloaded};
use gantry_core::resolve::{self, Outcome};
use gantry_core::state::{
    self, AttemptPhase, CacheStatus, ChildCounts, ChildRule, NodeEffect, NodeEvent, NodeKind, NodePhase, NodePolicy,
    NodeState, TransitionError, flow,
};
use gantry_store::{AttemptRow, PARKED};
use tracing::debug;
use uuid::Uuid;

use crate::assembly::AssemblyTarget;
use crate::batch::{Batch, NodeKey, sibling_id};
use crate::children::Scope;
use crate::codec;
use crate::composite::promised_nodes;
use crate::error::{EngineError, EngineResult};
use crate::hydration::Hydration;
use crate::notify::ChangeScope;

impl Batch<'_> {
    /// Runs queued events until none is left.
    pub async fn run(&mut self) -> EngineResult<()> {
        loop {
            if let Some((key, event)) = self.events.pop_front() {
                self.apply_node(key, event).await?;
            } else if let Some((id, event)) = self.execution_events.pop_front() {
                self.apply_execution(id, event).await?;
            } else if let Some(key) = self.progressed_parents.pop_first() {
                self.report_children_progress(key).await?;
            } else if let Some(id) = self.progressed_executions.pop_first() {
                self.report_nodes_progress(id).await?;
            } else {
                return Ok(());
            }
        }
    }

    async fn apply_node(&mut self, key: NodeKey, event: NodeEvent) -> EngineResult<()> {
        let row = self.node(&key).await?;
        let state = NodeState {
            phase: row.phase,
            attempts: row.attempts as u32,
            user_failures: row.user_failures as u32,
            system_failures: row.system_failures as u32,
            cache_status: row.cache_status,
            error: row.error.as_deref().map(codec::decode_error).transpose()?,
        };
        let policy = self.policy(&key, &event).await?;
        let event_name = event.name();
        let decision = match state::node::transition(&state, &policy, event) {
            Ok(decision) => decision,
            Err(refused) => return self.refused(&key, &refused),
        };
        let now = self.now;
        let next = decision.state;
        let changed_phase = next.phase != state.phase;
        if policy.kind == NodeKind::Task && changed_phase {
            self.attempts_changed(key.0).await?;
        }
        let row = self.node_mut(&key);
        row.phase = next.phase;
        row.attempts = next.attempts as i32;
        row.user_failures = next.user_failures as i32;
        row.system_failures = next.system_failures as i32;
        row.cache_status = next.cache_status;
        if next.error != state.error {
            row.error = next.error.as_ref().map(codec::encode_error);
        }
        row.updated_at = now;
        if state.phase == NodePhase::NotStarted && row.started_at.is_none() {
            row.started_at = Some(now);
        }
        if next.phase.is_terminal() {
            row.finished_at = Some(now);
        }
        if changed_phase {
            debug!(execution_id = %key.0, node_id = %key.1, event = event_name, phase = %next.phase, "node moved");
            self.changed(key.0, &key.1, None, ChangeScope::Node, next.phase.as_str());
        }
        for effect in decision.effects {
            self.node_effect(&key, effect).await?;
        }
        Ok(())
    }

    /// The node's policy. Node overrides of retries only matter when an attempt failed, so the node's definition is
    /// decoded only then.
    async fn policy(&mut self, key: &NodeKey, event: &NodeEvent) -> EngineResult<NodePolicy> {
        let row = self.node(key).await?;
        match row.kind {
            NodeKind::Task => {
                let task_id = row.task.clone().unwrap_or_default();
                let definition = matches!(event, NodeEvent::AttemptFailed { .. }).then(|| row.definition.clone());
                let task = self.task(&task_id).await?;
                let mut retries = task.metadata.retries.clone();
                if let Some(bytes) = definition
                    && let Some(overridden) = codec::decode_node(&bytes)?.overrides.retries
                {
                    retries = overridden;
                }
                let cache = task.metadata.cache;
                let overwrite_cache = cache && self.execution(key.0).await?.overwrite_cache;
                Ok(NodePolicy {
                    kind: NodeKind::Task,
                    retries,
                    cache,
                    overwrite_cache,
                })
            }
            kind => Ok(NodePolicy {
                kind,
                ..NodePolicy::composite()
            }),
        }
    }

    pub async fn task(&mut self, task_id: &str) -> EngineResult<std::sync::Arc<gantry_core::model::TaskTemplate>> {
        let id: Identifier = codec::parse_identifier(task_id)?;
        self.shared.templates.require_task(self.tx.as_mut(), &id).await
    }

    async fn node_effect(&mut self, key: &NodeKey, effect: NodeEffect) -> EngineResult<()> {
        match effect {
            NodeEffect::EnqueueAttempt { attempt, not_before_ms } => {
                self.enqueue_attempt(key, attempt, not_before_ms).await
            }
            // The spec row was added when the spec was accepted, in the same batch.
            NodeEffect::PersistSpec => Ok(()),
            NodeEffect::WriteCache => self.write_cache(key).await,
            NodeEffect::CreateChildren { .. } => self.create_node_children(key).await,
            NodeEffect::StartChildren => self.start_node_children(key).await,
            NodeEffect::AbortAttempt => {
                self.flush().await?;
                self.tx
                    .abort_node_attempts(key.0, std::slice::from_ref(&key.1), self.now)
                    .await?;
                self.forget_attempts(key.0);
                Ok(())
            }
            NodeEffect::AbortChildren => {
                self.abort_below(key.0, Some(&key.1)).await?;
                if self.node(key).await?.phase == NodePhase::Failing {
                    self.events.push_back((key.clone(), NodeEvent::ChildrenAborted));
                }
                Ok(())
            }
            NodeEffect::AssembleOutputs => {
                let attempt = self.node(key).await?.attempts.saturating_sub(1);
                self.assemble(AssemblyTarget::node(key, attempt)).await
            }
            NodeEffect::StartChildExecution => self.start_child_execution(key).await,
            NodeEffect::AbortChildExecution => self.abort_child_execution(key).await,
            NodeEffect::Settled(phase) => self.settled(key, phase).await,
        }
    }

    async fn enqueue_attempt(&mut self, key: &NodeKey, attempt: u32, not_before_ms: Option<i64>) -> EngineResult<()> {
        let task_id = self.node(key).await?.task.clone().unwrap_or_default();
        let task = self.task(&task_id).await?;
        // Under a `max_parallelism`, a first attempt waits parked for a slot; a retry takes over the slot its failed
        // attempt held (both count as active), keeping its backoff.
        let not_before = match (not_before_ms, self.cap(key.0).await?) {
            (Some(not_before), _) => not_before,
            (None, Some(_)) => PARKED,
            (None, None) => self.now,
        };
        let limits = self.attempt_limits(key, &task, not_before).await?;
        let row = AttemptRow {
            id: Uuid::now_v7(),
            execution_id: key.0,
            node_id: key.1.clone(),
            attempt: attempt as i32,
            queue: task.metadata.queue.clone(),
            task: task_id,
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
        self.changed(key.0, &key.1, Some(attempt), ChangeScope::Attempt, "queued");
        Ok(())
    }

    /// The scope of a node's children: the node and its current attempt.
    pub(crate) async fn child_scope(&mut self, key: &NodeKey) -> EngineResult<Scope> {
        let attempts = self.node(key).await?.attempts;
        let parent = NodeExecutionId::parse(&key.1).map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(Scope {
            execution_id: key.0,
            parent: Some((parent, attempts.saturating_sub(1) as u32)),
        })
    }

    /// Resolves a node's inputs from its bindings and queues its start (or its failure, if they do not resolve). A
    /// node whose start needs offloaded values this batch does not have waits for them, not started (see
    /// `hydration.rs`).
    pub async fn start_node(&mut self, key: &NodeKey) -> EngineResult<()> {
        if self.try_recover(key).await? {
            return Ok(());
        }
        let definition = codec::decode_node(&self.node(key).await?.definition)?;
        let event = match self.prepare_node(key, &definition).await? {
            Prepared::Ready(inputs) => {
                self.node_mut(key).inputs = Some(codec::encode_literals(&inputs));
                match &definition.target {
                    NodeTarget::Task(task_id) => self.start_task(key, task_id, &inputs).await?,
                    _ => Some(NodeEvent::Start),
                }
            }
            Prepared::Failed(error) => Some(NodeEvent::InputsFailed {
                error: error.at_node(key.1.clone()),
            }),
            Prepared::Hydrating(references) => {
                self.wait_for_values(key, references);
                None
            }
        };
        if let Some(event) = event {
            self.events.push_back((key.clone(), event));
        }
        Ok(())
    }

    /// Resolves the inputs of the node `key` defined by `definition` from its upstream nodes' outputs and its
    /// parent's inputs, and prepares its children (see [`Batch::prepare_start`]); unless offloaded values that needs
    /// are not in the batch (see [`Batch::hydrate`]).
    pub async fn prepare_node(
        &mut self,
        key: &NodeKey,
        definition: &gantry_core::model::Node,
    ) -> EngineResult<Prepared> {
        let parent_id = self.node(key).await?.parent_id.clone();
        let promised: Vec<String> = promised_nodes(definition)
            .iter()
            .map(|local| sibling_id(&key.1, local))
            .collect();
        let mut sources: HashMap<String, LiteralMap> = HashMap::new();
        if !promised.is_empty() {
            self.load_nodes(key.0, &promised).await?;
            for sibling in &promised {
                let Some(row) = self.held_node(&(key.0, sibling.clone())) else {
                    continue;
                };
                if let Some(outputs) = &row.outputs {
                    sources.insert(row.local_id.clone(), codec::decode_literals(outputs)?);
                }
            }
        }
        let mut parent_inputs = self.parent_inputs(key.0, &parent_id).await?;
        match self.hydrate(definition, &mut sources, &parent_inputs) {
            Hydration::Ready(None) => {}
            Hydration::Ready(Some(hydrated)) => parent_inputs = std::sync::Arc::new(hydrated),
            Hydration::Needs(references) => return Ok(Prepared::Hydrating(references)),
            Hydration::Unavailable(error) => return Ok(Prepared::Failed(error)),
        }
        let source = resolve::from_fn(|node_id: &str, name: &str| {
            if node_id.is_empty() {
                parent_inputs.get(name)
            } else {
                sources.get(node_id).and_then(|outputs| outputs.get(name))
            }
        });
        Ok(match self.prepare_start(key, definition, &source).await? {
            Ok(inputs) => Prepared::Ready(inputs),
            Err(error) => Prepared::Failed(error),
        })
    }

    async fn settled(&mut self, key: &NodeKey, phase: NodePhase) -> EngineResult<()> {
        let row = self.node(key).await?;
        let (parent_id, downstream) = (row.parent_id.clone(), row.downstream.clone());
        if row.kind == NodeKind::Task && row.cache_status != CacheStatus::Disabled {
            self.release_reservation(key).await?;
        }
        if !downstream.is_empty() {
            let siblings: Vec<String> = downstream.iter().map(|local| sibling_id(&key.1, local)).collect();
            self.load_nodes(key.0, &siblings).await?;
            for sibling in siblings {
                let sibling_key = (key.0, sibling);
                // A sibling in a chunk not created yet looks at this node when it is created (`creation.rs`).
                let Some(row) = self.held_node(&sibling_key) else {
                    continue;
                };
                let waiting = flow::Waiting {
                    phase: row.phase,
                    upstream_pending: row.upstream_pending.max(0) as u32,
                };
                match flow::release(phase, waiting) {
                    Ok((after, then)) => {
                        if after != waiting {
                            self.node_mut(&sibling_key).upstream_pending = after.upstream_pending as i32;
                        }
                        self.follow(&sibling_key, then).await?;
                    }
                    Err(refused) => self.refused(&sibling_key, &refused)?,
                }
            }
        }
        if parent_id.is_empty() {
            self.execution(key.0).await?;
            let execution = self.execution_mut(key.0);
            let parent = flow::Parent {
                counts: ChildCounts {
                    total: execution.nodes_total as u64,
                    succeeded: execution.nodes_succeeded as u64,
                    failed: execution.nodes_failed as u64,
                    skipped: execution.nodes_skipped as u64,
                },
                running: false,
                parallelism: None,
            };
            match flow::child_settled(parent, phase) {
                Ok(counted) => {
                    execution.nodes_succeeded = counted.counts.succeeded as i64;
                    execution.nodes_failed = counted.counts.failed as i64;
                    execution.nodes_skipped = counted.counts.skipped as i64;
                    self.progressed_executions.insert(key.0);
                }
                Err(refused) => self
                    .shared
                    .refusals
                    .refused(&format!("execution {}", key.0), &refused)?,
            }
        } else {
            let parent_key = (key.0, parent_id);
            let row = self.node(&parent_key).await?;
            let (counts, running) = (counts_of(row), row.phase == NodePhase::ChildrenRunning);
            // Only an array node has a parallelism, and it matters only while its children run.
            let parallelism = match running {
                true => self.plan(&parent_key).await?.parallelism,
                false => None,
            };
            let parent = flow::Parent {
                counts,
                running,
                parallelism,
            };
            match flow::child_settled(parent, phase) {
                Ok(counted) => {
                    let row = self.node_mut(&parent_key);
                    row.children_succeeded = counted.counts.succeeded as i64;
                    row.children_failed = counted.counts.failed as i64;
                    row.children_skipped = counted.counts.skipped as i64;
                    self.progressed_parents.insert(parent_key);
                    if let Some(next) = counted.start_element {
                        self.start_element(key, next).await?;
                    }
                }
                Err(refused) => self.refused(&parent_key, &refused)?,
            }
        }
        Ok(())
    }

    /// Carries out what a flow rule decided for the node `key`.
    pub(crate) async fn follow(&mut self, key: &NodeKey, then: flow::Then) -> EngineResult<()> {
        match then {
            flow::Then::Start => self.start_node(key).await,
            flow::Then::Skip => {
                self.events.push_back((key.clone(), NodeEvent::Skip));
                Ok(())
            }
            flow::Then::Nothing => Ok(()),
        }
    }

    /// Counts and logs a transition the core refused for the node `key`; fails the batch under strict transitions.
    pub(crate) fn refused(&self, key: &NodeKey, refused: &TransitionError) -> EngineResult<()> {
        let subject = format!("node {:?} of execution {}", key.1, key.0);
        self.shared.refusals.refused(&subject, refused)
    }

    /// Starts the element at `position` of the array node whose element `element` just settled, unless it started
    /// already. An element not created yet starts when it is created, if enough elements have settled by then.
    async fn start_element(&mut self, element: &NodeKey, position: u64) -> EngineResult<()> {
        let next_key = (element.0, sibling_id(&element.1, &position.to_string()));
        self.load_nodes(next_key.0, std::slice::from_ref(&next_key.1)).await?;
        if self
            .held_node(&next_key)
            .is_some_and(|row| row.phase == NodePhase::NotStarted)
        {
            self.start_node(&next_key).await?;
        }
        Ok(())
    }

    async fn report_children_progress(&mut self, key: NodeKey) -> EngineResult<()> {
        let counts = counts_of(self.node(&key).await?);
        let rule = self.plan(&key).await?.rule;
        let first_failure = self.first_child_failure(&key, counts, rule).await?;
        self.events.push_back((
            key,
            NodeEvent::ChildrenProgress {
                counts,
                rule,
                first_failure,
            },
        ));
        Ok(())
    }

    /// The error of the composite's first failed child, which the core makes the composite's own error when its
    /// children fail (`children_failed_error`); looked up only when they just did. The child may have failed in an
    /// earlier batch (under `min_successes`, or when a later chunk's children were skipped), so the store is asked,
    /// after this batch's rows are written.
    pub(crate) async fn first_child_failure(
        &mut self,
        key: &NodeKey,
        counts: ChildCounts,
        rule: ChildRule,
    ) -> EngineResult<Option<ExecutionError>> {
        let failing = counts.failed > 0
            && matches!(
                self.node(key).await?.phase,
                NodePhase::SpecAccepted | NodePhase::ChildrenRunning
            )
            && state::children_outcome(counts, rule) == Outcome::Failed;
        if !failing {
            return Ok(None);
        }
        self.first_child_error(key.0, &key.1).await
    }
}

/// What preparing a node's start came to.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// Its inputs resolved (and its children, if any, are prepared).
    Ready(LiteralMap),
    /// It cannot start: its inputs did not resolve, or a value they need cannot be fetched.
    Failed(ExecutionError),
    /// It needs these offloaded values, which the batch does not have: they are fetched outside the writer.
    Hydrating(Vec<Offloaded>),
}

/// A composite's children counts, from its row.
pub(crate) fn counts_of(row: &gantry_store::NodeRow) -> ChildCounts {
    ChildCounts {
        total: row.children_total as u64,
        succeeded: row.children_succeeded as u64,
        failed: row.children_failed as u64,
        skipped: row.children_skipped as u64,
    }
}
