//! What every part of the engine shares: the store, caches of immutable data, signals and settings.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use gantry_core::compile::CompiledGraph;
use gantry_core::model::Identifier;
use gantry_core::state::CompositePlan;
use gantry_store::Store;
use uuid::Uuid;

use tokio::sync::mpsc;

use crate::assembly::AssemblyJob;
use crate::batch::NodeKey;
use crate::blobs::{BlobStore, Offloader};
use crate::compaction::ClaimCompaction;
use crate::config::EngineConfig;
use crate::guarded::GuardedStore;
use crate::health::StoreHealth;
use crate::hydration::HydrationJob;
use crate::interpret::Children;
use crate::interpret::creation;
use crate::notify::Signals;
use crate::refusals::Refusals;
use crate::templates::TemplateCache;

/// What never changes about an execution once created.
#[derive(Debug, Clone)]
pub(crate) struct ExecutionFacts {
    /// Its project, which its attempts carry (a worker of one project claims only that project's).
    pub project: Arc<str>,
    /// `max_parallelism`.
    pub cap: Option<u32>,
    /// For a recovered execution: the execution whose succeeded nodes and accepted specs it reuses.
    pub recovered_from: Option<Uuid>,
    /// The W3C trace context it was submitted in (as stored), which its attempts carry to the workers.
    pub trace_context: Option<Arc<str>>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// The store, guarded by its health: refused at once while unreachable (see `guarded.rs`).
    pub store: Arc<dyn Store>,
    /// Whether the store is reachable (see `health.rs`).
    pub health: Arc<StoreHealth>,
    pub templates: TemplateCache,
    pub signals: Signals,
    pub config: EngineConfig,
    pub offloader: Offloader,
    /// Wakes the sweeper when a delayed attempt was queued (see `sweep.rs`).
    pub sweeper_poke: Arc<tokio::sync::Notify>,
    /// The plans of composites (see `Batch::plan`), keyed by (execution, scoped node id, attempt); the execution's
    /// own workflow under an empty node id.
    plans: Mutex<HashMap<(Uuid, String, i32), Arc<CompositePlan>>>,
    /// What never changes about an execution once created; read once.
    facts: Mutex<HashMap<Uuid, ExecutionFacts>>,
    /// Registered workflows compiled for sub-workflow nodes; registered templates never change.
    sub_workflows: Mutex<HashMap<Identifier, Arc<CompiledGraph>>>,
    /// The prepared children of composites whose children are still being created, so that each chunk need not
    /// prepare them again.
    children: Mutex<HashMap<NodeKey, Arc<Children>>>,
    /// Composites with children still to create, in the order the writer takes them (one chunk a batch).
    pub creations: Mutex<CreationQueue>,
    /// How many children the next chunk creates (see `creation::adapt_chunk`).
    pub chunk: AtomicUsize,
    /// This engine among the replicas sharing the database: its own announcements come back to it and are skipped.
    pub instance: Uuid,
    /// Transitions the core refused (see `refusals.rs`).
    pub refusals: Refusals,
    /// When claims are compacted (see `compaction.rs`).
    pub compaction: ClaimCompaction,
    /// Jobs for the assembler (see `assembly.rs`), sent once their batch committed.
    assembly_jobs: mpsc::UnboundedSender<AssemblyJob>,
    /// The assembler's end of `assembly_jobs`, until it takes it (the engine's tests take jobs from it themselves).
    assembly_queue: Mutex<Option<mpsc::UnboundedReceiver<AssemblyJob>>>,
    /// The targets (execution, node id; empty for an execution) of the jobs sent and not done yet, so that the
    /// sweeper does not assemble again what is only slow.
    assembling: Mutex<HashSet<NodeKey>>,
    /// Jobs for the hydrator (see `hydration.rs`), sent once their batch committed.
    hydration_jobs: mpsc::UnboundedSender<HydrationJob>,
    /// The hydrator's end of `hydration_jobs`, until it takes it (the engine's tests take jobs from it themselves).
    hydration_queue: Mutex<Option<mpsc::UnboundedReceiver<HydrationJob>>>,
    /// The nodes whose values are being fetched, so that the sweeper does not fetch again what is only slow.
    hydrating: Mutex<HashSet<NodeKey>>,
    /// Statements batches ran on `hydrations`: the tests check that the common case runs none.
    #[cfg(test)]
    pub hydration_statements: AtomicUsize,
}

