//! Compile errors: one per problem, each naming the node and the input or output it concerns.

use std::fmt;

/// What a compile error is about. Every check of the compiler has its own code, so callers and tests can tell them
/// apart without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CompileErrorCode {
    /// A registered workflow has no nodes. (A dynamic spec may have none: its outputs then come from literals or the
    /// parent's inputs.)
    NoNodes,
    /// Two nodes of one graph (or two arms of one branch) share an id.
    DuplicateNodeId,
    /// A node id is empty, longer than 63 characters, or has characters outside `[A-Za-z0-9_-]`.
    InvalidNodeId,
    /// A node id is `start` or `end`, which name a graph's inputs and outputs.
    ReservedNodeId,
    /// A node runs a task that is neither registered nor embedded in the spec.
    UnknownTask,
    /// A node runs a sub-workflow that is neither registered nor embedded in the spec.
    UnknownWorkflow,
    /// A node starts a launch plan that is not registered.
    UnknownLaunchPlan,
    /// A sub-workflow contains itself, directly or through other sub-workflows.
    RecursiveSubWorkflow,
    /// A dynamic spec embeds two different templates under one identifier.
    DuplicateTemplate,
    /// An interface declares a variable name twice, or a default that does not conform to the variable's type.
    InterfaceError,
    /// A required input (no default) is not bound.
    UnboundInput,
    /// An input is bound more than once.
    DuplicateBinding,
    /// A binding names an input the target does not have (or a condition reads one the branch does not bind).
    UnknownInput,
    /// A promise, or an explicit upstream, names a node that does not exist.
    UnknownNode,
    /// A promise names an output the node does not have, or an input the workflow or dynamic parent does not have.
    UnknownOutput,
    /// A binding's type is not castable to the input's type, a literal does not conform to it, or a condition compares
    /// values that cannot be compared.
    TypeMismatch,
    /// A promise's attribute path does not fit the output's type.
    InvalidAttributePath,
    /// Nodes depend on each other in a cycle.
    Cycle,
    /// A node that is on no cycle but depends on one, so it can never become ready. Every node without upstream
    /// nodes is a root of the graph, so in Gantry's model this is the only way a node can be unreachable.
    Unreachable,
    /// A branch node has no `if` case.
    BranchWithoutCases,
    /// A branch node has neither an else node nor an else error.
    BranchWithoutElse,
    /// The arms of a branch node do not all produce the same outputs.
    BranchOutputMismatch,
    /// An array node's inner node does not run a task.
    ArrayTargetNotTask,
    /// An array node's minimum success ratio is outside `[0, 1]`.
    InvalidSuccessRatio,
    /// An output of the workflow or dynamic parent is not bound.
    MissingOutputBinding,
    /// An output binding names an output the workflow or dynamic parent does not declare.
    UnknownOutputBinding,
    /// An output is bound more than once.
    DuplicateOutputBinding,
    /// An output binding's type does not fit the declared output.
    OutputTypeMismatch,
    /// A dynamic spec requires more successes than it has nodes.
    InvalidMinSuccesses,
    /// A gate node is malformed: a signal id or output name that is not a name, a duration or timeout that is not
    /// positive, a sleep with a timeout, inputs on a sleep or signal, an approval without exactly one input or of a
    /// value whose type is only known at run time.
    InvalidGate,
}

impl CompileErrorCode {
    /// Every code, for exhaustive mappings and documentation.
    pub const ALL: [CompileErrorCode; 30] = [
        CompileErrorCode::NoNodes,
        CompileErrorCode::DuplicateNodeId,
        CompileErrorCode::InvalidNodeId,
        CompileErrorCode::ReservedNodeId,
        CompileErrorCode::UnknownTask,
        CompileErrorCode::UnknownWorkflow,
        CompileErrorCode::UnknownLaunchPlan,
        CompileErrorCode::RecursiveSubWorkflow,
        CompileErrorCode::DuplicateTemplate,
        CompileErrorCode::InterfaceError,
        CompileErrorCode::UnboundInput,
        CompileErrorCode::DuplicateBinding,
        CompileErrorCode::UnknownInput,
        CompileErrorCode::UnknownNode,
        CompileErrorCode::UnknownOutput,
        CompileErrorCode::TypeMismatch,
        CompileErrorCode::InvalidAttributePath,
        CompileErrorCode::Cycle,
        CompileErrorCode::Unreachable,
        CompileErrorCode::BranchWithoutCases,
        CompileErrorCode::BranchWithoutElse,
        CompileErrorCode::BranchOutputMismatch,
        CompileErrorCode::ArrayTargetNotTask,
        CompileErrorCode::InvalidSuccessRatio,
        CompileErrorCode::MissingOutputBinding,
        CompileErrorCode::UnknownOutputBinding,
        CompileErrorCode::DuplicateOutputBinding,
        CompileErrorCode::OutputTypeMismatch,
        CompileErrorCode::InvalidMinSuccesses,
        CompileErrorCode::InvalidGate,
    ];

