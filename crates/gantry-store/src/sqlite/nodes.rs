//! Nodes: batch writes as multi-row statements of [`SQLITE_BATCH_ROWS`] rows, inside the caller's transaction.

use gantry_core::state::NodePhase;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqliteExecutor};
use uuid::Uuid;

use super::json_strings;
use crate::StoreResult;
use crate::codec::{
    DescendantScan, RawNode, decode_all, descendant_bounds, descendant_scan, join_downstream, node_kind_str,
    nodes_conflict, page_after_position, page_limit, terminal_node_phases_sql, unsuccessful_node_phases_sql,
};
use crate::error::conflict_or;
use crate::rows::{NodeRow, Page};

/// Rows per multi-row statement: 29 binds a row stays far below SQLite's 32,766-parameter limit, and beyond a few
/// hundred rows a statement gets no faster.
pub(super) const SQLITE_BATCH_ROWS: usize = 500;

pub(super) async fn insert_nodes(conn: &mut SqliteConnection, rows: &[NodeRow]) -> StoreResult<()> {
    for chunk in rows.chunks(SQLITE_BATCH_ROWS) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO nodes (execution_id, node_id, parent_id, local_id, kind, definition, task, phase, \
             is_dynamic, attempts, user_failures, system_failures, cache_status, upstream_pending, downstream, \
             position, children_total, children_succeeded, children_failed, children_skipped, inputs, outputs, error, \
             child_execution_id, created_at, updated_at, started_at, finished_at, children_created) ",
        );
        insert.push_values(chunk, |mut values, row| {
            values
                .push_bind(row.execution_id)
                .push_bind(&row.node_id)
                .push_bind(&row.parent_id)
                .push_bind(&row.local_id)
                .push_bind(node_kind_str(row.kind))
                .push_bind(&row.definition)
                .push_bind(&row.task)
                .push_bind(row.phase.as_str())
                .push_bind(row.is_dynamic)
                .push_bind(row.attempts)
                .push_bind(row.user_failures)
                .push_bind(row.system_failures)
                .push_bind(row.cache_status.as_str())
                .push_bind(row.upstream_pending)
                .push_bind(join_downstream(&row.downstream))
                .push_bind(row.position)
                .push_bind(row.children_total)
                .push_bind(row.children_succeeded)
                .push_bind(row.children_failed)
                .push_bind(row.children_skipped)
                .push_bind(&row.inputs)
                .push_bind(&row.outputs)
                .push_bind(&row.error)
                .push_bind(row.child_execution_id)
                .push_bind(row.created_at)
                .push_bind(row.updated_at)
                .push_bind(row.started_at)
                .push_bind(row.finished_at)
                .push_bind(row.children_created);
        });
        insert
            .build()
            .execute(&mut *conn)
            .await
            .map_err(|error| conflict_or(error, || nodes_conflict(chunk)))?;
    }
    Ok(())
}

/// Every column [`crate::Tx::update_nodes`] writes, as the Postgres store does: all but the key, the parent, the
/// definition, the position and the creation time.
///
/// The unary `+` on `u`'s columns matters: the columns of a `VALUES` CTE have no affinity, so an automatic index on
/// `u` can cover only `execution_id`, and SQLite then preferred scanning every node of the execution against it
/// (quadratic: 4.3 s for 10,000 rows). With `+` it must walk `u` and look each node up by primary key (25 ms).
const UPDATE_NODES_SET: &str = ") UPDATE nodes SET kind = u.kind, task = u.task, phase = u.phase, \
    is_dynamic = u.is_dynamic, attempts = u.attempts, user_failures = u.user_failures, \
    system_failures = u.system_failures, cache_status = u.cache_status, upstream_pending = u.upstream_pending, \
    downstream = u.downstream, children_total = u.children_total, children_succeeded = u.children_succeeded, \
    children_failed = u.children_failed, children_skipped = u.children_skipped, inputs = u.inputs, \
    outputs = u.outputs, error = u.error, child_execution_id = u.child_execution_id, updated_at = u.updated_at, \
    started_at = u.started_at, finished_at = u.finished_at, children_created = u.children_created \
    FROM u WHERE nodes.execution_id = +u.execution_id AND nodes.node_id = +u.node_id";

pub(super) async fn update_nodes(conn: &mut SqliteConnection, rows: &[NodeRow]) -> StoreResult<()> {
    for chunk in rows.chunks(SQLITE_BATCH_ROWS) {
        let mut update = QueryBuilder::<Sqlite>::new(
            "WITH u(execution_id, node_id, kind, task, phase, is_dynamic, attempts, user_failures, system_failures, \
             cache_status, upstream_pending, downstream, children_total, children_succeeded, children_failed, \
             children_skipped, inputs, outputs, error, child_execution_id, updated_at, started_at, finished_at, \
             children_created) AS (",
        );
        update.push_values(chunk, |mut values, row| {
            values
                .push_bind(row.execution_id)
                .push_bind(&row.node_id)
                .push_bind(node_kind_str(row.kind))
                .push_bind(&row.task)
                .push_bind(row.phase.as_str())
                .push_bind(row.is_dynamic)
                .push_bind(row.attempts)
                .push_bind(row.user_failures)
                .push_bind(row.system_failures)
                .push_bind(row.cache_status.as_str())
                .push_bind(row.upstream_pending)
                .push_bind(join_downstream(&row.downstream))
                .push_bind(row.children_total)
                .push_bind(row.children_succeeded)
                .push_bind(row.children_failed)
                .push_bind(row.children_skipped)
                .push_bind(&row.inputs)
                .push_bind(&row.outputs)
                .push_bind(&row.error)
                .push_bind(row.child_execution_id)
                .push_bind(row.updated_at)
                .push_bind(row.started_at)
                .push_bind(row.finished_at)
                .push_bind(row.children_created);
        });
        update.push(UPDATE_NODES_SET);
        update.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub(super) async fn get_node<'e>(
    executor: impl SqliteExecutor<'e>,
    execution_id: Uuid,
    node_id: &str,
) -> StoreResult<Option<NodeRow>> {
    let raw: Option<RawNode> = sqlx::query_as("SELECT * FROM nodes WHERE execution_id = ?1 AND node_id = ?2")
        .bind(execution_id)
        .bind(node_id)
        .fetch_optional(executor)
        .await?;
    raw.map(NodeRow::try_from).transpose()
}

pub(super) async fn list_nodes<'e>(
    executor: impl SqliteExecutor<'e>,
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
    .fetch_all(executor)
    .await?;
    decode_all(raws)
}

