//! Gantry's storage. One [`Store`] trait, implemented once (`sql/`) over Postgres ([`PgStore`]) and embedded SQLite
//! ([`SqliteStore`]) through sqlx, with what differs between them in a dialect each (`pg/`, `sqlite/`), and checked
//! by one conformance suite (`tests/conformance.rs`).
//!
//! The store keeps normalised rows (executions, nodes, attempts, specs, registered resources) and knows nothing of
//! what they mean: the engine decides every transition with `gantry-core` and writes the result here, one
//! transaction per batch of events. Every write that touches many rows is one statement per 10,000 rows on Postgres
//! (`UNNEST` arrays) and per 500 rows on SQLite (multi-row `VALUES`), never a round trip per child against a parent
//! row.
//!
//! Must not depend on the engine, the server or tonic.
#![forbid(unsafe_code)]

mod access;
mod codec;
mod error;
mod filters;
mod pg;
mod rows;
mod sql;
mod sqlite;

use async_trait::async_trait;
use gantry_core::state::{ExecutionPhase, NodePhase};
use uuid::Uuid;

pub use access::{ApiKeyRow, ProjectRow};
pub use codec::Claim;
pub use error::StoreError;
pub use pg::{PgSettings, PgStore, redact_url};
pub use rows::{
    ActiveCounts, AttemptRow, AuditFilter, AuditRow, CacheEntryRow, ExecutionFilter, ExecutionRow, GateRow, NodeRow,
    Page, PoolUse, ResourceKey, ResourceKind, ResourceRow, ScheduleRow, SignalRow, SpecRow, StartedNode, TargetFilter,
};
pub use sqlite::SqliteStore;

/// `not_before` of a parked attempt: one that waits for a slot under its execution's `max_parallelism` and is never
/// claimable until [`Tx::unpark_attempts`] releases it.
pub const PARKED: i64 = i64::MAX;

/// What another process sharing the database announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// A queue got claimable attempts.
    Queue(String),
    /// An execution reached a phase; `origin` is the announcing process.
    Execution {
        origin: Uuid,
        id: Uuid,
        phase: ExecutionPhase,
    },
}

/// The result type of every store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Whether registering a resource created it or found the identical one already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The key was free; the resource is registered now.
    Created,
    /// The same key with byte-identical template was already registered: registration is idempotent.
    Unchanged,
}

