//! The rows the store reads and writes. Phases are the core's enums; protobuf-encoded values (templates, node
//! definitions, literal maps, errors, specs) are opaque bytes here: the store never decodes them.

use gantry_core::state::{AttemptPhase, CacheStatus, ExecutionPhase, NodeKind, NodePhase};
use uuid::Uuid;

/// What kind of registered resource a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// A task: the unit a worker runs.
    Task,
    /// A workflow: a graph of nodes.
    Workflow,
    /// A launch plan: a workflow with fixed and default inputs.
    LaunchPlan,
}

/// `project/domain/name@version` of a registered resource, split.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    /// The project it belongs to.
    pub project: String,
    /// The domain within the project (`development`, `production`, ...).
    pub domain: String,
    /// Its name, unique with project and domain (and version, for resources).
    pub name: String,
    /// The version the client registered it under.
    pub version: String,
}

/// A registered task, workflow or launch plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRow {
    /// `project/domain/name@version`.
    pub key: ResourceKey,
    /// The protobuf template as registered.
    pub template: Vec<u8>,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// One execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRow {
    /// A UUIDv7: ids sort by creation time.
    pub id: Uuid,
    /// The project it belongs to.
    pub project: String,
    /// The domain within the project (`development`, `production`, ...).
    pub domain: String,
    /// Its name, unique with project and domain (and version, for resources).
    pub name: String,
    /// `task`, `workflow` or `launch_plan`.
    pub target_kind: String,
    /// `project/domain/name@version` of the target.
    pub target: String,
    /// protobuf WorkflowTemplate the execution runs.
    pub workflow: Vec<u8>,
    /// Where its state machine stands.
    pub phase: ExecutionPhase,
    /// protobuf LiteralMap.
    pub inputs: Vec<u8>,
    /// protobuf LiteralMap, once the execution succeeded.
    pub outputs: Option<Vec<u8>>,
    /// protobuf ExecutionError.
    pub error: Option<Vec<u8>>,
    /// At most this many nodes run at once; `None`: no limit.
    pub max_parallelism: Option<i32>,
    /// Skip cache lookups and replace the entries.
    pub overwrite_cache: bool,
    /// The execution's timeout in milliseconds; `None`: no limit.
    pub timeout_ms: Option<i64>,
    /// `created_at + timeout_ms`: past it, a non-terminal execution times out.
    pub deadline: Option<i64>,
    /// The execution whose launch-plan node started this one.
    pub parent_execution_id: Option<Uuid>,
    /// That node's scoped id.
    pub parent_node_id: Option<String>,
    /// `created`, `relaunched` or `recovered`.
    pub origin: String,
    /// For a relaunch or recovery: the execution it was made from.
    pub source_execution_id: Option<Uuid>,
    /// The W3C trace context it was submitted in, as `gantry_telemetry::TraceContext::to_stored` writes it.
    pub trace_context: Option<String>,
    /// Top-level nodes.
    pub nodes_total: i64,
    /// Top-level nodes that succeeded.
    pub nodes_succeeded: i64,
    /// Top-level nodes that failed.
    pub nodes_failed: i64,
    /// Top-level nodes that were skipped.
    pub nodes_skipped: i64,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it last changed, in milliseconds since the Unix epoch.
    pub updated_at: i64,
    /// When it started running, in milliseconds since the Unix epoch.
    pub started_at: Option<i64>,
    /// When it reached a terminal phase, in milliseconds since the Unix epoch.
    pub finished_at: Option<i64>,
}

/// A node [`crate::Tx::start_nodes`] started: as it was, and as the statement wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedNode {
    /// The row as the transaction found it, for the engine to decide on.
    pub before: NodeRow,
    /// The row as the statement wrote it: `before` moved to `running` as of the claim.
    pub written: NodeRow,
}

impl StartedNode {
    /// The row as found, and as written once started at `now`.
    pub(crate) fn start(before: NodeRow, now: i64) -> Self {
        let mut written = before.clone();
        written.phase = NodePhase::Running;
        written.updated_at = now;
        Self { before, written }
    }
}

