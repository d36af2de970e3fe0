//! Deadlines: queue and attempt timeouts on attempts, execution timeouts, and what the sweeper reads to find them.

use gantry_core::state::{AttemptPhase, ExecutionPhase};
use gantry_store::{AttemptRow, Claim, Store};
use uuid::Uuid;

use super::fixtures::{attempt, committed_execution, execution};

fn ids(rows: &[AttemptRow]) -> Vec<Uuid> {
    rows.iter().map(|row| row.id).collect()
}

pub async fn claims_skip_past_queue_deadlines_and_start_the_run_deadline(store: &dyn Store) {
    let execution = committed_execution(store, "claims").await;
    let timed = AttemptRow {
        timeout_ms: Some(1_000),
        deadline: Some(300),
        ..attempt(execution.id, "timed", "q", 0)
    };
    let overdue = AttemptRow {
        deadline: Some(150),
        ..attempt(execution.id, "overdue", "q", 0)
    };
    let unlimited = attempt(execution.id, "unlimited", "q", 0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&[timed.clone(), overdue.clone(), unlimited.clone()])
        .await
        .unwrap();
    let claimed = tx
        .claim_attempts(&Claim {
            queues: &["q".to_owned()],
            project: None,
            limit: 10,
            worker_id: "w",
            now: 200,
            lease_ms: 30_000,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        ids(&claimed),
        [timed.id, unlimited.id],
        "an attempt past its queue deadline is never claimed"
    );
    assert_eq!(
        claimed[0].deadline,
        Some(1_200),
        "the run deadline is the claim time + the timeout"
    );
    assert_eq!(claimed[0].timeout_ms, Some(1_000));
    assert_eq!(claimed[1].deadline, None, "no timeout, no deadline");
    let listed = store.list_attempts(execution.id, "timed").await.unwrap();
    assert_eq!((listed[0].deadline, listed[0].timeout_ms), (Some(1_200), Some(1_000)));
}

pub async fn overdue_attempts_and_executions_and_the_next_deadline(store: &dyn Store) {
    let timed_execution = {
        let mut row = execution("p", "d", "timed");
        row.timeout_ms = Some(240);
        row.deadline = Some(250);
        row
    };
    let finished_execution = {
        let mut row = execution("p", "d", "finished");
        row.phase = ExecutionPhase::Succeeded;
        row.deadline = Some(10);
        row
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&timed_execution).await.unwrap();
    tx.insert_execution(&finished_execution).await.unwrap();
    tx.commit().await.unwrap();
    let read = store.get_execution(timed_execution.id).await.unwrap().unwrap();
    assert_eq!((read.timeout_ms, read.deadline), (Some(240), Some(250)));

    let id = timed_execution.id;
    let queued = AttemptRow {
        deadline: Some(150),
        ..attempt(id, "queued", "q", 0)
    };
    let running = AttemptRow {
        phase: AttemptPhase::Running,
        worker_id: Some("w".to_owned()),
        lease_expires_at: Some(10_000),
        timeout_ms: Some(300),
        deadline: Some(400),
        ..attempt(id, "running", "q", 0)
    };
    let failed = AttemptRow {
        phase: AttemptPhase::Failed,
        deadline: Some(50),
        ..attempt(id, "failed", "q", 0)
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&[running.clone(), queued.clone(), failed])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        store.next_deadline().await.unwrap(),
        Some(150),
        "terminal attempts and executions do not count"
    );
    let mut tx = store.begin().await.unwrap();
    assert!(tx.overdue_attempts(149, 10).await.unwrap().is_empty());
    assert_eq!(ids(&tx.overdue_attempts(200, 10).await.unwrap()), [queued.id]);
    assert_eq!(
        ids(&tx.overdue_attempts(500, 10).await.unwrap()),
        [queued.id, running.id],
        "earliest deadline first"
    );
    assert_eq!(ids(&tx.overdue_attempts(500, 1).await.unwrap()), [queued.id]);
    assert!(tx.overdue_executions(249, 10).await.unwrap().is_empty());
    assert_eq!(tx.overdue_executions(250, 10).await.unwrap(), [id]);

    let mut timed_out = tx.lock_attempts(&[queued.id]).await.unwrap();
    timed_out[0].phase = AttemptPhase::TimedOut;
    timed_out[0].finished_at = Some(200);
    tx.update_attempts(&timed_out).await.unwrap();
    let mut execution_row = tx.lock_execution(id).await.unwrap().unwrap();
    execution_row.phase = ExecutionPhase::TimedOut;
    tx.update_execution(&execution_row).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.next_deadline().await.unwrap(), Some(400));

    let mut tx = store.begin().await.unwrap();
    assert!(tx.overdue_executions(1_000, 10).await.unwrap().is_empty());
    let mut claimed = tx.lock_attempts(&[running.id]).await.unwrap();
    claimed[0].deadline = Some(900);
    tx.update_attempts(&claimed).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.next_deadline().await.unwrap(),
        Some(900),
        "update_attempts writes the deadline"
    );
}

pub async fn a_released_parked_attempt_gets_its_queue_deadline(store: &dyn Store) {
    let execution = committed_execution(store, "parked").await;
    let limited = AttemptRow {
        queue_timeout_ms: Some(500),
        ..attempt(execution.id, "limited", "q", gantry_store::PARKED)
    };
    let unlimited = attempt(execution.id, "unlimited", "q", gantry_store::PARKED);
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&[limited.clone(), unlimited.clone()]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.next_deadline().await.unwrap(),
        None,
        "a parked attempt waits for no deadline"
    );

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.unpark_attempts(execution.id, 10, 1_000).await.unwrap().len(), 2);
    tx.commit().await.unwrap();
    let limited = store.list_attempts(execution.id, "limited").await.unwrap();
    assert_eq!(
        (limited[0].not_before, limited[0].deadline, limited[0].queue_timeout_ms),
        (1_000, Some(1_500), Some(500)),
        "the queue timeout counts from the release"
    );
    let unlimited = store.list_attempts(execution.id, "unlimited").await.unwrap();
    assert_eq!(unlimited[0].deadline, None);
    assert_eq!(store.next_deadline().await.unwrap(), Some(1_500));
}
