//! Crash safety with real processes: the server is killed with SIGKILL several times in the middle of a 10,000-child
//! fan-out on Postgres and restarted, under a raw gRPC worker and under the Rust SDK's worker in a process of its own;
//! the execution completes with the right list, the generator ran once, and the records are true: no node
//! succeeded twice, no attempt left open under a finished node, every acknowledged completion recorded as
//! acknowledged. A worker process killed mid-attempt has its attempt dispatched again once its lease expires.

use std::time::Instant;

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_store::PgStore;
use gantry_tests::process::Process;
use gantry_tests::raw_worker::{self, Resilient, Tally, id};
use gantry_tests::records::{self, Db};
use gantry_tests::{admin_url, wait_for_terminal};
use tokio::sync::watch;

const SERVER: &str = env!("CARGO_BIN_EXE_gantry-test-server");
const CLAIMER: &str = env!("CARGO_BIN_EXE_gantry-test-claimer");
const SDK_WORKER: &str = env!("CARGO_BIN_EXE_gantry-test-seed-worker");

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

/// Kills the server process when the worker has had this many completions accepted, each time, then restarts it.
const KILL_POINTS: [usize; 3] = [1_500, 4_500, 7_500];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_fan_out_loses_nothing_and_runs_nothing_twice() {
    const CHILDREN: i64 = 10_000;
    let admin_url = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin_url).await.expect("fresh database");
    store.close().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let endpoint = format!("http://{listen}");
    let args = [listen.as_str(), url.as_str(), "2000"];
    let mut server = Process::start(SERVER, &args, "listening on").await;
    let execution_id = register_and_run(&endpoint, "generate_others", ("tasks_count", CHILDREN)).await;

    let (stop, stopped) = watch::channel(false);
    let (tally, mut tallies) = watch::channel(Tally::default());
    let worker = tokio::spawn({
        let endpoint = endpoint.clone();
        let worker = Resilient {
            heartbeat_with: Some(endpoint.clone()),
            endpoint,
            worker_id: "resilient".into(),
            batch: 256,
        };
        async move { worker.run(stopped, tally).await }
    });
    for kill_at in KILL_POINTS {
        let at_kill = tallies
            .wait_for(|t| t.accepted >= kill_at)
            .await
            .expect("progress")
            .accepted;
        server.kill().await;
        let killed = Instant::now();
        server = Process::start(SERVER, &args, "listening on").await;
        let restarted = killed.elapsed();
        tallies
            .wait_for(|t| t.accepted > at_kill)
            .await
            .expect("dispatching again");
        println!(
            "crash: killed after {at_kill} accepted completions; restarted in {restarted:?}; completing again {:?} \
             after the kill",
            killed.elapsed()
        );
    }

    let mut admin = admin(&endpoint).await;
    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    assert_seed_outputs(&mut admin, &execution_id, CHILDREN).await;

    stop.send(true).expect("stop");
    worker.await.expect("worker");
    let final_tally = tallies.borrow().clone();
    assert_eq!(final_tally.generator_runs, 1, "the generator ran once");
    assert!(final_tally.failed_calls > 0, "the kills were felt by the worker");

    // The server's own records: one generator attempt, one success per node, nothing left running, every
    // acknowledged completion recorded as acknowledged.
    let db = Db::postgres(&url).await;
    let report = records::check(&db, &final_tally.acknowledged).await;
    println!("crash: records {report:?}");
    report.assert_sound();
    assert_eq!(report.nodes as i64, CHILDREN + 1);
    db.close().await;
    server.kill().await;
    PgStore::drop_fresh(&admin_url, &url).await.expect("drop");
}

/// The same with the Rust SDK's worker in a process of its own: it heartbeats its attempts and keeps results it could
/// not report (the server was down) until they are acknowledged, so after each restart its heartbeats and repeated
/// completions arrive together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_under_an_sdk_worker_keeps_true_records() {
    const CHILDREN: i64 = 10_000;
    let admin_url = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin_url).await.expect("fresh database");
    store.close().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let endpoint = format!("http://{listen}");
    let args = [listen.as_str(), url.as_str(), "2000"];
    let mut server = Process::start(SERVER, &args, "listening on").await;
    let worker = Process::start(SDK_WORKER, &[endpoint.as_str(), "64"], "worker ready").await;
    let execution_id = run_example(&endpoint, "generate_others", ("tasks_count", CHILDREN)).await;

    let db = Db::postgres(&url).await;
    for kill_at in [2_000, 6_000] {
        let at_kill = wait_for_succeeded_nodes(&db, kill_at).await;
        server.kill().await;
        server = Process::start(SERVER, &args, "listening on").await;
        let after = wait_for_succeeded_nodes(&db, at_kill + 1).await;
        println!("crash under the SDK worker: killed at {at_kill} succeeded nodes, going on ({after})");
    }
    let mut admin = admin(&endpoint).await;
    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    assert_seed_outputs(&mut admin, &execution_id, CHILDREN).await;
    let report = records::check(&db, &[]).await;
    println!("crash under the SDK worker: records {report:?}");
    report.assert_sound();
    assert_eq!(report.nodes as i64, CHILDREN + 1);
    db.close().await;
    worker.kill().await;
    server.kill().await;
    PgStore::drop_fresh(&admin_url, &url).await.expect("drop");
}

/// How many nodes succeeded, once at least `at_least` have (the count is read every 20 ms).
async fn wait_for_succeeded_nodes(db: &Db, at_least: i64) -> i64 {
    let Db::Postgres(pool) = db else {
        unreachable!("the crash tests run on Postgres")
    };
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let succeeded: i64 = sqlx::query_scalar("SELECT count(*) FROM nodes WHERE phase = 'succeeded'")
            .fetch_one(pool)
            .await
            .expect("count");
        if succeeded >= at_least {
            return succeeded;
        }
        assert!(
            Instant::now() < deadline,
            "only {succeeded} nodes succeeded, waiting for {at_least}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The seed's outputs: `[0, 2, ..., 2 * (children - 1)]`.
async fn assert_seed_outputs(
    admin: &mut AdminServiceClient<tonic::transport::Channel>,
    execution_id: &str,
    children: i64,
) {
    let data = admin
        .get_execution_data(pb::GetExecutionDataRequest {
            id: execution_id.to_owned(),
            ..Default::default()
        })
        .await
        .expect("data");
    let outputs: LiteralMap = data.into_inner().outputs.expect("outputs").try_into().expect("convert");
    let expected: Vec<Literal> = (0..children).map(|i| Literal::Integer(i * 2)).collect();
    assert_eq!(outputs["out"], Literal::Collection(expected));
}

/// Starts an example task (registered by the SDK worker) and returns the execution's id.
async fn run_example(endpoint: &str, task: &str, input: (&str, i64)) -> String {
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id(task).into())),
        inputs: Some(LiteralMap::from([(input.0.to_owned(), Literal::Integer(input.1))]).into()),
        ..Default::default()
    };
    admin(endpoint)
        .await
        .create_execution(request)
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution")
        .id
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
