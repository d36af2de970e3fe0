//! The spec compiler: checks a workflow template or a dynamic job spec against what it references and returns a
//! compiled graph, or every problem at once.
//!
//! Compilation runs in two passes over a graph's nodes. Pass 1 resolves each node's target (a task, sub-workflow,
//! launch plan, branch or array node) and so learns every node's outputs; sub-workflows are compiled recursively
//! here, once per compilation, their errors prefixed with the node path (`sw1/inner`). Pass 2 checks bindings,
//! explicit upstream ids and the graph's outputs, then orders the graph (Kahn's algorithm, declaration order among
//! ready nodes) or reports its cycles. Nodes are indexed by id, so the cost is linear in the size of the spec.
//!
//! Branch arms and an array node's inner node are checked as nodes of the enclosing graph: their promises read the
//! enclosing graph's nodes and inputs, and the nodes they wait for are the branch's (or array's) upstream nodes. A
//! branch's own input bindings are what its conditions read (`Operand::Var` names them). An array node binds lists
//! (one element per run) on itself, and values shared by every run on its inner node.

mod bindings;
mod branch;
mod compiler;
mod error;
mod finish;
mod gate;
mod graph;
mod resolver;
mod scope;
mod targets;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;

use crate::model::{Binding, DynamicJobSpec, Node, TypedInterface, WorkflowTemplate};

pub use error::{CompileError, CompileErrorCode, CompileErrors, VarSide};
pub use graph::{CompiledGraph, CompiledNode, CompiledTarget, GraphSource};
pub use resolver::{Registry, ResolvedLaunchPlan, Resolver};
pub use scope::{
    EmbeddedTemplate, SCOPE_DIGEST_CHARS, SCOPE_MARK, Scoped, derive_overridden, is_scoped_version, scope_embedded,
    scope_spec,
};
pub use targets::array_interface;

use compiler::{Compiler, GraphSpec};
use resolver::Embedded;

fn finish(compiler: Compiler<'_>, graph: Option<CompiledGraph>) -> Result<CompiledGraph, CompileErrors> {
    match graph {
        Some(graph) if compiler.errors.is_empty() => Ok(graph),
        _ => {
            debug_assert!(
                !compiler.errors.is_empty(),
                "a graph failed to compile without an error"
            );
            Err(CompileErrors(compiler.errors))
        }
    }
}

/// Compiles a registered (or to-be-registered) workflow. It must have at least one node.
pub fn compile_workflow(workflow: &WorkflowTemplate, resolver: &dyn Resolver) -> Result<CompiledGraph, CompileErrors> {
    let mut compiler = Compiler::new(resolver, false);
    compiler.enter_workflow(&workflow.id);
    let graph = compiler.compile_workflow(workflow, "");
    finish(compiler, graph)
}

/// Compiles the dynamic job spec a generator returned, for a parent task with interface `parent`.
///
/// Promises with an empty node id read the parent's inputs, and the spec's output bindings must bind the parent's
/// outputs. Templates embedded in the spec are looked up before `resolver`'s. A spec with no nodes is fine: its
/// outputs then come from literals and the parent's inputs.
pub fn compile_dynamic(
    spec: &DynamicJobSpec,
    parent: &TypedInterface,
    resolver: &dyn Resolver,
) -> Result<CompiledGraph, CompileErrors> {
    compile_spec(
        spec,
        (Cow::Borrowed(&spec.nodes), Cow::Borrowed(&spec.outputs)),
        parent,
        resolver,
    )
}

/// [`compile_dynamic`] taking the spec's nodes and output bindings out of `spec`: the compiled graph keeps them
/// instead of a copy, which halves what a large spec holds while it is accepted. `spec` is left with every other
/// field; the graph's `outputs` are the spec's.
pub fn compile_dynamic_owned(
    spec: &mut DynamicJobSpec,
    parent: &TypedInterface,
    resolver: &dyn Resolver,
) -> Result<CompiledGraph, CompileErrors> {
    let nodes = std::mem::take(&mut spec.nodes);
    let outputs = std::mem::take(&mut spec.outputs);
    compile_spec(spec, (Cow::Owned(nodes), Cow::Owned(outputs)), parent, resolver)
}

/// Compiles `nodes` and `outputs` as those of `spec` (whose own `nodes` and `outputs` are not read).
fn compile_spec(
    spec: &DynamicJobSpec,
    (nodes, outputs): (Cow<'_, [Node]>, Cow<'_, [Binding]>),
    parent: &TypedInterface,
    resolver: &dyn Resolver,
) -> Result<CompiledGraph, CompileErrors> {
    let (embedded, conflicts) = Embedded::new(spec, resolver);
    let mut compiler = Compiler::new(&embedded, true);
    for conflict in conflicts {
        compiler.push(CompileError::node(
            CompileErrorCode::DuplicateTemplate,
            "",
            format!("the spec embeds two different templates for {conflict}"),
        ));
    }
    compiler.check_interface("", "the parent task", parent);
    if let Some(min_successes) = spec.min_successes
        && min_successes > nodes.len() as u64
    {
        compiler.push(CompileError::node(
            CompileErrorCode::InvalidMinSuccesses,
            "",
            format!(
                "the spec requires {min_successes} successes but has {} nodes",
                nodes.len()
            ),
        ));
    }
    let graph = compiler.compile_graph(GraphSpec {
        path: "",
        owner: "the parent task",
        interface: Arc::new(parent.clone()),
        nodes,
        outputs,
        source: GraphSource::Dynamic {
            min_successes: spec.min_successes,
        },
    });
    finish(compiler, graph)
}
