//! Workflows: DAGs of nodes. The same node shapes appear in dynamic job specs.

use std::collections::BTreeSet;

use super::binding::Binding;
use super::identifier::{Identifier, ResourceKind};
use super::interface::TypedInterface;
use super::literal::{Duration, Literal};
use super::task::{Resources, RetryPolicy, TaskTemplate};
use super::types::LiteralType;

/// A node of a workflow or dynamic spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique within its workflow; `[A-Za-z0-9_-]`, at most 63 characters.
    pub id: String,
    pub inputs: Vec<Binding>,
    /// Nodes that must finish first even though no binding says so.
    pub upstream: Vec<String>,
    pub target: NodeTarget,
    pub overrides: NodeOverrides,
}

impl Node {
    pub fn task(id: impl Into<String>, task: Identifier, inputs: Vec<Binding>) -> Self {
        Node {
            id: id.into(),
            inputs,
            upstream: Vec::new(),
            target: NodeTarget::Task(task),
            overrides: NodeOverrides::default(),
        }
    }
}

/// Per-node overrides of the target's metadata. Retries and timeout apply as the node runs; the others change the
/// template it runs (see [`OverrideSet::apply`] and `compile::derive_overridden`).
///
/// Most nodes override nothing, so a node holds its overrides boxed and only when it has some: inline they took 184
/// of a node's 360 bytes, 18 MB of a 100,000-node spec held in memory. Reads see an empty [`OverrideSet`] when there
/// are none (`node.overrides.retries`); a write (`node.overrides.timeout = ..`) makes the box.
#[derive(Clone, Default)]
pub struct NodeOverrides(Option<Box<OverrideSet>>);

/// The overrides themselves (see [`NodeOverrides`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OverrideSet {
    pub retries: Option<RetryPolicy>,
    pub timeout: Option<Duration>,
    pub cache: Option<CacheOverride>,
    pub resources: Option<Resources>,
    /// Empty is none.
    pub container_image: Option<String>,
}

/// What a node without overrides reads.
static NO_OVERRIDES: OverrideSet = OverrideSet {
    retries: None,
    timeout: None,
    cache: None,
    resources: None,
    container_image: None,
};

impl NodeOverrides {
    /// The overrides, owned.
    pub fn into_set(self) -> OverrideSet {
        self.0.map(|set| *set).unwrap_or_default()
    }
}

impl From<OverrideSet> for NodeOverrides {
    fn from(set: OverrideSet) -> Self {
        NodeOverrides((set != NO_OVERRIDES).then(|| Box::new(set)))
    }
}

impl std::ops::Deref for NodeOverrides {
    type Target = OverrideSet;

    fn deref(&self) -> &OverrideSet {
        self.0.as_deref().unwrap_or(&NO_OVERRIDES)
    }
}

impl std::ops::DerefMut for NodeOverrides {
    fn deref_mut(&mut self) -> &mut OverrideSet {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for NodeOverrides {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for NodeOverrides {}

impl std::fmt::Debug for NodeOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// A node's caching, in place of its task's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheOverride {
    pub cache: bool,
    pub cache_version: String,
    pub cache_serializable: bool,
}

impl OverrideSet {
    /// Whether the node runs a template other than its task's.
    pub fn changes_template(&self) -> bool {
        self.cache.is_some() || self.resources.is_some() || self.container_image.is_some()
    }

    /// `task` with the overrides that change a template applied.
    pub fn apply(&self, task: &TaskTemplate) -> TaskTemplate {
        let mut task = task.clone();
        if let Some(cache) = &self.cache {
            task.metadata.cache = cache.cache;
            task.metadata.cache_version = cache.cache_version.clone();
            task.metadata.cache_serializable = cache.cache_serializable;
        }
        if let Some(resources) = &self.resources {
            task.container.get_or_insert_with(Default::default).resources = resources.clone();
        }
        if let Some(image) = &self.container_image {
            task.container.get_or_insert_with(Default::default).image = image.clone();
        }
        task
    }

    /// The overrides left once the template carries the others.
    pub fn applied(&self) -> NodeOverrides {
        OverrideSet {
            retries: self.retries.clone(),
            timeout: self.timeout,
            ..OverrideSet::default()
        }
        .into()
    }
}

/// What a node runs.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeTarget {
    Task(Identifier),
    /// A workflow whose nodes run inside the same execution: registered, or embedded in a dynamic spec.
    SubWorkflow(Identifier),
    /// Starts a child execution of the launch plan and brings its outputs back.
    LaunchPlan(Identifier),
    Branch(BranchNode),
    Array(ArrayNode),
    /// Waits for time to pass, a signal to be set or an approval (see [`GateNode`]).
    Gate(GateNode),
}

impl NodeTarget {
    pub fn kind_name(&self) -> &'static str {
        match self {
            NodeTarget::Task(_) => "task",
            NodeTarget::SubWorkflow(_) => "sub-workflow",
            NodeTarget::LaunchPlan(_) => "launch plan",
            NodeTarget::Branch(_) => "branch",
            NodeTarget::Array(_) => "array",
            NodeTarget::Gate(_) => "gate",
        }
    }
}

