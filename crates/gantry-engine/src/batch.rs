//! One batch of work: a store transaction, the rows it has read (each read once and locked), and the writes it will
//! make, flushed as a handful of multi-row statements. The cascade (`cascade.rs`) runs the core's state machines
//! against the rows held here.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use gantry_core::ids::NodeExecutionId;
use gantry_core::model::LiteralMap;
use gantry_core::state::{ExecutionEvent, ExecutionPhase, NodeEvent};
use gantry_store::{AttemptRow, ExecutionRow, NodeRow, PARKED, SpecRow, Tx};
use uuid::Uuid;

use crate::assembly::AssemblyJob;
use crate::codec;
use crate::composite::Children;
use crate::error::{EngineError, EngineResult};
use crate::held::HeldAttempts;
use crate::hydration::{Hydrated, HydrationJob, WaitRow};
use crate::notify::{ChangeScope, PhaseChange};
use crate::parallelism::Rebalance;
use crate::shared::Shared;

/// A node execution's key: its execution and its scoped id.
pub(crate) type NodeKey = (Uuid, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Created in this batch, not yet inserted.
    New,
    /// Read (or inserted) and changed since.
    Dirty,
    Clean,
}

#[derive(Debug)]
struct Entry {
    row: NodeRow,
    status: Status,
}

/// The rows and pending writes of one transaction.
pub(crate) struct Batch<'e> {
    pub tx: Box<dyn Tx>,
    pub now: i64,
    pub shared: &'e Shared,
    nodes: HashMap<NodeKey, Entry>,
    executions: HashMap<Uuid, (ExecutionRow, bool)>,
    /// Attempt rows read or written, with their pending writes (see `held.rs`).
    attempts: HeldAttempts,
    new_specs: Vec<SpecRow>,
    pub events: VecDeque<(NodeKey, NodeEvent)>,
    pub execution_events: VecDeque<(Uuid, ExecutionEvent)>,
    pub progressed_parents: BTreeSet<NodeKey>,
    pub progressed_executions: BTreeSet<Uuid>,
    /// Decoded inputs of parents (and executions, under an empty node id), read by their children's bindings.
    parent_inputs: HashMap<NodeKey, Arc<LiteralMap>>,
    /// Children prepared in this batch and still to be created or started: accepted specs, sub-workflows, branch
    /// arms and array elements under their node's key, a new execution's workflow under an empty node id.
    pub prepared: HashMap<NodeKey, Children>,
    /// Queues that got claimable attempts.
    pub woken: HashSet<String>,
    pub changes: Vec<PhaseChange>,
    /// Whether each execution touched in this batch is watched, asked once per batch.
    watched: HashMap<Uuid, bool>,
    /// Executions that became terminal in this batch.
    pub finished: Vec<Uuid>,
    /// Whether an attempt was queued for later (a retry's backoff) or a deadline was set: the sweeper must look again.
    delayed: bool,
    /// Executions with a `max_parallelism` whose attempts changed in this batch.
    pub rebalance: Rebalance,
    /// Composites with children still to create once this batch committed (see `creation.rs`).
    pub creating: Vec<NodeKey>,
    /// How many children of composites this batch created in chunks, to size the next chunk by.
    pub children_chunked: usize,
    /// Executions whose phase changed, announced to the other replicas' watchers on commit.
    pub execution_phases: Vec<(Uuid, ExecutionPhase)>,
    /// Assemblies for the assembler once this batch committed (see `assembly.rs`).
    pub assemblies: Vec<AssemblyJob>,
    /// Offloaded values fetched outside the writer for nodes this batch starts, by URI (see `hydration.rs`).
    pub hydrated: HashMap<String, Hydrated>,
    /// Fetches for the hydrator once this batch committed.
    pub hydrations: Vec<HydrationJob>,
    /// The `hydrations` rows this batch read or will write, by node.
    pub hydration_rows: HashMap<NodeKey, WaitRow>,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("nodes", &self.nodes.len())
            .field("executions", &self.executions.len())
            .finish_non_exhaustive()
    }
}

