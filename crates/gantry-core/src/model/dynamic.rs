//! The dynamic job spec: what a generator step returns instead of outputs.

use super::binding::Binding;
use super::task::TaskTemplate;
use super::workflow::{Node, WorkflowTemplate};

/// Nodes to run under the dynamic parent, the templates they may use, and how to assemble the parent's outputs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DynamicJobSpec {
    pub nodes: Vec<Node>,
    /// How many nodes must succeed for the parent to succeed; `None` means all of them.
    pub min_successes: Option<u64>,
    /// One binding per output of the parent task. A promise with an empty node id reads the parent's inputs.
    pub outputs: Vec<Binding>,
    /// Task templates the nodes may reference in addition to registered ones.
    pub tasks: Vec<TaskTemplate>,
    /// Workflow templates that sub-workflow nodes may reference in addition to registered ones.
    pub subworkflows: Vec<WorkflowTemplate>,
}
