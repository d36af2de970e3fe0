//! Errors of executions, nodes and attempts, as users see them.

use std::fmt;

/// Who is to blame, which decides the retry budget used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The task's own code or data failed (or a spec did not compile).
    User,
    /// The platform failed: a lost worker, an expired lease, an unreachable store.
    System,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::User => "user",
            ErrorKind::System => "system",
        })
    }
}

/// A failure as recorded on an attempt, node or execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionError {
    pub kind: ErrorKind,
    /// Whether another attempt may succeed. Non-recoverable errors are never retried.
    pub recoverable: bool,
    /// A short machine-readable code, such as `compile_error` or `lease_expired`.
    pub code: String,
    pub message: String,
    /// The node the error concerns (scoped id), empty for an execution-level error.
    pub node_id: String,
}

impl ExecutionError {
    pub fn user(code: impl Into<String>, message: impl Into<String>) -> Self {
        ExecutionError {
            kind: ErrorKind::User,
            recoverable: false,
            code: code.into(),
            message: message.into(),
            node_id: String::new(),
        }
    }

    pub fn system(code: impl Into<String>, message: impl Into<String>) -> Self {
        ExecutionError {
            kind: ErrorKind::System,
            recoverable: true,
            code: code.into(),
            message: message.into(),
            node_id: String::new(),
        }
    }

    pub fn recoverable(mut self, recoverable: bool) -> Self {
        self.recoverable = recoverable;
        self
    }

    pub fn at_node(mut self, node_id: impl Into<String>) -> Self {
        self.node_id = node_id.into();
        self
    }
}

impl fmt::Display for ExecutionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error {}", self.kind, self.code)?;
        if !self.node_id.is_empty() {
            write!(f, " at node {:?}", self.node_id)?;
        }
        write!(f, ": {}", self.message)
    }
}
