//! What Postgres needs written its own way: lists bound as arrays (`= ANY($n)`, `UNNEST`), claims and sweeps that
//! skip locked rows, row locks, `NOTIFY`, subtrees matched with `starts_with`, and the casts that type a parameter
//! only ever compared with `NULL`.

use async_trait::async_trait;
use gantry_core::state::{ExecutionPhase, NodePhase};
use sqlx::{FromRow, PgConnection, PgPool, Postgres, Row};
use uuid::Uuid;

use super::{EXECUTION_CHANNEL, PgDialect, QUEUE_CHANNEL, batch, listen, notify, refresh_statistics};
use crate::codec::{
    Claim, DescendantScan, RawAttempt, RawExecution, RawNode, RawResource, decode_all, descendant_bounds,
    descendant_scan, page_after_execution, page_after_position, page_after_resource, page_limit, started_node,
    terminal_node_phases_sql,
};
use crate::filters::ExecutionBounds;
use crate::rows::{AttemptRow, ExecutionFilter, ExecutionRow, NodeRow, Page, ResourceRow, StartedNode};
use crate::sql::{Dialect, SqlTx};
use crate::{Announcement, StoreResult, Tx};

#[async_trait]
impl Dialect for PgDialect {
    type Database = Postgres;

    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const UNSUCCESSFUL: &'static str = "unsuccessful";
    const ASSEMBLING: &'static str = "assembling";

    type TextList<'a> = &'a [String];

    fn text_list(items: &[String]) -> &[String] {
        items
    }

    fn in_text_list(parameter: &str) -> String {
        format!("= ANY({parameter})")
    }

    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn begin(pool: &PgPool) -> StoreResult<Box<dyn Tx>> {
        let tx = pool.begin().await?;
        Ok(Box::new(SqlTx::<PgDialect> { tx }))
    }

    async fn ping(&self, _pool: &PgPool) -> StoreResult<()> {
        self.probe.ping().await
    }

    async fn compact_claims(pool: &PgPool) -> StoreResult<()> {
        // Outside a transaction, as VACUUM must be. Without truncation it takes no lock that writes wait for (truncating
        // the table's empty end would lock it exclusively for a moment).
        sqlx::query("VACUUM (TRUNCATE false) attempts").execute(pool).await?;
        Ok(())
    }

    async fn listen(pool: &PgPool) -> StoreResult<Option<tokio::sync::mpsc::Receiver<Announcement>>> {
        listen(pool).await.map(Some)
    }

    async fn announce_queues(conn: &mut PgConnection, queues: &[String]) -> StoreResult<()> {
        notify(conn, QUEUE_CHANNEL, queues).await
    }

    async fn announce_executions(
        conn: &mut PgConnection,
        origin: Uuid,
        changes: &[(Uuid, ExecutionPhase)],
    ) -> StoreResult<()> {
        let payloads: Vec<String> = changes
            .iter()
            .map(|(id, phase)| format!("{origin} {id} {phase}"))
            .collect();
        notify(conn, EXECUTION_CHANNEL, &payloads).await
    }

    async fn list_resources(
        conn: &mut PgConnection,
        table: &'static str,
        project: &str,
        domain: &str,
        name: Option<&str>,
        page: &Page,
    ) -> StoreResult<Vec<ResourceRow>> {
        let (after_name, after_version) = page_after_resource(page)?.unzip();
        let raws: Vec<RawResource> = sqlx::query_as(&format!(
            "SELECT * FROM {table} WHERE project = $1 AND domain = $2 AND ($3::text IS NULL OR name = $3) \
             AND ($4::text IS NULL OR (name, version) > ($4, $5::text)) ORDER BY name, version LIMIT $6"
        ))
        .bind(project)
        .bind(domain)
        .bind(name)
        .bind(after_name)
        .bind(after_version)
        .bind(page_limit(page))
        .fetch_all(conn)
        .await?;
        Ok(raws.into_iter().map(ResourceRow::from).collect())
    }