/// Reads outside transactions, and the way into one.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Starts a transaction. Everything the engine decides for one batch of events is written in one.
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;

    /// Checks that the database answers, on a connection of its own (on Postgres, not one of the pool's: a pool
    /// busy with slow requests says nothing about whether the database is reachable). A refused or lost connection
    /// is [`StoreError::Unavailable`] at once; the caller bounds how long it waits for an answer.
    async fn ping(&self) -> StoreResult<()>;

    /// Rids the claim's index of the entries that claimed attempts left behind, so that claims stop stepping over
    /// them. On Postgres an updated row's old index entries stay until a vacuum: without one (autovacuum off, or at
    /// its default of waiting for a fifth of the table), a claim during a 1,000,000-child fan-out walked past hundreds
    /// of thousands of them, 11.7 ms a claim on average. `VACUUM attempts` there; SQLite drops them at once, so
    /// nothing to do.
    async fn compact_claims(&self) -> StoreResult<()>;

    /// One registered resource by its full key.
    async fn get_resource(&self, kind: ResourceKind, key: &ResourceKey) -> StoreResult<Option<ResourceRow>>;
    /// The version of `name` registered last (the highest version among those registered in the same millisecond);
    /// `None` when none is.
    async fn latest_version(
        &self,
        kind: ResourceKind,
        project: &str,
        domain: &str,
        name: &str,
    ) -> StoreResult<Option<String>>;
    /// Registered resources of a project and domain, optionally of one name, ordered by (name, version).
    /// `page.after` is `name@version` of the last row of the previous page.
    async fn list_resources(
        &self,
        kind: ResourceKind,
        project: &str,
        domain: &str,
        name: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<ResourceRow>>;

    /// One execution by id.
    async fn get_execution(&self, id: Uuid) -> StoreResult<Option<ExecutionRow>>;
    /// The execution named `name` in `project`/`domain`.
    async fn find_execution(&self, project: &str, domain: &str, name: &str) -> StoreResult<Option<ExecutionRow>>;
    /// Executions matching `filter`, newest first (ids are UUIDv7, so id order is creation order);
    /// `page.after` is the id of the last row of the previous page.
    async fn list_executions(&self, filter: &ExecutionFilter, page: &Page) -> StoreResult<Vec<ExecutionRow>>;

    /// One node by its scoped id.
    async fn get_node(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Option<NodeRow>>;
    /// The children of `parent_id` (empty: the top-level nodes) in position order; `page.after` is the position of
    /// the last row of the previous page, as a decimal string.
    async fn list_nodes(&self, execution_id: Uuid, parent_id: &str, page: &Page) -> StoreResult<Vec<NodeRow>>;
    /// Nodes at every depth strictly below `below` (the whole execution when empty) that are in one of `phases` (in
    /// any phase when empty), ordered by scoped node id, bytewise; `page.after` is the node id of the last row of the
    /// previous page. A page reads at most `page.limit` rows, however many nodes the execution has, when `phases` is
    /// empty or holds only phases of nodes that stopped without success (failed, timed out, aborted: they have an
    /// index of their own, so the failed nodes of a 100,000-child fan-out come a page at a time); with other phases
    /// it reads along node ids past the nodes in phases not asked for.
    async fn list_descendants(
        &self,
        execution_id: Uuid,
        below: &str,
        phases: &[NodePhase],
        page: &Page,
    ) -> StoreResult<Vec<NodeRow>>;
    /// Every attempt of a node, in attempt order.
    async fn list_attempts(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Vec<AttemptRow>>;
    /// The dynamic job spec attempt `attempt` of `node_id` returned, once accepted.
    async fn get_spec(&self, execution_id: Uuid, node_id: &str, attempt: i32) -> StoreResult<Option<SpecRow>>;

    /// What is in flight: executions and their nodes not yet ended by phase, queued and running attempts by queue.
    /// Reads only unfinished rows (along the executions' phase index, the nodes of unfinished executions, and the
    /// attempts' partial indexes), so its cost follows the work in flight, not the history kept.
    async fn active_counts(&self) -> StoreResult<ActiveCounts>;
    /// The connection pool's use now.
    fn pool_use(&self) -> PoolUse;

    /// The earliest lease expiry of a running attempt: when the engine's sweep must next look.
    async fn next_lease_expiry(&self) -> StoreResult<Option<i64>>;
    /// The earliest deadline of a queued or running attempt (its queue or attempt timeout) or of a non-terminal
    /// execution (its timeout): when the engine's sweep must next look for timeouts.
    async fn next_deadline(&self) -> StoreResult<Option<i64>>;
    /// The earliest `not_before` later than `now` of a queued attempt: when waiting workers must next be woken.
    async fn next_not_before(&self, now: i64) -> StoreResult<Option<i64>>;
    /// Queues with queued attempts that became claimable in `(after, now]`: what the sweeper must wake after a
    /// backoff ended (`after = i64::MIN` gives every queue with claimable work).
    async fn ready_queues(&self, after: i64, now: i64) -> StoreResult<Vec<String>>;

    /// `(execution, node)` of every composite still running whose children are not all created yet
    /// (`children_created < children_total`) and that was last updated before `updated_before`: what an engine
    /// must go on creating (all of them at start, `i64::MAX`; those no one has been creating for a while, later).
    async fn nodes_creating_children(&self, updated_before: i64) -> StoreResult<Vec<(Uuid, String)>>;

    /// `(node_id, outputs)` of every child of `parent_id` (empty: the top-level nodes) in position order, read
    /// outside any transaction, as [`Tx::child_outputs`] reads them: what the engine's assembler assembles a
    /// composite's outputs from, once the batch that made it `assembling` committed.
    async fn child_outputs(&self, execution_id: Uuid, parent_id: &str) -> StoreResult<Vec<(String, Option<Vec<u8>>)>>;

    /// `(execution, node)` of every node in phase `assembling` last updated before `updated_before`, and of every
    /// execution in phase `succeeding` (assembling its outputs) likewise, under an empty node id: the assemblies an
    /// engine must do again (all of them at start, `i64::MAX`; those no one finished for a while, later). Read along
    /// partial indexes, so it costs nothing however many nodes are in other phases.
    async fn assembling(&self, updated_before: i64) -> StoreResult<Vec<(Uuid, String)>>;

    /// `(execution, node)` of every node waiting for hydration (offloaded values its start needs, fetched outside
    /// the writer) since before `since_before`, in key order: the fetches an engine must do again (all of them at
    /// start, `i64::MAX`; those no one finished for a while, later). Rows whose node stopped waiting are listed too
    /// (the engine deletes them when it finds them stale).
    async fn hydrations(&self, since_before: i64) -> StoreResult<Vec<(Uuid, String)>>;

    /// The gates of an execution that wait (stale rows included: the caller checks each node's phase), by node id.
    async fn gates_of(&self, execution_id: Uuid) -> StoreResult<Vec<GateRow>>;
    /// The signals set on an execution, by signal id.
    async fn signals_of(&self, execution_id: Uuid) -> StoreResult<Vec<SignalRow>>;

    /// The schedules of a project and domain's launch plans, by name and version.
    async fn list_schedules(&self, project: &str, domain: &str) -> StoreResult<Vec<ScheduleRow>>;
    /// The earliest next tick of an active schedule: when the ticker must next look.
    async fn next_tick(&self) -> StoreResult<Option<i64>>;

    /// Stores a new API key. An id already taken is a [`StoreError::Conflict`].
    async fn insert_api_key(&self, row: &ApiKeyRow) -> StoreResult<()>;
    /// One API key by id.
    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>>;
    /// Every API key, revoked and expired ones too, by id (creation order).
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRow>>;
    /// Revokes the key at `now` (a key revoked before keeps its first `revoked_at`) and returns it as stored; `None`
    /// when there is no such key.
    async fn revoke_api_key(&self, id: &str, now: i64) -> StoreResult<Option<ApiKeyRow>>;

    /// Creates a project; `false` when the id is taken (the stored project is left as it is).
    async fn insert_project(&self, row: &ProjectRow) -> StoreResult<bool>;
    /// One project by id.
    async fn get_project(&self, id: &str) -> StoreResult<Option<ProjectRow>>;
    /// Every project, archived ones too, by id.
    async fn list_projects(&self) -> StoreResult<Vec<ProjectRow>>;
    /// Archives the project at `now` (one archived before keeps its first `archived_at`), deactivates its active
    /// schedules in the same transaction, and returns it as stored; `None` when there is no such project.
    async fn archive_project(&self, id: &str, now: i64) -> StoreResult<Option<ProjectRow>>;

    /// What other processes sharing the database announce ([`Tx::announce_queues`], [`Tx::announce_executions`]), as
    /// a channel; `None` when the store has no such channel (SQLite: one process owns the file). On Postgres this holds
    /// one pooled connection until the receiver is dropped; a lost connection ends the channel.
    async fn listen(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Announcement>>>;

    /// Writes one audit entry, outside any transaction (on its own pooled connection), committed when this returns.
    /// An id already taken is a [`StoreError::Conflict`].
    async fn insert_audit_entry(&self, entry: &AuditRow) -> StoreResult<()>;
    /// Audit entries matching `filter`, newest first (ids are UUIDv7); `page.after` is the id of the last entry of
    /// the previous page.
    async fn list_audit_entries(&self, filter: &AuditFilter, page: &Page) -> StoreResult<Vec<AuditRow>>;
}

/// One transaction. Dropping it without [`Tx::commit`] rolls it back.
///
/// After an error, drop the transaction: Postgres refuses every further statement of a transaction in which one
/// failed. The conflicts of [`Tx::put_resource`], [`Tx::insert_execution`] and [`Tx::insert_spec`] are the
/// exception: they are detected without a failed statement and leave the transaction usable.
///
/// `lock_*` reads take row locks on Postgres (`FOR UPDATE`) so that several server replicas can share a database;
/// SQLite serialises writers anyway.
#[async_trait]
pub trait Tx: Send {
    /// Commits everything written in the transaction, atomically.
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    /// Rolls back now. Dropping a transaction also rolls it back, but only once its connection is next used, so its
    /// row locks may outlive the drop for a while.
    async fn rollback(self: Box<Self>) -> StoreResult<()>;

    /// Announces, when the transaction commits, that these queues got claimable attempts, so that long polls waiting
    /// on other server replicas wake (Postgres `NOTIFY`). A no-op where there is no one else to tell.
    async fn announce_queues(&mut self, queues: &[String]) -> StoreResult<()>;
    /// Announces, when the transaction commits, that these executions reached these phases, tagged with the
    /// announcing process (`origin`), so that watchers on other server replicas learn of them. A no-op where there
    /// is no one else to tell.
    async fn announce_executions(&mut self, origin: Uuid, changes: &[(Uuid, ExecutionPhase)]) -> StoreResult<()>;

    /// Registers a resource. The same key with a different template is a [`StoreError::Conflict`].
    async fn put_resource(&mut self, kind: ResourceKind, row: &ResourceRow) -> StoreResult<PutOutcome>;
    /// [`Store::get_resource`], seeing this transaction's writes.
    async fn get_resource(&mut self, kind: ResourceKind, key: &ResourceKey) -> StoreResult<Option<ResourceRow>>;

    /// Inserts an execution. A (project, domain, name) already taken is a [`StoreError::Conflict`].
    async fn insert_execution(&mut self, row: &ExecutionRow) -> StoreResult<()>;
    /// The execution, row-locked until the transaction ends.
    async fn lock_execution(&mut self, id: Uuid) -> StoreResult<Option<ExecutionRow>>;
    /// Writes every mutable column of the execution.
    async fn update_execution(&mut self, row: &ExecutionRow) -> StoreResult<()>;

    /// Inserts nodes in one statement (or chunked statements for very large batches).
    async fn insert_nodes(&mut self, rows: &[NodeRow]) -> StoreResult<()>;
    /// The nodes with these scoped ids; missing ids are left out.
    async fn lock_nodes(&mut self, execution_id: Uuid, node_ids: &[String]) -> StoreResult<Vec<NodeRow>>;
    /// Starts the nodes of claimed attempts in one statement, ahead of the engine: each of these nodes that is
    /// queued or waiting for a retry is written `running` as of `now` (what the core's `AttemptStarted` decides),
    /// locked, and returned as it was and as written, in key order. The others, and missing ids, are left out: the
    /// engine reads them as it reads any node. The engine decides from `before` and writes the node again only if
    /// it decided otherwise.
    async fn start_nodes(&mut self, execution_id: Uuid, node_ids: &[String], now: i64)
    -> StoreResult<Vec<StartedNode>>;
    /// `(node_id, outputs)` of every child of `parent_id` in position order, for assembling the parent's outputs.
    /// The ids are the scoped ones (`parent/attempt/local`), so a caller can keep only one attempt's children.
    async fn child_outputs(
        &mut self,
        execution_id: Uuid,
        parent_id: &str,
    ) -> StoreResult<Vec<(String, Option<Vec<u8>>)>>;
    /// The error of the first child of `parent_id` (empty: the top-level nodes) that stopped without success (failed,
    /// timed out, aborted) with an error, by finish time and then position: what explains the parent's failure.
    /// Reads the children that did not succeed only, along an index.
    async fn first_child_error(&mut self, execution_id: Uuid, parent_id: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Writes every mutable column of each node (phase, counters, inputs, outputs, error, times) in one statement.
    async fn update_nodes(&mut self, rows: &[NodeRow]) -> StoreResult<()>;
    /// Aborts every non-terminal node strictly below `node_id` (every node of the execution when `None`) and their
    /// queued or running attempts, setting `finished_at` and `updated_at` to `now`. Returns how many nodes it aborted.
    async fn abort_descendants(&mut self, execution_id: Uuid, node_id: Option<&str>, now: i64) -> StoreResult<u64>;
    /// The child executions started by launch-plan nodes strictly below `node_id` (anywhere in the execution when
    /// `None`) that are not terminal yet: what aborting those nodes must terminate.
    async fn running_child_executions(&mut self, execution_id: Uuid, node_id: Option<&str>) -> StoreResult<Vec<Uuid>>;
    /// Aborts the queued or running attempts of these nodes themselves (not of their descendants), setting
    /// `finished_at` to `now`. Returns how many it aborted.
    async fn abort_node_attempts(&mut self, execution_id: Uuid, node_ids: &[String], now: i64) -> StoreResult<u64>;

    /// Inserts attempts in one statement (or chunked statements). An (execution, node, attempt) already taken is
    /// a [`StoreError::Conflict`].
    async fn insert_attempts(&mut self, rows: &[AttemptRow]) -> StoreResult<()>;
    /// Claims up to `claim.limit` queued attempts of `claim.queues` (of `claim.project`'s executions only, when it is
    /// given, along an index of their own) whose `not_before <= now` and whose queue deadline (if any) is still
    /// ahead, oldest first within a queue and the queues in the order given, skipping rows other transactions hold
    /// (`FOR UPDATE SKIP LOCKED`); marks them running under `worker_id` with a lease until `now + lease_ms` and a
    /// deadline of `now + timeout_ms` (none without a timeout), and returns them as updated.
    async fn claim_attempts(&mut self, claim: &Claim<'_>) -> StoreResult<Vec<AttemptRow>>;
    /// The attempts with these ids, row-locked, in id order; missing ids are left out.
    async fn lock_attempts(&mut self, ids: &[Uuid]) -> StoreResult<Vec<AttemptRow>>;
    /// Writes every mutable column of each attempt in one statement.
    async fn update_attempts(&mut self, rows: &[AttemptRow]) -> StoreResult<()>;
    /// Attempts of the execution that hold a slot under its `max_parallelism`: queued and not parked, or running.
    async fn count_active_attempts(&mut self, execution_id: Uuid) -> StoreResult<u64>;
    /// Makes up to `limit` of the execution's parked attempts claimable from `now` (their queue deadline, if they
    /// have a queue timeout, counting from `now`), oldest first; returns their queues (one entry per attempt).
    async fn unpark_attempts(&mut self, execution_id: Uuid, limit: u64, now: i64) -> StoreResult<Vec<String>>;
    /// Running attempts whose lease expired at `now`, up to `limit`, skipping locked rows.
    async fn expired_attempts(&mut self, now: i64, limit: u32) -> StoreResult<Vec<AttemptRow>>;
    /// After the server could not record heartbeats for a while (the database was unreachable): moves the lease of
    /// every running attempt that ends before `lease_until` to `lease_until`, and the cache reservation of every
    /// node with a running attempt that ends before `reservation_until` to `reservation_until`. Nothing is ever
    /// shortened and nothing but running attempts' leases (and their nodes' reservations) is touched, so several
    /// server replicas may each do it after the same outage. Returns how many leases it moved.
    async fn renew_leases(&mut self, lease_until: i64, reservation_until: i64) -> StoreResult<u64>;

    /// The cache entry under `key`.
    async fn get_cache_entry(&mut self, key: &str) -> StoreResult<Option<CacheEntryRow>>;
    /// Writes a cache entry, replacing one under the same key.
    async fn put_cache_entry(&mut self, row: &CacheEntryRow) -> StoreResult<()>;
    /// Reserves `key` for the node until `expires_at`, if no other node holds an unexpired reservation on it at
    /// `now` (its own reservation is extended). `None`: reserved; `Some(holder)`: the node that holds it.
    async fn reserve_cache(
        &mut self,
        key: &str,
        holder: (Uuid, &str),
        now: i64,
        expires_at: i64,
    ) -> StoreResult<Option<(Uuid, String)>>;
    /// Records that the node waits for `key`'s holder.
    async fn add_cache_waiter(&mut self, key: &str, waiter: (Uuid, &str), now: i64) -> StoreResult<()>;
    /// Drops the node's reservation of `key` (if it holds it) and returns, forgetting them, the nodes that waited.
    async fn release_cache(&mut self, key: &str, holder: (Uuid, &str)) -> StoreResult<Vec<(Uuid, String)>>;
    /// Extends the reservations these nodes hold until `expires_at`.
    async fn extend_cache_reservations(&mut self, holders: &[(Uuid, String)], expires_at: i64) -> StoreResult<u64>;
    /// `(key, node_id)` of the reservations held by nodes strictly below `node_id` (the whole execution when
    /// `None`): what aborting those nodes must release.
    async fn reservations_below(
        &mut self,
        execution_id: Uuid,
        node_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>>;

    /// Queued or running attempts whose deadline passed at `now`, up to `limit`, skipping locked rows.
    async fn overdue_attempts(&mut self, now: i64, limit: u32) -> StoreResult<Vec<AttemptRow>>;
    /// Ids of non-terminal executions whose deadline passed at `now`, up to `limit`, skipping locked rows.
    async fn overdue_executions(&mut self, now: i64, limit: u32) -> StoreResult<Vec<Uuid>>;

    /// Records that these nodes wait, since `since`, for the offloaded values their start needs (hydration). A node
    /// already waiting keeps its row and its `since`. Multi-row statements, never one per node.
    async fn insert_hydrations(&mut self, nodes: &[(Uuid, String)], since: i64) -> StoreResult<()>;
    /// Whether the node waits for hydration, as this transaction sees it.
    async fn hydration_waiting(&mut self, execution_id: Uuid, node_id: &str) -> StoreResult<bool>;
    /// Ends these nodes' waits for hydration (started, or found stale); nodes not waiting are passed over. One
    /// statement per execution.
    async fn delete_hydrations(&mut self, nodes: &[(Uuid, String)]) -> StoreResult<()>;

    /// Records a launch plan's schedule, inactive; one already recorded is left as it is.
    async fn insert_schedule(&mut self, row: &ScheduleRow) -> StoreResult<()>;
    /// A launch plan's schedule, locked.
    async fn lock_schedule(&mut self, key: &ResourceKey) -> StoreResult<Option<ScheduleRow>>;
    /// Writes a schedule's state (active, anchor, ticks, change time).
    async fn update_schedule(&mut self, row: &ScheduleRow) -> StoreResult<()>;
    /// Deactivates the other versions of `key`'s name, at `now`.
    async fn deactivate_other_versions(&mut self, key: &ResourceKey, now: i64) -> StoreResult<()>;
    /// Active schedules whose next tick is at or before `now`, earliest first, up to `limit`, skipping rows another
    /// transaction holds.
    async fn due_schedules(&mut self, now: i64, limit: u32) -> StoreResult<Vec<ScheduleRow>>;

    /// Records that a gate waits (replacing a row the node had).
    async fn arm_gate(&mut self, row: &GateRow) -> StoreResult<()>;
    /// Ends these gates' waits; nodes without a row are passed over.
    async fn disarm_gates(&mut self, nodes: &[(Uuid, String)]) -> StoreResult<()>;
    /// Deletes the rows of the execution's gates whose node is not running (aborted in bulk, below a terminated
    /// composite): one statement.
    async fn delete_stale_gates(&mut self, execution_id: Uuid) -> StoreResult<()>;
    /// `(execution, node)` of gates whose deadline passed at `now`, up to `limit`, earliest first, skipping locked
    /// rows (stale rows included).
    async fn overdue_gates(&mut self, now: i64, limit: u32) -> StoreResult<Vec<(Uuid, String)>>;
    /// Node ids of the gates of the execution that wait for `signal_id` (stale rows included), in order.
    async fn gates_waiting(&mut self, execution_id: Uuid, signal_id: &str) -> StoreResult<Vec<String>>;
    /// The signal, if it was set.
    async fn signal(&mut self, execution_id: Uuid, signal_id: &str) -> StoreResult<Option<SignalRow>>;
    /// Stores a signal; one already set under the id is a [`StoreError::Conflict`].
    async fn insert_signal(&mut self, row: &SignalRow) -> StoreResult<()>;
    /// Gives execution `to` every signal set on `from` (a recovery).
    async fn copy_signals(&mut self, from: Uuid, to: Uuid) -> StoreResult<()>;

    /// Stores an accepted dynamic job spec. One already stored for the node and attempt is a
    /// [`StoreError::Conflict`].
    async fn insert_spec(&mut self, row: &SpecRow) -> StoreResult<()>;
    /// [`Store::insert_audit_entry`], in this transaction: written with the batch (the engine's writer's, so that on
    /// SQLite an entry does not queue for the one write lock behind the writer's transactions).
    async fn insert_audit_entry(&mut self, entry: &AuditRow) -> StoreResult<()>;
    /// [`Store::get_spec`], seeing this transaction's writes.
    async fn get_spec(&mut self, execution_id: Uuid, node_id: &str, attempt: i32) -> StoreResult<Option<SpecRow>>;
}