/// Composites waiting for their next chunk of children, each once, oldest first.
#[derive(Debug, Default)]
pub(crate) struct CreationQueue {
    order: VecDeque<NodeKey>,
    queued: HashSet<NodeKey>,
}

impl CreationQueue {
    pub fn push(&mut self, key: NodeKey) {
        if self.queued.insert(key.clone()) {
            self.order.push_back(key);
        }
    }

    pub fn pop(&mut self) -> Option<NodeKey> {
        let key = self.order.pop_front()?;
        self.queued.remove(&key);
        Some(key)
    }
}

impl Shared {
    pub fn new(store: Arc<dyn Store>, config: EngineConfig) -> Self {
        let first_chunk = config.children_chunk.clamp(1, creation::FIRST_CHUNK);
        let health = Arc::new(StoreHealth::new(store));
        let (strict_transitions, compact_claims_every) = (config.strict_transitions, config.compact_claims_every);
        let (assembly_jobs, assembly_queue) = mpsc::unbounded_channel();
        let (hydration_jobs, hydration_queue) = mpsc::unbounded_channel();
        Shared {
            store: Arc::new(GuardedStore::new(health.clone())),
            health,
            templates: TemplateCache::default(),
            signals: Signals::new(config.watch_buffer),
            offloader: Offloader {
                store: config.blobs.clone().unwrap_or_else(BlobStore::in_memory),
                limits: config.limits,
            },
            config,
            sweeper_poke: Arc::new(tokio::sync::Notify::new()),
            plans: Mutex::new(HashMap::new()),
            sub_workflows: Mutex::new(HashMap::new()),
            facts: Mutex::new(HashMap::new()),
            children: Mutex::new(HashMap::new()),
            creations: Mutex::new(CreationQueue::default()),
            chunk: AtomicUsize::new(first_chunk),
            instance: Uuid::now_v7(),
            refusals: Refusals::new(strict_transitions),
            compaction: ClaimCompaction::new(compact_claims_every),
            assembly_jobs,
            assembly_queue: Mutex::new(Some(assembly_queue)),
            assembling: Mutex::new(HashSet::new()),
            hydration_jobs,
            hydration_queue: Mutex::new(Some(hydration_queue)),
            hydrating: Mutex::new(HashSet::new()),
            #[cfg(test)]
            hydration_statements: AtomicUsize::new(0),
        }
    }

    pub fn plan(&self, execution_id: Uuid, node_id: &str, attempt: i32) -> Option<Arc<CompositePlan>> {
        let plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.get(&(execution_id, node_id.to_owned(), attempt)).cloned()
    }

    pub fn remember_plan(&self, execution_id: Uuid, node_id: &str, attempt: i32, plan: Arc<CompositePlan>) {
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.insert((execution_id, node_id.to_owned(), attempt), plan);
    }

    pub fn sub_workflow(&self, id: &Identifier) -> Option<Arc<CompiledGraph>> {
        let graphs = self.sub_workflows.lock().unwrap_or_else(|p| p.into_inner());
        graphs.get(id).cloned()
    }

    pub fn remember_sub_workflow(&self, id: &Identifier, graph: Arc<CompiledGraph>) {
        let mut graphs = self.sub_workflows.lock().unwrap_or_else(|p| p.into_inner());
        graphs.insert(id.clone(), graph);
    }

    pub fn facts(&self, execution_id: Uuid) -> Option<ExecutionFacts> {
        let facts = self.facts.lock().unwrap_or_else(|p| p.into_inner());
        facts.get(&execution_id).cloned()
    }

