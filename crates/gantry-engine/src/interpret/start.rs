//! Starting a node: resolving its inputs against what it runs and, for nodes with children (sub-workflows,
//! branches, array nodes), preparing those children.
//!
//! A branch arm's and an array element's bindings refer to the graph around the branch or array node, not to the
//! node's children: they are resolved to literals when the node starts (its upstream nodes include theirs), so the
//! child rows carry plain values and start like any other node.

use std::collections::HashMap;
use std::sync::Arc;

use gantry_core::compile::CompiledGraph;
use gantry_core::ids::NodeExecutionId;
use gantry_core::model::{BindingData, ElseArm, ExecutionError, LiteralMap, Node, NodeTarget, Offloaded};
use gantry_core::resolve::{self, OutputSource};
use gantry_core::state::NodeEvent;

use super::Scope;
use crate::batch::{Batch, NodeKey, sibling_id};
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::hydration::Hydration;

/// The children a composite node will create, prepared when it starts (or when a spec or workflow compiled).
#[derive(Debug, Clone)]
pub(crate) enum Children {
    /// A workflow's, sub-workflow's or dynamic spec's nodes.
    Graph(Arc<CompiledGraph>),
    /// Every arm of a branch, in order (cases, then the else node); only `taken` runs, the others are skipped.
    Arms { nodes: Vec<Node>, taken: usize },
    /// One task node per element, ids `0`, `1`, ...; at most `parallelism` run at once.
    Elements { nodes: Vec<Node>, parallelism: Option<u32> },
}

impl Children {
    /// How many children there are.
    pub fn len(&self) -> usize {
        match self {
            Children::Graph(graph) => graph.nodes.len(),
            Children::Arms { nodes, .. } | Children::Elements { nodes, .. } => nodes.len(),
        }
    }
}

/// What preparing a node's start came to.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// Its inputs resolved (and its children, if any, are prepared).
    Ready(LiteralMap),
    /// It cannot start: its inputs did not resolve, or a value they need cannot be fetched.
    Failed(ExecutionError),
    /// It needs these offloaded values, which the batch does not have: they are fetched outside the writer.
    Hydrating(Vec<Offloaded>),
}

/// Why a node could not start: its inputs did not resolve (a user error, never retried).
pub(super) type StartResult = Result<LiteralMap, ExecutionError>;

pub(super) fn resolution_error(problem: impl std::fmt::Display) -> ExecutionError {
    ExecutionError::user("input_resolution", problem.to_string()).recoverable(false)
}

impl Batch<'_> {
    /// The scope of a node's children: the node and its current attempt.
    pub(crate) async fn child_scope(&mut self, key: &NodeKey) -> EngineResult<Scope> {
        let attempts = self.rows.node(key).await?.attempts;
        let parent = NodeExecutionId::parse(&key.1).map_err(|e| EngineError::Internal(e.to_string()))?;
        Ok(Scope {
            execution_id: key.0,
            parent: Some((parent, attempts.saturating_sub(1) as u32)),
        })
    }

    /// Resolves a node's inputs from its bindings and queues its start (or its failure, if they do not resolve). A
    /// node whose start needs offloaded values this batch does not have waits for them, not started (see
    /// `hydration.rs`).
    pub async fn start_node(&mut self, key: &NodeKey) -> EngineResult<()> {
        if self.try_recover(key).await? {
            return Ok(());
        }
        let definition = codec::decode_node(&self.rows.node(key).await?.definition)?;
        let event = match self.prepare_node(key, &definition).await? {
            Prepared::Ready(inputs) => {
                self.rows.node_mut(key).inputs = Some(codec::encode_literals(&inputs));
                match &definition.target {
                    NodeTarget::Task(task_id) => self.start_task(key, task_id, &inputs).await?,
                    _ => Some(NodeEvent::Start),
                }
            }
            Prepared::Failed(error) => Some(NodeEvent::InputsFailed {
                error: error.at_node(key.1.clone()),
            }),
            Prepared::Hydrating(references) => {
                self.wait_for_values(key, references);
                None
            }
        };
        if let Some(event) = event {
            self.events.push_back((key.clone(), event));
        }
        Ok(())
    }

    /// Resolves the inputs of the node `key` defined by `definition` from its upstream nodes' outputs and its
    /// parent's inputs, and prepares its children (see [`Batch::prepare_start`]); unless offloaded values that needs
    /// are not in the batch (see [`Batch::hydrate`]).
    pub async fn prepare_node(&mut self, key: &NodeKey, definition: &Node) -> EngineResult<Prepared> {
        let parent_id = self.rows.node(key).await?.parent_id.clone();
        let promised: Vec<String> = promised_nodes(definition)
            .iter()
            .map(|local| sibling_id(&key.1, local))
            .collect();
        let mut sources: HashMap<String, LiteralMap> = HashMap::new();
        if !promised.is_empty() {
            self.rows.load_nodes(key.0, &promised).await?;
            for sibling in &promised {
                let Some(row) = self.rows.held_node(&(key.0, sibling.clone())) else {
                    continue;
                };
                if let Some(outputs) = &row.outputs {
                    sources.insert(row.local_id.clone(), codec::decode_literals(outputs)?);
                }
            }
        }
        let mut parent_inputs = self.rows.parent_inputs(key.0, &parent_id).await?;
        match self.hydrate(definition, &mut sources, &parent_inputs) {
            Hydration::Ready(None) => {}
            Hydration::Ready(Some(hydrated)) => parent_inputs = Arc::new(hydrated),
            Hydration::Needs(references) => return Ok(Prepared::Hydrating(references)),
            Hydration::Unavailable(error) => return Ok(Prepared::Failed(error)),
        }
        let source = resolve::from_fn(|node_id: &str, name: &str| {
            if node_id.is_empty() {
                parent_inputs.get(name)
            } else {
                sources.get(node_id).and_then(|outputs| outputs.get(name))
            }
        });
        Ok(match self.prepare_start(key, definition, &source).await? {
            Ok(inputs) => Prepared::Ready(inputs),
            Err(error) => Prepared::Failed(error),
        })
    }

    /// Resolves the inputs of the node `key` defined by `node` from `source` and prepares its children. An `Err`
    /// inside is the node's failure; an outer error is the engine's.
    pub async fn prepare_start(
        &mut self,
        key: &NodeKey,
        node: &Node,
        source: &(dyn OutputSource + Sync),
    ) -> EngineResult<StartResult> {
        match &node.target {
            NodeTarget::Task(id) => {
                let task = self.shared.templates.require_task(self.rows.tx.as_mut(), id).await?;
                Ok(resolve::resolve_inputs(&node.inputs, &task.interface.inputs, source).map_err(resolution_error))
            }
            NodeTarget::LaunchPlan(id) => {
                let interface = self.launch_plan_interface(id).await?;
                Ok(resolve::resolve_inputs(&node.inputs, &interface.inputs, source).map_err(resolution_error))
            }
            NodeTarget::SubWorkflow(id) => {
                let graph = self.sub_workflow_graph(id).await?;
                let inputs = resolve::resolve_inputs(&node.inputs, &graph.interface.inputs, source);
                if inputs.is_ok() {
                    self.prepared.insert(key.clone(), Children::Graph(graph));
                }
                Ok(inputs.map_err(resolution_error))
            }
            NodeTarget::Branch(branch) => Ok(self.prepare_branch(key, node, branch, source)),
            NodeTarget::Array(array) => self.prepare_array(key, node, array, source).await,
            // An approval's one input is passed on as it is; a sleep and a signal have none.
            NodeTarget::Gate(_) => Ok(node
                .inputs
                .iter()
                .map(|binding| Ok((binding.var.clone(), resolve::resolve_binding(&binding.data, source)?)))
                .collect::<Result<LiteralMap, resolve::ResolveError>>()
                .map_err(resolution_error)),
        }
    }
}

