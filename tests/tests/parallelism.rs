//! `max_parallelism` caps the task attempts an execution runs at once, dynamic children included, as the server's
//! own attempt records show; an execution without a limit runs its children side by side.

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::client;
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};

/// The most attempts running at one instant, from their `started_at` / `finished_at`.
fn max_overlap(attempts: &[pb::TaskAttempt]) -> usize {
    let nanos = |t: &Option<prost_types::Timestamp>| {
        let t = t.as_ref().expect("timestamp");
        t.seconds as i128 * 1_000_000_000 + t.nanos as i128
    };
    let mut edges: Vec<(i128, i32)> = attempts
        .iter()
        .flat_map(|a| [(nanos(&a.started_at), 1), (nanos(&a.finished_at), -1)])
        .collect();
    edges.sort();
    let (mut current, mut most) = (0, 0);
    for (_, delta) in edges {
        current += delta;
        most = most.max(current);
    }
    most as usize
}

/// Runs the seed's `generate_others(24)` with `max_parallelism` and returns the most attempts that ran at once.
async fn seed_overlap(backend: Backend, max_parallelism: Option<u32>) -> usize {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Each poll may take 64 attempts: without a limit the worker would hold every child at once.
    tokio::spawn(raw_worker::run(server.worker().await, "raw", 64, stopped));
    let inputs = LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(24))]);
    let created = client::create(
        &mut admin,
        client::task_target(id("generate_others")),
        inputs,
        |request| {
            request.max_parallelism = max_parallelism;
        },
    )
    .await;
    assert_eq!(created.max_parallelism, max_parallelism);
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    let out = client::outputs(&mut admin, &execution.id).await;
    assert_eq!(
        out["out"],
        Literal::Collection((0..24).map(|i| Literal::Integer(i * 2)).collect())
    );
    let mut attempts = client::attempts(&mut admin, &execution.id, "n0").await;
    for child in client::children(&mut admin, &execution.id, "n0").await {
        attempts.extend(client::attempts(&mut admin, &execution.id, &child.node_id).await);
    }
    assert_eq!(attempts.len(), 25, "the generator and 24 children, once each");
    let _ = stop.send(true);
    server.stop().await;
    max_overlap(&attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_parallelism_caps_dynamic_children_postgres() {
    let most = seed_overlap(Backend::Postgres, Some(3)).await;
    assert!(
        (1..=3).contains(&most),
        "{most} attempts ran at once under max_parallelism 3"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_parallelism_caps_dynamic_children_sqlite() {
    let most = seed_overlap(Backend::Sqlite, Some(2)).await;
    assert!(
        (1..=2).contains(&most),
        "{most} attempts ran at once under max_parallelism 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_limit_children_run_side_by_side() {
    // The control: the same run without a limit overlaps more than the limits above allow, so those assertions
    // can fail.
    let most = seed_overlap(Backend::Postgres, None).await;
    assert!(most > 3, "only {most} attempts overlapped without a limit");
}
