//! One batch of work: the rows of one transaction (`rows/`), the interpreter's agenda of events still to apply, and
//! what to do once the batch committed. The interpreter (`interpret/`) runs the core's state machines against the
//! rows and carries out their effects.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use gantry_core::ids::NodeExecutionId;
use gantry_core::state::{ExecutionEvent, ExecutionPhase, NodeEvent};
use gantry_store::{AttemptRow, PARKED};
use uuid::Uuid;

use crate::assembly::AssemblyJob;
use crate::error::EngineResult;
use crate::hydration::{Hydrated, HydrationJob, WaitRow};
use crate::interpret::Children;
use crate::interpret::parallelism::Rebalance;
use crate::notify::{BatchInFlight, ChangeScope, PhaseChange};
pub(crate) use crate::rows::NodeKey;
use crate::rows::{Announcements, Rows};
use crate::shared::Shared;

/// One transaction's rows and the interpreter's state while it runs.
pub(crate) struct Batch<'e> {
    pub rows: Rows,
    pub now: i64,
    pub shared: &'e Shared,
    pub events: VecDeque<(NodeKey, NodeEvent)>,
    pub execution_events: VecDeque<(Uuid, ExecutionEvent)>,
    pub progressed_parents: BTreeSet<NodeKey>,
    pub progressed_executions: BTreeSet<Uuid>,
    /// Children prepared in this batch and still to be created or started: accepted specs, sub-workflows, branch
    /// arms and array elements under their node's key, a new execution's workflow under an empty node id.
    pub prepared: HashMap<NodeKey, Children>,
    /// Whether each execution touched in this batch is watched, asked once per batch.
    watched: HashMap<Uuid, bool>,
    /// Executions with a `max_parallelism` whose attempts changed in this batch.
    pub rebalance: Rebalance,
    /// Executions whose phase changed, announced to the other replicas' watchers on commit.
    pub execution_phases: Vec<(Uuid, ExecutionPhase)>,
    /// Offloaded values fetched outside the writer for nodes this batch starts, by URI (see `hydration.rs`).
    pub hydrated: HashMap<String, Hydrated>,
    /// The `hydrations` rows this batch read or will write, by node.
    pub hydration_rows: HashMap<NodeKey, WaitRow>,
    /// What the engine does once this batch committed.
    pub outcome: BatchOutcome,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("rows", &self.rows)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl<'e> Batch<'e> {
    pub async fn begin(shared: &'e Shared) -> EngineResult<Batch<'e>> {
        // Numbered before it asks whether anyone watches (see `notify::Watch`).
        let in_flight = shared.signals.batch_begins();
        let beginning = std::time::Instant::now();
        let tx = shared.store.begin().await?;
        crate::metrics::transaction_begun(beginning.elapsed());
        Ok(Batch {
            rows: Rows::new(tx),
            now: shared.config.clock.now(),
            shared,
            events: VecDeque::new(),
            execution_events: VecDeque::new(),
            progressed_parents: BTreeSet::new(),
            progressed_executions: BTreeSet::new(),
            prepared: HashMap::new(),
            watched: HashMap::new(),
            rebalance: Rebalance::new(),
            execution_phases: Vec::new(),
            hydrated: HashMap::new(),
            hydration_rows: HashMap::new(),
            outcome: BatchOutcome {
                in_flight: Some(in_flight),
                ..BatchOutcome::default()
            },
        })
    }

    /// Adds a new attempt, and has the queue it is claimable on woken (or the sweeper, when it is due later).
    pub fn add_attempt(&mut self, row: AttemptRow) {
        if row.not_before == PARKED {
            // Released by `release_slots`, which wakes the queue then.
        } else if row.not_before <= self.now {
            self.outcome.woken.insert(row.queue.clone());
        } else {
            self.outcome.delayed = true;
        }
        self.rows.insert_attempt(row);
    }

    /// Has the sweeper re-read its next wake-up time after the commit: a deadline or a delayed attempt was written.
    pub fn wake_sweeper(&mut self) {
        self.outcome.delayed = true;
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
            self.outcome.changes.push(PhaseChange {
                execution_id,
                node_id: node_id.to_owned(),
                attempt,
                scope,
                phase,
                at_ms: self.now,
            });
        }
    }

    /// Rolls back at once, so that the rows it locked are free for the next batch.
    pub async fn rollback(self) {
        self.rows.rollback().await
    }

    /// Releases parked attempts into freed slots, writes, announces and commits.
    pub async fn commit(mut self) -> EngineResult<BatchOutcome> {
        self.release_slots().await?;
        self.write_hydrations().await?;
        self.outcome.unwatched = (self.watched.iter())
            .filter(|(_, watched)| !**watched)
            .map(|(id, _)| *id)
            .collect();
        let announce = Announcements {
            instance: self.shared.instance,
            queues: self.outcome.woken.iter().cloned().collect(),
            executions: &self.execution_phases,
        };
        self.rows.commit(announce).await?;
        Ok(self.outcome)
    }
}

/// What the engine does once a batch committed.
#[derive(Debug, Default)]
pub(crate) struct BatchOutcome {
    /// Queues that got claimable attempts.
    pub woken: HashSet<String>,
    pub changes: Vec<PhaseChange>,
    /// Executions that became terminal in this batch.
    pub finished: Vec<Uuid>,
    /// Whether an attempt was queued for later (a retry's backoff) or a deadline was set: the sweeper must look again.
    pub delayed: bool,
    /// Composites with children still to create once this batch committed (see `interpret/creation.rs`).
    pub creating: Vec<NodeKey>,
    /// How many children of composites this batch created in chunks, to size the next chunk by.
    pub children_chunked: usize,
    /// Assemblies for the assembler once this batch committed (see `assembly.rs`).
    pub assemblies: Vec<AssemblyJob>,
    /// Fetches for the hydrator once this batch committed (see `hydration.rs`).
    pub hydrations: Vec<HydrationJob>,
    /// Executions this batch changed while nobody watched them. A watch that began during the batch, after it looked,
    /// got none of its changes and may have read the execution before the commit: it is sent the committed phase.
    pub unwatched: Vec<Uuid>,
    /// What operators count of this batch, emitted once it committed.
    pub tally: crate::metrics::Tally,
    /// The batch counts as in flight for watches until this mark is dropped: right after its changes were
    /// published (`writer::after_commit`), or with the batch when it rolls back.
    pub in_flight: Option<BatchInFlight>,
}

/// The scoped id of the sibling `local_id` of `node_id`.
pub(crate) fn sibling_id(node_id: &str, local_id: &str) -> String {
    match NodeExecutionId::parse(node_id).ok().and_then(|id| id.parent()) {
        Some((parent, attempt)) => parent.child(attempt, local_id).into_string(),
        None => local_id.to_owned(),
    }
}
