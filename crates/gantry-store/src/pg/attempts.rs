//! Attempts (claims, leases) and accepted dynamic specs.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::StoreResult;
use crate::codec::{Claim, POSTGRES_BATCH_ROWS, RawAttempt, RawSpec, attempts_conflict, decode_all, spec_conflict};
use crate::error::conflict_or;
use crate::rows::{AttemptRow, SpecRow};

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
             lease_expires_at, error, created_at, started_at, finished_at, timeout_ms, deadline, queue_timeout_ms) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int4[], $5::text[], $6::text[], \
             $7::text[], $8::text[], $9::int8[], $10::int8[], $11::bytea[], $12::int8[], $13::int8[], $14::int8[], \
             $15::int8[], $16::int8[], $17::int8[])",
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

/// One statement over all the poll's queues, oldest first across them, in two steps:
///
/// 1. `candidates`: per queue, its oldest claimable ids along the `(queue, id)` index (a LATERAL join over the
///    queue array), then the oldest `limit` of those together. Neither `queue = ANY($1) ORDER BY id` nor a UNION
///    of the queues serves this: the planner then walks the primary key past every finished attempt, or sorts every
///    queued attempt of the queues (EXPLAIN ANALYZE in docs/ARCHITECTURE.md).
/// 2. `picked`: per queue, as many as it has among the candidates, taken again with `FOR UPDATE SKIP LOCKED`, so
///    that an attempt another replica is claiming at this instant is passed over for the next one of its queue
///    rather than costing this poll its share.
///
/// `picked` is `MATERIALIZED` (a locking query always is, this says so) so each row is locked and claimed by
/// exactly one transaction, and the update looks its rows up by id, whatever the planner guesses of their number.
pub(super) async fn claim_attempts(conn: &mut PgConnection, claim: &Claim<'_>) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> = sqlx::query_as(
        "WITH candidates AS (SELECT c.queue, c.id FROM unnest($1::text[]) AS q(queue) CROSS JOIN LATERAL \
         (SELECT queue, id FROM attempts WHERE phase = 'queued' AND queue = q.queue AND not_before <= $3 \
         AND (deadline IS NULL OR deadline > $3) ORDER BY id LIMIT $2) AS c ORDER BY c.id LIMIT $2), \
         shares AS (SELECT queue, count(*) AS share FROM candidates GROUP BY queue), \
         picked AS MATERIALIZED (SELECT p.id FROM shares CROSS JOIN LATERAL \
         (SELECT id FROM attempts WHERE phase = 'queued' AND queue = shares.queue AND not_before <= $3 \
         AND (deadline IS NULL OR deadline > $3) ORDER BY id LIMIT shares.share FOR UPDATE SKIP LOCKED) AS p) \
         UPDATE attempts AS a SET phase = 'running', worker_id = $4, started_at = $3, lease_expires_at = $5, \
         deadline = $3 + a.timeout_ms \
         WHERE a.id = ANY(ARRAY(SELECT id FROM picked)) RETURNING a.*",
    )
    .bind(claim.queues)
    .bind(i64::from(claim.limit))
    .bind(claim.now)
    .bind(claim.worker_id)
    .bind(claim.now.saturating_add(claim.lease_ms))
    .fetch_all(&mut *conn)
    .await?;
    let mut claimed: Vec<AttemptRow> = decode_all(raws)?;
    // RETURNING has no order; callers get the oldest first.
    claimed.sort_unstable_by_key(|attempt| attempt.id);
    Ok(claimed)
}

pub(super) async fn lock_attempts(conn: &mut PgConnection, ids: &[Uuid]) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> = sqlx::query_as("SELECT * FROM attempts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(ids)
        .fetch_all(conn)
        .await?;
    decode_all(raws)
}

pub(super) async fn expired_attempts(conn: &mut PgConnection, now: i64, limit: u32) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> = sqlx::query_as(
        "SELECT * FROM attempts WHERE phase = 'running' AND lease_expires_at <= $1 \
         ORDER BY lease_expires_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    decode_all(raws)
}

/// See [`crate::Tx::renew_leases`]. Rows are locked in id order (attempts) and key order (reservations), attempts
/// first, as the writer's batches lock them, so that renewals of several replicas and their batches cannot deadlock.
pub(super) async fn renew_leases(
    conn: &mut PgConnection,
    lease_until: i64,
    reservation_until: i64,
) -> StoreResult<u64> {
    let renewed = sqlx::query(
        "UPDATE attempts SET lease_expires_at = $1 WHERE id IN (SELECT id FROM attempts \
         WHERE phase = 'running' AND lease_expires_at < $1 ORDER BY id FOR UPDATE)",
    )
    .bind(lease_until)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE cache_reservations SET expires_at = $1 WHERE key IN (SELECT r.key FROM cache_reservations AS r \
         WHERE r.expires_at < $1 AND EXISTS (SELECT 1 FROM attempts AS a WHERE a.execution_id = r.execution_id \
         AND a.node_id = r.node_id AND a.phase = 'running') ORDER BY r.key FOR UPDATE OF r)",
    )
    .bind(reservation_until)
    .execute(&mut *conn)
    .await?;
    Ok(renewed)
}

