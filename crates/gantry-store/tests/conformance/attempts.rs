//! Attempts, claims, leases and specs.

use std::collections::HashSet;
use std::time::Duration;

use gantry_core::state::AttemptPhase;
use gantry_store::{AttemptRow, Claim, ExecutionFilter, Page, ResourceKind, SpecRow, Store, StoreError};
use uuid::Uuid;

use super::fixtures::{attempt, committed_attempts, committed_execution, execution, node, resource};

const LEASE_MS: i64 = 30_000;

async fn claim(store: &dyn Store, queues: &[&str], limit: u32, worker: &str, now: i64) -> Vec<AttemptRow> {
    let queues: Vec<String> = queues.iter().map(|queue| (*queue).to_owned()).collect();
    let mut tx = store.begin().await.unwrap();
    let claimed = tx
        .claim_attempts(&Claim {
            queues: &queues,
            project: None,
            limit,
            worker_id: worker,
            now,
            lease_ms: LEASE_MS,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    claimed
}

fn ids(rows: &[AttemptRow]) -> Vec<Uuid> {
    rows.iter().map(|row| row.id).collect()
}

pub async fn claim_respects_queue_not_before_limit_and_phase(store: &dyn Store) {
    let execution = committed_execution(store, "claims").await;
    let ready = committed_attempts(store, execution.id, "q1", 5).await;
    let other_queue = committed_attempts(store, execution.id, "q2", 2).await;
    let later = attempt(execution.id, "later", "q1", 1_000);
    let mut running = attempt(execution.id, "running", "q1", 0);
    running.phase = AttemptPhase::Running;
    let mut finished = attempt(execution.id, "finished", "q1", 0);
    finished.phase = AttemptPhase::Succeeded;
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&[later.clone(), running, finished]).await.unwrap();
    tx.commit().await.unwrap();

    let first = claim(store, &["q1"], 3, "w1", 100).await;
    assert_eq!(ids(&first), ids(&ready[..3]), "the oldest first");
    for claimed in &first {
        assert_eq!(claimed.phase, AttemptPhase::Running);
        assert_eq!(claimed.worker_id.as_deref(), Some("w1"));
        assert_eq!(claimed.started_at, Some(100));
        assert_eq!(claimed.lease_expires_at, Some(100 + LEASE_MS));
        assert_eq!(claimed.queue, "q1");
    }
    assert_eq!(
        store.list_attempts(execution.id, "q1-n0").await.unwrap(),
        [first[0].clone()]
    );

    let second = claim(store, &["q1"], 10, "w2", 100).await;
    assert_eq!(
        ids(&second),
        ids(&ready[3..]),
        "not the one whose not_before is later, nor running or finished"
    );
    assert!(claim(store, &["q1"], 10, "w2", 999).await.is_empty());
    assert_eq!(ids(&claim(store, &["q1"], 10, "w3", 1_000).await), [later.id]);
    assert!(claim(store, &["q3"], 10, "w3", 1_000).await.is_empty());
    assert!(claim(store, &["q2"], 0, "w3", 1_000).await.is_empty());
    assert_eq!(
        ids(&claim(store, &["q3", "q2"], 10, "w3", 1_000).await),
        ids(&other_queue)
    );
}

/// Attempts of `queues`, one of each in turn, `rounds` times: ids (creation order) interleave across the queues.
async fn interleaved(store: &dyn Store, execution_id: Uuid, queues: &[&str], rounds: usize) -> Vec<AttemptRow> {
    let attempts: Vec<AttemptRow> = (0..rounds)
        .flat_map(|round| queues.iter().map(move |queue| (round, *queue)))
        .map(|(round, queue)| attempt(execution_id, &format!("{queue}-r{round}"), queue, 0))
        .collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&attempts).await.unwrap();
    tx.commit().await.unwrap();
    attempts
}

/// One claim over several queues takes the oldest claimable attempts across all of them, whatever the order the
/// queues are named in; attempts that are not claimable (a later `not_before`, parked) are passed over.
pub async fn a_claim_takes_the_oldest_across_its_queues(store: &dyn Store) {
    let execution = committed_execution(store, "across").await;
    let parked = attempt(execution.id, "parked", "a", i64::MAX);
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&[parked]).await.unwrap();
    tx.commit().await.unwrap();
    let attempts = interleaved(store, execution.id, &["a", "b", "c"], 4).await;
    let first = claim(store, &["c", "nothing", "b", "a"], 5, "w1", 1).await;
    assert_eq!(ids(&first), ids(&attempts[..5]), "the five oldest, across the queues");
    let second = claim(store, &["b", "a"], 100, "w2", 1).await;
    let expected: Vec<Uuid> = attempts[5..].iter().filter(|a| a.queue != "c").map(|a| a.id).collect();
    assert_eq!(
        ids(&second),
        expected,
        "every claimable one left in b and a, oldest first, the parked one not"
    );
}

