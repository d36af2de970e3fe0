//! The dynamic spec builder: what a dynamic task's handler returns instead of outputs.
//!
//! ```
//! use gantry_core::model::LiteralType;
//! use gantry_worker::{DynamicSpec, IntoBinding, TaskDef, TaskError, TaskOutput};
//!
//! # fn main() -> Result<(), TaskError> {
//! let other_task = TaskDef::new("demo", "dev", "other_task", "1")
//!     .input("index", LiteralType::Integer)
//!     .output("other_task_out", LiteralType::Integer);
//! let mut spec = DynamicSpec::new(); // in a handler: ctx.dynamic_spec(), which knows the server's limits
//! let mut res = Vec::new();
//! for i in 0..3i64 {
//!     let task = spec.task(&other_task, [("index", i.into_binding())])?;
//!     res.push(task.output("other_task_out"));
//! }
//! spec.set_output("out", res);
//! let _ = TaskOutput::Dynamic(spec);
//! # Ok(())
//! # }
//! ```
//!
//! Outputs of yielded nodes are only referenced ([`Promise`]s), never read: the server assembles the parent's
//! outputs from the output bindings once the nodes are done. A reduce is a separate node that takes the promises
//! as inputs.
//!
//! A spec keeps to the server's [`SpecLimits`] as it grows: adding a node past the node limit, or one that takes the
//! spec past the byte limit, returns a non-recoverable user error (`spec_too_large`, naming the limit) instead, and
//! `?` ends the handler with it. Outputs and embedded templates count towards the bytes too; a spec they take over
//! the limit is reported the same way when the handler returns it.

use std::collections::{BTreeMap, HashSet};

use gantry_core::model::{
    AttrStep, Binding, BindingData, CacheOverride, Duration, DynamicJobSpec, GateCondition, GateNode, Identifier,
    Literal, LiteralType, Node, NodeOverrides, NodeTarget, Resources, RetryPolicy, TaskTemplate, WorkflowTemplate,
};

/// The output of a signal gate, and the input and output of an approval (flytekit's name).
pub const SIGNAL_OUTPUT: &str = "o0";

use crate::error::TaskError;
use crate::literal::IntoLiteral;
use crate::spec_limits::{
    SpecLimits, completion_field_len, min_successes_len, node_len, output_len, task_len, workflow_len,
};
use crate::task_def::TaskDef;

/// A reference to an output of a node of the spec (or, from [`DynamicSpec::parent_input`], to an input of the
/// dynamic task itself). Bind it to another node's input or to one of the spec's outputs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Promise {
    inner: gantry_core::model::Promise,
}

impl Promise {
    /// A promise of output `output` of node `node_id`; an empty node id means the parent task's inputs.
    pub fn new(node_id: impl Into<String>, output: impl Into<String>) -> Self {
        Promise {
            inner: gantry_core::model::Promise::new(node_id, output),
        }
    }

    /// The element at `index` of a list value.
    #[must_use]
    pub fn index(mut self, index: u32) -> Self {
        self.inner.attr_path.push(AttrStep::Index(index));
        self
    }

    /// The entry `key` of a map, or field `key` of a struct.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.inner.attr_path.push(AttrStep::Key(key.into()));
        self
    }

    /// The node whose output is promised; empty for the parent's inputs.
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// The output (or parent input) name.
    pub fn output_name(&self) -> &str {
        &self.inner.output
    }

    /// The core model's promise.
    pub fn into_core(self) -> gantry_core::model::Promise {
        self.inner
    }
}

/// A value a node input or spec output can be bound to: a literal, a [`Promise`], or lists and maps of them.
pub trait IntoBinding {
    /// Makes the binding.
    fn into_binding(self) -> BindingData;
}

impl IntoBinding for BindingData {
    fn into_binding(self) -> BindingData {
        self
    }
}

impl IntoBinding for Promise {
    fn into_binding(self) -> BindingData {
        BindingData::Promise(self.inner)
    }
}

impl IntoBinding for &Promise {
    fn into_binding(self) -> BindingData {
        BindingData::Promise(self.inner.clone())
    }
}

/// Scalars and other literal values bind as literals.
macro_rules! literal_binding {
    ($($ty:ty),* $(,)?) => {$(
        impl IntoBinding for $ty {
            fn into_binding(self) -> BindingData {
                BindingData::Literal(self.into_literal())
            }
        }
    )*};
}

literal_binding!(
    Literal,
    i64,
    i32,
    u32,
    u64,
    usize,
    f64,
    f32,
    bool,
    String,
    &str,
    &String,
    Vec<u8>,
    Duration,
    gantry_core::model::Timestamp,
    gantry_core::model::Blob,
    std::time::Duration,
    std::time::SystemTime,
);

