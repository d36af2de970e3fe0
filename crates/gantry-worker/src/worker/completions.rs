//! Reporting results. A finished attempt's result goes to the [`Outbox`]; the next poll carries it (results and
//! new work in one round trip, `PollTasksRequest.completions`), or, when no poll takes it soon, the flusher sends it
//! with `CompleteAttempts`: at once when nothing else is running and the poll out may be waiting for work, at the
//! latest `completion_linger` (5 ms) after it arrived otherwise. Dynamic specs always go with `CompleteAttempts`,
//! which the server decodes a node at a time. A batch holds at most 500 results (within the server's 1,000 per call)
//! and as many as fit in one message. A batch the server does not acknowledge (it, or its database, is unavailable)
//! is sent again, with backoff, until it is; only shutdown's grace ends that. Attempts stay heartbeated until their
//! result is acknowledged, so an outage while sending does not cost the leases.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use gantry_proto::v1 as pb;
use prost::Message;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, warn};

use super::MAX_COMPLETIONS;
use super::attempt::PendingCompletion;
use super::backoff::Backoff;
use super::run::{PollState, Shared};
use crate::error::TaskError;

/// Room left in a message beside the completions, for the request's other fields.
const MESSAGE_MARGIN: usize = 16 * 1024;
/// How long one `CompleteAttempts` call may take before it is sent again: long enough for the largest spec the
/// server accepts to be compiled and stored (a resent completion the server did record is answered as such).
const COMPLETION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Results waiting to be reported, shared by the poll loop and the flusher: whoever takes a result sends it.
#[derive(Debug)]
pub(crate) struct Outbox {
    batch: Mutex<Batch>,
    /// Wakes the flusher when a result arrives.
    arrived: Notify,
}

