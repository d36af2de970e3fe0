//! Executions.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::codec::{RawExecution, decode_all, execution_conflict, page_after_execution, page_limit};
use crate::rows::{ExecutionFilter, ExecutionRow, Page};
use crate::{StoreError, StoreResult};

pub(super) async fn insert_execution(conn: &mut PgConnection, row: &ExecutionRow) -> StoreResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO executions (id, project, domain, name, target_kind, target, workflow, phase, inputs, outputs, \
         error, max_parallelism, overwrite_cache, parent_execution_id, parent_node_id, nodes_total, nodes_succeeded, \
         nodes_failed, nodes_skipped, created_at, updated_at, started_at, finished_at, origin, source_execution_id, \
         timeout_ms, deadline) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
         $23, $24, $25, $26, $27) ON CONFLICT DO NOTHING",
    )
    .bind(row.id)
    .bind(&row.project)
    .bind(&row.domain)
    .bind(&row.name)
    .bind(&row.target_kind)
    .bind(&row.target)
    .bind(&row.workflow)
    .bind(row.phase.as_str())
    .bind(&row.inputs)
    .bind(&row.outputs)
    .bind(&row.error)
    .bind(row.max_parallelism)
    .bind(row.overwrite_cache)
    .bind(row.parent_execution_id)
    .bind(&row.parent_node_id)
    .bind(row.nodes_total)
    .bind(row.nodes_succeeded)
    .bind(row.nodes_failed)
    .bind(row.nodes_skipped)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(row.started_at)
    .bind(row.finished_at)
    .bind(&row.origin)
    .bind(row.source_execution_id)
    .bind(row.timeout_ms)
    .bind(row.deadline)
    .execute(conn)
    .await?
    .rows_affected();
    // ON CONFLICT DO NOTHING rather than a unique violation: the transaction stays usable for the caller.
    if inserted == 0 {
        return Err(StoreError::Conflict(execution_conflict(row)));
    }
    Ok(())
}

/// Non-terminal executions whose deadline passed at `now`, up to `limit`, skipping locked rows (the caller locks
/// each again with [`get_execution`]).
pub(super) async fn overdue_executions(conn: &mut PgConnection, now: i64, limit: u32) -> StoreResult<Vec<Uuid>> {
    let ids = sqlx::query_scalar(
        "SELECT id FROM executions WHERE phase NOT IN ('succeeded', 'failed', 'aborted', 'timed_out') \
         AND deadline <= $1 ORDER BY deadline, id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

/// One execution by id; `for_update` takes its row lock.
pub(super) async fn get_execution<'e>(
    executor: impl PgExecutor<'e>,
    id: Uuid,
    for_update: bool,
) -> StoreResult<Option<ExecutionRow>> {
    let sql = if for_update {
        "SELECT * FROM executions WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT * FROM executions WHERE id = $1"
    };
    let raw: Option<RawExecution> = sqlx::query_as(sql).bind(id).fetch_optional(executor).await?;
    raw.map(ExecutionRow::try_from).transpose()
}

pub(super) async fn find_execution<'e>(
    executor: impl PgExecutor<'e>,
    project: &str,
    domain: &str,
    name: &str,
) -> StoreResult<Option<ExecutionRow>> {
    let raw: Option<RawExecution> =
        sqlx::query_as("SELECT * FROM executions WHERE project = $1 AND domain = $2 AND name = $3")
            .bind(project)
            .bind(domain)
            .bind(name)
            .fetch_optional(executor)
            .await?;
    raw.map(ExecutionRow::try_from).transpose()
}

pub(super) async fn update_execution(conn: &mut PgConnection, row: &ExecutionRow) -> StoreResult<()> {
    sqlx::query(
        "UPDATE executions SET phase = $2, outputs = $3, error = $4, max_parallelism = $5, overwrite_cache = $6, \
         nodes_total = $7, nodes_succeeded = $8, nodes_failed = $9, nodes_skipped = $10, updated_at = $11, \
         started_at = $12, finished_at = $13 WHERE id = $1",
    )
    .bind(row.id)
    .bind(row.phase.as_str())
    .bind(&row.outputs)
    .bind(&row.error)
    .bind(row.max_parallelism)
    .bind(row.overwrite_cache)
    .bind(row.nodes_total)
    .bind(row.nodes_succeeded)
    .bind(row.nodes_failed)
    .bind(row.nodes_skipped)
    .bind(row.updated_at)
    .bind(row.started_at)
    .bind(row.finished_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn list_executions<'e>(
    executor: impl PgExecutor<'e>,
    filter: &ExecutionFilter,
    page: &Page,
) -> StoreResult<Vec<ExecutionRow>> {
    let phases: Vec<&str> = filter.phases.iter().map(|phase| phase.as_str()).collect();
    let raws: Vec<RawExecution> = sqlx::query_as(
        "SELECT * FROM executions WHERE ($1::text IS NULL OR project = $1) AND ($2::text IS NULL OR domain = $2) \
         AND (cardinality($3::text[]) = 0 OR phase = ANY($3)) AND ($4::uuid IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5",
    )
    .bind(&filter.project)
    .bind(&filter.domain)
    .bind(&phases)
    .bind(page_after_execution(page)?)
    .bind(page_limit(page))
    .fetch_all(executor)
    .await?;
    decode_all(raws)
}
