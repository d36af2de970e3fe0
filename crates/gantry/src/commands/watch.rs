//! Following an execution with `WatchExecution`: a progress bar of nodes done out of nodes known (children of dynamic
//! nodes count as they appear), until the execution's terminal phase. A broken stream is resumed after the last
//! sequence seen, or from a fresh snapshot when the server no longer has that history.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::anyhow;
use gantry_proto::v1 as pb;
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::{Admin, RpcError};
use crate::render::{execution_phase, is_terminal};

/// How often a broken watch is reopened before giving up.
const MAX_RECONNECTS: u32 = 5;

/// What the watch has seen so far.
#[derive(Debug, Default)]
struct Progress {
    execution_phase: Option<pb::ExecutionPhase>,
    nodes: HashMap<String, pb::NodePhase>,
    last_sequence: u64,
}

impl Progress {
    fn apply(&mut self, change: pb::PhaseChange) {
        self.last_sequence = self.last_sequence.max(change.sequence);
        match change.change {
            Some(pb::phase_change::Change::Execution(execution)) => {
                self.execution_phase = pb::ExecutionPhase::try_from(execution.phase).ok();
            }
            Some(pb::phase_change::Change::Node(node)) => {
                let phase = pb::NodePhase::try_from(node.phase).unwrap_or(pb::NodePhase::Unspecified);
                self.nodes.insert(node.node_id, phase);
            }
            Some(pb::phase_change::Change::Attempt(_)) | None => {}
        }
    }

    fn done(&self) -> usize {
        self.nodes.values().filter(|phase| node_is_terminal(**phase)).count()
    }

    fn count(&self, phase: pb::NodePhase) -> usize {
        self.nodes.values().filter(|p| **p == phase).count()
    }

    fn finished(&self) -> bool {
        self.execution_phase.is_some_and(is_terminal)
    }

    fn message(&self) -> String {
        let phase = self
            .execution_phase
            .map_or_else(|| "starting".to_owned(), |p| execution_phase(p as i32));
        if self.finished() {
            return phase;
        }
        let running = self.count(pb::NodePhase::Running) + self.count(pb::NodePhase::ChildrenRunning);
        let failed = self.count(pb::NodePhase::Failed) + self.count(pb::NodePhase::TimedOut);
        let mut message = format!("{phase}: {running} nodes running");
        if failed > 0 {
            message.push_str(&format!(", {failed} failed"));
        }
        message
    }
}

fn node_is_terminal(phase: pb::NodePhase) -> bool {
    matches!(
        phase,
        pb::NodePhase::Succeeded
            | pb::NodePhase::Failed
            | pb::NodePhase::Skipped
            | pb::NodePhase::TimedOut
            | pb::NodePhase::Aborted
            | pb::NodePhase::Recovered
    )
}

/// Watches execution `id` until it is terminal; `show_progress` draws the bar on stderr (only on a terminal).
pub async fn watch_execution(client: &mut Admin, id: &str, show_progress: bool) -> anyhow::Result<pb::ExecutionPhase> {
    let bar = if show_progress {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} nodes  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut progress = Progress::default();
    let mut reconnects = 0;
    loop {
        let resume = progress.last_sequence > 0;
        let request = pb::WatchExecutionRequest {
            execution_id: id.to_owned(),
            include_snapshot: !resume,
            after_sequence: progress.last_sequence,
        };
        match client.watch_execution(request).await {
            Ok(stream) => {
                let mut stream = stream.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(response)) => {
                            response.changes.into_iter().for_each(|change| progress.apply(change));
                            bar.set_length(progress.nodes.len() as u64);
                            bar.set_position(progress.done() as u64);
                            bar.set_message(progress.message());
                        }
                        Ok(None) => break,
                        Err(status) if is_transient(&status) => break,
                        Err(status) => {
                            bar.abandon();
                            return Err(RpcError {
                                doing: format!("watching execution {id}"),
                                status,
                            }
                            .into());
                        }
                    }
                }
                if let Some(phase) = progress.execution_phase.filter(|_| progress.finished()) {
                    bar.finish_with_message(progress.message());
                    return Ok(phase);
                }
            }
            Err(status) if status.code() == tonic::Code::OutOfRange => {
                // The server no longer has the history after our sequence: start over from a snapshot.
                progress = Progress::default();
                continue;
            }
            Err(status) if is_transient(&status) => {}
            Err(status) => {
                bar.abandon();
                return Err(RpcError {
                    doing: format!("watching execution {id}"),
                    status,
                }
                .into());
            }
        }
        reconnects += 1;
        if reconnects > MAX_RECONNECTS {
            bar.abandon();
            return Err(anyhow!(
                "the watch of execution {id} kept breaking before the execution finished"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100 << reconnects)).await;
    }
}

fn is_transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal | tonic::Code::Cancelled
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, phase: pb::NodePhase, sequence: u64) -> pb::PhaseChange {
        pb::PhaseChange {
            sequence,
            occurred_at: None,
            change: Some(pb::phase_change::Change::Node(pb::NodePhaseChange {
                node_id: id.to_owned(),
                phase: phase as i32,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn progress_counts_nodes_at_every_depth_as_they_appear() {
        let mut progress = Progress::default();
        progress.apply(node("gen", pb::NodePhase::Running, 0));
        assert_eq!((progress.nodes.len(), progress.done()), (1, 0));
        progress.apply(node("gen", pb::NodePhase::ChildrenRunning, 4));
        progress.apply(node("gen/0/dn0", pb::NodePhase::Succeeded, 5));
        progress.apply(node("gen/0/dn1", pb::NodePhase::Failed, 6));
        assert_eq!((progress.nodes.len(), progress.done()), (3, 2));
        assert_eq!(progress.last_sequence, 6);
        assert_eq!(progress.message(), "starting: 1 nodes running, 1 failed");
        assert!(!progress.finished());
        progress.apply(pb::PhaseChange {
            sequence: 7,
            occurred_at: None,
            change: Some(pb::phase_change::Change::Execution(pb::ExecutionPhaseChange {
                execution_id: "e".into(),
                phase: pb::ExecutionPhase::Failed as i32,
                error: None,
            })),
        });
        assert!(progress.finished());
    }
}
