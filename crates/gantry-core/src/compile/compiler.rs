//! The compiler's state across one compilation: memoised look-ups, the errors found so far, and compiling one graph
//! (a workflow, a sub-workflow or a dynamic spec) in two passes over its nodes.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::model::{Binding, Identifier, Node, TaskTemplate, TypedInterface, Variable, WorkflowTemplate};
use crate::typing::check_literal;

use super::bindings::Scope;
use super::error::{CompileError, CompileErrorCode};
use super::gate;
use super::graph::{self, CompiledGraph, CompiledNode, GraphSource, Ordering};
use super::resolver::{ResolvedLaunchPlan, Resolver};

/// A template and its interface, shared by every node that uses it.
pub(super) type Shared<T> = (Arc<T>, Arc<TypedInterface>);

enum WorkflowState {
    /// Being compiled: seeing it again means it contains itself.
    InProgress,
    Unknown,
    Done {
        template: Arc<WorkflowTemplate>,
        interface: Arc<TypedInterface>,
        /// `None` when it has errors, which were reported under the first node that used it.
        graph: Option<Arc<CompiledGraph>>,
    },
}

/// What pass 1 learnt about a sub-workflow target.
pub(super) struct SubWorkflow {
    pub template: Arc<WorkflowTemplate>,
    pub interface: Arc<TypedInterface>,
    pub graph: Option<Arc<CompiledGraph>>,
}

/// One graph to compile.
pub(super) struct GraphSpec<'a> {
    /// The error path of the graph: empty at the top, the node path (`sw1`) for a sub-workflow.
    pub path: &'a str,
    /// Who owns the graph's inputs and outputs, for messages: `the workflow` or `the parent task`.
    pub owner: &'static str,
    pub interface: Arc<TypedInterface>,
    /// Borrowed, or owned when the caller no longer needs them: the compiled graph then keeps them, not a copy.
    pub nodes: Cow<'a, [Node]>,
    /// As `nodes`.
    pub outputs: Cow<'a, [Binding]>,
    pub source: GraphSource,
}

pub(super) struct Compiler<'r> {
    resolver: &'r dyn Resolver,
    /// Whether templates may also come from a dynamic spec, for messages.
    embedded: bool,
    tasks: HashMap<Identifier, Option<Shared<TaskTemplate>>>,
    launch_plans: HashMap<Identifier, Option<Shared<ResolvedLaunchPlan>>>,
    workflows: HashMap<Identifier, WorkflowState>,
    pub errors: Vec<CompileError>,
}

/// `prefix/id`, or either alone when the other is empty (borrowed then: most nodes are at the top of a graph).
pub(super) fn join_path<'a>(prefix: &'a str, id: &'a str) -> Cow<'a, str> {
    match (prefix.is_empty(), id.is_empty()) {
        (true, _) => Cow::Borrowed(id),
        (_, true) => Cow::Borrowed(prefix),
        _ => Cow::Owned(format!("{prefix}/{id}")),
    }
}