    async fn list_executions(
        conn: &mut PgConnection,
        filter: &ExecutionFilter,
        page: &Page,
    ) -> StoreResult<Vec<ExecutionRow>> {
        let phases: Vec<&str> = filter.phases.iter().map(|phase| phase.as_str()).collect();
        let bounds = ExecutionBounds::of(filter);
        let raws: Vec<RawExecution> = sqlx::query_as(
            "SELECT * FROM executions WHERE ($1::text IS NULL OR project = $1) AND ($2::text IS NULL OR domain = $2) \
             AND (cardinality($3::text[]) = 0 OR phase = ANY($3)) AND ($4::uuid IS NULL OR id < $4) \
             AND ($5::text IS NULL OR (target_kind = $5 AND target >= $6::text AND target < $7::text)) \
             AND ($8::int8 IS NULL OR created_at >= $8) AND ($9::int8 IS NULL OR created_at < $9) \
             AND ($10::text IS NULL OR (name >= $10 AND name < $11::text) OR id = $12::uuid) \
             ORDER BY id DESC LIMIT $13",
        )
        .bind(&filter.project)
        .bind(&filter.domain)
        .bind(&phases)
        .bind(page_after_execution(page)?)
        .bind(bounds.target_kind)
        .bind(&bounds.target_from)
        .bind(&bounds.target_to)
        .bind(filter.created_after)
        .bind(filter.created_before)
        .bind(&bounds.name_from)
        .bind(&bounds.name_to)
        .bind(bounds.search_id)
        .bind(page_limit(page))
        .fetch_all(conn)
        .await?;
        decode_all(raws)
    }

    async fn list_nodes(
        conn: &mut PgConnection,
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
        .fetch_all(conn)
        .await?;
        decode_all(raws)
    }

    /// Along `nodes_unsuccessful` when only the phases of nodes that stopped without success are asked for, else
    /// along the primary key (node ids in the "C" collation, so that the order is bytewise, as on SQLite): a page reads
    /// at most the page's rows, but for a filter of other phases, which reads past the nodes in other phases.
    async fn list_descendants(
        conn: &mut PgConnection,
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
            .fetch_all(conn)
            .await?;
        decode_all(raws)
    }

    async fn next_deadline(conn: &mut PgConnection) -> StoreResult<Option<i64>> {
        let next = sqlx::query_scalar(
            "SELECT least((SELECT min(deadline) FROM attempts WHERE phase IN ('queued', 'running') \
             AND deadline IS NOT NULL), \
             (SELECT min(deadline) FROM executions WHERE phase NOT IN ('succeeded', 'failed', 'aborted', 'timed_out')), \
             (SELECT min(deadline) FROM gates WHERE deadline IS NOT NULL))",
        )
        .fetch_one(conn)
        .await?;
        Ok(next)
    }

    async fn insert_nodes(conn: &mut PgConnection, rows: &[NodeRow]) -> StoreResult<()> {
        batch::insert_nodes(conn, rows).await?;
        refresh_statistics(conn, "nodes", rows.len()).await
    }

    /// One primary-key lookup per id, whatever the planner believes of the table. Written as `node_id = ANY($2)`,
    /// the statement was planned while the nodes table had no statistics (a fan-out's chunks never insert enough at
    /// once to refresh them, see `refresh_statistics`): Postgres took each id to match 0.5% of the rows, so a hundred
    /// ids half the table, and read every node of the execution along an index on `execution_id` alone, filtering
    /// them against the list: about 10 ms a batch at 100,000 children, growing with the fan-out. A join to the ids
    /// was planned as a hash join over the same scan. A `LATERAL` subquery kept apart by `OFFSET 0` runs once per id,
    /// by the primary key. It is not persistent (parsed and planned afresh at each call, about 0.1 ms): as a prepared
    /// statement, before migration 0011 dropped `nodes_by_id` and `nodes_local`, it took 6 ms a batch of 26 ids at
    /// 10,000 children on 8 slots, against 0.5 ms unprepared; on the schema since, prepared is no slower than this.
    ///
    /// The ids are made distinct (as `ANY` made them) and sorted, and the nested loop locks each row as it reaches
    /// it, so the rows are locked in key order.
    async fn lock_nodes(conn: &mut PgConnection, execution_id: Uuid, node_ids: &[String]) -> StoreResult<Vec<NodeRow>> {
        let raws: Vec<RawNode> = sqlx::query_as(
            "SELECT n.* FROM (SELECT DISTINCT UNNEST($2::text[]) AS node_id ORDER BY 1) AS k CROSS JOIN LATERAL \
             (SELECT * FROM nodes WHERE execution_id = $1 AND node_id = k.node_id OFFSET 0 FOR UPDATE) AS n \
             ORDER BY n.node_id",
        )
        .bind(execution_id)
        .bind(node_ids)
        .persistent(false)
        .fetch_all(conn)
        .await?;
        decode_all(raws)
    }

