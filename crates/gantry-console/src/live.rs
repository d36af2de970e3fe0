//! An execution page's live updates: `WatchExecution` (with a snapshot) read on the server and sent to the browser
//! as server-sent events, at most four times a second: `counters` (the execution's phase and node counts, JSON),
//! `nodes` (the phases changed since the last event, by node id, JSON) and, once the execution is final, `done`
//! (the browser then closes the stream; a stream that ends otherwise is reopened by the browser).
//! The browser's script updates what is on screen; closing the page drops the watch and frees its slot.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use gantry_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::ConsoleError;
use crate::grpc::Api;
use crate::tally::Tally;

/// How often changes are sent at most: a fan-out's thousands of changes a second become a few events.
const TICK: Duration = Duration::from_millis(250);

/// How soon a watch that fell behind is opened again (with a fresh snapshot), at the earliest after the last one: a
/// snapshot of a 100,000-child execution reads every node, so a page watching one does so at most twice a minute.
const RESNAPSHOT_AFTER: Duration = Duration::from_secs(30);

/// `GET /executions/{id}/events`: the live view of one execution.
pub async fn events(
    api: Api,
    Path(id): Path<String>,
) -> Result<Sse<KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>>, ConsoleError> {
    let stream = watch(&api, &id).await?;
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(forward(api, id, stream, sender));
    Ok(Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default()))
}

/// Watches the execution, starting with a snapshot of every node's phase.
async fn watch(api: &Api, id: &str) -> Result<tonic::Streaming<pb::WatchExecutionResponse>, tonic::Status> {
    let request = pb::WatchExecutionRequest {
        execution_id: id.to_owned(),
        include_snapshot: true,
        after_sequence: 0,
    };
    Ok(api.admin().watch_execution(api.request(request)).await?.into_inner())
}

/// Reads the watch into a tally and sends what changed every tick, until the execution is final, the stream ends
/// or the browser goes away (noticed at once, even while nothing changes). A watch that falls behind a burst of
/// changes (the server then sends the execution's phase with `sequence` 0 and drops the node changes it missed) is
/// opened again with a snapshot, at most every `RESNAPSHOT_AFTER`, so that the counters and the phases on screen
/// catch up; only the nodes whose phase differs from what the browser was told are sent on.
async fn forward(
    api: Api,
    id: String,
    mut stream: tonic::Streaming<pb::WatchExecutionResponse>,
    sender: mpsc::Sender<Result<Event, Infallible>>,
) {
    let mut tally = Tally::default();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_snapshot = true;
    let mut behind = false;
    let mut snapshot_at = Instant::now();
    loop {
        tokio::select! {
            message = stream.message() => match message {
                Ok(Some(response)) => {
                    behind |= !in_snapshot && response.changes.iter().any(fell_behind);
                    in_snapshot &= !response.snapshot_complete;
                    for change in response.changes {
                        tally.apply(change);
                    }
                }
                Ok(None) => break,
                Err(status) => {
                    tracing::debug!(%status, "console watch ended");
                    break;
                }
            },
            _ = tick.tick() => {
                if tally.dirty() && !send(&sender, &mut tally).await {
                    return;
                }
                if behind && snapshot_at.elapsed() >= RESNAPSHOT_AFTER {
                    // The old watch's slot is freed before the new one takes one.
                    drop(stream);
                    stream = match watch(&api, &id).await {
                        Ok(fresh) => fresh,
                        Err(status) => {
                            tracing::debug!(%status, "console watch not reopened");
                            break;
                        }
                    };
                    (in_snapshot, behind, snapshot_at) = (true, false, Instant::now());
                }
            }
            // The browser went away while nothing changed: drop the watch and free its slot now.
            _ = sender.closed() => return,
        }
    }
    if (behind || tally.unfinished_nodes()) && tally.finished() {
        // The execution ended while the watch was behind, or with nodes the tally still holds unfinished (changes
        // missed in its last moments): one last snapshot, of its final phases.
        if let Ok(mut last) = watch(&api, &id).await {
            while let Ok(Some(response)) = last.message().await {
                response.changes.into_iter().for_each(|change| tally.apply(change));
            }
        }
    }
    // A watch that ended before the execution did (the server stopping, a lost slot) just ends: the browser's
    // EventSource reconnects by itself and gets a fresh snapshot.
    if send(&sender, &mut tally).await && tally.finished() {
        let phase = tally.execution_phase().unwrap_or_default();
        let _ = sender.send(Ok(Event::default().event("done").data(phase))).await;
    }
}

/// Whether a change after the snapshot says that the watch fell behind: the execution's phase, not yet final, with
/// `sequence` 0 (see `WatchExecution`). A final phase with `sequence` 0 also ends a watch whose execution finished
/// as it started, so it proves nothing: the tally's unfinished nodes tell then.
fn fell_behind(change: &pb::PhaseChange) -> bool {
    match &change.change {
        Some(pb::phase_change::Change::Execution(execution)) => {
            change.sequence == 0 && !crate::format::execution_is_terminal(execution.phase)
        }
        _ => false,
    }
}

/// Sends the counters and the changed nodes; false once the browser is gone.
async fn send(sender: &mpsc::Sender<Result<Event, Infallible>>, tally: &mut Tally) -> bool {
    let mut counters = serde_json::to_value(tally.counters()).unwrap_or_default();
    if let (Some(object), Some(phase)) = (counters.as_object_mut(), tally.execution_phase()) {
        object.insert("phase".to_owned(), serde_json::Value::String(phase));
    }
    let nodes = tally.take();
    let counters = Event::default().event("counters").data(counters.to_string());
    if sender.send(Ok(counters)).await.is_err() {
        return false;
    }
    if nodes.is_empty() {
        return true;
    }
    let nodes = serde_json::to_string(&nodes).unwrap_or_default();
    sender
        .send(Ok(Event::default().event("nodes").data(nodes)))
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(phase: pb::ExecutionPhase, sequence: u64) -> pb::PhaseChange {
        pb::PhaseChange {
            sequence,
            change: Some(pb::phase_change::Change::Execution(pb::ExecutionPhaseChange {
                phase: phase as i32,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn only_an_unfinished_executions_phase_without_a_sequence_says_the_watch_fell_behind() {
        assert!(fell_behind(&execution(pb::ExecutionPhase::Running, 0)));
        assert!(!fell_behind(&execution(pb::ExecutionPhase::Running, 7)));
        assert!(!fell_behind(&execution(pb::ExecutionPhase::Succeeded, 0)));
        let node = pb::PhaseChange {
            change: Some(pb::phase_change::Change::Node(pb::NodePhaseChange::default())),
            ..Default::default()
        };
        assert!(!fell_behind(&node));
    }
}
