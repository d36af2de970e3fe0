//! The watch stream: an optional snapshot of the execution's current state, then its live phase changes, batched,
//! until the execution is terminal.

use gantry_core::ids::NodeExecutionId;
use gantry_core::state::{AttemptPhase, ExecutionPhase, NodePhase};
use gantry_engine::{ChangeScope, Engine, ExecutionRecord, Page, PhaseChange, Watch};
use gantry_proto::v1 as pb;
use prost::Message;
use tokio::sync::broadcast::error::RecvError;
use tokio_stream::{Stream, StreamExt};
use tonic::Status;

use crate::fair_use::Slot;
use crate::records::{self, timestamp};
use crate::status::IntoStatus;

const BATCH: usize = 1_000;

type Item = Result<pb::WatchExecutionResponse, Status>;

/// The stream for one watcher. Subscribes before reading the snapshot, and reads it once the batches that may have
/// missed the subscription committed, so no change falls between the two.
pub fn stream(engine: Engine, execution: ExecutionRecord, include_snapshot: bool) -> impl Stream<Item = Item> + Send {
    let Watch {
        changes: mut live,
        settled,
    } = engine.watch(execution.id);
    async_stream(move |tx| async move {
        let id = execution.id;
        let mut sequence = 0u64;
        if include_snapshot {
            // A watcher that goes away while a batch is slow to commit (the store unreachable) frees its slot now.
            tokio::select! {
                () = settled.wait() => {}
                () = tx.closed() => return Ok(()),
            }
            let budget = engine.config().limits.response_bytes;
            for batch in batches(snapshot(&engine, &execution).await?, budget) {
                send(&tx, batch, false).await?;
            }
            send(&tx, Vec::new(), true).await?;
        }
        // Read again after subscribing: the execution may have finished meanwhile. The changes received since the
        // subscription go first (a child that succeeded after the snapshot read it running), then the end.
        let current = engine.get_execution(id).await.or_status()?;
        if let Some(current) = current.filter(|row| row.phase.is_terminal()) {
            let mut out = Vec::new();
            while let Ok(change) = live.try_recv() {
                if change.scope == ChangeScope::Execution && is_terminal_execution(change.phase) {
                    continue;
                }
                sequence += 1;
                out.push(live_change(&change, sequence));
            }
            out.push(execution_change(&current, 0));
            for batch in batches(out, engine.config().limits.response_bytes) {
                send(&tx, batch, false).await?;
            }
            return Ok(());
        }
        loop {
            // A watcher that went away ends the stream now, not at the execution's next change, which may never come
            // to this replica; until then the stream holds the engine, and a shutdown would wait for it.
            let received = tokio::select! {
                received = live.recv() => received,
                () = tx.closed() => return Ok(()),
            };
            let first = match received {
                Ok(change) => change,
                Err(RecvError::Lagged(missed)) => {
                    // Fell behind a burst of changes (a large fan-out): send the execution's current phase, which
                    // costs one read, and go on live. Node detail missed meanwhile is one snapshot watch away;
                    // re-reading every node here would put a full scan of the fan-out on every lag.
                    tracing::debug!(execution_id = %id, missed, "watch fell behind; sending the current phase");
                    let current = engine.get_execution(id).await.or_status()?;
                    let current = current.ok_or_else(|| Status::not_found(format!("execution {id} not found")))?;
                    send(&tx, vec![execution_change(&current, 0)], false).await?;
                    if current.phase.is_terminal() {
                        return Ok(());
                    }
                    continue;
                }
                Err(RecvError::Closed) => return Err(Status::unavailable("the server is shutting down")),
            };
            let mut changes = vec![first];
            while changes.len() < BATCH {
                match live.try_recv() {
                    Ok(change) => changes.push(change),
                    Err(_) => break,
                }
            }
            let mut out = Vec::new();
            let mut finished = false;
            for change in changes {
                sequence += 1;
                finished |= change.scope == ChangeScope::Execution && is_terminal_execution(change.phase);
                out.push(live_change(&change, sequence));
            }
            if !out.is_empty() {
                send(&tx, out, false).await?;
            }
            if finished {
                return Ok(());
            }
        }
    })
}

