//! Applying execution events: starting the top-level nodes, reporting their progress, assembling the execution's
//! outputs, aborting everything on failure or termination.

use std::collections::HashMap;
use std::sync::Arc;

use gantry_core::model::{ExecutionError, FailurePolicy, LiteralMap};
use gantry_core::state::{
    self, ChildCounts, ChildRule, ExecutionEffect, ExecutionEvent, ExecutionPhase, ExecutionState,
};
use tracing::{error, info};
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::cascade::assemble;
use crate::children::Scope;
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::notify::ChangeScope;
use crate::shared::GraphInfo;

impl Batch<'_> {
    pub async fn apply_execution(&mut self, id: Uuid, event: ExecutionEvent) -> EngineResult<()> {
        let row = self.execution(id).await?;
        let current = ExecutionState {
            phase: row.phase,
            error: row.error.as_deref().map(codec::decode_error).transpose()?,
        };
        let decision = match state::execution::transition(&current, event) {
            Ok(decision) => decision,
            Err(refused) => {
                error!(execution_id = %id, error = %refused, "execution transition refused");
                return Ok(());
            }
        };
        let now = self.now;
        let next = decision.state;
        let row = self.execution_mut(id);
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
                info!(execution_id = %id, phase = %next.phase, "execution finished");
            }
            self.changed(id, "", None, ChangeScope::Execution, next.phase.as_str());
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
                let Some(graph) = self.compiled.get(&key).cloned() else {
                    return Err(EngineError::Internal(format!(
                        "no compiled workflow for execution {id}"
                    )));
                };
                let scope = Scope {
                    execution_id: id,
                    parent: None,
                };
                let count = self.create_children(&scope, &graph)?;
                self.execution_mut(id).nodes_total = count as i64;
                self.start_roots(&scope, &graph).await?;
                if count == 0 {
                    self.progressed_executions.insert(id);
                }
                Ok(())
            }
            ExecutionEffect::AbortNodes => {
                self.flush().await?;
                self.tx.abort_descendants(id, None, self.now).await?;
                self.forget_below(id, None);
                self.execution_events.push_back((id, ExecutionEvent::NodesDrained));
                Ok(())
            }
            ExecutionEffect::AssembleOutputs => {
                self.flush().await?;
                let info = self.graph_info(&(id, String::new())).await?;
                let children = self.tx.child_outputs(id, "").await?;
                let mut sources: HashMap<String, LiteralMap> = HashMap::with_capacity(children.len());
                for (node_id, outputs) in children {
                    if let Some(outputs) = outputs {
                        sources.insert(node_id, codec::decode_literals(&outputs)?);
                    }
                }
                let inputs = self.parent_inputs(id, "").await?;
                let event = match assemble(&info.outputs, &info.output_vars, &inputs, &sources) {
                    Ok(outputs) => {
                        self.execution_mut(id).outputs = Some(codec::encode_literals(&outputs));
                        ExecutionEvent::Assembled
                    }
                    Err(problem) => ExecutionEvent::AssemblyFailed {
                        error: ExecutionError::user("output_assembly", problem).recoverable(false),
                    },
                };
                self.execution_events.push_back((id, event));
                Ok(())
            }
            ExecutionEffect::Finished(_) => {
                self.finished.push(id);
                Ok(())
            }
        }
    }

    pub async fn report_nodes_progress(&mut self, id: Uuid) -> EngineResult<()> {
        let row = self.execution(id).await?;
        let counts = ChildCounts {
            total: row.nodes_total as u64,
            succeeded: row.nodes_succeeded as u64,
            failed: row.nodes_failed as u64,
            skipped: row.nodes_skipped as u64,
        };
        let first_error = if counts.failed > 0 {
            self.first_node_error(id).await?
        } else {
            None
        };
        let rule = self.graph_info(&(id, String::new())).await?.rule;
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

    /// The error of a failed top-level node held in this batch, to explain the execution's failure.
    async fn first_node_error(&mut self, id: Uuid) -> EngineResult<Option<ExecutionError>> {
        self.held_top_level_errors(id)
            .first()
            .map(|bytes| codec::decode_error(bytes))
            .transpose()
    }

    /// How the outputs of a workflow (empty node id) or accepted spec are assembled and how failures count.
    pub async fn graph_info(&mut self, key: &NodeKey) -> EngineResult<Arc<GraphInfo>> {
        let (execution_id, node_id) = (key.0, key.1.as_str());
        let attempt = if node_id.is_empty() {
            0
        } else {
            self.node(key).await?.attempts.saturating_sub(1)
        };
        if let Some(info) = self.shared.graph_info(execution_id, node_id, attempt) {
            return Ok(info);
        }
        let info = if node_id.is_empty() {
            let workflow = codec::decode_workflow(&self.execution(execution_id).await?.workflow)?;
            GraphInfo {
                outputs: workflow.outputs,
                output_vars: workflow.interface.outputs,
                rule: ChildRule {
                    min_successes: None,
                    fail_fast: workflow.failure_policy == FailurePolicy::FailImmediately,
                },
            }
        } else {
            let task_id = self.node(key).await?.task.clone().unwrap_or_default();
            let spec = self
                .tx
                .get_spec(execution_id, node_id, attempt)
                .await?
                .ok_or_else(|| EngineError::Internal(format!("node {node_id:?} has no accepted spec")))?;
            let spec = codec::decode_spec(&spec.spec)?;
            let task = self.task(&task_id).await?;
            GraphInfo {
                outputs: spec.outputs,
                output_vars: task.interface.outputs.clone(),
                rule: ChildRule {
                    min_successes: spec.min_successes,
                    fail_fast: true,
                },
            }
        };
        let info = Arc::new(info);
        self.shared.remember_graph(execution_id, node_id, attempt, info.clone());
        Ok(info)
    }
}
