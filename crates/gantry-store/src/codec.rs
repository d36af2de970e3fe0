//! What both stores share: decoding rows (the `Raw*` structs read by column name from a Postgres or a SQLite row),
//! the mapping of kinds and phases to the text the schema holds, and page tokens.

use std::str::FromStr;

use gantry_core::names::quote;
use gantry_core::state::{NodeKind, NodePhase, UnknownPhase};
use uuid::Uuid;

use crate::rows::{
    AttemptRow, ExecutionRow, NodeRow, Page, ResourceKey, ResourceKind, ResourceRow, SpecRow, StartedNode,
};
use crate::{StoreError, StoreResult};

/// The SQL list of terminal node phases, as a literal so both stores can splice it into static SQL (a bound list
/// would work too, but literals keep each statement one constant string). Checked against the core below.
macro_rules! terminal_node_phases_sql {
    () => {
        "('succeeded', 'failed', 'skipped', 'timed_out', 'aborted', 'recovered')"
    };
}
pub(crate) use terminal_node_phases_sql;

/// Rows per statement for batch writes: bounds the size of one Postgres array bind and one SQLite statement.
pub(crate) const POSTGRES_BATCH_ROWS: usize = 10_000;

pub(crate) fn node_kind_str(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Task => "task",
        NodeKind::Composite => "composite",
        NodeKind::LaunchPlan => "launch_plan",
        NodeKind::Gate => "gate",
    }
}

fn parse_node_kind(name: &str) -> Result<NodeKind, String> {
    match name {
        "task" => Ok(NodeKind::Task),
        "composite" => Ok(NodeKind::Composite),
        "launch_plan" => Ok(NodeKind::LaunchPlan),
        "gate" => Ok(NodeKind::Gate),
        other => Err(format!("unknown node kind {other:?}")),
    }
}

/// The table that holds registered resources of `kind`.
pub(crate) fn resource_table(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Task => "tasks",
        ResourceKind::Workflow => "workflows",
        ResourceKind::LaunchPlan => "launch_plans",
    }
}

/// The kind as a message names it.
pub(crate) fn resource_label(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Task => "task",
        ResourceKind::Workflow => "workflow",
        ResourceKind::LaunchPlan => "launch plan",
    }
}

pub(crate) fn resource_conflict(kind: ResourceKind, key: &ResourceKey) -> StoreError {
    StoreError::Conflict(format!(
        "{} {}/{}/{}@{} is already registered with a different template",
        resource_label(kind),
        key.project,
        key.domain,
        key.name,
        key.version
    ))
}

pub(crate) fn execution_conflict(row: &ExecutionRow) -> String {
    format!(
        "execution {:?} already exists in {}/{}",
        row.name, row.project, row.domain
    )
}

/// A batch of nodes hit an existing key; names the node when the batch is one.
pub(crate) fn nodes_conflict(rows: &[NodeRow]) -> String {
    match rows {
        [row] => format!(
            "node {:?} of execution {} already exists",
            row.node_id, row.execution_id
        ),
        [first, ..] => format!(
            "a node among {} of execution {} already exists",
            rows.len(),
            first.execution_id
        ),
        [] => "a node already exists".to_owned(),
    }
}

/// A batch of attempts hit an existing key; names the attempt when the batch is one.
pub(crate) fn attempts_conflict(rows: &[AttemptRow]) -> String {
    match rows {
        [row] => format!(
            "attempt {} of node {:?} of execution {} already exists",
            row.attempt, row.node_id, row.execution_id
        ),
        [first, ..] => format!(
            "an attempt among {} of execution {} already exists",
            rows.len(),
            first.execution_id
        ),
        [] => "an attempt already exists".to_owned(),
    }
}

pub(crate) fn spec_conflict(row: &SpecRow) -> StoreError {
    StoreError::Conflict(format!(
        "a spec of node {:?} attempt {} of execution {} already exists",
        row.node_id, row.attempt, row.execution_id
    ))
}

