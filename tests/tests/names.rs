//! Names are bounded, the same on every store, and errors quote them short: a name at its limit registers and runs
//! on SQLite and Postgres alike, one byte more is refused at the edge, and a 2 MB name comes back as a short message
//! that a client with tonic's default settings can read.

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_tests::client::{self, task_request};
use gantry_tests::raw_worker::{self, completion};
use gantry_tests::scripted::Scripted;
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tonic::Code;

/// A 2 MB execution name is refused with a message a standard client can read: the name quoted by a short prefix.
async fn a_huge_name_gets_a_short_message(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut standard = AdminServiceClient::connect(server.endpoint.clone())
        .await
        .expect("a client with tonic's defaults");
    let name = "n".repeat(2 << 20);
    let status = standard
        .create_execution(task_request(&name, "other_task", Literal::Integer(1)))
        .await
        .expect_err("refused");
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{}",
        status.message().chars().take(200).collect::<String>()
    );
    assert!(status.message().len() < 300, "{} bytes", status.message().len());
    assert!(status.message().contains("name"), "{}", status.message());
    assert!(status.message().contains("(2097152 bytes)"), "{}", status.message());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_name_gets_a_short_message_on_sqlite() {
    a_huge_name_gets_a_short_message(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_name_gets_a_short_message_on_postgres() {
    a_huge_name_gets_a_short_message(Backend::Postgres).await;
}

/// Names at their limits register and run on both stores (the limits fit every store's indexes), and one byte more
/// is refused the same way on both.
async fn names_at_their_limits_run_and_one_byte_more_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    // 255 bytes of printable text, multi-byte characters included.
    let longest = |c: char| {
        let mut text = "é".repeat(100);
        text.extend(std::iter::repeat_n(c, 255 - text.len()));
        text
    };
    let project = "p".repeat(63);
    let queue = longest('q');
    let mut task = raw_worker::task_templates().remove(0);
    task.id = gantry_core::model::Identifier::new(project.clone(), "d".repeat(63), longest('n'), longest('v'));
    task.metadata.queue = queue.clone();
    task.metadata.cache_version = longest('c');
    task.interface.inputs[0].name = longest('i');
    let input = task.interface.inputs[0].name.clone();
    let mut too_long = task.clone();
    too_long.id.name.push('n');
    let refused = admin
        .register_task(pb::RegisterTaskRequest {
            task: Some(too_long.into()),
        })
        .await
        .expect_err("256 bytes");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("task.id.name"), "{}", refused.message());
    assert!(
        refused.message().contains("longer than 255 bytes"),
        "{}",
        refused.message()
    );
    admin
        .register_task(pb::RegisterTaskRequest {
            task: Some(task.clone().into()),
        })
        .await
        .expect("255 bytes register");

    let name = "e".repeat(63);
    let request = pb::CreateExecutionRequest {
        project: project.clone(),
        domain: "d".repeat(63),
        name: name.clone(),
        target: Some(pb::create_execution_request::Target::Task(task.id.clone().into())),
        inputs: Some(LiteralMap::from([(input, Literal::Integer(21))]).into()),
        ..Default::default()
    };
    let execution_id = client::submit(&mut admin, request).await.id;
    let mut worker = Scripted::new(&server, &longest('w')).await;
    worker.queue = queue;
    let assignment = worker.poll_one().await;
    let outputs = LiteralMap::from([("other_task_out".to_owned(), Literal::Integer(42))]);
    let results = worker
        .complete(vec![completion(
            &assignment,
            pb::completion::Result::Outputs(outputs.into()),
        )])
        .await;
    assert_eq!(
        results[0].phase,
        pb::AttemptPhase::Succeeded as i32,
        "{}",
        results[0].message
    );
    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Succeeded as i32);
    let listed = admin
        .list_executions(pb::ListExecutionsRequest {
            project,
            domain: "d".repeat(63),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .executions;
    assert_eq!(listed.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_at_their_limits_run_and_one_byte_more_is_refused_on_sqlite() {
    names_at_their_limits_run_and_one_byte_more_is_refused(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_at_their_limits_run_and_one_byte_more_is_refused_on_postgres() {
    names_at_their_limits_run_and_one_byte_more_is_refused(Backend::Postgres).await;
}

/// A worker's error message and a terminate reason are kept up to 8 KiB and say when they were cut.
async fn long_messages_are_capped_and_say_so(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    let failing = client::submit(&mut admin, task_request("failing", "other_task", Literal::Integer(1)))
        .await
        .id;
    let mut worker = Scripted::new(&server, "w").await;
    let assignment = worker.poll_one().await;
    let error = pb::ExecutionError {
        kind: pb::ErrorKind::User as i32,
        recoverable: false,
        code: "boom".into(),
        message: "é".repeat(50_000),
        node_id: String::new(),
    };
    let results = worker
        .complete(vec![completion(&assignment, pb::completion::Result::Error(error))])
        .await;
    assert_eq!(
        results[0].phase,
        pb::AttemptPhase::Failed as i32,
        "{}",
        results[0].message
    );
    let execution = wait_for_terminal(&mut admin, &failing).await;
    let message = execution.error.expect("error").message;
    assert!(message.len() <= 8 * 1024, "{} bytes", message.len());
    assert!(message.starts_with("éé"), "the message's start is kept");
    assert!(
        message.ends_with("… (truncated from 100000 bytes)"),
        "{}",
        &message[message.len() - 60..]
    );

    let terminated = client::submit(
        &mut admin,
        task_request("terminated", "other_task", Literal::Integer(2)),
    )
    .await
    .id;
    admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id: terminated.clone(),
            reason: "r".repeat(1 << 20),
        })
        .await
        .expect("terminate");
    let execution = wait_for_terminal(&mut admin, &terminated).await;
    let reason = execution.error.expect("error").message;
    assert!(reason.len() <= 8 * 1024, "{} bytes", reason.len());
    assert!(
        reason.ends_with("… (truncated from 1048576 bytes)"),
        "{}",
        &reason[reason.len() - 60..]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_messages_are_capped_and_say_so_on_sqlite() {
    long_messages_are_capped_and_say_so(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_messages_are_capped_and_say_so_on_postgres() {
    long_messages_are_capped_and_say_so(Backend::Postgres).await;
}
