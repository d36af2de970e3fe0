//! Launch-plan nodes: a node that starts a child execution, linked both ways, and takes its outputs when it
//! finishes. Aborting a node or an execution terminates the child executions below it.

use gantry_core::model::{ExecutionError, NodeTarget, TypedInterface};
use gantry_core::state::{ExecutionEvent, ExecutionPhase, NodeEvent, NodePhase};
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::submit::{CreateExecution, Target};

impl Batch<'_> {
    /// Starts the child execution of a launch-plan node with the node's resolved inputs.
    pub async fn start_child_execution(&mut self, key: &NodeKey) -> EngineResult<()> {
        let row = self.rows.node(key).await?;
        let NodeTarget::LaunchPlan(plan) = codec::decode_node(&row.definition)?.target else {
            return Err(EngineError::Internal(format!(
                "node {:?} is not a launch-plan node",
                key.1
            )));
        };
        let inputs = match &row.inputs {
            Some(bytes) => codec::decode_literals(bytes)?,
            None => Default::default(),
        };
        let parent = self.rows.execution(key.0).await?;
        let request = CreateExecution {
            project: parent.project.clone(),
            domain: parent.domain.clone(),
            name: None,
            target: Target::LaunchPlan(plan),
            inputs,
            max_parallelism: None,
            overwrite_cache: parent.overwrite_cache,
            origin: Default::default(),
            // The launch plan's own timeout, if any; the parent's timeout reaches the child by termination.
            timeout: None,
            // The child execution's attempts join the parent's trace.
            trace_context: parent
                .trace_context
                .as_deref()
                .and_then(gantry_telemetry::TraceContext::from_stored),
        };
        match self.new_execution(&request, Some(key.clone())).await {
            Ok(child) => {
                self.rows.node_mut(key).child_execution_id = Some(child);
                Ok(())
            }
            Err(EngineError::InvalidArgument(problem) | EngineError::NotFound(problem)) => {
                let error = ExecutionError::user("launch_failed", problem)
                    .recoverable(false)
                    .at_node(key.1.clone());
                let result = Err(error);
                self.events
                    .push_back((key.clone(), NodeEvent::ChildExecutionFinished { result }));
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// Terminates the child execution of an aborted launch-plan node.
    pub async fn abort_child_execution(&mut self, key: &NodeKey) -> EngineResult<()> {
        if let Some(child) = self.rows.node(key).await?.child_execution_id {
            self.terminate_child(child);
        }
        Ok(())
    }

    fn terminate_child(&mut self, child: Uuid) {
        let reason = "its parent node was aborted".to_owned();
        self.execution_events
            .push_back((child, ExecutionEvent::Terminate { reason }));
    }

    /// Aborts every node below `node_id` (every node of the execution when `None`) in one statement, and terminates
    /// the child executions that launch-plan nodes among them started.
    pub async fn abort_below(&mut self, execution_id: Uuid, node_id: Option<&str>) -> EngineResult<()> {
        self.rows.flush().await?;
        let children = self.rows.tx.running_child_executions(execution_id, node_id).await?;
        let aborted = self.rows.tx.abort_descendants(execution_id, node_id, self.now).await?;
        // The bulk abort carries out no node's effects: the waits of the gates it aborted go here.
        self.rows.tx.delete_stale_gates(execution_id).await?;
        self.outcome.tally.node_finished(NodePhase::Aborted, aborted);
        self.rows.forget_below(execution_id, node_id);
        self.rows.forget_attempts(execution_id);
        self.release_reservations_below(execution_id, node_id).await?;
        self.attempts_changed(execution_id).await?;
        for child in children {
            self.terminate_child(child);
        }
        Ok(())
    }

    /// A child execution finished: its launch-plan node, if still running, takes its outputs or its error.
    pub async fn child_execution_finished(&mut self, id: Uuid) -> EngineResult<()> {
        let row = self.rows.execution(id).await?;
        let (Some(parent_execution), Some(parent_node)) = (row.parent_execution_id, row.parent_node_id.clone()) else {
            return Ok(());
        };
        let (phase, outputs, error) = (row.phase, row.outputs.clone(), row.error.clone());
        let key: NodeKey = (parent_execution, parent_node);
        if self.rows.node(&key).await?.phase != NodePhase::Running {
            return Ok(());
        }
        let result = if phase == ExecutionPhase::Succeeded {
            self.rows.node_mut(&key).outputs = outputs.clone();
            Ok(match outputs {
                Some(bytes) => codec::decode_literals(&bytes)?,
                None => Default::default(),
            })
        } else {
            let cause = error.as_deref().map(codec::decode_error).transpose()?;
            let message = match cause {
                Some(cause) => format!("child execution {id} {phase}: {}", cause.message),
                None => format!("child execution {id} {phase}"),
            };
            Err(ExecutionError::user("child_execution_failed", message)
                .recoverable(false)
                .at_node(key.1.clone()))
        };
        self.events
            .push_back((key, NodeEvent::ChildExecutionFinished { result }));
        Ok(())
    }

    /// What a launch-plan node binds: the target's inputs less the fixed ones, with the plan's defaults.
    pub async fn launch_plan_interface(&mut self, id: &gantry_core::model::Identifier) -> EngineResult<TypedInterface> {
        let plan = self
            .shared
            .templates
            .launch_plan(self.rows.tx.as_mut(), id)
            .await?
            .ok_or_else(|| EngineError::Internal(format!("launch plan {id} vanished after it was compiled against")))?;
        let (_, target) = self.launch_plan_target(&plan).await?;
        Ok(plan.interface(&target))
    }
}