/// `if / elif / else`. The first case whose condition holds runs its node; otherwise the else arm.
/// The branch node's own outputs are those of the node that ran; every arm must produce them.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchNode {
    pub cases: Vec<IfBlock>,
    pub otherwise: Option<ElseArm>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IfBlock {
    pub condition: BooleanExpr,
    pub then_node: Box<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ElseArm {
    Node(Box<Node>),
    /// Fail the branch node with this message.
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComparisonOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConjunctionOp {
    And,
    Or,
}

/// A side of a comparison: a literal, or the name of one of the branch node's inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Literal),
    Var(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BooleanExpr {
    Comparison {
        op: ComparisonOp,
        left: Operand,
        right: Operand,
    },
    Conjunction {
        op: ConjunctionOp,
        left: Box<BooleanExpr>,
        right: Box<BooleanExpr>,
    },
}

/// A node that runs nothing: it waits, then succeeds (or fails) on what it waited for. No worker and no timer per
/// gate: its deadline is a row the sweeper looks at, and a signal is set through the API.
#[derive(Debug, Clone, PartialEq)]
pub struct GateNode {
    pub condition: GateCondition,
    /// How long a signal or an approval may be waited for; past it the node times out. `None` waits for ever. A
    /// sleep has no timeout (its duration is its deadline).
    pub timeout: Option<Duration>,
}

/// What a gate waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum GateCondition {
    /// Succeeds, with no outputs, once the duration passed.
    Sleep(Duration),
    /// Succeeds once the signal `id` of the execution is set to a value of type `ty`, with that value as its output
    /// `output`.
    Signal {
        id: String,
        ty: LiteralType,
        output: String,
    },
    /// Waits for the boolean signal `id`: `true` passes the node's one input on as its output of the same name,
    /// `false` fails the node.
    Approve { id: String },
}

impl GateCondition {
    /// The signal it waits for, if any.
    pub fn signal_id(&self) -> Option<&str> {
        match self {
            GateCondition::Sleep(_) => None,
            GateCondition::Signal { id, .. } | GateCondition::Approve { id } => Some(id),
        }
    }

    /// The type a value of its signal must have.
    pub fn signal_type(&self) -> Option<LiteralType> {
        match self {
            GateCondition::Sleep(_) => None,
            GateCondition::Signal { ty, .. } => Some(ty.clone()),
            GateCondition::Approve { .. } => Some(LiteralType::Boolean),
        }
    }
}

/// How many elements of an array node must succeed for the node to succeed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SuccessCriteria {
    All,
    MinSuccesses(u64),
    /// A fraction in `[0, 1]` of the elements, rounded up.
    MinSuccessRatio(f64),
}

impl SuccessCriteria {
    /// Whether every element must succeed: no criteria, or a ratio of 1 (flytekit's `map_task` states one). Then no
    /// element's output can be `none`, and the outputs are lists of the task's own output types.
    pub fn requires_all(self) -> bool {
        match self {
            SuccessCriteria::All => true,
            SuccessCriteria::MinSuccessRatio(ratio) => ratio >= 1.0,
            SuccessCriteria::MinSuccesses(_) => false,
        }
    }
}

/// Runs one task over lists: element `i` of every list input feeds the `i`-th run; outputs are collected as lists.
/// A failed element's output is `none` where the success criteria still hold.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayNode {
    /// The node run per element; its target must be a task.
    pub node: Box<Node>,
    /// How many elements may run at once; `None` means no limit beyond the execution's.
    pub parallelism: Option<u32>,
    pub success: SuccessCriteria,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// The first node to fail fails the workflow; running nodes are aborted.
    #[default]
    FailImmediately,
    /// Keep running every node that can still run, then fail.
    FailAfterExecutableNodesComplete,
}

