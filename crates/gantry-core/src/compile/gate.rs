//! Gate nodes: their shape checked in pass 1, and an approval's interface, which is the type of the value it passes
//! on, found between the passes, once every other node's outputs are known.

use std::sync::Arc;

use crate::model::{GateCondition, GateNode, Node, NodeTarget, TypedInterface, Variable};
use crate::names;

use super::bindings::{Described, InputCheck, Scope};
use super::compiler::Compiler;
use super::error::{CompileError, CompileErrorCode};
use super::targets::{Resolved, ResolvedNode};

impl Compiler<'_> {
    /// Pass 1 for a gate: what it waits for must be well formed. A sleep has no outputs, a signal the one it names; an
    /// approval's interface waits for [`type_approvals`].
    pub(super) fn resolve_gate(&mut self, gate: &GateNode, node: &Node, path: &str) -> ResolvedNode {
        let mut problems = Vec::new();
        if let Some(timeout) = gate.timeout
            && timeout.as_millis() <= 0
        {
            problems.push(format!("the timeout is {}; it must be positive", timeout.as_millis()));
        }
        let interface = match &gate.condition {
            GateCondition::Sleep(duration) => {
                if duration.as_millis() <= 0 {
                    problems.push(format!(
                        "the sleep lasts {} ms; it must be positive",
                        duration.as_millis()
                    ));
                }
                if gate.timeout.is_some() {
                    problems.push("a sleep has no timeout: its duration is its deadline".to_owned());
                }
                no_inputs(node, "a sleep", &mut problems);
                Some(Arc::new(TypedInterface::default()))
            }
            GateCondition::Signal { id, ty, output } => {
                signal_id_problem(id, &mut problems);
                if let Err(problem) = names::check(output, names::NAME) {
                    problems.push(format!("the output name {}: {problem}", names::quote(output)));
                }
                no_inputs(node, "a signal", &mut problems);
                Some(Arc::new(TypedInterface {
                    inputs: Vec::new(),
                    outputs: vec![Variable::new(output.clone(), ty.clone())],
                }))
            }
            GateCondition::Approve { id } => {
                signal_id_problem(id, &mut problems);
                if node.inputs.len() != 1 {
                    problems.push(format!(
                        "an approval passes on exactly one input, and this one has {}",
                        node.inputs.len()
                    ));
                }
                None
            }
        };
        for problem in problems {
            self.push(CompileError::node(CompileErrorCode::InvalidGate, path, problem));
        }
        ResolvedNode {
            target: Resolved::Gate,
            interface,
        }
    }

    /// Pass 2 for an approval whose interface could not be found: its binding's own problems are reported; if it has
    /// none, the value's type is known only at run time, which an approval cannot pass on.
    pub(super) fn finish_untyped_approval(
        &mut self,
        scope: &Scope<'_>,
        node: &Node,
        path: &str,
        deps: &mut Vec<usize>,
    ) {
        let errors_before = self.errors.len();
        let check = InputCheck {
            path,
            declared: None,
            target: Described::Text("the approval"),
            already_bound: None,
        };
        self.check_inputs(scope, &check, &node.inputs, deps);
        if self.errors.len() == errors_before && node.inputs.len() == 1 {
            self.push(CompileError::node(
                CompileErrorCode::InvalidGate,
                path,
                format!(
                    "the type of input {} is only known at run time; an approval passes on a value of a known type",
                    names::quote(&node.inputs[0].var)
                ),
            ));
        }
    }
}

fn signal_id_problem(id: &str, problems: &mut Vec<String>) {
    if let Err(problem) = names::check(id, names::EXECUTION_NAME) {
        problems.push(format!("the signal id {}: {problem}", names::quote(id)));
    }
}

fn no_inputs(node: &Node, what: &str, problems: &mut Vec<String>) {
    if !node.inputs.is_empty() {
        problems.push(format!(
            "{what} takes no inputs, and this one binds {}",
            node.inputs.len()
        ));
    }
}

/// Gives each approval (with its one binding) the interface of the value it passes on: an input and an output of the
/// binding's name and type. An approval of an approval is typed once the first is, so this goes round until nothing
/// changes.
pub(super) fn type_approvals(nodes: &[Node], resolved: &mut [ResolvedNode], scope: &mut Scope<'_>) {
    let approvals: Vec<usize> = nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| {
            matches!(
                &node.target,
                NodeTarget::Gate(GateNode {
                    condition: GateCondition::Approve { .. },
                    ..
                })
            ) && node.inputs.len() == 1
        })
        .map(|(position, _)| position)
        .collect();
    let mut untyped = approvals;
    loop {
        let before = untyped.len();
        untyped.retain(|&position| {
            let binding = &nodes[position].inputs[0];
            let Some(ty) = scope.infer_type(&binding.data) else {
                return true;
            };
            let variable = Variable::new(binding.var.clone(), ty);
            let interface = Arc::new(TypedInterface {
                inputs: vec![variable.clone()],
                outputs: vec![variable],
            });
            resolved[position].interface = Some(interface.clone());
            scope.interfaces[position] = Some(interface);
            false
        });
        if untyped.is_empty() || untyped.len() == before {
            return;
        }
    }
}