/// A list; when every element is a literal the whole list is one literal.
impl<T: IntoBinding> IntoBinding for Vec<T> {
    fn into_binding(self) -> BindingData {
        let items: Vec<BindingData> = self.into_iter().map(IntoBinding::into_binding).collect();
        if items.iter().all(|item| matches!(item, BindingData::Literal(_))) {
            let literals = items
                .into_iter()
                .filter_map(|item| match item {
                    BindingData::Literal(literal) => Some(literal),
                    _ => None,
                })
                .collect();
            return BindingData::Literal(Literal::Collection(literals));
        }
        BindingData::Collection(items)
    }
}

/// A string-keyed map; when every value is a literal the whole map is one literal.
impl<T: IntoBinding> IntoBinding for BTreeMap<String, T> {
    fn into_binding(self) -> BindingData {
        let items: BTreeMap<String, BindingData> = self.into_iter().map(|(k, v)| (k, v.into_binding())).collect();
        if items.values().all(|item| matches!(item, BindingData::Literal(_))) {
            let literals = items
                .into_iter()
                .filter_map(|(key, item)| match item {
                    BindingData::Literal(literal) => Some((key, literal)),
                    _ => None,
                })
                .collect();
            return BindingData::Literal(Literal::Map(literals));
        }
        BindingData::Map(items)
    }
}

/// `None` binds the `none` literal.
impl<T: IntoBinding> IntoBinding for Option<T> {
    fn into_binding(self) -> BindingData {
        self.map_or(BindingData::Literal(Literal::None), IntoBinding::into_binding)
    }
}

/// What a task node of a spec runs: a [`TaskDef`], a [`TaskTemplate`] or an [`Identifier`].
pub trait TaskTarget {
    /// The task's identifier.
    fn task_id(&self) -> Identifier;
}

impl TaskTarget for TaskDef {
    fn task_id(&self) -> Identifier {
        self.id().clone()
    }
}

impl TaskTarget for TaskTemplate {
    fn task_id(&self) -> Identifier {
        self.id.clone()
    }
}

impl TaskTarget for Identifier {
    fn task_id(&self) -> Identifier {
        self.clone()
    }
}

impl From<&TaskDef> for TaskTemplate {
    fn from(def: &TaskDef) -> Self {
        def.template().clone()
    }
}

/// A node added to a [`DynamicSpec`]: its id, and promises of its outputs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeHandle {
    id: String,
}

impl NodeHandle {
    /// The node's id within the spec (`dn0`, `dn1`, ...).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A promise of the node's output `name`.
    pub fn output(&self, name: impl Into<String>) -> Promise {
        Promise::new(self.id.clone(), name)
    }
}

/// A dynamic job spec under construction: nodes (ids `dn0`, `dn1`, ... in the order added), templates they may
/// use beyond the registered ones, and one output binding per output of the dynamic task. It counts its encoded
/// size as it grows, to keep to its [`SpecLimits`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DynamicSpec {
    nodes: Vec<Node>,
    outputs: Vec<Binding>,
    tasks: Vec<TaskTemplate>,
    subworkflows: Vec<WorkflowTemplate>,
    min_successes: Option<u64>,
    limits: SpecLimits,
    /// The encoded size of the nodes, outputs and templates so far (`min_successes` aside).
    bytes: u64,
}

impl DynamicSpec {
    /// An empty spec, held to a server's default limits. In a handler, prefer [`crate::TaskContext::dynamic_spec`],
    /// which knows the limits of the server that handed out the attempt. With no nodes and literal outputs it is an
    /// ordinary success.
    pub fn new() -> Self {
        DynamicSpec::default()
    }

    /// An empty spec held to `limits`.
    pub fn with_limits(limits: SpecLimits) -> Self {
        DynamicSpec {
            limits,
            ..DynamicSpec::default()
        }
    }

    /// The limits this spec keeps to.
    pub fn limits(&self) -> SpecLimits {
        self.limits
    }

    /// The spec's size as the server counts it (the encoded `Completion.dynamic_spec` field), in bytes.
    pub fn encoded_len(&self) -> u64 {
        completion_field_len(self.bytes + min_successes_len(self.min_successes))
    }

    /// Adds a node running a task (registered, or [embedded](DynamicSpec::embed)) with the given input bindings.
    /// Past the spec's limits, a non-recoverable user error `spec_too_large` naming the limit, and nothing is added.
    pub fn task<T, K>(
        &mut self,
        task: &T,
        inputs: impl IntoIterator<Item = (K, BindingData)>,
    ) -> Result<NodeHandle, TaskError>
    where
        T: TaskTarget + ?Sized,
        K: Into<String>,
    {
        self.add_node(NodeTarget::Task(task.task_id()), inputs)
    }

