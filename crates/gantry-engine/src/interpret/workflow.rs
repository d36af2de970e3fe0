//! Sub-workflow nodes: a registered workflow's compiled graph becomes the node's children.

use std::sync::Arc;

use gantry_core::compile::{CompiledGraph, Registry, compile_workflow};

use crate::batch::Batch;
use crate::error::{EngineError, EngineResult};

impl Batch<'_> {
    /// The compiled graph of a registered workflow run as a sub-workflow (embedded ones are registered when their
    /// spec is accepted).
    pub async fn sub_workflow_graph(
        &mut self,
        id: &gantry_core::model::Identifier,
    ) -> EngineResult<Arc<CompiledGraph>> {
        if let Some(graph) = self.shared.sub_workflow(id) {
            return Ok(graph);
        }
        let workflow = self
            .shared
            .templates
            .workflow(self.rows.tx.as_mut(), id)
            .await?
            .ok_or_else(|| EngineError::Internal(format!("workflow {id} vanished after it was compiled against")))?;
        let registry = self
            .shared
            .templates
            .registry_for(self.rows.tx.as_mut(), &workflow.nodes, &Registry::new())
            .await?;
        let graph = compile_workflow(&workflow, &registry).map_err(|errors| {
            EngineError::Internal(format!("registered workflow {id} no longer compiles: {errors}"))
        })?;
        let graph = Arc::new(graph);
        self.shared.remember_sub_workflow(id, graph.clone());
        Ok(graph)
    }
}
