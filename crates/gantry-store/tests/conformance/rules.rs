//! The two decisions of the core the store carries out in bulk, each in one statement for many rows, iterated over
//! every phase: the claim picks exactly the attempts `attempt::claimable` accepts and writes what the core's `Claim`
//! transition decides for each; an abort ends every node and attempt below a composite as `node::aborted_below` and
//! the attempts' `Abort` row say.

use gantry_core::state::attempt::{self, AttemptEvent, AttemptState};
use gantry_core::state::{AttemptPhase, NodePhase, node};
use gantry_store::{AttemptRow, Claim, NodeRow, PARKED, PgStore, Store};

use super::fixtures::{attempt, committed_execution, node as node_row};

const NOW: i64 = 1_000;
const LEASE_MS: i64 = 30_000;

/// Every combination of phase, due time and queue deadline around `NOW`.
fn table(execution_id: uuid::Uuid) -> Vec<AttemptRow> {
    let not_befores = [0, NOW, NOW + 1, PARKED];
    let deadlines = [None, Some(NOW - 1), Some(NOW), Some(NOW + 1)];
    let mut rows = Vec::new();
    for phase in AttemptPhase::ALL {
        for not_before in not_befores {
            for deadline in deadlines {
                let node = format!("n{}", rows.len());
                let mut row = AttemptRow {
                    phase,
                    deadline,
                    timeout_ms: (rows.len() % 2 == 0).then_some(500),
                    ..attempt(execution_id, &node, "q", not_before)
                };
                if phase != AttemptPhase::Queued {
                    row.worker_id = Some("earlier".to_owned());
                    row.lease_expires_at = Some(NOW + 10);
                }
                rows.push(row);
            }
        }
    }
    rows
}

fn state(row: &AttemptRow) -> AttemptState {
    AttemptState {
        phase: row.phase,
        worker_id: row.worker_id.clone(),
        lease_expires_at_ms: row.lease_expires_at,
        deadline_ms: row.deadline,
    }
}

pub async fn claims_pick_and_write_what_the_core_decides(store: &dyn Store) {
    let execution = committed_execution(store, "claims-rule").await;
    let rows = table(execution.id);
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&rows).await.unwrap();
    let claimed = tx
        .claim_attempts(&Claim {
            queues: &["q".to_owned()],
            project: None,
            limit: rows.len() as u32,
            worker_id: "w",
            now: NOW,
            lease_ms: LEASE_MS,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let claimable: Vec<&AttemptRow> = rows
        .iter()
        .filter(|row| attempt::claimable(&state(row), row.not_before, NOW))
        .collect();
    assert_eq!(
        claimable.len(),
        4,
        "queued, due and before the deadline: the rule accepts some rows"
    );
    let mut claimed_ids: Vec<_> = claimed.iter().map(|row| row.id).collect();
    claimed_ids.sort();
    let want: Vec<_> = claimable.iter().map(|row| row.id).collect();
    assert_eq!(
        claimed_ids, want,
        "the store claims exactly what the core's rule accepts"
    );
    for row in &claimed {
        let before = rows
            .iter()
            .find(|r| r.id == row.id)
            .expect("a claimed row was inserted");
        let event = AttemptEvent::Claim {
            worker_id: "w".to_owned(),
            now_ms: NOW,
            lease_ms: LEASE_MS,
            timeout_ms: before.timeout_ms,
        };
        let (decided, _) = attempt::transition(&state(before), event).expect("the core accepts the claim");
        assert_eq!(state(row), decided, "{} is written as the core decides", row.node_id);
        assert_eq!(row.started_at, Some(NOW));
    }
}

pub async fn bulk_aborts_end_nodes_and_attempts_as_the_core_decides(store: &dyn Store) {
    let execution = committed_execution(store, "aborts-rule").await;
    let mut nodes = vec![NodeRow {
        phase: NodePhase::ChildrenRunning,
        ..node_row(execution.id, "gen", 0)
    }];
    let mut attempts = Vec::new();
    for (i, phase) in NodePhase::ALL.into_iter().enumerate() {
        let node_id = format!("gen/0/c{i}");
        nodes.push(NodeRow {
            phase,
            ..node_row(execution.id, &node_id, i as i64)
        });
        let mut row = AttemptRow {
            phase: AttemptPhase::ALL[i % AttemptPhase::ALL.len()],
            ..attempt(execution.id, &node_id, "q", 0)
        };
        if row.phase != AttemptPhase::Queued {
            row.worker_id = Some("w".to_owned());
        }
        attempts.push(row);
    }
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&nodes).await.unwrap();
    tx.insert_attempts(&attempts).await.unwrap();
    tx.abort_descendants(execution.id, Some("gen"), 500).await.unwrap();
    tx.commit().await.unwrap();

    for before in &nodes[1..] {
        let after = store.get_node(execution.id, &before.node_id).await.unwrap().unwrap();
        assert_eq!(
            after.phase,
            node::aborted_below(before.phase),
            "{} was {:?}",
            before.node_id,
            before.phase
        );
    }
    for before in &attempts {
        let after = &store.list_attempts(execution.id, &before.node_id).await.unwrap()[0];
        let (decided, _) = attempt::transition(&state(before), AttemptEvent::Abort).expect("an abort is always taken");
        assert_eq!(
            after.phase, decided.phase,
            "the attempt of {} was {:?}",
            before.node_id, before.phase
        );
    }
    let parent = store.get_node(execution.id, "gen").await.unwrap().unwrap();
    assert_eq!(
        parent.phase,
        NodePhase::ChildrenRunning,
        "strictly below: the composite itself is the engine's"
    );
}

