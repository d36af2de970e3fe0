//! Batch writes on Postgres: one `UNNEST` statement per [`POSTGRES_BATCH_ROWS`] rows, every column bound as one
//! array.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreResult;
use crate::codec::{POSTGRES_BATCH_ROWS, attempts_conflict, join_downstream, node_kind_str, nodes_conflict};
use crate::error::conflict_or;
use crate::rows::{AttemptRow, NodeRow};

/// The columns of a batch of nodes, one array per column, borrowed from the rows.
#[derive(Default)]
struct NodeColumns<'a> {
    execution_id: Vec<Uuid>,
    node_id: Vec<&'a str>,
    parent_id: Vec<&'a str>,
    local_id: Vec<&'a str>,
    kind: Vec<&'static str>,
    definition: Vec<&'a [u8]>,
    task: Vec<Option<&'a str>>,
    phase: Vec<&'static str>,
    is_dynamic: Vec<bool>,
    attempts: Vec<i32>,
    user_failures: Vec<i32>,
    system_failures: Vec<i32>,
    cache_status: Vec<&'static str>,
    upstream_pending: Vec<i32>,
    downstream: Vec<String>,
    position: Vec<i64>,
    children_total: Vec<i64>,
    children_succeeded: Vec<i64>,
    children_failed: Vec<i64>,
    children_skipped: Vec<i64>,
    children_created: Vec<i64>,
    inputs: Vec<Option<&'a [u8]>>,
    outputs: Vec<Option<&'a [u8]>>,
    error: Vec<Option<&'a [u8]>>,
    child_execution_id: Vec<Option<Uuid>>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
    started_at: Vec<Option<i64>>,
    finished_at: Vec<Option<i64>>,
}

impl<'a> NodeColumns<'a> {
    fn of(rows: &'a [NodeRow]) -> Self {
        let mut columns = NodeColumns::default();
        for row in rows {
            columns.execution_id.push(row.execution_id);
            columns.node_id.push(&row.node_id);
            columns.parent_id.push(&row.parent_id);
            columns.local_id.push(&row.local_id);
            columns.kind.push(node_kind_str(row.kind));
            columns.definition.push(&row.definition);
            columns.task.push(row.task.as_deref());
            columns.phase.push(row.phase.as_str());
            columns.is_dynamic.push(row.is_dynamic);
            columns.attempts.push(row.attempts);
            columns.user_failures.push(row.user_failures);
            columns.system_failures.push(row.system_failures);
            columns.cache_status.push(row.cache_status.as_str());
            columns.upstream_pending.push(row.upstream_pending);
            columns.downstream.push(join_downstream(&row.downstream));
            columns.position.push(row.position);
            columns.children_total.push(row.children_total);
            columns.children_succeeded.push(row.children_succeeded);
            columns.children_failed.push(row.children_failed);
            columns.children_skipped.push(row.children_skipped);
            columns.children_created.push(row.children_created);
            columns.inputs.push(row.inputs.as_deref());
            columns.outputs.push(row.outputs.as_deref());
            columns.error.push(row.error.as_deref());
            columns.child_execution_id.push(row.child_execution_id);
            columns.created_at.push(row.created_at);
            columns.updated_at.push(row.updated_at);
            columns.started_at.push(row.started_at);
            columns.finished_at.push(row.finished_at);
        }
        columns
    }
}

const INSERT_NODES: &str = "INSERT INTO nodes (execution_id, node_id, parent_id, local_id, kind, definition, task, \
    phase, is_dynamic, attempts, user_failures, system_failures, cache_status, upstream_pending, downstream, position, \
    children_total, children_succeeded, children_failed, children_skipped, inputs, outputs, error, child_execution_id, \
    created_at, updated_at, started_at, finished_at, children_created) \
    SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[], \
    $8::text[], $9::bool[], $10::int4[], $11::int4[], $12::int4[], $13::text[], $14::int4[], $15::text[], $16::int8[], \
    $17::int8[], $18::int8[], $19::int8[], $20::int8[], $21::bytea[], $22::bytea[], $23::bytea[], $24::uuid[], \
    $25::int8[], $26::int8[], $27::int8[], $28::int8[], $29::int8[])";

