//! The interpreter: applies queued node and execution events through the core's state machines, writes the
//! decisions into the batch's rows, and carries out their effects, which queue further events. A batch of
//! completions settles children first and then reports each touched parent's progress once, so a parent is locked
//! once per batch, not once per child.
//!
//! This file is the loop and what every node kind shares (a node's transition, its settlement: downstream nodes
//! released or skipped, the parent's counts). What differs per kind is in one module each: `task.rs` (attempts),
//! `dynamic.rs` (specs), `workflow.rs` (sub-workflows), `branch.rs`, `array.rs` and `launch_plan.rs`; starting a
//! node (its inputs resolved, its children prepared) is `start.rs`, and creating children `children.rs` and
//! `creation.rs`. Executions are `execution.rs`.

mod array;
mod branch;
mod cache;
mod children;
pub(crate) mod creation;
mod dynamic;
mod execution;
mod gate;
mod launch_plan;
pub(crate) mod parallelism;
mod recover;
mod start;
mod task;
pub(crate) mod timeouts;
mod workflow;

pub(crate) use children::Scope;
pub use gate::SignalSet;
pub(crate) use start::Children;

use gantry_core::model::{ExecutionError, Identifier};
use gantry_core::state::{
    self, CacheStatus, ChildCounts, ChildRule, NodeEffect, NodeEvent, NodeKind, NodePhase, NodePolicy, NodeState,
    TransitionError, flow,
};
use tracing::debug;

use crate::assembly::AssemblyTarget;
use crate::batch::{Batch, NodeKey, sibling_id};
use crate::codec;
use crate::error::EngineResult;
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
        let row = self.rows.node(&key).await?;
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
        let row = self.rows.node_mut(&key);
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
        self.outcome.tally.cache(state.cache_status, next.cache_status);
        if changed_phase && next.phase.is_terminal() {
            self.outcome.tally.node_finished(next.phase, 1);
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
        let row = self.rows.node(key).await?;
        match row.kind {
            NodeKind::Task => {
                let task_id = row.task.clone().unwrap_or_default();
                let definition = matches!(event, NodeEvent::AttemptFailed { .. }).then(|| row.definition.clone());
                let task = self.task(&task_id).await?;
                let mut retries = task.metadata.retries.clone();
                if let Some(bytes) = definition
                    && let Some(overridden) = codec::decode_node(&bytes)?.overrides.into_set().retries
                {
                    retries = overridden;
                }
                let cache = task.metadata.cache;
                let overwrite_cache = cache && self.rows.execution(key.0).await?.overwrite_cache;
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
        self.shared.templates.require_task(self.rows.tx.as_mut(), &id).await
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
                self.rows.flush().await?;
                self.rows
                    .tx
                    .abort_node_attempts(key.0, std::slice::from_ref(&key.1), self.now)
                    .await?;
                self.rows.forget_attempts(key.0);
                Ok(())
            }
            NodeEffect::AbortChildren => {
                self.abort_below(key.0, Some(&key.1)).await?;
                if self.rows.node(key).await?.phase == NodePhase::Failing {
                    self.events.push_back((key.clone(), NodeEvent::ChildrenAborted));
                }
                Ok(())
            }
            NodeEffect::AssembleOutputs => {
                let attempt = self.rows.node(key).await?.attempts.saturating_sub(1);
                self.assemble(AssemblyTarget::node(key, attempt)).await
            }
            NodeEffect::StartChildExecution => self.start_child_execution(key).await,
            NodeEffect::AbortChildExecution => self.abort_child_execution(key).await,
            NodeEffect::ArmGate => self.arm_gate(key).await,
            NodeEffect::DisarmGate => self.disarm_gate(key).await,
            NodeEffect::Settled(phase) => self.settled(key, phase).await,
        }
    }

    async fn settled(&mut self, key: &NodeKey, phase: NodePhase) -> EngineResult<()> {
        let row = self.rows.node(key).await?;
        let (parent_id, downstream) = (row.parent_id.clone(), row.downstream.clone());
        if row.kind == NodeKind::Task && row.cache_status != CacheStatus::Disabled {
            self.release_reservation(key).await?;
        }
        if !downstream.is_empty() {
            let siblings: Vec<String> = downstream.iter().map(|local| sibling_id(&key.1, local)).collect();
            self.rows.load_nodes(key.0, &siblings).await?;
            for sibling in siblings {
                let sibling_key = (key.0, sibling);
                // A sibling in a chunk not created yet looks at this node when it is created (`creation.rs`).
                let Some(row) = self.rows.held_node(&sibling_key) else {
                    continue;
                };
                let waiting = flow::Waiting {
                    phase: row.phase,
                    upstream_pending: row.upstream_pending.max(0) as u32,
                };
                match flow::release(phase, waiting) {
                    Ok((after, then)) => {
                        if after != waiting {
                            self.rows.node_mut(&sibling_key).upstream_pending = after.upstream_pending as i32;
                        }
                        self.follow(&sibling_key, then).await?;
                    }
                    Err(refused) => self.refused(&sibling_key, &refused)?,
                }
            }
        }
        if parent_id.is_empty() {
            self.rows.execution(key.0).await?;
            let execution = self.rows.execution_mut(key.0);
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
            let row = self.rows.node(&parent_key).await?;
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
                    let row = self.rows.node_mut(&parent_key);
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

    async fn report_children_progress(&mut self, key: NodeKey) -> EngineResult<()> {
        let counts = counts_of(self.rows.node(&key).await?);
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
        let failing = state::node::progress_fails(self.rows.node(key).await?.phase, counts, rule);
        if !failing {
            return Ok(None);
        }
        self.first_child_error(key.0, &key.1).await
    }
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
