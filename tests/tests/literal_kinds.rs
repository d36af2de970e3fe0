//! Literal hashes, error values and type tags through the API and the Rust SDK:
//! - a client's input carries a hash to the handler, the handler's hashed output comes back from the API with its
//!   hash, and a cached task keyed by a hash does not run again for another value under the same hash (Flyte's
//!   `HashMethod`: a dataframe written again under a new URI);
//! - an error value (Flyte's `Scalar.error`) goes in and out of a task typed `error`, and anything else is refused;
//! - a union value stamped with a tagged variant reaches the handler and comes back with its tag, where a plain value
//!   is stamped with the first variant.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gantry_core::model::{ErrorValue, Literal, LiteralMap, LiteralType, UnionValue};
use gantry_proto::v1 as pb;
use gantry_tests::client;
use gantry_tests::sdk::{RunningWorker, task_def};
use gantry_tests::{Backend, TestServer};
use gantry_worker::{Inputs, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs};

fn rows_def() -> TaskDef {
    task_def("frame_rows")
        .input("frame", LiteralType::Integer)
        .output("rows", LiteralType::Integer)
        .cache("1")
}

/// Doubles the frame, hashing the result after the frame's hash; counts its runs.
async fn frame_rows(runs: Arc<AtomicUsize>, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    runs.fetch_add(1, Ordering::SeqCst);
    let frame: Literal = inputs.get("frame")?;
    let hash = frame.hash().unwrap_or("none").to_owned();
    let value: i64 = inputs.get("frame")?;
    let rows = Literal::hashed(format!("rows-of-{hash}"), Literal::Integer(value * 2));
    Ok(outputs().set("rows", rows).into())
}

/// `union<integer ("int") | integer ("count")>`: two variants of one type, told apart by their tags.
fn counted() -> LiteralType {
    let tagged = |tag: &str| LiteralType::tagged(tag.to_owned(), LiteralType::Integer);
    LiteralType::Union(vec![tagged("int"), tagged("count")])
}

fn stamped(tag: &str, value: i64) -> Literal {
    Literal::Union(Box::new(UnionValue {
        value: Literal::Integer(value),
        variant: LiteralType::tagged(tag.to_owned(), LiteralType::Integer),
    }))
}

fn echo_def() -> TaskDef {
    task_def("echo_counted").input("n", counted()).output("n", counted())
}

/// Returns its input as it received it, stamp and all.
async fn echo_counted(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let n: Literal = inputs.get("n")?;
    Ok(outputs().set("n", n).into())
}

fn handler_def() -> TaskDef {
    task_def("handle_failure")
        .input("failure", LiteralType::Error)
        .output("handled", LiteralType::Error)
}

async fn handle_failure(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let failure: ErrorValue = inputs.get("failure")?;
    let handled = ErrorValue {
        message: format!("handled: {}", failure.message),
        ..failure
    };
    Ok(outputs().set("handled", handled).into())
}

async fn run(admin: &mut client::Admin, frame: Literal) -> Literal {
    let inputs = LiteralMap::from([("frame".to_owned(), frame)]);
    let target = client::task_target(rows_def().id().clone());
    client::run_to_success(admin, target, inputs).await["rows"].clone()
}

async fn hashes_error_values_and_tags_travel_through_the_api(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_task(&mut admin, rows_def().into_template()).await;
    client::register_task(&mut admin, handler_def().into_template()).await;
    client::register_task(&mut admin, echo_def().into_template()).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let worker = Worker::builder(server.endpoint.clone())
        .task(rows_def(), move |_ctx: TaskContext, inputs| {
            frame_rows(counter.clone(), inputs)
        })
        .task(handler_def(), handle_failure)
        .task(echo_def(), echo_counted)
        .build()
        .expect("worker");
    let worker = RunningWorker::spawn(worker);
    let hashed = |hash: &str, value| Literal::hashed(hash.to_owned(), Literal::Integer(value));

    assert_eq!(
        run(&mut admin, hashed("frame-a", 3)).await,
        hashed("rows-of-frame-a", 6)
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Another value under the same hash: a cache hit, with the first run's outputs.
    assert_eq!(
        run(&mut admin, hashed("frame-a", 4)).await,
        hashed("rows-of-frame-a", 6)
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the hit ran nothing");
    // The same value without a hash is another entry.
    assert_eq!(run(&mut admin, Literal::Integer(3)).await, hashed("rows-of-none", 6));
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    let failure = ErrorValue {
        failed_node_id: "n0/0/dn3".to_owned(),
        message: "the disk is full".to_owned(),
    };
    let inputs = LiteralMap::from([("failure".to_owned(), Literal::Error(failure))]);
    let target = client::task_target(handler_def().id().clone());
    let handled = ErrorValue {
        failed_node_id: "n0/0/dn3".to_owned(),
        message: "handled: the disk is full".to_owned(),
    };
    let outputs = client::run_to_success(&mut admin, target.clone(), inputs).await;
    assert_eq!(outputs["handled"], Literal::Error(handled));
    let echo = |n: Literal| {
        (
            client::task_target(echo_def().id().clone()),
            LiteralMap::from([("n".to_owned(), n)]),
        )
    };
    let (target_echo, inputs) = echo(stamped("count", 3));
    let outputs = client::run_to_success(&mut admin, target_echo, inputs).await;
    assert_eq!(
        outputs["n"],
        stamped("count", 3),
        "the `count` stamp, not the first variant of that type"
    );
    let (target_echo, inputs) = echo(Literal::Integer(3));
    let outputs = client::run_to_success(&mut admin, target_echo, inputs).await;
    assert_eq!(outputs["n"], stamped("int", 3), "a plain value takes the first variant");

    let wrong = pb::CreateExecutionRequest {
        project: "demo".to_owned(),
        domain: "dev".to_owned(),
        inputs: Some(LiteralMap::from([("failure".to_owned(), Literal::String("boom".to_owned()))]).into()),
        target: Some(target),
        ..Default::default()
    };
    let refused = admin
        .create_execution(wrong)
        .await
        .expect_err("a string is not an error");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("expected error, got string"),
        "{}",
        refused.message()
    );

    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_error_values_and_tags_travel_through_the_api_on_postgres() {
    hashes_error_values_and_tags_travel_through_the_api(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_error_values_and_tags_travel_through_the_api_on_sqlite() {
    hashes_error_values_and_tags_travel_through_the_api(Backend::Sqlite).await;
}
