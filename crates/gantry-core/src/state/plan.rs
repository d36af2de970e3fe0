//! What a composite (an execution's workflow, a sub-workflow, an accepted dynamic spec, a branch, an array node)
//! needs once its children exist: how its outputs are assembled from theirs, how their failures count, and for an
//! array node how many elements run at once. One constructor per kind of composite decides this; the engine caches
//! the plans and carries them out, and assembles every composite's outputs (an execution's included) through
//! [`AssemblyPlan::assemble`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::compile::array_interface;
use crate::model::{ArrayNode, Binding, FailurePolicy, Literal, LiteralMap, TaskTemplate, Variable, WorkflowTemplate};
use crate::resolve::{self, OutputSource, required_successes};

use super::children::ChildRule;

/// How a composite's outputs are assembled and how its children's failures count. Immutable once the composite's
/// children are prepared, so the engine caches it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositePlan {
    pub assembly: AssemblyPlan,
    pub rule: ChildRule,
    /// For array nodes: how many elements may run at once.
    pub parallelism: Option<u32>,
}

/// How a composite's outputs come from its children's.
#[derive(Debug, Clone, PartialEq)]
pub enum AssemblyPlan {
    /// Output bindings over the children and the composite's inputs (a workflow, sub-workflow or dynamic spec),
    /// producing `vars`: the workflow's outputs, or the dynamic parent task's.
    Bindings {
        outputs: Arc<[Binding]>,
        vars: Vec<Variable>,
    },
    /// A branch: the outputs of the arm that ran.
    TakenArm,
    /// An array node: one list per output, element `i` from child `i` (`none` where it did not succeed).
    Gather { vars: Vec<Variable> },
}

/// One child's outputs as read for assembly: its local id (`n0`, `3`), and its outputs if it produced any (a child
/// that did not succeed has none). In position order.
pub type ChildOutputs = (String, Option<Outputs>);

/// A child's named outputs as assembly holds them: a slice, looked up by name. A child has a handful of outputs, and
/// a [`LiteralMap`] of one entry takes a whole B-tree node (about 1 KiB), which for the 100,000 children of a
/// fan-out held at once was most of the server's memory.
pub type Outputs = Box<[(String, Literal)]>;

/// The output `name` of a child's `outputs`.
fn output<'o>(outputs: &'o [(String, Literal)], name: &str) -> Option<&'o Literal> {
    outputs
        .iter()
        .find(|(output, _)| output == name)
        .map(|(_, value)| value)
}

impl CompositePlan {
    /// A workflow's (an execution's or a sub-workflow node's): its output bindings; every node must succeed, and
    /// the first failure fails it at once unless its failure policy lets the others run to completion.
    pub fn workflow(workflow: &WorkflowTemplate) -> Self {
        let rule = ChildRule {
            min_successes: None,
            fail_fast: workflow.failure_policy == FailurePolicy::FailImmediately,
        };
        CompositePlan::bindings(workflow.outputs.clone(), workflow.interface.outputs.clone(), rule)
    }

    /// An accepted dynamic spec's: its output bindings (`outputs`) producing the dynamic task's outputs
    /// (`task_outputs`), and its `min_successes`.
    pub fn dynamic(
        outputs: impl Into<Arc<[Binding]>>,
        task_outputs: Vec<Variable>,
        min_successes: Option<u64>,
    ) -> Self {
        let rule = ChildRule {
            min_successes,
            fail_fast: true,
        };
        CompositePlan::bindings(outputs, task_outputs, rule)
    }

    /// A branch's: the arm that ran (the only child started) must succeed, and its outputs are the branch's.
    pub fn branch() -> Self {
        CompositePlan {
            assembly: AssemblyPlan::TakenArm,
            rule: ChildRule {
                min_successes: Some(1),
                fail_fast: true,
            },
            parallelism: None,
        }
    }

    /// An array node's of `total` elements running `task` (the array's inner node's task): its outputs gathered per
    /// element, as many elements succeeding as its success criteria ask, and its parallelism.
    pub fn array(task: &TaskTemplate, array: &ArrayNode, total: u64) -> Self {
        let interface = array_interface(task, &array.node, array.success);
        CompositePlan {
            assembly: AssemblyPlan::Gather {
                vars: interface.outputs,
            },
            rule: ChildRule {
                min_successes: Some(required_successes(array.success, total)),
                fail_fast: true,
            },
            parallelism: array.parallelism,
        }
    }

    fn bindings(outputs: impl Into<Arc<[Binding]>>, vars: Vec<Variable>, rule: ChildRule) -> Self {
        CompositePlan {
            assembly: AssemblyPlan::Bindings {
                outputs: outputs.into(),
                vars,
            },
            rule,
            parallelism: None,
        }
    }
}

impl AssemblyPlan {
    /// Whether assembling reads the composite's inputs (promises with an empty node id): only bindings do.
    pub fn reads_inputs(&self) -> bool {
        matches!(self, AssemblyPlan::Bindings { .. })
    }

    /// The composite's outputs from its `children`'s (in position order) and its own `inputs` (which bindings may
    /// name through promises with an empty node id), each conformed to its declared type; or why they cannot be
    /// assembled, in words.
    pub fn assemble(&self, inputs: &LiteralMap, children: &[ChildOutputs]) -> Result<LiteralMap, String> {
        match self {
            AssemblyPlan::Bindings { outputs, vars } => {
                let by_id: HashMap<&str, &[(String, Literal)]> = children
                    .iter()
                    .filter_map(|(local, outputs)| Some((local.as_str(), outputs.as_deref()?)))
                    .collect();
                let source = resolve::from_fn(|node_id: &str, name: &str| {
                    if node_id.is_empty() {
                        inputs.get(name)
                    } else {
                        by_id.get(node_id).and_then(|outputs| output(outputs, name))
                    }
                });
                let source: &dyn OutputSource = &source;
                resolve::assemble_outputs(outputs, vars, source).map_err(|e| e.to_string())
            }
            AssemblyPlan::TakenArm => children
                .iter()
                .find_map(|(_, outputs)| Some(outputs.as_deref()?.iter().cloned().collect()))
                .ok_or_else(|| "no arm of the branch produced outputs".to_owned()),
            AssemblyPlan::Gather { vars } => gather(vars, children),
        }
    }
}

/// An array node's outputs: per output, the list of its elements' values in element order, `none` for an element
/// that did not succeed, conformed to the output's type.
fn gather(vars: &[Variable], elements: &[ChildOutputs]) -> Result<LiteralMap, String> {
    let mut outputs = LiteralMap::new();
    for var in vars {
        let items = elements
            .iter()
            .map(|(_, outputs)| {
                outputs
                    .as_deref()
                    .and_then(|outputs| output(outputs, &var.name).cloned())
                    .unwrap_or(Literal::None)
            })
            .collect();
        let list =
            resolve::conform(Literal::Collection(items), &var.ty).map_err(|e| format!("output {:?}: {e}", var.name))?;
        outputs.insert(var.name.clone(), list);
    }
    Ok(outputs)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
