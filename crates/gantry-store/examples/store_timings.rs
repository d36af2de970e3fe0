//! Prints how long the store's batch operations take for one dynamic parent's fan-out, on both stores:
//! `DATABASE_URL=postgres://... cargo run --release -p gantry-store --example store_timings [N]`.
//! A figure per line (name, value, unit, N); asserts nothing about time.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use gantry_core::state::{AttemptPhase, CacheStatus, ExecutionPhase, NodeKind, NodePhase};
use gantry_store::{AttemptRow, Claim, ExecutionRow, NodeRow, PgStore, SqliteStore, Store};
use uuid::Uuid;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let children: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let path = std::env::temp_dir().join(format!("gantry-store-timings-{}.db", Uuid::now_v7().simple()));
    let sqlite = SqliteStore::open(path.to_str().unwrap()).await?;
    run("sqlite", &sqlite, children).await?;
    sqlite.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    match std::env::var("DATABASE_URL") {
        Ok(admin_url) => {
            let (postgres, url) = PgStore::connect_fresh(&admin_url).await?;
            run("postgres", &postgres, children).await?;
            postgres.close().await;
            PgStore::drop_fresh(&admin_url, &url).await?;
        }
        Err(_) => eprintln!("DATABASE_URL is not set: postgres skipped"),
    }
    Ok(())
}

fn report(store: &str, name: &str, started: Instant, children: usize) {
    println!(
        "{store} {name} {:.1} ms N={children}",
        started.elapsed().as_secs_f64() * 1e3
    );
}

async fn run(label: &str, store: &dyn Store, children: usize) -> anyhow::Result<()> {
    let total = Instant::now();
    let execution = execution();
    let mut tx = store.begin().await?;
    tx.insert_execution(&execution).await?;
    tx.commit().await?;
    let nodes: Vec<NodeRow> = (0..children).map(|i| node(execution.id, i)).collect();
    let attempts: Vec<AttemptRow> = nodes.iter().map(attempt).collect();

    let started = Instant::now();
    let mut tx = store.begin().await?;
    tx.insert_nodes(&nodes).await?;
    report(label, "insert_nodes", started, children);
    let step = Instant::now();
    tx.insert_attempts(&attempts).await?;
    report(label, "insert_attempts", step, children);
    tx.commit().await?;
    report(label, "create_children_committed", started, children);

    let started = Instant::now();
    let mut tx = store.begin().await?;
    let claimed = tx
        .claim_attempts(&Claim {
            queues: &["q".to_owned()],
            project: None,
            limit: children as u32,
            worker_id: "w",
            now: 10,
            lease_ms: 30_000,
        })
        .await?;
    tx.commit().await?;
    assert_eq!(claimed.len(), children);
    report(label, "claim_attempts_committed", started, children);

    let started = Instant::now();
    let mut tx = store.begin().await?;
    let mut finished = claimed;
    for row in &mut finished {
        row.phase = AttemptPhase::Succeeded;
        row.finished_at = Some(20);
    }
    tx.update_attempts(&finished).await?;
    report(label, "update_attempts", started, children);
    let step = Instant::now();
    let ids: Vec<String> = nodes.iter().map(|row| row.node_id.clone()).collect();
    let mut done = tx.lock_nodes(execution.id, &ids).await?;
    report(label, "lock_nodes", step, children);
    let step = Instant::now();
    for row in &mut done {
        row.phase = NodePhase::Succeeded;
        row.outputs = Some(row.position.to_le_bytes().to_vec());
        row.finished_at = Some(20);
    }
    tx.update_nodes(&done).await?;
    report(label, "update_nodes", step, children);
    tx.commit().await?;
    report(label, "complete_children_committed", started, children);

    let started = Instant::now();
    let mut tx = store.begin().await?;
    let outputs = tx.child_outputs(execution.id, "gen").await?;
    tx.commit().await?;
    assert_eq!(outputs.len(), children);
    report(label, "child_outputs", started, children);
    report(label, "total", total, children);
    Ok(())
}

fn execution() -> ExecutionRow {
    ExecutionRow {
        id: Uuid::now_v7(),
        project: "p".to_owned(),
        domain: "d".to_owned(),
        name: "timings".to_owned(),
        target_kind: "workflow".to_owned(),
        target: "p/d/wf@v1".to_owned(),
        workflow: vec![0; 256],
        phase: ExecutionPhase::Running,
        inputs: vec![0; 32],
        outputs: None,
        error: None,
        max_parallelism: None,
        overwrite_cache: false,
        timeout_ms: None,
        deadline: None,
        parent_execution_id: None,
        parent_node_id: None,
        origin: "created".to_owned(),
        source_execution_id: None,
        trace_context: None,
        nodes_total: 1,
        nodes_succeeded: 0,
        nodes_failed: 0,
        nodes_skipped: 0,
        created_at: 1,
        updated_at: 1,
        started_at: Some(1),
        finished_at: None,
    }
}

fn node(execution_id: Uuid, position: usize) -> NodeRow {
    NodeRow {
        execution_id,
        node_id: format!("gen/0/dn{position}"),
        parent_id: "gen".to_owned(),
        local_id: format!("dn{position}"),
        kind: NodeKind::Task,
        definition: vec![7; 64],
        task: Some("p/d/noop@v1".to_owned()),
        phase: NodePhase::Queued,
        is_dynamic: false,
        attempts: 1,
        user_failures: 0,
        system_failures: 0,
        cache_status: CacheStatus::Disabled,
        upstream_pending: 0,
        downstream: vec![],
        position: position as i64,
        children_total: 0,
        children_succeeded: 0,
        children_failed: 0,
        children_skipped: 0,
        children_created: 0,
        inputs: Some(vec![1; 16]),
        outputs: None,
        error: None,
        child_execution_id: None,
        created_at: 5,
        updated_at: 5,
        started_at: None,
        finished_at: None,
    }
}

fn attempt(node: &NodeRow) -> AttemptRow {
    AttemptRow {
        id: Uuid::now_v7(),
        execution_id: node.execution_id,
        node_id: node.node_id.clone(),
        attempt: 0,
        queue: "q".to_owned(),
        task: "p/d/noop@v1".to_owned(),
        project: "p".to_owned(),
        phase: AttemptPhase::Queued,
        worker_id: None,
        not_before: 0,
        lease_expires_at: None,
        timeout_ms: None,
        queue_timeout_ms: None,
        deadline: None,
        error: None,
        created_at: 5,
        started_at: None,
        finished_at: None,
    }
}
