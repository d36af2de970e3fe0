//! Crash safety with real processes: the server is killed with SIGKILL in the middle of a 10,000-child fan-out on
//! Postgres and restarted; the execution completes with the right list, the generator ran once and no child was
//! completed twice. A worker process killed mid-attempt has its attempt dispatched again once its lease expires.

use std::time::Instant;

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_store::PgStore;
use gantry_tests::process::Process;
use gantry_tests::raw_worker::{self, Tally, id};
use gantry_tests::{admin_url, wait_for_terminal};
use tokio::sync::watch;

const SERVER: &str = env!("CARGO_BIN_EXE_gantry-test-server");
const CLAIMER: &str = env!("CARGO_BIN_EXE_gantry-test-claimer");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn admin(endpoint: &str) -> AdminServiceClient<tonic::transport::Channel> {
    AdminServiceClient::connect(endpoint.to_owned())
        .await
        .expect("connect")
        .max_decoding_message_size(256 << 20)
}

async fn register_and_run(endpoint: &str, task: &str, input: (&str, i64)) -> String {
    let mut admin = admin(endpoint).await;
    for template in raw_worker::task_templates() {
        admin
            .register_task(pb::RegisterTaskRequest {
                task: Some(template.into()),
            })
            .await
            .expect("register");
    }
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id(task).into())),
        inputs: Some(LiteralMap::from([(input.0.to_owned(), Literal::Integer(input.1))]).into()),
        ..Default::default()
    };
    admin
        .create_execution(request)
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_fan_out_loses_nothing_and_runs_nothing_twice() {
    const CHILDREN: i64 = 10_000;
    let admin_url = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin_url).await.expect("fresh database");
    store.close().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let endpoint = format!("http://{listen}");
    let args = [listen.as_str(), url.as_str(), "2000"];
    let server = Process::start(SERVER, &args, "listening on").await;
    let execution_id = register_and_run(&endpoint, "generate_others", ("tasks_count", CHILDREN)).await;

    let (stop, stopped) = watch::channel(false);
    let (tally, mut tallies) = watch::channel(Tally::default());
    let worker = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { raw_worker::run_resilient(endpoint, "resilient", 256, stopped, tally).await }
    });
    let at_kill = tallies
        .wait_for(|t| t.accepted >= 3_000)
        .await
        .expect("progress")
        .clone();
    server.kill().await;
    let killed = Instant::now();
    let server = Process::start(SERVER, &args, "listening on").await;
    let restarted = killed.elapsed();
    let before = tallies.borrow().accepted;
    tallies
        .wait_for(|t| t.accepted > before)
        .await
        .expect("dispatching again");
    println!(
        "crash: killed after {} accepted completions; restarted in {:?}; completing again {:?} after the kill",
        at_kill.accepted,
        restarted,
        killed.elapsed()
    );

    let mut admin = admin(&endpoint).await;
    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    let data = admin
        .get_execution_data(pb::GetExecutionDataRequest {
            id: execution_id.clone(),
            ..Default::default()
        })
        .await
        .expect("data");
    let outputs: LiteralMap = data.into_inner().outputs.expect("outputs").try_into().expect("convert");
    let expected: Vec<Literal> = (0..CHILDREN).map(|i| Literal::Integer(i * 2)).collect();
    assert_eq!(outputs["out"], Literal::Collection(expected));

    stop.send(true).expect("stop");
    worker.await.expect("worker");
    let final_tally = tallies.borrow().clone();
    assert_eq!(final_tally.generator_runs, 1, "the generator ran once");
    assert!(final_tally.failed_calls > 0, "the kill was felt by the worker");

    // The server's own records: one generator attempt, one success per node, nothing left running.
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let generator_attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM attempts WHERE node_id = 'n0'")
        .fetch_one(&pool)
        .await
        .expect("query");
    assert_eq!(generator_attempts, 1);
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT node_id FROM attempts WHERE phase = 'succeeded' GROUP BY node_id HAVING count(*) > 1) t",
    )
    .fetch_one(&pool)
    .await
    .expect("query");
    assert_eq!(twice, 0, "no node completed twice");
    let nodes: i64 = sqlx::query_scalar("SELECT count(*) FROM nodes WHERE phase = 'succeeded'")
        .fetch_one(&pool)
        .await
        .expect("q");
    assert_eq!(nodes, CHILDREN + 1);
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM attempts WHERE phase IN ('queued', 'running')")
        .fetch_one(&pool)
        .await
        .expect("query");
    assert_eq!(open, 0, "nothing left queued or running");
    pool.close().await;
    server.kill().await;
    PgStore::drop_fresh(&admin_url, &url).await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_process_attempt_is_dispatched_again_after_its_lease() {
    let admin_url = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin_url).await.expect("fresh database");
    store.close().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let endpoint = format!("http://{listen}");
    let server = Process::start(SERVER, &[listen.as_str(), url.as_str(), "500"], "listening on").await;
    let execution_id = register_and_run(&endpoint, "other_task", ("index", 4)).await;

    let claimer = Process::start(CLAIMER, &[endpoint.as_str()], "claimed").await;
    assert_eq!(claimer.ready, "n0 0");
    claimer.kill().await;
    let (stop, stopped) = watch::channel(false);
    let (tally, _tallies) = watch::channel(Tally::default());
    let worker = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { raw_worker::run_resilient(endpoint, "rescuer", 8, stopped, tally).await }
    });
    let mut admin = admin(&endpoint).await;
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
    assert_eq!(attempts.len(), 2, "the dead worker's attempt and the retry");
    assert_eq!(
        attempts[0].error.as_ref().map(|e| e.code.as_str()),
        Some("lease_expired")
    );
    assert!(attempts[0].worker_id.starts_with("claimer-"));
    assert_eq!(
        (attempts[1].worker_id.as_str(), attempts[1].phase),
        ("rescuer", pb::AttemptPhase::Succeeded as i32)
    );
    stop.send(true).expect("stop");
    worker.await.expect("worker");
    server.kill().await;
    PgStore::drop_fresh(&admin_url, &url).await.expect("drop");
}
