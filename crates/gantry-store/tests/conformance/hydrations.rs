//! Nodes waiting for hydration (offloaded values their start needs, fetched outside the writer): recorded in a
//! transaction, seen by it, listed by when they started waiting, kept with their first time when recorded again, and
//! gone once deleted; a rolled-back wait leaves nothing; many at once take multi-row statements.

use gantry_store::Store;
use uuid::Uuid;

use super::fixtures::committed_execution;

fn key(execution_id: Uuid, node_id: &str) -> (Uuid, String) {
    (execution_id, node_id.to_owned())
}

/// The listed nodes of `execution_id`, in key order.
fn ours(rows: Vec<(Uuid, String)>, execution_id: Uuid) -> Vec<String> {
    rows.into_iter()
        .filter(|(id, _)| *id == execution_id)
        .map(|(_, node_id)| node_id)
        .collect()
}

pub async fn hydrations_are_listed_until_deleted(store: &dyn Store) {
    let execution = committed_execution(store, "hydrations").await;
    let other = committed_execution(store, "other-hydrations").await;
    let id = execution.id;

    let mut tx = store.begin().await.unwrap();
    tx.insert_hydrations(&[key(id, "b"), key(id, "gen/0/dn_1")], 10)
        .await
        .unwrap();
    assert!(
        tx.hydration_waiting(id, "b").await.unwrap(),
        "the transaction sees its own row"
    );
    assert!(!tx.hydration_waiting(id, "gen").await.unwrap());
    assert!(
        !tx.hydration_waiting(other.id, "b").await.unwrap(),
        "another execution's node"
    );
    tx.commit().await.unwrap();
    assert_eq!(ours(store.hydrations(i64::MAX).await.unwrap(), id), ["b", "gen/0/dn_1"]);
    // Waiting since 10: not listed as stalled before then.
    assert!(ours(store.hydrations(10).await.unwrap(), id).is_empty());
    assert_eq!(ours(store.hydrations(11).await.unwrap(), id), ["b", "gen/0/dn_1"]);

    // Recorded again, a node keeps its first time; new ones get theirs.
    let mut tx = store.begin().await.unwrap();
    tx.insert_hydrations(&[key(id, "b"), key(id, "c"), key(other.id, "b")], 50)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ours(store.hydrations(11).await.unwrap(), id), ["b", "gen/0/dn_1"]);
    assert_eq!(ours(store.hydrations(51).await.unwrap(), id), ["b", "c", "gen/0/dn_1"]);
    assert_eq!(ours(store.hydrations(51).await.unwrap(), other.id), ["b"]);

    // Deleting passes over nodes not waiting and leaves other executions' rows alone.
    let mut tx = store.begin().await.unwrap();
    tx.delete_hydrations(&[key(id, "b"), key(id, "not-waiting"), key(id, "gen/0/dn_1")])
        .await
        .unwrap();
    assert!(!tx.hydration_waiting(id, "b").await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(ours(store.hydrations(i64::MAX).await.unwrap(), id), ["c"]);
    assert_eq!(ours(store.hydrations(i64::MAX).await.unwrap(), other.id), ["b"]);

    // A rolled-back wait leaves nothing.
    let mut tx = store.begin().await.unwrap();
    tx.insert_hydrations(&[key(id, "d")], 60).await.unwrap();
    tx.delete_hydrations(&[key(id, "c")]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(ours(store.hydrations(i64::MAX).await.unwrap(), id), ["c"]);
}

/// 1,200 waiting nodes of two executions, recorded and deleted in one call each.
pub async fn many_hydrations_take_multi_row_statements(store: &dyn Store) {
    let first = committed_execution(store, "many-hydrations").await;
    let second = committed_execution(store, "more-hydrations").await;
    let keys: Vec<(Uuid, String)> = (0..1_200)
        .map(|i| {
            let execution_id = if i % 3 == 0 { second.id } else { first.id };
            key(execution_id, &format!("gen/0/dn{i}"))
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_hydrations(&keys, 5).await.unwrap();
    tx.commit().await.unwrap();
    let listed = store.hydrations(i64::MAX).await.unwrap();
    assert_eq!(ours(listed.clone(), first.id).len(), 800);
    assert_eq!(ours(listed, second.id).len(), 400);

    let mut tx = store.begin().await.unwrap();
    tx.delete_hydrations(&keys[..1_199]).await.unwrap();
    tx.commit().await.unwrap();
    let listed = store.hydrations(i64::MAX).await.unwrap();
    assert!(ours(listed.clone(), second.id).is_empty());
    assert_eq!(ours(listed, first.id), ["gen/0/dn1199"]);
}
