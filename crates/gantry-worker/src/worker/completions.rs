//! The completion flusher: gathers finished attempts' results and sends them in one `CompleteAttempts` call.
//!
//! A batch is sent when it is full, when the poll loop is about to wait with nothing running (no other result can
//! join it), or at the latest `completion_linger` (5 ms) after its first result arrived. A batch the server does
//! not acknowledge (it, or its database, is unavailable) is sent again, with backoff, until it is; only shutdown's
//! grace ends that. Attempts stay heartbeated until their result is acknowledged, so an outage while sending does
//! not cost the leases.

use std::sync::Arc;

use gantry_proto::v1 as pb;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::attempt::PendingCompletion;
use super::backoff::Backoff;
use super::run::Shared;
use crate::error::TaskError;

/// How long one `CompleteAttempts` call may take before it is sent again: long enough for the largest spec the
/// server accepts to be compiled and stored (a resent completion the server did record is answered as such).
const COMPLETION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) async fn flush_loop(
    shared: Arc<Shared>,
    mut results: mpsc::UnboundedReceiver<PendingCompletion>,
    flush_now: Arc<Notify>,
    give_up: CancellationToken,
) {
    let linger = shared.config.completion_linger;
    let max_batch = shared.config.max_completion_batch;
    let mut batch: Vec<PendingCompletion> = Vec::new();
    loop {
        if batch.is_empty() {
            match results.recv().await {
                Some(first) => batch.push(first),
                None => return,
            }
            let send_by = Instant::now() + linger;
            loop {
                while batch.len() < max_batch {
                    match results.try_recv() {
                        Ok(pending) => batch.push(pending),
                        Err(_) => break,
                    }
                }
                if batch.len() >= max_batch {
                    break;
                }
                tokio::select! {
                    biased;
                    () = flush_now.notified() => break,
                    pending = results.recv() => match pending {
                        Some(pending) => batch.push(pending),
                        None => break,
                    },
                    () = tokio::time::sleep_until(send_by) => break,
                }
            }
        }
        batch = send(&shared, std::mem::take(&mut batch), &give_up).await;
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
        match shared.client().complete_attempts(call).await {
            Ok(response) => break response.into_inner(),
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                error!(error = %status.message(), count = batch.len(), "server refused the completion batch, dropped");
                batch.iter().for_each(|pending| shared.forget(&pending.id));
                return Vec::new();
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
    let mut retry = Vec::new();
    let mut results = response.results.into_iter();
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
            (pb::CompletionStatus::Rejected, Some((code, what))) if !is_error_report(&pending.completion) => {
                warn!(attempt = %pending.id, error = %result.message, "{what}; reporting an error instead");
                let error = TaskError::user(format!("{what}: {}", result.message)).with_code(code);
                let Some(attempt) = pending.completion.attempt.clone() else {
                    shared.forget(&pending.id);
                    continue;
                };
                retry.push(PendingCompletion::new(
                    pending.id,
                    attempt,
                    pending.completion.lease_id,
                    Err(error),
                ));
            }
            _ => {
                warn!(attempt = %pending.id, code = result.code, error = %result.message, "completion rejected");
                shared.forget(&pending.id);
            }
        }
    }
    retry
}

fn is_error_report(completion: &pb::Completion) -> bool {
    matches!(completion.result, Some(pb::completion::Result::Error(_)))
}