/// The changes in messages of at most `BATCH` changes and `budget` bytes (errors with long messages add up); a
/// change larger than that goes alone.
fn batches(changes: Vec<pb::PhaseChange>, budget: u64) -> Vec<Vec<pb::PhaseChange>> {
    let mut batches = Vec::new();
    let mut batch = Vec::new();
    let mut used = 0u64;
    for change in changes {
        let size = change.encoded_len() as u64;
        if !batch.is_empty() && (batch.len() >= BATCH || used.saturating_add(size) > budget) {
            batches.push(std::mem::take(&mut batch));
            used = 0;
        }
        used = used.saturating_add(size);
        batch.push(change);
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

fn is_terminal_execution(phase: &str) -> bool {
    phase.parse::<ExecutionPhase>().is_ok_and(|p| p.is_terminal())
}

async fn send(
    tx: &tokio::sync::mpsc::Sender<Item>,
    changes: Vec<pb::PhaseChange>,
    snapshot_complete: bool,
) -> Result<(), Status> {
    tx.send(Ok(pb::WatchExecutionResponse {
        changes,
        snapshot_complete,
    }))
    .await
    .map_err(|_| Status::cancelled("watcher went away"))
}

/// Runs `body` as a stream fed through a channel; an error ends the stream with that status.
/// `stream`, holding its principal's watch slot until it is dropped: when it ends, or when tonic drops it because the
/// client cancelled, its connection was lost or the server is shutting down.
pub fn holding(stream: impl Stream<Item = Item> + Send, slot: Slot) -> impl Stream<Item = Item> + Send {
    stream.map(move |item| {
        let _held = &slot;
        item
    })
}

fn async_stream<F, Fut>(body: F) -> impl Stream<Item = Item> + Send
where
    F: FnOnce(tokio::sync::mpsc::Sender<Item>) -> Fut,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let done = tx.clone();
    let work = body(tx);
    tokio::spawn(async move {
        if let Err(status) = work.await {
            let _ = done.send(Err(status)).await;
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

fn execution_change(execution: &ExecutionRecord, sequence: u64) -> pb::PhaseChange {
    pb::PhaseChange {
        sequence,
        occurred_at: Some(timestamp(execution.updated_at_ms)),
        change: Some(pb::phase_change::Change::Execution(pb::ExecutionPhaseChange {
            execution_id: execution.id.to_string(),
            phase: pb::ExecutionPhase::from(execution.phase) as i32,
            error: records::error(&execution.error),
        })),
    }
}

fn live_change(change: &PhaseChange, sequence: u64) -> pb::PhaseChange {
    let execution_id = change.execution_id.to_string();
    let body = match change.scope {
        ChangeScope::Execution => pb::phase_change::Change::Execution(pb::ExecutionPhaseChange {
            execution_id,
            phase: change
                .phase
                .parse::<ExecutionPhase>()
                .map(|p| pb::ExecutionPhase::from(p) as i32)
                .unwrap_or_default(),
            error: None,
        }),
        ChangeScope::Node => pb::phase_change::Change::Node(pb::NodePhaseChange {
            execution_id,
            node_id: change.node_id.clone(),
            parent_node_id: parent_of(&change.node_id),
            phase: change
                .phase
                .parse::<NodePhase>()
                .map(|p| pb::NodePhase::from(p) as i32)
                .unwrap_or_default(),
            ..Default::default()
        }),
        ChangeScope::Attempt => pb::phase_change::Change::Attempt(pb::AttemptPhaseChange {
            attempt: Some(pb::AttemptRef {
                execution_id,
                node_id: change.node_id.clone(),
                attempt: change.attempt.unwrap_or_default(),
            }),
            phase: change
                .phase
                .parse::<AttemptPhase>()
                .map(|p| pb::AttemptPhase::from(p) as i32)
                .unwrap_or_default(),
            ..Default::default()
        }),
    };
    pb::PhaseChange {
        sequence,
        occurred_at: Some(timestamp(change.at_ms)),
        change: Some(body),
    }
}

fn parent_of(node_id: &str) -> String {
    NodeExecutionId::parse(node_id)
        .ok()
        .and_then(|id| id.parent())
        .map(|(parent, _)| parent.into_string())
        .unwrap_or_default()
}

/// The execution's phase and every node's, at any depth, as sequence-0 changes.
async fn snapshot(engine: &Engine, execution: &ExecutionRecord) -> Result<Vec<pb::PhaseChange>, Status> {
    let mut changes = vec![execution_change(execution, 0)];
    let mut parents = vec![String::new()];
    while let Some(parent) = parents.pop() {
        let mut page = Page {
            after: None,
            limit: 10_000,
        };
        loop {
            let nodes = engine.list_nodes(execution.id, &parent, &page).await.or_status()?;
            for node in &nodes {
                if node.children_total > 0 {
                    parents.push(node.node_id.clone());
                }
                let (kind, _) = records::node_kind(&node.runs);
                changes.push(pb::PhaseChange {
                    sequence: 0,
                    occurred_at: Some(timestamp(node.updated_at_ms)),
                    change: Some(pb::phase_change::Change::Node(pb::NodePhaseChange {
                        execution_id: execution.id.to_string(),
                        node_id: node.node_id.clone(),
                        parent_node_id: node.parent_id.clone(),
                        phase: pb::NodePhase::from(node.phase) as i32,
                        kind: kind as i32,
                        is_dynamic_parent: node.is_dynamic,
                        cache_status: pb::CacheStatus::from(node.cache_status) as i32,
                        error: records::error(&node.error),
                    })),
                });
            }
            match nodes.last() {
                Some(last) if nodes.len() as u32 >= page.limit => page.after = Some(last.position.to_string()),
                _ => break,
            }
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(message_len: usize) -> pb::PhaseChange {
        pb::PhaseChange {
            change: Some(pb::phase_change::Change::Node(pb::NodePhaseChange {
                error: Some(pb::ExecutionError {
                    message: "x".repeat(message_len),
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn snapshot_messages_are_bounded_by_count_and_size() {
        let sizes = |batches: &[Vec<pb::PhaseChange>]| batches.iter().map(Vec::len).collect::<Vec<_>>();
        let many: Vec<_> = (0..2_500).map(|_| failed(1)).collect();
        assert_eq!(sizes(&batches(many, u64::MAX)), [1_000, 1_000, 500]);
        let long: Vec<_> = (0..5).map(|_| failed(400)).collect();
        assert_eq!(sizes(&batches(long, 1_000)), [2, 2, 1]);
        assert_eq!(
            sizes(&batches(vec![failed(5_000)], 1_000)),
            [1],
            "one change goes alone, however large"
        );
    }
}
