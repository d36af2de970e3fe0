//! The plugin payload end to end: a task registered with a payload comes back byte for byte from GetTask, and the
//! Rust SDK's handler reads exactly the registered bytes and config from its context; a template embedded in a
//! dynamic spec (and registered nowhere) delivers its own payload to the children's worker, and so does one that
//! differs from the template registered under its id (it runs scoped to its spec, the registered one unchanged); a
//! payload over the limit is refused at registration with INVALID_ARGUMENT naming `task.plugin`.

use gantry_core::model::{Literal, LiteralMap, LiteralType, MAX_PLUGIN_BYTES, TaskPlugin};
use gantry_proto::v1 as pb;
use gantry_tests::client;
use gantry_tests::sdk::{RunningWorker, task_def};
use gantry_tests::{Backend, TestServer};
use gantry_worker::{Inputs, IntoBinding, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs};
use prost::Message;

fn plugin(task_type: &str, custom: &[u8]) -> TaskPlugin {
    TaskPlugin {
        task_type: task_type.to_owned(),
        custom: custom.to_vec(),
        config: [
            ("image".to_owned(), "cr.flyte.org/app:1".to_owned()),
            ("empty".to_owned(), String::new()),
        ]
        .into(),
    }
}

/// Bytes that are not UTF-8 and hold zeros: the payload is never text to Gantry.
fn registered_plugin() -> TaskPlugin {
    plugin("python-task", &[0x0a, 0x00, 0xff, 0xfe, 0x80, b'x'])
}

fn embedded_plugin() -> TaskPlugin {
    plugin("container_array", &[0x00, 0x00, 0x01, 0xc3, 0x28])
}

fn flyte_def() -> TaskDef {
    task_def("flyte_echo")
        .input("i", LiteralType::Integer)
        .output("out", LiteralType::Integer)
        .plugin(registered_plugin())
}

fn embedded_def() -> TaskDef {
    task_def("flyte_embedded")
        .input("i", LiteralType::Integer)
        .output("out", LiteralType::Integer)
        .plugin(embedded_plugin())
}

/// Served with the embedded payload; registered with the other one, which its generator's specs do not change.
fn shadowed_def() -> TaskDef {
    task_def("flyte_shadowed")
        .input("i", LiteralType::Integer)
        .output("out", LiteralType::Integer)
        .plugin(embedded_plugin())
}

fn shadow_generator_def() -> TaskDef {
    task_def("flyte_shadow_generator")
        .input("n", LiteralType::Integer)
        .output("out", LiteralType::collection(LiteralType::Integer))
}

fn generator_def() -> TaskDef {
    task_def("flyte_generator")
        .input("n", LiteralType::Integer)
        .output("out", LiteralType::collection(LiteralType::Integer))
}

/// Doubles `i` when the context holds exactly `expected`; a non-recoverable user error naming the difference if not.
fn check_and_double(ctx: &TaskContext, inputs: &Inputs, expected: &TaskPlugin) -> Result<TaskOutput, TaskError> {
    if ctx.plugin() != Some(expected) {
        let message = format!("expected plugin {expected:?}, received {:?}", ctx.plugin());
        return Err(TaskError::user(message).non_recoverable().with_code("wrong_plugin"));
    }
    let i: i64 = inputs.get("i")?;
    Ok(outputs().set("out", i * 2).into())
}

async fn flyte_echo(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    check_and_double(&ctx, &inputs, &registered_plugin())
}

async fn flyte_embedded(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    check_and_double(&ctx, &inputs, &embedded_plugin())
}

/// A spec of `n` nodes running `child`, embedded.
fn embedding(ctx: &TaskContext, inputs: &Inputs, child: TaskDef) -> Result<TaskOutput, TaskError> {
    if ctx.plugin().is_some() {
        return Err(TaskError::user("the generator has no payload").non_recoverable());
    }
    let mut spec = ctx.dynamic_spec();
    spec.embed(child.clone());
    let mut results = Vec::new();
    for i in 0..inputs.get::<i64>("n")? {
        results.push(spec.task(&child, [("i", i.into_binding())])?.output("out"));
    }
    spec.set_output("out", results);
    Ok(TaskOutput::Dynamic(spec))
}

