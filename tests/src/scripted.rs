//! A worker the test drives by hand, one RPC at a time (poll, heartbeat, complete), and readers of the server's own
//! records (every node at every depth, a node's attempts) for assertions.

use std::time::Duration;

use gantry_core::model::TaskTemplate;
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use tonic::transport::Channel;

use crate::TestServer;

/// A worker whose every call the test makes.
#[derive(Debug)]
pub struct Scripted {
    client: WorkerServiceClient<Channel>,
    pub worker_id: String,
    pub queue: String,
}

impl Scripted {
    pub async fn new(server: &TestServer, worker_id: &str) -> Scripted {
        Scripted {
            client: server.worker().await,
            worker_id: worker_id.to_owned(),
            queue: "default".to_owned(),
        }
    }

    /// Claims up to `max` attempts, waiting up to `wait` for some.
    pub async fn poll(&mut self, max: u32, wait: Duration) -> Vec<pb::AttemptAssignment> {
        self.poll_carrying(Vec::new(), max, wait).await.assignments
    }

    /// Reports `completions` and claims up to `max` attempts in one poll, waiting up to `wait` for some when it
    /// carries none.
    pub async fn poll_carrying(
        &mut self,
        completions: Vec<pb::Completion>,
        max: u32,
        wait: Duration,
    ) -> pb::PollTasksResponse {
        let request = pb::PollTasksRequest {
            worker_id: self.worker_id.clone(),
            queues: vec![self.queue.clone()],
            max_attempts: max,
            wait: Some(prost_types::Duration {
                seconds: wait.as_secs() as i64,
                nanos: wait.subsec_nanos() as i32,
            }),
            completions,
        };
        self.client.poll_tasks(request).await.expect("poll").into_inner()
    }

    /// Claims exactly one attempt, waiting up to 20 s for it (a long poll, woken when one is queued).
    pub async fn poll_one(&mut self) -> pb::AttemptAssignment {
        let mut claimed = self.poll(1, Duration::from_secs(20)).await;
        assert_eq!(claimed.len(), 1, "no attempt was queued within the wait");
        claimed.remove(0)
    }

    pub async fn heartbeat(&mut self, held: &[pb::AttemptAssignment]) -> Vec<pb::AttemptLeaseStatus> {
        let request = pb::HeartbeatRequest {
            worker_id: self.worker_id.clone(),
            attempts: held
                .iter()
                .map(|a| pb::LeasedAttempt {
                    attempt: a.attempt.clone(),
                    lease_id: a.lease_id.clone(),
                })
                .collect(),
        };
        self.client
            .heartbeat(request)
            .await
            .expect("heartbeat")
            .into_inner()
            .statuses
    }

    pub async fn complete(&mut self, completions: Vec<pb::Completion>) -> Vec<pb::CompletionResult> {
        let request = pb::CompleteAttemptsRequest {
            worker_id: self.worker_id.clone(),
            completions,
        };
        self.client
            .complete_attempts(request)
            .await
            .expect("complete")
            .into_inner()
            .results
    }

    /// Completes one attempt with `result` and returns the attempt's phase after it; panics if refused.
    pub async fn finish(&mut self, assignment: &pb::AttemptAssignment, result: pb::completion::Result) -> i32 {
        let results = self
            .complete(vec![crate::raw_worker::completion(assignment, result)])
            .await;
        assert_eq!(
            results[0].status,
            pb::CompletionStatus::Accepted as i32,
            "refused: {}",
            results[0].message
        );
        results[0].phase
    }
}

/// The name of the task an assignment runs.
pub fn task_name(assignment: &pb::AttemptAssignment) -> &str {
    assignment
        .task
        .as_ref()
        .and_then(|t| t.id.as_ref())
        .map(|id| id.name.as_str())
        .unwrap_or_default()
}

/// The attempt number of an assignment.
pub fn attempt_number(assignment: &pb::AttemptAssignment) -> u32 {
    assignment.attempt.as_ref().map(|a| a.attempt).unwrap_or(u32::MAX)
}

/// The scoped node id of an assignment.
pub fn node_id(assignment: &pb::AttemptAssignment) -> &str {
    assignment
        .attempt
        .as_ref()
        .map(|a| a.node_id.as_str())
        .unwrap_or_default()
}

/// An error result of the given kind.
pub fn error(kind: pb::ErrorKind, recoverable: bool, code: &str) -> pb::completion::Result {
    pb::completion::Result::Error(pb::ExecutionError {
        kind: kind as i32,
        recoverable,
        code: code.to_owned(),
        message: format!("{code} on purpose"),
        node_id: String::new(),
    })
}

/// Registers tasks.
pub async fn register(admin: &mut AdminServiceClient<Channel>, tasks: impl IntoIterator<Item = TaskTemplate>) {
    for task in tasks {
        crate::client::register_task(admin, task).await;
    }
}