/// Queued or running attempts whose deadline passed at `now`, up to `limit`, skipping locked rows.
pub(super) async fn overdue_attempts(conn: &mut PgConnection, now: i64, limit: u32) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> = sqlx::query_as(
        "SELECT * FROM attempts WHERE phase IN ('queued', 'running') AND deadline <= $1 \
         ORDER BY deadline, id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    decode_all(raws)
}

pub(super) async fn list_attempts<'e>(
    executor: impl PgExecutor<'e>,
    execution_id: Uuid,
    node_id: &str,
) -> StoreResult<Vec<AttemptRow>> {
    let raws: Vec<RawAttempt> =
        sqlx::query_as("SELECT * FROM attempts WHERE execution_id = $1 AND node_id = $2 ORDER BY attempt")
            .bind(execution_id)
            .bind(node_id)
            .fetch_all(executor)
            .await?;
    decode_all(raws)
}

pub(super) async fn next_lease_expiry<'e>(executor: impl PgExecutor<'e>) -> StoreResult<Option<i64>> {
    let next = sqlx::query_scalar("SELECT min(lease_expires_at) FROM attempts WHERE phase = 'running'")
        .fetch_one(executor)
        .await?;
    Ok(next)
}

/// The earliest deadline of a queued or running attempt or of a non-terminal execution.
pub(super) async fn next_deadline<'e>(executor: impl PgExecutor<'e>) -> StoreResult<Option<i64>> {
    let next = sqlx::query_scalar(
        "SELECT least((SELECT min(deadline) FROM attempts WHERE phase IN ('queued', 'running')), \
         (SELECT min(deadline) FROM executions WHERE phase NOT IN ('succeeded', 'failed', 'aborted', 'timed_out')))",
    )
    .fetch_one(executor)
    .await?;
    Ok(next)
}

pub(super) async fn next_not_before<'e>(executor: impl PgExecutor<'e>, now: i64) -> StoreResult<Option<i64>> {
    let next = sqlx::query_scalar(
        "SELECT min(not_before) FROM attempts WHERE phase = 'queued' AND not_before > $1 \
         AND not_before < 9223372036854775807",
    )
    .bind(now)
    .fetch_one(executor)
    .await?;
    Ok(next)
}

pub(super) async fn ready_queues<'e>(executor: impl PgExecutor<'e>, after: i64, now: i64) -> StoreResult<Vec<String>> {
    let queues = sqlx::query_scalar(
        "SELECT DISTINCT queue FROM attempts WHERE phase = 'queued' AND not_before > $1 AND not_before <= $2 \
         ORDER BY queue",
    )
    .bind(after)
    .bind(now)
    .fetch_all(executor)
    .await?;
    Ok(queues)
}

pub(super) async fn insert_spec(conn: &mut PgConnection, row: &SpecRow) -> StoreResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO specs (execution_id, node_id, attempt, spec, created_at) VALUES ($1, $2, $3, $4, $5) \
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
    executor: impl PgExecutor<'e>,
    execution_id: Uuid,
    node_id: &str,
    attempt: i32,
) -> StoreResult<Option<SpecRow>> {
    let raw: Option<RawSpec> =
        sqlx::query_as("SELECT * FROM specs WHERE execution_id = $1 AND node_id = $2 AND attempt = $3")
            .bind(execution_id)
            .bind(node_id)
            .bind(attempt)
            .fetch_optional(executor)
            .await?;
    Ok(raw.map(SpecRow::from))
}

/// Parked attempts are never claimable; the constant is written out so the partial indexes' predicates match.
const PARKED_SQL: &str = "9223372036854775807";

pub(super) async fn count_active_attempts(conn: &mut PgConnection, execution_id: Uuid) -> StoreResult<u64> {
    let sql = format!(
        "SELECT count(*) FROM attempts WHERE execution_id = $1 AND phase IN ('queued', 'running') \
         AND not_before < {PARKED_SQL}"
    );
    let count: i64 = sqlx::query_scalar(&sql).bind(execution_id).fetch_one(conn).await?;
    Ok(u64::try_from(count).unwrap_or_default())
}

pub(super) async fn unpark_attempts(
    conn: &mut PgConnection,
    execution_id: Uuid,
    limit: u64,
    now: i64,
) -> StoreResult<Vec<String>> {
    let sql = format!(
        "UPDATE attempts SET not_before = $3, deadline = $3 + queue_timeout_ms WHERE id IN (SELECT id FROM attempts \
         WHERE execution_id = $1 AND phase = 'queued' AND not_before = {PARKED_SQL} \
         ORDER BY id LIMIT $2 FOR UPDATE) RETURNING queue"
    );
    let queues = sqlx::query_scalar(&sql)
        .bind(execution_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(now)
        .fetch_all(conn)
        .await?;
    Ok(queues)
}
