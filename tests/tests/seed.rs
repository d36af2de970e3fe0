//! The seed example end to end: register, run `generate_others(tasks_count)`, a real worker over gRPC, the assembled
//! list read back — on Postgres and on SQLite.

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::raw_worker;
use gantry_tests::{Backend, TestServer, wait_for_terminal};

async fn register(server: &TestServer) {
    let mut admin = server.admin().await;
    for task in raw_worker::task_templates() {
        admin
            .register_task(pb::RegisterTaskRequest {
                task: Some(task.into()),
            })
            .await
            .expect("register");
    }
}

async fn run_seed(server: &TestServer, tasks_count: i64) -> pb::Execution {
    let mut admin = server.admin().await;
    let inputs = LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(tasks_count))]);
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        name: format!("seed-{tasks_count}"),
        target: Some(pb::create_execution_request::Target::Task(
            raw_worker::id("generate_others").into(),
        )),
        inputs: Some(inputs.into()),
        ..Default::default()
    };
    let created = admin.create_execution(request).await.expect("create").into_inner();
    assert!(created.created);
    let id = created.execution.expect("execution").id;
    wait_for_terminal(&mut admin, &id).await
}

async fn outputs(server: &TestServer, id: &str) -> Vec<i64> {
    let mut admin = server.admin().await;
    let data = admin
        .get_execution_data(pb::GetExecutionDataRequest {
            id: id.to_owned(),
            ..Default::default()
        })
        .await
        .expect("data")
        .into_inner();
    let outputs: LiteralMap = data.outputs.expect("outputs").try_into().expect("convert");
    match outputs.get("out") {
        Some(Literal::Collection(items)) => items
            .iter()
            .map(|i| match i {
                Literal::Integer(i) => *i,
                other => panic!("not an integer: {other:?}"),
            })
            .collect(),
        other => panic!("out is not a list: {other:?}"),
    }
}

async fn seed_for(backend: Backend, counts: &[i64]) {
    let server = TestServer::start(backend).await;
    register(&server).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(raw_worker::run(server.worker().await, "raw-1", 256, stopped));
    for &tasks_count in counts {
        let execution = run_seed(&server, tasks_count).await;
        assert_eq!(
            execution.phase,
            pb::ExecutionPhase::Succeeded as i32,
            "N = {tasks_count}: {:?}",
            execution.error
        );
        let expected: Vec<i64> = (0..tasks_count).map(|i| i * 2).collect();
        assert_eq!(outputs(&server, &execution.id).await, expected, "N = {tasks_count}");
    }
    stop.send(true).expect("stop the worker");
    let completed = worker.await.expect("worker");
    assert_eq!(
        completed as i64,
        counts.iter().map(|n| n + 1).sum::<i64>(),
        "each attempt completed once"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_on_sqlite() {
    seed_for(Backend::Sqlite, &[0, 1, 100]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_on_postgres() {
    seed_for(Backend::Postgres, &[0, 1, 100]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_ten_thousand_on_sqlite() {
    seed_for(Backend::Sqlite, &[10_000]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_ten_thousand_on_postgres() {
    seed_for(Backend::Postgres, &[10_000]).await;
}