/// Local ids never contain a comma (the core's identifier rule), so a comma-joined list round-trips.
pub(crate) fn join_downstream(local_ids: &[String]) -> String {
    debug_assert!(local_ids.iter().all(|id| !id.contains(',') && !id.is_empty()));
    local_ids.join(",")
}

fn split_downstream(joined: &str) -> Vec<String> {
    if joined.is_empty() {
        return Vec::new();
    }
    joined.split(',').map(str::to_owned).collect()
}

fn parse_phase<P: FromStr<Err = UnknownPhase>>(name: &str, row: impl FnOnce() -> String) -> StoreResult<P> {
    name.parse()
        .map_err(|error: UnknownPhase| StoreError::Corrupt(format!("{}: {error}", row())))
}

/// `LIMIT` of a page (sqlx binds `i64` on both stores).
pub(crate) fn page_limit(page: &Page) -> i64 {
    i64::from(page.limit)
}

/// The position after which a node listing resumes.
pub(crate) fn page_after_position(page: &Page) -> StoreResult<Option<i64>> {
    page.after
        .as_deref()
        .map(|after| {
            after
                .parse::<i64>()
                .map_err(|_| StoreError::InvalidPage(format!("{} is not a node position", quote(after))))
        })
        .transpose()
}

/// The bounds, both exclusive, of the node ids a listing of the descendants of `below` (every node when empty)
/// resumes between. Scoped ids are `parent/attempt/local`, so a node's descendants are the ids starting with
/// `below/`, which sort bytewise between `below/` and `below0` (`0` is the byte after `/`); no id of the execution
/// sorts after `char::MAX`. The page token is the last id listed and must be one.
pub(crate) fn descendant_bounds(below: &str, page: &Page) -> StoreResult<(String, String)> {
    let (start, end) = if below.is_empty() {
        (String::new(), char::MAX.to_string())
    } else {
        (format!("{below}/"), format!("{below}0"))
    };
    let Some(after) = page.after.as_deref() else {
        return Ok((start, end));
    };
    if gantry_core::ids::NodeExecutionId::parse(after).is_err() {
        return Err(StoreError::InvalidPage(format!(
            "{:?} is not a node id",
            after.chars().take(64).collect::<String>()
        )));
    }
    Ok((start.max(after.to_owned()), end))
}

/// The phases of a node that stopped without success, as the schema spells them: the `unsuccessful` flag (Postgres)
/// and the `nodes_unsuccessful` partial index (both stores) are defined by this list.
macro_rules! unsuccessful_node_phases_sql {
    () => {
        "('failed', 'timed_out', 'aborted')"
    };
}
pub(crate) use unsuccessful_node_phases_sql;

/// The phases of [`unsuccessful_node_phases_sql`].
pub(crate) const UNSUCCESSFUL_NODE_PHASES: [NodePhase; 3] =
    [NodePhase::Failed, NodePhase::TimedOut, NodePhase::Aborted];

