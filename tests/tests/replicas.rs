//! Several server replicas on one Postgres, as processes: a 10,000-child fan-out with a worker on each replica (each
//! heartbeating through the next replica) while one replica is SIGKILLed and restarted; and the heartbeat/completion
//! race with the completion sent to one replica and the heartbeat to another. Exact outputs, the generator run once,
//! no live attempt dispatched twice, and sound records (no node succeeded twice, nothing left open under a finished
//! node, every acknowledged completion recorded as acknowledged).

use std::collections::HashSet;
use std::time::Instant;

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_store::PgStore;
use gantry_tests::process::Process;
use gantry_tests::race::{self, Endpoints};
use gantry_tests::raw_worker::{Resilient, Tally, id};
use gantry_tests::records::{self, Db};
use gantry_tests::{admin_url, wait_for_terminal};
use tokio::sync::watch;

const SERVER: &str = env!("CARGO_BIN_EXE_gantry-test-server");

/// A replica process and how to start it again.
struct Replica {
    listen: String,
    endpoint: String,
    lease_ms: &'static str,
    process: Option<Process>,
}

impl Replica {
    async fn start(url: &str, lease_ms: &'static str) -> Replica {
        let listen = format!("127.0.0.1:{}", free_port());
        let endpoint = format!("http://{listen}");
        let mut replica = Replica {
            listen,
            endpoint,
            lease_ms,
            process: None,
        };
        replica.restart(url).await;
        replica
    }

    async fn restart(&mut self, url: &str) {
        let args = [self.listen.as_str(), url, self.lease_ms];
        self.process = Some(Process::start(SERVER, &args, "listening on").await);
    }

    async fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill().await;
        }
    }
}

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

