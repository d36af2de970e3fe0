//! Literals entering the engine: what workers and clients send is checked against the size limits and its large
//! values offloaded before the writer sees it (uploads never hold up the writer). What leaves is `reads`' part.

use std::sync::Arc;

use gantry_core::compile::{CompiledGraph, Registry, compile_dynamic_owned, scope_embedded};
use gantry_core::model::{DynamicJobSpec, LiteralMap, TaskTemplate};
use gantry_core::state::AttemptResult;

use crate::blobs::contains_offloaded;
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::shared::Shared;
use crate::worker::{AttemptRef, Completion};
use crate::{CreateExecution, Engine};

fn refuse_offloaded(map: &LiteralMap, what: &str) -> EngineResult<()> {
    match map.iter().find(|(_, literal)| contains_offloaded(literal)) {
        Some((name, _)) => Err(EngineError::InvalidArgument(format!(
            "{what}: {name:?} is an offloaded literal; only the server issues those"
        ))),
        None => Ok(()),
    }
}

/// A dynamic spec compiled at the engine's edge, so that the writer neither compiles nor encodes it: a spec of
/// 100,000 nodes takes a while to compile, and every other client would wait for it.
#[derive(Debug)]
pub(crate) struct CompiledSpec {
    /// The compiled graph, or every compile error.
    pub graph: Result<Arc<CompiledGraph>, String>,
    /// The spec as the store keeps it.
    pub bytes: bytes::Bytes,
}

/// A completion past the engine's edge: checked, its large values offloaded, its spec compiled.
#[derive(Debug, Clone)]
pub(crate) struct Admitted {
    pub completion: Completion,
    /// For a dynamic spec whose node and task were found; otherwise the writer compiles it.
    pub spec: Option<Arc<CompiledSpec>>,
}

/// Compiles the completion's dynamic spec, if it has one, against its node's task as registered. The node and the
/// templates are read outside any writer transaction (a node's task and registered templates never change); a
/// completion the writer then refuses was compiled for nothing. Large specs compile on the blocking pool.
pub(crate) async fn admit_spec(shared: &Shared, mut completion: Completion) -> Admitted {
    let AttemptResult::DynamicSpec(spec) = &completion.result else {
        return Admitted { completion, spec: None };
    };
    let context = match spec_context(shared, &completion.attempt, spec).await {
        Ok(context) => context,
        Err(error) => {
            tracing::warn!(%error, "could not read what a dynamic spec compiles against; the writer will");
            None
        }
    };
    let Some((task, registry)) = context else {
        return Admitted { completion, spec: None };
    };
    let encoded = completion.encoded_spec.take();
    let AttemptResult::DynamicSpec(spec) =
        std::mem::replace(&mut completion.result, AttemptResult::Outputs(LiteralMap::new()))
    else {
        unreachable!("matched above");
    };
    let large = spec.nodes.len() > 256;
    // The graph takes the spec's nodes over: a large spec is held once, not twice.
    let compile = move || {
        let mut spec = Arc::unwrap_or_clone(spec);
        // A spec that scopes a template is kept as it runs, with the scoped identifiers.
        let encoded = match scope_embedded(&mut spec, &registry, &codec::template_digest).is_empty() {
            true => encoded.map(bytes::Bytes::from),
            false => None,
        };
        let bytes = codec::spec_to_store(encoded.unwrap_or_else(|| codec::encode_spec(&spec).into()));
        let graph = compile_dynamic_owned(&mut spec, &task.interface, &registry)
            .map(Arc::new)
            .map_err(|errors| errors.to_string());
        (spec, CompiledSpec { graph, bytes })
    };
    let (spec, compiled) = if large {
        match tokio::task::spawn_blocking(compile).await {
            Ok(compiled) => compiled,
            Err(panicked) => std::panic::resume_unwind(panicked.into_panic()),
        }
    } else {
        compile()
    };
    completion.result = AttemptResult::DynamicSpec(Arc::new(spec));
    Admitted {
        completion,
        spec: Some(Arc::new(compiled)),
    }
}

/// The task the completion's node runs and the registered templates its spec names; `None` when the node is not
/// there (the writer refuses the completion).
async fn spec_context(
    shared: &Shared,
    attempt: &AttemptRef,
    spec: &DynamicJobSpec,
) -> EngineResult<Option<(Arc<TaskTemplate>, Registry)>> {
    let Some(node) = shared.store.get_node(attempt.execution_id, &attempt.node_id).await? else {
        return Ok(None);
    };
    let Some(task_id) = node.task else {
        return Ok(None);
    };
    let project = match shared.config.own_project_references {
        true => match shared.store.get_execution(attempt.execution_id).await? {
            Some(execution) => Some(execution.project),
            None => return Ok(None),
        },
        false => None,
    };
    let id = codec::parse_identifier(&task_id)?;
    // A transaction that only reads, so that the template cache's loaders can be used as they are.
    let mut tx = shared.store.begin().await?;
    let found = match shared.templates.task(tx.as_mut(), &id).await? {
        Some(task) => {
            let registry = shared
                .templates
                .registry_within(tx.as_mut(), &spec.nodes, &Registry::new(), project.as_deref())
                .await?;
            Some((task, registry))
        }
        None => None,
    };
    let _ = tx.rollback().await;
    Ok(found)
}

impl Engine {
    /// Checks a completion against the limits, offloads its large outputs and compiles its dynamic spec.
    pub(crate) async fn admit_completion(&self, mut completion: Completion) -> EngineResult<Admitted> {
        let offloader = &self.shared.offloader;
        let what = format!(
            "outputs of attempt {} of node {:?} in execution {}",
            completion.attempt.attempt, completion.attempt.node_id, completion.attempt.execution_id
        );
        completion.result = match completion.result {
            AttemptResult::Outputs(outputs) => {
                refuse_offloaded(&outputs, &what)?;
                let limit = offloader.limits.outputs_bytes;
                let group = completion.attempt.execution_id.to_string();
                AttemptResult::Outputs(offloader.admit(outputs, &group, &what, limit).await?)
            }
            AttemptResult::DynamicSpec(spec) => {
                let size = completion.result_bytes;
                if size > offloader.limits.spec_bytes {
                    return Err(EngineError::ResourceExhausted(format!(
                        "the dynamic spec of node {:?} in execution {} is {size} bytes, above the limit of {} bytes",
                        completion.attempt.node_id, completion.attempt.execution_id, offloader.limits.spec_bytes
                    )));
                }
                let nodes = spec.nodes.len() as u64;
                if nodes > offloader.limits.spec_nodes {
                    return Err(EngineError::ResourceExhausted(format!(
                        "the dynamic spec of node {:?} in execution {} has {nodes} nodes, above the limit of {} nodes",
                        completion.attempt.node_id, completion.attempt.execution_id, offloader.limits.spec_nodes
                    )));
                }
                AttemptResult::DynamicSpec(spec)
            }
            error => error,
        };
        Ok(admit_spec(&self.shared, completion).await)
    }

    /// Checks an execution's inputs against the limits and offloads the large ones.
    pub(crate) async fn admit_inputs(&self, mut request: CreateExecution) -> EngineResult<CreateExecution> {
        let offloader = &self.shared.offloader;
        let what = "the execution's inputs";
        refuse_offloaded(&request.inputs, what)?;
        let inputs = std::mem::take(&mut request.inputs);
        // Offloaded objects are grouped by execution; the new execution's id is not known yet.
        request.inputs = offloader
            .admit(inputs, "inputs", what, offloader.limits.outputs_bytes)
            .await?;
        Ok(request)
    }
}