/// A registered or embedded workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowTemplate {
    pub id: Identifier,
    pub interface: TypedInterface,
    pub nodes: Vec<Node>,
    /// One binding per output of `interface`.
    pub outputs: Vec<Binding>,
    pub failure_policy: FailurePolicy,
}

/// Every registered resource the nodes name, branch arms and array elements included, each once (the 100,000
/// nodes of a fan-out name one task).
pub fn references(nodes: &[Node]) -> Vec<(ResourceKind, Identifier)> {
    let mut named = BTreeSet::new();
    collect_references(nodes, &mut named);
    named.into_iter().map(|(kind, id)| (kind, id.clone())).collect()
}

fn collect_references<'n>(nodes: &'n [Node], out: &mut BTreeSet<(ResourceKind, &'n Identifier)>) {
    for node in nodes {
        match &node.target {
            NodeTarget::Task(id) => {
                out.insert((ResourceKind::Task, id));
            }
            NodeTarget::SubWorkflow(id) => {
                out.insert((ResourceKind::Workflow, id));
            }
            NodeTarget::LaunchPlan(id) => {
                out.insert((ResourceKind::LaunchPlan, id));
            }
            NodeTarget::Branch(branch) => {
                for case in &branch.cases {
                    collect_references(std::slice::from_ref(&*case.then_node), out);
                }
                if let Some(ElseArm::Node(node)) = &branch.otherwise {
                    collect_references(std::slice::from_ref(&**node), out);
                }
            }
            NodeTarget::Array(array) => collect_references(std::slice::from_ref(&array.node), out),
            NodeTarget::Gate(_) => {}
        }
    }
}

/// Renames what `nodes` (branch arms and array elements included) name: every reference for which `rename` gives a
/// new identifier is replaced by it. Launch plans are passed to `rename` too.
pub fn rename_references(nodes: &mut [Node], rename: &dyn Fn(ResourceKind, &Identifier) -> Option<Identifier>) {
    for node in nodes {
        let (kind, id) = match &mut node.target {
            NodeTarget::Task(id) => (ResourceKind::Task, id),
            NodeTarget::SubWorkflow(id) => (ResourceKind::Workflow, id),
            NodeTarget::LaunchPlan(id) => (ResourceKind::LaunchPlan, id),
            NodeTarget::Branch(branch) => {
                for case in &mut branch.cases {
                    rename_references(std::slice::from_mut(&mut *case.then_node), rename);
                }
                if let Some(ElseArm::Node(node)) = &mut branch.otherwise {
                    rename_references(std::slice::from_mut(&mut **node), rename);
                }
                continue;
            }
            NodeTarget::Array(array) => {
                rename_references(std::slice::from_mut(&mut *array.node), rename);
                continue;
            }
            NodeTarget::Gate(_) => continue,
        };
        if let Some(renamed) = rename(kind, id) {
            *id = renamed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_without_overrides_holds_no_box_and_reads_an_empty_set() {
        let mut node = Node::task("n0", Identifier::new("p", "d", "t", "1"), Vec::new());
        assert!(node.overrides.0.is_none());
        assert_eq!(node.overrides.timeout, None);
        assert!(!node.overrides.changes_template());

        node.overrides.timeout = Some(Duration::from_secs(5));
        assert_eq!(node.overrides.timeout, Some(Duration::from_secs(5)));
        assert_ne!(node.overrides, NodeOverrides::default());

        // Written and cleared again, it equals none; built from an empty set, it holds no box.
        node.overrides.timeout = None;
        assert_eq!(node.overrides, NodeOverrides::default());
        assert!(NodeOverrides::from(OverrideSet::default()).0.is_none());
        assert_eq!(
            format!("{:?}", NodeOverrides::default()),
            format!("{:?}", OverrideSet::default())
        );
    }

    #[test]
    fn a_node_keeps_its_overrides_out_of_line() {
        // A fan-out's spec holds every node at once: the overrides (184 bytes inline) cost a pointer.
        assert_eq!(size_of::<NodeOverrides>(), size_of::<usize>());
        assert!(size_of::<Node>() <= 184, "{}", size_of::<Node>());
    }
}