/// How a listing of nodes at every depth reads: along the index of unsuccessful nodes when it asks only for their
/// phases (a page of them costs a page whatever else the execution holds), else along node ids, keeping the phases
/// asked for (`None`: every node).
pub(crate) enum DescendantScan {
    Unsuccessful(Vec<&'static str>),
    ById(Option<Vec<&'static str>>),
}

pub(crate) fn descendant_scan(phases: &[NodePhase]) -> DescendantScan {
    let mut names: Vec<&'static str> = phases.iter().map(|phase| phase.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        DescendantScan::ById(None)
    } else if phases.iter().all(|phase| UNSUCCESSFUL_NODE_PHASES.contains(phase)) {
        DescendantScan::Unsuccessful(names)
    } else {
        DescendantScan::ById(Some(names))
    }
}

/// The execution id after which an execution listing resumes.
pub(crate) fn page_after_execution(page: &Page) -> StoreResult<Option<Uuid>> {
    page.after
        .as_deref()
        .map(|after| {
            Uuid::parse_str(after)
                .map_err(|_| StoreError::InvalidPage(format!("{} is not an execution id", quote(after))))
        })
        .transpose()
}

/// `(name, version)` after which a resource listing resumes, from `name@version` (names hold no `@`).
pub(crate) fn page_after_resource(page: &Page) -> StoreResult<Option<(String, String)>> {
    page.after
        .as_deref()
        .map(|after| {
            after
                .split_once('@')
                .filter(|(name, version)| {
                    // Anything a listing could not have handed out (a NUL, a name too long) must not reach a query.
                    let valid = |part: &str| gantry_core::names::check(part, gantry_core::names::RESOURCE_NAME).is_ok();
                    valid(name) && valid(version)
                })
                .map(|(name, version)| (name.to_owned(), version.to_owned()))
                .ok_or_else(|| StoreError::InvalidPage(format!("{} is not name@version", quote(after))))
        })
        .transpose()
}

/// The arguments of [`crate::Tx::claim_attempts`].
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub queues: &'a [String],
    /// Only attempts of this project's executions; `None`: of every project.
    pub project: Option<&'a str>,
    pub limit: u32,
    pub worker_id: &'a str,
    pub now: i64,
    pub lease_ms: i64,
}

/// A registered resource as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RawResource {
    project: String,
    domain: String,
    name: String,
    version: String,
    template: Vec<u8>,
    created_at: i64,
}

impl From<RawResource> for ResourceRow {
    fn from(raw: RawResource) -> Self {
        ResourceRow {
            key: ResourceKey {
                project: raw.project,
                domain: raw.domain,
                name: raw.name,
                version: raw.version,
            },
            template: raw.template,
            created_at: raw.created_at,
        }
    }
}

/// An execution as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RawExecution {
    id: Uuid,
    project: String,
    domain: String,
    name: String,
    target_kind: String,
    target: String,
    workflow: Vec<u8>,
    phase: String,
    inputs: Vec<u8>,
    outputs: Option<Vec<u8>>,
    error: Option<Vec<u8>>,
    max_parallelism: Option<i32>,
    overwrite_cache: bool,
    timeout_ms: Option<i64>,
    deadline: Option<i64>,
    parent_execution_id: Option<Uuid>,
    parent_node_id: Option<String>,
    origin: String,
    source_execution_id: Option<Uuid>,
    trace_context: Option<String>,
    nodes_total: i64,
    nodes_succeeded: i64,
    nodes_failed: i64,
    nodes_skipped: i64,
    created_at: i64,
    updated_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

impl TryFrom<RawExecution> for ExecutionRow {
    type Error = StoreError;

    fn try_from(raw: RawExecution) -> StoreResult<Self> {
        let phase = parse_phase(&raw.phase, || format!("execution {}", raw.id))?;
        Ok(ExecutionRow {
            id: raw.id,
            project: raw.project,
            domain: raw.domain,
            name: raw.name,
            target_kind: raw.target_kind,
            target: raw.target,
            workflow: raw.workflow,
            phase,
            inputs: raw.inputs,
            outputs: raw.outputs,
            error: raw.error,
            max_parallelism: raw.max_parallelism,
            overwrite_cache: raw.overwrite_cache,
            timeout_ms: raw.timeout_ms,
            deadline: raw.deadline,
            parent_execution_id: raw.parent_execution_id,
            parent_node_id: raw.parent_node_id,
            origin: raw.origin,
            source_execution_id: raw.source_execution_id,
            trace_context: raw.trace_context,
            nodes_total: raw.nodes_total,
            nodes_succeeded: raw.nodes_succeeded,
            nodes_failed: raw.nodes_failed,
            nodes_skipped: raw.nodes_skipped,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            started_at: raw.started_at,
            finished_at: raw.finished_at,
        })
    }
}

