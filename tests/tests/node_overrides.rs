//! Node overrides of a task's template through the Rust SDK: a dynamic task's node overrides the image, resources
//! and caching of a task registered without them; the task's handler receives the derived template, a second run of
//! the node hits the cache its override keys, and the registered task is left as it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gantry_core::model::{CacheOverride, Literal, LiteralMap, LiteralType, Resources};
use gantry_proto::v1 as pb;
use gantry_tests::client;
use gantry_tests::sdk::{RunningWorker, task_def};
use gantry_tests::{Backend, TestServer};
use gantry_worker::{Inputs, IntoBinding, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs};

fn probe_def() -> TaskDef {
    task_def("probe")
        .input("i", LiteralType::Integer)
        .output("out", LiteralType::String)
}

fn generator_def() -> TaskDef {
    task_def("probe_generator")
        .input("i", LiteralType::Integer)
        .output("out", LiteralType::String)
}

/// What the probe's template says of its container and cache.
async fn probe(runs: Arc<AtomicUsize>, ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    runs.fetch_add(1, Ordering::SeqCst);
    let task = ctx.task();
    let container = task.container.clone().unwrap_or_default();
    let seen = format!(
        "{}|{:?}|{}|{}",
        container.image, container.resources.requests, task.metadata.cache, task.metadata.cache_version
    );
    Ok(outputs().set("out", seen).into())
}

async fn probe_generator(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let mut spec = ctx.dynamic_spec();
    let i: i64 = inputs.get("i")?;
    let node = spec.task(&probe_def(), [("i", i.into_binding())])?;
    spec.override_image(&node, "registry/app:2");
    spec.override_resources(
        &node,
        Resources {
            requests: [("cpu".to_owned(), "2".to_owned())].into(),
            limits: Default::default(),
        },
    );
    spec.override_cache(
        &node,
        CacheOverride {
            cache: true,
            cache_version: "v2".to_owned(),
            cache_serializable: false,
        },
    );
    spec.set_output("out", node.output("out"));
    Ok(TaskOutput::Dynamic(spec))
}

async fn run(admin: &mut client::Admin) -> Literal {
    let inputs = LiteralMap::from([("i".to_owned(), Literal::Integer(1))]);
    let target = client::task_target(generator_def().id().clone());
    client::run_to_success(admin, target, inputs).await["out"].clone()
}

async fn overrides_reach_the_handler_and_key_the_cache(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_task(&mut admin, probe_def().into_template()).await;
    client::register_task(&mut admin, generator_def().into_template()).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let worker = Worker::builder(server.endpoint.clone())
        .task(probe_def(), move |ctx: TaskContext, _inputs| {
            probe(counter.clone(), ctx)
        })
        .task(generator_def(), probe_generator)
        .build()
        .expect("worker");
    let worker = RunningWorker::spawn(worker);

    let expected = Literal::String(r#"registry/app:2|{"cpu": "2"}|true|v2"#.to_owned());
    assert_eq!(run(&mut admin).await, expected);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(run(&mut admin).await, expected, "the first run's outputs");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "a hit of the cache the override keys");
    let registered = client::task(&mut admin, probe_def().id().clone()).await;
    assert_eq!(registered, Some(pb::TaskTemplate::from(probe_def().into_template())));

    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_reach_the_handler_and_key_the_cache_on_postgres() {
    overrides_reach_the_handler_and_key_the_cache(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_reach_the_handler_and_key_the_cache_on_sqlite() {
    overrides_reach_the_handler_and_key_the_cache(Backend::Sqlite).await;
}
