//! Nodes: batch writes as one `UNNEST` statement per [`POSTGRES_BATCH_ROWS`] rows.

use gantry_core::state::NodePhase;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::StoreResult;
use crate::codec::{
    DescendantScan, POSTGRES_BATCH_ROWS, RawNode, decode_all, descendant_bounds, descendant_scan, join_downstream,
    node_kind_str, nodes_conflict, page_after_position, page_limit, terminal_node_phases_sql,
};
use crate::error::conflict_or;
use crate::rows::{NodeRow, Page};

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

pub(super) async fn get_node<'e>(
    executor: impl PgExecutor<'e>,
    execution_id: Uuid,
    node_id: &str,
) -> StoreResult<Option<NodeRow>> {
    let raw: Option<RawNode> = sqlx::query_as("SELECT * FROM nodes WHERE execution_id = $1 AND node_id = $2")
        .bind(execution_id)
        .bind(node_id)
        .fetch_optional(executor)
        .await?;
    raw.map(NodeRow::try_from).transpose()
}

pub(super) async fn list_nodes<'e>(
    executor: impl PgExecutor<'e>,
    execution_id: Uuid,
    parent_id: &str,
    page: &Page,
) -> StoreResult<Vec<NodeRow>> {
    let raws: Vec<RawNode> = sqlx::query_as(
        "SELECT * FROM nodes WHERE execution_id = $1 AND parent_id = $2 AND ($3::int8 IS NULL OR position > $3) \
         ORDER BY position LIMIT $4",
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
/// `nodes_by_id` (node ids in the "C" collation, so that the order is bytewise, as on SQLite): a page reads at most
/// the page's rows, but for a filter of other phases, which reads past the nodes in other phases.
pub(super) async fn list_descendants<'e>(
    executor: impl PgExecutor<'e>,
    execution_id: Uuid,
    below: &str,
    phases: &[NodePhase],
    page: &Page,
) -> StoreResult<Vec<NodeRow>> {
    let (after, before) = descendant_bounds(below, page)?;
    let (statement, phases) = match descendant_scan(phases) {
        DescendantScan::Unsuccessful(phases) => (
            "SELECT * FROM nodes WHERE execution_id = $1 AND unsuccessful AND phase = ANY($2) \
             AND node_id COLLATE \"C\" > $3 AND node_id COLLATE \"C\" < $4 ORDER BY node_id COLLATE \"C\" LIMIT $5",
            Some(phases),
        ),
        DescendantScan::ById(phases) => (
            "SELECT * FROM nodes WHERE execution_id = $1 AND ($2::text[] IS NULL OR phase = ANY($2)) \
             AND node_id COLLATE \"C\" > $3 AND node_id COLLATE \"C\" < $4 ORDER BY node_id COLLATE \"C\" LIMIT $5",
            phases,
        ),
    };
    let raws: Vec<RawNode> = sqlx::query_as(statement)
        .bind(execution_id)
        .bind(phases)
        .bind(after)
        .bind(before)
        .bind(page_limit(page))
        .fetch_all(executor)
        .await?;
    decode_all(raws)
}

/// Locks are taken in key order, so two transactions locking overlapping sets cannot deadlock.
pub(super) async fn lock_nodes(
    conn: &mut PgConnection,
    execution_id: Uuid,
    node_ids: &[String],
) -> StoreResult<Vec<NodeRow>> {
    let raws: Vec<RawNode> =
        sqlx::query_as("SELECT * FROM nodes WHERE execution_id = $1 AND node_id = ANY($2) ORDER BY node_id FOR UPDATE")
            .bind(execution_id)
            .bind(node_ids)
            .fetch_all(conn)
            .await?;
    decode_all(raws)
}

pub(super) async fn lock_children(
    conn: &mut PgConnection,
    execution_id: Uuid,
    parent_id: &str,
    local_ids: &[String],
) -> StoreResult<Vec<NodeRow>> {
    let raws: Vec<RawNode> = sqlx::query_as(
        "SELECT * FROM nodes WHERE execution_id = $1 AND parent_id = $2 AND local_id = ANY($3) \
         ORDER BY node_id FOR UPDATE",
    )
    .bind(execution_id)
    .bind(parent_id)
    .bind(local_ids)
    .fetch_all(conn)
    .await?;
    decode_all(raws)
}

pub(super) async fn child_outputs(
    conn: &mut PgConnection,
    execution_id: Uuid,
    parent_id: &str,
) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
    let outputs = sqlx::query_as(
        "SELECT node_id, outputs FROM nodes WHERE execution_id = $1 AND parent_id = $2 ORDER BY position",
    )
    .bind(execution_id)
    .bind(parent_id)
    .fetch_all(conn)
    .await?;
    Ok(outputs)
}

