//! What only one store has, or what the conformance suite cannot reach through `&dyn Store`: opening an in-memory
//! SQLite database, and how connection and decoding failures surface.
#![allow(clippy::unwrap_used)]

use gantry_core::state::{ExecutionPhase, NodeKind, NodePhase};
use gantry_store::{Announcement, ExecutionRow, NodeRow, PgStore, SqliteStore, Store, StoreError};
use uuid::Uuid;

fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is not set; run scripts/test")
}

fn execution(name: &str) -> ExecutionRow {
    ExecutionRow {
        id: Uuid::now_v7(),
        project: "p".to_owned(),
        domain: "d".to_owned(),
        name: name.to_owned(),
        target_kind: "task".to_owned(),
        target: "p/d/t@v1".to_owned(),
        workflow: vec![1],
        phase: ExecutionPhase::Running,
        inputs: vec![],
        outputs: None,
        error: None,
        max_parallelism: None,
        overwrite_cache: false,
        timeout_ms: None,
        deadline: None,
        parent_execution_id: None,
        parent_node_id: None,
        origin: "created".to_owned(),
        source_execution_id: None,
        trace_context: None,
        nodes_total: 1,
        nodes_succeeded: 0,
        nodes_failed: 0,
        nodes_skipped: 0,
        created_at: 1,
        updated_at: 1,
        started_at: None,
        finished_at: None,
    }
}

fn node(execution_id: Uuid) -> NodeRow {
    NodeRow {
        execution_id,
        node_id: "n".to_owned(),
        parent_id: String::new(),
        local_id: "n".to_owned(),
        kind: NodeKind::LaunchPlan,
        definition: vec![2],
        task: None,
        phase: NodePhase::Running,
        is_dynamic: false,
        attempts: 0,
        user_failures: 0,
        system_failures: 0,
        cache_status: Default::default(),
        upstream_pending: 0,
        downstream: vec![],
        position: 0,
        children_total: 0,
        children_succeeded: 0,
        children_failed: 0,
        children_skipped: 0,
        children_created: 0,
        inputs: None,
        outputs: None,
        error: None,
        child_execution_id: Some(Uuid::now_v7()),
        created_at: 1,
        updated_at: 1,
        started_at: None,
        finished_at: None,
    }
}

#[tokio::test]
async fn sqlite_in_memory_database_keeps_its_rows() {
    let store = SqliteStore::open(":memory:").await.unwrap();
    let row = execution("memory");
    let node = node(row.id);
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&row).await.unwrap();
    tx.insert_nodes(std::slice::from_ref(&node)).await.unwrap();
    tx.commit().await.unwrap();
    // The pool's one connection holds the database: rows survive between calls.
    assert_eq!(store.get_execution(row.id).await.unwrap(), Some(row.clone()));
    assert_eq!(store.get_node(row.id, "n").await.unwrap(), Some(node));
    // A second in-memory store is a database of its own.
    let other = SqliteStore::open(":memory:").await.unwrap();
    assert_eq!(other.get_execution(row.id).await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_foreign_keys_are_enforced() {
    let store = SqliteStore::open(":memory:").await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let error = tx.insert_nodes(&[node(Uuid::now_v7())]).await.unwrap_err();
    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
}

/// Postgres checks a statement's rows against `executions` once per statement (migration 0012), not with foreign
/// keys: a statement naming an execution that does not exist fails whole, as a foreign key made it.
#[tokio::test]
async fn postgres_refuses_nodes_of_executions_that_do_not_exist() {
    let admin = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin).await.unwrap();
    let known = execution("known");
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&known).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let mut stranger = node(Uuid::now_v7());
    stranger.node_id = "m".to_owned();
    let error = tx.insert_nodes(&[node(known.id), stranger]).await.unwrap_err();
    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
    tx.rollback().await.unwrap();
    assert_eq!(
        store.get_node(known.id, "n").await.unwrap(),
        None,
        "nothing of the statement stays"
    );

    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&[node(known.id)]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.get_node(known.id, "n").await.unwrap().is_some());
    store.close().await;
    PgStore::drop_fresh(&admin, &url).await.unwrap();
}

#[tokio::test]
async fn closed_pools_are_unavailable() {
    let sqlite = SqliteStore::open(":memory:").await.unwrap();
    sqlite.close().await;
    let error = sqlite.get_execution(Uuid::now_v7()).await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");

    let (postgres, url) = PgStore::connect_fresh(&admin_url()).await.unwrap();
    postgres.close().await;
    let error = postgres.begin().await.map(|_| ()).unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    PgStore::drop_fresh(&admin_url(), &url).await.unwrap();
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let error = PgStore::connect("postgres://postgres@127.0.0.1:1/postgres", 1)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_fail_at_once_when_the_database_is_gone_and_recover_with_it() {
    let admin = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin).await.unwrap();
    store.ping().await.unwrap();
    // The probe's own connection is killed: the next ping notices and connects again.
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid()",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(killed >= 1, "the probe's connection was there to kill");
    store.ping().await.unwrap();

    // A store whose database refuses connections: the ping fails at once (no retrying until a pool timeout).
    let unreachable = PgStore::from_pool(
        sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://postgres@127.0.0.1:1/postgres")
            .unwrap(),
    );
    let started = std::time::Instant::now();
    let error = unreachable.ping().await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    store.close().await;
    PgStore::drop_fresh(&admin, &url).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_announcement_channel_ends_when_its_connection_is_lost() {
    let admin = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin).await.unwrap();
    let mut wakeups = store.listen().await.unwrap().expect("Postgres has a channel");
    let terminated: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() \
         AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(terminated, 1, "one listening connection");
    // The caller learns that announcements may have been missed, and listens again (a guard against a hang).
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), wakeups.recv())
        .await
        .unwrap();
    assert_eq!(ended, None, "the channel ends");
    let mut again = store.listen().await.unwrap().expect("Postgres has a channel");
    let mut tx = store.begin().await.unwrap();
    tx.announce_queues(&["q".to_owned()]).await.unwrap();
    tx.commit().await.unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(30), again.recv())
        .await
        .unwrap();
    assert_eq!(next, Some(Announcement::Queue("q".to_owned())));
    drop(again);
    store.close().await;
    PgStore::drop_fresh(&admin, &url).await.unwrap();
}

