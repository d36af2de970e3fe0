//! Many workers heartbeating and completing at once: sixteen workers share a 5,000-child fan-out and a nested
//! dynamic, each sending every batch's completion together with a heartbeat of the same attempts, while four more
//! clients heartbeat every lease handed out so far, over and over (most of them finished, some being completed at
//! that moment). Both stores. Exact outputs, each generator run once, no live attempt dispatched twice, and sound
//! records (no node succeeded twice, nothing open under a finished node, every acknowledged completion recorded as
//! acknowledged, no lease expired).

use std::collections::HashSet;

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::raw_worker::{Resilient, Tally, id};
use gantry_tests::records;
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tokio::sync::watch;

const WORKERS: usize = 16;
const HEARTBEATERS: usize = 4;
const CHILDREN: i64 = 5_000;

async fn start(admin: &mut gantry_tests::client::Admin, task: &str, input: (&str, i64)) -> String {
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

async fn many_workers_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    gantry_tests::client::register_raw_tasks(&mut admin).await;
    let fan_out = start(&mut admin, "generate_others", ("tasks_count", CHILDREN)).await;
    let nested = start(&mut admin, "nest", ("depth", 3)).await;

    let (stop, stopped) = watch::channel(false);
    let mut tallies = Vec::new();
    let mut workers = Vec::new();
    for n in 0..WORKERS {
        let (tally, tallied) = watch::channel(Tally::default());
        tallies.push(tallied);
        let worker = Resilient {
            endpoint: server.endpoint.clone(),
            worker_id: format!("worker-{n}"),
            batch: 32,
            heartbeat_with: Some(server.endpoint.clone()),
        };
        let stopped = stopped.clone();
        workers.push(tokio::spawn(async move { worker.run(stopped, tally).await }));
    }
    // The heartbeaters present each worker's latest leases under its name, over and over: most are finished, some
    // are being completed at that moment.
    let mut heartbeaters = Vec::new();
    for n in 0..HEARTBEATERS {
        let mut client = server.worker().await;
        let (mut stopped, tallies) = (stopped.clone(), tallies.clone());
        heartbeaters.push(tokio::spawn(async move {
            let mut sent = 0usize;
            while !*stopped.borrow_and_update() {
                for (w, tally) in tallies.iter().enumerate().filter(|(w, _)| w % HEARTBEATERS == n) {
                    let attempts: Vec<pb::LeasedAttempt> = {
                        let tally = tally.borrow();
                        tally.leases.iter().rev().take(64).cloned().collect()
                    };
                    if attempts.is_empty() {
                        continue;
                    }
                    sent += attempts.len();
                    let request = pb::HeartbeatRequest {
                        worker_id: format!("worker-{w}"),
                        attempts,
                    };
                    client.heartbeat(request).await.expect("heartbeat");
                }
                tokio::task::yield_now().await;
            }
            sent
        }));
    }

    for execution_id in [&fan_out, &nested] {
        let execution = wait_for_terminal(&mut admin, execution_id).await;
        assert_eq!(
            execution.phase,
            pb::ExecutionPhase::Succeeded as i32,
            "{:?}",
            execution.error
        );
    }
    let outputs: LiteralMap = admin
        .get_execution_data(pb::GetExecutionDataRequest {
            id: fan_out.clone(),
            ..Default::default()
        })
        .await
        .expect("data")
        .into_inner()
        .outputs
        .expect("outputs")
        .try_into()
        .expect("convert");
    let expected: Vec<Literal> = (0..CHILDREN).map(|i| Literal::Integer(i * 2)).collect();
    assert_eq!(outputs["out"], Literal::Collection(expected));

    stop.send(true).expect("stop");
    for worker in workers {
        worker.await.expect("worker");
    }
    let mut heartbeats = 0;
    for heartbeater in heartbeaters {
        heartbeats += heartbeater.await.expect("heartbeater");
    }
    let tallies: Vec<Tally> = tallies.iter().map(|t| t.borrow().clone()).collect();
    let dispatched: Vec<&String> = tallies
        .iter()
        .flat_map(|t| t.leases.iter().map(|l| &l.lease_id))
        .collect();
    let distinct: HashSet<&String> = dispatched.iter().copied().collect();
    assert_eq!(distinct.len(), dispatched.len(), "a live attempt was dispatched twice");
    // generate_others once; nest(3) has 1 + 2 + 4 + 8 generators (a `nest(0)` yields three `other_task`s itself).
    let generators: usize = tallies.iter().map(|t| t.generator_runs).sum();
    assert_eq!(generators, 1 + 15);
    let acknowledged: Vec<_> = tallies.iter().flat_map(|t| t.acknowledged.clone()).collect();
    let db = server.records_db().await;
    let report = records::check(&db, &acknowledged).await;
    db.close().await;
    println!(
        "{backend:?}: {} dispatches, {} acknowledged completions, {heartbeats} extra heartbeats; records {report:?}",
        dispatched.len(),
        acknowledged.len()
    );
    assert!(heartbeats > 0, "the heartbeaters ran");
    assert_eq!(report.error_codes.get("lease_expired"), None);
    report.assert_sound();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_workers_heartbeating_and_completing_at_once_postgres() {
    many_workers_at_once(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_workers_heartbeating_and_completing_at_once_sqlite() {
    many_workers_at_once(Backend::Sqlite).await;
}
