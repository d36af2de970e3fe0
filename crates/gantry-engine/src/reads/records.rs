//! Typed reads of what the store holds: executions, nodes, attempts and registered templates as records of the core's
//! types. Every stored value a record shows is decoded here, once (errors, templates, target identifiers, what a node
//! runs); the values of an execution or node (inputs, outputs) stay as stored until a data read fits them to a
//! response (`Engine::execution_values`, `Engine::node_values`), so that a listing never decodes them. Of a node's
//! definition only its target is read: its bindings can hold large literals, and no record shows them.
//!
//! The server reads only through these; it never sees a row or stored bytes.

use gantry_core::model::{ExecutionError, Identifier, LaunchPlan, ResourceKind, TaskTemplate, WorkflowTemplate};
use gantry_core::state::{AttemptPhase, CacheStatus, ExecutionPhase, NodePhase};
use gantry_store::{AttemptRow, ExecutionFilter, ExecutionRow, NodeRow, Page, ResourceKind as StoredKind};
use uuid::Uuid;

use crate::Engine;
use crate::codec::{self, NodeRuns};
use crate::error::{EngineError, EngineResult};

/// How an execution came to be, as clients are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionOrigin {
    Created,
    Relaunched,
    Recovered,
    /// Started by a launch-plan node of another execution.
    Child,
    /// Started by its launch plan's schedule.
    Scheduled,
}

/// One execution, without its values.
#[derive(Debug, Clone)]
pub struct ExecutionRecord {
    /// A UUIDv7: ids sort by creation time.
    pub id: Uuid,
    pub project: String,
    pub domain: String,
    pub name: String,
    /// What it runs: a task, a workflow or a launch plan.
    pub target_kind: ResourceKind,
    pub target: Identifier,
    pub phase: ExecutionPhase,
    pub error: Option<ExecutionError>,
    /// At most this many nodes run at once; `None`: no limit.
    pub max_parallelism: Option<u32>,
    pub overwrite_cache: bool,
    pub timeout_ms: Option<i64>,
    /// `created_at + timeout_ms`.
    pub deadline_ms: Option<i64>,
    pub origin: ExecutionOrigin,
    /// The execution whose launch-plan node started this one.
    pub parent_execution_id: Option<Uuid>,
    /// That node's scoped id.
    pub parent_node_id: Option<String>,
    /// For a relaunch or recovery: the execution it was made from.
    pub source_execution_id: Option<Uuid>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub(crate) values: StoredValues,
}

/// One node execution, without its values.
#[derive(Debug, Clone)]
pub struct NodeRecord {
    pub execution_id: Uuid,
    /// The exact scoped id (`gen/0/dn3`).
    pub node_id: String,
    /// The scoped id of the parent node; empty at the top level.
    pub parent_id: String,
    /// What it runs, from its definition in its workflow or spec.
    pub runs: NodeRuns,
    pub phase: NodePhase,
    /// A task node whose attempt returned a dynamic spec.
    pub is_dynamic: bool,
    /// Attempts started so far.
    pub attempts: u32,
    pub user_failures: u32,
    pub system_failures: u32,
    pub cache_status: CacheStatus,
    /// Its index among its siblings: the key of `list_nodes` pages.
    pub position: i64,
    /// Children created so far.
    pub children_total: i64,
    pub error: Option<ExecutionError>,
    /// For a launch-plan node, the execution it started.
    pub child_execution_id: Option<Uuid>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// Which attempt's spec a dynamic parent's data read shows (its last), as stored.
    pub(crate) last_attempt: i32,
    pub(crate) values: StoredValues,
}

/// One attempt of a task node.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub execution_id: Uuid,
    pub node_id: String,
    /// The attempt number, from 0.
    pub attempt: u32,
    pub phase: AttemptPhase,
    pub worker_id: Option<String>,
    /// Not claimable before this time (a retry's backoff).
    pub not_before_ms: i64,
    pub lease_expires_at_ms: Option<i64>,
    /// When it must be claimed by (queued) or finished by (running).
    pub deadline_ms: Option<i64>,
    pub error: Option<ExecutionError>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

/// A registered template in a listing, with its page key (`name@version`).
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub key: String,
    pub template: T,
}

/// The values of an execution or node as stored (protobuf-encoded literal maps), decoded only by a data read, and
/// the stored size of its error, which a data response carries beside them.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoredValues {
    pub inputs: Option<Vec<u8>>,
    pub outputs: Option<Vec<u8>>,
    pub error_bytes: u64,
}

