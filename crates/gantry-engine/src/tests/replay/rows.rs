//! What a replay reads: every stored row of one execution (the execution, its nodes at every depth, their attempts
//! and accepted specs), the registered tasks they run, and the cache entries under their cache keys. Rows are kept
//! as stored, so that a test can tamper with one before replaying.

use std::collections::BTreeMap;

use gantry_core::cache_key::{CacheKeyInput, cache_key};
use gantry_core::model::{DynamicJobSpec, TaskTemplate, WorkflowTemplate};
use gantry_store::{AttemptRow, CacheEntryRow, ExecutionRow, NodeRow, ResourceKind, Store};
use uuid::Uuid;

use crate::codec;
use crate::tests::harness::all_nodes;

/// The stored rows of one execution.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub execution: ExecutionRow,
    /// The workflow the execution runs, decoded from its row.
    pub workflow: WorkflowTemplate,
    /// Every node at every depth, by scoped id.
    pub nodes: Vec<NodeRow>,
    /// Each node's attempts, by attempt number.
    pub attempts: BTreeMap<String, Vec<AttemptRow>>,
    /// The accepted specs, by node and attempt.
    pub specs: BTreeMap<(String, i32), DynamicJobSpec>,
    /// The registered tasks the nodes run, by `project/domain/name@version`.
    pub tasks: BTreeMap<String, TaskTemplate>,
    /// For each node of a caching task with resolved inputs, the entry stored under its cache key, if any.
    pub cache: BTreeMap<String, CacheEntryRow>,
    /// The lease a claim grants, from the engine's configuration: rows keep only a lease's expiry.
    pub lease_ms: i64,
}

impl Snapshot {
    pub async fn read(store: &dyn Store, execution_id: Uuid, lease_ms: i64) -> Snapshot {
        let execution = store.get_execution(execution_id).await.expect("read").expect("exists");
        let workflow = codec::decode_workflow(&execution.workflow).expect("the execution's workflow");
        let nodes = all_nodes(store, execution_id).await;
        let mut snapshot = Snapshot {
            execution,
            workflow,
            nodes,
            attempts: BTreeMap::new(),
            specs: BTreeMap::new(),
            tasks: BTreeMap::new(),
            cache: BTreeMap::new(),
            lease_ms,
        };
        for node in &snapshot.nodes {
            let mut attempts = store
                .list_attempts(execution_id, &node.node_id)
                .await
                .expect("attempts");
            attempts.sort_by_key(|a| a.attempt);
            for attempt in &attempts {
                let spec = store
                    .get_spec(execution_id, &node.node_id, attempt.attempt)
                    .await
                    .expect("spec");
                if let Some(spec) = spec {
                    let decoded = codec::decode_spec(&spec.spec).expect("a stored spec decodes");
                    snapshot.specs.insert((node.node_id.clone(), attempt.attempt), decoded);
                }
            }
            snapshot.attempts.insert(node.node_id.clone(), attempts);
            if let Some(task_id) = &node.task
                && !snapshot.tasks.contains_key(task_id)
            {
                let key = codec::resource_key(&codec::parse_identifier(task_id).expect("a task id"));
                let row = store.get_resource(ResourceKind::Task, &key).await.expect("read");
                let task = codec::decode_task(&row.expect("the task is registered").template).expect("a task");
                snapshot.tasks.insert(task_id.clone(), task);
            }
        }
        snapshot.read_cache(store).await;
        snapshot
    }

    /// The cache entries under the keys of the nodes of caching tasks, read in a transaction rolled back.
    async fn read_cache(&mut self, store: &dyn Store) {
        let mut tx = store.begin().await.expect("a transaction");
        for node in &self.nodes {
            let (Some(task_id), Some(inputs)) = (&node.task, &node.inputs) else {
                continue;
            };
            let task = &self.tasks[task_id];
            if !task.metadata.cache {
                continue;
            }
            let inputs = codec::decode_literals(inputs).expect("inputs");
            let key = cache_key(&CacheKeyInput {
                project: &task.id.project,
                domain: &task.id.domain,
                task_name: &task.id.name,
                cache_version: &task.metadata.cache_version,
                interface: &task.interface,
                inputs: &inputs,
                plugin: task.plugin.as_ref(),
            });
            if let Some(entry) = tx.get_cache_entry(&key.0).await.expect("cache entry") {
                self.cache.insert(node.node_id.clone(), entry);
            }
        }
        tx.rollback().await.expect("rollback");
    }

    /// The children of `parent_id` (empty: the execution's top-level nodes), in no particular order.
    pub fn children_of(&self, parent_id: &str) -> Vec<&NodeRow> {
        self.nodes.iter().filter(|n| n.parent_id == parent_id).collect()
    }

    pub fn attempts_of(&self, node_id: &str) -> &[AttemptRow] {
        self.attempts.get(node_id).map_or(&[], Vec::as_slice)
    }

    pub fn node_mut(&mut self, node_id: &str) -> &mut NodeRow {
        self.nodes
            .iter_mut()
            .find(|n| n.node_id == node_id)
            .unwrap_or_else(|| panic!("no node {node_id:?}"))
    }
}