#[tokio::test]
async fn unknown_phases_are_corrupt_rows() {
    let (postgres, url) = PgStore::connect_fresh(&admin_url()).await.unwrap();
    let sqlite = SqliteStore::open(":memory:").await.unwrap();
    let row = execution("corrupt");
    for store in [&postgres as &dyn Store, &sqlite] {
        let mut tx = store.begin().await.unwrap();
        tx.insert_execution(&row).await.unwrap();
        tx.insert_nodes(&[node(row.id)]).await.unwrap();
        tx.commit().await.unwrap();
    }
    sqlx::query("UPDATE executions SET phase = 'paused'")
        .execute(postgres.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE nodes SET kind = 'dynamic'")
        .execute(postgres.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE executions SET phase = 'paused'")
        .execute(sqlite.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE nodes SET cache_status = 'stale'")
        .execute(sqlite.pool())
        .await
        .unwrap();
    for store in [&postgres as &dyn Store, &sqlite] {
        let error = store.get_execution(row.id).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Corrupt(message) if message.contains("\"paused\"")),
            "{error:?}"
        );
        let error = store.get_node(row.id, "n").await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Corrupt(message) if message.contains(r#"node "n""#)),
            "{error:?}"
        );
    }
    postgres.close().await;
    PgStore::drop_fresh(&admin_url(), &url).await.unwrap();
}

#[tokio::test]
async fn drop_fresh_refuses_other_databases() {
    let error = PgStore::drop_fresh(&admin_url(), "postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("refusing to drop"), "{error}");
    let error = PgStore::drop_fresh(&admin_url(), "postgres://h/gantry_test_x;drop")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("refusing to drop"), "{error}");
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let (postgres, url) = PgStore::connect_fresh(&admin_url()).await.unwrap();
    postgres.migrate().await.unwrap();
    let reconnected = PgStore::connect(&url, 1).await.unwrap();
    reconnected.close().await;
    postgres.close().await;
    PgStore::drop_fresh(&admin_url(), &url).await.unwrap();
    let sqlite = SqliteStore::open(":memory:").await.unwrap();
    sqlite.migrate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_announces_queues_and_phases_to_other_replicas_on_commit_only() {
    let admin = admin_url();
    let (store, url) = PgStore::connect_fresh(&admin).await.unwrap();
    let replica = PgStore::connect(&url, 2).await.unwrap();
    let mut wakeups = replica.listen().await.unwrap().expect("Postgres has a channel");
    let mut next = async || {
        // A guard against a hang, not a timing assertion.
        tokio::time::timeout(std::time::Duration::from_secs(30), wakeups.recv())
            .await
            .unwrap()
            .unwrap()
    };

    let mut rolled_back = store.begin().await.unwrap();
    rolled_back.announce_queues(&["never".to_owned()]).await.unwrap();
    drop(rolled_back);
    let mut tx = store.begin().await.unwrap();
    tx.announce_queues(&["gpu".to_owned(), "default".to_owned()])
        .await
        .unwrap();
    let (origin, execution) = (Uuid::now_v7(), Uuid::now_v7());
    tx.announce_executions(origin, &[(execution, ExecutionPhase::Succeeded)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let queue = |name: &str| Announcement::Queue(name.to_owned());
    assert_eq!(next().await, queue("gpu"), "a rolled-back announcement is never sent");
    assert_eq!(next().await, queue("default"));
    let phase = ExecutionPhase::Succeeded;
    assert_eq!(
        next().await,
        Announcement::Execution {
            origin,
            id: execution,
            phase
        }
    );

    drop(wakeups);
    replica.close().await;
    store.close().await;
    PgStore::drop_fresh(&admin, &url).await.unwrap();
}

#[tokio::test]
async fn sqlite_has_no_announcements() {
    let store = SqliteStore::open(":memory:").await.unwrap();
    assert!(store.listen().await.unwrap().is_none());
    let mut tx = store.begin().await.unwrap();
    tx.announce_queues(&["q".to_owned()]).await.unwrap();
    tx.announce_executions(Uuid::now_v7(), &[(Uuid::now_v7(), ExecutionPhase::Failed)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
}
