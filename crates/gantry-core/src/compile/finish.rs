//! Pass 2 for one node: its bindings and explicit upstream ids, against the target pass 1 resolved.

use std::collections::HashSet;
use std::sync::Arc;

use crate::model::{Node, NodeTarget, TaskTemplate, TypedInterface};

use super::bindings::{Described, InputCheck, Scope};
use super::compiler::{Compiler, join_path};
use super::graph::{CompiledNode, CompiledTarget};
use super::targets::{Resolved, ResolvedNode};

/// A node that passed pass 2: what it runs and the interface it was checked against.
pub(super) type Finished = Option<(CompiledTarget, Arc<TypedInterface>)>;

impl Compiler<'_> {
    /// Checks `node` (error path `path`) and adds the nodes of the enclosing graph it waits for to `deps`, sorted and
    /// without repeats. `None` when the node cannot be compiled (the reasons are reported).
    pub fn finish_node(
        &mut self,
        scope: &Scope<'_>,
        node: &Node,
        resolved: ResolvedNode,
        path: &str,
        deps: &mut Vec<usize>,
    ) -> Finished {
        let finished = self.finish_target(scope, node, resolved, path, deps);
        self.check_upstream(scope, path, &node.upstream, deps);
        deps.sort_unstable();
        deps.dedup();
        finished
    }

    /// Pass 2 for a branch arm: a node of its own whose upstream nodes are also the branch's.
    pub fn finish_arm(
        &mut self,
        scope: &Scope<'_>,
        arm: &Node,
        resolved: ResolvedNode,
        branch_path: &str,
        branch_deps: &mut Vec<usize>,
    ) -> Option<CompiledNode> {
        let mut deps = Vec::new();
        let finished = self.finish_node(scope, arm, resolved, &join_path(branch_path, &arm.id), &mut deps);
        branch_deps.extend_from_slice(&deps);
        let (target, interface) = finished?;
        Some(CompiledNode {
            interface,
            target,
            upstream: deps,
            downstream: Vec::new(),
        })
    }

    fn finish_target(
        &mut self,
        scope: &Scope<'_>,
        node: &Node,
        resolved: ResolvedNode,
        path: &str,
        deps: &mut Vec<usize>,
    ) -> Finished {
        let ResolvedNode { target, interface } = resolved;
        let (target, interface) = match (target, interface) {
            (target @ Resolved::Branch { .. }, interface) => {
                return self.finish_branch(scope, node, ResolvedNode { target, interface }, path, deps);
            }
            (Resolved::Array { task: Some(task) }, Some(interface)) => {
                return self.finish_array(scope, node, task, interface, path, deps);
            }
            (Resolved::Gate, None) => {
                self.finish_untyped_approval(scope, node, path, deps);
                return None;
            }
            (
                target @ (Resolved::Task(_) | Resolved::SubWorkflow { .. } | Resolved::LaunchPlan(_) | Resolved::Gate),
                Some(interface),
            ) => (target, interface),
            _ => {
                self.finish_unknown(scope, node, path, deps);
                return None;
            }
        };
        let described = match &target {
            Resolved::Task(task) => Described::Resource("task", &task.id),
            Resolved::SubWorkflow { template, .. } => Described::Resource("workflow", &template.id),
            Resolved::LaunchPlan(plan) => Described::Resource("launch plan", &plan.plan.id),
            _ => Described::Text(node.target.kind_name()),
        };
        let check = InputCheck {
            path,
            declared: Some(&interface.inputs),
            target: described,
            already_bound: None,
        };
        let bound: HashSet<&str> = self.check_inputs(scope, &check, &node.inputs, deps);
        self.report_unbound(path, &interface.inputs, &bound, |variable| variable.default.is_none());
        let compiled = match target {
            Resolved::Task(task) => CompiledTarget::Task(task),
            Resolved::SubWorkflow { template, graph } => CompiledTarget::SubWorkflow {
                template,
                graph: graph?,
            },
            Resolved::LaunchPlan(plan) => CompiledTarget::LaunchPlan(plan),
            Resolved::Gate => CompiledTarget::Gate,
            _ => return None,
        };
        Some((compiled, interface))
    }

    /// A node whose target is unknown: its promises can still be checked, and an array's inner node's too.
    fn finish_unknown(&mut self, scope: &Scope<'_>, node: &Node, path: &str, deps: &mut Vec<usize>) {
        let unchecked = InputCheck {
            path,
            declared: None,
            target: Described::Text(node.target.kind_name()),
            already_bound: None,
        };
        self.check_inputs(scope, &unchecked, &node.inputs, deps);
        if let NodeTarget::Array(array) = &node.target {
            let inner_path = join_path(path, &array.node.id);
            let inner = InputCheck {
                path: &inner_path,
                ..unchecked
            };
            self.check_inputs(scope, &inner, &array.node.inputs, deps);
            self.check_upstream(scope, &inner_path, &array.node.upstream, deps);
        }
    }

    /// An array node: the inner node's bindings are shared by every element, the array node's own bind lists.
    fn finish_array(
        &mut self,
        scope: &Scope<'_>,
        node: &Node,
        task: Arc<TaskTemplate>,
        interface: Arc<TypedInterface>,
        path: &str,
        deps: &mut Vec<usize>,
    ) -> Finished {
        let NodeTarget::Array(array) = &node.target else {
            return None;
        };
        let inner_path = join_path(path, &array.node.id);
        let inner_check = InputCheck {
            path: &inner_path,
            declared: Some(&task.interface.inputs),
            target: Described::Resource("task", &task.id),
            already_bound: None,
        };
        let broadcast = self.check_inputs(scope, &inner_check, &array.node.inputs, deps);
        self.check_upstream(scope, &inner_path, &array.node.upstream, deps);
        let mapped_check = InputCheck {
            path,
            declared: Some(&interface.inputs),
            target: Described::Text("the array node"),
            already_bound: Some(&broadcast),
        };
        let mapped = self.check_inputs(scope, &mapped_check, &node.inputs, deps);
        self.report_unbound(path, &interface.inputs, &mapped, |variable| {
            task.interface
                .input(&variable.name)
                .is_some_and(|task_input| task_input.default.is_none())
        });
        Some((CompiledTarget::Array { task }, interface))
    }
}