/// `node` with every binding it (and its nested branch arms and array inner node) reads from the enclosing graph
/// resolved to a literal, and no explicit upstream ids: the copy runs as a child, where those ids mean nothing.
pub(crate) fn literalize(node: &Node, source: &dyn OutputSource) -> Result<Node, resolve::ResolveError> {
    let mut node = node.clone();
    literalize_in_place(&mut node, source)?;
    Ok(node)
}

fn literalize_in_place(node: &mut Node, source: &dyn OutputSource) -> Result<(), resolve::ResolveError> {
    node.upstream.clear();
    for binding in &mut node.inputs {
        if !matches!(binding.data, BindingData::Literal(_)) {
            let value = resolve::resolve_binding(&binding.data, source)
                .map_err(|e| e.with_message_prefix(&format!("node {:?} input {:?}", node.id, binding.var)))?;
            binding.data = BindingData::Literal(value);
        }
    }
    match &mut node.target {
        NodeTarget::Branch(branch) => {
            for case in &mut branch.cases {
                literalize_in_place(&mut case.then_node, source)?;
            }
            if let Some(ElseArm::Node(otherwise)) = &mut branch.otherwise {
                literalize_in_place(otherwise, source)?;
            }
        }
        NodeTarget::Array(array) => literalize_in_place(&mut array.node, source)?,
        NodeTarget::Task(_) | NodeTarget::SubWorkflow(_) | NodeTarget::LaunchPlan(_) | NodeTarget::Gate(_) => {}
    }
    Ok(())
}

/// Every promise a node reads from its enclosing graph: its own bindings and those of its branch arms and array
/// inner node.
pub(crate) fn promised_nodes(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    collect_promised(node, &mut out);
    out.sort();
    out.dedup();
    out
}

fn collect_promised(node: &Node, out: &mut Vec<String>) {
    for binding in &node.inputs {
        for promise in binding.data.promises() {
            if !promise.is_workflow_input() {
                out.push(promise.node_id.clone());
            }
        }
    }
    match &node.target {
        NodeTarget::Branch(branch) => {
            for case in &branch.cases {
                collect_promised(&case.then_node, out);
            }
            if let Some(ElseArm::Node(otherwise)) = &branch.otherwise {
                collect_promised(otherwise, out);
            }
        }
        NodeTarget::Array(array) => collect_promised(&array.node, out),
        NodeTarget::Task(_) | NodeTarget::SubWorkflow(_) | NodeTarget::LaunchPlan(_) | NodeTarget::Gate(_) => {}
    }
}
