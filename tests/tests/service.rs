//! The service edges: health and reflection, idempotent creation by name, and termination leaving nothing running.

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_answer() {
    let server = TestServer::start(Backend::Sqlite).await;
    let channel = tonic::transport::Endpoint::from_shared(server.endpoint.clone())
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel.clone());
    for service in ["gantry.v1.AdminService", "gantry.v1.WorkerService"] {
        let request = tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        };
        let status = health.check(request).await.expect("health").into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflect")
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = responses
        .next()
        .await
        .expect("a response")
        .expect("ok")
        .message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "gantry.v1.AdminService",
        "gantry.v1.WorkerService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} not in {names:?}");
    }
    server.stop().await;
}

fn create(name: &str, index: i64) -> pb::CreateExecutionRequest {
    pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        name: name.into(),
        target: Some(pb::create_execution_request::Target::Task(id("other_task").into())),
        inputs: Some(LiteralMap::from([("index".to_owned(), Literal::Integer(index))]).into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_by_name_is_idempotent_and_terminating_leaves_nothing_running() {
    let server = TestServer::start(Backend::Postgres).await;
    let mut admin = server.admin().await;
    for task in raw_worker::task_templates() {
        admin
            .register_task(pb::RegisterTaskRequest {
                task: Some(task.into()),
            })
            .await
            .expect("register");
    }
    let first = admin
        .create_execution(create("nightly", 1))
        .await
        .expect("create")
        .into_inner();
    let again = admin
        .create_execution(create("nightly", 1))
        .await
        .expect("repeat")
        .into_inner();
    assert!(first.created && !again.created);
    assert_eq!(
        first.execution.as_ref().map(|e| &e.id),
        again.execution.as_ref().map(|e| &e.id)
    );
    let clash = admin
        .create_execution(create("nightly", 2))
        .await
        .expect_err("same name, other inputs");
    assert_eq!(clash.code(), Code::AlreadyExists);
    let id = first.execution.expect("execution").id;

    // A worker holds the attempt; terminating cancels it through the heartbeat and refuses its completion.
    let mut worker = server.worker().await;
    let poll = pb::PollTasksRequest {
        worker_id: "w".into(),
        queues: vec!["default".into()],
        max_attempts: 1,
        wait: Some(prost_types::Duration { seconds: 10, nanos: 0 }),
        completions: Vec::new(),
    };
    let assignment = worker
        .poll_tasks(poll)
        .await
        .expect("poll")
        .into_inner()
        .assignments
        .remove(0);
    let terminated = admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id: id.clone(),
            reason: "operator said so".into(),
        })
        .await
        .expect("terminate")
        .into_inner()
        .execution
        .expect("execution");
    assert_eq!(terminated.phase, pb::ExecutionPhase::Aborted as i32);
    assert!(terminated.error.expect("error").message.contains("operator said so"));
    let heartbeat = pb::HeartbeatRequest {
        worker_id: "w".into(),
        attempts: vec![pb::LeasedAttempt {
            attempt: assignment.attempt.clone(),
            lease_id: assignment.lease_id.clone(),
        }],
    };
    let statuses = worker
        .heartbeat(heartbeat)
        .await
        .expect("heartbeat")
        .into_inner()
        .statuses;
    assert_eq!(statuses[0].state, pb::LeaseState::Cancel as i32);
    let late = pb::CompleteAttemptsRequest {
        worker_id: "w".into(),
        completions: vec![raw_worker::completion(&assignment, raw_worker::result_for(&assignment))],
    };
    let results = worker
        .complete_attempts(late)
        .await
        .expect("complete")
        .into_inner()
        .results;
    assert_eq!(results[0].code, Code::FailedPrecondition as i32);
    let execution = wait_for_terminal(&mut admin, &id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Aborted as i32,
        "the refused completion changed nothing"
    );
    let nodes = admin
        .list_node_executions(pb::ListNodeExecutionsRequest {
            execution_id: id.clone(),
            ..Default::default()
        })
        .await
        .expect("nodes")
        .into_inner()
        .node_executions;
    assert!(
        nodes.iter().all(|n| n.phase == pb::NodePhase::Aborted as i32),
        "{nodes:?}"
    );
    // Terminating again is idempotent.
    let again = admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id,
            reason: String::new(),
        })
        .await
        .expect("again");
    assert_eq!(
        again.into_inner().execution.expect("execution").phase,
        pb::ExecutionPhase::Aborted as i32
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_its_client_dropped_ends_without_waiting_for_a_change() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut admin = server.admin().await;
    for task in raw_worker::task_templates() {
        admin
            .register_task(pb::RegisterTaskRequest {
                task: Some(task.into()),
            })
            .await
            .expect("register");
    }
    // No worker: the execution stays queued, so its watch sees no change.
    let id = admin
        .create_execution(create("unwatched", 1))
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution")
        .id;
    let request = pb::WatchExecutionRequest {
        execution_id: id,
        include_snapshot: true,
        after_sequence: 0,
    };
    let mut stream = admin.watch_execution(request).await.expect("watch").into_inner();
    let snapshot = stream.next().await.expect("a snapshot message").expect("ok");
    assert!(!snapshot.changes.is_empty());
    drop(stream);
    drop(admin);
    // A watch left waiting would hold the engine, and the server's shutdown would wait for it.
    tokio::time::timeout(std::time::Duration::from_secs(30), server.stop())
        .await
        .expect("the server stops although a watch was open");
}
