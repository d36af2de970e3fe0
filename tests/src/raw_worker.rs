//! A worker written against the raw gRPC stubs, as a worker in any other language would be: it serves the seed's
//! tasks (`other_task(index) = index * 2`; `generate_others(tasks_count)` yields that many `other_task`s and returns
//! the list of their outputs) and `nest(depth)` for nesting. Tests also use its pieces to send hand-made, and
//! deliberately wrong, completions.

use gantry_core::model::{
    Binding, BindingData, DynamicJobSpec, ExecutionError, Identifier, Literal, LiteralMap, LiteralType, Node,
    NodeTarget, Promise, TaskMetadata, TaskTemplate, TypedInterface, Variable,
};
use gantry_core::state::AttemptPhase;
use gantry_proto::v1 as pb;

use crate::records::Acknowledged;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use tokio::sync::watch;
use tonic::transport::Channel;

pub fn id(name: &str) -> Identifier {
    Identifier::new("demo", "dev", name, "1")
}

/// A task `demo/dev/{name}@1` on queue `default`.
pub fn template(name: &str, inputs: &[(&str, LiteralType)], outputs: &[(&str, LiteralType)]) -> TaskTemplate {
    TaskTemplate {
        id: id(name),
        interface: TypedInterface {
            inputs: inputs.iter().map(|(n, t)| Variable::new(*n, t.clone())).collect(),
            outputs: outputs.iter().map(|(n, t)| Variable::new(*n, t.clone())).collect(),
        },
        metadata: TaskMetadata::default(),
        container: None,
        plugin: None,
    }
}

/// The tasks this worker serves, to register.
pub fn task_templates() -> Vec<TaskTemplate> {
    let list = LiteralType::collection(LiteralType::Integer);
    vec![
        template(
            "other_task",
            &[("index", LiteralType::Integer)],
            &[("other_task_out", LiteralType::Integer)],
        ),
        template(
            "generate_others",
            &[("tasks_count", LiteralType::Integer)],
            &[("out", list.clone())],
        ),
        template("nest", &[("depth", LiteralType::Integer)], &[("out", list)]),
        template(
            "deep",
            &[("depth", LiteralType::Integer)],
            &[("out", LiteralType::Integer)],
        ),
        template(
            "flaky",
            &[("index", LiteralType::Integer)],
            &[("other_task_out", LiteralType::Integer)],
        ),
        template(
            "choose_plan",
            &[("n", LiteralType::Integer)],
            &[("out", LiteralType::Integer)],
        ),
    ]
}

/// `deep(depth)`: one `deep(depth - 1)` child; `deep(0)` is `other_task(index=21)`, so every level returns 42.
pub fn deep_spec(depth: i64) -> DynamicJobSpec {
    let child = if depth == 0 {
        Node::task(
            "dn0",
            id("other_task"),
            vec![Binding::literal("index", Literal::Integer(21))],
        )
    } else {
        Node::task(
            "dn0",
            id("deep"),
            vec![Binding::literal("depth", Literal::Integer(depth - 1))],
        )
    };
    let output = if depth == 0 { "other_task_out" } else { "out" };
    DynamicJobSpec {
        nodes: vec![child],
        outputs: vec![Binding::promise("out", "dn0", output)],
        ..Default::default()
    }
}

/// `choose_plan(n)`: picks a launch plan by its input — `lp_big(n)` above 10, `lp_small(n)` otherwise — and returns
/// what the child execution returns.
pub fn choose_plan_spec(n: i64) -> DynamicJobSpec {
    let plan = if n > 10 { "lp_big" } else { "lp_small" };
    let node = Node {
        target: NodeTarget::LaunchPlan(id(plan)),
        ..Node::task("lp", id(plan), vec![Binding::literal("index", Literal::Integer(n))])
    };
    DynamicJobSpec {
        nodes: vec![node],
        outputs: vec![Binding::promise("out", "lp", "other_task_out")],
        ..Default::default()
    }
}