pub(super) async fn insert_nodes(conn: &mut PgConnection, rows: &[NodeRow]) -> StoreResult<()> {
    for chunk in rows.chunks(POSTGRES_BATCH_ROWS) {
        let c = NodeColumns::of(chunk);
        sqlx::query(INSERT_NODES)
            .bind(&c.execution_id)
            .bind(&c.node_id)
            .bind(&c.parent_id)
            .bind(&c.local_id)
            .bind(&c.kind)
            .bind(&c.definition)
            .bind(&c.task)
            .bind(&c.phase)
            .bind(&c.is_dynamic)
            .bind(&c.attempts)
            .bind(&c.user_failures)
            .bind(&c.system_failures)
            .bind(&c.cache_status)
            .bind(&c.upstream_pending)
            .bind(&c.downstream)
            .bind(&c.position)
            .bind(&c.children_total)
            .bind(&c.children_succeeded)
            .bind(&c.children_failed)
            .bind(&c.children_skipped)
            .bind(&c.inputs)
            .bind(&c.outputs)
            .bind(&c.error)
            .bind(&c.child_execution_id)
            .bind(&c.created_at)
            .bind(&c.updated_at)
            .bind(&c.started_at)
            .bind(&c.finished_at)
            .bind(&c.children_created)
            .execute(&mut *conn)
            .await
            .map_err(|error| conflict_or(error, || nodes_conflict(chunk)))?;
    }
    Ok(())
}

/// Every column [`crate::Tx::update_nodes`] writes: all but the key, the parent, the definition, the position
/// and the creation time, which never change.
const UPDATE_NODES: &str = "UPDATE nodes AS n SET kind = u.kind, task = u.task, phase = u.phase, \
    is_dynamic = u.is_dynamic, attempts = u.attempts, user_failures = u.user_failures, \
    system_failures = u.system_failures, cache_status = u.cache_status, upstream_pending = u.upstream_pending, \
    downstream = u.downstream, children_total = u.children_total, children_succeeded = u.children_succeeded, \
    children_failed = u.children_failed, children_skipped = u.children_skipped, inputs = u.inputs, \
    outputs = u.outputs, error = u.error, child_execution_id = u.child_execution_id, updated_at = u.updated_at, \
    started_at = u.started_at, finished_at = u.finished_at, children_created = u.children_created \
    FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::int4[], $8::int4[], \
    $9::int4[], $10::text[], $11::int4[], $12::text[], $13::int8[], $14::int8[], $15::int8[], $16::int8[], \
    $17::bytea[], $18::bytea[], $19::bytea[], $20::uuid[], $21::int8[], $22::int8[], $23::int8[], $24::int8[]) \
    AS u(execution_id, node_id, kind, task, phase, is_dynamic, attempts, user_failures, system_failures, \
    cache_status, upstream_pending, downstream, children_total, children_succeeded, children_failed, \
    children_skipped, inputs, outputs, error, child_execution_id, updated_at, started_at, finished_at, \
    children_created) \
    WHERE n.execution_id = u.execution_id AND n.node_id = u.node_id";

