//! The error of resolving, conforming or evaluating a value, with enough context to say which value and where.

use std::fmt;

use crate::model::Promise;

/// What the `var` of a [`ResolveError`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VarKind {
    /// An input of a node.
    #[default]
    Input,
    /// An output of a workflow or dynamic parent.
    Output,
    /// A variable named by a branch condition's operand.
    Variable,
}

impl fmt::Display for VarKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VarKind::Input => "input",
            VarKind::Output => "output",
            VarKind::Variable => "variable",
        })
    }
}

/// Why a value could not be resolved. Displays as, for example,
/// `input "index": node "dn3" output "o0": key "x" not found`; parts that are empty are left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ResolveError {
    /// What `var` names.
    pub var_kind: VarKind,
    /// The input, output or branch variable being resolved; empty when the error is not about one.
    pub var: String,
    /// The node whose output was referenced; empty for the enclosing workflow's inputs or when nothing was.
    pub node_id: String,
    /// The referenced output of `node_id` (a workflow input's name when `node_id` is empty); empty when no value
    /// was referenced.
    pub output: String,
    /// What went wrong, without the context above.
    pub message: String,
}

impl ResolveError {
    /// An error with a message and no context yet.
    pub fn new(message: impl Into<String>) -> Self {
        ResolveError {
            var_kind: VarKind::default(),
            var: String::new(),
            node_id: String::new(),
            output: String::new(),
            message: message.into(),
        }
    }

    /// Names the input, output or variable being resolved, unless one is already named.
    pub fn for_var(mut self, kind: VarKind, var: &str) -> Self {
        if self.var.is_empty() {
            self.var_kind = kind;
            self.var = var.to_owned();
        }
        self
    }

    /// Names the referenced value, unless one is already named (the innermost reference is the useful one).
    pub fn at_promise(mut self, promise: &Promise) -> Self {
        if self.output.is_empty() {
            self.node_id = promise.node_id.clone();
            self.output = promise.output.clone();
        }
        self
    }

    /// Prefixes the message, as in `default: expected integer, got string`.
    pub fn with_message_prefix(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if !self.var.is_empty() {
            out.push_str(&format!("{} {:?}: ", self.var_kind, self.var));
        }
        if !self.output.is_empty() {
            if self.node_id.is_empty() {
                out.push_str(&format!("workflow input {:?}: ", self.output));
            } else {
                out.push_str(&format!("node {:?} output {:?}: ", self.node_id, self.output));
            }
        }
        out.push_str(&self.message);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_every_part_present() {
        let error = ResolveError::new(r#"key "x" not found"#)
            .at_promise(&Promise::new("dn3", "o0"))
            .for_var(VarKind::Input, "index");
        assert_eq!(
            error.to_string(),
            r#"input "index": node "dn3" output "o0": key "x" not found"#
        );
    }

    #[test]
    fn display_of_workflow_input_reference_and_bare_message() {
        let error = ResolveError::new("value not available")
            .at_promise(&Promise::workflow_input("n"))
            .for_var(VarKind::Output, "o");
        assert_eq!(
            error.to_string(),
            r#"output "o": workflow input "n": value not available"#
        );
        assert_eq!(ResolveError::new("boom").to_string(), "boom");
    }

    #[test]
    fn innermost_context_wins() {
        let error = ResolveError::new("m")
            .at_promise(&Promise::new("a", "x"))
            .at_promise(&Promise::new("b", "y"))
            .for_var(VarKind::Input, "i")
            .for_var(VarKind::Output, "j");
        assert_eq!(error.to_string(), r#"input "i": node "a" output "x": m"#);
    }
}
