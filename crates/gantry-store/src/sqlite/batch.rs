//! Batch writes on SQLite: multi-row statements of [`SQLITE_BATCH_ROWS`] rows, inside the caller's transaction.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::StoreResult;
use crate::codec::{attempts_conflict, join_downstream, node_kind_str, nodes_conflict};
use crate::error::conflict_or;
use crate::rows::{AttemptRow, NodeRow};

/// Rows per multi-row statement: 29 binds a row stays far below SQLite's 32,766-parameter limit, and beyond a few
/// hundred rows a statement gets no faster.
const SQLITE_BATCH_ROWS: usize = 500;

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

pub(super) async fn insert_attempts(conn: &mut SqliteConnection, rows: &[AttemptRow]) -> StoreResult<()> {
    for chunk in rows.chunks(SQLITE_BATCH_ROWS) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO attempts (id, execution_id, node_id, attempt, queue, task, phase, worker_id, not_before, \
             lease_expires_at, error, created_at, started_at, finished_at, timeout_ms, deadline, queue_timeout_ms, \
             project) ",
        );
        insert.push_values(chunk, |mut values, row| {
            values
                .push_bind(row.id)
                .push_bind(row.execution_id)
                .push_bind(&row.node_id)
                .push_bind(row.attempt)
                .push_bind(&row.queue)
                .push_bind(&row.task)
                .push_bind(row.phase.as_str())
                .push_bind(&row.worker_id)
                .push_bind(row.not_before)
                .push_bind(row.lease_expires_at)
                .push_bind(&row.error)
                .push_bind(row.created_at)
                .push_bind(row.started_at)
                .push_bind(row.finished_at)
                .push_bind(row.timeout_ms)
                .push_bind(row.deadline)
                .push_bind(row.queue_timeout_ms)
                .push_bind(&row.project);
        });
        insert
            .build()
            .execute(&mut *conn)
            .await
            .map_err(|error| conflict_or(error, || attempts_conflict(chunk)))?;
    }
    Ok(())
}

/// Every column [`crate::Tx::update_attempts`] writes, as the Postgres store does; `+u.id` for the reason given at
/// `update_nodes`.
pub(super) async fn update_attempts(conn: &mut SqliteConnection, rows: &[AttemptRow]) -> StoreResult<()> {
    for chunk in rows.chunks(SQLITE_BATCH_ROWS) {
        let mut update = QueryBuilder::<Sqlite>::new(
            "WITH u(id, phase, worker_id, not_before, lease_expires_at, error, started_at, finished_at, deadline) AS (",
        );
        update.push_values(chunk, |mut values, row| {
            values
                .push_bind(row.id)
                .push_bind(row.phase.as_str())
                .push_bind(&row.worker_id)
                .push_bind(row.not_before)
                .push_bind(row.lease_expires_at)
                .push_bind(&row.error)
                .push_bind(row.started_at)
                .push_bind(row.finished_at)
                .push_bind(row.deadline);
        });
        update.push(
            ") UPDATE attempts SET phase = u.phase, worker_id = u.worker_id, not_before = u.not_before, \
             lease_expires_at = u.lease_expires_at, error = u.error, started_at = u.started_at, \
             finished_at = u.finished_at, deadline = u.deadline FROM u WHERE attempts.id = +u.id",
        );
        update.build().execute(&mut *conn).await?;
    }
    Ok(())
}
