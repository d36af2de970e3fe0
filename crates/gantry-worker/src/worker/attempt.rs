//! Running one attempt: decode the assignment, run the handler in its own task (so that a panic is caught), stop it
//! when cancelled, and queue its result for the completion flusher.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gantry_core::model::{LiteralMap, TaskTemplate};
use gantry_proto::v1 as pb;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, debug, warn};

use super::RegisteredTask;
use super::run::{RunningAttempt, Shared};
use crate::context::{AttemptId, TaskContext};
use crate::error::TaskError;
use crate::io::{Inputs, TaskOutput};
use crate::references::References;

/// A result waiting to be sent, with the attempt it belongs to.
#[derive(Debug)]
pub(crate) struct PendingCompletion {
    pub(crate) id: AttemptId,
    pub(crate) completion: pb::Completion,
}

impl PendingCompletion {
    /// Whether this reports a dynamic spec (sent with `CompleteAttempts`, never in a poll).
    pub(crate) fn is_spec(&self) -> bool {
        matches!(self.completion.result, Some(pb::completion::Result::DynamicSpec(_)))
    }

    pub(crate) fn new(
        id: AttemptId,
        attempt: pb::AttemptRef,
        lease_id: String,
        result: Result<TaskOutput, TaskError>,
    ) -> Self {
        use pb::completion::Result as Outcome;
        let outcome = match result {
            Ok(TaskOutput::Outputs(outputs)) => Outcome::Outputs(outputs.into()),
            // Outputs or embedded templates may have taken the spec over a limit after its last node was added.
            Ok(TaskOutput::Dynamic(spec)) => match spec.check() {
                Ok(()) => Outcome::DynamicSpec(spec.into()),
                Err(error) => Outcome::Error(error.into_execution_error().into()),
            },
            Err(error) => Outcome::Error(error.into_execution_error().into()),
        };
        PendingCompletion {
            id,
            completion: pb::Completion {
                attempt: Some(attempt),
                lease_id,
                result: Some(outcome),
            },
        }
    }
}

/// What to run: the handler and its arguments (inputs as received, references unread), or the error to report
/// instead.
enum Work {
    Run {
        handler: super::Handler,
        ctx: TaskContext,
        inputs: pb::LiteralMap,
    },
    Fail(TaskError),
}

/// An assignment, decoded and tracked for heartbeats.
pub(crate) struct AttemptJob {
    id: AttemptId,
    attempt: pb::AttemptRef,
    lease_id: String,
    cancel: CancellationToken,
    deadline: Option<SystemTime>,
    work: Work,
    /// The attempt's span: its fields (execution, node, attempt, task, outcome) on every event it logs, and, with the
    /// `otel` feature, a child of the trace context the assignment carried.
    span: Span,
}

/// The span of one attempt, a child of the assignment's trace context when spans are exported.
fn attempt_span(id: &AttemptId, traceparent: &str, tracestate: &str) -> Span {
    let span = tracing::info_span!(
        "attempt",
        otel.kind = "consumer",
        execution_id = %id.execution_id,
        node_id = %id.node_id,
        attempt = id.attempt,
        task = tracing::field::Empty,
        outcome = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    #[cfg(feature = "otel")]
    gantry_telemetry::adopt_headers(&span, traceparent, tracestate);
    #[cfg(not(feature = "otel"))]
    let _ = (traceparent, tracestate);
    span
}

/// What an attempt's result says, for its span.
fn outcome(result: &Option<Result<TaskOutput, TaskError>>) -> &'static str {
    match result {
        Some(Ok(TaskOutput::Outputs(_))) => "succeeded",
        Some(Ok(TaskOutput::Dynamic(_))) => "dynamic",
        Some(Err(_)) => "failed",
        None => "stopped",
    }
}

impl AttemptJob {
    /// Decodes an assignment and starts heartbeating it. `None` for an assignment without an attempt reference,
    /// which cannot even be reported.
    pub(crate) fn prepare(
        shared: &Shared,
        handlers: &BTreeMap<String, RegisteredTask>,
        assignment: pb::AttemptAssignment,
    ) -> Option<AttemptJob> {
        let Some(attempt) = assignment.attempt else {
            warn!(lease_id = %assignment.lease_id, "assignment without an attempt, ignored");
            return None;
        };
        let id = AttemptId {
            execution_id: attempt.execution_id.clone(),
            node_id: attempt.node_id.clone(),
            attempt: attempt.attempt,
        };
        shared.observe_lease(assignment.lease_expires_at.as_ref());
        let span = attempt_span(&id, &assignment.traceparent, &assignment.tracestate);
        let cancel = CancellationToken::new();
        shared.track(
            id.clone(),
            RunningAttempt {
                attempt: attempt.clone(),
                lease_id: assignment.lease_id.clone(),
                cancel: cancel.clone(),
            },
        );
        let deadline = assignment.deadline.as_ref().and_then(system_time);
        let task: Result<TaskTemplate, _> = gantry_proto::convert::required("task", assignment.task);
        if let Ok(task) = &task {
            span.record("task", task.id.name.as_str());
        }
        let inputs = assignment.inputs.unwrap_or_default();
        let work = match task {
            Err(error) => Work::Fail(bad_assignment(error)),
            Ok(task) => match handlers.get(&task.id.name) {
                None => Work::Fail(
                    TaskError::system(format!(
                        "worker {:?} has no handler for task {}",
                        shared.config.worker_id, task.id
                    ))
                    .with_code("unknown_task"),
                ),
                Some(registered) => Work::Run {
                    handler: registered.handler.clone(),
                    ctx: TaskContext::new(id.clone(), shared.config.worker_id.clone(), task)
                        .with_deadline(deadline)
                        .with_cancellation(cancel.clone())
                        .with_spec_limits(shared.spec_limits()),
                    inputs,
                },
            },
        };
        Some(AttemptJob {
            id,
            attempt,
            lease_id: assignment.lease_id,
            cancel,
            deadline,
            work,
            span,
        })
    }
}