    /// The nodes are found as [`Dialect::lock_nodes`] finds them (one primary-key lookup per id, in key order), without
    /// a lock: the update locks each row as it writes it, by its `ctid` (a TID scan). A row another transaction
    /// changed meanwhile has a new `ctid` and is left out, for the engine to lock and read. The row lock of an update
    /// is the only write to the row: a `FOR UPDATE` before it would write the row's header once more.
    async fn start_nodes(
        conn: &mut PgConnection,
        execution_id: Uuid,
        node_ids: &[String],
        now: i64,
    ) -> StoreResult<Vec<StartedNode>> {
        let rows = sqlx::query(
            "WITH found AS (SELECT o.ctid AS at, o.phase, o.updated_at FROM \
             (SELECT DISTINCT UNNEST($2::text[]) AS node_id ORDER BY 1) AS k CROSS JOIN LATERAL \
             (SELECT ctid, phase, updated_at FROM nodes WHERE execution_id = $1 AND node_id = k.node_id OFFSET 0) AS o \
             WHERE o.phase IN ('queued', 'retry_waiting')) \
             UPDATE nodes AS n SET phase = 'running', updated_at = $3 FROM found \
             WHERE n.ctid = found.at AND n.phase IN ('queued', 'retry_waiting') \
             RETURNING n.*, found.phase AS before_phase, found.updated_at AS before_updated_at",
        )
        .bind(execution_id)
        .bind(node_ids)
        .bind(now)
        .persistent(false)
        .fetch_all(conn)
        .await?;
        let mut started = rows
            .iter()
            .map(|row| {
                started_node(
                    RawNode::from_row(row)?,
                    row.try_get("before_phase")?,
                    row.try_get("before_updated_at")?,
                )
            })
            .collect::<StoreResult<Vec<_>>>()?;
        started.sort_by(|a, b| a.written.node_id.cmp(&b.written.node_id));
        Ok(started)
    }

    async fn update_nodes(conn: &mut PgConnection, rows: &[NodeRow]) -> StoreResult<()> {
        batch::update_nodes(conn, rows).await
    }

    /// One statement: the attempts' update runs as a data-modifying CTE beside the nodes' update. `starts_with`
    /// rather than `LIKE`, so `_` and `%` in node ids are plain characters.
    async fn abort_descendants(
        conn: &mut PgConnection,
        execution_id: Uuid,
        node_id: Option<&str>,
        now: i64,
    ) -> StoreResult<u64> {
        let aborted: i64 = sqlx::query_scalar(concat!(
            "WITH aborted_attempts AS (UPDATE attempts SET phase = 'aborted', finished_at = $3 \
             WHERE execution_id = $1 AND ($2::text IS NULL OR starts_with(node_id, $2 || '/')) \
             AND phase IN ('queued', 'running') RETURNING 1), \
             aborted_nodes AS (UPDATE nodes SET phase = 'aborted', finished_at = $3, updated_at = $3 \
             WHERE execution_id = $1 AND ($2::text IS NULL OR starts_with(node_id, $2 || '/')) AND phase NOT IN ",
            terminal_node_phases_sql!(),
            " RETURNING 1) SELECT count(*) FROM aborted_nodes"
        ))
        .bind(execution_id)
        .bind(node_id)
        .bind(now)
        .fetch_one(conn)
        .await?;
        Ok(u64::try_from(aborted).unwrap_or_default())
    }

