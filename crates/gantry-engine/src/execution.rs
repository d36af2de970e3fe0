//! Applying execution events: starting the top-level nodes, reporting their progress, assembling the execution's
//! outputs, aborting everything on failure or termination.

use std::collections::HashMap;
use std::sync::Arc;

use gantry_core::compile::array_interface;
use gantry_core::model::{ExecutionError, FailurePolicy, LiteralMap, NodeTarget, WorkflowTemplate};
use gantry_core::resolve::{Outcome, required_successes};
use gantry_core::state::{
    self, ChildCounts, ChildRule, ExecutionEffect, ExecutionEvent, ExecutionPhase, ExecutionState,
};
use tracing::info;
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::cascade::assemble;
use crate::children::Scope;
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::notify::ChangeScope;
use crate::shared::{Assembly, GraphInfo};

impl Batch<'_> {
    pub async fn apply_execution(&mut self, id: Uuid, event: ExecutionEvent) -> EngineResult<()> {
        let row = self.execution(id).await?;
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
                self.execution_mut(id).nodes_total = count as i64;
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
                let Assembly::Bindings { outputs, vars } = &info.assembly else {
                    return Err(EngineError::Internal(format!("execution {id} has no output bindings")));
                };
                let assembled = match assemble(outputs, vars, &inputs, &sources) {
                    Ok(outputs) => {
                        let what = format!("execution {id}");
                        self.store_assembled(outputs, &what, &id.to_string()).await?
                    }
                    Err(problem) => Err(problem),
                };
                let event = match assembled {
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
                self.child_execution_finished(id).await
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
        let running = row.phase == ExecutionPhase::Running;
        let rule = self.graph_info(&(id, String::new())).await?.rule;
        // Looked up only when the nodes just failed the execution: it is a write of the batch's rows and a read.
        let failing = running && counts.failed > 0 && state::children_outcome(counts, rule) == Outcome::Failed;
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
        self.flush().await?;
        self.tx
            .first_child_error(id, parent_id)
            .await?
            .as_deref()
            .map(codec::decode_error)
            .transpose()
    }

    /// How the outputs of a composite (an execution's workflow under an empty node id, a spec, sub-workflow, branch
    /// or array node) are assembled and how its children's failures count.
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
            workflow_info(&workflow)
        } else {
            let row = self.node(key).await?;
            let (task_id, total) = (row.task.clone().unwrap_or_default(), row.children_total as u64);
            match codec::decode_node(&row.definition)?.target {
                NodeTarget::Task(_) => {
                    let spec = self
                        .tx
                        .get_spec(execution_id, node_id, attempt)
                        .await?
                        .ok_or_else(|| EngineError::Internal(format!("node {node_id:?} has no accepted spec")))?;
                    let spec = codec::decode_spec(&spec.spec)?;
                    let task = self.task(&task_id).await?;
                    let rule = ChildRule {
                        min_successes: spec.min_successes,
                        fail_fast: true,
                    };
                    GraphInfo::bindings(spec.outputs, task.interface.outputs.clone(), rule)
                }
                NodeTarget::SubWorkflow(id) => {
                    let workflow = self.shared.templates.workflow(self.tx.as_mut(), &id).await?;
                    let workflow = workflow.ok_or_else(|| {
                        EngineError::Internal(format!("workflow {id} vanished after it was compiled"))
                    })?;
                    workflow_info(&workflow)
                }
                NodeTarget::Branch(_) => GraphInfo {
                    assembly: Assembly::TakenArm,
                    rule: ChildRule {
                        min_successes: Some(1),
                        fail_fast: true,
                    },
                    parallelism: None,
                },
                NodeTarget::Array(array) => {
                    let NodeTarget::Task(task_id) = &array.node.target else {
                        return Err(EngineError::Internal(format!(
                            "array node {node_id:?} runs a non-task node"
                        )));
                    };
                    let task = self.shared.templates.require_task(self.tx.as_mut(), task_id).await?;
                    let interface = array_interface(&task, &array.node, array.success);
                    GraphInfo {
                        assembly: Assembly::Gather {
                            vars: interface.outputs,
                        },
                        rule: ChildRule {
                            min_successes: Some(required_successes(array.success, total)),
                            fail_fast: true,
                        },
                        parallelism: array.parallelism,
                    }
                }
                NodeTarget::LaunchPlan(_) => {
                    return Err(EngineError::Internal(format!(
                        "launch plan node {node_id:?} has no children"
                    )));
                }
            }
        };
        let info = Arc::new(info);
        self.shared.remember_graph(execution_id, node_id, attempt, info.clone());
        Ok(info)
    }
}

/// How a workflow's outputs are assembled and its nodes' failures count.
pub(crate) fn workflow_info(workflow: &WorkflowTemplate) -> GraphInfo {
    let rule = ChildRule {
        min_successes: None,
        fail_fast: workflow.failure_policy == FailurePolicy::FailImmediately,
    };
    GraphInfo::bindings(workflow.outputs.clone(), workflow.interface.outputs.clone(), rule)
}