/// Runs one attempt to its end and queues its result. A prefetched attempt first waits for one of `slots`; the slot
/// and `held` (the attempt's place among those the worker may hold) are freed as soon as the result is queued.
pub(crate) async fn run_attempt(
    shared: Arc<Shared>,
    job: AttemptJob,
    slots: Arc<Semaphore>,
    abort_running: CancellationToken,
    held: OwnedSemaphorePermit,
) {
    let span = job.span.clone();
    run_in_span(shared, job, slots, abort_running, held)
        .instrument(span)
        .await;
}

async fn run_in_span(
    shared: Arc<Shared>,
    job: AttemptJob,
    slots: Arc<Semaphore>,
    abort_running: CancellationToken,
    held: OwnedSemaphorePermit,
) {
    let slot = tokio::select! {
        biased;
        slot = slots.acquire_owned() => slot.ok(),
        () = job.cancel.cancelled() => None,
        () = abort_running.cancelled() => None,
    };
    let result = match (&slot, job.work) {
        // Cancelled, or never started before shutdown's grace ran out: the server gets the attempt back.
        (None, _) if job.cancel.is_cancelled() => None,
        (None, _) => Some(Err(TaskError::system(
            "the worker shut down before the attempt started",
        )
        .with_code("worker_shutdown"))),
        (Some(_), Work::Fail(error)) => Some(Err(error)),
        (Some(_), Work::Run { handler, ctx, inputs }) => {
            debug!(attempt = %job.id, "attempt started");
            // Reading the inputs' references is part of the attempt: heartbeated, cancellable, under its deadline.
            let references = shared.references.clone();
            let started = std::time::Instant::now();
            let mut handle = tokio::spawn(
                async move {
                    let inputs = read_inputs(&references, inputs).await?;
                    handler(ctx, inputs).await
                }
                .instrument(Span::current()),
            );
            let until_deadline = job
                .deadline
                .map(|deadline| deadline.duration_since(SystemTime::now()).unwrap_or_default());
            let deadline = async {
                match until_deadline {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                joined = &mut handle => match joined {
                    Ok(result) => {
                        shared.prefetch.observe_run(started.elapsed());
                        Some(result)
                    }
                    Err(error) if error.is_panic() => Some(Err(panic_error(error.into_panic()))),
                    Err(_) => None,
                },
                () = job.cancel.cancelled() => {
                    handle.abort();
                    debug!(attempt = %job.id, "attempt cancelled by the server");
                    None
                }
                () = deadline => {
                    // The server times the attempt out by itself; a completion would be rejected.
                    handle.abort();
                    warn!(attempt = %job.id, "attempt passed its deadline, stopped");
                    None
                }
                () = abort_running.cancelled() => {
                    handle.abort();
                    Some(Err(TaskError::system("the worker shut down before the attempt finished")
                        .with_code("worker_shutdown")))
                }
            }
        }
    };
    job.span.record("outcome", outcome(&result));
    if let Some(Err(_)) = &result {
        job.span.record("otel.status_code", "ERROR");
    }
    match result {
        Some(result) if !job.cancel.is_cancelled() => {
            if let Err(error) = &result {
                debug!(attempt = %job.id, error = %error, "attempt failed");
            }
            shared
                .outbox
                .push(PendingCompletion::new(job.id, job.attempt, job.lease_id, result));
        }
        _ => shared.forget(&job.id),
    }
    drop(slot);
    drop(held);
}

/// The inputs with their references read, for the handler. A reference that cannot be read is a system error
/// (retried under the system budget); inputs that do not decode cannot be fixed by a retry.
async fn read_inputs(references: &References, inputs: pb::LiteralMap) -> Result<Inputs, TaskError> {
    let inputs = references.resolve_map(inputs).await.map_err(|error| {
        TaskError::system(format!("the worker could not read its inputs: {error}")).with_code("inputs_unavailable")
    })?;
    LiteralMap::try_from(inputs).map(Inputs::new).map_err(bad_assignment)
}

fn bad_assignment(error: impl std::fmt::Display) -> TaskError {
    TaskError::system(format!("the worker could not decode the assignment: {error}"))
        .non_recoverable()
        .with_code("bad_assignment")
}

/// A panic is the task's own fault: a non-recoverable user error carrying the panic message.
fn panic_error(payload: Box<dyn Any + Send>) -> TaskError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
    TaskError::user(format!("task panicked: {message}")).with_code("panic")
}

fn system_time(timestamp: &prost_types::Timestamp) -> Option<SystemTime> {
    let seconds = u64::try_from(timestamp.seconds).ok()?;
    let nanos = u32::try_from(timestamp.nanos).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(seconds, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_payloads_become_user_errors_with_the_message() {
        let error = panic_error(Box::new("boom"));
        assert_eq!(error.code(), "panic");
        assert_eq!(error.message(), "task panicked: boom");
        assert!(!error.is_recoverable());
        let error = panic_error(Box::new(String::from("index out of bounds")));
        assert_eq!(error.message(), "task panicked: index out of bounds");
    }
}