fn error(bytes: Option<Vec<u8>>) -> EngineResult<Option<ExecutionError>> {
    bytes.as_deref().map(codec::decode_error).transpose()
}

fn error_bytes(bytes: &Option<Vec<u8>>) -> u64 {
    bytes.as_ref().map_or(0, |b| b.len() as u64)
}

impl ExecutionRecord {
    pub(crate) fn from_row(row: ExecutionRow) -> EngineResult<Self> {
        let target_kind = match row.target_kind.as_str() {
            "task" => ResourceKind::Task,
            "workflow" => ResourceKind::Workflow,
            _ => ResourceKind::LaunchPlan,
        };
        let origin = match (row.parent_execution_id, row.origin.as_str()) {
            (Some(_), _) => ExecutionOrigin::Child,
            (None, "relaunched") => ExecutionOrigin::Relaunched,
            (None, "recovered") => ExecutionOrigin::Recovered,
            (None, "scheduled") => ExecutionOrigin::Scheduled,
            (None, _) => ExecutionOrigin::Created,
        };
        let values = StoredValues {
            inputs: Some(row.inputs),
            outputs: row.outputs,
            error_bytes: error_bytes(&row.error),
        };
        Ok(ExecutionRecord {
            id: row.id,
            project: row.project,
            domain: row.domain,
            name: row.name,
            target_kind,
            target: codec::parse_identifier(&row.target)?,
            phase: row.phase,
            error: error(row.error)?,
            max_parallelism: row.max_parallelism.map(|n| n as u32),
            overwrite_cache: row.overwrite_cache,
            timeout_ms: row.timeout_ms,
            deadline_ms: row.deadline,
            origin,
            parent_execution_id: row.parent_execution_id,
            parent_node_id: row.parent_node_id,
            source_execution_id: row.source_execution_id,
            created_at_ms: row.created_at,
            updated_at_ms: row.updated_at,
            started_at_ms: row.started_at,
            finished_at_ms: row.finished_at,
            values,
        })
    }
}

impl NodeRecord {
    pub(crate) fn from_row(row: NodeRow) -> EngineResult<Self> {
        let values = StoredValues {
            inputs: row.inputs,
            outputs: row.outputs,
            error_bytes: error_bytes(&row.error),
        };
        Ok(NodeRecord {
            runs: codec::decode_node_runs(&row.definition)?,
            execution_id: row.execution_id,
            node_id: row.node_id,
            parent_id: row.parent_id,
            phase: row.phase,
            is_dynamic: row.is_dynamic,
            attempts: row.attempts as u32,
            user_failures: row.user_failures as u32,
            system_failures: row.system_failures as u32,
            cache_status: row.cache_status,
            position: row.position,
            children_total: row.children_total,
            error: error(row.error)?,
            child_execution_id: row.child_execution_id,
            created_at_ms: row.created_at,
            updated_at_ms: row.updated_at,
            started_at_ms: row.started_at,
            finished_at_ms: row.finished_at,
            last_attempt: row.attempts.saturating_sub(1),
            values,
        })
    }
}

impl AttemptRecord {
    fn from_row(row: AttemptRow) -> EngineResult<Self> {
        Ok(AttemptRecord {
            execution_id: row.execution_id,
            node_id: row.node_id,
            attempt: row.attempt as u32,
            phase: row.phase,
            worker_id: row.worker_id,
            not_before_ms: row.not_before,
            lease_expires_at_ms: row.lease_expires_at,
            deadline_ms: row.deadline,
            error: error(row.error)?,
            created_at_ms: row.created_at,
            started_at_ms: row.started_at,
            finished_at_ms: row.finished_at,
        })
    }
}

mod sealed {
    use crate::error::EngineResult;

    /// What the engine needs to read a kind of template; not for other crates to implement.
    pub trait Sealed: Sized {
        const KIND: gantry_core::model::ResourceKind;
        fn decode(bytes: &[u8]) -> EngineResult<Self>;
    }
}

/// A kind of registered template: [`TaskTemplate`], [`WorkflowTemplate`] or [`LaunchPlan`].
pub trait Template: sealed::Sealed {
    /// The kind of resource it is.
    fn kind() -> ResourceKind {
        <Self as sealed::Sealed>::KIND
    }
}

impl sealed::Sealed for TaskTemplate {
    const KIND: ResourceKind = ResourceKind::Task;
    fn decode(bytes: &[u8]) -> EngineResult<Self> {
        codec::decode_task(bytes)
    }
}

