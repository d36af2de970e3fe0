//! What SQLite needs written its own way: lists bound as one JSON array (`json_each`), claims that need no row
//! locks (the transaction holds the write lock), subtrees matched as a range of ids, and the statements its planner
//! needs told which index to use.

use async_trait::async_trait;
use gantry_core::state::{ExecutionPhase, NodePhase};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::{SqliteDialect, batch, json_strings, json_uuids};
use crate::codec::{
    Claim, DescendantScan, RawAttempt, RawExecution, RawNode, RawResource, decode_all, descendant_bounds,
    descendant_scan, page_after_execution, page_after_position, page_after_resource, page_limit,
    terminal_node_phases_sql, unsuccessful_node_phases_sql,
};
use crate::filters::ExecutionBounds;
use crate::rows::{AttemptRow, ExecutionFilter, ExecutionRow, NodeRow, Page, ResourceRow, StartedNode};
use crate::sql::{Dialect, SqlTx};
use crate::{Announcement, StoreResult, Tx};

/// Descendants of `n` are the ids in `["n/", "n0")`: `'0'` follows `'/'`, and SQLite compares text bytewise. A
/// range, unlike `LIKE`, treats `_` and `%` as plain characters and walks the primary key.
fn subtree(node_id: Option<&str>) -> (Option<String>, Option<String>) {
    node_id
        .map(|node_id| (format!("{node_id}/"), format!("{node_id}0")))
        .unzip()
}

#[async_trait]
impl Dialect for SqliteDialect {
    type Database = Sqlite;

    /// The transaction already holds the database's write lock (`BEGIN IMMEDIATE`).
    const FOR_UPDATE: &'static str = "";
    /// No other writer can hold a row this transaction could read.
    const SKIP_LOCKED: &'static str = "";
    /// The phases, as the partial index `nodes_unsuccessful` is defined, so that SQLite uses it.
    const UNSUCCESSFUL: &'static str = concat!("phase IN ", unsuccessful_node_phases_sql!());
    /// The phase, as the partial index `nodes_assembling` is defined, so that SQLite uses it.
    const ASSEMBLING: &'static str = "phase = 'assembling'";

    type TextList<'a> = String;

    fn text_list(items: &[String]) -> String {
        json_strings(items.iter().map(String::as_str))
    }

    fn in_text_list(parameter: &str) -> String {
        format!("IN (SELECT value FROM json_each({parameter}))")
    }

    fn rows_affected(done: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    /// `IMMEDIATE`: the write lock up front, so two transactions never deadlock upgrading a read lock.
    async fn begin(pool: &SqlitePool) -> StoreResult<Box<dyn Tx>> {
        let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Box::new(SqlTx::<SqliteDialect> { tx }))
    }

    /// An embedded database has no server to lose; this only checks the pool is usable. A pool whose connections
    /// are all busy is alive, and waiting for one could take as long as the longest transaction (the in-memory
    /// database has a single connection).
    async fn compact_claims(_pool: &SqlitePool) -> StoreResult<()> {
        // SQLite's indexes drop an updated row's old entries at once.
        Ok(())
    }

    async fn ping(&self, pool: &SqlitePool) -> StoreResult<()> {
        if pool.is_closed() {
            return Err(sqlx::Error::PoolClosed.into());
        }
        if let Some(mut connection) = pool.try_acquire() {
            sqlx::query("SELECT 1").execute(&mut *connection).await?;
        }
        Ok(())
    }

    /// One process owns the file: there is no one to hear from.
    async fn listen(_pool: &SqlitePool) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Announcement>>> {
        Ok(None)
    }

    async fn announce_queues(_conn: &mut SqliteConnection, _queues: &[String]) -> StoreResult<()> {
        Ok(())
    }

    async fn announce_executions(
        _conn: &mut SqliteConnection,
        _origin: Uuid,
        _changes: &[(Uuid, ExecutionPhase)],
    ) -> StoreResult<()> {
        Ok(())
    }