/// Every node of the execution at every depth, parents before their children.
pub async fn all_nodes(admin: &mut AdminServiceClient<Channel>, execution_id: &str) -> Vec<pb::NodeExecution> {
    let mut found = Vec::new();
    let mut parents = vec![String::new()];
    while let Some(parent) = parents.pop() {
        let mut page_token = String::new();
        loop {
            let page = admin
                .list_node_executions(pb::ListNodeExecutionsRequest {
                    execution_id: execution_id.to_owned(),
                    parent_node_id: parent.clone(),
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await
                .expect("list nodes")
                .into_inner();
            for node in page.node_executions {
                if node.is_parent {
                    parents.push(node.node_id.clone());
                }
                found.push(node);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
    }
    found
}

/// One node.
pub async fn node(admin: &mut AdminServiceClient<Channel>, execution_id: &str, node_id: &str) -> pb::NodeExecution {
    admin
        .get_node_execution(pb::GetNodeExecutionRequest {
            execution_id: execution_id.to_owned(),
            node_id: node_id.to_owned(),
        })
        .await
        .expect("get node")
        .into_inner()
        .node_execution
        .expect("node")
}

/// A node's attempts, in attempt order.
pub async fn attempts(
    admin: &mut AdminServiceClient<Channel>,
    execution_id: &str,
    node_id: &str,
) -> Vec<pb::TaskAttempt> {
    admin
        .list_task_attempts(pb::ListTaskAttemptsRequest {
            execution_id: execution_id.to_owned(),
            node_id: node_id.to_owned(),
        })
        .await
        .expect("attempts")
        .into_inner()
        .attempts
}

/// A protobuf timestamp as milliseconds since the Unix epoch.
pub fn ms(timestamp: &Option<prost_types::Timestamp>) -> i64 {
    let t = timestamp.as_ref().expect("timestamp is set");
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

/// Milliseconds as a protobuf duration.
pub fn millis(ms: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms / 1000,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

/// Completes every generator (`nest`, `generate_others`) the worker claims and holds every other attempt, until it
/// holds `count` of them or `within` has passed. Returns the held assignments.
pub async fn hold_leaves(worker: &mut Scripted, count: usize, within: Duration) -> Vec<pb::AttemptAssignment> {
    let deadline = tokio::time::Instant::now() + within;
    let mut held = Vec::new();
    while held.len() < count && tokio::time::Instant::now() < deadline {
        for assignment in worker.poll(64, Duration::from_millis(500)).await {
            if matches!(task_name(&assignment), "nest" | "generate_others") {
                let result = crate::raw_worker::result_for(&assignment);
                worker.finish(&assignment, result).await;
            } else {
                held.push(assignment);
            }
        }
    }
    held
}

/// After a termination or an execution timeout: the execution has `expected_nodes` nodes, every one ABORTED, no
/// attempt queued or running (the held ones ABORTED), the held attempts' heartbeats answer CANCEL and their late
/// completions are refused without changing anything.
pub async fn assert_all_aborted(
    admin: &mut AdminServiceClient<Channel>,
    worker: &mut Scripted,
    execution_id: &str,
    held: &[pb::AttemptAssignment],
    expected_nodes: usize,
) {
    let statuses = worker.heartbeat(held).await;
    assert!(
        statuses.iter().all(|s| s.state == pb::LeaseState::Cancel as i32),
        "every held attempt is cancelled: {statuses:?}"
    );
    let late: Vec<pb::Completion> = held
        .iter()
        .map(|a| crate::raw_worker::completion(a, crate::raw_worker::result_for(a)))
        .collect();
    for result in worker.complete(late).await {
        assert_eq!(result.status, pb::CompletionStatus::Rejected as i32);
        assert_eq!(
            result.code,
            tonic::Code::FailedPrecondition as i32,
            "{}",
            result.message
        );
    }
    let nodes = all_nodes(admin, execution_id).await;
    assert_eq!(nodes.len(), expected_nodes, "every node at every depth exists");
    for node in &nodes {
        assert_eq!(node.phase, pb::NodePhase::Aborted as i32, "node {}", node.node_id);
        for attempt in attempts(admin, execution_id, &node.node_id).await {
            let expected = if node.is_dynamic_parent {
                pb::AttemptPhase::Succeeded
            } else {
                pb::AttemptPhase::Aborted
            };
            assert_eq!(
                attempt.phase, expected as i32,
                "attempt {} of {}",
                attempt.attempt, node.node_id
            );
        }
    }
    let held_ids: Vec<&str> = held.iter().map(node_id).collect();
    assert!(
        held_ids.iter().all(|id| nodes.iter().any(|n| n.node_id == *id)),
        "the held attempts belong to the execution's nodes"
    );
}