/// Why a node id is not acceptable, if it is not.
pub(super) fn node_id_problem(id: &str, position: usize) -> Option<(CompileErrorCode, String)> {
    const MAX_LEN: usize = 63;
    if id.is_empty() {
        return Some((
            CompileErrorCode::InvalidNodeId,
            format!("the node at position {position} has an empty id"),
        ));
    }
    if id.len() > MAX_LEN {
        return Some((
            CompileErrorCode::InvalidNodeId,
            format!(
                "the node id is {} characters long; at most {MAX_LEN} are allowed",
                id.len()
            ),
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Some((
            CompileErrorCode::InvalidNodeId,
            format!("the node id contains {bad:?}; only ASCII letters, digits, '_' and '-' are allowed"),
        ));
    }
    if id == "start" || id == "end" {
        return Some((
            CompileErrorCode::ReservedNodeId,
            format!("the node id {id:?} is reserved for the graph's inputs and outputs"),
        ));
    }
    None
}

impl<'r> Compiler<'r> {
    pub fn new(resolver: &'r dyn Resolver, embedded: bool) -> Self {
        Compiler {
            resolver,
            embedded,
            tasks: HashMap::new(),
            launch_plans: HashMap::new(),
            workflows: HashMap::new(),
            errors: Vec::new(),
        }
    }

    pub fn push(&mut self, error: CompileError) {
        self.errors.push(error);
    }

    fn not_found(&self, what: &str, id: &Identifier) -> String {
        if self.embedded && what != "launch plan" {
            format!("{what} {id} is neither registered nor embedded in the spec")
        } else {
            format!("{what} {id} is not registered")
        }
    }

    /// The task `id`, looked up once per compilation; `path` is the node reporting a miss.
    pub fn task(&mut self, id: &Identifier, path: &str) -> Option<Shared<TaskTemplate>> {
        let entry = match self.tasks.get(id) {
            Some(entry) => entry.clone(),
            None => {
                let entry = self.resolver.task(id).map(|task| {
                    let interface = Arc::new(task.interface.clone());
                    (task, interface)
                });
                if let Some((_, interface)) = &entry {
                    self.check_interface(path, &format!("task {id}"), interface);
                }
                self.tasks.insert(id.clone(), entry.clone());
                entry
            }
        };
        if entry.is_none() {
            let message = self.not_found("task", id);
            self.push(CompileError::node(CompileErrorCode::UnknownTask, path, message));
        }
        entry
    }

    /// The launch plan `id`, looked up once per compilation.
    pub fn launch_plan(&mut self, id: &Identifier, path: &str) -> Option<Shared<ResolvedLaunchPlan>> {
        let entry = match self.launch_plans.get(id) {
            Some(entry) => entry.clone(),
            None => {
                let entry = self.resolver.launch_plan(id).map(|plan| {
                    let interface = Arc::new(plan.interface.clone());
                    (plan, interface)
                });
                if let Some((_, interface)) = &entry {
                    self.check_interface(path, &format!("launch plan {id}"), interface);
                }
                self.launch_plans.insert(id.clone(), entry.clone());
                entry
            }
        };
        if entry.is_none() {
            let message = self.not_found("launch plan", id);
            self.push(CompileError::node(CompileErrorCode::UnknownLaunchPlan, path, message));
        }
        entry
    }

    /// The sub-workflow `id`, compiled once per compilation under the first node that uses it (`path`).
    pub fn sub_workflow(&mut self, id: &Identifier, path: &str) -> Option<SubWorkflow> {
        match self.workflows.get(id) {
            Some(WorkflowState::InProgress) => {
                self.push(CompileError::node(
                    CompileErrorCode::RecursiveSubWorkflow,
                    path,
                    format!("workflow {id} contains itself"),
                ));
                return None;
            }
            Some(WorkflowState::Unknown) => {
                let message = self.not_found("workflow", id);
                self.push(CompileError::node(CompileErrorCode::UnknownWorkflow, path, message));
                return None;
            }
            Some(WorkflowState::Done {
                template,
                interface,
                graph,
            }) => {
                return Some(SubWorkflow {
                    template: template.clone(),
                    interface: interface.clone(),
                    graph: graph.clone(),
                });
            }
            None => {}
        }
        let Some(template) = self.resolver.workflow(id) else {
            self.workflows.insert(id.clone(), WorkflowState::Unknown);
            let message = self.not_found("workflow", id);
            self.push(CompileError::node(CompileErrorCode::UnknownWorkflow, path, message));
            return None;
        };
        self.workflows.insert(id.clone(), WorkflowState::InProgress);
        let graph = self.compile_workflow(&template, path).map(Arc::new);
        let interface = match &graph {
            Some(graph) => graph.interface.clone(),
            None => Arc::new(template.interface.clone()),
        };
        self.workflows.insert(
            id.clone(),
            WorkflowState::Done {
                template: template.clone(),
                interface: interface.clone(),
                graph: graph.clone(),
            },
        );
        Some(SubWorkflow {
            template,
            interface,
            graph,
        })
    }

    /// Marks a workflow as being compiled, so that a node using it inside itself is reported.
    pub fn enter_workflow(&mut self, id: &Identifier) {
        self.workflows.insert(id.clone(), WorkflowState::InProgress);
    }

    /// Compiles a workflow template as the graph at `path`; `None` if it has errors (all reported).
    pub fn compile_workflow(&mut self, workflow: &WorkflowTemplate, path: &str) -> Option<CompiledGraph> {
        let errors_before = self.errors.len();
        self.check_interface(path, &format!("workflow {}", workflow.id), &workflow.interface);
        let graph = self.compile_graph(GraphSpec {
            path,
            owner: "the workflow",
            interface: Arc::new(workflow.interface.clone()),
            nodes: Cow::Borrowed(&workflow.nodes),
            outputs: Cow::Borrowed(&workflow.outputs),
            source: GraphSource::Workflow {
                id: workflow.id.clone(),
                failure_policy: workflow.failure_policy,
            },
        });
        if self.errors.len() > errors_before { None } else { graph }
    }

    /// Reports duplicate variable names and defaults that do not conform to their variable's type.
    pub fn check_interface(&mut self, path: &str, what: &str, interface: &TypedInterface) {
        self.check_variables(path, what, &interface.inputs, false);
        self.check_variables(path, what, &interface.outputs, true);
    }

    fn check_variables(&mut self, path: &str, what: &str, variables: &[Variable], outputs: bool) {
        let side = if outputs { "output" } else { "input" };
        let error = |name: &str, message: String| {
            if outputs {
                CompileError::output(CompileErrorCode::InterfaceError, path, name, message)
            } else {
                CompileError::input(CompileErrorCode::InterfaceError, path, name, message)
            }
        };
        let mut seen = HashSet::with_capacity(variables.len());
        for variable in variables {
            if !seen.insert(variable.name.as_str()) {
                self.push(error(
                    &variable.name,
                    format!("{what} declares {side} {:?} more than once", variable.name),
                ));
            }
            if let Some(Err(mismatch)) = variable.default.as_ref().map(|d| check_literal(d, &variable.ty)) {
                self.push(error(
                    &variable.name,
                    format!("{what} has a default that does not fit: {mismatch}"),
                ));
            }
        }
    }

    /// Compiles one graph: node ids, then each node's target (pass 1, which gives every node's outputs), then every
    /// binding (pass 2), the graph's outputs, and the order. `None` if anything in it is wrong.
    pub fn compile_graph(&mut self, spec: GraphSpec<'_>) -> Option<CompiledGraph> {
        let errors_before = self.errors.len();
        if spec.nodes.is_empty() && matches!(spec.source, GraphSource::Workflow { .. }) {
            self.push(CompileError::node(
                CompileErrorCode::NoNodes,
                spec.path,
                format!("{} has no nodes", spec.owner),
            ));
        }
        let index = self.index_nodes(spec.path, &spec.nodes);
        let resolved: Vec<_> = spec
            .nodes
            .iter()
            .map(|node| self.resolve_node(node, &join_path(spec.path, &node.id)))
            .collect();
        let mut resolved = resolved;
        let mut scope = Scope {
            path: spec.path,
            owner: spec.owner,
            interface: &spec.interface,
            index,
            interfaces: resolved.iter().map(|r| r.interface.clone()).collect(),
        };
        gate::type_approvals(&spec.nodes, &mut resolved, &mut scope);
        let mut upstream = Vec::with_capacity(spec.nodes.len());
        let mut finished = Vec::with_capacity(spec.nodes.len());
        for (node, resolved) in spec.nodes.iter().zip(resolved) {
            let mut deps = Vec::new();
            finished.push(self.finish_node(&scope, node, resolved, &join_path(spec.path, &node.id), &mut deps));
            upstream.push(deps);
        }
        self.check_outputs(&scope, &spec.outputs);
        let downstream = graph::downstream_of(&upstream);
        let order = match graph::order(&upstream, &downstream) {
            Ordering::Sorted(order) => Some(order),
            Ordering::Cyclic { cycles, blocked } => {
                self.report_cycles(spec.path, &spec.nodes, &cycles, &blocked);
                None
            }
        };
        if self.errors.len() > errors_before {
            return None;
        }
        // Exactly as many as there are nodes: a collected `Option<Vec<_>>` would grow by doubling.
        let mut nodes = Vec::with_capacity(spec.nodes.len());
        let parts = finished.into_iter().zip(upstream.into_iter().zip(downstream));
        for (finished, (upstream, downstream)) in parts {
            let (target, interface) = finished?;
            nodes.push(CompiledNode {
                interface,
                target,
                upstream,
                downstream,
            });
        }
        Some(CompiledGraph::new(
            spec.interface,
            (spec.nodes.into_owned(), nodes),
            order?,
            spec.outputs.into_owned(),
            spec.source,
        ))
    }

    /// Checks node ids and indexes the nodes by id (the first node wins when an id repeats).
    fn index_nodes<'n>(&mut self, path: &str, nodes: &'n [Node]) -> HashMap<&'n str, usize> {
        let mut index = HashMap::with_capacity(nodes.len());
        for (position, node) in nodes.iter().enumerate() {
            let node_path = join_path(path, &node.id);
            if let Some((code, message)) = node_id_problem(&node.id, position) {
                self.push(CompileError::node(code, node_path.as_ref(), message));
            }
            match index.entry(node.id.as_str()) {
                Entry::Occupied(first) => self.push(CompileError::node(
                    CompileErrorCode::DuplicateNodeId,
                    node_path.as_ref(),
                    format!("the nodes at positions {} and {position} have the same id", first.get()),
                )),
                Entry::Vacant(slot) => {
                    slot.insert(position);
                }
            }
        }
        index
    }

    fn report_cycles(&mut self, path: &str, nodes: &[Node], cycles: &[Vec<usize>], blocked: &[usize]) {
        const LISTED: usize = 10;
        for cycle in cycles {
            let first = &nodes[cycle[0]].id;
            let message = if cycle.len() == 1 {
                "the node depends on itself".to_owned()
            } else {
                let mut others: Vec<String> = cycle[1..]
                    .iter()
                    .take(LISTED)
                    .map(|&i| format!("{:?}", nodes[i].id))
                    .collect();
                if cycle.len() - 1 > LISTED {
                    others.push(format!("and {} more", cycle.len() - 1 - LISTED));
                }
                format!("the node is on a cycle with {}", others.join(", "))
            };
            self.push(CompileError::node(
                CompileErrorCode::Cycle,
                join_path(path, first).as_ref(),
                message,
            ));
        }
        for &node in blocked {
            self.push(CompileError::node(
                CompileErrorCode::Unreachable,
                join_path(path, &nodes[node].id).as_ref(),
                "the node can never run: it depends on a cycle",
            ));
        }
    }
}