impl Outbox {
    pub(crate) fn new(max_count: usize, max_message_bytes: usize) -> Self {
        Outbox {
            batch: Mutex::new(Batch::new(
                max_count.min(MAX_COMPLETIONS),
                max_message_bytes.saturating_sub(MESSAGE_MARGIN),
            )),
            arrived: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Batch> {
        // Every operation on the batch leaves it consistent, so a panic while holding it poisons nothing.
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, pending: PendingCompletion) {
        self.lock().push(pending);
        self.arrived.notify_one();
    }

    /// Adds results: what a poll carried when the server did not record it, or error reports in place of refused ones.
    pub(crate) fn push_all(&self, pending: Vec<PendingCompletion>) {
        if pending.is_empty() {
            return;
        }
        let mut batch = self.lock();
        pending.into_iter().for_each(|p| batch.push(p));
        drop(batch);
        self.arrived.notify_one();
    }

    /// The results a poll may carry: the next batch of them, or nothing when a dynamic spec is among them (the
    /// flusher sends those).
    pub(crate) fn take_for_poll(&self) -> Vec<PendingCompletion> {
        let mut batch = self.lock();
        batch.refill();
        if batch.pending.iter().any(PendingCompletion::is_spec) {
            return Vec::new();
        }
        batch.take()
    }

    fn take(&self) -> Vec<PendingCompletion> {
        let mut batch = self.lock();
        batch.refill();
        batch.take()
    }

    fn holds_spec(&self) -> bool {
        let batch = self.lock();
        batch
            .pending
            .iter()
            .chain(&batch.waiting)
            .any(PendingCompletion::is_spec)
    }

    fn is_empty(&self) -> bool {
        let batch = self.lock();
        batch.pending.is_empty() && batch.waiting.is_empty()
    }
}

/// Sends what no poll takes in time, until `finish` is cancelled and the outbox is empty (or `give_up` is cancelled).
/// `attempts` tracks the attempts still running or waiting for a slot: while there are some, more results will come.
pub(crate) async fn flush_loop(
    shared: Arc<Shared>,
    attempts: TaskTracker,
    finish: CancellationToken,
    give_up: CancellationToken,
) {
    let linger = shared.config.completion_linger;
    let outbox = &shared.outbox;
    loop {
        if outbox.is_empty() {
            tokio::select! {
                () = outbox.arrived.notified() => {}
                () = finish.cancelled() => {
                    if outbox.is_empty() {
                        return;
                    }
                }
            }
            continue;
        }
        // Linger only when there is something to batch: other attempts still running, or a poll that will soon carry
        // the results. With nothing running and the poll out waiting for work, nothing would join them: send now. A
        // poll being gathered takes them itself.
        let state = shared.poll_state();
        let now = finish.is_cancelled() || outbox.holds_spec() || (attempts.is_empty() && state == PollState::Waiting);
        if !now {
            tokio::select! {
                () = tokio::time::sleep(linger) => {}
                () = finish.cancelled() => {}
            }
            if shared.poll_state() == PollState::Gathering && !finish.is_cancelled() && !outbox.holds_spec() {
                continue;
            }
        }
        let pending = outbox.take();
        if pending.is_empty() {
            continue;
        }
        let retry = send(&shared, pending, &give_up).await;
        outbox.push_all(retry);
    }
}

/// The results to send in one call: at most `max_count` of them, and no more bytes than fit in one message. Results
/// that do not fit wait, in order, for the next call; one alone is sent alone, whatever its size.
#[derive(Debug)]
struct Batch {
    pending: Vec<PendingCompletion>,
    bytes: usize,
    max_count: usize,
    max_bytes: usize,
    waiting: VecDeque<PendingCompletion>,
}

impl Batch {
    fn new(max_count: usize, max_bytes: usize) -> Self {
        Batch {
            pending: Vec::new(),
            bytes: 0,
            max_count: max_count.max(1),
            max_bytes,
            waiting: VecDeque::new(),
        }
    }

    /// Adds a result to this call, or to the ones waiting for the next.
    fn push(&mut self, pending: PendingCompletion) {
        if !self.waiting.is_empty() || !self.fits(&pending) {
            self.waiting.push_back(pending);
            return;
        }
        self.bytes = self.bytes.saturating_add(pending.completion.encoded_len());
        self.pending.push(pending);
    }

    fn fits(&self, pending: &PendingCompletion) -> bool {
        self.pending.is_empty()
            || (self.pending.len() < self.max_count
                && self.bytes.saturating_add(pending.completion.encoded_len()) <= self.max_bytes)
    }

    /// Starts a call with the results that waited for it.
    fn refill(&mut self) {
        while let Some(next) = self.waiting.front() {
            if !self.fits(next) {
                break;
            }
            if let Some(next) = self.waiting.pop_front() {
                self.bytes = self.bytes.saturating_add(next.completion.encoded_len());
                self.pending.push(next);
            }
        }
    }

    fn take(&mut self) -> Vec<PendingCompletion> {
        self.bytes = 0;
        std::mem::take(&mut self.pending)
    }
}

/// Sends one batch, retrying while the server is unavailable. Returns the completions to send next: error reports
/// replacing completions the server found malformed (the attempt keeps running until something valid arrives).
async fn send(shared: &Shared, batch: Vec<PendingCompletion>, give_up: &CancellationToken) -> Vec<PendingCompletion> {
    let request = pb::CompleteAttemptsRequest {
        worker_id: shared.config.worker_id.clone(),
        completions: batch.iter().map(|pending| pending.completion.clone()).collect(),
    };
    let mut backoff = Backoff::new(std::time::Duration::from_millis(50), std::time::Duration::from_secs(5));
    let response = loop {
        let mut call = tonic::Request::new(request.clone());
        // A call the server does not answer is given up and sent again, as a failed one is.
        call.set_timeout(COMPLETION_DEADLINE);
        let mut client = match batch.iter().any(PendingCompletion::is_spec) {
            true => shared.spec_client(),
            false => shared.client(),
        };
        match client.complete_attempts(call).await {
            Ok(response) => break response.into_inner(),
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                error!(error = %status.message(), count = batch.len(), "server refused the completion batch, dropped");
                batch.iter().for_each(|pending| shared.forget(&pending.id));
                return Vec::new();
            }
            // One result too large to send: report an error in its place.
            Err(status) if too_large(&status) && batch.len() == 1 => {
                return batch
                    .into_iter()
                    .filter_map(|pending| replace_with_error(shared, pending, "result_too_large", status.message()))
                    .collect();
            }
            // Several, in a call larger than the server takes (its message limit may be below ours): halve it.
            Err(status) if too_large(&status) => {
                warn!(error = %status.message(), count = batch.len(), "completion batch too large, splitting it");
                let mut first = batch;
                let second = first.split_off(first.len() / 2);
                let mut retry = Box::pin(send(shared, first, give_up)).await;
                retry.extend(Box::pin(send(shared, second, give_up)).await);
                return retry;
            }
            Err(status) => {
                let delay = backoff.next_delay();
                warn!(code = ?status.code(), error = %status.message(), count = batch.len(), retry_in = ?delay,
                    "sending completions failed");
                tokio::select! {
                    () = give_up.cancelled() => {
                        batch.iter().for_each(|pending| shared.forget(&pending.id));
                        return Vec::new();
                    }
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    };
    debug!(count = batch.len(), "completions sent");
    settle(shared, batch, response.results)
}

/// Acts on the server's answer for each completion sent: acknowledged ones stop being heartbeated, refused ones are
/// replaced by an error report (returned, to be sent next) or dropped.
pub(crate) fn settle(
    shared: &Shared,
    batch: Vec<PendingCompletion>,
    results: Vec<pb::CompletionResult>,
) -> Vec<PendingCompletion> {
    let mut retry = Vec::new();
    let mut results = results.into_iter();
    for pending in batch {
        let Some(result) = results.next() else {
            warn!(attempt = %pending.id, "server did not answer for a completion");
            shared.forget(&pending.id);
            continue;
        };
        let status = pb::CompletionStatus::try_from(result.status).unwrap_or(pb::CompletionStatus::Unspecified);
        // A malformed result, or one over a server limit, is refused and the attempt keeps running: report an error
        // in its place, so that the attempt ends now rather than when its lease runs out.
        let replacement = match tonic::Code::from_i32(result.code) {
            tonic::Code::InvalidArgument => Some(("bad_result", "the worker reported a malformed result")),
            tonic::Code::ResourceExhausted => Some(("result_too_large", "the result is over a server limit")),
            _ => None,
        };
        match (status, replacement) {
            (pb::CompletionStatus::Accepted, _) => shared.forget(&pending.id),
            (pb::CompletionStatus::Rejected, Some((code, what))) => {
                let message = format!("{what}: {}", result.message);
                retry.extend(replace_with_error(shared, pending, code, &message));
            }
            _ => {
                warn!(attempt = %pending.id, code = result.code, error = %result.message, "completion rejected");
                shared.forget(&pending.id);
            }
        }
    }
    retry
}

/// An error report in place of a result the server could not take; `None` (and the attempt forgotten) when the
/// refused completion was an error report already, which then has no better replacement.
fn replace_with_error(shared: &Shared, pending: PendingCompletion, code: &str, why: &str) -> Option<PendingCompletion> {
    let attempt = match pending.completion.attempt.clone() {
        Some(attempt) if !is_error_report(&pending.completion) => attempt,
        _ => {
            warn!(attempt = %pending.id, error = %why, "completion refused");
            shared.forget(&pending.id);
            return None;
        }
    };
    warn!(attempt = %pending.id, error = %why, "completion refused; reporting an error instead");
    let error = TaskError::user(why.to_owned()).with_code(code);
    Some(PendingCompletion::new(
        pending.id,
        attempt,
        pending.completion.lease_id,
        Err(error),
    ))
}

/// A call refused for its size, by the client's encoder (OUT_OF_RANGE) or by the server (RESOURCE_EXHAUSTED).
fn too_large(status: &tonic::Status) -> bool {
    matches!(status.code(), tonic::Code::OutOfRange | tonic::Code::ResourceExhausted)
}

fn is_error_report(completion: &pb::Completion) -> bool {
    matches!(completion.result, Some(pb::completion::Result::Error(_)))
}

#[cfg(test)]
mod tests {
    use gantry_core::model::{Literal, LiteralMap};

    use super::*;
    use crate::context::AttemptId;
    use crate::io::TaskOutput;

    fn pending(node: &str, bytes: usize) -> PendingCompletion {
        let id = AttemptId {
            execution_id: "e".into(),
            node_id: node.into(),
            attempt: 0,
        };
        let attempt = pb::AttemptRef {
            execution_id: "e".into(),
            node_id: node.into(),
            attempt: 0,
        };
        let outputs = LiteralMap::from([("out".to_owned(), Literal::String("x".repeat(bytes)))]);
        PendingCompletion::new(id, attempt, "lease".into(), Ok(TaskOutput::Outputs(outputs)))
    }

    fn nodes(pending: &[PendingCompletion]) -> Vec<&str> {
        pending.iter().map(|p| p.id.node_id.as_str()).collect()
    }

    #[test]
    fn a_call_holds_what_fits_and_the_rest_waits_in_order() {
        let mut batch = Batch::new(3, 1_000);
        batch.push(pending("a", 400));
        batch.push(pending("b", 400));
        assert!(batch.waiting.is_empty());
        batch.push(pending("c", 400));
        assert_eq!(batch.waiting.len(), 1, "c does not fit beside a and b");
        batch.push(pending("d", 10));
        assert_eq!(nodes(&batch.take()), ["a", "b"]);
        batch.refill();
        assert_eq!(nodes(&batch.take()), ["c", "d"], "what waited goes first, in order");
        batch.push(pending("huge", 5_000));
        assert_eq!(
            nodes(&batch.take()),
            ["huge"],
            "one alone is sent alone, whatever its size"
        );
        for node in ["1", "2", "3", "4"] {
            batch.push(pending(node, 1));
        }
        assert_eq!(nodes(&batch.take()), ["1", "2", "3"], "no more than the count");
        batch.refill();
        assert_eq!(nodes(&batch.take()), ["4"]);
    }
}
