//! API keys, projects, and claims restricted to one project.

use gantry_store::{ApiKeyRow, AttemptRow, Claim, ProjectRow, Store, StoreError};
use uuid::Uuid;

use super::fixtures::{attempt, execution};

fn key(project: Option<&str>, role: &str) -> ApiKeyRow {
    ApiKeyRow {
        id: Uuid::now_v7().to_string(),
        secret_hash: vec![7; 32],
        project: project.map(str::to_owned),
        role: role.to_owned(),
        description: "ci".to_owned(),
        created_at: 10,
        expires_at: Some(1_000),
        revoked_at: None,
    }
}

pub async fn api_keys_insert_get_list_and_revoke(store: &dyn Store) {
    let admin = key(None, "admin");
    let worker = key(Some("alpha"), "worker");
    store.insert_api_key(&admin).await.unwrap();
    store.insert_api_key(&worker).await.unwrap();
    assert!(matches!(
        store.insert_api_key(&admin).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_api_key(&worker.id).await.unwrap().as_ref(), Some(&worker));
    assert_eq!(store.get_api_key("no-such-key").await.unwrap(), None);
    assert_eq!(store.list_api_keys().await.unwrap(), [admin.clone(), worker.clone()]);

    let revoked = store.revoke_api_key(&worker.id, 50).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(50));
    let again = store.revoke_api_key(&worker.id, 60).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(50), "the first revocation stands");
    assert_eq!(store.revoke_api_key("no-such-key", 60).await.unwrap(), None);
    assert_eq!(store.get_api_key(&admin.id).await.unwrap().unwrap().revoked_at, None);
}

pub async fn projects_create_list_and_archive(store: &dyn Store) {
    let alpha = ProjectRow {
        id: "alpha".to_owned(),
        description: "the first".to_owned(),
        domains: vec!["development".to_owned(), "production".to_owned()],
        created_at: 5,
        archived_at: None,
    };
    assert!(store.insert_project(&alpha).await.unwrap());
    let mut changed = alpha.clone();
    changed.description = "another".to_owned();
    assert!(
        !store.insert_project(&changed).await.unwrap(),
        "an id taken is not created again"
    );
    assert_eq!(store.get_project("alpha").await.unwrap().as_ref(), Some(&alpha));
    assert_eq!(store.get_project("beta").await.unwrap(), None);
    let beta = ProjectRow {
        id: "beta".to_owned(),
        domains: vec!["staging".to_owned()],
        ..alpha.clone()
    };
    assert!(store.insert_project(&beta).await.unwrap());
    assert_eq!(store.list_projects().await.unwrap(), [alpha.clone(), beta]);

    let archived = store.archive_project("alpha", 70).await.unwrap().unwrap();
    assert_eq!(archived.archived_at, Some(70));
    let again = store.archive_project("alpha", 80).await.unwrap().unwrap();
    assert_eq!(again.archived_at, Some(70));
    assert_eq!(store.archive_project("gamma", 80).await.unwrap(), None);
}

pub async fn a_project_claim_takes_only_that_projects_attempts(store: &dyn Store) {
    let alpha = execution("alpha", "d", "a");
    let beta = execution("beta", "d", "b");
    let mut rows: Vec<AttemptRow> = Vec::new();
    // Interleaved, oldest first: beta's come first in the queue.
    for i in 0..3 {
        for (project, execution) in [("beta", &beta), ("alpha", &alpha)] {
            let mut row = attempt(execution.id, &format!("{project}-n{i}"), "q", 0);
            row.project = project.to_owned();
            rows.push(row);
        }
    }
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&alpha).await.unwrap();
    tx.insert_execution(&beta).await.unwrap();
    tx.insert_attempts(&rows).await.unwrap();
    tx.commit().await.unwrap();
    let queues = ["q".to_owned()];

    let mut tx = store.begin().await.unwrap();
    let claim = Claim {
        queues: &queues,
        project: Some("alpha"),
        limit: 10,
        worker_id: "w",
        now: 1,
        lease_ms: 1_000,
    };
    let claimed = tx.claim_attempts(&claim).await.unwrap();
    tx.commit().await.unwrap();
    let alphas: Vec<Uuid> = rows.iter().filter(|r| r.project == "alpha").map(|r| r.id).collect();
    assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), alphas);
    assert!(claimed.iter().all(|r| r.project == "alpha"));

    let mut tx = store.begin().await.unwrap();
    let claimed = tx.claim_attempts(&Claim { project: None, ..claim }).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.len(), 3, "a claim for every project takes the rest: beta's");
    assert!(claimed.iter().all(|r| r.project == "beta"));
}

/// One project's claim walks its own entries of the `(queue, project, id)` index: 10,000 queued attempts of another
/// project ahead of it in the queue cost it nothing. The statement read is the claim's candidate scan, as the
/// function `gantry_claim_project` (migration 0013) plans it.
pub async fn a_project_claim_does_not_walk_other_projects_attempts(store: &gantry_store::PgStore) {
    let beta = execution("beta", "d", "many");
    let alpha = execution("alpha", "d", "few");
    let mut rows: Vec<AttemptRow> = (0..10_000)
        .map(|i| {
            let mut row = attempt(beta.id, &format!("n{i}"), "q", 0);
            row.project = "beta".to_owned();
            row
        })
        .collect();
    for i in 0..5 {
        let mut row = attempt(alpha.id, &format!("n{i}"), "q", 0);
        row.project = "alpha".to_owned();
        rows.push(row);
    }
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&beta).await.unwrap();
    tx.insert_execution(&alpha).await.unwrap();
    tx.insert_attempts(&rows).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE attempts").execute(store.pool()).await.unwrap();

    let mut conn = store.pool().acquire().await.unwrap();
    sqlx::query("SET enable_bitmapscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM attempts WHERE phase = 'queued' AND queue = 'q' \
         AND project = 'alpha' AND not_before <= 1 AND (deadline IS NULL OR deadline > 1) ORDER BY id LIMIT 5",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let plan = plan.join("\n");
    assert!(plan.contains("attempts_queued_project"), "{plan}");
    assert!(
        !plan.contains("Rows Removed by Filter: 1"),
        "no other project's rows read and dropped: {plan}"
    );

    let queues = ["q".to_owned()];
    let started = std::time::Instant::now();
    let mut tx = store.begin().await.unwrap();
    let claimed = tx
        .claim_attempts(&Claim {
            queues: &queues,
            project: Some("alpha"),
            limit: 5,
            worker_id: "w",
            now: 1,
            lease_ms: 1_000,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    eprintln!(
        "figure: one project's claim of 5 behind 10,000 of another's: {:?}",
        started.elapsed()
    );
    assert_eq!(claimed.len(), 5);
    assert!(claimed.iter().all(|row| row.project == "alpha"));
}