    /// The stable snake_case code, for APIs, logs and stored errors.
    pub fn as_str(self) -> &'static str {
        match self {
            CompileErrorCode::NoNodes => "no_nodes",
            CompileErrorCode::DuplicateNodeId => "duplicate_node_id",
            CompileErrorCode::InvalidNodeId => "invalid_node_id",
            CompileErrorCode::ReservedNodeId => "reserved_node_id",
            CompileErrorCode::UnknownTask => "unknown_task",
            CompileErrorCode::UnknownWorkflow => "unknown_workflow",
            CompileErrorCode::UnknownLaunchPlan => "unknown_launch_plan",
            CompileErrorCode::RecursiveSubWorkflow => "recursive_sub_workflow",
            CompileErrorCode::DuplicateTemplate => "duplicate_template",
            CompileErrorCode::InterfaceError => "interface_error",
            CompileErrorCode::UnboundInput => "unbound_input",
            CompileErrorCode::DuplicateBinding => "duplicate_binding",
            CompileErrorCode::UnknownInput => "unknown_input",
            CompileErrorCode::UnknownNode => "unknown_node",
            CompileErrorCode::UnknownOutput => "unknown_output",
            CompileErrorCode::TypeMismatch => "type_mismatch",
            CompileErrorCode::InvalidAttributePath => "invalid_attribute_path",
            CompileErrorCode::Cycle => "cycle",
            CompileErrorCode::Unreachable => "unreachable",
            CompileErrorCode::BranchWithoutCases => "branch_without_cases",
            CompileErrorCode::BranchWithoutElse => "branch_without_else",
            CompileErrorCode::BranchOutputMismatch => "branch_output_mismatch",
            CompileErrorCode::ArrayTargetNotTask => "array_target_not_task",
            CompileErrorCode::InvalidSuccessRatio => "invalid_success_ratio",
            CompileErrorCode::MissingOutputBinding => "missing_output_binding",
            CompileErrorCode::UnknownOutputBinding => "unknown_output_binding",
            CompileErrorCode::DuplicateOutputBinding => "duplicate_output_binding",
            CompileErrorCode::OutputTypeMismatch => "output_type_mismatch",
            CompileErrorCode::InvalidMinSuccesses => "invalid_min_successes",
            CompileErrorCode::InvalidGate => "invalid_gate",
        }
    }
}

impl fmt::Display for CompileErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether [`CompileError::input`] names an input of the node or an output (of the graph or of a sub-workflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VarSide {
    /// An input of the node.
    #[default]
    Input,
    /// An output of the graph, or of the sub-workflow the node runs.
    Output,
}

/// One problem with a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CompileError {
    /// Which check failed.
    pub code: CompileErrorCode,
    /// The node concerned, as a path through sub-workflows, branch arms and array nodes (`sw1/inner`); empty for the
    /// graph itself (its outputs, its interface, or a spec-wide rule).
    pub node_id: String,
    /// The input (or, per `side`, output) concerned; empty when the error is about the node as a whole.
    pub input: String,
    /// Whether `input` names an input or an output.
    pub side: VarSide,
    /// What is wrong, without the node and input, such as `expected integer, got string`.
    pub message: String,
}

impl CompileError {
    /// An error about `node_id` as a whole.
    pub fn node(code: CompileErrorCode, node_id: impl Into<String>, message: impl Into<String>) -> Self {
        CompileError {
            code,
            node_id: node_id.into(),
            input: String::new(),
            side: VarSide::Input,
            message: message.into(),
        }
    }

    /// An error about one input of `node_id`.
    pub fn input(
        code: CompileErrorCode,
        node_id: impl Into<String>,
        input: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        CompileError {
            input: input.into(),
            ..CompileError::node(code, node_id, message)
        }
    }

    /// An error about one output of the graph (or sub-workflow) `node_id`.
    pub fn output(
        code: CompileErrorCode,
        node_id: impl Into<String>,
        output: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        CompileError {
            side: VarSide::Output,
            ..CompileError::input(code, node_id, output, message)
        }
    }
}

impl fmt::Display for CompileError {
    /// `node "dn3" input "index": expected integer, got string`; the node and input are left out when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut located = false;
        if !self.node_id.is_empty() {
            write!(f, "node {}", crate::names::quote(&self.node_id))?;
            located = true;
        }
        if !self.input.is_empty() {
            if located {
                f.write_str(" ")?;
            }
            let side = match self.side {
                VarSide::Input => "input",
                VarSide::Output => "output",
            };
            write!(f, "{side} {}", crate::names::quote(&self.input))?;
            located = true;
        }
        if located {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a spec; never empty when returned by the compiler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CompileErrors(pub Vec<CompileError>);

impl CompileErrors {
    /// The errors with the given code, for callers that react to one kind of problem.
    pub fn with_code(&self, code: CompileErrorCode) -> impl Iterator<Item = &CompileError> {
        self.0.iter().filter(move |error| error.code == code)
    }
}

impl fmt::Display for CompileErrors {
    /// All messages, joined by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_node_and_the_variable() {
        let error = CompileError::input(
            CompileErrorCode::TypeMismatch,
            "dn3",
            "index",
            "expected integer, got string",
        );
        assert_eq!(
            error.to_string(),
            "node \"dn3\" input \"index\": expected integer, got string"
        );
        let error = CompileError::output(CompileErrorCode::MissingOutputBinding, "", "out", "not bound");
        assert_eq!(error.to_string(), "output \"out\": not bound");
        let error = CompileError::node(CompileErrorCode::NoNodes, "", "the workflow has no nodes");
        assert_eq!(error.to_string(), "the workflow has no nodes");
        let errors = CompileErrors(vec![
            CompileError::node(CompileErrorCode::Cycle, "a", "x"),
            CompileError::node(CompileErrorCode::Cycle, "b", "y"),
        ]);
        assert_eq!(errors.to_string(), "node \"a\": x; node \"b\": y");
        assert_eq!(CompileErrorCode::UnknownLaunchPlan.as_str(), "unknown_launch_plan");
    }

    #[test]
    fn codes_are_distinct_snake_case() {
        let names: std::collections::HashSet<&str> = CompileErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), CompileErrorCode::ALL.len());
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }
}
