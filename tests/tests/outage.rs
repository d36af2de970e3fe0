//! Database outages, simulated by a proxy between the server and the real Postgres that refuses new connections
//! and closes open ones, then comes back on the same port:
//! - while the database is unreachable every call, admin and worker, reads and writes, answers UNAVAILABLE within
//!   2 s (a burst of them at once too, and a long poll that was waiting when it went), and `grpc.health.v1` says
//!   NOT_SERVING; once it is back the server says SERVING again by itself, listens for other replicas again, honours
//!   the lease of an attempt held across the outage, and runs new work;
//! - an outage of twice the lease, while a fan-out's attempts run on real SDK workers behind two server replicas,
//!   re-runs nothing: one attempt per node, none `lease_expired`, outputs exact, nothing left running; completions
//!   made during the outage are retried until acknowledged.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin};
use gantry_tests::outage::{CALL_CAP, ProxiedServer, Timed, check_all, timed, wait_all, watch_health};
use gantry_tests::process::Process;
use gantry_tests::raw_worker::{self, id};
use gantry_tests::scripted::{self, Scripted};
use gantry_tests::{ops, wait_for_terminal};
use tokio::sync::watch;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

const SDK_WORKER: &str = env!("CARGO_BIN_EXE_gantry-test-sdk-worker");
/// What every call must answer within while the database is unreachable.
const FAIL_FAST: Duration = Duration::from_secs(2);
const LEASE: Duration = Duration::from_secs(2);

fn integer_input(name: &str, value: i64) -> LiteralMap {
    LiteralMap::from([(name.to_owned(), Literal::Integer(value))])
}

fn poll_request(worker_id: &str, queue: &str, wait_seconds: i64) -> pb::PollTasksRequest {
    pb::PollTasksRequest {
        worker_id: worker_id.to_owned(),
        queues: vec![queue.to_owned()],
        max_attempts: 1,
        wait: Some(prost_types::Duration {
            seconds: wait_seconds,
            nanos: 0,
        }),
        completions: Vec::new(),
    }
}

fn create_request(index: i64) -> pb::CreateExecutionRequest {
    pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(client::task_target(id("other_task"))),
        inputs: Some(integer_input("index", index).into()),
        ..Default::default()
    }
}

fn leased(assignment: &pb::AttemptAssignment) -> pb::LeasedAttempt {
    pb::LeasedAttempt {
        attempt: assignment.attempt.clone(),
        lease_id: assignment.lease_id.clone(),
    }
}