/// A node as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RawNode {
    execution_id: Uuid,
    node_id: String,
    parent_id: String,
    local_id: String,
    kind: String,
    definition: Vec<u8>,
    task: Option<String>,
    phase: String,
    is_dynamic: bool,
    attempts: i32,
    user_failures: i32,
    system_failures: i32,
    cache_status: String,
    upstream_pending: i32,
    downstream: String,
    position: i64,
    children_total: i64,
    children_succeeded: i64,
    children_failed: i64,
    children_skipped: i64,
    children_created: i64,
    inputs: Option<Vec<u8>>,
    outputs: Option<Vec<u8>>,
    error: Option<Vec<u8>>,
    child_execution_id: Option<Uuid>,
    created_at: i64,
    updated_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

impl TryFrom<RawNode> for NodeRow {
    type Error = StoreError;

    fn try_from(raw: RawNode) -> StoreResult<Self> {
        let where_ = || format!("node {:?} of execution {}", raw.node_id, raw.execution_id);
        let phase = parse_phase(&raw.phase, where_)?;
        let cache_status = parse_phase(&raw.cache_status, where_)?;
        let kind = parse_node_kind(&raw.kind).map_err(|error| StoreError::Corrupt(format!("{}: {error}", where_())))?;
        Ok(NodeRow {
            execution_id: raw.execution_id,
            node_id: raw.node_id,
            parent_id: raw.parent_id,
            local_id: raw.local_id,
            kind,
            definition: raw.definition,
            task: raw.task,
            phase,
            is_dynamic: raw.is_dynamic,
            attempts: raw.attempts,
            user_failures: raw.user_failures,
            system_failures: raw.system_failures,
            cache_status,
            upstream_pending: raw.upstream_pending,
            downstream: split_downstream(&raw.downstream),
            position: raw.position,
            children_total: raw.children_total,
            children_succeeded: raw.children_succeeded,
            children_failed: raw.children_failed,
            children_skipped: raw.children_skipped,
            children_created: raw.children_created,
            inputs: raw.inputs,
            outputs: raw.outputs,
            error: raw.error,
            child_execution_id: raw.child_execution_id,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            started_at: raw.started_at,
            finished_at: raw.finished_at,
        })
    }
}

/// An attempt as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RawAttempt {
    id: Uuid,
    execution_id: Uuid,
    node_id: String,
    attempt: i32,
    queue: String,
    task: String,
    project: Option<String>,
    phase: String,
    worker_id: Option<String>,
    not_before: i64,
    lease_expires_at: Option<i64>,
    error: Option<Vec<u8>>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    timeout_ms: Option<i64>,
    deadline: Option<i64>,
    queue_timeout_ms: Option<i64>,
}

impl TryFrom<RawAttempt> for AttemptRow {
    type Error = StoreError;

    fn try_from(raw: RawAttempt) -> StoreResult<Self> {
        let phase = parse_phase(&raw.phase, || format!("attempt {}", raw.id))?;
        Ok(AttemptRow {
            id: raw.id,
            execution_id: raw.execution_id,
            node_id: raw.node_id,
            attempt: raw.attempt,
            queue: raw.queue,
            task: raw.task,
            project: raw.project.unwrap_or_default(),
            phase,
            worker_id: raw.worker_id,
            not_before: raw.not_before,
            lease_expires_at: raw.lease_expires_at,
            timeout_ms: raw.timeout_ms,
            queue_timeout_ms: raw.queue_timeout_ms,
            deadline: raw.deadline,
            error: raw.error,
            created_at: raw.created_at,
            started_at: raw.started_at,
            finished_at: raw.finished_at,
        })
    }
}

/// A dynamic job spec as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RawSpec {
    execution_id: Uuid,
    node_id: String,
    attempt: i32,
    spec: Vec<u8>,
    created_at: i64,
}

impl From<RawSpec> for SpecRow {
    fn from(raw: RawSpec) -> Self {
        SpecRow {
            execution_id: raw.execution_id,
            node_id: raw.node_id,
            attempt: raw.attempt,
            spec: raw.spec.into(),
            created_at: raw.created_at,
        }
    }
}

