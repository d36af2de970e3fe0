//! Applying execution events: starting the top-level nodes, reporting their progress, assembling the execution's
//! outputs, aborting everything on failure or termination.

use std::sync::Arc;

use gantry_core::model::{ExecutionError, NodeTarget};
use gantry_core::state::{
    self, ChildCounts, CompositePlan, ExecutionEffect, ExecutionEvent, ExecutionPhase, ExecutionState,
};
use tracing::info;
use uuid::Uuid;

use crate::assembly::AssemblyTarget;
use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::interpret::Scope;
use crate::notify::ChangeScope;

impl Batch<'_> {
    pub async fn apply_execution(&mut self, id: Uuid, event: ExecutionEvent) -> EngineResult<()> {
        let row = self.rows.execution(id).await?;
        let current = ExecutionState {
            phase: row.phase,
            error: row.error.as_deref().map(codec::decode_error).transpose()?,
        };
        let decision = match state::execution::transition(&current, event) {
            Ok(decision) => decision,
            Err(refused) => return self.shared.refusals.refused(&format!("execution {id}"), &refused),
        };
        let now = self.now;
        let next = decision.state;
        let row = self.rows.execution_mut(id);
        row.phase = next.phase;
        if next.error != current.error {
            row.error = next.error.as_ref().map(codec::encode_error);
        }
        row.updated_at = now;
        if next.phase != current.phase {
            if current.phase == ExecutionPhase::Queued {
                row.started_at = Some(now);
            }
            if next.phase.is_terminal() {
                row.finished_at = Some(now);
                self.outcome.tally.execution_finished(next.phase);
                info!(execution_id = %id, phase = %next.phase, "execution finished");
            }
            self.changed(id, "", None, ChangeScope::Execution, next.phase.as_str());
            self.execution_phases.push((id, next.phase));
        }
        for effect in decision.effects {
            self.execution_effect(id, effect).await?;
        }
        Ok(())
    }

    async fn execution_effect(&mut self, id: Uuid, effect: ExecutionEffect) -> EngineResult<()> {
        match effect {
            ExecutionEffect::StartNodes => {
                let key: NodeKey = (id, String::new());
                let Some(children) = self.prepared.remove(&key) else {
                    return Err(EngineError::Internal(format!(
                        "no compiled workflow for execution {id}"
                    )));
                };
                let scope = Scope {
                    execution_id: id,
                    parent: None,
                };
                let count = children.len();
                self.create_children(&scope, &children, 0..count);
                self.rows.execution_mut(id).nodes_total = count as i64;
                self.start_created(&scope, &children, 0..count, 0).await?;
                if count == 0 {
                    self.progressed_executions.insert(id);
                }
                Ok(())
            }
            ExecutionEffect::AbortNodes => {
                self.abort_below(id, None).await?;
                self.execution_events.push_back((id, ExecutionEvent::NodesDrained));
                Ok(())
            }
            ExecutionEffect::AssembleOutputs => self.assemble(AssemblyTarget::Execution(id)).await,
            ExecutionEffect::Finished(_) => {
                self.outcome.finished.push(id);
                self.child_execution_finished(id).await
            }
        }
    }

    pub async fn report_nodes_progress(&mut self, id: Uuid) -> EngineResult<()> {
        let row = self.rows.execution(id).await?;
        let counts = ChildCounts {
            total: row.nodes_total as u64,
            succeeded: row.nodes_succeeded as u64,
            failed: row.nodes_failed as u64,
            skipped: row.nodes_skipped as u64,
        };
        let row_phase = row.phase;
        let rule = self.plan(&(id, String::new())).await?.rule;
        // Looked up only when the nodes just failed the execution: it is a write of the batch's rows and a read.
        let failing = state::execution::progress_fails(row_phase, counts, rule);
        let first_error = if failing {
            self.first_node_error(id).await?
        } else {
            None
        };
        self.execution_events.push_back((
            id,
            ExecutionEvent::NodesProgress {
                counts,
                rule,
                first_error,
            },
        ));
        Ok(())
    }

    /// The error of the first top-level node that failed, to explain the execution's failure.
    async fn first_node_error(&mut self, id: Uuid) -> EngineResult<Option<ExecutionError>> {
        self.first_child_error(id, "").await
    }

    /// The error of the first child of `parent_id` (empty: the execution's top-level nodes) that stopped without
    /// success, by finish time and then position, after writing this batch's rows.
    pub(crate) async fn first_child_error(
        &mut self,
        id: Uuid,
        parent_id: &str,
    ) -> EngineResult<Option<ExecutionError>> {
        self.rows.flush().await?;
        self.rows
            .tx
            .first_child_error(id, parent_id)
            .await?
            .as_deref()
            .map(codec::decode_error)
            .transpose()
    }

    /// The plan of a composite (an execution's workflow under an empty node id, a spec, sub-workflow, branch or array
    /// node): how its outputs are assembled and how its children's failures count. The core decides them
    /// (`CompositePlan`'s constructors); this loads what they are decided from, once per composite and attempt.
    pub async fn plan(&mut self, key: &NodeKey) -> EngineResult<Arc<CompositePlan>> {
        let (execution_id, node_id) = (key.0, key.1.as_str());
        let attempt = if node_id.is_empty() {
            0
        } else {
            self.rows.node(key).await?.attempts.saturating_sub(1)
        };
        if let Some(plan) = self.shared.plan(execution_id, node_id, attempt) {
            return Ok(plan);
        }
        let plan = if node_id.is_empty() {
            let workflow = codec::decode_workflow(&self.rows.execution(execution_id).await?.workflow)?;
            CompositePlan::workflow(&workflow)
        } else {
            let row = self.rows.node(key).await?;
            let (task_id, total) = (row.task.clone().unwrap_or_default(), row.children_total as u64);
            match codec::decode_node(&row.definition)?.target {
                NodeTarget::Task(_) => {
                    let spec = self
                        .rows
                        .tx
                        .get_spec(execution_id, node_id, attempt)
                        .await?
                        .ok_or_else(|| EngineError::Internal(format!("node {node_id:?} has no accepted spec")))?;
                    let spec = codec::decode_spec(&spec.spec)?;
                    let task = self.task(&task_id).await?;
                    CompositePlan::dynamic(spec.outputs, task.interface.outputs.clone(), spec.min_successes)
                }
                NodeTarget::SubWorkflow(id) => {
                    let workflow = self.shared.templates.workflow(self.rows.tx.as_mut(), &id).await?;
                    let workflow = workflow.ok_or_else(|| {
                        EngineError::Internal(format!("workflow {id} vanished after it was compiled"))
                    })?;
                    CompositePlan::workflow(&workflow)
                }
                NodeTarget::Branch(_) => CompositePlan::branch(),
                NodeTarget::Array(array) => {
                    let NodeTarget::Task(task_id) = &array.node.target else {
                        return Err(EngineError::Internal(format!(
                            "array node {node_id:?} runs a non-task node"
                        )));
                    };
                    let task = self
                        .shared
                        .templates
                        .require_task(self.rows.tx.as_mut(), task_id)
                        .await?;
                    CompositePlan::array(&task, &array, total)
                }
                NodeTarget::LaunchPlan(_) | NodeTarget::Gate(_) => {
                    return Err(EngineError::Internal(format!("node {node_id:?} has no children")));
                }
            }
        };
        let plan = Arc::new(plan);
        self.shared.remember_plan(execution_id, node_id, attempt, plan.clone());
        Ok(plan)
    }
}
