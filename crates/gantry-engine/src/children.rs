//! Creating a composite's children (a dynamic spec's nodes, or an execution's top-level nodes) from a compiled
//! graph, in one batch, and starting those that wait on nothing.

use gantry_core::compile::{CompiledGraph, CompiledTarget};
use gantry_core::ids::NodeExecutionId;
use gantry_core::state::{CacheStatus, NodeKind, NodePhase};
use gantry_store::NodeRow;
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::{EngineError, EngineResult};

/// Where new children go: under a node's attempt, or at the top of an execution.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub execution_id: Uuid,
    /// The parent node and its attempt; `None` for an execution's top-level nodes.
    pub parent: Option<(NodeExecutionId, u32)>,
}

impl Scope {
    pub fn child_id(&self, local_id: &str) -> String {
        match &self.parent {
            Some((parent, attempt)) => parent.child(*attempt, local_id).into_string(),
            None => NodeExecutionId::top(local_id).into_string(),
        }
    }

    pub fn parent_id(&self) -> String {
        self.parent
            .as_ref()
            .map(|(p, _)| p.as_str().to_owned())
            .unwrap_or_default()
    }
}

/// Refuses node kinds the engine does not run yet, naming the node.
pub(crate) fn check_supported(graph: &CompiledGraph) -> EngineResult<()> {
    for node in &graph.nodes {
        if !matches!(node.target, CompiledTarget::Task(_)) {
            return Err(EngineError::InvalidArgument(format!(
                "node {:?}: {} nodes are not supported yet; only task nodes (dynamic ones included) run",
                node.node.id,
                node.node.target.kind_name()
            )));
        }
    }
    Ok(())
}

impl Batch<'_> {
    /// Creates one row per node of `graph` under `scope` and returns how many. Rows go in with the batch's flush, as
    /// one multi-row insert.
    pub fn create_children(&mut self, scope: &Scope, graph: &CompiledGraph) -> EngineResult<u64> {
        let parent_id = scope.parent_id();
        let mut rows = Vec::with_capacity(graph.nodes.len());
        for (position, compiled) in graph.nodes.iter().enumerate() {
            let CompiledTarget::Task(task) = &compiled.target else {
                return Err(EngineError::Internal(format!(
                    "unsupported node {:?} reached the engine",
                    compiled.node.id
                )));
            };
            let local_id = compiled.node.id.clone();
            rows.push(NodeRow {
                execution_id: scope.execution_id,
                node_id: scope.child_id(&local_id),
                parent_id: parent_id.clone(),
                local_id,
                kind: NodeKind::Task,
                definition: codec::encode_node(&compiled.node),
                task: Some(task.id.to_string()),
                phase: NodePhase::NotStarted,
                is_dynamic: false,
                attempts: 0,
                user_failures: 0,
                system_failures: 0,
                cache_status: CacheStatus::Disabled,
                upstream_pending: compiled.upstream.len() as i32,
                downstream: compiled
                    .downstream
                    .iter()
                    .map(|&i| graph.nodes[i].node.id.clone())
                    .collect(),
                position: position as i64,
                children_total: 0,
                children_succeeded: 0,
                children_failed: 0,
                children_skipped: 0,
                inputs: None,
                outputs: None,
                error: None,
                child_execution_id: None,
                created_at: self.now,
                updated_at: self.now,
                started_at: None,
                finished_at: None,
            });
        }
        let count = rows.len() as u64;
        self.create_nodes(rows);
        Ok(count)
    }

    /// Starts the children of `scope` that wait on no other child.
    pub async fn start_roots(&mut self, scope: &Scope, graph: &CompiledGraph) -> EngineResult<()> {
        for root in graph.roots() {
            let key: NodeKey = (scope.execution_id, scope.child_id(&graph.nodes[root].node.id));
            self.start_node(&key).await?;
        }
        Ok(())
    }
}
