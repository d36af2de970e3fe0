//! Bad input gets the right gRPC status, a message naming what and where, and loses nothing.

use std::time::Duration;

use gantry_core::model::{Binding, DynamicJobSpec, Literal, LiteralMap, Node};
use gantry_proto::v1 as pb;
use gantry_tests::raw_worker::{self, completion, id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tonic::Code;

async fn server_with_tasks() -> TestServer {
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
    server
}

fn create(task: &str, inputs: LiteralMap) -> pb::CreateExecutionRequest {
    pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id(task).into())),
        inputs: Some(inputs.into()),
        ..Default::default()
    }
}

fn inputs(name: &str, value: Literal) -> LiteralMap {
    LiteralMap::from([(name.to_owned(), value)])
}

async fn poll_one(server: &TestServer, worker_id: &str) -> pb::AttemptAssignment {
    let mut worker = server.worker().await;
    let request = pb::PollTasksRequest {
        worker_id: worker_id.into(),
        queues: vec!["default".into()],
        max_attempts: 1,
        wait: Some(prost_types::Duration { seconds: 10, nanos: 0 }),
        completions: Vec::new(),
    };
    let mut assignments = worker.poll_tasks(request).await.expect("poll").into_inner().assignments;
    assert_eq!(assignments.len(), 1, "one attempt is queued");
    assignments.remove(0)
}

