//! Running Gantry as operators do, through the built binary: the HTTP port's metrics scraped and parsed after the
//! seed ran (values checked, a cache hit and a refused call counted), and SIGTERM in the middle of work: watches and
//! long polls end at once, health watches are told NOT_SERVING and end, calls in flight finish, the process exits 0
//! well within its grace, and every completion it acknowledged is in the records; a restart finishes the rest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::GANTRY;
use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use gantry_store::PgStore;
use gantry_tests::client::{self, task_request};
use gantry_tests::process::Process;
use gantry_tests::records::{self, Acknowledged, Db};
use gantry_tests::{admin_url, ops, raw_worker};
use tokio::sync::watch;

/// The gRPC endpoint and the HTTP port from the server's ready line (`http://ADDR (...)...; metrics and probes on
/// http://ADDR (...)`).
fn addresses(ready: &str) -> (String, SocketAddr) {
    let endpoint = ready.split_whitespace().next().expect("an endpoint").to_owned();
    let http = ready
        .split("probes on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no HTTP port in {ready:?}"));
    (endpoint, http.parse().expect("an address"))
}

fn sigterm(process: &Process) {
    let pid = process.child.id().expect("the server runs");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_seed_a_cache_hit_and_a_refused_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let args = [
        "server",
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--examples",
        "--seed-tasks",
        "10",
        "--data-path",
        &path("gantry.db"),
        "--blob-store",
        &path("blobs"),
    ];
    let mut server = Process::start(GANTRY, &args, "gantry listening on").await;
    let (endpoint, http) = addresses(&server.ready);
    let mut lines = server.take_lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("seed example:") {
            assert!(
                line.contains("succeeded") && line.contains("[0,2,4,6,8,10,12,14,16,18]"),
                "{line}"
            );
            break;
        }
    }
    let (status, body) = ops::get(http, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, body) = ops::get(http, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));

    let seeded = ops::scrape(http).await;
    let succeeded = [("phase", "succeeded")];
    assert_eq!(seeded.count("gantry_executions_finished_total", &succeeded), 1.0);
    // The generator and its ten children.
    assert_eq!(seeded.count("gantry_nodes_finished_total", &succeeded), 11.0);
    assert_eq!(seeded.count("gantry_queue_wait_seconds_count", &[]), 11.0);
    assert_eq!(
        seeded.count("gantry_attempt_duration_seconds_count", &[("outcome", "succeeded")]),
        11.0
    );
    let create = [("service", "gantry.v1.AdminService"), ("method", "CreateExecution")];
    assert_eq!(
        seeded.count("gantry_rpc_requests_total", &[create[0], create[1], ("code", "OK")]),
        1.0
    );
    assert_eq!(seeded.count("gantry_rpc_duration_seconds_count", &create), 1.0);
    assert!(seeded.count("gantry_rpc_requests_total", &[("method", "PollTasks"), ("code", "OK")]) >= 1.0);
    assert!(seeded.count("gantry_writer_batch_commands_count", &[]) >= 1.0);
    assert_eq!(seeded.count("gantry_cache_lookups_total", &[("result", "hit")]), 0.0);
    assert!(seeded.count("gantry_cache_lookups_total", &[("result", "miss")]) >= 1.0);
    assert_eq!(seeded.sum("gantry_executions", &[("phase", "running")]), Some(0.0));
    assert_eq!(seeded.sum("gantry_nodes", &[("phase", "queued")]), Some(0.0));
    assert_eq!(seeded.sum("gantry_ready", &[]), Some(1.0));
    assert_eq!(seeded.sum("gantry_draining", &[]), Some(0.0));
    assert_eq!(seeded.sum("gantry_build_info", &[]), Some(1.0));
    assert!(seeded.sum("gantry_store_connections", &[("state", "idle")]).is_some());
    // Labels are phases, codes, methods and queues: no execution id anywhere.
    assert!(!seeded.text.contains("execution_id"), "{}", seeded.text);

    // The seed again is a cache hit; an unknown execution is NOT_FOUND.
    let mut admin = AdminServiceClient::connect(endpoint.clone()).await.unwrap();
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(client::task_target(gantry_core::model::Identifier::new(
            "demo",
            "dev",
            "generate_others",
            "1",
        ))),
        inputs: Some(LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(10))]).into()),
        ..Default::default()
    };
    let again = client::submit(&mut admin, request).await;
    gantry_tests::wait_for_terminal(&mut admin, &again.id).await;
    let missing = admin
        .get_execution(pb::GetExecutionRequest {
            id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    let after = ops::scrape(http).await;
    assert_eq!(after.count("gantry_cache_lookups_total", &[("result", "hit")]), 1.0);
    assert_eq!(after.count("gantry_executions_finished_total", &succeeded), 2.0);
    assert_eq!(
        after.count("gantry_rpc_requests_total", &[create[0], create[1], ("code", "OK")]),
        2.0
    );
    let not_found = [("method", "GetExecution"), ("code", "NOT_FOUND")];
    assert_eq!(after.count("gantry_rpc_requests_total", &not_found), 1.0);

    sigterm(&server);
    let status = tokio::time::timeout(Duration::from_secs(60), server.child.wait())
        .await
        .expect("the server stops")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

const GRACE: Duration = Duration::from_secs(20);
const EXECUTIONS: usize = 30;

/// A `demo/dev/idle@1` on a queue no worker polls: its execution stays running, for a watch.
fn idle_task() -> gantry_core::model::TaskTemplate {
    let mut task = raw_worker::template("idle", &[("index", gantry_core::model::LiteralType::Integer)], &[]);
    task.metadata.queue = "idle".to_owned();
    task
}

fn poll(queue: &str, max_attempts: u32, wait_seconds: i64) -> pb::PollTasksRequest {
    pb::PollTasksRequest {
        worker_id: format!("operations-{queue}"),
        queues: vec![queue.to_owned()],
        max_attempts,
        wait: Some(prost_types::Duration {
            seconds: wait_seconds,
            nanos: 0,
        }),
        completions: Vec::new(),
    }
}

/// Polls one attempt at a time and completes it, until a call fails; publishes what was acknowledged. Returns the
/// completions it could not deliver, which a worker holds and sends again once a server answers.
async fn complete_until_refused(
    endpoint: String,
    acknowledged: watch::Sender<Vec<Acknowledged>>,
) -> Vec<pb::Completion> {
    let mut worker = WorkerServiceClient::connect(endpoint).await.unwrap();
    loop {
        let Ok(polled) = worker.poll_tasks(poll("default", 1, 1)).await else {
            return Vec::new();
        };
        let completions: Vec<pb::Completion> = polled
            .into_inner()
            .assignments
            .iter()
            .map(|a| raw_worker::completion(a, raw_worker::result_for(a)))
            .collect();
        let request = pb::CompleteAttemptsRequest {
            worker_id: "operations-default".to_owned(),
            completions: completions.clone(),
        };
        let Ok(completed) = worker.complete_attempts(request).await else {
            return completions;
        };
        let accepted: Vec<Acknowledged> = completed
            .into_inner()
            .results
            .iter()
            .filter(|r| r.status == pb::CompletionStatus::Accepted as i32)
            .filter_map(raw_worker::acknowledged)
            .collect();
        acknowledged.send_modify(|all| all.extend(accepted));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_watches_and_polls_at_once_and_keeps_what_it_acknowledged() {
    let (store, url) = PgStore::connect_fresh(&admin_url()).await.expect("a fresh database");
    store.close().await;
    let blobs = tempfile::tempdir().unwrap();
    let grace = format!("{}s", GRACE.as_secs());
    let args = [
        "server",
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--blob-store",
        blobs.path().to_str().unwrap(),
        "--shutdown-grace",
        &grace,
    ];
    let server = Process::start(GANTRY, &args, "gantry listening on").await;
    let (endpoint, http) = addresses(&server.ready);
    let mut admin = AdminServiceClient::connect(endpoint.clone()).await.unwrap();
    client::register_raw_tasks(&mut admin).await;
    client::register_task(&mut admin, idle_task()).await;
    let mut ids = Vec::new();
    for index in 0..EXECUTIONS {
        let request = task_request("", "other_task", Literal::Integer(index as i64));
        ids.push(client::submit(&mut admin, request).await.id);
    }
    let idle = client::submit(&mut admin, task_request("", "idle", Literal::Integer(0))).await;

    // A watch of an execution that will not end, and a long poll of a queue with no work.
    let watch_request = pb::WatchExecutionRequest {
        execution_id: idle.id.clone(),
        include_snapshot: true,
        after_sequence: 0,
    };
    let mut stream = admin.watch_execution(watch_request).await.unwrap().into_inner();
    let watching = tokio::spawn(async move {
        while stream.message().await?.is_some() {}
        Ok::<(), tonic::Status>(())
    });
    let health = gantry_tests::outage::watch_health(&endpoint).await;
    let mut waiter = WorkerServiceClient::connect(endpoint.clone()).await.unwrap();
    let waiting = tokio::spawn(async move { waiter.poll_tasks(poll("nobody", 10, 300)).await });
    // Completions in flight.
    let (acknowledged, mut acked) = watch::channel(Vec::new());
    let completing = tokio::spawn(complete_until_refused(endpoint.clone(), acknowledged));
    acked.wait_for(|acked| acked.len() >= 10).await.unwrap();

    assert_eq!(ops::get(http, "/readyz").await.0, 200);
    let signalled = Instant::now();
    sigterm(&server);
    let mut server = server;
    let status = tokio::time::timeout(GRACE * 2, server.child.wait())
        .await
        .expect("the server exits")
        .unwrap();
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status:?}");
    eprintln!("the server stopped {took:?} after SIGTERM");
    assert!(
        took < GRACE,
        "the server took {took:?} to stop, past its grace of {GRACE:?}"
    );

    // The watch was ended by the server, not cut by the process's exit; the long poll returned empty.
    let watched = tokio::time::timeout(Duration::from_secs(10), watching)
        .await
        .unwrap()
        .unwrap();
    let ended = watched.expect_err("a watch of a running execution ends with an error");
    assert_eq!(ended.code(), tonic::Code::Unavailable, "{ended:?}");
    assert!(ended.message().contains("shutting down"), "{ended:?}");
    let polled = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap();
    match polled {
        Ok(response) => assert!(response.into_inner().assignments.is_empty()),
        Err(status) => assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}"),
    }
    let undelivered = tokio::time::timeout(Duration::from_secs(10), completing)
        .await
        .unwrap()
        .unwrap();
    // Health watches were told NOT_SERVING and ended, as probes and client-side balancers need.
    for watch in health {
        let last = watch.last_before_end(Duration::from_secs(10)).await;
        assert_eq!(
            last,
            Some(tonic_health::pb::health_check_response::ServingStatus::NotServing)
        );
    }

    // Every acknowledged completion is recorded as acknowledged, nothing ran twice.
    let acknowledged = acked.borrow().clone();
    assert!(acknowledged.len() >= 10);
    let db = Db::postgres(&url).await;
    let report = records::check(&db, &acknowledged).await;
    assert!(report.acknowledged_differently.is_empty(), "{report:#?}");
    assert!(report.succeeded_twice.is_empty(), "{report:#?}");
    assert!(report.open_under_finished.is_empty(), "{report:#?}");

    // A restart finishes the rest: the worker's undelivered result lands, nothing was left stuck.
    let server = Process::start(GANTRY, &args, "gantry listening on").await;
    let (endpoint, _) = addresses(&server.ready);
    let mut admin = AdminServiceClient::connect(endpoint.clone()).await.unwrap();
    let mut resend = WorkerServiceClient::connect(endpoint.clone()).await.unwrap();
    let request = pb::CompleteAttemptsRequest {
        worker_id: "operations-default".to_owned(),
        completions: undelivered,
    };
    for result in resend.complete_attempts(request).await.unwrap().into_inner().results {
        assert_eq!(result.status, pb::CompletionStatus::Accepted as i32, "{result:?}");
    }
    let (stop, stopped) = watch::channel(false);
    let worker = WorkerServiceClient::connect(endpoint.clone()).await.unwrap();
    let working = tokio::spawn(async move { raw_worker::run(worker, "operations-restart", 8, stopped).await });
    for id in &ids {
        let execution = gantry_tests::wait_for_terminal(&mut admin, id).await;
        assert_eq!(execution.phase, pb::ExecutionPhase::Succeeded as i32, "{execution:?}");
    }
    stop.send(true).unwrap();
    working.await.unwrap();
    admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id: idle.id.clone(),
            reason: "test over".into(),
        })
        .await
        .unwrap();
    gantry_tests::wait_for_terminal(&mut admin, &idle.id).await;
    records::check(&db, &acknowledged).await.assert_sound();
    db.close().await;
    sigterm(&server);
    let mut server = server;
    assert!(server.child.wait().await.unwrap().success());
}