pub(super) async fn first_child_error(
    conn: &mut PgConnection,
    execution_id: Uuid,
    parent_id: &str,
) -> StoreResult<Option<Vec<u8>>> {
    let error: Option<(Vec<u8>,)> = sqlx::query_as(
        "SELECT error FROM nodes WHERE execution_id = $1 AND parent_id = $2 AND unsuccessful \
         AND error IS NOT NULL ORDER BY finished_at, position LIMIT 1",
    )
    .bind(execution_id)
    .bind(parent_id)
    .fetch_optional(conn)
    .await?;
    Ok(error.map(|(error,)| error))
}

/// One statement: the attempts' update runs as a data-modifying CTE beside the nodes' update. `starts_with`
/// rather than `LIKE`, so `_` and `%` in node ids are plain characters.
const ABORT_DESCENDANTS: &str = concat!(
    "WITH aborted_attempts AS (UPDATE attempts SET phase = 'aborted', finished_at = $3 \
     WHERE execution_id = $1 AND ($2::text IS NULL OR starts_with(node_id, $2 || '/')) \
     AND phase IN ('queued', 'running') RETURNING 1), \
     aborted_nodes AS (UPDATE nodes SET phase = 'aborted', finished_at = $3, updated_at = $3 \
     WHERE execution_id = $1 AND ($2::text IS NULL OR starts_with(node_id, $2 || '/')) AND phase NOT IN ",
    terminal_node_phases_sql!(),
    " RETURNING 1) SELECT count(*) FROM aborted_nodes"
);

pub(super) async fn abort_descendants(
    conn: &mut PgConnection,
    execution_id: Uuid,
    node_id: Option<&str>,
    now: i64,
) -> StoreResult<u64> {
    let aborted: i64 = sqlx::query_scalar(ABORT_DESCENDANTS)
        .bind(execution_id)
        .bind(node_id)
        .bind(now)
        .fetch_one(conn)
        .await?;
    Ok(u64::try_from(aborted).unwrap_or_default())
}

pub(super) async fn running_child_executions(
    conn: &mut PgConnection,
    execution_id: Uuid,
    node_id: Option<&str>,
) -> StoreResult<Vec<Uuid>> {
    let ids = sqlx::query_scalar(concat!(
        "SELECT child_execution_id FROM nodes WHERE execution_id = $1 \
         AND ($2::text IS NULL OR starts_with(node_id, $2 || '/')) \
         AND child_execution_id IS NOT NULL AND phase NOT IN ",
        terminal_node_phases_sql!()
    ))
    .bind(execution_id)
    .bind(node_id)
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

pub(super) async fn abort_node_attempts(
    conn: &mut PgConnection,
    execution_id: Uuid,
    node_ids: &[String],
    now: i64,
) -> StoreResult<u64> {
    let aborted = sqlx::query(
        "UPDATE attempts SET phase = 'aborted', finished_at = $3 \
         WHERE execution_id = $1 AND node_id = ANY($2) AND phase IN ('queued', 'running')",
    )
    .bind(execution_id)
    .bind(node_ids)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(aborted.rows_affected())
}
