//! Rows for the cases, with every field set to something a store could get wrong.

use gantry_core::state::{AttemptPhase, CacheStatus, ExecutionPhase, NodeKind, NodePhase};
use gantry_store::{AttemptRow, ExecutionRow, NodeRow, ResourceKey, ResourceRow, Store};
use uuid::Uuid;

pub fn resource(project: &str, name: &str, version: &str, template: &[u8]) -> ResourceRow {
    ResourceRow {
        key: ResourceKey {
            project: project.to_owned(),
            domain: "development".to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
        },
        template: template.to_vec(),
        created_at: 1_000,
    }
}

pub fn execution(project: &str, domain: &str, name: &str) -> ExecutionRow {
    ExecutionRow {
        id: Uuid::now_v7(),
        project: project.to_owned(),
        domain: domain.to_owned(),
        name: name.to_owned(),
        target_kind: "workflow".to_owned(),
        target: format!("{project}/{domain}/wf@v1"),
        workflow: vec![1, 2, 3],
        phase: ExecutionPhase::Queued,
        inputs: vec![4, 5],
        outputs: None,
        error: None,
        max_parallelism: Some(25),
        overwrite_cache: true,
        timeout_ms: None,
        deadline: None,
        parent_execution_id: None,
        parent_node_id: Some("parent/0/n".to_owned()),
        origin: "created".to_owned(),
        source_execution_id: None,
        trace_context: None,
        nodes_total: 3,
        nodes_succeeded: 0,
        nodes_failed: 0,
        nodes_skipped: 0,
        created_at: 10,
        updated_at: 11,
        started_at: None,
        finished_at: None,
    }
}

/// A task node `node_id` (scoped: `parent/0/local`, or `local` at the top).
pub fn node(execution_id: Uuid, node_id: &str, position: i64) -> NodeRow {
    let (parent_id, local_id) = match node_id.rsplit_once('/') {
        Some((parent_and_attempt, local)) => {
            let (parent, _attempt) = parent_and_attempt.rsplit_once('/').unwrap();
            (parent.to_owned(), local.to_owned())
        }
        None => (String::new(), node_id.to_owned()),
    };
    NodeRow {
        execution_id,
        node_id: node_id.to_owned(),
        parent_id,
        local_id,
        kind: NodeKind::Task,
        definition: format!("def:{node_id}").into_bytes(),
        task: Some("p/d/t@v1".to_owned()),
        phase: NodePhase::NotStarted,
        is_dynamic: false,
        attempts: 0,
        user_failures: 0,
        system_failures: 0,
        cache_status: CacheStatus::Disabled,
        upstream_pending: 1,
        downstream: vec!["next".to_owned(), "other_one".to_owned()],
        position,
        children_total: 0,
        children_succeeded: 0,
        children_failed: 0,
        children_skipped: 0,
        children_created: 0,
        inputs: None,
        outputs: None,
        error: None,
        child_execution_id: None,
        created_at: 20,
        updated_at: 20,
        started_at: None,
        finished_at: None,
    }
}

/// A queued attempt 0 of `node_id` on `queue`, claimable from `not_before`.
pub fn attempt(execution_id: Uuid, node_id: &str, queue: &str, not_before: i64) -> AttemptRow {
    AttemptRow {
        id: Uuid::now_v7(),
        execution_id,
        node_id: node_id.to_owned(),
        attempt: 0,
        queue: queue.to_owned(),
        task: "p/d/t@v1".to_owned(),
        project: "p".to_owned(),
        phase: AttemptPhase::Queued,
        worker_id: None,
        not_before,
        lease_expires_at: None,
        timeout_ms: None,
        queue_timeout_ms: None,
        deadline: None,
        error: None,
        created_at: 30,
        started_at: None,
        finished_at: None,
    }
}

/// Commits a new execution `name` in `p/d` and returns it.
pub async fn committed_execution(store: &dyn Store, name: &str) -> ExecutionRow {
    let row = execution("p", "d", name);
    let mut tx = store.begin().await.unwrap();
    tx.insert_execution(&row).await.unwrap();
    tx.commit().await.unwrap();
    row
}

/// Commits `count` queued attempts on `queue` (one node each, `n0`, `n1`, ...), in id order.
pub async fn committed_attempts(store: &dyn Store, execution_id: Uuid, queue: &str, count: usize) -> Vec<AttemptRow> {
    let attempts: Vec<AttemptRow> = (0..count)
        .map(|i| attempt(execution_id, &format!("{queue}-n{i}"), queue, 0))
        .collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_attempts(&attempts).await.unwrap();
    tx.commit().await.unwrap();
    attempts
}
