//! [`TaskContext`]: what a handler knows about the attempt it runs.

use std::time::SystemTime;

use gantry_core::model::{TaskPlugin, TaskTemplate};
use tokio_util::sync::CancellationToken;

use crate::dynamic::DynamicSpec;
use crate::spec_limits::SpecLimits;

/// Names one attempt of one node of one execution.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptId {
    /// The execution's id.
    pub execution_id: String,
    /// The scoped node id (`gen/0/dn3`).
    pub node_id: String,
    /// Counts every attempt of the node from 0, user and system retries alike.
    pub attempt: u32,
}

impl std::fmt::Display for AttemptId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}#{}", self.execution_id, self.node_id, self.attempt)
    }
}

/// The attempt a handler runs, and a way to notice that it should stop.
///
/// The worker drops a handler's future when the server cancels the attempt (its execution was aborted, or it timed
/// out) or the lease is lost; a handler that spawned work of its own can watch [`TaskContext::cancelled`] to stop
/// it too.
#[derive(Debug, Clone)]
pub struct TaskContext {
    attempt: AttemptId,
    worker_id: String,
    task: TaskTemplate,
    deadline: Option<SystemTime>,
    cancellation: CancellationToken,
    spec_limits: SpecLimits,
}

impl TaskContext {
    /// A context, for the worker and for tests of handlers.
    pub fn new(attempt: AttemptId, worker_id: impl Into<String>, task: TaskTemplate) -> Self {
        TaskContext {
            attempt,
            worker_id: worker_id.into(),
            task,
            deadline: None,
            cancellation: CancellationToken::new(),
            spec_limits: SpecLimits::default(),
        }
    }

    /// The same context, holding dynamic specs to `limits` (for tests of handlers; the worker sets the server's).
    #[must_use]
    pub fn with_spec_limits(mut self, limits: SpecLimits) -> Self {
        self.spec_limits = limits;
        self
    }

    pub(crate) fn with_deadline(mut self, deadline: Option<SystemTime>) -> Self {
        self.deadline = deadline;
        self
    }

    pub(crate) fn with_cancellation(mut self, cancellation: CancellationToken) -> Self {
        self.cancellation = cancellation;
        self
    }

    /// The attempt being run.
    pub fn attempt(&self) -> &AttemptId {
        &self.attempt
    }

    /// The execution the attempt belongs to.
    pub fn execution_id(&self) -> &str {
        &self.attempt.execution_id
    }

    /// The scoped id of the node being run.
    pub fn node_id(&self) -> &str {
        &self.attempt.node_id
    }

    /// The id of the worker running it.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The task template, with the node's overrides applied.
    pub fn task(&self) -> &TaskTemplate {
        &self.task
    }

    /// The template's plugin payload, exactly as registered (or embedded in the spec that created the node); `None`
    /// for tasks without one.
    pub fn plugin(&self) -> Option<&TaskPlugin> {
        self.task.plugin.as_ref()
    }

    /// When the server times the attempt out, if the task has a timeout.
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline
    }

    /// What the server accepts in a dynamic spec, as it told the worker.
    pub fn spec_limits(&self) -> SpecLimits {
        self.spec_limits
    }

    /// An empty dynamic spec held to the server's limits: what a dynamic task's handler builds and returns.
    pub fn dynamic_spec(&self) -> DynamicSpec {
        DynamicSpec::with_limits(self.spec_limits)
    }

    /// Whether the attempt was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancellation.is_cancelled()
    }

    /// Completes when the attempt is cancelled.
    pub async fn cancelled(&self) {
        self.cancellation.cancelled().await;
    }
}