/// One node execution. `node_id` is the exact scoped id (`gen/0/dn3`); `parent_id` is empty at the top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// The execution it belongs to.
    pub execution_id: Uuid,
    /// The scoped id of its node.
    pub node_id: String,
    /// The scoped id of the parent node; empty at the top level.
    pub parent_id: String,
    /// The id within its parent's workflow or spec.
    pub local_id: String,
    /// Task, composite or launch plan.
    pub kind: NodeKind,
    /// protobuf Node as written in its workflow or spec.
    pub definition: Vec<u8>,
    /// For task nodes, `project/domain/name@version` of the task.
    pub task: Option<String>,
    /// Where its state machine stands.
    pub phase: NodePhase,
    /// A task node whose attempt returned a dynamic spec: its children come from that spec.
    pub is_dynamic: bool,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts that failed with a user error.
    pub user_failures: i32,
    /// Attempts that failed with a system error.
    pub system_failures: i32,
    /// Whether the result came from the cache.
    pub cache_status: CacheStatus,
    /// Upstream siblings that have not succeeded yet; the node starts at 0.
    pub upstream_pending: i32,
    /// Local ids of the siblings that wait on this node.
    pub downstream: Vec<String>,
    /// The node's index among its siblings (declaration order in its workflow or spec): listings are in this order.
    pub position: i64,
    /// Children created.
    pub children_total: i64,
    /// Children that succeeded.
    pub children_succeeded: i64,
    /// Children that failed.
    pub children_failed: i64,
    /// Children that were skipped.
    pub children_skipped: i64,
    /// How many of the children exist: they are created in chunks, and one below `children_total` means more are
    /// still to be created.
    pub children_created: i64,
    /// protobuf LiteralMap, once resolved.
    pub inputs: Option<Vec<u8>>,
    /// protobuf LiteralMap, once the node succeeded.
    pub outputs: Option<Vec<u8>>,
    /// protobuf ExecutionError.
    pub error: Option<Vec<u8>>,
    /// For launch-plan nodes, the execution it started.
    pub child_execution_id: Option<Uuid>,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it last changed, in milliseconds since the Unix epoch.
    pub updated_at: i64,
    /// When it started running, in milliseconds since the Unix epoch.
    pub started_at: Option<i64>,
    /// When it reached a terminal phase, in milliseconds since the Unix epoch.
    pub finished_at: Option<i64>,
}

/// One attempt of a task node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// A UUIDv7: ids sort by creation time.
    pub id: Uuid,
    /// The execution it belongs to.
    pub execution_id: Uuid,
    /// The scoped id of its node.
    pub node_id: String,
    /// The attempt number, from 0.
    pub attempt: i32,
    /// The queue workers claim it from.
    pub queue: String,
    /// `project/domain/name@version` of the task.
    pub task: String,
    /// The project of its execution (which a worker of one project claims by); empty for attempts that finished
    /// before projects were recorded.
    pub project: String,
    /// Where its state machine stands.
    pub phase: AttemptPhase,
    /// The worker that claimed it.
    pub worker_id: Option<String>,
    /// Not claimable before this time (a retry's backoff).
    pub not_before: i64,
    /// While running: the worker must renew its lease before this time.
    pub lease_expires_at: Option<i64>,
    /// The attempt timeout in milliseconds (the node's override, else the task's), counted from the claim; `None`:
    /// no limit.
    pub timeout_ms: Option<i64>,
    /// The queue timeout in milliseconds, counted from when the attempt becomes claimable; `None`: no limit.
    pub queue_timeout_ms: Option<i64>,
    /// Queued: when a worker must have claimed it by (the queue timeout; none while parked). Running: when it must have finished by
    /// (claim time + `timeout_ms`). `None`: no limit.
    pub deadline: Option<i64>,
    /// protobuf ExecutionError.
    pub error: Option<Vec<u8>>,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it started running, in milliseconds since the Unix epoch.
    pub started_at: Option<i64>,
    /// When it reached a terminal phase, in milliseconds since the Unix epoch.
    pub finished_at: Option<i64>,
}

/// An accepted dynamic job spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecRow {
    /// The execution it belongs to.
    pub execution_id: Uuid,
    /// The scoped id of its node.
    pub node_id: String,
    /// The attempt number, from 0.
    pub attempt: i32,
    /// protobuf DynamicJobSpec.
    pub spec: bytes::Bytes,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// Which executions to list; every filter given narrows the listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    /// Only executions of this project; `None`: every project.
    pub project: Option<String>,
    /// Only executions of this domain; `None`: every domain.
    pub domain: Option<String>,
    /// Empty means every phase.
    pub phases: Vec<ExecutionPhase>,
    /// Only executions of this target; `None`: every target.
    pub target: Option<TargetFilter>,
    /// Only executions created at or after this time, in milliseconds since the Unix epoch.
    pub created_after: Option<i64>,
    /// Only executions created before this time, in milliseconds since the Unix epoch.
    pub created_before: Option<i64>,
    /// Only executions whose name starts with this text, or whose id it is (any form a UUID parses from).
    pub search: Option<String>,
}