    /// Adds a node starting a child execution of a launch plan and bringing its outputs back. Past the spec's limits,
    /// an error as [`DynamicSpec::task`] says.
    pub fn launch_plan<K: Into<String>>(
        &mut self,
        launch_plan: &Identifier,
        inputs: impl IntoIterator<Item = (K, BindingData)>,
    ) -> Result<NodeHandle, TaskError> {
        self.add_node(NodeTarget::LaunchPlan(launch_plan.clone()), inputs)
    }

    /// Adds a node running a workflow (registered, or [embedded](DynamicSpec::embed_workflow)) inside this execution.
    /// Past the spec's limits, an error as [`DynamicSpec::task`] says.
    pub fn sub_workflow<K: Into<String>>(
        &mut self,
        workflow: &Identifier,
        inputs: impl IntoIterator<Item = (K, BindingData)>,
    ) -> Result<NodeHandle, TaskError> {
        self.add_node(NodeTarget::SubWorkflow(workflow.clone()), inputs)
    }

    /// Adds a gate that sleeps for `duration`, then succeeds with no outputs; nodes that must wait for it
    /// [depend on](DynamicSpec::depends_on) it. Past the spec's limits, an error as [`DynamicSpec::task`] says.
    pub fn sleep(&mut self, duration: Duration) -> Result<NodeHandle, TaskError> {
        let gate = GateNode {
            condition: GateCondition::Sleep(duration),
            timeout: None,
        };
        self.add_node(NodeTarget::Gate(gate), Vec::<(String, BindingData)>::new())
    }

    /// Adds a gate that waits for the execution's signal `signal_id`, a value of type `ty` set through the API
    /// (`gantry signal set`), at most `timeout` (then the node times out). The value is the node's output `o0`
    /// ([`NodeHandle::output`]). Past the spec's limits, an error as [`DynamicSpec::task`] says.
    pub fn wait_for_input(
        &mut self,
        signal_id: impl Into<String>,
        ty: LiteralType,
        timeout: Option<Duration>,
    ) -> Result<NodeHandle, TaskError> {
        let gate = GateNode {
            condition: GateCondition::Signal {
                id: signal_id.into(),
                ty,
                output: SIGNAL_OUTPUT.to_owned(),
            },
            timeout,
        };
        self.add_node(NodeTarget::Gate(gate), Vec::<(String, BindingData)>::new())
    }

    /// Adds a gate that waits for the execution's approval `signal_id` (`gantry approve`), at most `timeout`, and
    /// then passes `value` on as its output `o0`; a refusal (`gantry reject`) fails the node. Past the spec's limits,
    /// an error as [`DynamicSpec::task`] says.
    pub fn approve(
        &mut self,
        value: impl IntoBinding,
        signal_id: impl Into<String>,
        timeout: Option<Duration>,
    ) -> Result<NodeHandle, TaskError> {
        let gate = GateNode {
            condition: GateCondition::Approve { id: signal_id.into() },
            timeout,
        };
        self.add_node(NodeTarget::Gate(gate), [(SIGNAL_OUTPUT, value.into_binding())])
    }

    fn add_node<K: Into<String>>(
        &mut self,
        target: NodeTarget,
        inputs: impl IntoIterator<Item = (K, BindingData)>,
    ) -> Result<NodeHandle, TaskError> {
        let count = self.nodes.len() as u64 + 1;
        if count > self.limits.max_nodes {
            return Err(self.limits.too_many_nodes(count));
        }
        let id = format!("dn{}", self.nodes.len());
        let inputs = inputs
            .into_iter()
            .map(|(name, data)| Binding::new(name, data))
            .collect();
        let node = Node {
            id: id.clone(),
            inputs,
            upstream: Vec::new(),
            target,
            overrides: NodeOverrides::default(),
        };
        let size = node_len(node.clone());
        let total = completion_field_len(self.bytes + size + min_successes_len(self.min_successes));
        if total > self.limits.max_bytes {
            return Err(self.limits.too_many_bytes(total));
        }
        self.bytes += size;
        self.nodes.push(node);
        Ok(NodeHandle { id })
    }