/// The tasks this worker serves under `version`, memoised with `cache_version` "1" (one holder of a key at a time
/// when `serializable`). A generator of a version yields children of the same version.
pub fn cached_templates(version: &str, serializable: bool) -> Vec<TaskTemplate> {
    task_templates()
        .into_iter()
        .map(|mut task| {
            task.id.version = version.to_owned();
            task.metadata.cache = true;
            task.metadata.cache_version = "1".to_owned();
            task.metadata.cache_serializable = serializable;
            task
        })
        .collect()
}

/// The seed's spec: `tasks_count` × `other_task(index=i)`, `out` = the list of their outputs.
pub fn seed_spec(tasks_count: i64) -> DynamicJobSpec {
    seed_spec_of(tasks_count, "1")
}

/// [`seed_spec`] with children of `other_task@version`.
pub fn seed_spec_of(tasks_count: i64, version: &str) -> DynamicJobSpec {
    let other_task = Identifier::new("demo", "dev", "other_task", version);
    let nodes = (0..tasks_count)
        .map(|i| {
            Node::task(
                format!("dn{i}"),
                other_task.clone(),
                vec![Binding::literal("index", Literal::Integer(i))],
            )
        })
        .collect();
    let res = (0..tasks_count)
        .map(|i| BindingData::Promise(Promise::new(format!("dn{i}"), "other_task_out")))
        .collect();
    DynamicJobSpec {
        nodes,
        outputs: vec![Binding::new("out", BindingData::Collection(res))],
        ..Default::default()
    }
}

/// `nest(depth)`: two `nest(depth - 1)` children passing the first one's list up; `nest(0)` is `generate_others(3)`.
pub fn nest_spec(depth: i64) -> DynamicJobSpec {
    if depth == 0 {
        return seed_spec(3);
    }
    let child = |i: usize| {
        Node::task(
            format!("dn{i}"),
            id("nest"),
            vec![Binding::literal("depth", Literal::Integer(depth - 1))],
        )
    };
    DynamicJobSpec {
        nodes: vec![child(0), child(1)],
        outputs: vec![Binding::promise("out", "dn0", "out")],
        ..Default::default()
    }
}

fn integer(inputs: &LiteralMap, name: &str) -> i64 {
    match inputs.get(name) {
        Some(Literal::Integer(i)) => *i,
        other => panic!("input {name}: expected an integer, got {other:?}"),
    }
}

/// What this worker answers for an assignment.
pub fn result_for(assignment: &pb::AttemptAssignment) -> pb::completion::Result {
    let (task, version) = assignment
        .task
        .as_ref()
        .and_then(|t| t.id.as_ref())
        .map(|id| (id.name.clone(), id.version.clone()))
        .unwrap_or_default();
    let inputs: LiteralMap = assignment
        .inputs
        .clone()
        .unwrap_or_default()
        .try_into()
        .expect("inputs convert");
    match task.as_str() {
        "other_task" => {
            let index = integer(&inputs, "index");
            let outputs = LiteralMap::from([("other_task_out".to_owned(), Literal::Integer(index * 2))]);
            pb::completion::Result::Outputs(outputs.into())
        }
        "generate_others" => {
            let spec = seed_spec_of(integer(&inputs, "tasks_count"), &version);
            pb::completion::Result::DynamicSpec(spec.into())
        }
        "nest" => pb::completion::Result::DynamicSpec(nest_spec(integer(&inputs, "depth")).into()),
        "deep" => pb::completion::Result::DynamicSpec(deep_spec(integer(&inputs, "depth")).into()),
        "choose_plan" => pb::completion::Result::DynamicSpec(choose_plan_spec(integer(&inputs, "n")).into()),
        "flaky" => {
            let index = integer(&inputs, "index");
            if index % 2 == 1 {
                let error = ExecutionError::user("odd", format!("index {index} is odd")).recoverable(false);
                pb::completion::Result::Error(error.into())
            } else {
                let outputs = LiteralMap::from([("other_task_out".to_owned(), Literal::Integer(index * 2))]);
                pb::completion::Result::Outputs(outputs.into())
            }
        }
        other => panic!("the raw worker has no task {other}"),
    }
}

