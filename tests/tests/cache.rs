//! The task cache end to end: a dynamic parent's hit skips its generator and every child; children's entries are
//! reused when the generator runs again with other inputs; `overwrite_cache` re-runs and replaces; a serialisable
//! key runs once for two concurrent executions, and a failed holder hands the key to a waiter.

use gantry_core::model::{Identifier, Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin};
use gantry_tests::raw_worker;
use gantry_tests::{Backend, TestServer, wait_for_terminal};

fn versioned(name: &str, version: &str) -> Identifier {
    Identifier::new("demo", "dev", name, version)
}

async fn register(admin: &mut Admin, version: &str, serializable: bool) {
    for task in raw_worker::cached_templates(version, serializable) {
        client::register_task(admin, task).await;
    }
}

fn tasks_count(n: i64) -> LiteralMap {
    LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(n))])
}

fn cache_status(node: &pb::NodeExecution) -> pb::CacheStatus {
    pb::CacheStatus::try_from(node.cache_status).expect("cache status")
}

/// Runs `generate_others@cached(n)` and returns the execution with its generator node and children.
async fn seed(
    admin: &mut Admin,
    n: i64,
    overwrite: bool,
) -> (pb::Execution, pb::NodeExecution, Vec<pb::NodeExecution>) {
    let target = client::task_target(versioned("generate_others", "cached"));
    let created = client::create(admin, target, tasks_count(n), |request| {
        request.overwrite_cache = overwrite
    })
    .await;
    let execution = wait_for_terminal(admin, &created.id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    let outputs = client::outputs(admin, &execution.id).await;
    assert_eq!(
        outputs["out"],
        Literal::Collection((0..n).map(|i| Literal::Integer(i * 2)).collect())
    );
    let generator = client::node(admin, &execution.id, "n0").await;
    let children = client::children(admin, &execution.id, "n0").await;
    (execution, generator, children)
}

async fn cache_hits_skip_the_generator_and_children(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    register(&mut admin, "cached", false).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(raw_worker::run(server.worker().await, "raw", 64, stopped));

    let (_, generator, children) = seed(&mut admin, 5, false).await;
    assert_eq!(cache_status(&generator), pb::CacheStatus::Populated);
    assert_eq!(generator.attempts, 1);
    assert_eq!(children.len(), 5);
    assert!(children.iter().all(|c| cache_status(c) == pb::CacheStatus::Populated));

    // The same inputs again: the dynamic parent's entry answers; no generator, no children.
    let (_, generator, children) = seed(&mut admin, 5, false).await;
    assert_eq!(cache_status(&generator), pb::CacheStatus::Hit);
    assert_eq!(generator.attempts, 0, "the generator did not run");
    assert!(!generator.is_dynamic_parent);
    assert!(children.is_empty(), "no child was created");

    // Other inputs: the generator runs again, and the children it shares with the first run come from the cache.
    let (execution, generator, children) = seed(&mut admin, 6, false).await;
    assert_eq!(cache_status(&generator), pb::CacheStatus::Populated);
    assert_eq!(generator.attempts, 1);
    let statuses: Vec<pb::CacheStatus> = children.iter().map(cache_status).collect();
    assert_eq!(statuses[..5], [pb::CacheStatus::Hit; 5]);
    assert_eq!(statuses[5], pb::CacheStatus::Populated);
    for child in &children[..5] {
        assert_eq!(child.attempts, 0, "{} ran", child.node_id);
        assert!(
            client::attempts(&mut admin, &execution.id, &child.node_id)
                .await
                .is_empty()
        );
    }

    // overwrite_cache: everything runs again and replaces its entry.
    let (_, generator, children) = seed(&mut admin, 5, true).await;
    assert_eq!(cache_status(&generator), pb::CacheStatus::Overwritten);
    assert_eq!(generator.attempts, 1);
    assert!(
        children
            .iter()
            .all(|c| cache_status(c) == pb::CacheStatus::Overwritten && c.attempts == 1)
    );
    let _ = stop.send(true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_postgres() {
    cache_hits_skip_the_generator_and_children(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_sqlite() {
    cache_hits_skip_the_generator_and_children(Backend::Sqlite).await;
}

/// Two executions of the same serialisable task and inputs, submitted before any worker runs.
async fn submit_pair(admin: &mut Admin, task: &str, index: i64) -> (String, String) {
    let inputs = LiteralMap::from([("index".to_owned(), Literal::Integer(index))]);
    let target = || client::task_target(versioned(task, "serial"));
    let first = client::create(admin, target(), inputs.clone(), |_| {}).await.id;
    let second = client::create(admin, target(), inputs, |_| {}).await.id;
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serialisable_cache_runs_a_key_once_across_executions() {
    let server = TestServer::start(Backend::Postgres).await;
    let mut admin = server.admin().await;
    register(&mut admin, "serial", true).await;
    let (holder, waiter) = submit_pair(&mut admin, "other_task", 7).await;
    let (failing_holder, failing_waiter) = submit_pair(&mut admin, "flaky", 3).await;
    // Before any worker runs: each holder has an attempt; each waiter is not started and has none.
    for (execution, attempts) in [(&holder, 1), (&waiter, 0), (&failing_holder, 1), (&failing_waiter, 0)] {
        assert_eq!(client::attempts(&mut admin, execution, "n0").await.len(), attempts);
    }
    assert_eq!(
        client::phase_name(client::node(&mut admin, &waiter, "n0").await.phase),
        "NOT_STARTED"
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(raw_worker::run(server.worker().await, "raw", 64, stopped));
    for id in [&holder, &waiter] {
        let execution = wait_for_terminal(&mut admin, id).await;
        assert_eq!(
            execution.phase,
            pb::ExecutionPhase::Succeeded as i32,
            "{:?}",
            execution.error
        );
        assert_eq!(
            client::outputs(&mut admin, id).await["other_task_out"],
            Literal::Integer(14)
        );
    }
    let held = client::node(&mut admin, &holder, "n0").await;
    assert_eq!((cache_status(&held), held.attempts), (pb::CacheStatus::Populated, 1));
    let waited = client::node(&mut admin, &waiter, "n0").await;
    assert_eq!(
        (cache_status(&waited), waited.attempts),
        (pb::CacheStatus::Hit, 0),
        "the task ran once"
    );

    // A holder that fails writes no entry: the waiter takes the key and runs itself.
    for id in [&failing_holder, &failing_waiter] {
        let execution = wait_for_terminal(&mut admin, id).await;
        assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
        assert_eq!(
            client::attempts(&mut admin, id, "n0").await.len(),
            1,
            "{id} ran its own attempt"
        );
    }
    let _ = stop.send(true);
    server.stop().await;
}