pub async fn sequential_claims_are_disjoint(store: &dyn Store) {
    let execution = committed_execution(store, "disjoint").await;
    let attempts = committed_attempts(store, execution.id, "q", 10).await;
    let first = claim(store, &["q"], 4, "w1", 1).await;
    let second = claim(store, &["q"], 10, "w2", 1).await;
    assert_eq!(first.len(), 4);
    assert_eq!(second.len(), 6);
    let mut all: Vec<Uuid> = ids(&first).into_iter().chain(ids(&second)).collect();
    all.sort();
    assert_eq!(all, ids(&attempts));
}

/// Eight claimers at once: on Postgres they overlap and skip each other's locked rows; on SQLite each waits for
/// the write lock. Either way every attempt goes to exactly one of them.
pub async fn concurrent_claimers_never_share_an_attempt(store: &dyn Store) {
    let execution = committed_execution(store, "race").await;
    let attempts = committed_attempts(store, execution.id, "q", 40).await;
    let claimer = |worker: &'static str| claim(store, &["q"], 5, worker, 1);
    let (a, b, c, d, e, f, g, h) = tokio::join!(
        claimer("w1"),
        claimer("w2"),
        claimer("w3"),
        claimer("w4"),
        claimer("w5"),
        claimer("w6"),
        claimer("w7"),
        claimer("w8")
    );
    let mut seen = HashSet::new();
    for batch in [a, b, c, d, e, f, g, h] {
        assert_eq!(batch.len(), 5);
        for claimed in batch {
            assert!(seen.insert(claimed.id), "attempt {} claimed twice", claimed.id);
        }
    }
    assert_eq!(seen, attempts.iter().map(|row| row.id).collect::<HashSet<_>>());
}

/// Postgres only: a claim over several queues held by an open transaction is passed over: another claim gets the next
/// attempts of those queues, not fewer.
pub async fn open_claims_across_queues_are_passed_over(store: &dyn Store) {
    let execution = committed_execution(store, "skip-across").await;
    let attempts = interleaved(store, execution.id, &["a", "b"], 5).await;
    let queues = ["a".to_owned(), "b".to_owned()];
    let mut holder = store.begin().await.unwrap();
    let held = holder
        .claim_attempts(&Claim {
            queues: &queues,
            project: None,
            limit: 4,
            worker_id: "w1",
            now: 1,
            lease_ms: LEASE_MS,
        })
        .await
        .unwrap();
    assert_eq!(ids(&held), ids(&attempts[..4]));
    let mut other = store.begin().await.unwrap();
    let claimed = other
        .claim_attempts(&Claim {
            queues: &queues,
            project: None,
            limit: 4,
            worker_id: "w2",
            now: 1,
            lease_ms: LEASE_MS,
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&claimed),
        ids(&attempts[4..8]),
        "the next four, not the held ones, and no fewer"
    );
    other.commit().await.unwrap();
    holder.commit().await.unwrap();
}

/// Postgres only: a claim held by an open transaction is skipped, not waited for, and comes back on rollback.
pub async fn open_claim_is_skipped_and_released_on_rollback(store: &dyn Store) {
    let execution = committed_execution(store, "skip-locked").await;
    let attempts = committed_attempts(store, execution.id, "q", 10).await;
    let queues = ["q".to_owned()];
    let mut holder = store.begin().await.unwrap();
    let held = holder
        .claim_attempts(&Claim {
            queues: &queues,
            project: None,
            limit: 4,
            worker_id: "w1",
            now: 1,
            lease_ms: LEASE_MS,
        })
        .await
        .unwrap();
    assert_eq!(ids(&held), ids(&attempts[..4]));

    let mut other = store.begin().await.unwrap();
    let claimed = tokio::time::timeout(
        Duration::from_secs(10),
        other.claim_attempts(&Claim {
            queues: &queues,
            project: None,
            limit: 10,
            worker_id: "w2",
            now: 1,
            lease_ms: LEASE_MS,
        }),
    )
    .await
    .expect("a claim must skip locked rows, not wait for them")
    .unwrap();
    assert_eq!(ids(&claimed), ids(&attempts[4..]));
    other.commit().await.unwrap();

    holder.rollback().await.unwrap();
    let reclaimed = claim(store, &["q"], 10, "w3", 1).await;
    assert_eq!(ids(&reclaimed), ids(&attempts[..4]));
    assert!(reclaimed.iter().all(|row| row.worker_id.as_deref() == Some("w3")));
}

