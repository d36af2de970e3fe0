//! [`Store`] for [`SqlStore`]: reads outside transactions, each on a connection of the pool.

use async_trait::async_trait;
use gantry_core::state::{ExecutionPhase, NodePhase};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

use super::{Dialect, SqlStore, read_execution, read_resource, read_spec};
use super::{RawSchedule, RawSignal, SCHEDULE_COLUMNS, schedule_row, signal_row};
use crate::access::{ApiKeyRow, ProjectRow, RawProject};
use crate::codec::{RawAttempt, RawExecution, RawNode, decode_all, page_limit, resource_table};
use crate::error::conflict_or;
use crate::rows::{
    ActiveCounts, AttemptRow, AuditFilter, AuditRow, ExecutionFilter, ExecutionRow, GateRow, NodeRow, Page,
    ResourceKey, ResourceKind, ResourceRow, ScheduleRow, SignalRow, SpecRow,
};
use crate::{Announcement, Store, StoreResult, Tx};

#[async_trait]
impl<D, DB> Store for SqlStore<D>
where
    D: Dialect<Database = DB>,
    DB: Database,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Decode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Decode<'q, DB> + Type<DB>,
    for<'q> Option<Vec<u8>>: Decode<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
    for<'r> RawExecution: sqlx::FromRow<'r, DB::Row>,
    for<'r> RawNode: sqlx::FromRow<'r, DB::Row>,
    for<'r> RawAttempt: sqlx::FromRow<'r, DB::Row>,
    for<'r> crate::codec::RawResource: sqlx::FromRow<'r, DB::Row>,
    for<'r> crate::codec::RawSpec: sqlx::FromRow<'r, DB::Row>,
    for<'r> AuditRow: sqlx::FromRow<'r, DB::Row>,
    for<'r> ApiKeyRow: sqlx::FromRow<'r, DB::Row>,
    for<'r> RawProject: sqlx::FromRow<'r, DB::Row>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        D::begin(&self.pool).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.dialect.ping(&self.pool).await
    }

    async fn compact_claims(&self) -> StoreResult<()> {
        D::compact_claims(&self.pool).await
    }

    async fn listen(&self) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Announcement>>> {
        D::listen(&self.pool).await
    }

    async fn get_resource(&self, kind: ResourceKind, key: &ResourceKey) -> StoreResult<Option<ResourceRow>> {
        read_resource::<DB>(&mut *self.pool.acquire().await?, kind, key).await
    }

    async fn list_resources(
        &self,
        kind: ResourceKind,
        project: &str,
        domain: &str,
        name: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<ResourceRow>> {
        let mut conn = self.pool.acquire().await?;
        D::list_resources(&mut *conn, resource_table(kind), project, domain, name, page).await
    }

    async fn latest_version(
        &self,
        kind: ResourceKind,
        project: &str,
        domain: &str,
        name: &str,
    ) -> StoreResult<Option<String>> {
        let sql = format!(
            "SELECT version FROM {} WHERE project = $1 AND domain = $2 AND name = $3 \
             ORDER BY created_at DESC, version DESC LIMIT 1",
            resource_table(kind)
        );
        let version = sqlx::query_scalar(&sql)
            .bind(project)
            .bind(domain)
            .bind(name)
            .fetch_optional(&mut *self.pool.acquire().await?)
            .await?;
        Ok(version)
    }

    async fn get_execution(&self, id: Uuid) -> StoreResult<Option<ExecutionRow>> {
        read_execution::<DB>(&mut *self.pool.acquire().await?, id, "").await
    }

    async fn find_execution(&self, project: &str, domain: &str, name: &str) -> StoreResult<Option<ExecutionRow>> {
        let raw: Option<RawExecution> =
            sqlx::query_as("SELECT * FROM executions WHERE project = $1 AND domain = $2 AND name = $3")
                .bind(project)
                .bind(domain)
                .bind(name)
                .fetch_optional(&mut *self.pool.acquire().await?)
                .await?;
        raw.map(ExecutionRow::try_from).transpose()
    }

    async fn list_executions(&self, filter: &ExecutionFilter, page: &Page) -> StoreResult<Vec<ExecutionRow>> {
        D::list_executions(&mut *self.pool.acquire().await?, filter, page).await
    }

    async fn get_node(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Option<NodeRow>> {
        let raw: Option<RawNode> = sqlx::query_as("SELECT * FROM nodes WHERE execution_id = $1 AND node_id = $2")
            .bind(execution_id)
            .bind(node_id)
            .fetch_optional(&mut *self.pool.acquire().await?)
            .await?;
        raw.map(NodeRow::try_from).transpose()
    }

    async fn list_nodes(&self, execution_id: Uuid, parent_id: &str, page: &Page) -> StoreResult<Vec<NodeRow>> {
        D::list_nodes(&mut *self.pool.acquire().await?, execution_id, parent_id, page).await
    }

    async fn list_descendants(
        &self,
        execution_id: Uuid,
        below: &str,
        phases: &[NodePhase],
        page: &Page,
    ) -> StoreResult<Vec<NodeRow>> {
        D::list_descendants(&mut *self.pool.acquire().await?, execution_id, below, phases, page).await
    }

    async fn list_attempts(&self, execution_id: Uuid, node_id: &str) -> StoreResult<Vec<AttemptRow>> {
        let raws: Vec<RawAttempt> =
            sqlx::query_as("SELECT * FROM attempts WHERE execution_id = $1 AND node_id = $2 ORDER BY attempt")
                .bind(execution_id)
                .bind(node_id)
                .fetch_all(&mut *self.pool.acquire().await?)
                .await?;
        decode_all(raws)
    }

    async fn get_spec(&self, execution_id: Uuid, node_id: &str, attempt: i32) -> StoreResult<Option<SpecRow>> {
        read_spec::<DB>(&mut *self.pool.acquire().await?, execution_id, node_id, attempt).await
    }

    async fn active_counts(&self) -> StoreResult<ActiveCounts> {
        // The unended phases listed (not the ended ones excluded), so that Postgres walks the executions' phase
        // index over unfinished executions only, however many finished ones are kept.
        let executions_unended = sql_list(
            ExecutionPhase::ALL
                .into_iter()
                .filter(|p| !p.is_terminal())
                .map(ExecutionPhase::as_str),
        );
        let nodes_unended = sql_list(
            NodePhase::ALL
                .into_iter()
                .filter(|p| !p.is_terminal())
                .map(NodePhase::as_str),
        );
        let mut conn = self.pool.acquire().await?;
        let executions = sqlx::query_as(&format!(
            "SELECT phase, COUNT(*) FROM executions WHERE phase IN {executions_unended} GROUP BY phase ORDER BY phase"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let nodes = sqlx::query_as(&format!(
            "SELECT phase, COUNT(*) FROM nodes WHERE execution_id IN \
             (SELECT id FROM executions WHERE phase IN {executions_unended}) \
             AND phase IN {nodes_unended} GROUP BY phase ORDER BY phase"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let attempts = sqlx::query_as(
            "SELECT queue, phase, COUNT(*) FROM attempts WHERE phase IN ('queued', 'running') \
             GROUP BY queue, phase ORDER BY queue, phase",
        )
        .fetch_all(&mut *conn)
        .await?;
        Ok(ActiveCounts {
            executions,
            nodes,
            attempts,
        })
    }

    fn pool_use(&self) -> crate::PoolUse {
        crate::PoolUse {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }
    }

    async fn next_lease_expiry(&self) -> StoreResult<Option<i64>> {
        let next = sqlx::query_scalar("SELECT min(lease_expires_at) FROM attempts WHERE phase = 'running'")
            .fetch_one(&mut *self.pool.acquire().await?)
            .await?;
        Ok(next)
    }

    async fn next_deadline(&self) -> StoreResult<Option<i64>> {
        D::next_deadline(&mut *self.pool.acquire().await?).await
    }

    async fn next_not_before(&self, now: i64) -> StoreResult<Option<i64>> {
        let next = sqlx::query_scalar(concat!(
            "SELECT min(not_before) FROM attempts WHERE phase = 'queued' AND not_before > $1 AND not_before < ",
            super::parked_sql!()
        ))
        .bind(now)
        .fetch_one(&mut *self.pool.acquire().await?)
        .await?;
        Ok(next)
    }

    async fn ready_queues(&self, after: i64, now: i64) -> StoreResult<Vec<String>> {
        let queues = sqlx::query_scalar(
            "SELECT DISTINCT queue FROM attempts WHERE phase = 'queued' AND not_before > $1 AND not_before <= $2 \
             ORDER BY queue",
        )
        .bind(after)
        .bind(now)
        .fetch_all(&mut *self.pool.acquire().await?)
        .await?;
        Ok(queues)
    }

    async fn nodes_creating_children(&self, updated_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT execution_id, node_id FROM nodes WHERE children_created < children_total \
             AND phase = 'children_running' AND updated_at < $1 ORDER BY execution_id, node_id",
        )
        .bind(updated_before)
        .fetch_all(&mut *self.pool.acquire().await?)
        .await?;
        Ok(rows)
    }

    async fn child_outputs(&self, execution_id: Uuid, parent_id: &str) -> StoreResult<Vec<(String, Option<Vec<u8>>)>> {
        let outputs = sqlx::query_as(
            "SELECT node_id, outputs FROM nodes WHERE execution_id = $1 AND parent_id = $2 ORDER BY position",
        )
        .bind(execution_id)
        .bind(parent_id)
        .fetch_all(&mut *self.pool.acquire().await?)
        .await?;
        Ok(outputs)
    }

    async fn gates_of(&self, execution_id: Uuid) -> StoreResult<Vec<GateRow>> {
        let raws: Vec<(Uuid, String, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT execution_id, node_id, signal_id, deadline FROM gates WHERE execution_id = $1 ORDER BY node_id",
        )
        .bind(execution_id)
        .fetch_all(&mut *self.pool.acquire().await?)
        .await?;
        Ok(raws
            .into_iter()
            .map(|(execution_id, node_id, signal_id, deadline)| GateRow {
                execution_id,
                node_id,
                signal_id,
                deadline,
            })
            .collect())
    }

    async fn signals_of(&self, execution_id: Uuid) -> StoreResult<Vec<SignalRow>> {
        let raws: Vec<RawSignal> = sqlx::query_as(
            "SELECT execution_id, signal_id, value, set_at, set_by FROM signals WHERE execution_id = $1 \
             ORDER BY signal_id",
        )
        .bind(execution_id)
        .fetch_all(&mut *self.pool.acquire().await?)
        .await?;
        Ok(raws.into_iter().map(signal_row).collect())
    }

    async fn list_schedules(&self, project: &str, domain: &str) -> StoreResult<Vec<ScheduleRow>> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE project = $1 AND domain = $2 ORDER BY name, version"
        );
        let raws: Vec<RawSchedule> = sqlx::query_as(&sql)
            .bind(project)
            .bind(domain)
            .fetch_all(&mut *self.pool.acquire().await?)
            .await?;
        Ok(raws.into_iter().map(schedule_row).collect())
    }

    async fn next_tick(&self) -> StoreResult<Option<i64>> {
        let next = sqlx::query_scalar("SELECT min(next_tick) FROM schedules WHERE active")
            .fetch_one(&mut *self.pool.acquire().await?)
            .await?;
        Ok(next)
    }

    async fn hydrations(&self, since_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        let rows = sqlx::query_as(
            "SELECT execution_id, node_id FROM hydrations WHERE since < $1 ORDER BY execution_id, node_id",
        )
        .bind(since_before)
        .fetch_all(&mut *self.pool.acquire().await?)
        .await?;
        Ok(rows)
    }

    async fn assembling(&self, updated_before: i64) -> StoreResult<Vec<(Uuid, String)>> {
        let mut conn = self.pool.acquire().await?;
        let mut rows: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, '' FROM executions WHERE phase = 'succeeding' AND updated_at < $1 ORDER BY id")
                .bind(updated_before)
                .fetch_all(&mut *conn)
                .await?;
        let sql = format!(
            "SELECT execution_id, node_id FROM nodes WHERE {assembling} AND updated_at < $1 \
             ORDER BY execution_id, node_id",
            assembling = D::ASSEMBLING,
        );
        let nodes: Vec<(Uuid, String)> = sqlx::query_as(&sql).bind(updated_before).fetch_all(&mut *conn).await?;
        rows.extend(nodes);
        Ok(rows)
    }
    async fn insert_audit_entry(&self, entry: &AuditRow) -> StoreResult<()> {
        super::insert_audit::<DB>(&mut *self.pool.acquire().await?, entry).await
    }

    async fn list_audit_entries(&self, filter: &AuditFilter, page: &Page) -> StoreResult<Vec<AuditRow>> {
        let after = page
            .after
            .as_deref()
            .map(|after| {
                Uuid::parse_str(after).map_err(|_| {
                    crate::StoreError::InvalidPage(format!(
                        "{} is not an audit entry id",
                        gantry_core::names::quote(after)
                    ))
                })
            })
            .transpose()?;
        // Only the filters given become conditions, each with its own parameter: one statement on both databases,
        // with no typed NULL tests.
        let mut conditions = Vec::new();
        let mut next = 0;
        let mut parameter = |condition: &str| {
            next += 1;
            conditions.push(condition.replace('?', &format!("${next}")));
        };
        let texts = [
            ("principal = ?", &filter.principal),
            ("project = ?", &filter.project),
            ("rpc = ?", &filter.rpc),
        ];
        for (condition, value) in &texts {
            if value.is_some() {
                parameter(condition);
            }
        }
        let times = [("at >= ?", filter.since), ("at < ?", filter.until)];
        for (condition, value) in &times {
            if value.is_some() {
                parameter(condition);
            }
        }
        if after.is_some() {
            parameter("id < ?");
        }
        parameter("LIMIT ?");
        let limit = conditions.pop().unwrap_or_default();
        let sql = format!(
            "SELECT * FROM audit_entries{where_}{conditions} ORDER BY id DESC {limit}",
            where_ = if conditions.is_empty() { "" } else { " WHERE " },
            conditions = conditions.join(" AND "),
        );
        let mut query = sqlx::query_as::<DB, AuditRow>(&sql);
        for (_, value) in texts {
            if let Some(value) = value {
                query = query.bind(value.as_str());
            }
        }
        for (_, value) in times {
            if let Some(value) = value {
                query = query.bind(value);
            }
        }
        if let Some(after) = after {
            query = query.bind(after);
        }
        let rows = query
            .bind(page_limit(page))
            .fetch_all(&mut *self.pool.acquire().await?)
            .await?;
        Ok(rows)
    }

    async fn insert_api_key(&self, row: &ApiKeyRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, secret_hash, project, role, description, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(row.id.as_str())
        .bind(row.secret_hash.as_slice())
        .bind(row.project.as_deref())
        .bind(row.role.as_str())
        .bind(row.description.as_str())
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(row.revoked_at)
        .execute(&mut *self.pool.acquire().await?)
        .await
        .map_err(|error| conflict_or(error, || format!("api key {} already exists", row.id)))?;
        Ok(())
    }

    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRow>> {
        let row = sqlx::query_as("SELECT * FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.pool.acquire().await?)
            .await?;
        Ok(row)
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRow>> {
        let rows = sqlx::query_as("SELECT * FROM api_keys ORDER BY id")
            .fetch_all(&mut *self.pool.acquire().await?)
            .await?;
        Ok(rows)
    }

    async fn revoke_api_key(&self, id: &str, now: i64) -> StoreResult<Option<ApiKeyRow>> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        let row = sqlx::query_as("SELECT * FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row)
    }

    async fn insert_project(&self, row: &ProjectRow) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO projects (id, description, domains, created_at, archived_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(row.id.as_str())
        .bind(row.description.as_str())
        .bind(row.domains.join(",").as_str())
        .bind(row.created_at)
        .bind(row.archived_at)
        .execute(&mut *self.pool.acquire().await?)
        .await?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn get_project(&self, id: &str) -> StoreResult<Option<ProjectRow>> {
        let raw: Option<RawProject> = sqlx::query_as("SELECT * FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.pool.acquire().await?)
            .await?;
        Ok(raw.map(ProjectRow::from))
    }

    async fn list_projects(&self) -> StoreResult<Vec<ProjectRow>> {
        let raws: Vec<RawProject> = sqlx::query_as("SELECT * FROM projects ORDER BY id")
            .fetch_all(&mut *self.pool.acquire().await?)
            .await?;
        Ok(raws.into_iter().map(ProjectRow::from).collect())
    }

    async fn archive_project(&self, id: &str, now: i64) -> StoreResult<Option<ProjectRow>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE projects SET archived_at = COALESCE(archived_at, $2) WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let raw: Option<RawProject> = sqlx::query_as("SELECT * FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if raw.is_some() {
            // An archived project takes no new executions: its schedules stop with it.
            sqlx::query(
                "UPDATE schedules SET active = FALSE, next_tick = NULL, changed_at = $2 WHERE project = $1 AND active",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(raw.map(ProjectRow::from))
    }
}

/// `('a', 'b')`: a list of constant names (phases) for `IN`.
fn sql_list(names: impl Iterator<Item = &'static str>) -> String {
    let quoted: Vec<String> = names.map(|name| format!("'{name}'")).collect();
    format!("({})", quoted.join(", "))
}
