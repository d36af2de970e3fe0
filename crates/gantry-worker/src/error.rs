//! Errors: [`TaskError`], what a handler returns when its task fails, and [`WorkerError`], what stops a worker.

use std::fmt;

use gantry_core::model::{ErrorKind, ExecutionError};

use crate::literal::LiteralError;

/// A task's failure, reported to the server as an `ExecutionError`. Its kind decides the retry budget: a user error
/// is retried only when marked [`recoverable`](TaskError::recoverable), under the task's user retries; a system
/// error is retried under the system retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    kind: ErrorKind,
    recoverable: bool,
    code: String,
    message: String,
}

impl TaskError {
    /// The task's own code or data failed; not retried unless marked [`recoverable`](TaskError::recoverable).
    pub fn user(message: impl Into<String>) -> Self {
        TaskError {
            kind: ErrorKind::User,
            recoverable: false,
            code: "user_error".to_owned(),
            message: message.into(),
        }
    }

    /// Something outside the task failed (a dependency, the machine); retried under the system budget.
    pub fn system(message: impl Into<String>) -> Self {
        TaskError {
            kind: ErrorKind::System,
            recoverable: true,
            code: "system_error".to_owned(),
            message: message.into(),
        }
    }

    /// Marks the error as one another attempt may not hit.
    #[must_use]
    pub fn recoverable(mut self) -> Self {
        self.recoverable = true;
        self
    }

    /// Marks the error as one no retry can fix.
    #[must_use]
    pub fn non_recoverable(mut self) -> Self {
        self.recoverable = false;
        self
    }

    /// Replaces the short machine-readable code (`user_error` or `system_error` by default).
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = code.into();
        self
    }

    /// Who is to blame.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether another attempt may succeed.
    pub fn is_recoverable(&self) -> bool {
        self.recoverable
    }

    /// The short machine-readable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error as the server records it.
    pub fn into_execution_error(self) -> ExecutionError {
        ExecutionError {
            kind: self.kind,
            recoverable: self.recoverable,
            code: self.code,
            message: self.message,
            node_id: String::new(),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error {}: {}", self.kind, self.code, self.message)
    }
}

impl std::error::Error for TaskError {}

/// An input that does not read as the asked type is the caller's data at fault: a non-recoverable user error.
impl From<LiteralError> for TaskError {
    fn from(error: LiteralError) -> Self {
        TaskError::user(error.to_string()).with_code("bad_input")
    }
}

/// What stops a worker or a registration.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The builder was given something unusable (an endpoint that is not a URI, zero concurrency, a task twice).
    #[error("invalid worker configuration: {0}")]
    Config(String),
    /// The server refused a request in a way retrying cannot fix.
    #[error("{rpc} failed: {status}")]
    Rpc {
        /// The RPC that failed.
        rpc: &'static str,
        /// The server's status, whose message says what was wrong.
        status: Box<tonic::Status>,
    },
    /// The connection to an `https://` endpoint failed at TLS: the server's certificate was refused, the server does
    /// not speak TLS there, or it refused this worker's certificate. Never retried, and never plaintext instead.
    #[error("TLS with {endpoint} failed: {cause}")]
    Tls {
        /// The server's URL.
        endpoint: String,
        /// What TLS said, with a hint.
        cause: String,
    },
}

impl WorkerError {
    /// The TLS failure behind a failed call, if it was one (see [`crate::tls_refusal`]).
    pub(crate) async fn tls(config: &crate::worker::WorkerConfig, status: &tonic::Status) -> Option<Self> {
        let cause = crate::tls::tls_refusal(&config.endpoint, &config.tls, status).await?;
        Some(WorkerError::Tls {
            endpoint: config.endpoint.clone(),
            cause,
        })
    }

    pub(crate) fn rpc(rpc: &'static str, status: tonic::Status) -> Self {
        WorkerError::Rpc {
            rpc,
            status: Box::new(status),
        }
    }
}
