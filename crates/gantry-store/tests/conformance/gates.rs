//! Gates and signals: a gate's wait is recorded, replaced, found by its signal and by its deadline (earliest first,
//! counted in the store's next deadline), and gone once disarmed; a signal is set once, read back, listed, copied to a
//! recovered execution, and a second setting is a conflict; a rolled-back arming leaves nothing.

use gantry_store::{GateRow, SignalRow, Store, StoreError};
use uuid::Uuid;

use gantry_core::state::NodePhase;

use super::fixtures::{committed_execution, node};

fn gate(execution_id: Uuid, node_id: &str, signal_id: Option<&str>, deadline: Option<i64>) -> GateRow {
    GateRow {
        execution_id,
        node_id: node_id.to_owned(),
        signal_id: signal_id.map(str::to_owned),
        deadline,
    }
}

pub async fn gates_are_found_by_signal_and_deadline_until_disarmed(store: &dyn Store) {
    let execution = committed_execution(store, "gates").await;
    let other = committed_execution(store, "other-gates").await;
    let id = execution.id;
    // An attempt or execution deadline may exist in other tests' rows; ours are far in the future.
    let base = i64::MAX / 2;

    let mut tx = store.begin().await.unwrap();
    tx.arm_gate(&gate(id, "g/0/ask", Some("count"), None)).await.unwrap();
    tx.arm_gate(&gate(id, "g/0/ok", Some("count"), Some(base + 50)))
        .await
        .unwrap();
    tx.arm_gate(&gate(id, "nap", None, Some(base + 20))).await.unwrap();
    tx.arm_gate(&gate(other.id, "ask", Some("count"), Some(base + 10)))
        .await
        .unwrap();
    assert_eq!(tx.gates_waiting(id, "count").await.unwrap(), ["g/0/ask", "g/0/ok"]);
    assert!(tx.gates_waiting(id, "other").await.unwrap().is_empty());
    tx.commit().await.unwrap();

    assert_eq!(
        store.gates_of(id).await.unwrap(),
        [
            gate(id, "g/0/ask", Some("count"), None),
            gate(id, "g/0/ok", Some("count"), Some(base + 50)),
            gate(id, "nap", None, Some(base + 20)),
        ]
    );
    assert_eq!(store.next_deadline().await.unwrap(), Some(base + 10));

    // Overdue at base + 20: the other execution's and the sleep, earliest first.
    let mut tx = store.begin().await.unwrap();
    let overdue = tx.overdue_gates(base + 20, 10).await.unwrap();
    assert_eq!(overdue, [(other.id, "ask".to_owned()), (id, "nap".to_owned())]);
    assert_eq!(
        tx.overdue_gates(base + 20, 1).await.unwrap().len(),
        1,
        "the limit holds"
    );
    // Armed again, a gate's row is replaced.
    tx.arm_gate(&gate(id, "nap", None, Some(base + 70))).await.unwrap();
    tx.disarm_gates(&[(other.id, "ask".to_owned()), (id, "not-armed".to_owned())])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.next_deadline().await.unwrap(), Some(base + 50));
    assert!(store.gates_of(other.id).await.unwrap().is_empty());

    // A rolled-back arming and disarming leave the rows as they were.
    let mut tx = store.begin().await.unwrap();
    tx.arm_gate(&gate(id, "late", Some("x"), Some(base + 1))).await.unwrap();
    tx.disarm_gates(&[(id, "g/0/ok".to_owned())]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.gates_of(id).await.unwrap().len(), 3);

    let mut tx = store.begin().await.unwrap();
    tx.disarm_gates(&[
        (id, "g/0/ask".to_owned()),
        (id, "g/0/ok".to_owned()),
        (id, "nap".to_owned()),
    ])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(store.gates_of(id).await.unwrap().is_empty());
    assert_eq!(store.next_deadline().await.unwrap(), None);
}

/// After a bulk abort, the rows of gates whose node no longer runs go in one statement; running ones stay.
pub async fn stale_gates_are_deleted_and_running_ones_kept(store: &dyn Store) {
    let execution = committed_execution(store, "stale-gates").await;
    let id = execution.id;
    let mut running = node(id, "g/0/ask", 0);
    running.phase = NodePhase::Running;
    let mut aborted = node(id, "g/0/nap", 1);
    aborted.phase = NodePhase::Aborted;
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&[running, aborted]).await.unwrap();
    tx.arm_gate(&gate(id, "g/0/ask", Some("count"), None)).await.unwrap();
    tx.arm_gate(&gate(id, "g/0/nap", None, None)).await.unwrap();
    tx.delete_stale_gates(id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.gates_of(id).await.unwrap(),
        [gate(id, "g/0/ask", Some("count"), None)]
    );
}

pub async fn a_signal_is_set_once_and_copied_to_a_recovery(store: &dyn Store) {
    let execution = committed_execution(store, "signals").await;
    let recovered = committed_execution(store, "recovered-signals").await;
    let id = execution.id;
    let row = |signal_id: &str, value: &[u8]| SignalRow {
        execution_id: id,
        signal_id: signal_id.to_owned(),
        value: value.to_vec(),
        set_at: 7,
        set_by: "alice".to_owned(),
    };

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.signal(id, "count").await.unwrap(), None);
    tx.insert_signal(&row("count", b"\x01")).await.unwrap();
    tx.insert_signal(&row("approve", b"\x02")).await.unwrap();
    assert_eq!(tx.signal(id, "count").await.unwrap(), Some(row("count", b"\x01")));
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let again = tx.insert_signal(&row("count", b"\x03")).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    tx.rollback().await.unwrap();
    assert_eq!(
        store.signals_of(id).await.unwrap(),
        [row("approve", b"\x02"), row("count", b"\x01")]
    );

    let mut tx = store.begin().await.unwrap();
    tx.copy_signals(id, recovered.id).await.unwrap();
    tx.commit().await.unwrap();
    let copied = store.signals_of(recovered.id).await.unwrap();
    assert_eq!(copied.len(), 2);
    assert!(
        copied
            .iter()
            .all(|signal| signal.execution_id == recovered.id && signal.set_by == "alice")
    );
    assert_eq!(copied[1].value, b"\x01");
}