async fn flyte_generator(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    embedding(&ctx, &inputs, embedded_def())
}

async fn flyte_shadow_generator(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    embedding(&ctx, &inputs, shadowed_def())
}

async fn run(admin: &mut client::Admin, def: &TaskDef, input: (&str, i64)) -> LiteralMap {
    let inputs = [(input.0.to_owned(), Literal::Integer(input.1))].into();
    client::run_to_success(admin, client::task_target(def.id().clone()), inputs).await
}

async fn payloads_reach_the_handlers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    // Only these two are registered: `flyte_embedded` exists only inside the generator's specs.
    client::register_task(&mut admin, flyte_def().into_template()).await;
    client::register_task(&mut admin, generator_def().into_template()).await;
    client::register_task(&mut admin, shadow_generator_def().into_template()).await;
    let registered_shadow = shadowed_def().plugin(registered_plugin()).into_template();
    client::register_task(&mut admin, registered_shadow.clone()).await;

    let got = client::task(&mut admin, flyte_def().id().clone()).await;
    let read = got.and_then(|task| task.plugin).expect("the payload is returned");
    assert_eq!(
        read.encode_to_vec(),
        pb::TaskPlugin::from(registered_plugin()).encode_to_vec()
    );

    // One byte over the limit (the custom bytes' tag and 3-byte length take 4): refused, naming the field and limit.
    let mut oversized = pb::TaskTemplate::from(task_def("flyte_oversized").into_template());
    let mut payload = pb::TaskPlugin::from(plugin("python-task", &[]));
    payload.custom = vec![1; MAX_PLUGIN_BYTES + 1 - payload.encoded_len() - 4];
    assert_eq!(payload.encoded_len(), MAX_PLUGIN_BYTES + 1);
    oversized.plugin = Some(payload);
    let refused = admin
        .register_task(pb::RegisterTaskRequest { task: Some(oversized) })
        .await
        .expect_err("over the limit");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("task.plugin") && refused.message().contains(&MAX_PLUGIN_BYTES.to_string()),
        "{}",
        refused.message()
    );

    let worker = Worker::builder(server.endpoint.clone())
        .task(flyte_def(), flyte_echo)
        .task(embedded_def(), flyte_embedded)
        .task(generator_def(), flyte_generator)
        .task(shadowed_def(), flyte_embedded)
        .task(shadow_generator_def(), flyte_shadow_generator)
        .build()
        .expect("worker");
    let worker = RunningWorker::spawn(worker);

    let echoed = run(&mut admin, &flyte_def(), ("i", 21)).await;
    assert_eq!(echoed["out"], Literal::Integer(42));
    let generated = run(&mut admin, &generator_def(), ("n", 3)).await;
    assert_eq!(
        generated["out"],
        Literal::Collection((0..3).map(|i| Literal::Integer(2 * i)).collect())
    );

    // The embedded `flyte_shadowed` differs from the registered one: its children run it (the handler checks the
    // embedded payload) under a scoped version, and the registered template is unchanged.
    let shadowed = run(&mut admin, &shadow_generator_def(), ("n", 2)).await;
    assert_eq!(
        shadowed["out"],
        Literal::Collection((0..2).map(|i| Literal::Integer(2 * i)).collect())
    );
    let got = client::task(&mut admin, shadowed_def().id().clone()).await;
    assert_eq!(got, Some(pb::TaskTemplate::from(registered_shadow)));
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_reach_the_handlers_on_postgres() {
    payloads_reach_the_handlers(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_reach_the_handlers_on_sqlite() {
    payloads_reach_the_handlers(Backend::Sqlite).await;
}
