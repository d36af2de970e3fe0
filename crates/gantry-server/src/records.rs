//! Stored rows as the wire's records.

use gantry_core::model::{Identifier, NodeTarget};
use gantry_engine::{decode_error, decode_node, parse_identifier};
use gantry_proto::v1 as pb;
use gantry_store::{AttemptRow, ExecutionRow, NodeRow};
use prost_types::Timestamp;
use tonic::Status;

use crate::status::IntoStatus;

/// A millisecond time as a protobuf timestamp.
pub fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A millisecond span as a protobuf duration.
pub fn duration(ms: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A stored error for the wire.
pub fn error(bytes: &Option<Vec<u8>>) -> Result<Option<pb::ExecutionError>, Status> {
    bytes
        .as_deref()
        .map(|b| decode_error(b).map(pb::ExecutionError::from))
        .transpose()
        .or_status()
}

/// An execution without its inputs, as lists show it (`data::execution` adds them).
pub fn execution(row: &ExecutionRow) -> Result<pb::Execution, Status> {
    let target_type = match row.target_kind.as_str() {
        "task" => pb::ResourceType::Task,
        "workflow" => pb::ResourceType::Workflow,
        _ => pb::ResourceType::LaunchPlan,
    };
    Ok(pb::Execution {
        id: row.id.to_string(),
        project: row.project.clone(),
        domain: row.domain.clone(),
        name: row.name.clone(),
        target: Some(parse_identifier(&row.target).or_status()?.into()),
        target_type: target_type as i32,
        phase: pb::ExecutionPhase::from(row.phase) as i32,
        inputs: None,
        error: error(&row.error)?,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        started_at: row.started_at.map(timestamp),
        finished_at: row.finished_at.map(timestamp),
        parent_node_execution: match (&row.parent_execution_id, &row.parent_node_id) {
            (Some(execution_id), Some(node_id)) => Some(pb::NodeExecutionRef {
                execution_id: execution_id.to_string(),
                node_id: node_id.clone(),
            }),
            _ => None,
        },
        max_parallelism: row.max_parallelism.map(|n| n as u32),
        overwrite_cache: row.overwrite_cache,
        origin: match (row.parent_execution_id, row.origin.as_str()) {
            (Some(_), _) => pb::ExecutionOrigin::Child,
            (None, "relaunched") => pb::ExecutionOrigin::Relaunched,
            (None, "recovered") => pb::ExecutionOrigin::Recovered,
            (None, _) => pb::ExecutionOrigin::Created,
        } as i32,
        source_execution_id: row.source_execution_id.map(|id| id.to_string()).unwrap_or_default(),
        timeout: row.timeout_ms.map(duration),
        deadline: row.deadline.map(timestamp),
    })
}

/// The node's kind and the task, workflow or launch plan it runs, read from its definition.
pub fn node_kind(row: &NodeRow) -> Result<(pb::NodeKind, Option<Identifier>), Status> {
    let definition = decode_node(&row.definition).or_status()?;
    Ok(match definition.target {
        NodeTarget::Task(id) => (pb::NodeKind::Task, Some(id)),
        NodeTarget::SubWorkflow(id) => (pb::NodeKind::SubWorkflow, Some(id)),
        NodeTarget::LaunchPlan(id) => (pb::NodeKind::LaunchPlan, Some(id)),
        NodeTarget::Branch(_) => (pb::NodeKind::Branch, None),
        NodeTarget::Array(_) => (pb::NodeKind::Array, None),
    })
}

pub fn node(row: &NodeRow) -> Result<pb::NodeExecution, Status> {
    let (kind, target) = node_kind(row)?;
    Ok(pb::NodeExecution {
        execution_id: row.execution_id.to_string(),
        node_id: row.node_id.clone(),
        parent_node_id: row.parent_id.clone(),
        phase: pb::NodePhase::from(row.phase) as i32,
        is_dynamic_parent: row.is_dynamic,
        is_parent: row.children_total > 0 || row.is_dynamic,
        cache_status: pb::CacheStatus::from(row.cache_status) as i32,
        attempts: row.attempts as u32,
        error: error(&row.error)?,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        started_at: row.started_at.map(timestamp),
        finished_at: row.finished_at.map(timestamp),
        kind: kind as i32,
        target: target.map(Into::into),
        child_execution_id: row.child_execution_id.map(|id| id.to_string()).unwrap_or_default(),
        user_failures: row.user_failures as u32,
        system_failures: row.system_failures as u32,
    })
}

pub fn attempt(row: &AttemptRow) -> Result<pb::TaskAttempt, Status> {
    Ok(pb::TaskAttempt {
        execution_id: row.execution_id.to_string(),
        node_id: row.node_id.clone(),
        attempt: row.attempt as u32,
        phase: pb::AttemptPhase::from(row.phase) as i32,
        worker_id: row.worker_id.clone().unwrap_or_default(),
        lease_expires_at: row.lease_expires_at.map(timestamp),
        error: error(&row.error)?,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.finished_at.or(row.started_at).unwrap_or(row.created_at))),
        started_at: row.started_at.map(timestamp),
        finished_at: row.finished_at.map(timestamp),
        not_before: Some(timestamp(row.not_before)),
        deadline: row.deadline.map(timestamp),
    })
}
