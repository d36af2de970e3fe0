//! A dynamic spec is limited by the spec limit, not by the message limit: it goes alone in a `CompleteAttempts`
//! call, which the server takes up to `--max-spec-bytes` (256 MiB by default) and the SDK sends as large. So a
//! 1,000,000-node spec (about 89 MB) runs with default settings although a message is 64 MiB. Here both limits are
//! scaled down: messages of 256 KiB on the server and the worker, and a spec of about 2 MB.

use gantry_core::model::{Literal, LiteralType};
use gantry_proto::v1 as pb;
use gantry_tests::client;
use gantry_tests::sdk::{RunningWorker, task_def};
use gantry_tests::{Backend, TestServer, records, wait_for_terminal};
use gantry_worker::{
    DynamicSpec, IntoBinding, References, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs,
};

const MESSAGE_BYTES: usize = 256 * 1024;
const CHILDREN: i64 = 20_000;

fn doubled_def() -> TaskDef {
    task_def("doubled")
        .input("i", LiteralType::Integer)
        .output("out", LiteralType::Integer)
}

fn wide_def() -> TaskDef {
    task_def("wide")
        .input("n", LiteralType::Integer)
        .output("out", LiteralType::collection(LiteralType::Integer))
}

async fn doubled(_ctx: TaskContext, inputs: gantry_worker::Inputs) -> Result<TaskOutput, TaskError> {
    let i: i64 = inputs.get("i")?;
    Ok(outputs().set("out", i * 2).into())
}

async fn wide(ctx: TaskContext, inputs: gantry_worker::Inputs) -> Result<TaskOutput, TaskError> {
    Ok(TaskOutput::Dynamic(wide_spec(ctx.dynamic_spec(), inputs.get("n")?)?))
}

/// `n` children doubling their index, and the list of their outputs.
fn wide_spec(mut spec: DynamicSpec, n: i64) -> Result<DynamicSpec, TaskError> {
    let mut results = Vec::new();
    for i in 0..n {
        results.push(spec.task(&doubled_def(), [("i", i.into_binding())])?.output("out"));
    }
    spec.set_output("out", results);
    Ok(spec)
}

async fn a_spec_beyond_the_message_limit_runs(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.max_message_bytes = MESSAGE_BYTES).await;
    let mut admin = server.admin().await;
    let worker = Worker::builder(server.endpoint.clone())
        .concurrency(8)
        .max_message_bytes(MESSAGE_BYTES)
        .task(doubled_def(), doubled)
        .task(wide_def(), wide)
        .build()
        .expect("worker");
    worker.register_tasks().await.expect("register");
    let worker = RunningWorker::spawn(worker);

    let sent = wide_spec(DynamicSpec::new(), CHILDREN)
        .expect("within the default limits")
        .encoded_len();
    assert!(
        sent > 4 * MESSAGE_BYTES as u64,
        "the spec ({sent} bytes) is larger than a message"
    );
    let inputs = [("n".to_owned(), Literal::Integer(CHILDREN))].into();
    let created = client::create(&mut admin, client::task_target(wide_def().id().clone()), inputs, |_| {}).await;
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    // The list is larger than half a message: it comes by reference, read as the SDK reads it.
    let request = pb::GetExecutionDataRequest {
        id: execution.id.clone(),
        references: false,
    };
    let data = admin.get_execution_data(request).await.expect("data").into_inner();
    let values = References::from_client(admin.clone())
        .resolve_map(data.outputs.expect("outputs"))
        .await
        .expect("references read");
    let out = Literal::try_from(values.literals["out"].clone()).expect("a literal");
    let expected = Literal::Collection((0..CHILDREN).map(|i| Literal::Integer(2 * i)).collect());
    assert!(
        out == expected,
        "the outputs are every child's index, doubled, in order"
    );
    records::check(&server.records_db().await, &[]).await.assert_sound();

    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_beyond_the_message_limit_runs_on_postgres() {
    a_spec_beyond_the_message_limit_runs(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_beyond_the_message_limit_runs_on_sqlite() {
    a_spec_beyond_the_message_limit_runs(Backend::Sqlite).await;
}
