//! The task cache. A task with `cache` on is memoised under the core's cache key; a node whose key has an entry
//! succeeds with its outputs without running (for a dynamic task: without its generator and every child). Entries are
//! written when a task node succeeds — for a dynamic parent, only once its whole sub-graph succeeded and its outputs
//! were assembled. `overwrite_cache` skips the lookup and replaces the entry.
//!
//! With `cache_serializable`, one node at a time holds a reservation of the key and runs; the others wait (left
//! not started, listed as waiters) and are started again when the holder settles: they then read its entry, or, if it
//! failed, one of them takes the reservation and runs. The reservation expires unless the holder's worker
//! heartbeats; an expired one may be taken over. Every way a node ends (settling, or an abort of its subtree)
//! releases what it holds, so waiters never depend on the expiry alone.

use gantry_core::cache_key::{CacheKeyInput, cache_key};
use gantry_core::model::{Identifier, LiteralMap, TaskTemplate};
use gantry_core::state::{NodeEvent, NodePhase};
use gantry_store::CacheEntryRow;
use tracing::debug;
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::EngineResult;

fn key_of(task: &TaskTemplate, inputs: &LiteralMap) -> String {
    cache_key(&CacheKeyInput {
        project: &task.id.project,
        domain: &task.id.domain,
        task_name: &task.id.name,
        cache_version: &task.metadata.cache_version,
        interface: &task.interface,
        inputs,
        plugin: task.plugin.as_ref(),
    })
    .0
}

impl Batch<'_> {
    /// How a task node with resolved `inputs` starts: from the cache, by running, or (`None`) not yet, waiting for
    /// another holder of its key.
    pub async fn start_task(
        &mut self,
        key: &NodeKey,
        task_id: &Identifier,
        inputs: &LiteralMap,
    ) -> EngineResult<Option<NodeEvent>> {
        let task = self
            .shared
            .templates
            .require_task(self.rows.tx.as_mut(), task_id)
            .await?;
        if !task.metadata.cache {
            return Ok(Some(NodeEvent::Start));
        }
        let cache_key = key_of(&task, inputs);
        if !self.rows.execution(key.0).await?.overwrite_cache
            && let Some(entry) = self.rows.tx.get_cache_entry(&cache_key).await?
        {
            debug!(execution_id = %key.0, node_id = %key.1, %cache_key, "cache hit");
            self.rows.node_mut(key).outputs = Some(entry.outputs);
            return Ok(Some(NodeEvent::CacheHit));
        }
        if !task.metadata.cache_serializable {
            return Ok(Some(NodeEvent::Start));
        }
        let expires_at = self.now + self.shared.config.cache_reservation.as_millis() as i64;
        let holder = self
            .rows
            .tx
            .reserve_cache(&cache_key, (key.0, &key.1), self.now, expires_at)
            .await?;
        match holder {
            None => Ok(Some(NodeEvent::Start)),
            Some((execution_id, node_id)) => {
                debug!(execution_id = %key.0, node_id = %key.1, holder_execution = %execution_id,
                    holder_node = %node_id, "waiting for the cache key's holder");
                self.rows
                    .tx
                    .add_cache_waiter(&cache_key, (key.0, &key.1), self.now)
                    .await?;
                Ok(None)
            }
        }
    }

    /// Writes a succeeded task node's outputs under its key.
    pub async fn write_cache(&mut self, key: &NodeKey) -> EngineResult<()> {
        let row = self.rows.node(key).await?;
        let (Some(inputs), Some(outputs), Some(task_id)) = (row.inputs.clone(), row.outputs.clone(), row.task.clone())
        else {
            return Ok(());
        };
        let task = self.task(&task_id).await?;
        let entry = CacheEntryRow {
            key: key_of(&task, &codec::decode_literals(&inputs)?),
            outputs,
            task: task_id,
            execution_id: key.0,
            node_id: key.1.clone(),
            created_at: self.now,
        };
        self.rows.tx.put_cache_entry(&entry).await?;
        Ok(())
    }

    /// A task node settled: it lets go of its reservation, and the nodes waiting on it start again.
    pub async fn release_reservation(&mut self, key: &NodeKey) -> EngineResult<()> {
        let row = self.rows.node(key).await?;
        let (Some(inputs), Some(task_id)) = (row.inputs.clone(), row.task.clone()) else {
            return Ok(());
        };
        let task = self.task(&task_id).await?;
        if !(task.metadata.cache && task.metadata.cache_serializable) {
            return Ok(());
        }
        let cache_key = key_of(&task, &codec::decode_literals(&inputs)?);
        self.release_and_wake(&cache_key, (key.0, &key.1)).await
    }

    /// Releases the reservations held by nodes below `node_id` (the whole execution when `None`), which a bulk abort
    /// ended without settling them one by one.
    pub async fn release_reservations_below(&mut self, execution_id: Uuid, node_id: Option<&str>) -> EngineResult<()> {
        for (cache_key, holder) in self.rows.tx.reservations_below(execution_id, node_id).await? {
            self.release_and_wake(&cache_key, (execution_id, &holder)).await?;
        }
        Ok(())
    }

    async fn release_and_wake(&mut self, cache_key: &str, holder: (Uuid, &str)) -> EngineResult<()> {
        for waiter in self.rows.tx.release_cache(cache_key, holder).await? {
            if self.rows.node(&waiter).await?.phase == NodePhase::NotStarted {
                self.start_node(&waiter).await?;
            }
        }
        Ok(())
    }

    /// Extends the reservations of the nodes whose workers just heartbeated.
    pub async fn extend_reservations(&mut self, nodes: Vec<(Uuid, String)>) -> EngineResult<()> {
        if nodes.is_empty() {
            return Ok(());
        }
        let expires_at = self.now + self.shared.config.cache_reservation.as_millis() as i64;
        self.rows.tx.extend_cache_reservations(&nodes, expires_at).await?;
        Ok(())
    }
}