    /// Applies `change` to node `id` and recounts its size.
    fn change_node(&mut self, id: &str, change: impl FnOnce(&mut Node)) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.id == id) {
            let before = node_len(node.clone());
            change(node);
            self.bytes = (self.bytes + node_len(node.clone())).saturating_sub(before);
        }
    }

    /// Whether the spec keeps to its limits: what the worker checks before sending it, so that outputs or embedded
    /// templates that took it over the byte limit are reported like a node that would have.
    pub fn check(&self) -> Result<(), TaskError> {
        let count = self.nodes.len() as u64;
        if count > self.limits.max_nodes {
            return Err(self.limits.too_many_nodes(count));
        }
        let total = self.encoded_len();
        if total > self.limits.max_bytes {
            return Err(self.limits.too_many_bytes(total));
        }
        Ok(())
    }

    /// A promise of one of the dynamic task's own inputs, to pass through to a node or an output.
    pub fn parent_input(&self, name: impl Into<String>) -> Promise {
        Promise::new("", name)
    }

    /// Binds output `name` of the dynamic task: a promise, a list or map of promises, or a literal. Binding the
    /// same output again replaces the earlier binding.
    pub fn set_output(&mut self, name: impl Into<String>, value: impl IntoBinding) {
        let binding = Binding::new(name, value.into_binding());
        self.bytes += output_len(binding.clone());
        match self.outputs.iter_mut().find(|existing| existing.var == binding.var) {
            Some(existing) => {
                self.bytes = self.bytes.saturating_sub(output_len(existing.clone()));
                *existing = binding;
            }
            None => self.outputs.push(binding),
        }
    }

    /// Makes `node` wait for `upstream` even though none of its inputs says so.
    pub fn depends_on(&mut self, node: &NodeHandle, upstream: &NodeHandle) {
        self.change_node(&node.id, |node| {
            if !node.upstream.contains(&upstream.id) {
                node.upstream.push(upstream.id.clone());
            }
        });
    }

    /// Replaces the retry policy of `node`'s task.
    pub fn override_retries(&mut self, node: &NodeHandle, retries: RetryPolicy) {
        self.change_node(&node.id, |node| node.overrides.retries = Some(retries));
    }

    /// Replaces the caching of `node`'s task. This and the two below make the node run a template derived from its
    /// task's with them applied (the worker receives it, and the node's cache is keyed by its settings).
    pub fn override_cache(&mut self, node: &NodeHandle, cache: CacheOverride) {
        self.change_node(&node.id, |node| node.overrides.cache = Some(cache));
    }

    /// Replaces the resources of `node`'s container.
    pub fn override_resources(&mut self, node: &NodeHandle, resources: Resources) {
        self.change_node(&node.id, |node| node.overrides.resources = Some(resources));
    }

    /// Replaces the image of `node`'s container.
    pub fn override_image(&mut self, node: &NodeHandle, image: impl Into<String>) {
        let image = image.into();
        self.change_node(&node.id, |node| node.overrides.container_image = Some(image));
    }

    /// Ships a task template with the spec, so that nodes may run a task the server has not registered. Embedding
    /// the same id twice keeps the first.
    pub fn embed(&mut self, task: impl Into<TaskTemplate>) {
        let task = task.into();
        if !self.tasks.iter().any(|existing| existing.id == task.id) {
            self.bytes += task_len(task.clone());
            self.tasks.push(task);
        }
    }

    /// Ships a workflow template with the spec for sub-workflow nodes. Embedding the same id twice keeps the first.
    pub fn embed_workflow(&mut self, workflow: WorkflowTemplate) {
        if !self.subworkflows.iter().any(|existing| existing.id == workflow.id) {
            self.bytes += workflow_len(workflow.clone());
            self.subworkflows.push(workflow);
        }
    }

    /// How many nodes must succeed for the dynamic task to succeed (all of them unless set). Outputs bound to
    /// promises of failed nodes are then `none`.
    pub fn min_successes(&mut self, count: u64) {
        self.min_successes = Some(count);
    }

    /// The nodes added so far.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The output bindings set so far.
    pub fn outputs(&self) -> &[Binding] {
        &self.outputs
    }

    /// The finished spec, in the core's model.
    pub fn into_job_spec(self) -> DynamicJobSpec {
        debug_assert_eq!(
            self.nodes.iter().map(|n| n.id.as_str()).collect::<HashSet<_>>().len(),
            self.nodes.len(),
            "node ids are generated unique"
        );
        DynamicJobSpec {
            nodes: self.nodes,
            min_successes: self.min_successes,
            outputs: self.outputs,
            tasks: self.tasks,
            subworkflows: self.subworkflows,
        }
    }
}

impl From<DynamicSpec> for DynamicJobSpec {
    fn from(spec: DynamicSpec) -> Self {
        spec.into_job_spec()
    }
}

impl From<DynamicSpec> for gantry_proto::v1::DynamicJobSpec {
    fn from(spec: DynamicSpec) -> Self {
        spec.into_job_spec().into()
    }
}

#[cfg(test)]
#[path = "dynamic_tests.rs"]
mod tests;
