//! Attempts (claims, leases) and accepted dynamic specs.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqliteExecutor};
use uuid::Uuid;

use super::nodes::SQLITE_BATCH_ROWS;
use super::{json_strings, json_uuids};
use crate::StoreResult;
use crate::codec::{Claim, RawAttempt, RawSpec, attempts_conflict, decode_all, spec_conflict};
use crate::error::conflict_or;
use crate::rows::{AttemptRow, SpecRow};

pub(super) async fn insert_attempts(conn: &mut SqliteConnection, rows: &[AttemptRow]) -> StoreResult<()> {
    for chunk in rows.chunks(SQLITE_BATCH_ROWS) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO attempts (id, execution_id, node_id, attempt, queue, task, phase, worker_id, not_before, \
             lease_expires_at, error, created_at, started_at, finished_at, timeout_ms, deadline, queue_timeout_ms) ",
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
                .push_bind(row.queue_timeout_ms);
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

/// The transaction holds SQLite's write lock (`BEGIN IMMEDIATE`), so selecting and updating in one statement is
/// exactly what `SKIP LOCKED` achieves on Postgres: no other writer can claim the same rows.
pub(super) async fn claim_attempts(conn: &mut SqliteConnection, claim: &Claim<'_>) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> = sqlx::query_as(
        "UPDATE attempts SET phase = 'running', worker_id = ?4, started_at = ?3, lease_expires_at = ?5, \
         deadline = ?3 + timeout_ms \
         WHERE id IN (SELECT id FROM attempts WHERE phase = 'queued' \
         AND queue IN (SELECT value FROM json_each(?1)) AND not_before <= ?3 \
         AND (deadline IS NULL OR deadline > ?3) ORDER BY id LIMIT ?2) RETURNING *",
    )
    .bind(json_strings(claim.queues.iter().map(String::as_str)))
    .bind(i64::from(claim.limit))
    .bind(claim.now)
    .bind(claim.worker_id)
    .bind(claim.now.saturating_add(claim.lease_ms))
    .fetch_all(conn)
    .await?;
    let mut claimed: Vec<AttemptRow> = decode_all(raws)?;
    // RETURNING has no order; callers get the oldest first.
    claimed.sort_unstable_by_key(|attempt| attempt.id);
    Ok(claimed)
}

pub(super) async fn lock_attempts(conn: &mut SqliteConnection, ids: &[Uuid]) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> =
        sqlx::query_as("SELECT * FROM attempts WHERE id IN (SELECT unhex(value) FROM json_each(?1)) ORDER BY id")
            .bind(json_uuids(ids))
            .fetch_all(conn)
            .await?;
    decode_all(raws)
}

/// See [`crate::Tx::renew_leases`].
pub(super) async fn renew_leases(
    conn: &mut SqliteConnection,
    lease_until: i64,
    reservation_until: i64,
) -> StoreResult<u64> {
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

pub(super) async fn expired_attempts(
    conn: &mut SqliteConnection,
    now: i64,
    limit: u32,
) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> = sqlx::query_as(
        "SELECT * FROM attempts WHERE phase = 'running' AND lease_expires_at <= ?1 \
         ORDER BY lease_expires_at, id LIMIT ?2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    decode_all(raws)
}

/// Queued or running attempts whose deadline passed at `now`, up to `limit`.
pub(super) async fn overdue_attempts(
    conn: &mut SqliteConnection,
    now: i64,
    limit: u32,
) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> = sqlx::query_as(
        "SELECT * FROM attempts WHERE phase IN ('queued', 'running') AND deadline <= ?1 \
         ORDER BY deadline, id LIMIT ?2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    decode_all(raws)
}

pub(super) async fn list_attempts<'e>(
    executor: impl SqliteExecutor<'e>,
    execution_id: Uuid,
    node_id: &str,
) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> =
        sqlx::query_as("SELECT * FROM attempts WHERE execution_id = ?1 AND node_id = ?2 ORDER BY attempt")
            .bind(execution_id)
            .bind(node_id)
            .fetch_all(executor)
            .await?;
    decode_all(raws)
}

