//! The one implementation of [`crate::Store`] and [`crate::Tx`], over either database: [`SqlStore`] and its
//! transaction, generic over a [`Dialect`].
//!
//! Every statement that reads the same on both databases is written once here (`store.rs`, `tx.rs`), with `$n`
//! placeholders: Postgres's own, and SQLite takes them as numbered parameters too (`$1` is parameter 1, as `?1`).
//! The [`Dialect`] holds only what really differs: beginning a transaction, ping and announcements (Postgres
//! `LISTEN`/`NOTIFY`), batch writes (`UNNEST` arrays on Postgres, multi-row `VALUES` on SQLite), claims, how a list
//! is bound (an array, or one JSON text), how a subtree of node ids is matched, the statements the two planners need
//! written differently, and the fragments spliced into shared statements: row locks ([`Dialect::FOR_UPDATE`],
//! [`Dialect::SKIP_LOCKED`]: nothing on SQLite, whose transactions hold the write lock from their start) and
//! [`Dialect::UNSUCCESSFUL`]. Connecting is each store's own (`PgStore::connect`, `SqliteStore::open`).
//!
//! The generic code states in its `where` clauses what it needs of the database: that each value its statements bind
//! or read encodes and decodes there. Rust does not carry such bounds from a trait to its users, so they stand on each
//! generic impl (`store.rs`, `tx.rs`) and on the three reads both share (below); each dialect's database meets them.

mod store;
mod tx;

use async_trait::async_trait;
use gantry_core::state::{ExecutionPhase, NodePhase};
use sqlx::{Database, Encode, Executor, IntoArguments, Pool, Transaction, Type};
use uuid::Uuid;

use crate::codec::{Claim, RawExecution, RawResource, RawSpec, resource_table};
use crate::rows::{
    AttemptRow, AuditRow, ExecutionFilter, ExecutionRow, NodeRow, Page, ResourceKey, ResourceKind, ResourceRow,
    SpecRow, StartedNode,
};
use crate::{Announcement, StoreResult, Tx};

/// A signal's row as read: execution, signal id, value, set at, set by.
pub(crate) type RawSignal = (Uuid, String, Vec<u8>, i64, String);

pub(crate) fn signal_row((execution_id, signal_id, value, set_at, set_by): RawSignal) -> crate::rows::SignalRow {
    crate::rows::SignalRow {
        execution_id,
        signal_id,
        value,
        set_at,
        set_by,
    }
}

/// A schedule's row as read: project, domain, name, version, active, anchor, next tick, last tick, changed at.
pub(crate) type RawSchedule = (String, String, String, String, bool, i64, Option<i64>, Option<i64>, i64);

/// The columns of a [`RawSchedule`], in order.
pub(crate) const SCHEDULE_COLUMNS: &str =
    "project, domain, name, version, active, anchor, next_tick, last_tick, changed_at";

pub(crate) fn schedule_row(raw: RawSchedule) -> crate::rows::ScheduleRow {
    let (project, domain, name, version, active, anchor, next_tick, last_tick, changed_at) = raw;
    crate::rows::ScheduleRow {
        key: ResourceKey {
            project,
            domain,
            name,
            version,
        },
        active,
        anchor,
        next_tick,
        last_tick,
        changed_at,
    }
}

/// A connection of dialect `D`'s database.
pub(crate) type Conn<D> = <<D as Dialect>::Database as Database>::Connection;

