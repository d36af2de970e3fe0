//! Pass 1: what each node runs, and therefore which outputs it has. Branch arms and array inner nodes are resolved
//! here too; bindings wait for pass 2, when every node's outputs are known.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::model::{
    ArrayNode, BranchNode, ElseArm, LiteralType, Node, NodeTarget, SuccessCriteria, TaskTemplate, TypedInterface,
    Variable, WorkflowTemplate,
};
use crate::typing::accepts_none;

use super::compiler::{Compiler, join_path, node_id_problem};
use super::error::{CompileError, CompileErrorCode};
use super::graph::CompiledGraph;
use super::resolver::ResolvedLaunchPlan;

/// A node after pass 1.
pub(super) struct ResolvedNode {
    pub target: Resolved,
    /// The interface the node's outputs are read through; `None` when the target could not be resolved. A branch's
    /// inputs are filled in by pass 2.
    pub interface: Option<Arc<TypedInterface>>,
}

/// What a node runs, as far as pass 1 could tell.
pub(super) enum Resolved {
    Unknown,
    Task(Arc<TaskTemplate>),
    SubWorkflow {
        template: Arc<WorkflowTemplate>,
        graph: Option<Arc<CompiledGraph>>,
    },
    LaunchPlan(Arc<ResolvedLaunchPlan>),
    Branch {
        cases: Vec<ResolvedNode>,
        otherwise: Option<Box<ResolvedNode>>,
    },
    Array {
        task: Option<Arc<TaskTemplate>>,
    },
    /// A gate; an approval's interface is known only once the type of what it binds is (`compile::gate`).
    Gate,
}

impl ResolvedNode {
    const UNKNOWN: ResolvedNode = ResolvedNode {
        target: Resolved::Unknown,
        interface: None,
    };
}

/// `union<T | none>`, or `T` itself when it already accepts none.
pub(super) fn optional_of(ty: &LiteralType) -> LiteralType {
    if accepts_none(ty) {
        ty.clone()
    } else {
        LiteralType::optional(ty.clone())
    }
}

/// The interface of an array node over `task`: a list input per task input the inner node leaves unbound, and a list
/// output per task output, of optionals unless every element must succeed (no criteria, or a ratio of 1).
pub fn array_interface(task: &TaskTemplate, inner: &Node, success: SuccessCriteria) -> TypedInterface {
    let broadcast: HashSet<&str> = inner.inputs.iter().map(|b| b.var.as_str()).collect();
    let inputs = task
        .interface
        .inputs
        .iter()
        .filter(|v| !broadcast.contains(v.name.as_str()))
        .map(|v| Variable {
            ty: LiteralType::collection(v.ty.clone()),
            default: None,
            ..v.clone()
        })
        .collect();
    let outputs = task
        .interface
        .outputs
        .iter()
        .map(|v| {
            let element = match success.requires_all() {
                true => v.ty.clone(),
                false => optional_of(&v.ty),
            };
            Variable {
                ty: LiteralType::collection(element),
                default: None,
                ..v.clone()
            }
        })
        .collect();
    TypedInterface { inputs, outputs }
}

fn outputs_by_name(interface: &TypedInterface) -> BTreeMap<&str, &LiteralType> {
    interface.outputs.iter().map(|v| (v.name.as_str(), &v.ty)).collect()
}

fn describe_outputs(interface: &TypedInterface) -> String {
    let outputs: Vec<String> = outputs_by_name(interface)
        .into_iter()
        .map(|(name, ty)| format!("{name}: {ty}"))
        .collect();
    format!("{{{}}}", outputs.join(", "))
}