pub(super) async fn next_lease_expiry<'e>(executor: impl SqliteExecutor<'e>) -> StoreResult<Option<i64>> {
    let next = sqlx::query_scalar("SELECT min(lease_expires_at) FROM attempts WHERE phase = 'running'")
        .fetch_one(executor)
        .await?;
    Ok(next)
}

/// The earliest deadline of a queued or running attempt or of a non-terminal execution.
pub(super) async fn next_deadline<'e>(executor: impl SqliteExecutor<'e>) -> StoreResult<Option<i64>> {
    let next = sqlx::query_scalar(
        "SELECT min(d) FROM (SELECT min(deadline) AS d FROM attempts WHERE phase IN ('queued', 'running') \
         UNION ALL SELECT min(deadline) FROM executions \
         WHERE phase NOT IN ('succeeded', 'failed', 'aborted', 'timed_out'))",
    )
    .fetch_one(executor)
    .await?;
    Ok(next)
}

pub(super) async fn next_not_before<'e>(executor: impl SqliteExecutor<'e>, now: i64) -> StoreResult<Option<i64>> {
    let next = sqlx::query_scalar(
        "SELECT min(not_before) FROM attempts WHERE phase = 'queued' AND not_before > ?1 \
         AND not_before < 9223372036854775807",
    )
    .bind(now)
    .fetch_one(executor)
    .await?;
    Ok(next)
}

pub(super) async fn ready_queues<'e>(
    executor: impl SqliteExecutor<'e>,
    after: i64,
    now: i64,
) -> StoreResult<Vec<String>> {
    let queues = sqlx::query_scalar(
        "SELECT DISTINCT queue FROM attempts WHERE phase = 'queued' AND not_before > ?1 AND not_before <= ?2 \
         ORDER BY queue",
    )
    .bind(after)
    .bind(now)
    .fetch_all(executor)
    .await?;
    Ok(queues)
}

pub(super) async fn insert_spec(conn: &mut SqliteConnection, row: &SpecRow) -> StoreResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO specs (execution_id, node_id, attempt, spec, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(row.execution_id)
    .bind(&row.node_id)
    .bind(row.attempt)
    .bind(row.spec.as_ref())
    .bind(row.created_at)
    .execute(conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(spec_conflict(row));
    }
    Ok(())
}

pub(super) async fn get_spec<'e>(
    executor: impl SqliteExecutor<'e>,
    execution_id: Uuid,
    node_id: &str,
    attempt: i32,
) -> StoreResult<Option<SpecRow>> {
    let raw: Option<RawSpec> =
        sqlx::query_as("SELECT * FROM specs WHERE execution_id = ?1 AND node_id = ?2 AND attempt = ?3")
            .bind(execution_id)
            .bind(node_id)
            .bind(attempt)
            .fetch_optional(executor)
            .await?;
    Ok(raw.map(SpecRow::from))
}

/// Parked attempts are never claimable; the constant is written out so the partial indexes' predicates match.
const PARKED_SQL: &str = "9223372036854775807";

pub(super) async fn count_active_attempts(conn: &mut SqliteConnection, execution_id: Uuid) -> StoreResult<u64> {
    let sql = format!(
        "SELECT count(*) FROM attempts WHERE execution_id = ?1 AND phase IN ('queued', 'running') \
         AND not_before < {PARKED_SQL}"
    );
    let count: i64 = sqlx::query_scalar(&sql).bind(execution_id).fetch_one(conn).await?;
    Ok(u64::try_from(count).unwrap_or_default())
}

pub(super) async fn unpark_attempts(
    conn: &mut SqliteConnection,
    execution_id: Uuid,
    limit: u64,
    now: i64,
) -> StoreResult<Vec<String>> {
    let sql = format!(
        "UPDATE attempts SET not_before = ?3, deadline = ?3 + queue_timeout_ms WHERE id IN (SELECT id FROM attempts \
         WHERE execution_id = ?1 AND phase = 'queued' AND not_before = {PARKED_SQL} \
         ORDER BY id LIMIT ?2) RETURNING queue"
    );
    let queues = sqlx::query_scalar(&sql)
        .bind(execution_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(now)
        .fetch_all(conn)
        .await?;
    Ok(queues)
}