impl sealed::Sealed for WorkflowTemplate {
    const KIND: ResourceKind = ResourceKind::Workflow;
    fn decode(bytes: &[u8]) -> EngineResult<Self> {
        codec::decode_workflow(bytes)
    }
}

impl sealed::Sealed for LaunchPlan {
    const KIND: ResourceKind = ResourceKind::LaunchPlan;
    fn decode(bytes: &[u8]) -> EngineResult<Self> {
        codec::decode_launch_plan(bytes)
    }
}

impl Template for TaskTemplate {}
impl Template for WorkflowTemplate {}
impl Template for LaunchPlan {}

fn stored_kind(kind: ResourceKind) -> StoredKind {
    match kind {
        ResourceKind::Task => StoredKind::Task,
        ResourceKind::Workflow => StoredKind::Workflow,
        ResourceKind::LaunchPlan => StoredKind::LaunchPlan,
    }
}

fn all<R, T>(rows: Vec<R>, convert: impl Fn(R) -> EngineResult<T>) -> EngineResult<Vec<T>> {
    rows.into_iter().map(convert).collect()
}

impl Engine {
    /// A registered template; NotFound (`task ID is not registered`) when there is none.
    pub async fn get_template<T: Template>(&self, id: &Identifier) -> EngineResult<T> {
        let kind = <T as sealed::Sealed>::KIND;
        let row = self
            .shared
            .store
            .get_resource(stored_kind(kind), &codec::resource_key(id))
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("{kind} {id} is not registered")))?;
        T::decode(&row.template)
    }

    /// The version of `name` of kind `kind` registered last in a project and domain; `None` when none is.
    pub async fn latest_version(
        &self,
        kind: ResourceKind,
        (project, domain, name): (&str, &str, &str),
    ) -> EngineResult<Option<String>> {
        Ok(self
            .shared
            .store
            .latest_version(stored_kind(kind), project, domain, name)
            .await?)
    }

    /// A page of the registered templates of one kind in a project and domain, of one name if given, by name and
    /// version.
    pub async fn list_templates<T: Template>(
        &self,
        (project, domain): (&str, &str),
        name: Option<&str>,
        page: &Page,
    ) -> EngineResult<Vec<Listed<T>>> {
        let kind = stored_kind(<T as sealed::Sealed>::KIND);
        let rows = self
            .shared
            .store
            .list_resources(kind, project, domain, name, page)
            .await?;
        all(rows, |row| {
            Ok(Listed {
                key: format!("{}@{}", row.key.name, row.key.version),
                template: T::decode(&row.template)?,
            })
        })
    }

    /// One execution; `None` when there is none.
    pub async fn get_execution(&self, id: Uuid) -> EngineResult<Option<ExecutionRecord>> {
        let row = self.shared.store.get_execution(id).await?;
        row.map(ExecutionRecord::from_row).transpose()
    }

    /// A page of executions, by id.
    pub async fn list_executions(&self, filter: &ExecutionFilter, page: &Page) -> EngineResult<Vec<ExecutionRecord>> {
        let rows = self.shared.store.list_executions(filter, page).await?;
        all(rows, ExecutionRecord::from_row)
    }

    /// One node of an execution; `None` when there is none.
    pub async fn get_node(&self, execution_id: Uuid, node_id: &str) -> EngineResult<Option<NodeRecord>> {
        let row = self.shared.store.get_node(execution_id, node_id).await?;
        row.map(NodeRecord::from_row).transpose()
    }

    /// A page of the children of `parent_id` (the top level when empty), by position.
    pub async fn list_nodes(&self, execution_id: Uuid, parent_id: &str, page: &Page) -> EngineResult<Vec<NodeRecord>> {
        let rows = self.shared.store.list_nodes(execution_id, parent_id, page).await?;
        all(rows, NodeRecord::from_row)
    }

    /// A page of the nodes below `below` at any depth, in one of `phases` (any when empty), by node id.
    pub async fn list_descendants(
        &self,
        execution_id: Uuid,
        below: &str,
        phases: &[NodePhase],
        page: &Page,
    ) -> EngineResult<Vec<NodeRecord>> {
        let rows = self
            .shared
            .store
            .list_descendants(execution_id, below, phases, page)
            .await?;
        all(rows, NodeRecord::from_row)
    }

    /// Every attempt of a task node, in order.
    pub async fn list_attempts(&self, execution_id: Uuid, node_id: &str) -> EngineResult<Vec<AttemptRecord>> {
        let rows = self.shared.store.list_attempts(execution_id, node_id).await?;
        all(rows, AttemptRecord::from_row)
    }
}