/// Along `nodes_unsuccessful` when only the phases of nodes that stopped without success are asked for, else along
/// the primary key (execution, node id), whose order is bytewise: a page reads at most the page's rows, but for a
/// filter of other phases, which reads past the nodes in other phases.
pub(super) async fn list_descendants<'e>(
    executor: impl SqliteExecutor<'e>,
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
        .fetch_all(executor)
        .await?;
    decode_all(raws)
}

pub(super) async fn lock_nodes(
    conn: &mut SqliteConnection,
    execution_id: Uuid,
    node_ids: &[String],
) -> StoreResult<Vec<NodeRow>> {
    let raws: Vec<RawNode> = sqlx::query_as(
        "SELECT * FROM nodes WHERE execution_id = ?1 AND node_id IN (SELECT value FROM json_each(?2)) \
         ORDER BY node_id",
    )
    .bind(execution_id)
    .bind(json_strings(node_ids.iter().map(String::as_str)))
    .fetch_all(conn)
    .await?;
    decode_all(raws)
}

pub(super) async fn lock_children(
    conn: &mut SqliteConnection,
    execution_id: Uuid,
    parent_id: &str,
    local_ids: &[String],
) -> StoreResult<Vec<NodeRow>> {
    let raws: Vec<RawNode> = sqlx::query_as(
        "SELECT * FROM nodes WHERE execution_id = ?1 AND parent_id = ?2 \
         AND local_id IN (SELECT value FROM json_each(?3)) ORDER BY node_id",
    )
    .bind(execution_id)
    .bind(parent_id)
    .bind(json_strings(local_ids.iter().map(String::as_str)))
    .fetch_all(conn)
    .await?;
    decode_all(raws)
}

pub(super) async fn first_child_error(
    conn: &mut SqliteConnection,
    execution_id: Uuid,
    parent_id: &str,
) -> StoreResult<Option<Vec<u8>>> {
    let error: Option<(Vec<u8>,)> = sqlx::query_as(concat!(
        "SELECT error FROM nodes WHERE execution_id = ?1 AND parent_id = ?2 AND phase IN ",
        unsuccessful_node_phases_sql!(),
        " AND error IS NOT NULL ORDER BY finished_at, position LIMIT 1"
    ))
    .bind(execution_id)
    .bind(parent_id)
    .fetch_optional(conn)
    .await?;
    Ok(error.map(|(error,)| error))
}

pub(super) async fn child_outputs(
    conn: &mut SqliteConnection,
    execution_id: Uuid,
    parent_id: &str,
) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
    let outputs = sqlx::query_as(
        "SELECT node_id, outputs FROM nodes WHERE execution_id = ?1 AND parent_id = ?2 ORDER BY position",
    )
    .bind(execution_id)
    .bind(parent_id)
    .fetch_all(conn)
    .await?;
    Ok(outputs)
}

/// Descendants of `n` are the ids in `["n/", "n0")`: `'0'` follows `'/'`, and SQLite compares text bytewise. A
/// range, unlike `LIKE`, treats `_` and `%` as plain characters and walks the primary key.
const ABORT_ATTEMPTS: &str = "UPDATE attempts SET phase = 'aborted', finished_at = ?3 \
    WHERE execution_id = ?1 AND (?2 IS NULL OR (node_id >= ?2 AND node_id < ?4)) AND phase IN ('queued', 'running')";

const ABORT_NODES: &str = concat!(
    "UPDATE nodes SET phase = 'aborted', finished_at = ?3, updated_at = ?3 \
     WHERE execution_id = ?1 AND (?2 IS NULL OR (node_id >= ?2 AND node_id < ?4)) AND phase NOT IN ",
    terminal_node_phases_sql!()
);

pub(super) async fn abort_descendants(
    conn: &mut SqliteConnection,
    execution_id: Uuid,
    node_id: Option<&str>,
    now: i64,
) -> StoreResult<u64> {
    let range = node_id.map(|node_id| (format!("{node_id}/"), format!("{node_id}0")));
    let (from, until) = range.unzip();
    sqlx::query(ABORT_ATTEMPTS)
        .bind(execution_id)
        .bind(&from)
        .bind(now)
        .bind(&until)
        .execute(&mut *conn)
        .await?;
    let aborted = sqlx::query(ABORT_NODES)
        .bind(execution_id)
        .bind(&from)
        .bind(now)
        .bind(&until)
        .execute(&mut *conn)
        .await?;
    Ok(aborted.rows_affected())
}

pub(super) async fn running_child_executions(
    conn: &mut SqliteConnection,
    execution_id: Uuid,
    node_id: Option<&str>,
) -> StoreResult<Vec<Uuid>> {
    let range = node_id.map(|node_id| (format!("{node_id}/"), format!("{node_id}0")));
    let (from, until) = range.unzip();
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

pub(super) async fn abort_node_attempts(
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
