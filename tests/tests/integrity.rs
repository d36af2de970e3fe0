//! Nothing the server acknowledged is ever undone, whatever arrives with it: the heartbeat/completion race
//! (`gantry_tests::race`) against one server, on both stores. Before the fix a heartbeat applied after the completion
//! in the same batch wrote the attempt back to `running`: 180 of 200 first attempts were left running under
//! succeeded nodes.

use std::time::Duration;

use gantry_tests::race::{self, Endpoints};
use gantry_tests::{Backend, TestServer};

async fn completion_and_heartbeat_together(backend: Backend) {
    let server = TestServer::start(backend).await;
    let endpoints = Endpoints {
        main: server.endpoint.clone(),
        heartbeats: server.endpoint.clone(),
        busy: vec![server.endpoint.clone()],
    };
    let db = server.records_db().await;
    let outcome = race::run(&endpoints, &db).await;
    db.close().await;
    println!(
        "{backend:?}: {} of {} executions failed; {} completions acknowledged; {} empty polls alongside; records {:?}",
        outcome.failed_executions.len(),
        race::EXECUTIONS,
        outcome.acknowledged.len(),
        outcome.empty_polls,
        outcome.report
    );
    outcome.assert_nothing_undone();
    // The heartbeats sent with the last completions must not keep anything alive.
    tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .expect("the server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_with_a_completion_undoes_nothing_postgres() {
    completion_and_heartbeat_together(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_with_a_completion_undoes_nothing_sqlite() {
    completion_and_heartbeat_together(Backend::Sqlite).await;
}
