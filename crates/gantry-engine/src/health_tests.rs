//! The health monitor against a store whose reachability the test sets: one slow ping is not an outage, two are; a
//! refused one is at once; while unreachable every call is refused without reaching the store; and once it answers
//! again the engine serves again by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use gantry_core::model::{Identifier, TaskMetadata, TaskTemplate, TypedInterface};
use gantry_core::state::NodePhase;
use gantry_store::{
    Announcement, ApiKeyRow, AttemptRow, ExecutionFilter, ExecutionRow, NodeRow, Page, ProjectRow, ResourceKey,
    ResourceKind, ResourceRow, SpecRow, SqliteStore, Store, StoreError, StoreResult, Tx,
};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use crate::{Engine, EngineConfig, EngineError, Registration};

const UP: u8 = 0;
const REFUSING: u8 = 1;
const SILENT: u8 = 2;

/// SQLite behind a switch: up, refusing every call at once, or answering nothing (calls hang).
#[derive(Debug)]
struct Switched {
    inner: SqliteStore,
    mode: AtomicU8,
    /// Pings still to leave unanswered while up.
    slow_pings: AtomicU32,
    /// How many pings were made, to wait on.
    pings: watch::Sender<u32>,
    /// Calls other than pings that reached this store.
    calls: AtomicU32,
}

impl Switched {
    async fn reach(&self) -> StoreResult<&SqliteStore> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.mode.load(Ordering::SeqCst) {
            UP => Ok(&self.inner),
            REFUSING => Err(StoreError::Unavailable("connection refused".to_owned())),
            _ => std::future::pending().await,
        }
    }
}