/// What differs between the databases. Each method is one or two statements that the two databases need written
/// differently (or, on SQLite, that have nothing to do); the rest of the store is shared.
#[async_trait]
pub trait Dialect: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The sqlx database.
    type Database: Database;

    /// What a row-locking read ends with (`FOR UPDATE` on Postgres; nothing on SQLite).
    const FOR_UPDATE: &'static str;
    /// What a read that passes over rows other transactions hold ends with (`FOR UPDATE SKIP LOCKED` on Postgres).
    const SKIP_LOCKED: &'static str;
    /// The condition on a node row that it stopped without success, spelled as the `nodes_unsuccessful` index is
    /// (Postgres: its generated `unsuccessful` column; SQLite: the phases).
    const UNSUCCESSFUL: &'static str;
    /// The condition on a node row that it is assembling its outputs, spelled as the `nodes_assembling` index is
    /// (Postgres: its generated `assembling` column; SQLite: the phase).
    const ASSEMBLING: &'static str;

    /// A list of text bound as one parameter: an array on Postgres, one JSON array on SQLite.
    type TextList<'a>: Encode<'a, Self::Database> + Type<Self::Database> + Send + 'a;
    /// `items` as a [`Dialect::TextList`].
    fn text_list(items: &[String]) -> Self::TextList<'_>;
    /// The test that a column is in the list bound as `parameter`, to follow the column (`= ANY($2)`).
    fn in_text_list(parameter: &str) -> String;

    /// How many rows a statement wrote (sqlx has no trait for it).
    fn rows_affected(done: &<Self::Database as Database>::QueryResult) -> u64;

    /// Begins a transaction: `SqlTx` over it. (Here rather than in the generic [`crate::Store::begin`], so that only
    /// `SqlTx`'s impl states what its statements need of the database.)
    async fn begin(pool: &Pool<Self::Database>) -> StoreResult<Box<dyn Tx>>;
    /// See [`crate::Store::ping`].
    async fn ping(&self, pool: &Pool<Self::Database>) -> StoreResult<()>;
    /// See [`crate::Store::compact_claims`].
    async fn compact_claims(pool: &Pool<Self::Database>) -> StoreResult<()>;
    /// See [`crate::Store::listen`].
    async fn listen(pool: &Pool<Self::Database>) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Announcement>>>;
    /// See [`crate::Tx::announce_queues`].
    async fn announce_queues(conn: &mut Conn<Self>, queues: &[String]) -> StoreResult<()>;
    /// See [`crate::Tx::announce_executions`].
    async fn announce_executions(
        conn: &mut Conn<Self>,
        origin: Uuid,
        changes: &[(Uuid, ExecutionPhase)],
    ) -> StoreResult<()>;

    /// See [`crate::Store::list_resources`]; `table` holds resources of `kind`.
    async fn list_resources(
        conn: &mut Conn<Self>,
        table: &'static str,
        project: &str,
        domain: &str,
        name: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<ResourceRow>>;
    /// See [`crate::Store::list_executions`].
    async fn list_executions(
        conn: &mut Conn<Self>,
        filter: &ExecutionFilter,
        page: &Page,
    ) -> StoreResult<Vec<ExecutionRow>>;
    /// See [`crate::Store::list_nodes`].
    async fn list_nodes(
        conn: &mut Conn<Self>,
        execution_id: Uuid,
        parent_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<NodeRow>>;
    /// See [`crate::Store::list_descendants`].
    async fn list_descendants(
        conn: &mut Conn<Self>,
        execution_id: Uuid,
        below: &str,
        phases: &[NodePhase],
        page: &Page,
    ) -> StoreResult<Vec<NodeRow>>;
    /// See [`crate::Store::next_deadline`].
    async fn next_deadline(conn: &mut Conn<Self>) -> StoreResult<Option<i64>>;

    /// See [`crate::Tx::insert_nodes`].
    async fn insert_nodes(conn: &mut Conn<Self>, rows: &[NodeRow]) -> StoreResult<()>;
    /// See [`crate::Tx::lock_nodes`]: the rows in key order, locked.
    async fn lock_nodes(conn: &mut Conn<Self>, execution_id: Uuid, node_ids: &[String]) -> StoreResult<Vec<NodeRow>>;
    /// See [`crate::Tx::start_nodes`].
    async fn start_nodes(
        conn: &mut Conn<Self>,
        execution_id: Uuid,
        node_ids: &[String],
        now: i64,
    ) -> StoreResult<Vec<StartedNode>>;
    /// See [`crate::Tx::update_nodes`].
    async fn update_nodes(conn: &mut Conn<Self>, rows: &[NodeRow]) -> StoreResult<()>;
    /// See [`crate::Tx::abort_descendants`].
    async fn abort_descendants(
        conn: &mut Conn<Self>,
        execution_id: Uuid,
        node_id: Option<&str>,
        now: i64,
    ) -> StoreResult<u64>;
    /// See [`crate::Tx::running_child_executions`].
    async fn running_child_executions(
        conn: &mut Conn<Self>,
        execution_id: Uuid,
        node_id: Option<&str>,
    ) -> StoreResult<Vec<Uuid>>;
    /// See [`crate::Tx::abort_node_attempts`].
    async fn abort_node_attempts(
        conn: &mut Conn<Self>,
        execution_id: Uuid,
        node_ids: &[String],
        now: i64,
    ) -> StoreResult<u64>;

    /// See [`crate::Tx::insert_attempts`].
    async fn insert_attempts(conn: &mut Conn<Self>, rows: &[AttemptRow]) -> StoreResult<()>;
    /// See [`crate::Tx::update_attempts`].
    async fn update_attempts(conn: &mut Conn<Self>, rows: &[AttemptRow]) -> StoreResult<()>;
    /// See [`crate::Tx::claim_attempts`].
    async fn claim_attempts(conn: &mut Conn<Self>, claim: &Claim<'_>) -> StoreResult<Vec<AttemptRow>>;
    /// See [`crate::Tx::lock_attempts`].
    async fn lock_attempts(conn: &mut Conn<Self>, ids: &[Uuid]) -> StoreResult<Vec<AttemptRow>>;
    /// See [`crate::Tx::renew_leases`].
    async fn renew_leases(conn: &mut Conn<Self>, lease_until: i64, reservation_until: i64) -> StoreResult<u64>;

    /// See [`crate::Tx::extend_cache_reservations`].
    async fn extend_cache_reservations(
        conn: &mut Conn<Self>,
        holders: &[(Uuid, String)],
        expires_at: i64,
    ) -> StoreResult<u64>;
    /// See [`crate::Tx::reservations_below`].
    async fn reservations_below(
        conn: &mut Conn<Self>,
        execution_id: Uuid,
        node_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>>;
}

/// Gantry's store over the database of dialect `D`: a connection pool, and what the dialect keeps beside it.
#[derive(Debug, Clone)]
pub struct SqlStore<D: Dialect> {
    pub(crate) pool: Pool<D::Database>,
    pub(crate) dialect: D,
}

/// One transaction; dropping it rolls back.
pub(crate) struct SqlTx<D: Dialect> {
    pub(crate) tx: Transaction<'static, D::Database>,
}

/// Parked attempts are never claimable; the constant is written out so the partial indexes' predicates match.
macro_rules! parked_sql {
    () => {
        "9223372036854775807"
    };
}
pub(crate) use parked_sql;

/// One registered resource by its full key.
async fn read_resource<DB>(
    conn: &mut DB::Connection,
    kind: ResourceKind,
    key: &ResourceKey,
) -> StoreResult<Option<ResourceRow>>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> RawResource: sqlx::FromRow<'r, DB::Row>,
{
    let table = resource_table(kind);
    let raw: Option<RawResource> = sqlx::query_as(&format!(
        "SELECT * FROM {table} WHERE project = $1 AND domain = $2 AND name = $3 AND version = $4"
    ))
    .bind(key.project.as_str())
    .bind(key.domain.as_str())
    .bind(key.name.as_str())
    .bind(key.version.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(raw.map(ResourceRow::from))
}

/// One execution by id; `lock` ends the statement ([`Dialect::FOR_UPDATE`] to take its row lock).
async fn read_execution<DB>(conn: &mut DB::Connection, id: Uuid, lock: &str) -> StoreResult<Option<ExecutionRow>>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'r> RawExecution: sqlx::FromRow<'r, DB::Row>,
{
    let sql = format!("SELECT * FROM executions WHERE id = $1{lock}");
    let raw: Option<RawExecution> = sqlx::query_as(&sql).bind(id).fetch_optional(conn).await?;
    raw.map(ExecutionRow::try_from).transpose()
}

/// Inserts an audit entry: on a connection of the pool, or in a transaction (the engine's writer's, on SQLite, where
/// a write of its own would wait for the one write lock behind the writer's back-to-back transactions).
async fn insert_audit<DB>(conn: &mut DB::Connection, entry: &AuditRow) -> StoreResult<()>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(
        "INSERT INTO audit_entries (id, principal, at, rpc, project, domain, target, summary, outcome, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(entry.id)
    .bind(entry.principal.as_str())
    .bind(entry.at)
    .bind(entry.rpc.as_str())
    .bind(entry.project.as_str())
    .bind(entry.domain.as_str())
    .bind(entry.target.as_str())
    .bind(entry.summary.as_str())
    .bind(entry.outcome.as_str())
    .bind(entry.message.as_str())
    .execute(conn)
    .await
    .map_err(|error| crate::error::conflict_or(error, || format!("audit entry {} already exists", entry.id)))?;
    Ok(())
}

/// The dynamic job spec attempt `attempt` of `node_id` returned.
async fn read_spec<DB>(
    conn: &mut DB::Connection,
    execution_id: Uuid,
    node_id: &str,
    attempt: i32,
) -> StoreResult<Option<SpecRow>>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'r> RawSpec: sqlx::FromRow<'r, DB::Row>,
{
    let raw: Option<RawSpec> =
        sqlx::query_as("SELECT * FROM specs WHERE execution_id = $1 AND node_id = $2 AND attempt = $3")
            .bind(execution_id)
            .bind(node_id)
            .bind(attempt)
            .fetch_optional(conn)
            .await?;
    Ok(raw.map(SpecRow::from))
}