impl Compiler<'_> {
    /// Pass 1 for one node; `path` is its error path.
    pub fn resolve_node(&mut self, node: &Node, path: &str) -> ResolvedNode {
        match &node.target {
            NodeTarget::Task(id) => match self.task(id, path) {
                Some((task, interface)) => ResolvedNode {
                    target: Resolved::Task(task),
                    interface: Some(interface),
                },
                None => ResolvedNode::UNKNOWN,
            },
            NodeTarget::SubWorkflow(id) => match self.sub_workflow(id, path) {
                Some(sub) => ResolvedNode {
                    target: Resolved::SubWorkflow {
                        template: sub.template,
                        graph: sub.graph,
                    },
                    interface: Some(sub.interface),
                },
                None => ResolvedNode::UNKNOWN,
            },
            NodeTarget::LaunchPlan(id) => match self.launch_plan(id, path) {
                Some((plan, interface)) => ResolvedNode {
                    target: Resolved::LaunchPlan(plan),
                    interface: Some(interface),
                },
                None => ResolvedNode::UNKNOWN,
            },
            NodeTarget::Branch(branch) => self.resolve_branch(branch, path),
            NodeTarget::Array(array) => self.resolve_array(array, path),
            NodeTarget::Gate(gate) => self.resolve_gate(gate, node, path),
        }
    }

    fn resolve_branch(&mut self, branch: &BranchNode, path: &str) -> ResolvedNode {
        if branch.cases.is_empty() {
            self.push(CompileError::node(
                CompileErrorCode::BranchWithoutCases,
                path,
                "the branch has no if case",
            ));
        }
        if branch.otherwise.is_none() {
            self.push(CompileError::node(
                CompileErrorCode::BranchWithoutElse,
                path,
                "the branch has neither an else node nor an else error",
            ));
        }
        let else_node = match &branch.otherwise {
            Some(ElseArm::Node(node)) => Some(node.as_ref()),
            Some(ElseArm::Error(_)) | None => None,
        };
        let arms: Vec<&Node> = branch
            .cases
            .iter()
            .map(|c| c.then_node.as_ref())
            .chain(else_node)
            .collect();
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(arms.len());
        for (position, arm) in arms.iter().enumerate() {
            let arm_path = join_path(path, &arm.id);
            if let Some((code, message)) = node_id_problem(&arm.id, position) {
                self.push(CompileError::node(code, arm_path.as_ref(), message));
            }
            if let Some(first) = seen.insert(arm.id.as_str(), position) {
                self.push(CompileError::node(
                    CompileErrorCode::DuplicateNodeId,
                    arm_path.as_ref(),
                    format!("the branch arms at positions {first} and {position} have the same id"),
                ));
            }
        }
        let mut resolved: Vec<ResolvedNode> = arms
            .iter()
            .map(|arm| self.resolve_node(arm, &join_path(path, &arm.id)))
            .collect();
        let interface = self.branch_outputs(path, &arms, &resolved);
        let otherwise = match else_node {
            Some(_) => resolved.pop().map(Box::new),
            None => None,
        };
        ResolvedNode {
            target: Resolved::Branch {
                cases: resolved,
                otherwise,
            },
            interface,
        }
    }

    /// The branch's outputs: those of its arms, which must all agree (names and types).
    fn branch_outputs(&mut self, path: &str, arms: &[&Node], resolved: &[ResolvedNode]) -> Option<Arc<TypedInterface>> {
        let mut known = arms
            .iter()
            .zip(resolved)
            .filter_map(|(arm, r)| r.interface.as_ref().map(|i| (*arm, i)));
        let (first_arm, first) = known.next()?;
        let expected = outputs_by_name(first);
        for (arm, interface) in known {
            if outputs_by_name(interface) != expected {
                self.push(CompileError::node(
                    CompileErrorCode::BranchOutputMismatch,
                    path,
                    format!(
                        "arm {:?} has outputs {} but arm {:?} has outputs {}",
                        arm.id,
                        describe_outputs(interface),
                        first_arm.id,
                        describe_outputs(first)
                    ),
                ));
            }
        }
        let outputs = first
            .outputs
            .iter()
            .map(|v| Variable {
                default: None,
                ..v.clone()
            })
            .collect();
        Some(Arc::new(TypedInterface {
            inputs: Vec::new(),
            outputs,
        }))
    }

    fn resolve_array(&mut self, array: &ArrayNode, path: &str) -> ResolvedNode {
        if let SuccessCriteria::MinSuccessRatio(ratio) = array.success
            && !(0.0..=1.0).contains(&ratio)
        {
            self.push(CompileError::node(
                CompileErrorCode::InvalidSuccessRatio,
                path,
                format!("the minimum success ratio is {ratio}; it must be between 0 and 1"),
            ));
        }
        let inner = array.node.as_ref();
        let inner_path = join_path(path, &inner.id);
        if let Some((code, message)) = node_id_problem(&inner.id, 0) {
            self.push(CompileError::node(code, inner_path.as_ref(), message));
        }
        let NodeTarget::Task(task_id) = &inner.target else {
            self.push(CompileError::node(
                CompileErrorCode::ArrayTargetNotTask,
                path,
                format!(
                    "the inner node {:?} runs a {}; an array node runs a task",
                    inner.id,
                    inner.target.kind_name()
                ),
            ));
            return ResolvedNode {
                target: Resolved::Array { task: None },
                interface: None,
            };
        };
        let task = self.task(task_id, &inner_path).map(|(task, _)| task);
        let interface = task
            .as_ref()
            .map(|task| Arc::new(array_interface(task, inner, array.success)));
        ResolvedNode {
            target: Resolved::Array { task },
            interface,
        }
    }
}
