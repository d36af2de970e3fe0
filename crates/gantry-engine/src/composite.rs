//! Starting a node: resolving its inputs against what it runs and, for nodes with children (sub-workflows,
//! branches, array nodes), preparing those children.
//!
//! A branch arm's and an array element's bindings refer to the graph around the branch or array node, not to the
//! node's children: they are resolved to literals when the node starts (its upstream nodes include theirs), so the
//! child rows carry plain values and start like any other node.

use std::sync::Arc;

use gantry_core::compile::{CompiledGraph, Registry, array_interface, compile_workflow};
use gantry_core::model::{
    ArrayNode, Binding, BindingData, BranchNode, ElseArm, ExecutionError, Literal, LiteralMap, Node, NodeTarget,
    TypedInterface,
};
use gantry_core::resolve::{self, BranchChoice, OutputSource};

use crate::batch::{Batch, NodeKey};
use crate::error::{EngineError, EngineResult};

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

/// Why a node could not start: its inputs did not resolve (a user error, never retried).
type StartResult = Result<LiteralMap, ExecutionError>;

fn resolution_error(problem: impl std::fmt::Display) -> ExecutionError {
    ExecutionError::user("input_resolution", problem.to_string()).recoverable(false)
}

impl Batch<'_> {
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
                let task = self.shared.templates.require_task(self.tx.as_mut(), id).await?;
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
        }
    }

    fn prepare_branch(
        &mut self,
        key: &NodeKey,
        node: &Node,
        branch: &BranchNode,
        source: &dyn OutputSource,
    ) -> StartResult {
        let mut vars = LiteralMap::new();
        for binding in &node.inputs {
            let value = resolve::resolve_binding(&binding.data, source).map_err(resolution_error)?;
            vars.insert(binding.var.clone(), value);
        }
        let choice = resolve::select_branch(branch, &vars).map_err(resolution_error)?;
        let mut arms: Vec<Node> = branch.cases.iter().map(|case| (*case.then_node).clone()).collect();
        if let Some(ElseArm::Node(otherwise)) = &branch.otherwise {
            arms.push((**otherwise).clone());
        }
        let taken = match choice {
            BranchChoice::Case(index) => index,
            BranchChoice::Else => branch.cases.len(),
            BranchChoice::Error(message) => {
                return Err(ExecutionError::user("branch_else", message).recoverable(false));
            }
        };
        arms[taken] = literalize(&arms[taken], source).map_err(resolution_error)?;
        self.prepared.insert(key.clone(), Children::Arms { nodes: arms, taken });
        Ok(vars)
    }

    async fn prepare_array(
        &mut self,
        key: &NodeKey,
        node: &Node,
        array: &ArrayNode,
        source: &(dyn OutputSource + Sync),
    ) -> EngineResult<StartResult> {
        let NodeTarget::Task(task_id) = &array.node.target else {
            return Err(EngineError::Internal(format!(
                "array node {:?} runs a non-task node, which the compiler refuses",
                node.id
            )));
        };
        let task = self.shared.templates.require_task(self.tx.as_mut(), task_id).await?;
        let interface = array_interface(&task, &array.node, array.success);
        let inputs = match resolve::resolve_inputs(&node.inputs, &interface.inputs, source) {
            Ok(inputs) => inputs,
            Err(problem) => return Ok(Err(resolution_error(problem))),
        };
        let inner = match literalize(&array.node, source) {
            Ok(inner) => inner,
            Err(problem) => return Ok(Err(resolution_error(problem))),
        };
        match elements(&inner, &inputs) {
            Ok(nodes) => {
                let parallelism = array.parallelism;
                self.prepared
                    .insert(key.clone(), Children::Elements { nodes, parallelism });
                Ok(Ok(inputs))
            }
            Err(problem) => Ok(Err(resolution_error(problem))),
        }
    }

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
            .workflow(self.tx.as_mut(), id)
            .await?
            .ok_or_else(|| EngineError::Internal(format!("workflow {id} vanished after it was compiled against")))?;
        let registry = self
            .shared
            .templates
            .registry_for(self.tx.as_mut(), &workflow.nodes, &Registry::new())
            .await?;
        let graph = compile_workflow(&workflow, &registry).map_err(|errors| {
            EngineError::Internal(format!("registered workflow {id} no longer compiles: {errors}"))
        })?;
        let graph = Arc::new(graph);
        self.shared.remember_sub_workflow(id, graph.clone());
        Ok(graph)
    }

    /// What a launch-plan node binds: the target's inputs less the fixed ones, with the plan's defaults.
    pub async fn launch_plan_interface(&mut self, id: &gantry_core::model::Identifier) -> EngineResult<TypedInterface> {
        let plan = self
            .shared
            .templates
            .launch_plan(self.tx.as_mut(), id)
            .await?
            .ok_or_else(|| EngineError::Internal(format!("launch plan {id} vanished after it was compiled against")))?;
        let (_, target) = self.launch_plan_target(&plan).await?;
        Ok(plan.interface(&target))
    }
}

/// The element nodes of an array node: the inner node once per element, its broadcast inputs as they are and
/// element `i` of every list input bound as a literal.
fn elements(inner: &Node, lists: &LiteralMap) -> Result<Vec<Node>, String> {
    let mut columns: Vec<(&str, &Vec<Literal>)> = Vec::with_capacity(lists.len());
    for (name, value) in lists {
        match unwrap_union(value) {
            Literal::Collection(items) => columns.push((name, items)),
            Literal::None => columns.push((name, &EMPTY)),
            other => {
                return Err(format!(
                    "array input {} is not a list but {}",
                    gantry_core::names::quote(name),
                    other.kind_name()
                ));
            }
        }
    }
    let count = columns.first().map_or(0, |(_, items)| items.len());
    if let Some((name, items)) = columns.iter().find(|(_, items)| items.len() != count) {
        return Err(format!(
            "array inputs differ in length: {:?} has {count} elements, {name:?} has {}",
            columns[0].0,
            items.len()
        ));
    }
    Ok((0..count)
        .map(|i| {
            let mut node = inner.clone();
            node.id = i.to_string();
            node.upstream.clear();
            node.inputs.extend(
                columns
                    .iter()
                    .map(|(name, items)| Binding::literal(*name, items[i].clone())),
            );
            node
        })
        .collect())
}

static EMPTY: Vec<Literal> = Vec::new();

fn unwrap_union(mut literal: &Literal) -> &Literal {
    while let Literal::Union(union) = literal {
        literal = &union.value;
    }
    literal
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
        NodeTarget::Task(_) | NodeTarget::SubWorkflow(_) | NodeTarget::LaunchPlan(_) => {}
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
        NodeTarget::Task(_) | NodeTarget::SubWorkflow(_) | NodeTarget::LaunchPlan(_) => {}
    }
}