/// The completions accepted by the three workers together, once there are at least `at_least`.
async fn wait_for_accepted(tallies: &mut [watch::Receiver<Tally>], at_least: usize) -> usize {
    loop {
        let total = tallies.iter_mut().map(|t| t.borrow_and_update().accepted).sum();
        if total >= at_least {
            return total;
        }
        let [a, b, c] = tallies else {
            unreachable!("three workers")
        };
        let changed = tokio::select! {
            changed = a.changed() => changed,
            changed = b.changed() => changed,
            changed = c.changed() => changed,
        };
        changed.expect("a worker stopped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_fan_out_loses_nothing_and_runs_nothing_twice() {
    const CHILDREN: i64 = 10_000;
    let admin_url = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin_url).await.expect("fresh database");
    store.close().await;
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(&url, "2000").await);
    }
    let endpoints: Vec<String> = replicas.iter().map(|r| r.endpoint.clone()).collect();

    let mut client = admin(&endpoints[0]).await;
    gantry_tests::client::register_raw_tasks(&mut client).await;
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id("generate_others").into())),
        inputs: Some(LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(CHILDREN))]).into()),
        ..Default::default()
    };
    let execution_id = client
        .create_execution(request)
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution")
        .id;

    let (stop, stopped) = watch::channel(false);
    let mut workers = Vec::new();
    let mut tallies = Vec::new();
    for (n, endpoint) in endpoints.iter().enumerate() {
        let (tally, tallied) = watch::channel(Tally::default());
        tallies.push(tallied);
        let worker = Resilient {
            endpoint: endpoint.clone(),
            worker_id: format!("worker-{n}"),
            batch: 128,
            heartbeat_with: Some(endpoints[(n + 1) % endpoints.len()].clone()),
        };
        let stopped = stopped.clone();
        workers.push(tokio::spawn(async move { worker.run(stopped, tally).await }));
    }
    let at_kill = wait_for_accepted(&mut tallies, 3_000).await;
    replicas[1].kill().await;
    let killed = Instant::now();
    replicas[1].restart(&url).await;
    println!(
        "replicas: replica 1 killed after {at_kill} accepted completions, restarted in {:?}",
        killed.elapsed()
    );

    let execution = wait_for_terminal(&mut client, &execution_id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    let data = client
        .get_execution_data(pb::GetExecutionDataRequest {
            id: execution_id.clone(),
            ..Default::default()
        })
        .await
        .expect("data")
        .into_inner();
    let outputs: LiteralMap = data.outputs.expect("outputs").try_into().expect("convert");
    let expected: Vec<Literal> = (0..CHILDREN).map(|i| Literal::Integer(i * 2)).collect();
    assert_eq!(outputs["out"], Literal::Collection(expected));

    stop.send(true).expect("stop");
    for worker in workers {
        worker.await.expect("worker");
    }
    let tallies: Vec<Tally> = tallies.iter().map(|t| t.borrow().clone()).collect();
    let generator_runs: usize = tallies.iter().map(|t| t.generator_runs).sum();
    assert_eq!(generator_runs, 1, "the generator ran once");
    let per_replica: Vec<usize> = tallies.iter().map(|t| t.accepted).collect();
    assert!(
        per_replica.iter().all(|n| *n > 0),
        "every replica served work: {per_replica:?}"
    );
    let leases: Vec<&String> = tallies
        .iter()
        .flat_map(|t| t.leases.iter().map(|l| &l.lease_id))
        .collect();
    let distinct: HashSet<&String> = leases.iter().copied().collect();
    assert_eq!(distinct.len(), leases.len(), "a live attempt was dispatched twice");
    let acknowledged: Vec<_> = tallies.iter().flat_map(|t| t.acknowledged.clone()).collect();
    let db = Db::postgres(&url).await;
    let report = records::check(&db, &acknowledged).await;
    println!(
        "replicas: completions per replica {per_replica:?}; {} dispatches; records {report:?}",
        leases.len()
    );
    report.assert_sound();
    assert_eq!(report.nodes as i64, CHILDREN + 1);
    db.close().await;
    for replica in &mut replicas {
        replica.kill().await;
    }
    PgStore::drop_fresh(&admin_url, &url).await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_through_another_replica_undoes_nothing() {
    let admin_url = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin_url).await.expect("fresh database");
    store.close().await;
    // A lease no loaded machine outlives between a claim and its completion: this test is about heartbeats, not
    // expiry.
    let mut replicas = vec![Replica::start(&url, "30000").await, Replica::start(&url, "30000").await];
    let endpoints = Endpoints {
        main: replicas[0].endpoint.clone(),
        heartbeats: replicas[1].endpoint.clone(),
        busy: vec![replicas[0].endpoint.clone(), replicas[1].endpoint.clone()],
    };
    let db = Db::postgres(&url).await;
    let outcome = race::run(&endpoints, &db).await;
    db.close().await;
    println!(
        "replicas: {} of {} executions failed; {} empty polls alongside; records {:?}",
        outcome.failed_executions.len(),
        race::EXECUTIONS,
        outcome.empty_polls,
        outcome.report
    );
    outcome.assert_nothing_undone();
    for replica in &mut replicas {
        replica.kill().await;
    }
    PgStore::drop_fresh(&admin_url, &url).await.expect("drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_on_one_replica_sees_an_execution_finish_on_another() {
    let admin_url = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin_url).await.expect("fresh database");
    store.close().await;
    let mut replicas = vec![Replica::start(&url, "30000").await, Replica::start(&url, "30000").await];
    // Everything happens on replica 0; the watch is on replica 1.
    let mut working = admin(&replicas[0].endpoint).await;
    gantry_tests::client::register_raw_tasks(&mut working).await;
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id("other_task").into())),
        inputs: Some(LiteralMap::from([("index".to_owned(), Literal::Integer(21))]).into()),
        ..Default::default()
    };
    let execution_id = working
        .create_execution(request)
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution")
        .id;
    let mut watching = admin(&replicas[1].endpoint).await;
    let watch = pb::WatchExecutionRequest {
        execution_id: execution_id.clone(),
        include_snapshot: false,
        after_sequence: 0,
    };
    let mut stream = watching.watch_execution(watch).await.expect("watch").into_inner();
    let worker = Resilient {
        endpoint: replicas[0].endpoint.clone(),
        worker_id: "only-on-0".into(),
        batch: 1,
        heartbeat_with: None,
    };
    let (stop, stopped) = watch::channel(false);
    let (tally, _) = watch::channel(Tally::default());
    let working_worker = tokio::spawn(async move { worker.run(stopped, tally).await });
    // The stream ends with the execution's terminal phase (a guard against a hang, not a timing assertion).
    let mut last_phase = None;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(message) = tokio_stream::StreamExt::next(&mut stream).await {
            for change in message.expect("watch message").changes {
                if let Some(pb::phase_change::Change::Execution(execution)) = change.change {
                    last_phase = Some(execution.phase);
                }
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the watch on the other replica never ended");
    assert_eq!(last_phase, Some(pb::ExecutionPhase::Succeeded as i32));
    stop.send(true).expect("stop");
    working_worker.await.expect("worker");
    for replica in &mut replicas {
        replica.kill().await;
    }
    PgStore::drop_fresh(&admin_url, &url).await.expect("drop");
}
