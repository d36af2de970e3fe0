//! The embedded SQLite store, for a single server process. Writers are serialised by SQLite itself: every
//! transaction begins `IMMEDIATE`, taking the write lock up front, so two transactions never deadlock upgrading a
//! read lock, and `claim_attempts` needs no `SKIP LOCKED`. Lists are bound as one JSON array (`json_each`).

mod attempts;
mod cache;
mod executions;
mod nodes;
mod registry;

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};
use uuid::Uuid;

use crate::rows::{
    AttemptRow, CacheEntryRow, ExecutionFilter, ExecutionRow, NodeRow, Page, ResourceKey, ResourceKind, ResourceRow,
    SpecRow,
};
use crate::{Announcement, PutOutcome, Store, StoreResult, Tx};
use gantry_core::state::{ExecutionPhase, NodePhase};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// Readers run beside the one writer (WAL); more connections than this only queue on the write lock.
const FILE_MAX_CONNECTIONS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Gantry's store in an embedded SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and applies the embedded migrations: WAL journal,
    /// `synchronous = NORMAL`, foreign keys on, a 5 s busy timeout.
    ///
    /// `":memory:"` opens a private in-memory database. It lives on a single connection that is never closed, so
    /// a read outside a transaction waits while a transaction is open: hold no [`Tx`] while awaiting a
    /// [`Store`] read in the same task.
    pub async fn open(path: &str) -> StoreResult<Self> {
        let in_memory = path == ":memory:";
        let options = if in_memory {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        }
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
        let pool_options = if in_memory {
            // Every connection to :memory: would be a database of its own; one connection that never idles out
            // keeps the one database alive.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(FILE_MAX_CONNECTIONS)
        };
        let pool = pool_options.connect_with(options).await?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations that are not applied yet.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The pool, for what the store does not cover.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A JSON array of strings: a list bound as one parameter and read with `json_each(?)`.
fn json_strings<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut json = String::from("[");
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push('"');
        for character in item.chars() {
            match character {
                '"' => json.push_str("\\\""),
                '\\' => json.push_str("\\\\"),
                control if u32::from(control) < 0x20 => {
                    let _ = write!(json, "\\u{:04x}", u32::from(control));
                }
                other => json.push(other),
            }
        }
        json.push('"');
    }
    json.push(']');
    json
}

