//! The task cache: entries, serialising reservations and the nodes waiting on them.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreResult;
use crate::rows::CacheEntryRow;

type RawEntry = (String, Vec<u8>, String, Uuid, String, i64);

pub(super) async fn get_cache_entry(conn: &mut PgConnection, key: &str) -> StoreResult<Option<CacheEntryRow>> {
    let raw: Option<RawEntry> = sqlx::query_as(
        "SELECT key, outputs, task, execution_id, node_id, created_at FROM cache_entries WHERE key = $1",
    )
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(raw.map(
        |(key, outputs, task, execution_id, node_id, created_at)| CacheEntryRow {
            key,
            outputs,
            task,
            execution_id,
            node_id,
            created_at,
        },
    ))
}

pub(super) async fn put_cache_entry(conn: &mut PgConnection, row: &CacheEntryRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO cache_entries (key, outputs, task, execution_id, node_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO UPDATE SET outputs = excluded.outputs, \
         task = excluded.task, execution_id = excluded.execution_id, node_id = excluded.node_id, \
         created_at = excluded.created_at",
    )
    .bind(&row.key)
    .bind(&row.outputs)
    .bind(&row.task)
    .bind(row.execution_id)
    .bind(&row.node_id)
    .bind(row.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn reserve_cache(
    conn: &mut PgConnection,
    key: &str,
    holder: (Uuid, &str),
    now: i64,
    expires_at: i64,
) -> StoreResult<Option<(Uuid, String)>> {
    let acquired: Option<i32> = sqlx::query_scalar(
        "INSERT INTO cache_reservations (key, execution_id, node_id, expires_at) VALUES ($1, $2, $3, $5) \
         ON CONFLICT (key) DO UPDATE SET execution_id = excluded.execution_id, node_id = excluded.node_id, \
         expires_at = excluded.expires_at WHERE cache_reservations.expires_at <= $4 \
         OR (cache_reservations.execution_id = excluded.execution_id AND cache_reservations.node_id = excluded.node_id) \
         RETURNING 1",
    )
    .bind(key)
    .bind(holder.0)
    .bind(holder.1)
    .bind(now)
    .bind(expires_at)
    .fetch_optional(&mut *conn)
    .await?;
    if acquired.is_some() {
        return Ok(None);
    }
    let current = sqlx::query_as("SELECT execution_id, node_id FROM cache_reservations WHERE key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await?;
    Ok(current)
}

pub(super) async fn add_cache_waiter(
    conn: &mut PgConnection,
    key: &str,
    waiter: (Uuid, &str),
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO cache_waiters (key, execution_id, node_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(key)
    .bind(waiter.0)
    .bind(waiter.1)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn release_cache(
    conn: &mut PgConnection,
    key: &str,
    holder: (Uuid, &str),
) -> StoreResult<Vec<(Uuid, String)>> {
    sqlx::query("DELETE FROM cache_reservations WHERE key = $1 AND execution_id = $2 AND node_id = $3")
        .bind(key)
        .bind(holder.0)
        .bind(holder.1)
        .execute(&mut *conn)
        .await?;
    let mut waiters: Vec<(Uuid, String, i64)> =
        sqlx::query_as("DELETE FROM cache_waiters WHERE key = $1 RETURNING execution_id, node_id, created_at")
            .bind(key)
            .fetch_all(conn)
            .await?;
    waiters.sort_by_key(|(_, _, created_at)| *created_at);
    Ok(waiters
        .into_iter()
        .map(|(execution_id, node_id, _)| (execution_id, node_id))
        .collect())
}

pub(super) async fn extend_cache_reservations(
    conn: &mut PgConnection,
    holders: &[(Uuid, String)],
    expires_at: i64,
) -> StoreResult<u64> {
    let (executions, nodes): (Vec<Uuid>, Vec<String>) = holders.iter().cloned().unzip();
    let done = sqlx::query("UPDATE cache_reservations AS r SET expires_at = $3 FROM UNNEST($1::uuid[], $2::text[]) AS h(e, n) WHERE r.execution_id = h.e AND r.node_id = h.n")
        .bind(executions)
        .bind(nodes)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn reservations_below(
    conn: &mut PgConnection,
    execution_id: Uuid,
    node_id: Option<&str>,
) -> StoreResult<Vec<(String, String)>> {
    let held = sqlx::query_as(
        "SELECT key, node_id FROM cache_reservations WHERE execution_id = $1 AND ($2::text IS NULL OR starts_with(node_id, $2 || '/'))",
    )
    .bind(execution_id)
    .bind(node_id)
    .fetch_all(conn)
    .await?;
    Ok(held)
}