#[async_trait]
impl Store for Switched {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        self.reach().await?.begin().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.pings.send_modify(|pings| *pings += 1);
        let slow = self
            .slow_pings
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        match self.mode.load(Ordering::SeqCst) {
            UP if !slow => self.inner.ping().await,
            REFUSING => Err(StoreError::Unavailable("connection refused".to_owned())),
            _ => std::future::pending().await,
        }
    }
    async fn compact_claims(&self) -> StoreResult<()> {
        self.reach().await?.compact_claims().await
    }
    async fn get_resource(&self, kind: ResourceKind, key: &ResourceKey) -> StoreResult<Option<ResourceRow>> {
        self.reach().await?.get_resource(kind, key).await
    }
    async fn list_resources(
        &self,
        kind: ResourceKind,
        project: &str,
        domain: &str,
        name: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<ResourceRow>> {
        self.reach()
            .await?
            .list_resources(kind, project, domain, name, page)
            .await
    }
    async fn get_execution(&self, id: Uuid) -> StoreResult<Option<ExecutionRow>> {
        self.reach().await?.get_execution(id).await
    }
    async fn active_counts(&self) -> StoreResult<gantry_store::ActiveCounts> {
        self.reach().await?.active_counts().await
    }
    fn pool_use(&self) -> gantry_store::PoolUse {
        self.inner.pool_use()
    }
    async fn find_execution(&self, project: &str, domain: &str, name: &str) -> StoreResult<Option<ExecutionRow>> {
        self.reach().await?.find_execution(project, domain, name).await
    }
    async fn list_executions(&self, filter: &ExecutionFilter, page: &Page) -> StoreResult<Vec<ExecutionRow>> {
        self.reach().await?.list_executions(filter, page).await
    }
    async fn get_node(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Option<NodeRow>> {
        self.reach().await?.get_node(execution_id, node_id).await
    }
    async fn list_nodes(&self, execution_id: Uuid, parent_id: &str, page: &Page) -> StoreResult<Vec<NodeRow>> {
        self.reach().await?.list_nodes(execution_id, parent_id, page).await
    }
    async fn list_descendants(
        &self,
        execution_id: Uuid,
        below: &str,
        phases: &[NodePhase],
        page: &Page,
    ) -> StoreResult<Vec<NodeRow>> {
        self.reach()
            .await?
            .list_descendants(execution_id, below, phases, page)
            .await
    }
    async fn list_attempts(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Vec<AttemptRow>> {
        self.reach().await?.list_attempts(execution_id, node_id).await
    }
    async fn get_spec(&self, execution_id: Uuid, node_id: &str, attempt: i32) -> StoreResult<Option<SpecRow>> {
        self.reach().await?.get_spec(execution_id, node_id, attempt).await
    }
    async fn next_lease_expiry(&self) -> StoreResult<Option<i64>> {
        self.reach().await?.next_lease_expiry().await
    }
    async fn next_deadline(&self) -> StoreResult<Option<i64>> {
        self.reach().await?.next_deadline().await
    }
    async fn next_not_before(&self, now: i64) -> StoreResult<Option<i64>> {
        self.reach().await?.next_not_before(now).await
    }
    async fn ready_queues(&self, after: i64, now: i64) -> StoreResult<Vec<String>> {
        self.reach().await?.ready_queues(after, now).await
    }
    async fn nodes_creating_children(&self, updated_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        self.reach().await?.nodes_creating_children(updated_before).await
    }
    async fn child_outputs(&self, execution_id: Uuid, parent_id: &str) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
        self.reach().await?.child_outputs(execution_id, parent_id).await
    }
    async fn assembling(&self, updated_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        self.reach().await?.assembling(updated_before).await
    }
    async fn hydrations(&self, since_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        self.reach().await?.hydrations(since_before).await
    }
    async fn list_schedules(&self, project: &str, domain: &str) -> StoreResult<Vec<gantry_store::ScheduleRow>> {
        self.reach().await?.list_schedules(project, domain).await
    }
    async fn next_tick(&self) -> StoreResult<Option<i64>> {
        self.reach().await?.next_tick().await
    }
    async fn latest_version(
        &self,
        kind: ResourceKind,
        project: &str,
        domain: &str,
        name: &str,
    ) -> StoreResult<Option<String>> {
        self.reach().await?.latest_version(kind, project, domain, name).await
    }

    async fn gates_of(&self, execution_id: Uuid) -> StoreResult<Vec<gantry_store::GateRow>> {
        self.reach().await?.gates_of(execution_id).await
    }
    async fn signals_of(&self, execution_id: Uuid) -> StoreResult<Vec<gantry_store::SignalRow>> {
        self.reach().await?.signals_of(execution_id).await
    }
    async fn listen(&self) -> StoreResult<Option<mpsc::Receiver<Announcement>>> {
        self.reach().await?.listen().await
    }

    async fn insert_api_key(&self, row: &ApiKeyRow) -> StoreResult<()> {
        self.reach().await?.insert_api_key(row).await
    }
    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>> {
        self.reach().await?.get_api_key(id).await
    }
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRow>> {
        self.reach().await?.list_api_keys().await
    }
    async fn revoke_api_key(&self, id: &str, now: i64) -> StoreResult<Option<ApiKeyRow>> {
        self.reach().await?.revoke_api_key(id, now).await
    }
    async fn insert_project(&self, row: &ProjectRow) -> StoreResult<bool> {
        self.reach().await?.insert_project(row).await
    }
    async fn get_project(&self, id: &str) -> StoreResult<Option<ProjectRow>> {
        self.reach().await?.get_project(id).await
    }
    async fn list_projects(&self) -> StoreResult<Vec<ProjectRow>> {
        self.reach().await?.list_projects().await
    }
    async fn archive_project(&self, id: &str, now: i64) -> StoreResult<Option<ProjectRow>> {
        self.reach().await?.archive_project(id, now).await
    }
    async fn insert_audit_entry(&self, entry: &gantry_store::AuditRow) -> StoreResult<()> {
        self.reach().await?.insert_audit_entry(entry).await
    }

    async fn list_audit_entries(
        &self,
        filter: &gantry_store::AuditFilter,
        page: &Page,
    ) -> StoreResult<Vec<gantry_store::AuditRow>> {
        self.reach().await?.list_audit_entries(filter, page).await
    }
}

async fn start() -> (Engine, Arc<Switched>, crate::EngineTasks) {
    let store = Arc::new(Switched {
        inner: SqliteStore::open(":memory:").await.expect("sqlite"),
        mode: AtomicU8::new(UP),
        slow_pings: AtomicU32::new(0),
        pings: watch::Sender::new(0),
        calls: AtomicU32::new(0),
    });
    let config = EngineConfig {
        store_probe_interval: Duration::from_millis(10),
        store_probe_timeout: Duration::from_millis(50),
        strict_transitions: true,
        ..EngineConfig::default()
    };
    let (engine, tasks) = Engine::start(store.clone(), config);
    (engine, store, tasks)
}

/// Waits until the store has been pinged `more` more times.
async fn pings(store: &Switched, more: u32) {
    let mut pings = store.pings.subscribe();
    let until = *pings.borrow_and_update() + more;
    pings.wait_for(|pings| *pings >= until).await.expect("pinging");
}

async fn until_reachable(engine: &Engine, want: bool) {
    let mut reachable = engine.store_reachable();
    let waited = tokio::time::timeout(Duration::from_secs(10), reachable.wait_for(|now| *now == want));
    waited.await.expect("in time").expect("followed");
}

fn task() -> Registration {
    Registration::Task(TaskTemplate {
        id: Identifier::new("p", "d", "t", "1"),
        interface: TypedInterface::default(),
        metadata: TaskMetadata::default(),
        container: None,
        plugin: None,
    })
}

fn is_refused(error: &EngineError) -> bool {
    matches!(error, EngineError::Unavailable(message) if message.contains("cannot reach"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_ping_is_not_an_outage_but_two_are() {
    let (engine, store, tasks) = start().await;
    store.slow_pings.store(1, Ordering::SeqCst);
    pings(&store, 4).await;
    assert!(*engine.store_reachable().borrow(), "one slow answer changed nothing");
    store.slow_pings.store(2, Ordering::SeqCst);
    until_reachable(&engine, false).await;
    until_reachable(&engine, true).await;
    tasks.monitor.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_unreachable_every_call_is_refused_without_reaching_the_store_and_then_it_serves_again() {
    let (engine, store, tasks) = start().await;
    engine.register(task()).await.expect("registered while up");
    store.mode.store(REFUSING, Ordering::SeqCst);
    until_reachable(&engine, false).await;
    // Calls made before it was declared unreachable are over by the next ping.
    pings(&store, 1).await;
    let calls = store.calls.load(Ordering::SeqCst);
    let read = engine
        .shared
        .store
        .get_execution(Uuid::now_v7())
        .await
        .expect_err("refused");
    assert!(matches!(read, StoreError::Unavailable(_)), "{read:?}");
    assert!(is_refused(&engine.register(task()).await.expect_err("refused")));
    let poll = engine.poll("w", &["q".to_owned()], 1, Duration::from_secs(30)).await;
    assert!(is_refused(&poll.expect_err("refused")));
    assert_eq!(store.calls.load(Ordering::SeqCst), calls, "nothing reached the store");

    // A store that stops answering altogether is found out too, and a poll waiting for work then ends.
    store.mode.store(UP, Ordering::SeqCst);
    until_reachable(&engine, true).await;
    let waiting = tokio::spawn({
        let engine = engine.clone();
        async move { engine.poll("w", &["q".to_owned()], 1, Duration::from_secs(30)).await }
    });
    store.mode.store(SILENT, Ordering::SeqCst);
    until_reachable(&engine, false).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the poll ended");
    assert!(is_refused(&ended.expect("poll task").expect_err("refused")));

    store.mode.store(UP, Ordering::SeqCst);
    until_reachable(&engine, true).await;
    engine.register(task()).await.expect("registered again once reachable");
    tasks.monitor.abort();
}

/// A compaction the store refuses (unreachable) is logged and forgotten: the next one starts after as many claims
/// again, and reaches the store once it answers.
#[tokio::test]
async fn a_failed_claim_compaction_lets_the_next_one_start() {
    let (engine, store, tasks) = start().await;
    let compaction = crate::compaction::ClaimCompaction::new(2);
    let as_store: Arc<dyn Store> = store.clone();
    store.mode.store(REFUSING, Ordering::SeqCst);
    let calls = store.calls.load(Ordering::SeqCst);
    compaction.claimed(2, &as_store);
    compaction.ended().await;
    assert_eq!(compaction.started(), 1);
    assert!(
        store.calls.load(Ordering::SeqCst) > calls,
        "the refused compaction reached the store"
    );
    store.mode.store(UP, Ordering::SeqCst);
    compaction.claimed(1, &as_store);
    assert_eq!(compaction.started(), 1, "1 of 2 claims since the failed one");
    compaction.claimed(1, &as_store);
    assert_eq!(
        compaction.started(),
        2,
        "the failed compaction did not keep the next one from starting"
    );
    compaction.ended().await;
    tasks.monitor.abort();
    drop(engine);
}