/// Pages a read of the first queued attempt of queue `q` touches, walking the claim's index as claims do.
async fn claim_walk_pages(store: &PgStore) -> u64 {
    let mut conn = store.pool().acquire().await.unwrap();
    sqlx::query("SET enable_bitmapscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM attempts \
         WHERE phase = 'queued' AND queue = 'q' ORDER BY queue, id LIMIT 1",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    sqlx::query("RESET enable_bitmapscan")
        .execute(&mut *conn)
        .await
        .unwrap();
    // The plan's first `Buffers:` line is its top node's, which counts its children's: `shared hit=H read=R ...`.
    let buffers = plan
        .iter()
        .find(|line| line.contains("Buffers:"))
        .expect("a Buffers line");
    let count = |name: &str| -> u64 {
        buffers
            .split_whitespace()
            .find_map(|part| part.strip_prefix(name))
            .map_or(0, |n| n.parse().unwrap())
    };
    count("hit=") + count("read=")
}

/// Postgres keeps the index entries of claimed attempts until a vacuum, and claims step over them;
/// `compact_claims` rids the index of them.
pub async fn compacting_claims_shortens_the_claims_walk(store: &PgStore) {
    let execution = committed_execution(store, "compaction").await;
    let rows: Vec<AttemptRow> = (0..10_000)
        .map(|i| attempt(execution.id, &format!("n{i}"), "q", 0))
        .collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&rows).await.unwrap();
    tx.commit().await.unwrap();
    let queues = ["q".to_owned()];
    for _ in 0..2 {
        let mut tx = store.begin().await.unwrap();
        let claimed = tx
            .claim_attempts(&Claim {
                queues: &queues,
                project: None,
                limit: 4_000,
                worker_id: "w",
                now: NOW,
                lease_ms: LEASE_MS,
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(claimed.len(), 4_000);
    }
    // The first walk marks the claimed attempts' entries dead; the next still steps over them.
    claim_walk_pages(store).await;
    let before = claim_walk_pages(store).await;
    store.compact_claims().await.unwrap();
    let after = claim_walk_pages(store).await;
    eprintln!("figure: a claim's walk past 8,000 claimed attempts: {before} pages, {after} after compacting");
    assert!(
        before >= 20 && after * 5 <= before,
        "pages walked: {before} before compacting, {after} after"
    );
    let mut tx = store.begin().await.unwrap();
    let rest = tx
        .claim_attempts(&Claim {
            queues: &queues,
            project: None,
            limit: 4_000,
            worker_id: "w",
            now: NOW,
            lease_ms: LEASE_MS,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rest.len(), 2_000, "the attempts not claimed are still claimable");
}

/// Compacting claims leaves every row as it was, on both stores.
pub async fn compacting_claims_changes_no_row(store: &dyn Store) {
    let execution = committed_execution(store, "compaction-rows").await;
    let rows = table(execution.id);
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&rows).await.unwrap();
    tx.commit().await.unwrap();
    store.compact_claims().await.unwrap();
    for row in &rows {
        let stored = &store.list_attempts(execution.id, &row.node_id).await.unwrap()[0];
        assert_eq!(
            (stored.id, stored.phase, stored.not_before),
            (row.id, row.phase, row.not_before)
        );
    }
}
