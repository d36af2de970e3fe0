//! Dynamic nodes: a task whose attempt returned a dynamic job spec. The spec is compiled against the task's output
//! interface (at the edge when it came from a worker, `ingress.rs`), persisted with the templates it embeds, and
//! kept as the node's children; a spec that does not compile fails the node with every compile error. After a
//! restart its children are prepared again from the stored spec.

use std::sync::Arc;

use gantry_core::compile::{Registry, compile_dynamic};
use gantry_core::model::{DynamicJobSpec, ExecutionError, TaskTemplate};
use gantry_core::state::{CompositePlan, NodeEvent};
use gantry_store::{PutOutcome, ResourceKind, ResourceRow, SpecRow};

use super::Children;
use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::ingress::CompiledSpec;

impl Batch<'_> {
    /// Compiles a generator's spec against its task's output interface. Accepted: persisted (with its embedded
    /// tasks registered) and kept for creating the children. Rejected: the node fails with every compile error.
    pub(super) async fn accept_spec(
        &mut self,
        key: &NodeKey,
        attempt: i32,
        spec: &DynamicJobSpec,
        compiled: Option<&CompiledSpec>,
    ) -> EngineResult<NodeEvent> {
        let task_id = self.rows.node(key).await?.task.clone().unwrap_or_default();
        let task = self.task(&task_id).await?;
        let reject = |message: String| NodeEvent::SpecRejected {
            error: ExecutionError::user("compile_error", message)
                .recoverable(false)
                .at_node(key.1.clone()),
        };
        let graph = match compiled {
            Some(compiled) => compiled.graph.clone(),
            None => {
                let project = match self.shared.config.own_project_references {
                    true => Some(self.facts(key.0).await?.project.to_string()),
                    false => None,
                };
                let registry = self
                    .shared
                    .templates
                    .registry_within(self.rows.tx.as_mut(), &spec.nodes, &Registry::new(), project.as_deref())
                    .await?;
                compile_dynamic(spec, &task.interface, &registry)
                    .map(Arc::new)
                    .map_err(|errors| errors.to_string())
            }
        };
        let graph = match graph {
            Ok(graph) => graph,
            Err(errors) => return Ok(reject(format!("the dynamic spec does not compile: {errors}"))),
        };
        let embedded = spec
            .tasks
            .iter()
            .map(|task| (ResourceKind::Task, "task", &task.id, codec::encode_task(task)))
            .chain(spec.subworkflows.iter().map(|workflow| {
                let template = codec::encode_workflow(workflow);
                (ResourceKind::Workflow, "workflow", &workflow.id, template)
            }));
        let own = match self.shared.config.own_project_references {
            true => Some(self.facts(key.0).await?.project.to_string()),
            false => None,
        };
        for (kind, what, id, template) in embedded {
            // Registered as the spec is accepted: under authentication, only in the execution's own project.
            if let Some(project) = own.as_deref()
                && id.project != project
            {
                return Ok(reject(format!(
                    "embedded {what} {id} is not of project {project}, this execution's"
                )));
            }
            let row = ResourceRow {
                key: codec::resource_key(id),
                template,
                created_at: self.now,
            };
            match self.rows.tx.get_resource(kind, &row.key).await? {
                Some(existing) if existing.template != row.template => {
                    return Ok(reject(format!(
                        "embedded {what} {id} differs from the {what} registered under that id"
                    )));
                }
                Some(_) => {}
                None => {
                    let outcome = self.rows.tx.put_resource(kind, &row).await?;
                    debug_assert_eq!(outcome, PutOutcome::Created);
                }
            }
        }
        let bytes = match compiled {
            Some(compiled) => compiled.bytes.clone(),
            None => codec::spec_to_store(codec::encode_spec(spec).into()),
        };
        self.install_spec(key, attempt, spec, graph, &task, bytes);
        Ok(NodeEvent::SpecCompiled)
    }

    /// Keeps a compiled spec for the node's attempt: stored as `bytes` (so the generator never runs again for it),
    /// its output assembly remembered, its children prepared.
    pub fn install_spec(
        &mut self,
        key: &NodeKey,
        attempt: i32,
        spec: &DynamicJobSpec,
        graph: Arc<gantry_core::compile::CompiledGraph>,
        task: &TaskTemplate,
        bytes: bytes::Bytes,
    ) {
        // The graph's outputs are the spec's (a spec compiled as it was accepted no longer has them).
        let plan = CompositePlan::dynamic(
            graph.outputs.clone(),
            task.interface.outputs.clone(),
            spec.min_successes,
        );
        self.rows.add_spec(SpecRow {
            execution_id: key.0,
            node_id: key.1.clone(),
            attempt,
            spec: bytes,
            created_at: self.now,
        });
        self.rows.node_mut(key).is_dynamic = true;
        self.shared.remember_plan(key.0, &key.1, attempt, Arc::new(plan));
        self.prepared.insert(key.clone(), Children::Graph(graph));
    }

    /// A dynamic node's children prepared again from its accepted spec (after a restart, or on another replica).
    pub(super) async fn spec_children(&mut self, key: &NodeKey, attempt: i32, task_id: &str) -> EngineResult<Children> {
        let spec = self.rows.tx.get_spec(key.0, &key.1, attempt).await?.ok_or_else(|| {
            EngineError::Internal(format!("node {:?} creates children but has no accepted spec", key.1))
        })?;
        let spec = codec::decode_spec(&spec.spec)?;
        let task = self.task(task_id).await?;
        let registry = self
            .shared
            .templates
            .registry_for(self.rows.tx.as_mut(), &spec.nodes, &Registry::new())
            .await?;
        let graph = compile_dynamic(&spec, &task.interface, &registry).map_err(|errors| {
            EngineError::Internal(format!(
                "the accepted spec of node {:?} no longer compiles: {errors}",
                key.1
            ))
        })?;
        Ok(Children::Graph(Arc::new(graph)))
    }
}