/// A completion of `assignment` with `result`.
pub fn completion(assignment: &pb::AttemptAssignment, result: pb::completion::Result) -> pb::Completion {
    pb::Completion {
        attempt: assignment.attempt.clone(),
        lease_id: assignment.lease_id.clone(),
        result: Some(result),
    }
}

/// Polls and completes until `stop` turns true. Returns how many attempts it completed.
pub async fn run(
    client: WorkerServiceClient<Channel>,
    worker_id: &str,
    batch: u32,
    stop: watch::Receiver<bool>,
) -> usize {
    run_with(client, worker_id, batch, stop, result_for).await
}

/// [`run`], answering each assignment with `answer`.
pub async fn run_with(
    mut client: WorkerServiceClient<Channel>,
    worker_id: &str,
    batch: u32,
    mut stop: watch::Receiver<bool>,
    answer: impl Fn(&pb::AttemptAssignment) -> pb::completion::Result,
) -> usize {
    let mut completed = 0;
    loop {
        let poll = pb::PollTasksRequest {
            worker_id: worker_id.to_owned(),
            queues: vec!["default".to_owned()],
            max_attempts: batch,
            wait: Some(prost_types_duration(2)),
            completions: Vec::new(),
        };
        let assignments = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return completed,
            polled = client.poll_tasks(poll) => polled.expect("poll").into_inner().assignments,
        };
        if assignments.is_empty() {
            continue;
        }
        let completions: Vec<pb::Completion> = assignments.iter().map(|a| completion(a, answer(a))).collect();
        let request = pb::CompleteAttemptsRequest {
            worker_id: worker_id.to_owned(),
            completions,
        };
        let results = client
            .complete_attempts(request)
            .await
            .expect("complete")
            .into_inner()
            .results;
        for result in &results {
            assert_eq!(
                result.status,
                pb::CompletionStatus::Accepted as i32,
                "completion refused: {}",
                result.message
            );
        }
        completed += results.len();
    }
}

fn prost_types_duration(seconds: i64) -> prost_types::Duration {
    prost_types::Duration { seconds, nanos: 0 }
}

/// What a resilient worker did.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Assignments of a generator (`generate_others` / `nest`) it received.
    pub generator_runs: usize,
    /// Completions the server accepted.
    pub accepted: usize,
    /// RPCs that failed (the server was down).
    pub failed_calls: usize,
    /// Every completion the server acknowledged, with the phase it said it recorded.
    pub acknowledged: Vec<Acknowledged>,
    /// Every assignment received, as its attempt and lease: a live attempt dispatched twice would show twice.
    pub leases: Vec<pb::LeasedAttempt>,
}

/// Like [`run`], but survives the server going away: on a failed call it reconnects (every 20 ms) and goes on.
/// `tally` is published after every batch.
pub async fn run_resilient(
    endpoint: String,
    worker_id: &str,
    batch: u32,
    stop: watch::Receiver<bool>,
    tally: watch::Sender<Tally>,
) {
    let worker = Resilient {
        endpoint,
        worker_id: worker_id.to_owned(),
        batch,
        heartbeat_with: None,
    };
    worker.run(stop, tally).await;
}

/// A worker that survives the server going away (see [`run_resilient`]).
#[derive(Debug, Clone)]
pub struct Resilient {
    pub endpoint: String,
    pub worker_id: String,
    /// The most attempts per poll.
    pub batch: u32,
    /// When set, each batch's completion is sent together with a heartbeat of the same attempts through this
    /// endpoint (the same server, or another replica), as an SDK whose heartbeat falls due while it reports does.
    pub heartbeat_with: Option<String>,
}

