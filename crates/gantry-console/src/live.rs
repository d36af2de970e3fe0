//! An execution page's live updates: `WatchExecution` (with a snapshot) read on the server and sent to the browser
//! as server-sent events, at most four times a second: `counters` (the execution's phase and node counts, JSON),
//! `nodes` (the phases changed since the last event, by node id, JSON) and, once the execution is final, `done`
//! (the browser then closes the stream; a stream that ends otherwise is reopened by the browser).
//! The browser's script updates what is on screen; closing the page drops the watch and frees its slot.

use std::convert::Infallible;
use std::time::Duration;

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

/// `GET /executions/{id}/events`: the live view of one execution.
pub async fn events(
    api: Api,
    Path(id): Path<String>,
) -> Result<Sse<KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>>, ConsoleError> {
    let request = pb::WatchExecutionRequest {
        execution_id: id,
        include_snapshot: true,
        after_sequence: 0,
    };
    let stream = api.admin().watch_execution(api.request(request)).await?.into_inner();
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(forward(stream, sender));
    Ok(Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default()))
}

/// Reads the watch into a tally and sends what changed every tick, until the execution is final, the stream ends
/// or the browser goes away (noticed at once, even while nothing changes).
async fn forward(
    mut stream: tonic::Streaming<pb::WatchExecutionResponse>,
    sender: mpsc::Sender<Result<Event, Infallible>>,
) {
    let mut tally = Tally::default();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = stream.message() => match message {
                Ok(Some(response)) => {
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
            }
            // The browser went away while nothing changed: drop the watch and free its slot now.
            _ = sender.closed() => return,
        }
    }
    // A watch that ended before the execution did (the server stopping, a lost slot) just ends: the browser's
    // EventSource reconnects by itself and gets a fresh snapshot.
    if send(&sender, &mut tally).await && tally.finished() {
        let phase = tally.execution_phase().unwrap_or_default();
        let _ = sender.send(Ok(Event::default().event("done").data(phase))).await;
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