/// A node an update started, from the row it wrote and the two columns it changed, as they were.
pub(crate) fn started_node(written: RawNode, before_phase: String, before_updated_at: i64) -> StoreResult<StartedNode> {
    let written = NodeRow::try_from(written)?;
    let mut before = written.clone();
    before.phase = parse_phase(&before_phase, || {
        format!("node {:?} of execution {}", written.node_id, written.execution_id)
    })?;
    before.updated_at = before_updated_at;
    Ok(StartedNode { before, written })
}

/// Decodes every raw row, failing on the first that cannot be read.
pub(crate) fn decode_all<R, T>(raws: Vec<R>) -> StoreResult<Vec<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    raws.into_iter().map(T::try_from).collect()
}

#[cfg(test)]
mod tests {
    use gantry_core::state::{AttemptPhase, NodePhase};

    use super::*;

    #[test]
    fn unsuccessful_phases_sql_lists_the_constant() {
        let listed: Vec<String> = unsuccessful_node_phases_sql!()
            .trim_matches(|c| c == '(' || c == ')')
            .split(", ")
            .map(|quoted| quoted.trim_matches('\'').to_owned())
            .collect();
        let expected: Vec<String> = UNSUCCESSFUL_NODE_PHASES
            .iter()
            .map(|phase| phase.as_str().to_owned())
            .collect();
        assert_eq!(listed, expected);
        for phase in UNSUCCESSFUL_NODE_PHASES {
            assert!(phase.is_terminal() && !phase.is_success(), "{phase:?}");
        }
    }

    #[test]
    fn terminal_phase_literal_matches_the_core() {
        let mut from_core: Vec<String> = NodePhase::ALL
            .into_iter()
            .filter(|p| p.is_terminal())
            .map(|p| format!("'{}'", p.as_str()))
            .collect();
        let mut from_sql: Vec<String> = terminal_node_phases_sql!()
            .trim_matches(|c| c == '(' || c == ')')
            .split(", ")
            .map(str::to_owned)
            .collect();
        from_core.sort();
        from_sql.sort();
        assert_eq!(from_core, from_sql);
        // The SQL of both stores spells these literally (partial indexes need literals).
        assert_eq!(AttemptPhase::Queued.as_str(), "queued");
        assert_eq!(AttemptPhase::Running.as_str(), "running");
        assert_eq!(AttemptPhase::Aborted.as_str(), "aborted");
        assert_eq!(NodePhase::Aborted.as_str(), "aborted");
    }

    #[test]
    fn kinds_and_downstream_round_trip() {
        for kind in [
            NodeKind::Task,
            NodeKind::Composite,
            NodeKind::LaunchPlan,
            NodeKind::Gate,
        ] {
            assert_eq!(parse_node_kind(node_kind_str(kind)), Ok(kind));
        }
        assert!(parse_node_kind("dynamic").is_err());
        for list in [vec![], vec!["a".to_owned()], vec!["a".to_owned(), "b_c".to_owned()]] {
            assert_eq!(split_downstream(&join_downstream(&list)), list);
        }
    }

    #[test]
    fn page_tokens_parse_or_fail_with_invalid_page() {
        let page = |after: &str| Page {
            after: Some(after.to_owned()),
            limit: 10,
        };
        assert_eq!(page_after_position(&page("42")).ok(), Some(Some(42)));
        assert!(matches!(
            page_after_position(&page("x")),
            Err(StoreError::InvalidPage(_))
        ));
        assert!(matches!(
            page_after_execution(&page("x")),
            Err(StoreError::InvalidPage(_))
        ));
        assert_eq!(
            page_after_resource(&page("n@v1")).ok(),
            Some(Some(("n".to_owned(), "v1".to_owned())))
        );
        for made_up in ["n@v1@x", "n\0@v1", "@v1"] {
            assert!(
                matches!(page_after_resource(&page(made_up)), Err(StoreError::InvalidPage(_))),
                "{made_up:?}"
            );
        }
        assert!(matches!(
            page_after_resource(&page("n")),
            Err(StoreError::InvalidPage(_))
        ));
        assert_eq!(page_after_position(&Page::default()).ok(), Some(None));
    }
}
