//! The claim follows the core's rule: the store picks exactly the attempts `attempt::claimable` accepts, and writes
//! what the core's `Claim` transition decides for each.

use gantry_core::state::AttemptPhase;
use gantry_core::state::attempt::{self, AttemptEvent, AttemptState};
use gantry_store::{AttemptRow, PARKED, Store};

use super::fixtures::{attempt, committed_execution};

const NOW: i64 = 1_000;
const LEASE_MS: i64 = 30_000;

/// Every combination of phase, due time and queue deadline around `NOW`.
fn table(execution_id: uuid::Uuid) -> Vec<AttemptRow> {
    let phases = [
        AttemptPhase::Queued,
        AttemptPhase::Running,
        AttemptPhase::Succeeded,
        AttemptPhase::Failed,
        AttemptPhase::TimedOut,
        AttemptPhase::Aborted,
    ];
    let not_befores = [0, NOW, NOW + 1, PARKED];
    let deadlines = [None, Some(NOW - 1), Some(NOW), Some(NOW + 1)];
    let mut rows = Vec::new();
    for phase in phases {
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
        .claim_attempts(&["q".to_owned()], rows.len() as u32, "w", NOW, LEASE_MS)
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
