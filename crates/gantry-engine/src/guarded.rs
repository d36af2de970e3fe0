//! The store as the engine uses it: every call consults [`StoreHealth`]. While the store is known to be unreachable
//! a call fails at once; a call already waiting (for a pooled connection, say) ends as soon as the store is declared
//! unreachable; a call that fails as unavailable has the monitor look at once. Transactions are guarded where they
//! begin: a writer batch on an unreachable store fails before it touches anything.

use std::sync::Arc;

use async_trait::async_trait;
use gantry_core::state::NodePhase;
use gantry_store::{
    Announcement, ApiKeyRow, AttemptRow, AuditFilter, AuditRow, ExecutionFilter, ExecutionRow, GateRow, NodeRow, Page,
    ProjectRow, ResourceKey, ResourceKind, ResourceRow, SignalRow, SpecRow, Store, StoreError, StoreResult, Tx,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::health::StoreHealth;

#[derive(Debug)]
pub(crate) struct GuardedStore {
    health: Arc<StoreHealth>,
}

impl GuardedStore {
    pub fn new(health: Arc<StoreHealth>) -> Self {
        GuardedStore { health }
    }

    async fn guard<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.health.check()?;
        let result = tokio::select! {
            biased;
            result = call => result,
            () = self.health.until_unreachable() => Err(StoreHealth::unreachable()),
        };
        if matches!(result, Err(StoreError::Unavailable(_))) {
            self.health.suspect();
        }
        result
    }

    fn store(&self) -> &dyn Store {
        self.health.store.as_ref()
    }
}

