//! Recovery: an execution made from an earlier, unsuccessful one reuses what that one achieved. A node whose
//! namesake (the same scoped id) succeeded there is RECOVERED with its inputs and outputs; a dynamic node whose
//! namesake had its spec accepted reuses that spec under the same attempt number instead of running its generator,
//! so its children get the same ids and are recovered in turn. Everything else runs.

use gantry_core::compile::{Registry, compile_dynamic};
use gantry_core::state::{NodeEvent, NodeKind};
use tracing::{debug, warn};

use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::EngineResult;

impl Batch<'_> {
    /// Recovers the node from the execution it was recovered from, if there is anything to reuse; `true` when it
    /// queued the node's event.
    pub async fn try_recover(&mut self, key: &NodeKey) -> EngineResult<bool> {
        let Some(source) = self.facts(key.0).await?.recovered_from else {
            return Ok(false);
        };
        // Read in the batch's transaction: a snapshot with the rest, and no second connection (an in-memory SQLite
        // store has one).
        let namesake = self.rows.tx.lock_nodes(source, std::slice::from_ref(&key.1)).await?;
        let Some(old) = namesake.into_iter().next() else {
            return Ok(false);
        };
        self.rows.node(key).await?;
        if old.phase.is_success() {
            debug!(execution_id = %key.0, node_id = %key.1, %source, "recovered");
            let row = self.rows.node_mut(key);
            row.inputs = old.inputs;
            row.outputs = old.outputs;
            self.events.push_back((key.clone(), NodeEvent::Recover));
            return Ok(true);
        }
        if !(old.is_dynamic && old.kind == NodeKind::Task) {
            return Ok(false);
        }
        let attempt = old.attempts.saturating_sub(1);
        let Some(spec_row) = self.rows.tx.get_spec(source, &key.1, attempt).await? else {
            return Ok(false);
        };
        let spec = codec::decode_spec(&spec_row.spec)?;
        let task = self.task(&old.task.clone().unwrap_or_default()).await?;
        let registry = self
            .shared
            .templates
            .registry_for(self.rows.tx.as_mut(), &spec.nodes, &Registry::new())
            .await?;
        let graph = match compile_dynamic(&spec, &task.interface, &registry) {
            Ok(graph) => graph,
            Err(errors) => {
                warn!(execution_id = %key.0, node_id = %key.1, %errors, "an earlier spec no longer compiles; running again");
                return Ok(false);
            }
        };
        debug!(execution_id = %key.0, node_id = %key.1, %source, attempt, "reusing the earlier spec");
        self.rows.node_mut(key).inputs = old.inputs;
        self.install_spec(key, attempt, &spec, std::sync::Arc::new(graph), &task, spec_row.spec);
        let attempt = attempt as u32;
        self.events
            .push_back((key.clone(), NodeEvent::SpecRecovered { attempt }));
        Ok(true)
    }
}
