//! What every part of the engine shares: the store, caches of immutable data, signals and settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gantry_core::model::{Binding, Variable};
use gantry_core::state::ChildRule;
use gantry_store::Store;
use uuid::Uuid;

use crate::config::EngineConfig;
use crate::notify::Signals;
use crate::templates::TemplateCache;

/// How a composite's outputs are assembled and how its children's failures count: the part of a workflow or an
/// accepted spec still needed after its children exist. Immutable once written, so cached.
#[derive(Debug, Clone)]
pub(crate) struct GraphInfo {
    /// The output bindings of the workflow or spec.
    pub outputs: Vec<Binding>,
    /// The outputs they must produce: the workflow's, or the dynamic parent task's.
    pub output_vars: Vec<Variable>,
    pub rule: ChildRule,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub store: Arc<dyn Store>,
    pub templates: TemplateCache,
    pub signals: Signals,
    pub config: EngineConfig,
    /// Wakes the sweeper when a delayed attempt was queued (see `sweep.rs`).
    pub sweeper_poke: Arc<tokio::sync::Notify>,
    /// Keyed by (execution, scoped node id, attempt); the execution's own workflow under an empty node id.
    graphs: Mutex<HashMap<(Uuid, String, i32), Arc<GraphInfo>>>,
}

impl Shared {
    pub fn new(store: Arc<dyn Store>, config: EngineConfig) -> Self {
        Shared {
            store,
            templates: TemplateCache::default(),
            signals: Signals::new(config.watch_buffer),
            config,
            sweeper_poke: Arc::new(tokio::sync::Notify::new()),
            graphs: Mutex::new(HashMap::new()),
        }
    }

    pub fn graph_info(&self, execution_id: Uuid, node_id: &str, attempt: i32) -> Option<Arc<GraphInfo>> {
        let graphs = self.graphs.lock().unwrap_or_else(|p| p.into_inner());
        graphs.get(&(execution_id, node_id.to_owned(), attempt)).cloned()
    }

    pub fn remember_graph(&self, execution_id: Uuid, node_id: &str, attempt: i32, info: Arc<GraphInfo>) {
        let mut graphs = self.graphs.lock().unwrap_or_else(|p| p.into_inner());
        graphs.insert((execution_id, node_id.to_owned(), attempt), info);
    }

    /// Drops what was cached for a finished execution.
    pub fn forget_execution(&self, execution_id: Uuid) {
        let mut graphs = self.graphs.lock().unwrap_or_else(|p| p.into_inner());
        graphs.retain(|(exec, _, _), _| *exec != execution_id);
    }
}