pub async fn leases_not_before_and_ready_queues(store: &dyn Store) {
    let execution = committed_execution(store, "leases").await;
    let mut late_lease = attempt(execution.id, "late", "q1", 0);
    late_lease.phase = AttemptPhase::Running;
    late_lease.lease_expires_at = Some(500);
    let mut early_lease = attempt(execution.id, "early", "q1", 0);
    early_lease.phase = AttemptPhase::Running;
    early_lease.lease_expires_at = Some(300);
    let mut finished = attempt(execution.id, "finished", "q3", 900);
    finished.phase = AttemptPhase::Failed;
    finished.lease_expires_at = Some(100);
    let rows = [
        late_lease.clone(),
        early_lease.clone(),
        finished,
        attempt(execution.id, "soon", "q1", 200),
        attempt(execution.id, "later", "q2", 800),
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&rows).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.next_lease_expiry().await.unwrap(), Some(300));
    assert_eq!(store.next_not_before(100).await.unwrap(), Some(200));
    assert_eq!(store.next_not_before(200).await.unwrap(), Some(800));
    assert_eq!(store.next_not_before(800).await.unwrap(), None);
    assert!(store.ready_queues(i64::MIN, 199).await.unwrap().is_empty());
    assert_eq!(store.ready_queues(i64::MIN, 250).await.unwrap(), ["q1"]);
    assert_eq!(store.ready_queues(i64::MIN, 900).await.unwrap(), ["q1", "q2"]);
    assert_eq!(
        store.ready_queues(200, 900).await.unwrap(),
        ["q2"],
        "only what became due after 200"
    );
    assert!(store.ready_queues(800, 900).await.unwrap().is_empty());

    let mut tx = store.begin().await.unwrap();
    assert!(tx.expired_attempts(299, 10).await.unwrap().is_empty());
    assert_eq!(ids(&tx.expired_attempts(300, 10).await.unwrap()), [early_lease.id]);
    assert_eq!(
        ids(&tx.expired_attempts(600, 10).await.unwrap()),
        [early_lease.id, late_lease.id]
    );
    assert_eq!(ids(&tx.expired_attempts(600, 1).await.unwrap()), [early_lease.id]);
    let mut timed_out = tx.lock_attempts(&[early_lease.id]).await.unwrap();
    timed_out[0].phase = AttemptPhase::TimedOut;
    timed_out[0].finished_at = Some(600);
    tx.update_attempts(&timed_out).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.next_lease_expiry().await.unwrap(), Some(500));
}