impl Resilient {
    pub async fn run(self, mut stop: watch::Receiver<bool>, tally: watch::Sender<Tally>) {
        let mut client: Option<WorkerServiceClient<Channel>> = None;
        let mut heartbeats: Option<WorkerServiceClient<Channel>> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            let Some(connected) = client.as_mut() else {
                match WorkerServiceClient::connect(self.endpoint.clone()).await {
                    Ok(connected) => client = Some(connected),
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                }
                continue;
            };
            if let (Some(endpoint), None) = (&self.heartbeat_with, &heartbeats) {
                heartbeats = WorkerServiceClient::connect(endpoint.clone()).await.ok();
            }
            let poll = pb::PollTasksRequest {
                worker_id: self.worker_id.clone(),
                queues: vec!["default".to_owned()],
                max_attempts: self.batch,
                wait: Some(prost_types_duration(1)),
                completions: Vec::new(),
            };
            let polled = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                polled = connected.poll_tasks(poll) => polled,
            };
            let assignments = match polled {
                Ok(response) => response.into_inner().assignments,
                Err(_) => {
                    tally.send_modify(|t| t.failed_calls += 1);
                    client = None;
                    continue;
                }
            };
            if assignments.is_empty() {
                continue;
            }
            tally.send_modify(|t| t.leases.extend(assignments.iter().map(leased)));
            let generators = assignments
                .iter()
                .filter(|a| {
                    let name = a.task.as_ref().and_then(|t| t.id.as_ref()).map(|id| id.name.as_str());
                    matches!(name, Some("generate_others" | "nest"))
                })
                .count();
            let completions: Vec<pb::Completion> = assignments.iter().map(|a| completion(a, result_for(a))).collect();
            let request = pb::CompleteAttemptsRequest {
                worker_id: self.worker_id.clone(),
                completions,
            };
            let heartbeat = pb::HeartbeatRequest {
                worker_id: self.worker_id.clone(),
                attempts: assignments.iter().map(leased).collect(),
            };
            let heartbeating = async {
                match heartbeats.as_mut() {
                    Some(heartbeats) => heartbeats.heartbeat(heartbeat).await.is_ok(),
                    None => true,
                }
            };
            let (completed, heartbeat_ok) = tokio::join!(connected.complete_attempts(request), heartbeating);
            if !heartbeat_ok {
                heartbeats = None;
            }
            match completed {
                Ok(response) => {
                    let acknowledged: Vec<Acknowledged> = response
                        .into_inner()
                        .results
                        .iter()
                        .filter(|r| r.status == pb::CompletionStatus::Accepted as i32)
                        .filter_map(acknowledged)
                        .collect();
                    tally.send_modify(|t| {
                        t.generator_runs += generators;
                        t.accepted += acknowledged.len();
                        t.acknowledged.extend(acknowledged);
                    });
                }
                Err(_) => {
                    tally.send_modify(|t| {
                        t.generator_runs += generators;
                        t.failed_calls += 1;
                    });
                    client = None;
                }
            }
        }
    }
}

/// The attempt and lease of an assignment, as heartbeats present them.
pub fn leased(assignment: &pb::AttemptAssignment) -> pb::LeasedAttempt {
    pb::LeasedAttempt {
        attempt: assignment.attempt.clone(),
        lease_id: assignment.lease_id.clone(),
    }
}

/// An accepted completion result as the records must show it.
pub fn acknowledged(result: &pb::CompletionResult) -> Option<Acknowledged> {
    let attempt = result.attempt.as_ref()?;
    let phase = AttemptPhase::try_from(pb::AttemptPhase::try_from(result.phase).ok()?).ok()?;
    Some(Acknowledged {
        execution_id: attempt.execution_id.clone(),
        node_id: attempt.node_id.clone(),
        attempt: attempt.attempt as i32,
        phase,
    })
}
