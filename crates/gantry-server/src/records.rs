//! The engine's records as the wire's.

use gantry_core::model::{ExecutionError, Identifier, ResourceKind};
use gantry_engine::{AttemptRecord, ExecutionOrigin, ExecutionRecord, NodeRecord, NodeRuns};
use gantry_proto::v1 as pb;
use prost_types::Timestamp;

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

/// An error for the wire.
pub fn error(error: &Option<ExecutionError>) -> Option<pb::ExecutionError> {
    error.clone().map(pb::ExecutionError::from)
}

/// An execution without its inputs, as lists show it (`data::execution` adds them).
pub fn execution(record: &ExecutionRecord) -> pb::Execution {
    let target_type = match record.target_kind {
        ResourceKind::Task => pb::ResourceType::Task,
        ResourceKind::Workflow => pb::ResourceType::Workflow,
        ResourceKind::LaunchPlan => pb::ResourceType::LaunchPlan,
    };
    pb::Execution {
        id: record.id.to_string(),
        project: record.project.clone(),
        domain: record.domain.clone(),
        name: record.name.clone(),
        target: Some(record.target.clone().into()),
        target_type: target_type as i32,
        phase: pb::ExecutionPhase::from(record.phase) as i32,
        inputs: None,
        error: error(&record.error),
        created_at: Some(timestamp(record.created_at_ms)),
        updated_at: Some(timestamp(record.updated_at_ms)),
        started_at: record.started_at_ms.map(timestamp),
        finished_at: record.finished_at_ms.map(timestamp),
        parent_node_execution: match (&record.parent_execution_id, &record.parent_node_id) {
            (Some(execution_id), Some(node_id)) => Some(pb::NodeExecutionRef {
                execution_id: execution_id.to_string(),
                node_id: node_id.clone(),
            }),
            _ => None,
        },
        max_parallelism: record.max_parallelism,
        overwrite_cache: record.overwrite_cache,
        origin: match record.origin {
            ExecutionOrigin::Child => pb::ExecutionOrigin::Child,
            ExecutionOrigin::Relaunched => pb::ExecutionOrigin::Relaunched,
            ExecutionOrigin::Recovered => pb::ExecutionOrigin::Recovered,
            ExecutionOrigin::Created => pb::ExecutionOrigin::Created,
            ExecutionOrigin::Scheduled => pb::ExecutionOrigin::Scheduled,
        } as i32,
        source_execution_id: record.source_execution_id.map(|id| id.to_string()).unwrap_or_default(),
        timeout: record.timeout_ms.map(duration),
        deadline: record.deadline_ms.map(timestamp),
    }
}

/// The node's kind and the task, workflow or launch plan it runs.
pub fn node_kind(runs: &NodeRuns) -> (pb::NodeKind, Option<&Identifier>) {
    match runs {
        NodeRuns::Task(id) => (pb::NodeKind::Task, Some(id)),
        NodeRuns::SubWorkflow(id) => (pb::NodeKind::SubWorkflow, Some(id)),
        NodeRuns::LaunchPlan(id) => (pb::NodeKind::LaunchPlan, Some(id)),
        NodeRuns::Branch => (pb::NodeKind::Branch, None),
        NodeRuns::Array => (pb::NodeKind::Array, None),
        NodeRuns::Gate => (pb::NodeKind::Gate, None),
    }
}

pub fn node(record: &NodeRecord) -> pb::NodeExecution {
    let (kind, target) = node_kind(&record.runs);
    pb::NodeExecution {
        execution_id: record.execution_id.to_string(),
        node_id: record.node_id.clone(),
        parent_node_id: record.parent_id.clone(),
        phase: pb::NodePhase::from(record.phase) as i32,
        is_dynamic_parent: record.is_dynamic,
        is_parent: record.children_total > 0 || record.is_dynamic,
        cache_status: pb::CacheStatus::from(record.cache_status) as i32,
        attempts: record.attempts,
        error: error(&record.error),
        created_at: Some(timestamp(record.created_at_ms)),
        updated_at: Some(timestamp(record.updated_at_ms)),
        started_at: record.started_at_ms.map(timestamp),
        finished_at: record.finished_at_ms.map(timestamp),
        kind: kind as i32,
        target: target.cloned().map(Into::into),
        child_execution_id: record.child_execution_id.map(|id| id.to_string()).unwrap_or_default(),
        user_failures: record.user_failures,
        system_failures: record.system_failures,
    }
}

pub fn attempt(record: &AttemptRecord) -> pb::TaskAttempt {
    pb::TaskAttempt {
        execution_id: record.execution_id.to_string(),
        node_id: record.node_id.clone(),
        attempt: record.attempt,
        phase: pb::AttemptPhase::from(record.phase) as i32,
        worker_id: record.worker_id.clone().unwrap_or_default(),
        lease_expires_at: record.lease_expires_at_ms.map(timestamp),
        error: error(&record.error),
        created_at: Some(timestamp(record.created_at_ms)),
        updated_at: Some(timestamp(
            record
                .finished_at_ms
                .or(record.started_at_ms)
                .unwrap_or(record.created_at_ms),
        )),
        started_at: record.started_at_ms.map(timestamp),
        finished_at: record.finished_at_ms.map(timestamp),
        not_before: Some(timestamp(record.not_before_ms)),
        deadline: record.deadline_ms.map(timestamp),
    }
}