pub async fn lock_update_and_list_attempts(store: &dyn Store) {
    let execution = committed_execution(store, "updates").await;
    let retries: Vec<AttemptRow> = (0..3)
        .map(|n| AttemptRow {
            attempt: n,
            ..attempt(execution.id, "retried", "q", 0)
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    // Inserted newest attempt first: the listing must still be in attempt order.
    tx.insert_attempts(&retries.iter().rev().cloned().collect::<Vec<_>>())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let mut locked = tx
        .lock_attempts(&[retries[2].id, Uuid::now_v7(), retries[0].id])
        .await
        .unwrap();
    assert_eq!(ids(&locked), [retries[0].id, retries[2].id]);
    for row in &mut locked {
        row.phase = AttemptPhase::Failed;
        row.worker_id = Some("w9".to_owned());
        row.not_before = 77;
        row.lease_expires_at = Some(88);
        row.error = Some(vec![0xff, 0]);
        row.started_at = Some(70);
        row.finished_at = Some(90);
    }
    tx.update_attempts(&locked).await.unwrap();
    let duplicate = AttemptRow {
        id: Uuid::now_v7(),
        ..retries[1].clone()
    };
    match tx.insert_attempts(&[duplicate]).await.unwrap_err() {
        StoreError::Conflict(message) => assert!(message.contains(r#"attempt 1 of node "retried""#), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    drop(tx);

    // The transaction was dropped: nothing of it stays.
    assert_eq!(store.list_attempts(execution.id, "retried").await.unwrap(), retries);
    let mut tx = store.begin().await.unwrap();
    tx.update_attempts(&locked).await.unwrap();
    tx.commit().await.unwrap();
    let listed = store.list_attempts(execution.id, "retried").await.unwrap();
    assert_eq!(listed, [locked[0].clone(), retries[1].clone(), locked[1].clone()]);
}

pub async fn specs_insert_get_and_conflict(store: &dyn Store) {
    let execution = committed_execution(store, "specs").await;
    let spec = SpecRow {
        execution_id: execution.id,
        node_id: "gen".to_owned(),
        attempt: 1,
        spec: vec![8; 64].into(),
        created_at: 5,
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_spec(&spec).await.unwrap();
    assert_eq!(tx.get_spec(execution.id, "gen", 1).await.unwrap(), Some(spec.clone()));
    let again = SpecRow {
        spec: vec![9].into(),
        ..spec.clone()
    };
    assert!(matches!(tx.insert_spec(&again).await, Err(StoreError::Conflict(_))));
    tx.commit().await.unwrap();
    assert_eq!(store.get_spec(execution.id, "gen", 1).await.unwrap(), Some(spec));
    assert_eq!(store.get_spec(execution.id, "gen", 0).await.unwrap(), None);
    assert_eq!(store.get_spec(execution.id, "gen2", 1).await.unwrap(), None);
}

pub async fn dropped_transaction_leaves_nothing(store: &dyn Store) {
    let row = execution("p", "d", "ghost");
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&row).await.unwrap();
    tx.insert_nodes(&[node(row.id, "a", 0)]).await.unwrap();
    tx.insert_attempts(&[attempt(row.id, "a", "q", 0)]).await.unwrap();
    tx.insert_spec(&SpecRow {
        execution_id: row.id,
        node_id: "a".to_owned(),
        attempt: 0,
        spec: vec![1].into(),
        created_at: 1,
    })
    .await
    .unwrap();
    tx.put_resource(ResourceKind::Task, &resource("p", "t", "v1", b"x"))
        .await
        .unwrap();
    assert!(
        tx.get_resource(ResourceKind::Task, &resource("p", "t", "v1", b"x").key)
            .await
            .unwrap()
            .is_some()
    );
    drop(tx);

    assert_eq!(store.get_execution(row.id).await.unwrap(), None);
    assert_eq!(store.find_execution("p", "d", "ghost").await.unwrap(), None);
    assert!(
        store
            .list_executions(&ExecutionFilter::default(), &Page { after: None, limit: 10 })
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_node(row.id, "a").await.unwrap(), None);
    assert!(store.list_attempts(row.id, "a").await.unwrap().is_empty());
    assert_eq!(store.get_spec(row.id, "a", 0).await.unwrap(), None);
    assert_eq!(
        store
            .get_resource(ResourceKind::Task, &resource("p", "t", "v1", b"x").key)
            .await
            .unwrap(),
        None
    );
    assert!(store.ready_queues(i64::MIN, i64::MAX).await.unwrap().is_empty());

    // And the store takes the same rows afterwards.
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&row).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_execution(row.id).await.unwrap(), Some(row));
}

pub async fn abort_node_attempts_touches_only_those_nodes(store: &dyn Store) {
    let execution = committed_execution(store, "abort-attempts").await;
    let queued = attempt(execution.id, "gen", "q", 0);
    let mut running = attempt(execution.id, "gen/0/dn0", "q", 0);
    running.phase = AttemptPhase::Running;
    let sibling = attempt(execution.id, "other", "q", 0);
    let mut done = attempt(execution.id, "gen", "q", 0);
    done.attempt = 1;
    done.phase = AttemptPhase::Succeeded;
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&[queued.clone(), running.clone(), sibling.clone(), done.clone()])
        .await
        .unwrap();
    let aborted = tx
        .abort_node_attempts(execution.id, &["gen".to_owned()], 77)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        aborted, 1,
        "only gen's queued attempt; its finished one and its child's stay"
    );
    let gen_attempts = store.list_attempts(execution.id, "gen").await.unwrap();
    assert_eq!(
        gen_attempts.iter().map(|a| (a.attempt, a.phase)).collect::<Vec<_>>(),
        [(0, AttemptPhase::Aborted), (1, AttemptPhase::Succeeded)]
    );
    assert_eq!(gen_attempts[0].finished_at, Some(77));
    assert_eq!(
        store.list_attempts(execution.id, "gen/0/dn0").await.unwrap()[0].phase,
        AttemptPhase::Running
    );
    assert_eq!(
        store.list_attempts(execution.id, "other").await.unwrap()[0].phase,
        AttemptPhase::Queued
    );
}