/// The target of the executions to list: its kind and identifier, every version when `version` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFilter {
    /// What kind of resource the executions run.
    pub kind: gantry_core::model::ResourceKind,
    /// The target's project (not necessarily the execution's).
    pub project: String,
    /// The target's domain.
    pub domain: String,
    /// The target's name.
    pub name: String,
    /// Only this version; `None`: every version.
    pub version: Option<String>,
}

/// What is in flight, counted for the operators' gauges (`gantry_executions`, `gantry_nodes`, `gantry_attempts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveCounts {
    /// Executions not yet ended, by phase.
    pub executions: Vec<(String, i64)>,
    /// Nodes not yet ended of the executions not yet ended, by phase.
    pub nodes: Vec<(String, i64)>,
    /// Queued (parked ones included) and running attempts, by queue and phase.
    pub attempts: Vec<(String, String, i64)>,
}

/// A connection pool's use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open, idle or in use.
    pub open: u32,
    /// Open connections nobody uses.
    pub idle: u32,
}

/// A page of a listing: at most `limit` rows after `after` (the last key of the previous page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The last key of the previous page; `None` for the first page.
    pub after: Option<String>,
    /// At most this many rows.
    pub limit: u32,
}

/// A launch plan's schedule, where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// The launch plan.
    pub key: ResourceKey,
    pub active: bool,
    /// When it was last activated (a fixed rate ticks from it), or registered.
    pub anchor: i64,
    /// The next tick to run, while active.
    pub next_tick: Option<i64>,
    /// The last tick that started an execution.
    pub last_tick: Option<i64>,
    /// When it was last activated or deactivated (or registered).
    pub changed_at: i64,
}

/// A gate node that waits: the signal it waits for and when it stops waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRow {
    pub execution_id: Uuid,
    /// The gate's scoped node id.
    pub node_id: String,
    /// The signal it waits for; `None` for a sleep.
    pub signal_id: Option<String>,
    /// The end of its sleep or timeout, in milliseconds since the Unix epoch; `None` waits as long as the execution
    /// runs.
    pub deadline: Option<i64>,
}

/// A signal set on an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRow {
    pub execution_id: Uuid,
    pub signal_id: String,
    /// protobuf Literal.
    pub value: Vec<u8>,
    /// When it was set, in milliseconds since the Unix epoch.
    pub set_at: i64,
    /// The principal that set it.
    pub set_by: String,
}

/// A memoised task result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntryRow {
    /// The core's cache key.
    pub key: String,
    /// protobuf LiteralMap.
    pub outputs: Vec<u8>,
    /// `project/domain/name@version` of the task that wrote it.
    pub task: String,
    /// The execution of the node execution that wrote it.
    pub execution_id: Uuid,
    /// The scoped id of that node.
    pub node_id: String,
    /// When it was written, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// One entry of the audit log: a mutating call, who made it and how it ended. Never updated once written.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    /// UUIDv7: listings go newest first by id.
    pub id: Uuid,
    /// The caller's stable, non-secret name.
    pub principal: String,
    /// When the call was answered, in milliseconds since the Unix epoch.
    pub at: i64,
    /// The method's name (`CreateExecution`).
    pub rpc: String,
    /// What the call acted on; empty where the request did not say.
    pub project: String,
    pub domain: String,
    /// `name@version` of a registration, an execution's id; empty where the request did not say.
    pub target: String,
    /// A short description of the request, without input values or secrets.
    pub summary: String,
    /// `OK`, or the gRPC code's name (`NOT_FOUND`).
    pub outcome: String,
    /// The status message; empty for `OK`.
    pub message: String,
}

/// Which audit entries to list; every field narrows the listing, `None` leaves it open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub principal: Option<String>,
    pub project: Option<String>,
    pub rpc: Option<String>,
    /// Only entries at or after this time (milliseconds since the Unix epoch).
    pub since: Option<i64>,
    /// Only entries before this time.
    pub until: Option<i64>,
}
