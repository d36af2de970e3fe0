//! What is in flight, counted for the operators' gauges.

use gantry_core::state::{AttemptPhase, ExecutionPhase, NodePhase};
use gantry_store::{ActiveCounts, Store};

use super::fixtures::{attempt, execution, node};

pub async fn active_counts_count_only_unfinished_work(store: &dyn Store) {
    assert_eq!(store.active_counts().await.unwrap(), ActiveCounts::default());

    let running = execution("p", "d", "running");
    let mut ended = execution("p", "d", "ended");
    ended.phase = ExecutionPhase::Succeeded;
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&running).await.unwrap();
    tx.insert_execution(&ended).await.unwrap();
    let mut nodes = Vec::new();
    for (i, phase) in [
        NodePhase::Running,
        NodePhase::Queued,
        NodePhase::Queued,
        NodePhase::Succeeded,
    ]
    .into_iter()
    .enumerate()
    {
        let mut row = node(running.id, &format!("n{i}"), i as i64);
        row.phase = phase;
        nodes.push(row);
    }
    // The nodes of an ended execution are history, whatever phase they were left in.
    let mut stale = node(ended.id, "n0", 0);
    stale.phase = NodePhase::Running;
    nodes.push(stale);
    tx.insert_nodes(&nodes).await.unwrap();
    let mut attempts = vec![
        attempt(running.id, "n1", "fast", 0),
        attempt(running.id, "n2", "fast", 0),
        attempt(running.id, "n0", "slow", 0),
        attempt(running.id, "n3", "fast", 0),
    ];
    attempts[2].phase = AttemptPhase::Running;
    attempts[2].worker_id = Some("w".to_owned());
    attempts[2].lease_expires_at = Some(99);
    attempts[3].phase = AttemptPhase::Succeeded;
    tx.insert_attempts(&attempts).await.unwrap();
    tx.commit().await.unwrap();

    let counts = store.active_counts().await.unwrap();
    assert_eq!(counts.executions, vec![("queued".to_owned(), 1)]);
    assert_eq!(counts.nodes, vec![("queued".to_owned(), 2), ("running".to_owned(), 1)]);
    assert_eq!(
        counts.attempts,
        vec![
            ("fast".to_owned(), "queued".to_owned(), 2),
            ("slow".to_owned(), "running".to_owned(), 1),
        ]
    );
    let pool = store.pool_use();
    assert!(pool.open >= 1 && pool.idle <= pool.open, "{pool:?}");
}