/// A JSON array of ids in hex, read back as blobs with `unhex(value)` (how sqlx stores a [`Uuid`] in SQLite).
fn json_uuids(ids: &[Uuid]) -> String {
    let mut json = String::with_capacity(2 + ids.len() * 35);
    json.push('[');
    for (index, id) in ids.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        let _ = write!(json, "\"{}\"", id.simple());
    }
    json.push(']');
    json
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Box::new(SqliteTx { tx }))
    }

    /// An embedded database has no server to lose; this only checks the pool is usable. A pool whose connections
    /// are all busy is alive, and waiting for one could take as long as the longest transaction (the in-memory
    /// database has a single connection).
    async fn ping(&self) -> StoreResult<()> {
        if self.pool.is_closed() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        if let Some(mut connection) = self.pool.try_acquire() {
            sqlx::query("SELECT 1").execute(&mut *connection).await?;
        }
        Ok(())
    }

    async fn listen(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Announcement>>> {
        Ok(None)
    }

    async fn get_resource(&self, kind: ResourceKind, key: &ResourceKey) -> StoreResult<Option<ResourceRow>> {
        registry::get_resource(&self.pool, kind, key).await
    }

    async fn list_resources(
        &self,
        kind: ResourceKind,
        project: &str,
        domain: &str,
        name: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<ResourceRow>> {
        registry::list_resources(&self.pool, kind, project, domain, name, page).await
    }

    async fn get_execution(&self, id: Uuid) -> StoreResult<Option<ExecutionRow>> {
        executions::get_execution(&self.pool, id).await
    }

    async fn find_execution(&self, project: &str, domain: &str, name: &str) -> StoreResult<Option<ExecutionRow>> {
        executions::find_execution(&self.pool, project, domain, name).await
    }

    async fn list_executions(&self, filter: &ExecutionFilter, page: &Page) -> StoreResult<Vec<ExecutionRow>> {
        executions::list_executions(&self.pool, filter, page).await
    }

    async fn get_node(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Option<NodeRow>> {
        nodes::get_node(&self.pool, execution_id, node_id).await
    }

    async fn list_nodes(&self, execution_id: Uuid, parent_id: &str, page: &Page) -> StoreResult<Vec<NodeRow>> {
        nodes::list_nodes(&self.pool, execution_id, parent_id, page).await
    }

    async fn list_descendants(
        &self,
        execution_id: Uuid,
        below: &str,
        phases: &[NodePhase],
        page: &Page,
    ) -> StoreResult<Vec<NodeRow>> {
        nodes::list_descendants(&self.pool, execution_id, below, phases, page).await
    }

    async fn list_attempts(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Vec<AttemptRow>> {
        attempts::list_attempts(&self.pool, execution_id, node_id).await
    }

    async fn get_spec(&self, execution_id: Uuid, node_id: &str, attempt: i32) -> StoreResult<Option<SpecRow>> {
        attempts::get_spec(&self.pool, execution_id, node_id, attempt).await
    }

    async fn next_lease_expiry(&self) -> StoreResult<Option<i64>> {
        attempts::next_lease_expiry(&self.pool).await
    }

    async fn next_deadline(&self) -> StoreResult<Option<i64>> {
        attempts::next_deadline(&self.pool).await
    }

    async fn next_not_before(&self, now: i64) -> StoreResult<Option<i64>> {
        attempts::next_not_before(&self.pool, now).await
    }

    async fn ready_queues(&self, after: i64, now: i64) -> StoreResult<Vec<String>> {
        attempts::ready_queues(&self.pool, after, now).await
    }

    async fn nodes_creating_children(&self, updated_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT execution_id, node_id FROM nodes WHERE children_created < children_total \
             AND phase = 'children_running' AND updated_at < ?1 ORDER BY execution_id, node_id",
        )
        .bind(updated_before)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

/// One SQLite write transaction; dropping it rolls back.
struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
}

#[async_trait]
impl Tx for SqliteTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.tx.rollback().await?;
        Ok(())
    }

    async fn announce_queues(&mut self, _queues: &[String]) -> StoreResult<()> {
        Ok(())
    }

    async fn announce_executions(&mut self, _origin: Uuid, _changes: &[(Uuid, ExecutionPhase)]) -> StoreResult<()> {
        Ok(())
    }

    async fn put_resource(&mut self, kind: ResourceKind, row: &ResourceRow) -> StoreResult<PutOutcome> {
        registry::put_resource(&mut self.tx, kind, row).await
    }

    async fn get_resource(&mut self, kind: ResourceKind, key: &ResourceKey) -> StoreResult<Option<ResourceRow>> {
        registry::get_resource(&mut *self.tx, kind, key).await
    }

    async fn insert_execution(&mut self, row: &ExecutionRow) -> StoreResult<()> {
        executions::insert_execution(&mut self.tx, row).await
    }

    async fn lock_execution(&mut self, id: Uuid) -> StoreResult<Option<ExecutionRow>> {
        // The transaction already holds the database's write lock.
        executions::get_execution(&mut *self.tx, id).await
    }

    async fn update_execution(&mut self, row: &ExecutionRow) -> StoreResult<()> {
        executions::update_execution(&mut self.tx, row).await
    }

    async fn insert_nodes(&mut self, rows: &[NodeRow]) -> StoreResult<()> {
        nodes::insert_nodes(&mut self.tx, rows).await
    }

    async fn lock_nodes(&mut self, execution_id: Uuid, node_ids: &[String]) -> StoreResult<Vec<NodeRow>> {
        nodes::lock_nodes(&mut self.tx, execution_id, node_ids).await
    }

    async fn lock_children(
        &mut self,
        execution_id: Uuid,
        parent_id: &str,
        local_ids: &[String],
    ) -> StoreResult<Vec<NodeRow>> {
        nodes::lock_children(&mut self.tx, execution_id, parent_id, local_ids).await
    }

    async fn child_outputs(
        &mut self,
        execution_id: Uuid,
        parent_id: &str,
    ) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
        nodes::child_outputs(&mut self.tx, execution_id, parent_id).await
    }

    async fn first_child_error(&mut self, execution_id: Uuid, parent_id: &str) -> StoreResult<Option<Vec<u8>>> {
        nodes::first_child_error(&mut self.tx, execution_id, parent_id).await
    }

    async fn update_nodes(&mut self, rows: &[NodeRow]) -> StoreResult<()> {
        nodes::update_nodes(&mut self.tx, rows).await
    }

    async fn abort_descendants(&mut self, execution_id: Uuid, node_id: Option<&str>, now: i64) -> StoreResult<u64> {
        nodes::abort_descendants(&mut self.tx, execution_id, node_id, now).await
    }

    async fn running_child_executions(&mut self, execution_id: Uuid, node_id: Option<&str>) -> StoreResult<Vec<Uuid>> {
        nodes::running_child_executions(&mut self.tx, execution_id, node_id).await
    }

    async fn abort_node_attempts(&mut self, execution_id: Uuid, node_ids: &[String], now: i64) -> StoreResult<u64> {
        nodes::abort_node_attempts(&mut self.tx, execution_id, node_ids, now).await
    }

    async fn insert_attempts(&mut self, rows: &[AttemptRow]) -> StoreResult<()> {
        attempts::insert_attempts(&mut self.tx, rows).await
    }

    async fn claim_attempts(
        &mut self,
        queues: &[String],
        limit: u32,
        worker_id: &str,
        now: i64,
        lease_ms: i64,
    ) -> StoreResult<Vec<AttemptRow>> {
        let claim = crate::codec::Claim {
            queues,
            limit,
            worker_id,
            now,
            lease_ms,
        };
        attempts::claim_attempts(&mut self.tx, &claim).await
    }

    async fn lock_attempts(&mut self, ids: &[Uuid]) -> StoreResult<Vec<AttemptRow>> {
        attempts::lock_attempts(&mut self.tx, ids).await
    }

    async fn update_attempts(&mut self, rows: &[AttemptRow]) -> StoreResult<()> {
        attempts::update_attempts(&mut self.tx, rows).await
    }

    async fn count_active_attempts(&mut self, execution_id: Uuid) -> StoreResult<u64> {
        attempts::count_active_attempts(&mut self.tx, execution_id).await
    }

    async fn unpark_attempts(&mut self, execution_id: Uuid, limit: u64, now: i64) -> StoreResult<Vec<String>> {
        attempts::unpark_attempts(&mut self.tx, execution_id, limit, now).await
    }

    async fn expired_attempts(&mut self, now: i64, limit: u32) -> StoreResult<Vec<AttemptRow>> {
        attempts::expired_attempts(&mut self.tx, now, limit).await
    }

    async fn renew_leases(&mut self, lease_until: i64, reservation_until: i64) -> StoreResult<u64> {
        attempts::renew_leases(&mut self.tx, lease_until, reservation_until).await
    }

    async fn get_cache_entry(&mut self, key: &str) -> StoreResult<Option<CacheEntryRow>> {
        cache::get_cache_entry(&mut self.tx, key).await
    }

    async fn put_cache_entry(&mut self, row: &CacheEntryRow) -> StoreResult<()> {
        cache::put_cache_entry(&mut self.tx, row).await
    }

    async fn reserve_cache(
        &mut self,
        key: &str,
        holder: (Uuid, &str),
        now: i64,
        expires_at: i64,
    ) -> StoreResult<Option<(Uuid, String)>> {
        cache::reserve_cache(&mut self.tx, key, holder, now, expires_at).await
    }

    async fn add_cache_waiter(&mut self, key: &str, waiter: (Uuid, &str), now: i64) -> StoreResult<()> {
        cache::add_cache_waiter(&mut self.tx, key, waiter, now).await
    }

    async fn release_cache(&mut self, key: &str, holder: (Uuid, &str)) -> StoreResult<Vec<(Uuid, String)>> {
        cache::release_cache(&mut self.tx, key, holder).await
    }

    async fn extend_cache_reservations(&mut self, holders: &[(Uuid, String)], expires_at: i64) -> StoreResult<u64> {
        cache::extend_cache_reservations(&mut self.tx, holders, expires_at).await
    }

    async fn reservations_below(
        &mut self,
        execution_id: Uuid,
        node_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>> {
        cache::reservations_below(&mut self.tx, execution_id, node_id).await
    }

    async fn overdue_attempts(&mut self, now: i64, limit: u32) -> StoreResult<Vec<AttemptRow>> {
        attempts::overdue_attempts(&mut self.tx, now, limit).await
    }

    async fn overdue_executions(&mut self, now: i64, limit: u32) -> StoreResult<Vec<Uuid>> {
        executions::overdue_executions(&mut self.tx, now, limit).await
    }

    async fn insert_spec(&mut self, row: &SpecRow) -> StoreResult<()> {
        attempts::insert_spec(&mut self.tx, row).await
    }

    async fn get_spec(&mut self, execution_id: Uuid, node_id: &str, attempt: i32) -> StoreResult<Option<SpecRow>> {
        attempts::get_spec(&mut *self.tx, execution_id, node_id, attempt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_encode_as_json() {
        assert_eq!(
            json_strings(["a", "b\"c", "d\\e", "f\ng"]),
            r#"["a","b\"c","d\\e","f\u000ag"]"#
        );
        assert_eq!(json_strings(std::iter::empty()), "[]");
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(
            json_uuids(&[id, id]),
            r#"["0123456789abcdef0123456789abcdef","0123456789abcdef0123456789abcdef"]"#
        );
    }
}