impl<'e> Batch<'e> {
    pub async fn begin(shared: &'e Shared) -> EngineResult<Batch<'e>> {
        Ok(Batch {
            tx: shared.store.begin().await?,
            now: shared.config.clock.now(),
            shared,
            nodes: HashMap::new(),
            executions: HashMap::new(),
            attempts: HeldAttempts::default(),
            new_specs: Vec::new(),
            events: VecDeque::new(),
            execution_events: VecDeque::new(),
            progressed_parents: BTreeSet::new(),
            progressed_executions: BTreeSet::new(),
            parent_inputs: HashMap::new(),
            prepared: HashMap::new(),
            woken: HashSet::new(),
            changes: Vec::new(),
            watched: HashMap::new(),
            finished: Vec::new(),
            delayed: false,
            rebalance: Rebalance::new(),
            creating: Vec::new(),
            children_chunked: 0,
            execution_phases: Vec::new(),
            assemblies: Vec::new(),
            hydrated: HashMap::new(),
            hydrations: Vec::new(),
            hydration_rows: HashMap::new(),
        })
    }

    /// Reads and locks the nodes not yet held. Missing ids are skipped.
    pub async fn load_nodes(&mut self, execution_id: Uuid, node_ids: &[String]) -> EngineResult<()> {
        let missing: Vec<String> = node_ids
            .iter()
            .filter(|id| !self.nodes.contains_key(&(execution_id, (*id).clone())))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for row in self.tx.lock_nodes(execution_id, &missing).await? {
            let key = (row.execution_id, row.node_id.clone());
            self.nodes.insert(
                key,
                Entry {
                    row,
                    status: Status::Clean,
                },
            );
        }
        Ok(())
    }

    /// The node, read and locked on first use.
    pub async fn node(&mut self, key: &NodeKey) -> EngineResult<&NodeRow> {
        self.load_nodes(key.0, std::slice::from_ref(&key.1)).await?;
        self.nodes
            .get(key)
            .map(|e| &e.row)
            .ok_or_else(|| EngineError::Internal(format!("node {:?} of execution {} does not exist", key.1, key.0)))
    }

    /// The node for writing; it must have been read first.
    pub fn node_mut(&mut self, key: &NodeKey) -> &mut NodeRow {
        let entry = self.nodes.get_mut(key).expect("node is read before it is written");
        if entry.status == Status::Clean {
            entry.status = Status::Dirty;
        }
        &mut entry.row
    }

    pub fn held_node(&self, key: &NodeKey) -> Option<&NodeRow> {
        self.nodes.get(key).map(|e| &e.row)
    }

    /// Adds nodes created in this batch.
    pub fn create_nodes(&mut self, rows: Vec<NodeRow>) {
        for row in rows {
            let key = (row.execution_id, row.node_id.clone());
            self.nodes.insert(
                key,
                Entry {
                    row,
                    status: Status::New,
                },
            );
        }
    }

    /// The execution, read and locked on first use.
    pub async fn execution(&mut self, id: Uuid) -> EngineResult<&ExecutionRow> {
        if !self.executions.contains_key(&id) {
            let row = self
                .tx
                .lock_execution(id)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("execution {id} not found")))?;
            self.executions.insert(id, (row, false));
        }
        Ok(&self.executions[&id].0)
    }

    pub fn execution_mut(&mut self, id: Uuid) -> &mut ExecutionRow {
        let entry = self
            .executions
            .get_mut(&id)
            .expect("execution is read before it is written");
        entry.1 = true;
        &mut entry.0
    }

    /// Inserts a new execution at once (its nodes reference it).
    pub async fn insert_execution(&mut self, row: ExecutionRow) -> EngineResult<()> {
        self.tx.insert_execution(&row).await?;
        self.executions.insert(row.id, (row, false));
        Ok(())
    }

    pub fn add_attempt(&mut self, row: AttemptRow) {
        if row.not_before == PARKED {
            // Released by `release_slots`, which wakes the queue then.
        } else if row.not_before <= self.now {
            self.woken.insert(row.queue.clone());
        } else {
            self.delayed = true;
        }
        self.attempts.insert(row);
    }

    /// Has the sweeper re-read its next wake-up time after the commit: a deadline or a delayed attempt was written.
    pub fn wake_sweeper(&mut self) {
        self.delayed = true;
    }

    /// Writes a changed attempt with the batch; it must have been read through [`Batch::lock_attempts`] or added.
    pub fn update_attempt(&mut self, row: AttemptRow) {
        self.attempts.update(row);
    }

    /// Reads and locks the attempts not yet held; held ones keep this batch's writes. Missing ids are skipped.
    pub async fn lock_attempts(&mut self, ids: &[Uuid]) -> EngineResult<()> {
        let missing = self.attempts.missing(ids);
        if !missing.is_empty() {
            let rows = self.tx.lock_attempts(&missing).await?;
            self.attempts.hold_read(rows);
        }
        Ok(())
    }

    /// An attempt read through [`Batch::lock_attempts`], as this batch left it.
    pub fn held_attempt(&self, id: &Uuid) -> Option<&AttemptRow> {
        self.attempts.get(id)
    }

    /// Holds attempts a statement just read (after [`Batch::write_attempts`]); held ones keep this batch's writes.
    pub fn hold_attempts(&mut self, rows: Vec<AttemptRow>) {
        self.attempts.hold_read(rows);
    }

    /// Holds attempts a statement just changed (a claim), as the statement returned them.
    pub fn hold_written_attempts(&mut self, rows: Vec<AttemptRow>) {
        self.attempts.hold_written(rows);
    }

    /// Writes the attempts' pending changes, so that a statement selecting attempts by their state sees them.
    pub async fn write_attempts(&mut self) -> EngineResult<()> {
        if !self.attempts.has_pending() {
            return Ok(());
        }
        let pending = self.attempts.take_pending();
        if !pending.inserts.is_empty() {
            self.tx.insert_attempts(&pending.inserts).await?;
        }
        if !pending.updates.is_empty() {
            self.tx.update_attempts(&pending.updates).await?;
        }
        Ok(())
    }

    /// Forgets the execution's held attempts after a statement changed them in the database; call
    /// [`Batch::write_attempts`] (or [`Batch::flush`]) first.
    pub fn forget_attempts(&mut self, execution_id: Uuid) {
        self.attempts.forget_execution(execution_id);
    }

    pub fn add_spec(&mut self, row: SpecRow) {
        self.new_specs.push(row);
    }

    /// Inputs a child's bindings read through promises with an empty node id: its parent node's inputs, or the
    /// execution's for top-level nodes.
    pub async fn parent_inputs(&mut self, execution_id: Uuid, parent_id: &str) -> EngineResult<Arc<LiteralMap>> {
        let key = (execution_id, parent_id.to_owned());
        if let Some(inputs) = self.parent_inputs.get(&key) {
            return Ok(inputs.clone());
        }
        let bytes = if parent_id.is_empty() {
            Some(self.execution(execution_id).await?.inputs.clone())
        } else {
            self.node(&key).await?.inputs.clone()
        };
        let inputs = Arc::new(match bytes {
            Some(bytes) => codec::decode_literals(&bytes)?,
            None => LiteralMap::new(),
        });
        self.parent_inputs.insert(key, inputs.clone());
        Ok(inputs)
    }

    /// Records a phase change for watchers, when anyone watches.
    pub fn changed(
        &mut self,
        execution_id: Uuid,
        node_id: &str,
        attempt: Option<u32>,
        scope: ChangeScope,
        phase: &'static str,
    ) {
        let signals = &self.shared.signals;
        if *self
            .watched
            .entry(execution_id)
            .or_insert_with(|| signals.watched(execution_id))
        {
            self.changes.push(PhaseChange {
                execution_id,
                node_id: node_id.to_owned(),
                attempt,
                scope,
                phase,
                at_ms: self.now,
            });
        }
    }

    /// Writes everything pending, so that reads of many rows (assembly, aborts) see it.
    pub async fn flush(&mut self) -> EngineResult<()> {
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        for entry in self.nodes.values_mut() {
            match entry.status {
                Status::New => inserts.push(entry.row.clone()),
                Status::Dirty => updates.push(entry.row.clone()),
                Status::Clean => continue,
            }
            entry.status = Status::Clean;
        }
        self.write(inserts, updates).await
    }

    /// The last flush before the commit: the held rows are not read again, so they are moved out rather than copied
    /// (a fan-out's creation holds every child's row).
    async fn flush_final(&mut self) -> EngineResult<()> {
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        for (_, entry) in self.nodes.drain() {
            match entry.status {
                Status::New => inserts.push(entry.row),
                Status::Dirty => updates.push(entry.row),
                Status::Clean => {}
            }
        }
        self.write(inserts, updates).await
    }

    async fn write(&mut self, mut inserts: Vec<NodeRow>, updates: Vec<NodeRow>) -> EngineResult<()> {
        if !inserts.is_empty() {
            inserts.sort_by(|a, b| (&a.parent_id, a.position).cmp(&(&b.parent_id, b.position)));
            self.tx.insert_nodes(&inserts).await?;
        }
        if !updates.is_empty() {
            self.tx.update_nodes(&updates).await?;
        }
        if !self.new_specs.is_empty() {
            for spec in std::mem::take(&mut self.new_specs) {
                self.tx.insert_spec(&spec).await?;
            }
        }
        self.write_attempts().await?;
        for (row, dirty) in self.executions.values_mut() {
            if *dirty {
                self.tx.update_execution(row).await?;
                *dirty = false;
            }
        }
        Ok(())
    }

    /// Forgets held rows strictly below `node_id` (every node of the execution when `None`) after a statement
    /// changed them in the database. Call [`Batch::flush`] first.
    pub fn forget_below(&mut self, execution_id: Uuid, node_id: Option<&str>) {
        let prefix = node_id.map(|id| format!("{id}/"));
        self.nodes
            .retain(|(exec, id), _| *exec != execution_id || prefix.as_deref().is_some_and(|p| !id.starts_with(p)));
    }

    /// Rolls back at once, so that the rows it locked are free for the next batch. A failed rollback (a lost
    /// connection) rolls back anyway, on the server's side.
    pub async fn rollback(self) {
        if let Err(error) = self.tx.rollback().await {
            tracing::warn!(%error, "rollback failed");
        }
    }

    /// Releases parked attempts into freed slots, flushes and commits.
    pub async fn commit(mut self) -> EngineResult<BatchOutcome> {
        self.release_slots().await?;
        self.flush_final().await?;
        self.write_hydrations().await?;
        if !self.woken.is_empty() {
            let queues: Vec<String> = self.woken.iter().cloned().collect();
            self.tx.announce_queues(&queues).await?;
        }
        if !self.execution_phases.is_empty() {
            self.tx
                .announce_executions(self.shared.instance, &self.execution_phases)
                .await?;
        }
        self.tx.commit().await?;
        Ok(BatchOutcome {
            woken: self.woken,
            changes: self.changes,
            finished: self.finished,
            delayed: self.delayed,
            creating: self.creating,
            children_chunked: self.children_chunked,
            assemblies: self.assemblies,
            hydrations: self.hydrations,
        })
    }
}

/// What the engine does once a batch committed.
#[derive(Debug, Default)]
pub(crate) struct BatchOutcome {
    pub woken: HashSet<String>,
    pub changes: Vec<PhaseChange>,
    pub finished: Vec<Uuid>,
    pub delayed: bool,
    pub creating: Vec<NodeKey>,
    pub children_chunked: usize,
    pub assemblies: Vec<AssemblyJob>,
    pub hydrations: Vec<HydrationJob>,
}

/// The scoped id of the sibling `local_id` of `node_id`.
pub(crate) fn sibling_id(node_id: &str, local_id: &str) -> String {
    match NodeExecutionId::parse(node_id).ok().and_then(|id| id.parent()) {
        Some((parent, attempt)) => parent.child(attempt, local_id).into_string(),
        None => local_id.to_owned(),
    }
}
