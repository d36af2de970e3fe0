//! What a poll answers: the claimed attempts with their inputs decoded and fitted, together, to one response.

use gantry_core::model::TaskTemplate;
use gantry_proto::v1 as pb;
use prost::Message;
use uuid::Uuid;

use super::plan::ReadMode;
use super::uri::{Held, MapKind};
use super::{Outgoing, decode_map, may_hold_reference};
use crate::Engine;
use crate::error::EngineResult;
use crate::worker::{Assignment, AttemptRef};

/// A claimed attempt with everything a worker needs to run it, as a poll answers it.
#[derive(Debug, Clone)]
pub struct TaskAssignment {
    pub attempt: AttemptRef,
    /// The lease's id: heartbeats and completions present it.
    pub lease_id: Uuid,
    pub lease_expires_at_ms: i64,
    /// When the attempt times out (claim time + the attempt timeout); `None` without a timeout.
    pub deadline_ms: Option<i64>,
    /// The task, with the node's timeout override applied to its metadata, as it leaves (converted once, here).
    pub task: pb::TaskTemplate,
    /// The resolved inputs, values that do not fit the response as references.
    pub inputs: pb::LiteralMap,
    /// The execution's W3C trace context, if it has one, as stored (checked when stored: it leaves as it is, split
    /// by `gantry_telemetry::split_stored`, without parsing it for each attempt).
    pub trace_context: Option<std::sync::Arc<str>>,
}

impl TaskAssignment {
    fn new(assignment: Assignment, task: pb::TaskTemplate, inputs: pb::LiteralMap) -> Self {
        // Every field named: a field added to `Assignment` must be carried over here, or said to stay behind.
        let Assignment {
            attempt,
            lease_id,
            lease_expires_at_ms,
            deadline_ms,
            task: _,
            inputs: _,
            trace_context,
        } = assignment;
        TaskAssignment {
            attempt,
            lease_id,
            lease_expires_at_ms,
            deadline_ms,
            task,
            inputs,
            trace_context,
        }
    }
}

impl Engine {
    /// Claimed attempts as a poll answers them. Each attempt's inputs are decoded once, here.
    pub(crate) async fn assignments_out(&self, assignments: Vec<Assignment>) -> EngineResult<Vec<TaskAssignment>> {
        let tasks: Vec<pb::TaskTemplate> = assignments
            .iter()
            .map(|a| pb::TaskTemplate::from(TaskTemplate::clone(&a.task)))
            .collect();
        let reserved: u64 = tasks.iter().map(|task| task.encoded_len() as u64).sum();
        let inputs_bytes: u64 = assignments.iter().map(|a| a.inputs.len() as u64).sum();
        let budget = self.response_budget(reserved);
        // The usual poll: small inputs without references pass as they are.
        if inputs_bytes <= budget && !assignments.iter().any(|a| may_hold_reference(&a.inputs)) {
            return assignments
                .into_iter()
                .zip(tasks)
                .map(|(assignment, task)| {
                    let inputs = decode_map(&assignment.inputs)?;
                    Ok(TaskAssignment::new(assignment, task, inputs))
                })
                .collect();
        }
        let mut maps = Vec::with_capacity(assignments.len());
        for assignment in &assignments {
            maps.push(Outgoing {
                held: Held {
                    execution: assignment.attempt.execution_id,
                    node: Some(assignment.attempt.node_id.clone()),
                    map: MapKind::Inputs,
                },
                map: decode_map(&assignment.inputs)?,
            });
        }
        let (maps, _) = self.fit(maps, None, reserved, ReadMode::Values).await?;
        Ok(assignments
            .into_iter()
            .zip(tasks)
            .zip(maps)
            .map(|((assignment, task), inputs)| TaskAssignment::new(assignment, task, inputs))
            .collect())
    }
}
