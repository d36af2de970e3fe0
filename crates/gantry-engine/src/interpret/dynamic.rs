//! Dynamic nodes: a task whose attempt returned a dynamic job spec. The spec is compiled against the task's output
//! interface (at the edge when it came from a worker, `ingress.rs`), persisted with the templates it embeds, and
//! kept as the node's children; a spec that does not compile fails the node with every compile error. After a
//! restart its children are prepared again from the stored spec.

use std::sync::Arc;

use gantry_core::compile::{EmbeddedTemplate, Registry, compile_dynamic, scope_spec};
use gantry_core::model::Identifier;
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
    /// templates registered, those that differ from a registered one under a spec-scoped identifier) and kept for
    /// creating the children. Rejected: the node fails with every compile error.
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
        let own = match self.shared.config.own_project_references {
            true => Some(self.facts(key.0).await?.project.to_string()),
            false => None,
        };
        if let Some(id) = embedded(spec).find_map(|(_, what, id, _)| {
            own.as_deref()
                .filter(|project| id.project != *project)
                .map(|project| (what, id, project))
        }) {
            let (what, id, project) = id;
            return Ok(reject(format!(
                "embedded {what} {id} is not of project {project}, this execution's"
            )));
        }
        // The edge scoped and compiled the spec against the templates registered then. One registered since (by
        // another spec in this batch, say) that an embedded template differs from is seen here: the spec is scoped
        // and compiled again, from what the edge kept of it (its nodes went into the graph). Each embedded
        // template's row is read once, unless the spec had to be scoped again.
        let edge = match compiled {
            Some(edge) => match self.unregistered(spec).await? {
                Ok(rows) => Some((edge, rows)),
                Err(_) => {
                    let mut whole = codec::decode_spec(&edge.bytes)?;
                    let graph = self.scope_and_compile(&mut whole, &task, own.as_deref()).await?;
                    return self.accept_scoped(key, attempt, whole, graph, &task, reject).await;
                }
            },
            None => None,
        };
        let Some((edge, rows)) = edge else {
            let mut whole = spec.clone();
            let graph = self.scope_and_compile(&mut whole, &task, own.as_deref()).await?;
            return self.accept_scoped(key, attempt, whole, graph, &task, reject).await;
        };
        let graph = match &edge.graph {
            Ok(graph) => graph.clone(),
            Err(errors) => return Ok(reject(format!("the dynamic spec does not compile: {errors}"))),
        };
        self.register_embedded(rows).await?;
        self.install_spec(key, attempt, spec, graph, &task, edge.bytes.clone());
        Ok(NodeEvent::SpecCompiled)
    }

    /// Accepts a spec the writer scoped and compiled itself: stored as scoped, its embedded templates registered.
    async fn accept_scoped(
        &mut self,
        key: &NodeKey,
        attempt: i32,
        spec: DynamicJobSpec,
        graph: Result<Arc<gantry_core::compile::CompiledGraph>, String>,
        task: &TaskTemplate,
        reject: impl Fn(String) -> NodeEvent,
    ) -> EngineResult<NodeEvent> {
        let graph = match graph {
            Ok(graph) => graph,
            Err(errors) => return Ok(reject(format!("the dynamic spec does not compile: {errors}"))),
        };
        match self.unregistered(&spec).await? {
            Ok(rows) => self.register_embedded(rows).await?,
            // A scoped identifier taken by other contents (a digest collision, or a template registered under such a
            // version before those were refused) was scoped once more; only a second collision gets here.
            Err((what, id)) => {
                return Ok(reject(format!(
                    "embedded {what} {id} differs from the {what} registered under that id"
                )));
            }
        }
        let bytes = codec::spec_to_store(codec::encode_spec(&spec).into());
        self.install_spec(key, attempt, &spec, graph, task, bytes);
        Ok(NodeEvent::SpecCompiled)
    }

    /// The rows of `spec`'s embedded templates that are not registered yet (each once), each template's row read
    /// once; or the first embedded template that differs from the one registered under its identifier.
    async fn unregistered(
        &mut self,
        spec: &DynamicJobSpec,
    ) -> EngineResult<Result<Vec<(ResourceKind, ResourceRow)>, (&'static str, String)>> {
        let mut rows: Vec<(ResourceKind, ResourceRow)> = Vec::new();
        for (kind, what, id, template) in embedded(spec) {
            let row = ResourceRow {
                key: codec::resource_key(id),
                template: codec::encode_template(template),
                created_at: self.now,
            };
            if rows.iter().any(|(k, r)| *k == kind && r.key == row.key) {
                continue;
            }
            match self.rows.tx.get_resource(kind, &row.key).await? {
                Some(existing) if existing.template != row.template => return Ok(Err((what, id.to_string()))),
                Some(_) => {}
                None => rows.push((kind, row)),
            }
        }
        Ok(Ok(rows))
    }

    async fn register_embedded(&mut self, rows: Vec<(ResourceKind, ResourceRow)>) -> EngineResult<()> {
        for (kind, row) in rows {
            let outcome = self.rows.tx.put_resource(kind, &row).await?;
            debug_assert_eq!(outcome, PutOutcome::Created);
        }
        Ok(())
    }

    /// Scopes `spec`'s embedded templates against those registered now and compiles it.
    async fn scope_and_compile(
        &mut self,
        spec: &mut DynamicJobSpec,
        task: &TaskTemplate,
        project: Option<&str>,
    ) -> EngineResult<Result<Arc<gantry_core::compile::CompiledGraph>, String>> {
        let registry = self
            .shared
            .templates
            .registry_within(self.rows.tx.as_mut(), &spec.nodes, &Registry::new(), project)
            .await?;
        let scoped = scope_spec(spec, &registry, &codec::template_digest);
        if !scoped.is_empty() {
            tracing::debug!(?scoped, "embedded templates scoped to their spec");
        }
        Ok(compile_dynamic(spec, &task.interface, &registry)
            .map(Arc::new)
            .map_err(|errors| errors.to_string()))
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

/// A spec's embedded templates: kind, what to call it in a message, identifier, the template.
fn embedded(
    spec: &DynamicJobSpec,
) -> impl Iterator<Item = (ResourceKind, &'static str, &Identifier, EmbeddedTemplate<'_>)> {
    let tasks = spec
        .tasks
        .iter()
        .map(|task| (ResourceKind::Task, "task", &task.id, EmbeddedTemplate::Task(task)));
    let workflows = spec.subworkflows.iter().map(|workflow| {
        (
            ResourceKind::Workflow,
            "workflow",
            &workflow.id,
            EmbeddedTemplate::Workflow(workflow),
        )
    });
    tasks.chain(workflows)
}
