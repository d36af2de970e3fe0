//! Executions.

use gantry_core::state::ExecutionPhase;
use gantry_store::{ExecutionFilter, Page, Store, StoreError};
use uuid::Uuid;

use super::fixtures::execution;

pub async fn insert_get_and_find_execution(store: &dyn Store) {
    let mut row = execution("p", "d", "n1");
    row.parent_execution_id = Some(Uuid::now_v7());
    row.error = Some(vec![9]);
    row.started_at = Some(12);
    row.trace_context = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 vendor=a".to_owned());
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&row).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.get_execution(row.id).await.unwrap(), Some(row.clone()));
    assert_eq!(store.find_execution("p", "d", "n1").await.unwrap(), Some(row.clone()));
    assert_eq!(store.find_execution("p", "other", "n1").await.unwrap(), None);
    assert_eq!(store.get_execution(Uuid::now_v7()).await.unwrap(), None);
}

pub async fn execution_name_conflict_keeps_transaction_usable(store: &dyn Store) {
    let first = execution("p", "d", "n1");
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&first).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let duplicate = execution("p", "d", "n1");
    match tx.insert_execution(&duplicate).await.unwrap_err() {
        StoreError::Conflict(message) => assert_eq!(message, r#"execution "n1" already exists in p/d"#),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The same name in another domain is another execution, and the transaction still works after the conflict.
    let elsewhere = execution("p", "e", "n1");
    tx.insert_execution(&elsewhere).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.find_execution("p", "d", "n1").await.unwrap().map(|row| row.id),
        Some(first.id)
    );
    assert_eq!(
        store.find_execution("p", "e", "n1").await.unwrap().map(|row| row.id),
        Some(elsewhere.id)
    );
    assert_eq!(store.get_execution(duplicate.id).await.unwrap(), None);
}

pub async fn lock_and_update_execution(store: &dyn Store) {
    let row = execution("p", "d", "n1");
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&row).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let mut locked = tx.lock_execution(row.id).await.unwrap().unwrap();
    assert_eq!(locked, row);
    assert_eq!(tx.lock_execution(Uuid::now_v7()).await.unwrap(), None);
    locked.phase = ExecutionPhase::Succeeded;
    locked.outputs = Some(vec![7, 7]);
    locked.error = Some(vec![]);
    locked.max_parallelism = None;
    locked.overwrite_cache = false;
    locked.nodes_total = 10;
    locked.nodes_succeeded = 7;
    locked.nodes_failed = 2;
    locked.nodes_skipped = 1;
    locked.updated_at = 99;
    locked.started_at = Some(50);
    locked.finished_at = Some(99);
    tx.update_execution(&locked).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_execution(row.id).await.unwrap(), Some(locked));
}

pub async fn list_executions_filters_and_pages_newest_first(store: &dyn Store) {
    let mut mine = Vec::new();
    let mut tx = store.begin().await.unwrap();
    for i in 0..5 {
        let mut row = execution("p", "d", &format!("n{i}"));
        row.phase = if i % 2 == 0 {
            ExecutionPhase::Running
        } else {
            ExecutionPhase::Succeeded
        };
        tx.insert_execution(&row).await.unwrap();
        mine.push(row);
    }
    tx.insert_execution(&execution("q", "d", "other")).await.unwrap();
    tx.insert_execution(&execution("p", "prod", "other")).await.unwrap();
    tx.commit().await.unwrap();

    let filter = ExecutionFilter {
        project: Some("p".to_owned()),
        domain: Some("d".to_owned()),
        ..ExecutionFilter::default()
    };
    let mut listed = Vec::new();
    let mut page = Page { after: None, limit: 2 };
    loop {
        let rows = store.list_executions(&filter, &page).await.unwrap();
        assert!(rows.len() <= 2);
        let Some(last) = rows.last() else { break };
        page.after = Some(last.id.to_string());
        listed.extend(rows.iter().map(|row| row.name.clone()));
    }
    assert_eq!(listed, ["n4", "n3", "n2", "n1", "n0"]);

    let running = ExecutionFilter {
        phases: vec![ExecutionPhase::Running, ExecutionPhase::Failed],
        ..filter.clone()
    };
    let rows = store
        .list_executions(&running, &Page { after: None, limit: 10 })
        .await
        .unwrap();
    let names: Vec<&str> = rows.iter().map(|row| row.name.as_str()).collect();
    assert_eq!(names, ["n4", "n2", "n0"]);

    let everything = store
        .list_executions(&ExecutionFilter::default(), &Page { after: None, limit: 10 })
        .await;
    assert_eq!(everything.unwrap().len(), 7);
    let project_only = ExecutionFilter {
        project: Some("p".to_owned()),
        ..ExecutionFilter::default()
    };
    assert_eq!(
        store
            .list_executions(&project_only, &Page { after: None, limit: 10 })
            .await
            .unwrap()
            .len(),
        6
    );
}

pub async fn invalid_page_tokens_are_rejected(store: &dyn Store) {
    let bad = Page {
        after: Some("not-an-id".to_owned()),
        limit: 10,
    };
    let error = store
        .list_executions(&ExecutionFilter::default(), &bad)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::InvalidPage(_)), "{error:?}");
    let error = store.list_nodes(Uuid::now_v7(), "", &bad).await.unwrap_err();
    assert!(matches!(error, StoreError::InvalidPage(_)), "{error:?}");
}

/// Read-modify-write transactions at once: `lock_execution` must serialise them (a row lock on Postgres; on SQLite
/// the write lock `BEGIN IMMEDIATE` takes up front, where a deferred transaction would fail to upgrade).
pub async fn locked_read_modify_write_serialises(store: &dyn Store) {
    let row = execution("p", "d", "counter");
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&row).await.unwrap();
    tx.commit().await.unwrap();
    let increment = || async {
        let mut tx = store.begin().await.unwrap();
        let mut locked = tx.lock_execution(row.id).await.unwrap().unwrap();
        tokio::task::yield_now().await;
        locked.nodes_succeeded += 1;
        tx.update_execution(&locked).await.unwrap();
        tx.commit().await.unwrap();
    };
    tokio::join!(increment(), increment(), increment(), increment());
    assert_eq!(store.get_execution(row.id).await.unwrap().unwrap().nodes_succeeded, 4);
}
