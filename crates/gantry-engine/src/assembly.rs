//! Assembling a composite's outputs (a node's or an execution's: one path for both) with the plan the core made for
//! it (`gantry_core::state::CompositePlan`): its children's outputs read and decoded, assembled by the plan, checked
//! against the assembled-outputs limit and their large values offloaded, then applied as the core's `Assembled` or
//! `AssemblyFailed` event.

use std::sync::Arc;

use gantry_core::model::{ExecutionError, LiteralMap};
use gantry_core::state::{ChildOutputs, CompositePlan, ExecutionEvent, NodeEvent};
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::blobs::Offloader;
use crate::codec;
use crate::error::EngineResult;

/// Whose outputs are assembled: a composite node at one attempt (its children are scoped under it), or an
/// execution (its top-level nodes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum AssemblyTarget {
    Node {
        execution_id: Uuid,
        node_id: String,
        attempt: i32,
    },
    Execution(Uuid),
}

impl AssemblyTarget {
    pub fn node(key: &NodeKey, attempt: i32) -> Self {
        AssemblyTarget::Node {
            execution_id: key.0,
            node_id: key.1.clone(),
            attempt,
        }
    }

    pub fn execution_id(&self) -> Uuid {
        match self {
            AssemblyTarget::Node { execution_id, .. } | AssemblyTarget::Execution(execution_id) => *execution_id,
        }
    }

    /// The scoped id of the node (empty for an execution): the parent id of the children assembled.
    pub fn node_id(&self) -> &str {
        match self {
            AssemblyTarget::Node { node_id, .. } => node_id,
            AssemblyTarget::Execution(_) => "",
        }
    }

    pub fn key(&self) -> NodeKey {
        (self.execution_id(), self.node_id().to_owned())
    }

    /// What a refusal names.
    fn describe(&self) -> String {
        match self {
            AssemblyTarget::Node { node_id, .. } => format!("node {node_id:?}"),
            AssemblyTarget::Execution(id) => format!("execution {id}"),
        }
    }

    /// The children's rows as `(scoped id, stored outputs)` in position order, kept to this attempt's children,
    /// by local id, with their outputs decoded.
    fn children(&self, rows: Vec<(String, Option<Vec<u8>>)>) -> EngineResult<Vec<ChildOutputs>> {
        let prefix = match self {
            AssemblyTarget::Node { node_id, attempt, .. } => format!("{node_id}/{attempt}/"),
            AssemblyTarget::Execution(_) => String::new(),
        };
        let mut children = Vec::with_capacity(rows.len());
        for (node_id, outputs) in rows {
            let Some(local) = node_id.strip_prefix(&prefix) else {
                continue;
            };
            let outputs = outputs.as_deref().map(codec::decode_literals).transpose()?;
            children.push((local.to_owned(), outputs));
        }
        Ok(children)
    }
}

/// Assembles the target's outputs by its plan from its children's rows and its inputs, and stores them as they are
/// kept (checked against the limit, large values offloaded, encoded); or says why they cannot be assembled.
async fn assemble(
    offloader: &Offloader,
    target: &AssemblyTarget,
    plan: &CompositePlan,
    inputs: &LiteralMap,
    rows: Vec<(String, Option<Vec<u8>>)>,
) -> EngineResult<Result<Vec<u8>, String>> {
    let children = target.children(rows)?;
    let outputs = match plan.assembly.assemble(inputs, &children) {
        Ok(outputs) => outputs,
        Err(problem) => return Ok(Err(problem)),
    };
    let group = target.execution_id().to_string();
    let stored = offloader.store_assembled(outputs, &target.describe(), &group).await?;
    Ok(stored.map(|outputs| codec::encode_literals(&outputs)))
}

impl Batch<'_> {
    /// Assembles the target's outputs and applies the result.
    pub async fn assemble(&mut self, target: AssemblyTarget) -> EngineResult<()> {
        self.flush().await?;
        let key = target.key();
        let plan = self.plan(&key).await?;
        let inputs = if plan.assembly.reads_inputs() {
            self.parent_inputs(key.0, &key.1).await?
        } else {
            Arc::default()
        };
        let rows = self.tx.child_outputs(key.0, &key.1).await?;
        let offloader = self.shared.offloader.clone();
        let result = assemble(&offloader, &target, &plan, &inputs, rows).await?;
        self.assembled(&target, result).await
    }

    /// Records assembled outputs (encoded) or the reason they could not be assembled, and queues the core's event.
    async fn assembled(&mut self, target: &AssemblyTarget, result: Result<Vec<u8>, String>) -> EngineResult<()> {
        match target {
            AssemblyTarget::Node { node_id, .. } => {
                let key = target.key();
                let event = match result {
                    Ok(outputs) => {
                        self.node_mut(&key).outputs = Some(outputs);
                        NodeEvent::Assembled
                    }
                    Err(problem) => NodeEvent::AssemblyFailed {
                        error: assembly_error(problem).at_node(node_id.clone()),
                    },
                };
                self.events.push_back((key, event));
            }
            AssemblyTarget::Execution(id) => {
                let event = match result {
                    Ok(outputs) => {
                        self.execution_mut(*id).outputs = Some(outputs);
                        ExecutionEvent::Assembled
                    }
                    Err(problem) => ExecutionEvent::AssemblyFailed {
                        error: assembly_error(problem),
                    },
                };
                self.execution_events.push_back((*id, event));
            }
        }
        Ok(())
    }
}

fn assembly_error(problem: String) -> ExecutionError {
    ExecutionError::user("output_assembly", problem).recoverable(false)
}
