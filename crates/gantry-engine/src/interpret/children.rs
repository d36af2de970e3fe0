//! The rows of a composite's children (a dynamic spec's, workflow's or sub-workflow's nodes, a branch's arms, an
//! array's elements, or an execution's top-level nodes); `creation.rs` decides how many a batch creates and which
//! start.

use std::ops::Range;

use gantry_core::ids::NodeExecutionId;
use gantry_core::model::{Node, NodeTarget};
use gantry_core::state::{CacheStatus, NodeKind, NodePhase};
use gantry_store::NodeRow;
use uuid::Uuid;

use crate::batch::Batch;
use crate::codec;
use crate::interpret::Children;

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

impl Batch<'_> {
    /// Creates the rows of the prepared `children` in `range` (positions) under `scope`; returns how many of them
    /// were skipped at creation (a branch's untaken arms). Rows go in with the batch's flush, as one multi-row
    /// insert. Every upstream node counts as pending; `creation.rs` corrects that for later chunks.
    pub fn create_children(&mut self, scope: &Scope, children: &Children, range: Range<usize>) -> u64 {
        let rows: Vec<NodeRow> = match children {
            Children::Graph(graph) => range
                .map(|position| {
                    let compiled = &graph.nodes[position];
                    let downstream = compiled
                        .downstream
                        .iter()
                        .map(|&i| graph.node_id(i).to_owned())
                        .collect();
                    let upstream = compiled.upstream.len() as i32;
                    self.child_row(
                        scope,
                        position,
                        &graph.declared[position],
                        NodePhase::NotStarted,
                        upstream,
                        downstream,
                    )
                })
                .collect(),
            Children::Arms { nodes, taken } => range
                .map(|position| {
                    let phase = if position == *taken {
                        NodePhase::NotStarted
                    } else {
                        NodePhase::Skipped
                    };
                    self.child_row(scope, position, &nodes[position], phase, 0, Vec::new())
                })
                .collect(),
            Children::Elements { nodes, .. } => range
                .map(|position| self.child_row(scope, position, &nodes[position], NodePhase::NotStarted, 0, Vec::new()))
                .collect(),
        };
        let skipped = rows.iter().filter(|row| row.phase == NodePhase::Skipped).count() as u64;
        self.rows.create_nodes(rows);
        skipped
    }

    fn child_row(
        &self,
        scope: &Scope,
        position: usize,
        node: &Node,
        phase: NodePhase,
        upstream_pending: i32,
        downstream: Vec<String>,
    ) -> NodeRow {
        let task = match &node.target {
            NodeTarget::Task(id) => Some(id.to_string()),
            _ => None,
        };
        let finished_at = phase.is_terminal().then_some(self.now);
        NodeRow {
            execution_id: scope.execution_id,
            node_id: scope.child_id(&node.id),
            parent_id: scope.parent_id(),
            local_id: node.id.clone(),
            kind: NodeKind::of(&node.target),
            definition: codec::encode_node(node),
            task,
            phase,
            is_dynamic: false,
            attempts: 0,
            user_failures: 0,
            system_failures: 0,
            cache_status: CacheStatus::Disabled,
            upstream_pending,
            downstream,
            position: position as i64,
            children_total: 0,
            children_succeeded: 0,
            children_failed: 0,
            children_skipped: 0,
            children_created: 0,
            inputs: None,
            outputs: None,
            error: None,
            child_execution_id: None,
            created_at: self.now,
            updated_at: self.now,
            started_at: None,
            finished_at,
        }
    }
}