    async fn running_child_executions(
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

    async fn abort_node_attempts(
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

    async fn insert_attempts(conn: &mut PgConnection, rows: &[AttemptRow]) -> StoreResult<()> {
        batch::insert_attempts(conn, rows).await
    }

    async fn update_attempts(conn: &mut PgConnection, rows: &[AttemptRow]) -> StoreResult<()> {
        batch::update_attempts(conn, rows).await
    }

    /// One statement over all the poll's queues, oldest first across them, in two steps:
    ///
    /// 1. `candidates`: per queue, its oldest claimable ids along the `(queue, id)` index (a LATERAL join over the
    ///    queue array), then the oldest `limit` of those together. Neither `queue = ANY($1) ORDER BY id` nor a UNION
    ///    of the queues serves this: the planner then walks the primary key past every finished attempt, or sorts
    ///    every queued attempt of the queues (EXPLAIN ANALYZE in docs/ARCHITECTURE.md).
    /// 2. `picked`: per queue, as many as it has among the candidates, taken again with `FOR UPDATE SKIP LOCKED`, so
    ///    that an attempt another replica is claiming at this instant is passed over for the next one of its queue
    ///    rather than costing this poll its share.
    ///
    /// `picked` is `MATERIALIZED` (a locking query always is, this says so) so each row is locked and claimed by
    /// exactly one transaction, and the update looks its rows up by id, whatever the planner guesses of their number.
    async fn claim_attempts(conn: &mut PgConnection, claim: &Claim<'_>) -> StoreResult<Vec<AttemptRow>> {
        // The statement is the function `gantry_claim` (migrations/postgres/0008_claim_function.sql), planned with
        // bitmap scans off so that each queue's partial index is walked in id order and the walk stops at the limit.
        // One project's claim walks the `(queue, project, id)` index instead (`gantry_claim_project`, migration 0013).
        let lease_until = claim.now.saturating_add(claim.lease_ms);
        let raws: Vec<RawAttempt> = match claim.project {
            None => {
                sqlx::query_as("SELECT * FROM gantry_claim($1::text[], $2, $3, $4, $5)")
                    .bind(claim.queues)
                    .bind(i64::from(claim.limit))
                    .bind(claim.now)
                    .bind(claim.worker_id)
                    .bind(lease_until)
                    .fetch_all(conn)
                    .await?
            }
            Some(project) => {
                sqlx::query_as("SELECT * FROM gantry_claim_project($1::text[], $2, $3, $4, $5, $6)")
                    .bind(claim.queues)
                    .bind(project)
                    .bind(i64::from(claim.limit))
                    .bind(claim.now)
                    .bind(claim.worker_id)
                    .bind(lease_until)
                    .fetch_all(conn)
                    .await?
            }
        };
        decode_all(raws)
    }

    async fn lock_attempts(conn: &mut PgConnection, ids: &[Uuid]) -> StoreResult<Vec<AttemptRow>> {
        let raws: Vec<RawAttempt> = sqlx::query_as("SELECT * FROM attempts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(ids)
            .fetch_all(conn)
            .await?;
        decode_all(raws)
    }

    /// Rows are locked in id order (attempts) and key order (reservations), attempts first, as the writer's batches
    /// lock them, so that renewals of several replicas and their batches cannot deadlock.
    async fn renew_leases(conn: &mut PgConnection, lease_until: i64, reservation_until: i64) -> StoreResult<u64> {
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

    async fn extend_cache_reservations(
        conn: &mut PgConnection,
        holders: &[(Uuid, String)],
        expires_at: i64,
    ) -> StoreResult<u64> {
        let (executions, nodes): (Vec<Uuid>, Vec<String>) = holders.iter().cloned().unzip();
        let done = sqlx::query(
            "UPDATE cache_reservations AS r SET expires_at = $3 FROM UNNEST($1::uuid[], $2::text[]) AS h(e, n) \
             WHERE r.execution_id = h.e AND r.node_id = h.n",
        )
        .bind(executions)
        .bind(nodes)
        .bind(expires_at)
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }

    async fn reservations_below(
        conn: &mut PgConnection,
        execution_id: Uuid,
        node_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>> {
        let held = sqlx::query_as(
            "SELECT key, node_id FROM cache_reservations WHERE execution_id = $1 \
             AND ($2::text IS NULL OR starts_with(node_id, $2 || '/'))",
        )
        .bind(execution_id)
        .bind(node_id)
        .fetch_all(conn)
        .await?;
        Ok(held)
    }
}