    async fn list_resources(
        conn: &mut SqliteConnection,
        table: &'static str,
        project: &str,
        domain: &str,
        name: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<ResourceRow>> {
        let (after_name, after_version) = page_after_resource(page)?.unzip();
        let raws: Vec<RawResource> = sqlx::query_as(&format!(
            "SELECT * FROM {table} WHERE project = ?1 AND domain = ?2 AND (?3 IS NULL OR name = ?3) \
             AND (?4 IS NULL OR (name, version) > (?4, ?5)) ORDER BY name, version LIMIT ?6"
        ))
        .bind(project)
        .bind(domain)
        .bind(name)
        .bind(after_name)
        .bind(after_version)
        .bind(page_limit(page))
        .fetch_all(conn)
        .await?;
        Ok(raws.into_iter().map(ResourceRow::from).collect())
    }

    async fn list_executions(
        conn: &mut SqliteConnection,
        filter: &ExecutionFilter,
        page: &Page,
    ) -> StoreResult<Vec<ExecutionRow>> {
        let phases = json_strings(filter.phases.iter().map(|phase| phase.as_str()));
        let bounds = ExecutionBounds::of(filter);
        let raws: Vec<RawExecution> = sqlx::query_as(
            "SELECT * FROM executions WHERE (?1 IS NULL OR project = ?1) AND (?2 IS NULL OR domain = ?2) \
             AND (json_array_length(?3) = 0 OR phase IN (SELECT value FROM json_each(?3))) AND (?4 IS NULL OR id < ?4) \
             AND (?5 IS NULL OR (target_kind = ?5 AND target >= ?6 AND target < ?7)) \
             AND (?8 IS NULL OR created_at >= ?8) AND (?9 IS NULL OR created_at < ?9) \
             AND (?10 IS NULL OR (name >= ?10 AND name < ?11) OR id = ?12) \
             ORDER BY id DESC LIMIT ?13",
        )
        .bind(&filter.project)
        .bind(&filter.domain)
        .bind(phases)
        .bind(page_after_execution(page)?)
        .bind(bounds.target_kind)
        .bind(&bounds.target_from)
        .bind(&bounds.target_to)
        .bind(filter.created_after)
        .bind(filter.created_before)
        .bind(&bounds.name_from)
        .bind(&bounds.name_to)
        .bind(bounds.search_id)
        .bind(page_limit(page))
        .fetch_all(conn)
        .await?;
        decode_all(raws)
    }

    async fn list_nodes(
        conn: &mut SqliteConnection,
        execution_id: Uuid,
        parent_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<NodeRow>> {
        let raws: Vec<RawNode> = sqlx::query_as(
            "SELECT * FROM nodes WHERE execution_id = ?1 AND parent_id = ?2 AND (?3 IS NULL OR position > ?3) \
             ORDER BY position LIMIT ?4",
        )
        .bind(execution_id)
        .bind(parent_id)
        .bind(page_after_position(page)?)
        .bind(page_limit(page))
        .fetch_all(conn)
        .await?;
        decode_all(raws)
    }

    /// Along `nodes_unsuccessful` when only the phases of nodes that stopped without success are asked for, else
    /// along the primary key (execution, node id), whose order is bytewise: a page reads at most the page's rows, but
    /// for a filter of other phases, which reads past the nodes in other phases.
    async fn list_descendants(
        conn: &mut SqliteConnection,
        execution_id: Uuid,
        below: &str,
        phases: &[NodePhase],
        page: &Page,
    ) -> StoreResult<Vec<NodeRow>> {
        let (after, before) = descendant_bounds(below, page)?;
        let (statement, phases) = match descendant_scan(phases) {
            // The partial index's own term must appear as written for SQLite to use the index.
            DescendantScan::Unsuccessful(phases) => (
                concat!(
                    "SELECT * FROM nodes INDEXED BY nodes_unsuccessful WHERE execution_id = ?1 AND phase IN ",
                    unsuccessful_node_phases_sql!(),
                    " AND phase IN (SELECT value FROM json_each(?2)) AND node_id > ?3 AND node_id < ?4 \
                     ORDER BY node_id LIMIT ?5"
                ),
                Some(phases),
            ),
            DescendantScan::ById(phases) => (
                "SELECT * FROM nodes WHERE execution_id = ?1 \
                 AND (?2 IS NULL OR phase IN (SELECT value FROM json_each(?2))) AND node_id > ?3 AND node_id < ?4 \
                 ORDER BY node_id LIMIT ?5",
                phases,
            ),
        };
        let raws: Vec<RawNode> = sqlx::query_as(statement)
            .bind(execution_id)
            .bind(phases.map(json_strings))
            .bind(after)
            .bind(before)
            .bind(page_limit(page))
            .fetch_all(conn)
            .await?;
        decode_all(raws)
    }

    async fn next_deadline(conn: &mut SqliteConnection) -> StoreResult<Option<i64>> {
        let next = sqlx::query_scalar(
            "SELECT min(d) FROM (SELECT min(deadline) AS d FROM attempts WHERE phase IN ('queued', 'running') \
             AND deadline IS NOT NULL UNION ALL SELECT min(deadline) FROM executions \
             WHERE phase NOT IN ('succeeded', 'failed', 'aborted', 'timed_out') \
             UNION ALL SELECT min(deadline) FROM gates WHERE deadline IS NOT NULL)",
        )
        .fetch_one(conn)
        .await?;
        Ok(next)
    }

    async fn insert_nodes(conn: &mut SqliteConnection, rows: &[NodeRow]) -> StoreResult<()> {
        batch::insert_nodes(conn, rows).await
    }

    async fn lock_nodes(
        conn: &mut SqliteConnection,
        execution_id: Uuid,
        node_ids: &[String],
    ) -> StoreResult<Vec<NodeRow>> {
        let raws: Vec<RawNode> = sqlx::query_as(
            "SELECT * FROM nodes WHERE execution_id = ?1 AND node_id IN (SELECT value FROM json_each(?2)) \
             ORDER BY node_id",
        )
        .bind(execution_id)
        .bind(Self::text_list(node_ids))
        .fetch_all(conn)
        .await?;
        decode_all(raws)
    }

    /// Two statements: the nodes as they were, then their update (one writer at a time: nothing changes between).
    async fn start_nodes(
        conn: &mut SqliteConnection,
        execution_id: Uuid,
        node_ids: &[String],
        now: i64,
    ) -> StoreResult<Vec<StartedNode>> {
        let ids = Self::text_list(node_ids);
        let raws: Vec<RawNode> = sqlx::query_as(
            "SELECT * FROM nodes WHERE execution_id = ?1 AND node_id IN (SELECT value FROM json_each(?2)) \
             AND phase IN ('queued', 'retry_waiting') ORDER BY node_id",
        )
        .bind(execution_id)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        if raws.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(
            "UPDATE nodes SET phase = 'running', updated_at = ?3 WHERE execution_id = ?1 \
             AND node_id IN (SELECT value FROM json_each(?2)) AND phase IN ('queued', 'retry_waiting')",
        )
        .bind(execution_id)
        .bind(&ids)
        .bind(now)
        .execute(conn)
        .await?;
        let before: Vec<NodeRow> = decode_all(raws)?;
        Ok(before.into_iter().map(|row| StartedNode::start(row, now)).collect())
    }

    async fn update_nodes(conn: &mut SqliteConnection, rows: &[NodeRow]) -> StoreResult<()> {
        batch::update_nodes(conn, rows).await
    }

    /// Two statements (SQLite has no data-modifying CTEs): the attempts, then the nodes.
    async fn abort_descendants(
        conn: &mut SqliteConnection,
        execution_id: Uuid,
        node_id: Option<&str>,
        now: i64,
    ) -> StoreResult<u64> {
        let (from, until) = subtree(node_id);
        sqlx::query(
            "UPDATE attempts SET phase = 'aborted', finished_at = ?3 WHERE execution_id = ?1 \
             AND (?2 IS NULL OR (node_id >= ?2 AND node_id < ?4)) AND phase IN ('queued', 'running')",
        )
        .bind(execution_id)
        .bind(&from)
        .bind(now)
        .bind(&until)
        .execute(&mut *conn)
        .await?;
        let aborted = sqlx::query(concat!(
            "UPDATE nodes SET phase = 'aborted', finished_at = ?3, updated_at = ?3 \
             WHERE execution_id = ?1 AND (?2 IS NULL OR (node_id >= ?2 AND node_id < ?4)) AND phase NOT IN ",
            terminal_node_phases_sql!()
        ))
        .bind(execution_id)
        .bind(&from)
        .bind(now)
        .bind(&until)
        .execute(&mut *conn)
        .await?;
        Ok(aborted.rows_affected())
    }

    async fn running_child_executions(
        conn: &mut SqliteConnection,
        execution_id: Uuid,
        node_id: Option<&str>,
    ) -> StoreResult<Vec<Uuid>> {
        let (from, until) = subtree(node_id);
        let ids = sqlx::query_scalar(concat!(
            "SELECT child_execution_id FROM nodes WHERE execution_id = ?1 \
             AND (?2 IS NULL OR (node_id >= ?2 AND node_id < ?3)) \
             AND child_execution_id IS NOT NULL AND phase NOT IN ",
            terminal_node_phases_sql!()
        ))
        .bind(execution_id)
        .bind(&from)
        .bind(&until)
        .fetch_all(conn)
        .await?;
        Ok(ids)
    }

    async fn abort_node_attempts(
        conn: &mut SqliteConnection,
        execution_id: Uuid,
        node_ids: &[String],
        now: i64,
    ) -> StoreResult<u64> {
        let mut aborted = 0;
        for node_id in node_ids {
            let done = sqlx::query(
                "UPDATE attempts SET phase = 'aborted', finished_at = ?3 \
                 WHERE execution_id = ?1 AND node_id = ?2 AND phase IN ('queued', 'running')",
            )
            .bind(execution_id)
            .bind(node_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            aborted += done.rows_affected();
        }
        Ok(aborted)
    }

    async fn insert_attempts(conn: &mut SqliteConnection, rows: &[AttemptRow]) -> StoreResult<()> {
        batch::insert_attempts(conn, rows).await
    }

    async fn update_attempts(conn: &mut SqliteConnection, rows: &[AttemptRow]) -> StoreResult<()> {
        batch::update_attempts(conn, rows).await
    }

    /// The transaction holds SQLite's write lock (`BEGIN IMMEDIATE`), so selecting and updating in one statement is
    /// exactly what `SKIP LOCKED` achieves on Postgres: no other writer can claim the same rows.
    async fn claim_attempts(conn: &mut SqliteConnection, claim: &Claim<'_>) -> StoreResult<Vec<AttemptRow>> {
        // Written out per case, so that one project's claim can use the `(queue, project, id)` index (migration 0013).
        let in_project = if claim.project.is_some() {
            "AND project = ?6 "
        } else {
            ""
        };
        let raws: Vec<RawAttempt> = sqlx::query_as(&format!(
            "UPDATE attempts SET phase = 'running', worker_id = ?4, started_at = ?3, lease_expires_at = ?5, \
             deadline = ?3 + timeout_ms \
             WHERE id IN (SELECT id FROM attempts WHERE phase = 'queued' \
             AND queue IN (SELECT value FROM json_each(?1)) {in_project}AND not_before <= ?3 \
             AND (deadline IS NULL OR deadline > ?3) ORDER BY id LIMIT ?2) RETURNING *"
        ))
        .bind(json_strings(claim.queues.iter().map(String::as_str)))
        .bind(i64::from(claim.limit))
        .bind(claim.now)
        .bind(claim.worker_id)
        .bind(claim.now.saturating_add(claim.lease_ms))
        .bind(claim.project)
        .fetch_all(conn)
        .await?;
        decode_all(raws)
    }

    async fn lock_attempts(conn: &mut SqliteConnection, ids: &[Uuid]) -> StoreResult<Vec<AttemptRow>> {
        let raws: Vec<RawAttempt> =
            sqlx::query_as("SELECT * FROM attempts WHERE id IN (SELECT unhex(value) FROM json_each(?1)) ORDER BY id")
                .bind(json_uuids(ids))
                .fetch_all(conn)
                .await?;
        decode_all(raws)
    }

    async fn renew_leases(conn: &mut SqliteConnection, lease_until: i64, reservation_until: i64) -> StoreResult<u64> {
        let renewed =
            sqlx::query("UPDATE attempts SET lease_expires_at = ?1 WHERE phase = 'running' AND lease_expires_at < ?1")
                .bind(lease_until)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        sqlx::query(
            "UPDATE cache_reservations SET expires_at = ?1 WHERE expires_at < ?1 AND EXISTS (SELECT 1 FROM attempts AS a \
             WHERE a.execution_id = cache_reservations.execution_id AND a.node_id = cache_reservations.node_id \
             AND a.phase = 'running')",
        )
        .bind(reservation_until)
        .execute(&mut *conn)
        .await?;
        Ok(renewed)
    }

    async fn extend_cache_reservations(
        conn: &mut SqliteConnection,
        holders: &[(Uuid, String)],
        expires_at: i64,
    ) -> StoreResult<u64> {
        let mut extended = 0;
        for (execution_id, node_id) in holders {
            let done =
                sqlx::query("UPDATE cache_reservations SET expires_at = ?3 WHERE execution_id = ?1 AND node_id = ?2")
                    .bind(execution_id)
                    .bind(node_id)
                    .bind(expires_at)
                    .execute(&mut *conn)
                    .await?;
            extended += done.rows_affected();
        }
        Ok(extended)
    }

    async fn reservations_below(
        conn: &mut SqliteConnection,
        execution_id: Uuid,
        node_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>> {
        let (from, until) = subtree(node_id);
        let held = sqlx::query_as(
            "SELECT key, node_id FROM cache_reservations WHERE execution_id = ?1 \
             AND (?2 IS NULL OR (node_id >= ?2 AND node_id < ?3))",
        )
        .bind(execution_id)
        .bind(&from)
        .bind(&until)
        .fetch_all(conn)
        .await?;
        Ok(held)
    }
}