async fn complete(server: &TestServer, worker_id: &str, completions: Vec<pb::Completion>) -> Vec<pb::CompletionResult> {
    let mut worker = server.worker().await;
    let request = pb::CompleteAttemptsRequest {
        worker_id: worker_id.into(),
        completions,
    };
    worker
        .complete_attempts(request)
        .await
        .expect("complete")
        .into_inner()
        .results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_targets_are_not_found_and_bad_inputs_are_invalid_naming_the_input() {
    let server = server_with_tasks().await;
    let mut admin = server.admin().await;

    let status = admin
        .create_execution(create("no_such_task", LiteralMap::new()))
        .await
        .expect_err("unknown task");
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains("no_such_task"), "{}", status.message());

    let mut request = create("generate_others", LiteralMap::new());
    request.target = Some(pb::create_execution_request::Target::Workflow(
        id("no_such_workflow").into(),
    ));
    assert_eq!(
        admin
            .create_execution(request)
            .await
            .expect_err("unknown workflow")
            .code(),
        Code::NotFound
    );

    let wrong = create("generate_others", inputs("tasks_count", Literal::String("ten".into())));
    let status = admin.create_execution(wrong).await.expect_err("wrong type");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("\"tasks_count\"") && status.message().contains("integer"),
        "{}",
        status.message()
    );

    let status = admin
        .create_execution(create("generate_others", LiteralMap::new()))
        .await
        .expect_err("missing input");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("\"tasks_count\"") && status.message().contains("required"),
        "{}",
        status.message()
    );

    let extra = create(
        "generate_others",
        LiteralMap::from([
            ("tasks_count".to_owned(), Literal::Integer(1)),
            ("bogus".to_owned(), Literal::Integer(1)),
        ]),
    );
    let status = admin.create_execution(extra).await.expect_err("unknown input");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("\"bogus\""), "{}", status.message());

    // A malformed message names the field path.
    let mut malformed = create("generate_others", LiteralMap::new());
    malformed.inputs = Some(pb::LiteralMap {
        literals: [("tasks_count".to_owned(), pb::Literal::default())].into(),
    });
    let status = admin.create_execution(malformed).await.expect_err("malformed literal");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("inputs"), "{}", status.message());

    // Nothing was created by any of these.
    let listed = admin
        .list_executions(pb::ListExecutionsRequest {
            project: "demo".into(),
            domain: "dev".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed.executions.is_empty(),
        "rejected requests created {:?}",
        listed.executions
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_spec_fails_node_and_execution_at_once_listing_every_error() {
    let server = server_with_tasks().await;
    let mut admin = server.admin().await;
    let created = admin
        .create_execution(create("generate_others", inputs("tasks_count", Literal::Integer(3))))
        .await;
    let execution_id = created.expect("create").into_inner().execution.expect("execution").id;

    let assignment = poll_one(&server, "w").await;
    // Three problems: an unknown task, a wrongly typed input, and the parent's output left unbound.
    let spec = DynamicJobSpec {
        nodes: vec![
            Node::task("dn0", id("missing_task"), vec![]),
            Node::task(
                "dn1",
                id("other_task"),
                vec![Binding::literal("index", Literal::String("x".into()))],
            ),
        ],
        ..Default::default()
    };
    let results = complete(
        &server,
        "w",
        vec![completion(
            &assignment,
            pb::completion::Result::DynamicSpec(spec.into()),
        )],
    )
    .await;
    assert_eq!(
        results[0].status,
        pb::CompletionStatus::Accepted as i32,
        "{}",
        results[0].message
    );

    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    let error = execution.error.expect("an error");
    assert_eq!(error.kind, pb::ErrorKind::User as i32);
    assert!(!error.recoverable);
    for expected in ["missing_task", "\"dn1\" input \"index\"", "\"out\""] {
        assert!(
            error.message.contains(expected),
            "{expected:?} not in {}",
            error.message
        );
    }
    // No retry: one attempt, and nothing queued or running anywhere.
    let attempts = admin
        .list_task_attempts(pb::ListTaskAttemptsRequest {
            execution_id: execution_id.clone(),
            node_id: "n0".into(),
        })
        .await
        .expect("attempts")
        .into_inner()
        .attempts;
    assert_eq!(attempts.len(), 1);
    let nodes = admin
        .list_node_executions(pb::ListNodeExecutionsRequest {
            execution_id: execution_id.clone(),
            ..Default::default()
        })
        .await
        .expect("nodes")
        .into_inner()
        .node_executions;
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].phase, pb::NodePhase::Failed as i32);
    let mut worker = server.worker().await;
    let idle = worker
        .poll_tasks(pb::PollTasksRequest {
            worker_id: "w".into(),
            queues: vec!["default".into()],
            max_attempts: 10,
            wait: Some(prost_types::Duration { seconds: 0, nanos: 0 }),
            completions: Vec::new(),
        })
        .await
        .expect("poll")
        .into_inner();
    assert!(idle.assignments.is_empty(), "nothing is left queued");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_completion_and_a_stranger_are_refused_and_change_nothing() {
    let server = server_with_tasks().await;
    let mut admin = server.admin().await;
    let created = admin
        .create_execution(create("other_task", inputs("index", Literal::Integer(21))))
        .await;
    let execution_id = created.expect("create").into_inner().execution.expect("execution").id;
    let assignment = poll_one(&server, "w").await;
    let outputs =
        |value: i64| pb::completion::Result::Outputs(inputs("other_task_out", Literal::Integer(value)).into());

    // Another worker cannot complete it.
    let results = complete(&server, "intruder", vec![completion(&assignment, outputs(1))]).await;
    assert_eq!(results[0].status, pb::CompletionStatus::Rejected as i32);
    assert_eq!(
        results[0].code,
        Code::FailedPrecondition as i32,
        "{}",
        results[0].message
    );

    let results = complete(&server, "w", vec![completion(&assignment, outputs(42))]).await;
    assert_eq!(
        results[0].status,
        pb::CompletionStatus::Accepted as i32,
        "{}",
        results[0].message
    );
    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Succeeded as i32);

    let again = complete(&server, "w", vec![completion(&assignment, outputs(7))]).await;
    assert_eq!(again[0].status, pb::CompletionStatus::Rejected as i32);
    assert_eq!(again[0].code, Code::FailedPrecondition as i32);
    assert!(again[0].message.contains("already succeeded"), "{}", again[0].message);

    // A made-up lease on a real attempt is FailedPrecondition (not its lease), an attempt that does not exist is
    // NotFound, and a completion without a result is InvalidArgument, per item.
    let mut made_up = completion(&assignment, outputs(7));
    made_up.lease_id = uuid::Uuid::now_v7().to_string();
    let mut empty = completion(&assignment, outputs(7));
    empty.result = None;
    let mut stranger = completion(&assignment, outputs(7));
    stranger.attempt.as_mut().expect("attempt").attempt = 3;
    let mixed = complete(&server, "w", vec![made_up, empty, stranger]).await;
    assert_eq!(mixed[0].code, Code::FailedPrecondition as i32, "{}", mixed[0].message);
    assert_eq!(mixed[2].code, Code::NotFound as i32, "{}", mixed[2].message);
    assert_eq!(mixed[1].code, Code::InvalidArgument as i32);
    assert!(
        mixed[1].message.contains("completions[1].result"),
        "{}",
        mixed[1].message
    );

    let data = admin
        .get_execution_data(pb::GetExecutionDataRequest {
            id: execution_id,
            ..Default::default()
        })
        .await
        .expect("data")
        .into_inner();
    let outputs: LiteralMap = data.outputs.expect("outputs").try_into().expect("convert");
    assert_eq!(
        outputs.get("other_task_out"),
        Some(&Literal::Integer(42)),
        "the first completion stands"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_after_the_lease_expired_is_refused_and_the_attempt_runs_again() {
    let server = TestServer::start_with(Backend::Postgres, |config| config.lease = Duration::from_millis(300)).await;
    let mut admin = server.admin().await;
    for task in raw_worker::task_templates() {
        admin
            .register_task(pb::RegisterTaskRequest {
                task: Some(task.into()),
            })
            .await
            .expect("register");
    }
    let created = admin
        .create_execution(create("other_task", inputs("index", Literal::Integer(5))))
        .await;
    let execution_id = created.expect("create").into_inner().execution.expect("execution").id;
    let first = poll_one(&server, "slow").await;
    // The slow worker never heartbeats; the next poll waits until the sweep fails its attempt and queues a retry.
    let second = poll_one(&server, "fast").await;
    assert_eq!(second.attempt.as_ref().map(|a| a.attempt), Some(1));
    let late = complete(
        &server,
        "slow",
        vec![completion(
            &first,
            pb::completion::Result::Outputs(inputs("other_task_out", Literal::Integer(0)).into()),
        )],
    )
    .await;
    assert_eq!(late[0].status, pb::CompletionStatus::Rejected as i32);
    assert_eq!(late[0].code, Code::FailedPrecondition as i32, "{}", late[0].message);
    let results = complete(
        &server,
        "fast",
        vec![completion(&second, raw_worker::result_for(&second))],
    )
    .await;
    assert_eq!(results[0].status, pb::CompletionStatus::Accepted as i32);
    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Succeeded as i32);
    let attempts = admin
        .list_task_attempts(pb::ListTaskAttemptsRequest {
            execution_id,
            node_id: "n0".into(),
        })
        .await
        .expect("attempts")
        .into_inner()
        .attempts;
    let phases: Vec<i32> = attempts.iter().map(|a| a.phase).collect();
    assert_eq!(
        phases,
        [pb::AttemptPhase::Failed as i32, pb::AttemptPhase::Succeeded as i32]
    );
    assert_eq!(
        attempts[0].error.as_ref().map(|e| e.code.as_str()),
        Some("lease_expired")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_resource_exhausted() {
    let server = TestServer::start_with(Backend::Sqlite, |config| config.max_message_bytes = 64 * 1024).await;
    let mut admin = server.admin().await;
    let big = create(
        "generate_others",
        inputs("tasks_count", Literal::String("x".repeat(200 * 1024))),
    );
    let status = admin.create_execution(big).await.expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recoverable_user_error_is_retried_and_a_final_one_fails_the_execution() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut admin = server.admin().await;
    let mut task = raw_worker::task_templates().remove(0);
    task.metadata.retries.user_retries = 1;
    admin
        .register_task(pb::RegisterTaskRequest {
            task: Some(task.into()),
        })
        .await
        .expect("register");
    let created = admin
        .create_execution(create("other_task", inputs("index", Literal::Integer(3))))
        .await;
    let execution_id = created.expect("create").into_inner().execution.expect("execution").id;
    let failure = |recoverable: bool| {
        pb::completion::Result::Error(pb::ExecutionError {
            kind: pb::ErrorKind::User as i32,
            recoverable,
            code: "flaky".into(),
            message: "try again".into(),
            node_id: String::new(),
        })
    };

    let first = poll_one(&server, "w").await;
    let results = complete(&server, "w", vec![completion(&first, failure(true))]).await;
    assert_eq!(results[0].phase, pb::AttemptPhase::Failed as i32);
    // The retry comes after its backoff, through the sweeper's wake-up; then the user budget (1) is spent.
    let second = poll_one(&server, "w").await;
    assert_eq!(second.attempt.as_ref().map(|a| a.attempt), Some(1));
    complete(&server, "w", vec![completion(&second, failure(true))]).await;
    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    let error = execution.error.expect("error");
    assert_eq!((error.code.as_str(), error.node_id.as_str()), ("flaky", "n0"));
    let node = admin
        .get_node_execution(pb::GetNodeExecutionRequest {
            execution_id,
            node_id: "n0".into(),
        })
        .await
        .expect("node")
        .into_inner()
        .node_execution
        .expect("node");
    assert_eq!((node.attempts, node.phase), (2, pb::NodePhase::Failed as i32));
    server.stop().await;
}
