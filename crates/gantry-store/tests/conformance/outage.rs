//! After a database outage: checking that the database answers, and renewing the leases (and cache reservations)
//! the server could not extend while it was unreachable.

use gantry_core::state::AttemptPhase;
use gantry_store::{AttemptRow, Store};
use uuid::Uuid;

use super::fixtures::{attempt, committed_execution};

pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.unwrap();
    // Again, on the connection the first ping kept (Postgres) or the pool (SQLite).
    store.ping().await.unwrap();
}

fn running(execution_id: Uuid, node_id: &str, lease_expires_at: i64) -> AttemptRow {
    AttemptRow {
        phase: AttemptPhase::Running,
        worker_id: Some("w".to_owned()),
        lease_expires_at: Some(lease_expires_at),
        started_at: Some(50),
        ..attempt(execution_id, node_id, "q", 0)
    }
}

async fn leases(store: &dyn Store, execution_id: Uuid) -> Vec<(String, Option<i64>)> {
    let mut leases = Vec::new();
    for node in ["expired", "soon", "later", "queued", "finished"] {
        for row in store.list_attempts(execution_id, node).await.unwrap() {
            leases.push((row.node_id, row.lease_expires_at));
        }
    }
    leases
}

pub async fn renewing_leases_moves_running_ones_forward_only_and_is_idempotent(store: &dyn Store) {
    let execution = committed_execution(store, "outage").await;
    let id = execution.id;
    let finished = AttemptRow {
        phase: AttemptPhase::Succeeded,
        finished_at: Some(90),
        ..running(id, "finished", 100)
    };
    let rows = [
        running(id, "expired", 100),
        running(id, "soon", 900),
        running(id, "later", 5_000),
        attempt(id, "queued", "q", 0),
        finished,
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&rows).await.unwrap();
    for (key, holder) in [
        ("k-expired", "expired"),
        ("k-later", "later"),
        ("k-finished", "finished"),
    ] {
        let expires_at = if holder == "later" { 9_000 } else { 200 };
        assert_eq!(tx.reserve_cache(key, (id, holder), 60, expires_at).await.unwrap(), None);
    }
    tx.commit().await.unwrap();

    // The database came back at 1,000 ms after an outage; the lease is 1,000 ms, a reservation 2,000 ms.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.renew_leases(2_000, 3_000).await.unwrap(),
        2,
        "the two running leases ending before 2,000"
    );
    tx.commit().await.unwrap();
    let renewed = vec![
        ("expired".to_owned(), Some(2_000)),
        ("soon".to_owned(), Some(2_000)),
        ("later".to_owned(), Some(5_000)),
        ("queued".to_owned(), None),
        ("finished".to_owned(), Some(100)),
    ];
    assert_eq!(
        leases(store, id).await,
        renewed,
        "only running leases, and none shortened"
    );
    assert_eq!(store.next_lease_expiry().await.unwrap(), Some(2_000));
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.expired_attempts(1_999, 10).await.unwrap().is_empty(),
        "nothing expires before the new lease"
    );
    tx.rollback().await.unwrap();

    // Another replica renews after the same outage, by its own clock, a little earlier or later: idempotent.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.renew_leases(1_800, 2_800).await.unwrap(), 0, "never shortened");
    assert_eq!(
        tx.renew_leases(2_000, 3_000).await.unwrap(),
        0,
        "the same renewal again changes nothing"
    );
    tx.commit().await.unwrap();
    assert_eq!(leases(store, id).await, renewed);

    // Reservations: a running attempt's node keeps its key past the outage; a finished node's expired one is free.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.reserve_cache("k-expired", (id, "other"), 2_500, 4_000)
            .await
            .unwrap(),
        Some((id, "expired".to_owned())),
        "renewed until 3,000"
    );
    assert_eq!(
        tx.reserve_cache("k-later", (id, "other"), 8_000, 9_500).await.unwrap(),
        Some((id, "later".to_owned())),
        "still held until 9,000: not shortened"
    );
    assert_eq!(
        tx.reserve_cache("k-finished", (id, "other"), 2_500, 4_000)
            .await
            .unwrap(),
        None,
        "its holder runs nothing: it stayed expired and is taken over"
    );
    tx.commit().await.unwrap();
}
