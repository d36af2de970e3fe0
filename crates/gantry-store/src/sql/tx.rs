//! [`Tx`] for [`SqlTx`]: the statements both databases read alike, and the dialect's for the rest.

use async_trait::async_trait;
use gantry_core::state::ExecutionPhase;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

use super::{Dialect, SqlTx, parked_sql, read_execution, read_resource, read_spec};
use super::{RawSchedule, RawSignal, SCHEDULE_COLUMNS, schedule_row, signal_row};
use crate::codec::{
    Claim, RawAttempt, RawExecution, RawNode, RawResource, RawSpec, decode_all, execution_conflict, resource_conflict,
    resource_table, spec_conflict,
};
use crate::rows::{
    AttemptRow, AuditRow, CacheEntryRow, ExecutionRow, GateRow, NodeRow, ResourceKey, ResourceKind, ResourceRow,
    ScheduleRow, SignalRow, SpecRow, StartedNode,
};
use crate::{PutOutcome, StoreError, StoreResult, Tx};

type RawEntry = (String, Vec<u8>, String, Uuid, String, i64);

/// Rows of one multi-row insert of hydrations: two parameters each, within both databases' limits on parameters.
const HYDRATIONS_PER_STATEMENT: usize = 500;

#[async_trait]
impl<D, DB> Tx for SqlTx<D>
where
    D: Dialect<Database = DB>,
    DB: Database,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Uuid>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<Vec<u8>>: Encode<'q, DB> + Decode<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<i32>: Encode<'q, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'r> RawExecution: sqlx::FromRow<'r, DB::Row>,
    for<'r> RawAttempt: sqlx::FromRow<'r, DB::Row>,
    for<'r> RawNode: sqlx::FromRow<'r, DB::Row>,
    for<'r> RawResource: sqlx::FromRow<'r, DB::Row>,
    for<'r> RawSpec: sqlx::FromRow<'r, DB::Row>,
{
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.tx.rollback().await?;
        Ok(())
    }

    async fn announce_queues(&mut self, queues: &[String]) -> StoreResult<()> {
        D::announce_queues(&mut self.tx, queues).await
    }

    async fn announce_executions(&mut self, origin: Uuid, changes: &[(Uuid, ExecutionPhase)]) -> StoreResult<()> {
        D::announce_executions(&mut self.tx, origin, changes).await
    }

    async fn put_resource(&mut self, kind: ResourceKind, row: &ResourceRow) -> StoreResult<PutOutcome> {
        let table = resource_table(kind);
        let key = &row.key;
        // ON CONFLICT DO NOTHING keeps the transaction usable when the key exists (a unique violation would abort it
        // on Postgres).
        let inserted = sqlx::query(&format!(
            "INSERT INTO {table} (project, domain, name, version, template, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
        ))
        .bind(&key.project)
        .bind(&key.domain)
        .bind(&key.name)
        .bind(&key.version)
        .bind(&row.template)
        .bind(row.created_at)
        .execute(&mut *self.tx)
        .await?;
        let inserted = D::rows_affected(&inserted);
        if inserted == 1 {
            return Ok(PutOutcome::Created);
        }
        let existing: Option<Vec<u8>> = sqlx::query_scalar(&format!(
            "SELECT template FROM {table} WHERE project = $1 AND domain = $2 AND name = $3 AND version = $4"
        ))
        .bind(&key.project)
        .bind(&key.domain)
        .bind(&key.name)
        .bind(&key.version)
        .fetch_optional(&mut *self.tx)
        .await?;
        match existing {
            Some(template) if template == row.template => Ok(PutOutcome::Unchanged),
            _ => Err(resource_conflict(kind, key)),
        }
    }

    async fn get_resource(&mut self, kind: ResourceKind, key: &ResourceKey) -> StoreResult<Option<ResourceRow>> {
        read_resource::<DB>(&mut self.tx, kind, key).await
    }

    async fn insert_execution(&mut self, row: &ExecutionRow) -> StoreResult<()> {
        let inserted = sqlx::query(
            "INSERT INTO executions (id, project, domain, name, target_kind, target, workflow, phase, inputs, \
             outputs, error, max_parallelism, overwrite_cache, parent_execution_id, parent_node_id, nodes_total, \
             nodes_succeeded, nodes_failed, nodes_skipped, created_at, updated_at, started_at, finished_at, origin, \
             source_execution_id, timeout_ms, deadline, trace_context) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
             $22, $23, $24, $25, $26, $27, $28) ON CONFLICT DO NOTHING",
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
        .bind(&row.trace_context)
        .execute(&mut *self.tx)
        .await?;
        let inserted = D::rows_affected(&inserted);
        // ON CONFLICT DO NOTHING rather than a unique violation: the transaction stays usable for the caller.
        if inserted == 0 {
            return Err(StoreError::Conflict(execution_conflict(row)));
        }
        Ok(())
    }

    async fn lock_execution(&mut self, id: Uuid) -> StoreResult<Option<ExecutionRow>> {
        read_execution::<DB>(&mut self.tx, id, D::FOR_UPDATE).await
    }

    async fn update_execution(&mut self, row: &ExecutionRow) -> StoreResult<()> {
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
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_nodes(&mut self, rows: &[NodeRow]) -> StoreResult<()> {
        D::insert_nodes(&mut self.tx, rows).await
    }

    /// Locks are taken in key order, so two transactions locking overlapping sets cannot deadlock.
    async fn lock_nodes(&mut self, execution_id: Uuid, node_ids: &[String]) -> StoreResult<Vec<NodeRow>> {
        D::lock_nodes(&mut self.tx, execution_id, node_ids).await
    }

    async fn start_nodes(
        &mut self,
        execution_id: Uuid,
        node_ids: &[String],
        now: i64,
    ) -> StoreResult<Vec<StartedNode>> {
        D::start_nodes(&mut self.tx, execution_id, node_ids, now).await
    }

    async fn child_outputs(
        &mut self,
        execution_id: Uuid,
        parent_id: &str,
    ) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
        let outputs = sqlx::query_as(
            "SELECT node_id, outputs FROM nodes WHERE execution_id = $1 AND parent_id = $2 ORDER BY position",
        )
        .bind(execution_id)
        .bind(parent_id)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(outputs)
    }

    async fn first_child_error(&mut self, execution_id: Uuid, parent_id: &str) -> StoreResult<Option<Vec<u8>>> {
        let sql = format!(
            "SELECT error FROM nodes WHERE execution_id = $1 AND parent_id = $2 AND {unsuccessful} \
             AND error IS NOT NULL ORDER BY finished_at, position LIMIT 1",
            unsuccessful = D::UNSUCCESSFUL,
        );
        let error: Option<(Vec<u8>,)> = sqlx::query_as(&sql)
            .bind(execution_id)
            .bind(parent_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(error.map(|(error,)| error))
    }

    async fn update_nodes(&mut self, rows: &[NodeRow]) -> StoreResult<()> {
        D::update_nodes(&mut self.tx, rows).await
    }

    async fn abort_descendants(&mut self, execution_id: Uuid, node_id: Option<&str>, now: i64) -> StoreResult<u64> {
        D::abort_descendants(&mut self.tx, execution_id, node_id, now).await
    }

    async fn running_child_executions(&mut self, execution_id: Uuid, node_id: Option<&str>) -> StoreResult<Vec<Uuid>> {
        D::running_child_executions(&mut self.tx, execution_id, node_id).await
    }

    async fn abort_node_attempts(&mut self, execution_id: Uuid, node_ids: &[String], now: i64) -> StoreResult<u64> {
        D::abort_node_attempts(&mut self.tx, execution_id, node_ids, now).await
    }

    async fn insert_attempts(&mut self, rows: &[AttemptRow]) -> StoreResult<()> {
        D::insert_attempts(&mut self.tx, rows).await
    }

    async fn claim_attempts(&mut self, claim: &Claim<'_>) -> StoreResult<Vec<AttemptRow>> {
        let mut claimed = D::claim_attempts(&mut self.tx, claim).await?;
        // RETURNING has no order; callers get the oldest first.
        claimed.sort_unstable_by_key(|attempt| attempt.id);
        Ok(claimed)
    }

    async fn lock_attempts(&mut self, ids: &[Uuid]) -> StoreResult<Vec<AttemptRow>> {
        D::lock_attempts(&mut self.tx, ids).await
    }

    async fn update_attempts(&mut self, rows: &[AttemptRow]) -> StoreResult<()> {
        D::update_attempts(&mut self.tx, rows).await
    }

    async fn count_active_attempts(&mut self, execution_id: Uuid) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(concat!(
            "SELECT count(*) FROM attempts WHERE execution_id = $1 AND phase IN ('queued', 'running') \
             AND not_before < ",
            parked_sql!()
        ))
        .bind(execution_id)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn unpark_attempts(&mut self, execution_id: Uuid, limit: u64, now: i64) -> StoreResult<Vec<String>> {
        let sql = format!(
            concat!(
                "UPDATE attempts SET not_before = $3, deadline = $3 + queue_timeout_ms WHERE id IN (SELECT id \
                 FROM attempts WHERE execution_id = $1 AND phase = 'queued' AND not_before = ",
                parked_sql!(),
                " ORDER BY id LIMIT $2{}) RETURNING queue"
            ),
            D::FOR_UPDATE
        );
        let queues = sqlx::query_scalar(&sql)
            .bind(execution_id)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(now)
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(queues)
    }

    async fn expired_attempts(&mut self, now: i64, limit: u32) -> StoreResult<Vec<AttemptRow>> {
        let sql = format!(
            "SELECT * FROM attempts WHERE phase = 'running' AND lease_expires_at <= $1 \
             ORDER BY lease_expires_at, id LIMIT $2{}",
            D::SKIP_LOCKED
        );
        let raws: Vec<RawAttempt> = sqlx::query_as(&sql)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        decode_all(raws)
    }

    async fn renew_leases(&mut self, lease_until: i64, reservation_until: i64) -> StoreResult<u64> {
        D::renew_leases(&mut self.tx, lease_until, reservation_until).await
    }

    async fn get_cache_entry(&mut self, key: &str) -> StoreResult<Option<CacheEntryRow>> {
        let raw: Option<RawEntry> = sqlx::query_as(
            "SELECT key, outputs, task, execution_id, node_id, created_at FROM cache_entries WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&mut *self.tx)
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

    async fn put_cache_entry(&mut self, row: &CacheEntryRow) -> StoreResult<()> {
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
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn reserve_cache(
        &mut self,
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
        .fetch_optional(&mut *self.tx)
        .await?;
        if acquired.is_some() {
            return Ok(None);
        }
        let current = sqlx::query_as("SELECT execution_id, node_id FROM cache_reservations WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(current)
    }

    async fn add_cache_waiter(&mut self, key: &str, waiter: (Uuid, &str), now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO cache_waiters (key, execution_id, node_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(key)
        .bind(waiter.0)
        .bind(waiter.1)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn release_cache(&mut self, key: &str, holder: (Uuid, &str)) -> StoreResult<Vec<(Uuid, String)>> {
        sqlx::query("DELETE FROM cache_reservations WHERE key = $1 AND execution_id = $2 AND node_id = $3")
            .bind(key)
            .bind(holder.0)
            .bind(holder.1)
            .execute(&mut *self.tx)
            .await?;
        let mut waiters: Vec<(Uuid, String, i64)> =
            sqlx::query_as("DELETE FROM cache_waiters WHERE key = $1 RETURNING execution_id, node_id, created_at")
                .bind(key)
                .fetch_all(&mut *self.tx)
                .await?;
        waiters.sort_by_key(|(_, _, created_at)| *created_at);
        Ok(waiters
            .into_iter()
            .map(|(execution_id, node_id, _)| (execution_id, node_id))
            .collect())
    }

    async fn extend_cache_reservations(&mut self, holders: &[(Uuid, String)], expires_at: i64) -> StoreResult<u64> {
        D::extend_cache_reservations(&mut self.tx, holders, expires_at).await
    }

    async fn reservations_below(
        &mut self,
        execution_id: Uuid,
        node_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>> {
        D::reservations_below(&mut self.tx, execution_id, node_id).await
    }

    async fn overdue_attempts(&mut self, now: i64, limit: u32) -> StoreResult<Vec<AttemptRow>> {
        let sql = format!(
            "SELECT * FROM attempts WHERE phase IN ('queued', 'running') AND deadline <= $1 \
             ORDER BY deadline, id LIMIT $2{}",
            D::SKIP_LOCKED
        );
        let raws: Vec<RawAttempt> = sqlx::query_as(&sql)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        decode_all(raws)
    }

    /// The caller locks each again with [`Tx::lock_execution`].
    async fn overdue_executions(&mut self, now: i64, limit: u32) -> StoreResult<Vec<Uuid>> {
        let sql = format!(
            "SELECT id FROM executions WHERE phase NOT IN ('succeeded', 'failed', 'aborted', 'timed_out') \
             AND deadline <= $1 ORDER BY deadline, id LIMIT $2{}",
            D::SKIP_LOCKED
        );
        let ids = sqlx::query_scalar(&sql)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(ids)
    }

    async fn insert_hydrations(&mut self, nodes: &[(Uuid, String)], since: i64) -> StoreResult<()> {
        for chunk in nodes.chunks(HYDRATIONS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, $1)", 2 * i + 2, 2 * i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO hydrations (execution_id, node_id, since) VALUES {} ON CONFLICT DO NOTHING",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(since);
            for (execution_id, node_id) in chunk {
                query = query.bind(*execution_id).bind(node_id.as_str());
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn hydration_waiting(&mut self, execution_id: Uuid, node_id: &str) -> StoreResult<bool> {
        let since: Option<i64> =
            sqlx::query_scalar("SELECT since FROM hydrations WHERE execution_id = $1 AND node_id = $2")
                .bind(execution_id)
                .bind(node_id)
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok(since.is_some())
    }

    async fn delete_hydrations(&mut self, nodes: &[(Uuid, String)]) -> StoreResult<()> {
        let mut by_execution: std::collections::BTreeMap<Uuid, Vec<String>> = std::collections::BTreeMap::new();
        for (execution_id, node_id) in nodes {
            by_execution.entry(*execution_id).or_default().push(node_id.clone());
        }
        let sql = format!(
            "DELETE FROM hydrations WHERE execution_id = $1 AND node_id {}",
            D::in_text_list("$2")
        );
        for (execution_id, node_ids) in by_execution {
            sqlx::query(&sql)
                .bind(execution_id)
                .bind(D::text_list(&node_ids))
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn insert_schedule(&mut self, row: &ScheduleRow) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO schedules ({SCHEDULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"
        );
        bind_schedule(sqlx::query(&sql), row).execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_schedule(&mut self, key: &ResourceKey) -> StoreResult<Option<ScheduleRow>> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE project = $1 AND domain = $2 AND name = $3 AND version = $4{}",
            D::FOR_UPDATE
        );
        let raw: Option<RawSchedule> = sqlx::query_as(&sql)
            .bind(&key.project)
            .bind(&key.domain)
            .bind(&key.name)
            .bind(&key.version)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(raw.map(schedule_row))
    }

    async fn update_schedule(&mut self, row: &ScheduleRow) -> StoreResult<()> {
        let sql = "UPDATE schedules SET active = $5, anchor = $6, next_tick = $7, last_tick = $8, changed_at = $9 \
                   WHERE project = $1 AND domain = $2 AND name = $3 AND version = $4";
        bind_schedule(sqlx::query(sql), row).execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn deactivate_other_versions(&mut self, key: &ResourceKey, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE schedules SET active = $5, next_tick = NULL, changed_at = $6 \
             WHERE project = $1 AND domain = $2 AND name = $3 AND version <> $4 AND active",
        )
        .bind(&key.project)
        .bind(&key.domain)
        .bind(&key.name)
        .bind(&key.version)
        .bind(false)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn due_schedules(&mut self, now: i64, limit: u32) -> StoreResult<Vec<ScheduleRow>> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE active AND next_tick <= $1 \
             ORDER BY next_tick, project, domain, name, version LIMIT $2{}",
            D::SKIP_LOCKED
        );
        let raws: Vec<RawSchedule> = sqlx::query_as(&sql)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(raws.into_iter().map(schedule_row).collect())
    }

    async fn arm_gate(&mut self, row: &GateRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO gates (execution_id, node_id, signal_id, deadline) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (execution_id, node_id) DO UPDATE SET signal_id = excluded.signal_id, \
             deadline = excluded.deadline",
        )
        .bind(row.execution_id)
        .bind(&row.node_id)
        .bind(row.signal_id.clone())
        .bind(row.deadline)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn disarm_gates(&mut self, nodes: &[(Uuid, String)]) -> StoreResult<()> {
        for (execution_id, node_id) in nodes {
            sqlx::query("DELETE FROM gates WHERE execution_id = $1 AND node_id = $2")
                .bind(*execution_id)
                .bind(node_id.as_str())
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn delete_stale_gates(&mut self, execution_id: Uuid) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM gates WHERE execution_id = $1 AND NOT EXISTS (SELECT 1 FROM nodes \
             WHERE nodes.execution_id = gates.execution_id AND nodes.node_id = gates.node_id \
             AND nodes.phase = 'running')",
        )
        .bind(execution_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn overdue_gates(&mut self, now: i64, limit: u32) -> StoreResult<Vec<(Uuid, String)>> {
        let sql = format!(
            "SELECT execution_id, node_id FROM gates WHERE deadline <= $1 ORDER BY deadline, execution_id, node_id \
             LIMIT $2{}",
            D::SKIP_LOCKED
        );
        let rows = sqlx::query_as(&sql)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(rows)
    }

    async fn gates_waiting(&mut self, execution_id: Uuid, signal_id: &str) -> StoreResult<Vec<String>> {
        let nodes =
            sqlx::query_scalar("SELECT node_id FROM gates WHERE execution_id = $1 AND signal_id = $2 ORDER BY node_id")
                .bind(execution_id)
                .bind(signal_id)
                .fetch_all(&mut *self.tx)
                .await?;
        Ok(nodes)
    }

    async fn signal(&mut self, execution_id: Uuid, signal_id: &str) -> StoreResult<Option<SignalRow>> {
        let raw: Option<RawSignal> = sqlx::query_as(
            "SELECT execution_id, signal_id, value, set_at, set_by FROM signals \
             WHERE execution_id = $1 AND signal_id = $2",
        )
        .bind(execution_id)
        .bind(signal_id)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(raw.map(signal_row))
    }

    async fn insert_signal(&mut self, row: &SignalRow) -> StoreResult<()> {
        let inserted = sqlx::query(
            "INSERT INTO signals (execution_id, signal_id, value, set_at, set_by) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(row.execution_id)
        .bind(&row.signal_id)
        .bind(row.value.as_slice())
        .bind(row.set_at)
        .bind(&row.set_by)
        .execute(&mut *self.tx)
        .await?;
        if D::rows_affected(&inserted) == 0 {
            return Err(StoreError::Conflict(format!(
                "signal {:?} of execution {} is already set",
                row.signal_id, row.execution_id
            )));
        }
        Ok(())
    }

    async fn copy_signals(&mut self, from: Uuid, to: Uuid) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signals (execution_id, signal_id, value, set_at, set_by) \
             SELECT $2, signal_id, value, set_at, set_by FROM signals WHERE execution_id = $1 \
             ON CONFLICT DO NOTHING",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_spec(&mut self, row: &SpecRow) -> StoreResult<()> {
        let inserted = sqlx::query(
            "INSERT INTO specs (execution_id, node_id, attempt, spec, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(row.execution_id)
        .bind(&row.node_id)
        .bind(row.attempt)
        .bind(row.spec.as_ref())
        .bind(row.created_at)
        .execute(&mut *self.tx)
        .await?;
        let inserted = D::rows_affected(&inserted);
        if inserted == 0 {
            return Err(spec_conflict(row));
        }
        Ok(())
    }

    async fn insert_audit_entry(&mut self, entry: &AuditRow) -> StoreResult<()> {
        super::insert_audit::<DB>(&mut self.tx, entry).await
    }

    async fn get_spec(&mut self, execution_id: Uuid, node_id: &str, attempt: i32) -> StoreResult<Option<SpecRow>> {
        read_spec::<DB>(&mut self.tx, execution_id, node_id, attempt).await
    }
}

/// Binds a schedule's columns as `$1` to `$9`, in [`SCHEDULE_COLUMNS`]' order.
fn bind_schedule<'q, DB: Database>(
    query: sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
    row: &'q ScheduleRow,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    String: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
{
    query
        .bind(row.key.project.clone())
        .bind(row.key.domain.clone())
        .bind(row.key.name.clone())
        .bind(row.key.version.clone())
        .bind(row.active)
        .bind(row.anchor)
        .bind(row.next_tick)
        .bind(row.last_tick)
        .bind(row.changed_at)
}