pub(super) async fn update_nodes(conn: &mut PgConnection, rows: &[NodeRow]) -> StoreResult<()> {
    for chunk in rows.chunks(POSTGRES_BATCH_ROWS) {
        let c = NodeColumns::of(chunk);
        sqlx::query(UPDATE_NODES)
            .bind(&c.execution_id)
            .bind(&c.node_id)
            .bind(&c.kind)
            .bind(&c.task)
            .bind(&c.phase)
            .bind(&c.is_dynamic)
            .bind(&c.attempts)
            .bind(&c.user_failures)
            .bind(&c.system_failures)
            .bind(&c.cache_status)
            .bind(&c.upstream_pending)
            .bind(&c.downstream)
            .bind(&c.children_total)
            .bind(&c.children_succeeded)
            .bind(&c.children_failed)
            .bind(&c.children_skipped)
            .bind(&c.inputs)
            .bind(&c.outputs)
            .bind(&c.error)
            .bind(&c.child_execution_id)
            .bind(&c.updated_at)
            .bind(&c.started_at)
            .bind(&c.finished_at)
            .bind(&c.children_created)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The columns of a batch of attempts, one array per column, borrowed from the rows.
#[derive(Default)]
struct AttemptColumns<'a> {
    id: Vec<Uuid>,
    execution_id: Vec<Uuid>,
    node_id: Vec<&'a str>,
    attempt: Vec<i32>,
    queue: Vec<&'a str>,
    task: Vec<&'a str>,
    phase: Vec<&'static str>,
    worker_id: Vec<Option<&'a str>>,
    not_before: Vec<i64>,
    lease_expires_at: Vec<Option<i64>>,
    timeout_ms: Vec<Option<i64>>,
    queue_timeout_ms: Vec<Option<i64>>,
    project: Vec<&'a str>,
    deadline: Vec<Option<i64>>,
    error: Vec<Option<&'a [u8]>>,
    created_at: Vec<i64>,
    started_at: Vec<Option<i64>>,
    finished_at: Vec<Option<i64>>,
}

impl<'a> AttemptColumns<'a> {
    fn of(rows: &'a [AttemptRow]) -> Self {
        let mut columns = AttemptColumns::default();
        for row in rows {
            columns.id.push(row.id);
            columns.execution_id.push(row.execution_id);
            columns.node_id.push(&row.node_id);
            columns.attempt.push(row.attempt);
            columns.queue.push(&row.queue);
            columns.task.push(&row.task);
            columns.phase.push(row.phase.as_str());
            columns.worker_id.push(row.worker_id.as_deref());
            columns.not_before.push(row.not_before);
            columns.lease_expires_at.push(row.lease_expires_at);
            columns.timeout_ms.push(row.timeout_ms);
            columns.queue_timeout_ms.push(row.queue_timeout_ms);
            columns.project.push(&row.project);
            columns.deadline.push(row.deadline);
            columns.error.push(row.error.as_deref());
            columns.created_at.push(row.created_at);
            columns.started_at.push(row.started_at);
            columns.finished_at.push(row.finished_at);
        }
        columns
    }
}

pub(super) async fn insert_attempts(conn: &mut PgConnection, rows: &[AttemptRow]) -> StoreResult<()> {
    for chunk in rows.chunks(POSTGRES_BATCH_ROWS) {
        let c = AttemptColumns::of(chunk);
        sqlx::query(
            "INSERT INTO attempts (id, execution_id, node_id, attempt, queue, task, phase, worker_id, not_before, \
             lease_expires_at, error, created_at, started_at, finished_at, timeout_ms, deadline, queue_timeout_ms, \
             project) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int4[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::int8[], $10::int8[], $11::bytea[], $12::int8[], $13::int8[], $14::int8[], \
             $15::int8[], $16::int8[], $17::int8[], $18::text[])",
        )
        .bind(&c.id)
        .bind(&c.execution_id)
        .bind(&c.node_id)
        .bind(&c.attempt)
        .bind(&c.queue)
        .bind(&c.task)
        .bind(&c.phase)
        .bind(&c.worker_id)
        .bind(&c.not_before)
        .bind(&c.lease_expires_at)
        .bind(&c.error)
        .bind(&c.created_at)
        .bind(&c.started_at)
        .bind(&c.finished_at)
        .bind(&c.timeout_ms)
        .bind(&c.deadline)
        .bind(&c.queue_timeout_ms)
        .bind(&c.project)
        .execute(&mut *conn)
        .await
        .map_err(|error| conflict_or(error, || attempts_conflict(chunk)))?;
    }
    Ok(())
}

/// Every column [`crate::Tx::update_attempts`] writes: what a claim, a lease renewal, a result or a retry changes.
pub(super) async fn update_attempts(conn: &mut PgConnection, rows: &[AttemptRow]) -> StoreResult<()> {
    for chunk in rows.chunks(POSTGRES_BATCH_ROWS) {
        let c = AttemptColumns::of(chunk);
        sqlx::query(
            "UPDATE attempts AS a SET phase = u.phase, worker_id = u.worker_id, not_before = u.not_before, \
             lease_expires_at = u.lease_expires_at, error = u.error, started_at = u.started_at, \
             finished_at = u.finished_at, deadline = u.deadline \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::bytea[], $7::int8[], \
             $8::int8[], $9::int8[]) \
             AS u(id, phase, worker_id, not_before, lease_expires_at, error, started_at, finished_at, deadline) \
             WHERE a.id = u.id",
        )
        .bind(&c.id)
        .bind(&c.phase)
        .bind(&c.worker_id)
        .bind(&c.not_before)
        .bind(&c.lease_expires_at)
        .bind(&c.error)
        .bind(&c.started_at)
        .bind(&c.finished_at)
        .bind(&c.deadline)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
