//! Parked attempts (waiting for a slot under `max_parallelism`), running child executions of launch-plan nodes.

use gantry_core::state::{AttemptPhase, NodePhase};
use gantry_store::{Claim, PARKED, Store};
use uuid::Uuid;

use super::fixtures::{attempt, committed_execution, node};

pub async fn parked_attempts_count_and_unpark_oldest_first(store: &dyn Store) {
    let execution = committed_execution(store, "parked").await;
    let other = committed_execution(store, "other").await;
    let active = attempt(execution.id, "a0", "q", 0);
    let mut running = attempt(execution.id, "a1", "q", 0);
    running.phase = AttemptPhase::Running;
    let mut done = attempt(execution.id, "a2", "q", 0);
    done.phase = AttemptPhase::Succeeded;
    let later = attempt(execution.id, "a3", "q", 500);
    let parked: Vec<_> = (0..4)
        .map(|i| attempt(execution.id, &format!("p{i}"), if i == 1 { "q2" } else { "q" }, PARKED))
        .collect();
    let foreign = attempt(other.id, "p0", "q", PARKED);
    let mut tx = store.begin().await.unwrap();
    let mut rows = vec![active, running, done, later, foreign];
    rows.extend(parked.iter().cloned());
    tx.insert_attempts(&rows).await.unwrap();
    assert_eq!(
        tx.count_active_attempts(execution.id).await.unwrap(),
        3,
        "queued (even not yet due) and running count; finished and parked do not"
    );
    assert_eq!(tx.unpark_attempts(execution.id, 2, 100).await.unwrap().len(), 2);
    assert_eq!(tx.count_active_attempts(execution.id).await.unwrap(), 5);
    tx.commit().await.unwrap();

    assert_eq!(
        store.next_not_before(100).await.unwrap(),
        Some(500),
        "parked attempts are never due"
    );
    let mut tx = store.begin().await.unwrap();
    let claimed = tx
        .claim_attempts(&Claim {
            queues: &["q".to_owned(), "q2".to_owned()],
            project: None,
            limit: 10,
            worker_id: "w",
            now: 100,
            lease_ms: 1_000,
        })
        .await
        .unwrap();
    let claimed: Vec<&str> = claimed.iter().map(|a| a.node_id.as_str()).collect();
    assert_eq!(
        claimed,
        ["a0", "p0", "p1"],
        "the two oldest parked were released, the rest stay parked"
    );
    let mut queues = tx.unpark_attempts(execution.id, 10, 200).await.unwrap();
    queues.sort();
    assert_eq!(queues, ["q", "q"], "one queue per released attempt");
    assert!(tx.unpark_attempts(execution.id, 10, 200).await.unwrap().is_empty());
    assert_eq!(tx.count_active_attempts(other.id).await.unwrap(), 0);
    tx.commit().await.unwrap();
}

pub async fn running_child_executions_below_a_node(store: &dyn Store) {
    let execution = committed_execution(store, "launches").await;
    let (a, b, c, d) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let with_child = |id: &str, child: Uuid, phase: NodePhase| {
        let mut row = node(execution.id, id, 0);
        row.child_execution_id = Some(child);
        row.phase = phase;
        row
    };
    let rows = vec![
        with_child("top", a, NodePhase::Running),
        with_child("dyn/0/lp", b, NodePhase::Running),
        with_child("dyn/0/done", c, NodePhase::Succeeded),
        with_child("dyn_other/0/lp", d, NodePhase::Running),
        node(execution.id, "dyn/0/task", 3),
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&rows).await.unwrap();
    let mut everywhere = tx.running_child_executions(execution.id, None).await.unwrap();
    everywhere.sort();
    let mut expected = vec![a, b, d];
    expected.sort();
    assert_eq!(everywhere, expected, "terminal nodes' children are not running");
    assert_eq!(
        tx.running_child_executions(execution.id, Some("dyn")).await.unwrap(),
        [b]
    );
    assert!(
        tx.running_child_executions(execution.id, Some("top"))
            .await
            .unwrap()
            .is_empty()
    );
    tx.rollback().await.unwrap();
}

pub async fn cache_entries_reservations_and_waiters(store: &dyn Store) {
    use gantry_store::CacheEntryRow;
    let execution = committed_execution(store, "cache").await;
    let id = execution.id;
    let entry = |outputs: &[u8]| CacheEntryRow {
        key: "k1".to_owned(),
        outputs: outputs.to_vec(),
        task: "p/d/t@v1".to_owned(),
        execution_id: id,
        node_id: "n0".to_owned(),
        created_at: 5,
    };
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.get_cache_entry("k1").await.unwrap(), None);
    tx.put_cache_entry(&entry(b"first")).await.unwrap();
    tx.put_cache_entry(&entry(b"second")).await.unwrap();
    assert_eq!(
        tx.get_cache_entry("k1").await.unwrap(),
        Some(entry(b"second")),
        "a put replaces"
    );

    assert_eq!(
        tx.reserve_cache("k2", (id, "a"), 100, 200).await.unwrap(),
        None,
        "free: reserved"
    );
    assert_eq!(
        tx.reserve_cache("k2", (id, "a"), 150, 300).await.unwrap(),
        None,
        "its own: extended"
    );
    assert_eq!(
        tx.reserve_cache("k2", (id, "b"), 250, 400).await.unwrap(),
        Some((id, "a".to_owned())),
        "held until 300 by a"
    );
    tx.add_cache_waiter("k2", (id, "b"), 250).await.unwrap();
    tx.add_cache_waiter("k2", (id, "b"), 251).await.unwrap();
    tx.add_cache_waiter("k2", (id, "c"), 260).await.unwrap();
    assert_eq!(
        tx.extend_cache_reservations(&[(id, "a".to_owned())], 500)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tx.reserve_cache("k2", (id, "b"), 450, 600).await.unwrap(),
        Some((id, "a".to_owned()))
    );
    assert_eq!(
        tx.reservations_below(id, None).await.unwrap(),
        [("k2".to_owned(), "a".to_owned())]
    );
    assert!(
        tx.reservations_below(id, Some("a")).await.unwrap().is_empty(),
        "strictly below"
    );

    assert_eq!(
        tx.release_cache("k2", (id, "b")).await.unwrap(),
        [(id, "b".to_owned()), (id, "c".to_owned())],
        "waiters come back oldest first, once each, whoever releases"
    );
    assert!(
        tx.release_cache("k2", (id, "a")).await.unwrap().is_empty(),
        "they were forgotten"
    );
    assert_eq!(
        tx.reserve_cache("k2", (id, "c"), 460, 700).await.unwrap(),
        None,
        "released: free again"
    );
    assert_eq!(
        tx.reserve_cache("k2", (id, "d"), 700, 800).await.unwrap(),
        None,
        "expired: taken over"
    );
    tx.rollback().await.unwrap();
}