/// The backend holding the server's `LISTEN` for other replicas' announcements, once there is one.
async fn listening_backend(pool: &sqlx::PgPool, database: &str, not: Option<i32>) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%' ORDER BY backend_start",
        )
        .bind(database)
        .fetch_all(pool)
        .await
        .expect("pg_stat_activity");
        if let Some(pid) = pids.into_iter().find(|pid| Some(*pid) != not) {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "the server is not listening for queue announcements"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn print_calls(calls: &[Timed]) {
    for call in calls {
        println!(
            "outage: {} answered {:?} after {:?}: {}",
            call.what, call.code, call.took, call.message
        );
    }
}

fn assert_fast_unavailable(calls: &[Timed]) {
    for call in calls {
        assert_eq!(
            call.code,
            Code::Unavailable,
            "{} answered {:?}: {}",
            call.what,
            call.code,
            call.message
        );
        assert!(call.took <= FAIL_FAST, "{} took {:?}", call.what, call.took);
        assert!(
            call.message.contains("database"),
            "{}: unclear message {:?}",
            call.what,
            call.message
        );
    }
}

/// A burst of calls of every kind made together right as the database goes: none waits behind another.
async fn burst(endpoint: &str, execution_id: &str, held: &pb::AttemptAssignment) -> Vec<Timed> {
    let mut calls = tokio::task::JoinSet::new();
    for round in 0..8 {
        let mut admin = client_admin(endpoint).await;
        let mut worker = client_worker(endpoint).await;
        let execution_id = execution_id.to_owned();
        let held = leased(held);
        calls.spawn(async move {
            let request = pb::GetExecutionRequest {
                id: execution_id,
                ..Default::default()
            };
            vec![
                timed("GetExecution (burst)", admin.get_execution(request)).await,
                timed(
                    "CreateExecution (burst)",
                    admin.create_execution(create_request(100 + round)),
                )
                .await,
                timed(
                    "Heartbeat (burst)",
                    worker.heartbeat(pb::HeartbeatRequest {
                        worker_id: "scripted".into(),
                        attempts: vec![held],
                    }),
                )
                .await,
                timed(
                    "PollTasks (burst)",
                    worker.poll_tasks(poll_request("burst", "default", 5)),
                )
                .await,
            ]
        });
    }
    let mut all = Vec::new();
    while let Some(done) = calls.join_next().await {
        all.extend(done.expect("a burst task"));
    }
    all
}

async fn client_admin(endpoint: &str) -> Admin {
    pb::admin_service_client::AdminServiceClient::connect(endpoint.to_owned())
        .await
        .expect("admin connects")
}

async fn client_worker(endpoint: &str) -> pb::worker_service_client::WorkerServiceClient<tonic::transport::Channel> {
    pb::worker_service_client::WorkerServiceClient::connect(endpoint.to_owned())
        .await
        .expect("worker connects")
}

/// One call of every kind, one after the other.
async fn one_of_each(endpoint: &str, execution_id: &str, held: &pb::AttemptAssignment) -> Vec<Timed> {
    let mut admin = client_admin(endpoint).await;
    let mut worker = client_worker(endpoint).await;
    let id = execution_id.to_owned();
    let register = pb::RegisterTaskRequest {
        task: Some(raw_worker::task_templates()[0].clone().into()),
    };
    let complete = pb::CompleteAttemptsRequest {
        worker_id: "scripted".into(),
        completions: vec![raw_worker::completion(held, raw_worker::result_for(held))],
    };
    let watch = pb::WatchExecutionRequest {
        execution_id: id.clone(),
        include_snapshot: true,
        after_sequence: 0,
    };
    vec![
        timed(
            "GetExecution",
            admin.get_execution(pb::GetExecutionRequest {
                id: id.clone(),
                ..Default::default()
            }),
        )
        .await,
        timed(
            "ListExecutions",
            admin.list_executions(pb::ListExecutionsRequest {
                project: "demo".into(),
                domain: "dev".into(),
                ..Default::default()
            }),
        )
        .await,
        timed(
            "ListNodeExecutions",
            admin.list_node_executions(pb::ListNodeExecutionsRequest {
                execution_id: id.clone(),
                ..Default::default()
            }),
        )
        .await,
        timed(
            "ListTaskAttempts",
            admin.list_task_attempts(pb::ListTaskAttemptsRequest {
                execution_id: id.clone(),
                node_id: "n0".into(),
            }),
        )
        .await,
        timed("WatchExecution", admin.watch_execution(watch)).await,
        timed("CreateExecution", admin.create_execution(create_request(7))).await,
        timed("RegisterTask", admin.register_task(register)).await,
        timed(
            "TerminateExecution",
            admin.terminate_execution(pb::TerminateExecutionRequest {
                id,
                reason: String::new(),
            }),
        )
        .await,
        timed("PollTasks", worker.poll_tasks(poll_request("scripted", "default", 5))).await,
        timed(
            "Heartbeat",
            worker.heartbeat(pb::HeartbeatRequest {
                worker_id: "scripted".into(),
                attempts: vec![leased(held)],
            }),
        )
        .await,
        timed("CompleteAttempts", worker.complete_attempts(complete)).await,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_down_calls_fail_fast_health_says_so_and_the_server_recovers_by_itself() {
    let outage = ProxiedServer::start(|config| {
        config.lease = LEASE;
        config.http_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let endpoint = outage.server.endpoint.clone();
    let http = outage.server.server.http_addr().expect("the HTTP port");
    assert_eq!(ops::get(http, "/readyz").await, (200, "ready\n".to_owned()));
    let mut admin = outage.server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    let first = client::create(
        &mut admin,
        client::task_target(id("other_task")),
        integer_input("index", 4),
        |_| {},
    )
    .await;
    let mut worker = Scripted::new(&outage.server, "scripted").await;
    let held = worker.poll_one().await;
    let pool = outage.direct_pool().await;
    let listener_before = listening_backend(&pool, &outage.database, None).await;
    let mut health = watch_health(&endpoint).await;
    wait_all(
        &mut health,
        ServingStatus::Serving,
        Duration::from_secs(5),
        Instant::now(),
    )
    .await;

    // A long poll waiting for work on an empty queue when the database goes.
    let mut waiting_client = client_worker(&endpoint).await;
    let waiting_poll = tokio::spawn(async move {
        timed(
            "PollTasks (waiting since before the outage)",
            waiting_client.poll_tasks(poll_request("waiter", "idle", 30)),
        )
        .await
    });

    let cut = Instant::now();
    outage.proxy.cut().await;
    let mut calls = burst(&endpoint, &first.id, &held).await;
    calls.push(waiting_poll.await.expect("the waiting poll"));
    calls.extend(one_of_each(&endpoint, &first.id, &held).await);
    print_calls(&calls);
    let slowest = calls.iter().map(|call| call.took).max().unwrap_or_default();
    println!("outage: {} calls, the slowest answered after {slowest:?}", calls.len());
    let not_serving = wait_all(&mut health, ServingStatus::NotServing, FAIL_FAST, cut).await;
    println!("outage: health NOT_SERVING {not_serving:?} after the cut");
    // Readiness follows the same finding, and the liveness probe does not: the process is fine.
    let (status, body) = ops::get(http, "/readyz").await;
    assert_eq!(
        (status, body.as_str()),
        (503, "not ready: the database is unreachable\n")
    );
    assert_eq!(ops::get(http, "/healthz").await.0, 200);
    assert_eq!(ops::scrape(http).await.sum("gantry_ready", &[]), Some(0.0));
    assert_fast_unavailable(&calls);
    for (service, status) in check_all(&endpoint).await {
        assert_eq!(
            status,
            ServingStatus::NotServing,
            "health of {service:?} during the outage"
        );
    }
    // Twice the lease without the database: the held attempt's lease passed long ago, by the clock.
    tokio::time::sleep((cut + 2 * LEASE).saturating_duration_since(Instant::now())).await;

    let restored = Instant::now();
    outage.proxy.restore().await;
    let serving = wait_all(&mut health, ServingStatus::Serving, CALL_CAP, restored).await;
    println!(
        "outage: {:?} long; health SERVING {serving:?} after the database came back",
        restored - cut
    );
    for (service, status) in check_all(&endpoint).await {
        assert_eq!(status, ServingStatus::Serving, "health of {service:?} after the outage");
    }
    assert_eq!(ops::get(http, "/readyz").await.0, 200);

    // The attempt held across the outage still has its lease: the outage did not count against it.
    let statuses = worker.heartbeat(std::slice::from_ref(&held)).await;
    assert_eq!(
        statuses[0].state,
        pb::LeaseState::Extended as i32,
        "the lease held across the outage"
    );
    worker.finish(&held, raw_worker::result_for(&held)).await;
    let execution = wait_for_terminal(&mut admin, &first.id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Succeeded as i32);
    let attempts = scripted::attempts(&mut admin, &first.id, "n0").await;
    assert_eq!(attempts.len(), 1, "one attempt: {attempts:?}");
    assert_eq!(attempts[0].phase, pb::AttemptPhase::Succeeded as i32);

    // Nothing written during the outage was half-applied: no execution was created, the first one not terminated.
    let listed = admin
        .list_executions(pb::ListExecutionsRequest {
            project: "demo".into(),
            domain: "dev".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .executions;
    assert_eq!(listed.len(), 1, "only the execution made before the outage");

    // New work runs, and the server listens for other replicas again.
    let second = client::create(
        &mut admin,
        client::task_target(id("other_task")),
        integer_input("index", 5),
        |_| {},
    )
    .await;
    let assignment = worker.poll_one().await;
    worker.finish(&assignment, raw_worker::result_for(&assignment)).await;
    let execution = wait_for_terminal(&mut admin, &second.id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Succeeded as i32);
    assert_eq!(
        client::outputs(&mut admin, &second.id).await["other_task_out"],
        Literal::Integer(10)
    );
    let listener_after = listening_backend(&pool, &outage.database, Some(listener_before)).await;
    assert_ne!(listener_after, listener_before);

    pool.close().await;
    drop(health);
    outage.server.stop().await;
}

/// What the SDK workers printed: `running INDEX ATTEMPT` and `returned INDEX ATTEMPT` lines.
#[derive(Debug, Default, Clone)]
struct Runs {
    started: BTreeMap<i64, Vec<u32>>,
    returned: usize,
}

impl Runs {
    fn record(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let (Some(what), Some(index), Some(attempt)) = (words.next(), words.next(), words.next()) else {
            return;
        };
        let (Ok(index), Ok(attempt)) = (index.parse::<i64>(), attempt.parse::<u32>()) else {
            return;
        };
        match what {
            "running" => self.started.entry(index).or_default().push(attempt),
            "returned" => self.returned += 1,
            _ => {}
        }
    }
}

async fn start_sdk_worker(endpoint: &str, runs: &watch::Sender<Runs>) -> Process {
    let mut process = Process::start(SDK_WORKER, &[endpoint, "8"], "ready").await;
    let mut lines = process.take_lines();
    let runs = runs.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            runs.send_modify(|runs| runs.record(&line));
        }
    });
    process
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_twice_the_lease_under_a_running_fan_out_re_runs_nothing() {
    const CHILDREN: i64 = 16;
    let outage = ProxiedServer::start(|config| config.lease = LEASE).await;
    let replica = outage.start_replica(|config| config.lease = LEASE).await;
    let endpoints = [
        outage.server.endpoint.clone(),
        format!("http://{}", replica.local_addr()),
    ];
    let (runs_sender, mut runs) = watch::channel(Runs::default());
    let mut workers = Vec::new();
    for endpoint in &endpoints {
        workers.push(start_sdk_worker(endpoint, &runs_sender).await);
    }
    let mut admin = outage.server.admin().await;
    let fan_out = client::task_target(id("fan_out"));
    let execution = client::create(&mut admin, fan_out, integer_input("count", CHILDREN), |_| {}).await;
    let until_running = tokio::time::timeout(
        Duration::from_secs(60),
        runs.wait_for(|runs| runs.started.len() == CHILDREN as usize),
    );
    until_running.await.expect("every child runs").expect("runs");

    let mut health = Vec::new();
    for endpoint in &endpoints {
        health.push(watch_health(endpoint).await);
    }
    let cut = Instant::now();
    outage.proxy.cut().await;
    for watches in &mut health {
        let took = wait_all(watches, ServingStatus::NotServing, FAIL_FAST, cut).await;
        println!("fan-out outage: a replica NOT_SERVING {took:?} after the cut");
    }
    // Half the children finish while the database is down: their completions must wait for it.
    for worker in &mut workers {
        worker.send_line(&format!("release {}", CHILDREN / 2)).await;
    }
    let half = (CHILDREN / 2) as usize;
    tokio::time::timeout(CALL_CAP, runs.wait_for(|runs| runs.returned >= half))
        .await
        .expect("half the children return")
        .expect("runs");
    tokio::time::sleep((cut + 2 * LEASE).saturating_duration_since(Instant::now())).await;
    let restored = Instant::now();
    outage.proxy.restore().await;
    for watches in &mut health {
        let took = wait_all(watches, ServingStatus::Serving, CALL_CAP, restored).await;
        println!("fan-out outage: a replica SERVING {took:?} after the database came back");
    }
    println!(
        "fan-out outage: {:?} without the database, lease {LEASE:?}",
        restored - cut
    );
    for worker in &mut workers {
        worker.send_line(&format!("release {CHILDREN}")).await;
    }

    // A watch sees the phase changes its own replica commits; whichever replica finishes the execution tells.
    let mut replica_admin = client_admin(&endpoints[1]).await;
    let finished = tokio::select! {
        finished = wait_for_terminal(&mut admin, &execution.id) => finished,
        finished = wait_for_terminal(&mut replica_admin, &execution.id) => finished,
    };
    assert_eq!(
        finished.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        finished.error
    );
    let expected: Vec<Literal> = (0..CHILDREN).map(|i| Literal::Integer(i * 2)).collect();
    assert_eq!(
        client::outputs(&mut admin, &execution.id).await["out"],
        Literal::Collection(expected)
    );

    // The records: one attempt per node, succeeded, none failed by an expired lease; nothing left running.
    let nodes = scripted::all_nodes(&mut admin, &execution.id).await;
    assert_eq!(nodes.len(), CHILDREN as usize + 1, "the generator and its children");
    let (mut rerun, mut lease_expired, mut failed) = (0, 0, Vec::new());
    for node in &nodes {
        assert_eq!(client::phase_name(node.phase), "SUCCEEDED", "node {}", node.node_id);
        let attempts = scripted::attempts(&mut admin, &execution.id, &node.node_id).await;
        rerun += usize::from(attempts.len() > 1);
        for attempt in &attempts {
            let code = attempt.error.as_ref().map(|error| error.code.clone());
            lease_expired += usize::from(code.as_deref() == Some("lease_expired"));
            if attempt.phase != pb::AttemptPhase::Succeeded as i32 {
                failed.push((node.node_id.clone(), attempt.attempt, code));
            }
        }
    }
    println!(
        "fan-out outage: {rerun} of {} nodes ran again; {lease_expired} attempts lease_expired",
        nodes.len()
    );
    assert_eq!(rerun, 0, "no node ran again");
    assert_eq!(lease_expired, 0, "no lease expired");
    assert!(failed.is_empty(), "attempts that did not succeed: {failed:?}");
    let pool = outage.direct_pool().await;
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM attempts WHERE phase IN ('queued', 'running')")
        .fetch_one(&pool)
        .await
        .expect("query");
    assert_eq!(open, 0, "no attempt left queued or running");
    pool.close().await;
    // The workers' side: every child's handler started once, as attempt 0.
    let started = runs.borrow().started.clone();
    for (index, attempts) in &started {
        assert_eq!(attempts, &[0], "child {index} started {attempts:?}");
    }

    for worker in workers {
        let status = worker.close_and_wait().await;
        assert!(status.success(), "the worker stopped cleanly: {status}");
    }
    drop(health);
    replica.shutdown().await.expect("the replica stops");
    outage.server.stop().await;
}