#[async_trait]
impl Store for GuardedStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        self.guard(self.store().begin()).await
    }

    /// Never refused: this is how the store is found reachable again.
    async fn ping(&self) -> StoreResult<()> {
        self.store().ping().await
    }

    async fn compact_claims(&self) -> StoreResult<()> {
        self.guard(self.store().compact_claims()).await
    }

    async fn get_resource(&self, kind: ResourceKind, key: &ResourceKey) -> StoreResult<Option<ResourceRow>> {
        self.guard(self.store().get_resource(kind, key)).await
    }

    async fn list_resources(
        &self,
        kind: ResourceKind,
        project: &str,
        domain: &str,
        name: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<ResourceRow>> {
        self.guard(self.store().list_resources(kind, project, domain, name, page))
            .await
    }

    async fn get_execution(&self, id: Uuid) -> StoreResult<Option<ExecutionRow>> {
        self.guard(self.store().get_execution(id)).await
    }

    async fn find_execution(&self, project: &str, domain: &str, name: &str) -> StoreResult<Option<ExecutionRow>> {
        self.guard(self.store().find_execution(project, domain, name)).await
    }

    async fn list_executions(&self, filter: &ExecutionFilter, page: &Page) -> StoreResult<Vec<ExecutionRow>> {
        self.guard(self.store().list_executions(filter, page)).await
    }

    async fn get_node(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Option<NodeRow>> {
        self.guard(self.store().get_node(execution_id, node_id)).await
    }

    async fn list_nodes(&self, execution_id: Uuid, parent_id: &str, page: &Page) -> StoreResult<Vec<NodeRow>> {
        self.guard(self.store().list_nodes(execution_id, parent_id, page)).await
    }

    async fn list_descendants(
        &self,
        execution_id: Uuid,
        below: &str,
        phases: &[NodePhase],
        page: &Page,
    ) -> StoreResult<Vec<NodeRow>> {
        self.guard(self.store().list_descendants(execution_id, below, phases, page))
            .await
    }

    async fn list_attempts(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Vec<AttemptRow>> {
        self.guard(self.store().list_attempts(execution_id, node_id)).await
    }

    async fn get_spec(&self, execution_id: Uuid, node_id: &str, attempt: i32) -> StoreResult<Option<SpecRow>> {
        self.guard(self.store().get_spec(execution_id, node_id, attempt)).await
    }

    async fn active_counts(&self) -> StoreResult<gantry_store::ActiveCounts> {
        self.guard(self.store().active_counts()).await
    }

    fn pool_use(&self) -> gantry_store::PoolUse {
        self.store().pool_use()
    }

    async fn next_lease_expiry(&self) -> StoreResult<Option<i64>> {
        self.guard(self.store().next_lease_expiry()).await
    }

    async fn next_deadline(&self) -> StoreResult<Option<i64>> {
        self.guard(self.store().next_deadline()).await
    }

    async fn nodes_creating_children(&self, updated_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        self.guard(self.store().nodes_creating_children(updated_before)).await
    }

    async fn child_outputs(&self, execution_id: Uuid, parent_id: &str) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
        self.guard(self.store().child_outputs(execution_id, parent_id)).await
    }

    async fn assembling(&self, updated_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        self.guard(self.store().assembling(updated_before)).await
    }

    async fn hydrations(&self, since_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        self.guard(self.store().hydrations(since_before)).await
    }

    async fn list_schedules(&self, project: &str, domain: &str) -> StoreResult<Vec<gantry_store::ScheduleRow>> {
        self.guard(self.store().list_schedules(project, domain)).await
    }

    async fn next_tick(&self) -> StoreResult<Option<i64>> {
        self.guard(self.store().next_tick()).await
    }

    async fn latest_version(
        &self,
        kind: ResourceKind,
        project: &str,
        domain: &str,
        name: &str,
    ) -> StoreResult<Option<String>> {
        self.guard(self.store().latest_version(kind, project, domain, name))
            .await
    }

    async fn gates_of(&self, execution_id: Uuid) -> StoreResult<Vec<GateRow>> {
        self.guard(self.store().gates_of(execution_id)).await
    }

    async fn signals_of(&self, execution_id: Uuid) -> StoreResult<Vec<SignalRow>> {
        self.guard(self.store().signals_of(execution_id)).await
    }

    async fn next_not_before(&self, now: i64) -> StoreResult<Option<i64>> {
        self.guard(self.store().next_not_before(now)).await
    }

    async fn ready_queues(&self, after: i64, now: i64) -> StoreResult<Vec<String>> {
        self.guard(self.store().ready_queues(after, now)).await
    }

    async fn listen(&self) -> StoreResult<Option<mpsc::Receiver<Announcement>>> {
        self.guard(self.store().listen()).await
    }

    async fn insert_api_key(&self, row: &ApiKeyRow) -> StoreResult<()> {
        self.guard(self.store().insert_api_key(row)).await
    }
    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>> {
        self.guard(self.store().get_api_key(id)).await
    }
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRow>> {
        self.guard(self.store().list_api_keys()).await
    }
    async fn revoke_api_key(&self, id: &str, now: i64) -> StoreResult<Option<ApiKeyRow>> {
        self.guard(self.store().revoke_api_key(id, now)).await
    }
    async fn insert_project(&self, row: &ProjectRow) -> StoreResult<bool> {
        self.guard(self.store().insert_project(row)).await
    }
    async fn get_project(&self, id: &str) -> StoreResult<Option<ProjectRow>> {
        self.guard(self.store().get_project(id)).await
    }
    async fn list_projects(&self) -> StoreResult<Vec<ProjectRow>> {
        self.guard(self.store().list_projects()).await
    }
    async fn archive_project(&self, id: &str, now: i64) -> StoreResult<Option<ProjectRow>> {
        self.guard(self.store().archive_project(id, now)).await
    }

    async fn insert_audit_entry(&self, entry: &AuditRow) -> StoreResult<()> {
        self.guard(self.store().insert_audit_entry(entry)).await
    }

    async fn list_audit_entries(&self, filter: &AuditFilter, page: &Page) -> StoreResult<Vec<AuditRow>> {
        self.guard(self.store().list_audit_entries(filter, page)).await
    }
}