    pub fn remember_facts(&self, execution_id: Uuid, facts: ExecutionFacts) {
        let mut known = self.facts.lock().unwrap_or_else(|p| p.into_inner());
        known.insert(execution_id, facts);
    }

    /// Drops what was cached for a finished execution.
    pub fn forget_execution(&self, execution_id: Uuid) {
        self.facts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&execution_id);
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.retain(|(exec, _, _), _| *exec != execution_id);
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        children.retain(|(exec, _), _| *exec != execution_id);
    }

    pub fn children(&self, key: &NodeKey) -> Option<Arc<Children>> {
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    pub fn remember_children(&self, key: &NodeKey, children: Arc<Children>) {
        let mut known = self.children.lock().unwrap_or_else(|p| p.into_inner());
        known.insert(key.clone(), children);
    }

    pub fn forget_children(&self, key: &NodeKey) {
        self.children.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    /// Queues composites for their next chunk of children.
    pub fn queue_creations(&self, keys: impl IntoIterator<Item = NodeKey>) {
        let mut queue = self.creations.lock().unwrap_or_else(|p| p.into_inner());
        keys.into_iter().for_each(|key| queue.push(key));
    }

    pub fn next_creation(&self) -> Option<NodeKey> {
        self.creations.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    /// Sends committed batches' assembly jobs to the assembler, each target once while its job is not done.
    pub fn queue_assemblies(&self, jobs: Vec<AssemblyJob>) {
        if jobs.is_empty() {
            return;
        }
        let mut assembling = self.assembling.lock().unwrap_or_else(|p| p.into_inner());
        for job in jobs {
            if assembling.insert(job.target.key()) {
                // Fails only once the assembler is gone (the engine is stopping): the target stays assembling and is
                // assembled again after the restart.
                let _ = self.assembly_jobs.send(job);
            }
        }
    }

    /// The assembler's end of the job channel; `None` once taken.
    pub fn take_assembly_queue(&self) -> Option<mpsc::UnboundedReceiver<AssemblyJob>> {
        self.assembly_queue.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The next job waiting, for tests that run the assembler's jobs themselves.
    #[cfg(test)]
    pub fn next_assembly(&self) -> Option<AssemblyJob> {
        let mut queue = self.assembly_queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.as_mut().and_then(|queue| queue.try_recv().ok())
    }

    /// The job of `key` is done (its result sent to the writer, or given up until the sweeper's next look).
    pub fn assembly_done(&self, key: &NodeKey) {
        self.assembling.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    pub fn assembly_in_flight(&self, key: &NodeKey) -> bool {
        self.assembling.lock().unwrap_or_else(|p| p.into_inner()).contains(key)
    }

    /// Sends committed batches' hydration jobs to the hydrator, each node once while its job is not done.
    pub fn queue_hydrations(&self, jobs: Vec<HydrationJob>) {
        if jobs.is_empty() {
            return;
        }
        let mut hydrating = self.hydrating.lock().unwrap_or_else(|p| p.into_inner());
        for job in jobs {
            if hydrating.insert(job.key.clone()) {
                // Fails only once the hydrator is gone (the engine is stopping): the node still waits, and its values
                // are fetched after the restart.
                let _ = self.hydration_jobs.send(job);
            }
        }
    }

    /// The hydrator's end of the job channel; `None` once taken.
    pub fn take_hydration_queue(&self) -> Option<mpsc::UnboundedReceiver<HydrationJob>> {
        self.hydration_queue.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The next job waiting, for tests that run the hydrator's jobs themselves.
    #[cfg(test)]
    pub fn next_hydration(&self) -> Option<HydrationJob> {
        let mut queue = self.hydration_queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.as_mut().and_then(|queue| queue.try_recv().ok())
    }

    /// The job of `key` is done (its values sent to the writer, or given up until the sweeper's next look).
    pub fn hydration_done(&self, key: &NodeKey) {
        self.hydrating.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    pub fn hydration_in_flight(&self, key: &NodeKey) -> bool {
        self.hydrating.lock().unwrap_or_else(|p| p.into_inner()).contains(key)
    }
}
