//! The hydrator: fetching the offloaded values a node's start needs outside the writer and its transaction.
//!
//! Starting a node resolves its inputs. Most bindings pass an offloaded value on as the reference it is, but a few
//! need the value itself (`blobs::promises_needing_values`: a branch's condition inputs, attribute paths, and what a
//! branch's arms and an array's inner node need likewise). When one of those is offloaded and the batch does not
//! have its value, the batch does not fetch it: the node stays `not_started`, a row records that it waits for
//! hydration (`hydrations`), and a [`HydrationJob`] (the node and the references it needs) goes, once the batch
//! committed, to one long-lived task (`run`), which fetches every reference of the jobs waiting, each once and
//! several at a time, outside any transaction, and sends the writer `Request::Hydrated` with the values by URI. The
//! writer starts the node with them, through the ordinary start, if the core's hydration rule says it still waits
//! (`flow::hydrated`: not started, and its row still there), and deletes the row; otherwise the values are stale and
//! dropped, and the row, if any, deleted. So the common case, nothing offloaded, costs the writer nothing more: no
//! statement, no job.
//!
//! A value that does not exist (or does not decode) never will: the node fails with the core's `InputsFailed`
//! (`flow::value_unavailable`, naming the input and the URI). Any other failure of the blob store is logged and the
//! job dropped: the row stays, and the wait is taken up again like a job lost in a crash between the commit and the
//! job, at start (`writer::resume_hydrations`: every row) and by the sweeper for rows older than
//! [`STALLED_AFTER_MS`] that no job of this engine carries, through `Request::Hydrate`, which makes a job again if
//! the node still waits and deletes the row if not. A terminated execution's waiting nodes are aborted: their rows
//! are stale, deleted when their result comes back or the sweeper finds them.
//!
//! The same fetch serves a composite whose children are prepared again after a restart (`interpret/creation.rs`):
//! an array node's elements can need values too. That job has no row (the composite's unfinished creation is what
//! is resumed); its values are applied if the composite still has children to create.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::Poll;

use gantry_core::model::{ExecutionError, Literal, LiteralMap, Node, Offloaded};
use gantry_core::state::{NodePhase, flow};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, warn};

use crate::batch::{Batch, NodeKey};
use crate::blobs::{FetchError, Offloader, promises_needing_values};
use crate::error::EngineResult;
use crate::shared::Shared;
use crate::writer::{Command, Request};

/// A node waiting for hydration this long with no job of this engine's carrying it is hydrated again by the sweeper
/// (the replica fetching its values died, or the blob store failed). Rows keep the time they were first written.
pub(crate) const STALLED_AFTER_MS: i64 = 10_000;

/// How many jobs the hydrator takes at once: their references are fetched together, each URI once.
const JOBS_PER_ROUND: usize = 256;

/// How many values the hydrator fetches at once.
const FETCHES_AT_ONCE: usize = 16;

/// Values to fetch once the batch that recorded them committed: for a node to start, or for a composite's children
/// to be prepared again.
#[derive(Debug, Clone)]
pub(crate) struct HydrationJob {
    pub key: NodeKey,
    /// The offloaded literals needed, each URI once.
    pub references: Vec<Offloaded>,
}

/// A value fetched for a hydration, by URI.
#[derive(Debug, Clone)]
pub(crate) enum Hydrated {
    /// Shared between the jobs that needed it.
    Value(Arc<Literal>),
    /// It cannot be fetched, ever: what is wrong with it (`does not exist`).
    Unavailable(String),
}

/// What a node's start found of the values it needs (see [`Batch::hydrate`]).
#[derive(Debug)]
pub(crate) enum Hydration {
    /// Every value needed is at hand; a copy of the parent's inputs with its values in, when one of them was needed.
    Ready(Option<LiteralMap>),
    /// These are offloaded and not fetched yet.
    Needs(Vec<Offloaded>),
    /// One of them cannot be fetched: the node's failure.
    Unavailable(ExecutionError),
}

/// Fetches every reference of `jobs`, each URI once and [`FETCHES_AT_ONCE`] at a time, outside any transaction,
/// and returns each job's key with the writer command that applies its values: `None` when the blob store failed
/// for one of them (logged: the wait is taken up again later).
pub(crate) async fn run_jobs(offloader: &Offloader, jobs: Vec<HydrationJob>) -> Vec<(NodeKey, Option<Request>)> {
    let mut unique: HashMap<&str, &Offloaded> = HashMap::new();
    for job in &jobs {
        for reference in &job.references {
            unique.entry(reference.uri.as_str()).or_insert(reference);
        }
    }
    let started = std::time::Instant::now();
    let fetched = fetch_all(offloader, unique.into_values().collect()).await;
    debug!(
        jobs = jobs.len(),
        values = fetched.len(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "fetched offloaded values"
    );
    jobs.into_iter()
        .map(|job| {
            let span = tracing::info_span!("hydrate", execution_id = %job.key.0, node_id = %job.key.1);
            let _entered = span.enter();
            let mut values = HashMap::with_capacity(job.references.len());
            for reference in &job.references {
                match fetched.get(&reference.uri) {
                    Some(Ok(value)) => {
                        values.insert(reference.uri.clone(), value.clone());
                    }
                    Some(Err(error)) => {
                        warn!(%error, uri = %reference.uri, "could not fetch an offloaded value; fetching again later");
                        return (job.key, None);
                    }
                    None => return (job.key, None),
                }
            }
            let request = Request::Hydrated {
                key: job.key.clone(),
                values,
            };
            (job.key, Some(request))
        })
        .collect()
}

/// Fetches the references, [`FETCHES_AT_ONCE`] at a time within this task: by URI, the value, or why it will never
/// be fetched, or the blob store's failure.
async fn fetch_all(
    offloader: &Offloader,
    references: Vec<&Offloaded>,
) -> HashMap<String, Result<Hydrated, crate::EngineError>> {
    type Fetching<'a> = Pin<Box<dyn Future<Output = (String, Result<Hydrated, crate::EngineError>)> + Send + 'a>>;
    let mut waiting = references.into_iter();
    let mut running: Vec<Fetching<'_>> = Vec::with_capacity(FETCHES_AT_ONCE);
    let mut fetched = HashMap::new();
    loop {
        while running.len() < FETCHES_AT_ONCE {
            let Some(reference) = waiting.next() else { break };
            running.push(Box::pin(async move {
                let result = match offloader.fetch(reference).await {
                    Ok(value) => Ok(Hydrated::Value(Arc::new(value))),
                    Err(FetchError::Unavailable(problem)) => Ok(Hydrated::Unavailable(problem)),
                    Err(FetchError::Failed(error)) => Err(error),
                };
                (reference.uri.clone(), result)
            }));
        }
        if running.is_empty() {
            return fetched;
        }
        let (index, (uri, result)) = std::future::poll_fn(|cx| {
            for (index, fetching) in running.iter_mut().enumerate() {
                if let Poll::Ready(done) = fetching.as_mut().poll(cx) {
                    return Poll::Ready((index, done));
                }
            }
            Poll::Pending
        })
        .await;
        drop(running.swap_remove(index));
        fetched.insert(uri, result);
    }
}

/// The hydrator: one task taking the jobs of committed batches as they come (all those waiting at once), fetching
/// their values and sending the writer the results. Holds the engine weakly, so that it ends with it.
pub(crate) async fn run(
    shared: Weak<Shared>,
    mut jobs: mpsc::UnboundedReceiver<HydrationJob>,
    commands: mpsc::WeakSender<Command>,
) {
    let mut round = Vec::with_capacity(JOBS_PER_ROUND);
    while jobs.recv_many(&mut round, JOBS_PER_ROUND).await > 0 {
        let Some(shared) = shared.upgrade() else { return };
        let results = run_jobs(&shared.offloader, std::mem::take(&mut round))
            .instrument(tracing::info_span!("hydrator"))
            .await;
        for (key, request) in results {
            if let Some(request) = request
                && !crate::writer::send_internal(&commands, request).await
            {
                return;
            }
            shared.hydration_done(&key);
        }
    }
}

/// The writer commands that take up again every wait for hydration recorded before `since_before` that no job of
/// this engine carries: at start, all of them; from the sweeper, those stalled.
pub(crate) async fn resumable(shared: &Shared, since_before: i64) -> Vec<Request> {
    match shared.store.hydrations(since_before).await {
        Ok(keys) => keys
            .into_iter()
            .filter(|key| !shared.hydration_in_flight(key))
            .map(|key| {
                info!(execution_id = %key.0, node_id = %key.1, "fetching a waiting node's values again");
                Request::Hydrate(key)
            })
            .collect(),
        Err(error) => {
            warn!(%error, "could not read which nodes wait for offloaded values");
            Vec::new()
        }
    }
}

/// What this batch knows of a node's row in `hydrations`, and what it will write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitRow {
    /// Read: the row is there.
    Waits,
    /// Read: there is none.
    Absent,
    /// To insert (if not there already) when the batch commits.
    Insert,
    /// To delete when the batch commits.
    Delete,
}

impl Batch<'_> {
    /// The values that `node`'s start needs itself (see [`promises_needing_values`]), from this batch's fetched
    /// values: in place in `sources` (sibling outputs by local id), and into a copy of the parent's inputs, returned,
    /// when one of those is needed. Offloaded values not fetched yet are listed instead. Reads nothing: the common
    /// case (no such promise, or none offloaded) costs a walk of the node's bindings.
    pub fn hydrate(
        &self,
        node: &Node,
        sources: &mut HashMap<String, LiteralMap>,
        parent_inputs: &LiteralMap,
    ) -> Hydration {
        let mut parent: Option<LiteralMap> = None;
        let mut needs: Vec<Offloaded> = Vec::new();
        for needed in promises_needing_values(node) {
            let promise = &needed.promise;
            let current = if promise.is_workflow_input() {
                parent.as_ref().unwrap_or(parent_inputs).get(&promise.output)
            } else {
                sources
                    .get(&promise.node_id)
                    .and_then(|outputs| outputs.get(&promise.output))
            };
            let Some(Literal::Offloaded(offloaded)) = current else {
                continue;
            };
            let value = match self.hydrated.get(&offloaded.uri) {
                Some(Hydrated::Value(value)) => Literal::clone(value),
                Some(Hydrated::Unavailable(problem)) => {
                    let error =
                        flow::value_unavailable(&needed.input, needed.nested.as_deref(), &offloaded.uri, problem);
                    return Hydration::Unavailable(error);
                }
                None => {
                    if !needs.iter().any(|known| known.uri == offloaded.uri) {
                        needs.push(offloaded.clone());
                    }
                    continue;
                }
            };
            if promise.is_workflow_input() {
                parent
                    .get_or_insert_with(|| parent_inputs.clone())
                    .insert(promise.output.clone(), value);
            } else if let Some(outputs) = sources.get_mut(&promise.node_id) {
                outputs.insert(promise.output.clone(), value);
            }
        }
        if needs.is_empty() {
            Hydration::Ready(parent)
        } else {
            Hydration::Needs(needs)
        }
    }

    /// Leaves the node not started, waiting for `references` to be fetched: records its row (written when the batch
    /// commits) and the job (sent once it committed).
    pub fn wait_for_values(&mut self, key: &NodeKey, references: Vec<Offloaded>) {
        debug!(execution_id = %key.0, node_id = %key.1, values = references.len(), "waiting for offloaded values");
        match self.hydration_rows.get(key) {
            Some(WaitRow::Waits | WaitRow::Insert) => {}
            _ => {
                self.hydration_rows.insert(key.clone(), WaitRow::Insert);
            }
        }
        self.outcome.hydrations.push(HydrationJob {
            key: key.clone(),
            references,
        });
    }

    /// Records the job that fetches the values a composite's children need to be prepared again (see
    /// `interpret/creation.rs`); no row: its unfinished creation is what a restart or the sweeper resumes.
    pub fn fetch_for_children(&mut self, key: &NodeKey, references: Vec<Offloaded>) {
        debug!(execution_id = %key.0, node_id = %key.1, values = references.len(), "children wait for offloaded values");
        self.outcome.hydrations.push(HydrationJob {
            key: key.clone(),
            references,
        });
    }

    /// Whether the node waits for hydration: this batch's own writes, else its row.
    async fn hydration_waiting(&mut self, key: &NodeKey) -> EngineResult<bool> {
        if let Some(row) = self.hydration_rows.get(key) {
            return Ok(matches!(row, WaitRow::Waits | WaitRow::Insert));
        }
        self.count_hydration_statement();
        let waits = self.rows.tx.hydration_waiting(key.0, &key.1).await?;
        let row = if waits { WaitRow::Waits } else { WaitRow::Absent };
        self.hydration_rows.insert(key.clone(), row);
        Ok(waits)
    }

    /// The node waits no more: its row is deleted when the batch commits.
    fn hydration_ended(&mut self, key: &NodeKey) {
        if self.hydration_rows.get(key) != Some(&WaitRow::Absent) {
            self.hydration_rows.insert(key.clone(), WaitRow::Delete);
        }
    }

    /// Writes the rows of nodes that started or stopped waiting in this batch: an insert and a delete at most, none
    /// when no node of the batch needed offloaded values.
    pub(crate) async fn write_hydrations(&mut self) -> EngineResult<()> {
        if self.hydration_rows.is_empty() {
            return Ok(());
        }
        let mut inserts = Vec::new();
        let mut deletes = Vec::new();
        for (key, row) in std::mem::take(&mut self.hydration_rows) {
            match row {
                WaitRow::Insert => inserts.push(key),
                WaitRow::Delete => deletes.push(key),
                WaitRow::Waits | WaitRow::Absent => {}
            }
        }
        if !inserts.is_empty() {
            inserts.sort();
            self.count_hydration_statement();
            self.rows.tx.insert_hydrations(&inserts, self.now).await?;
        }
        if !deletes.is_empty() {
            deletes.sort();
            self.count_hydration_statement();
            self.rows.tx.delete_hydrations(&deletes).await?;
        }
        Ok(())
    }

    /// Counts a statement on `hydrations`, so that the tests can check the common case runs none.
    fn count_hydration_statement(&self) {
        #[cfg(test)]
        self.shared
            .hydration_statements
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// `Request::Hydrated`: a job's values. Starts the node with them if the core's hydration rule says it still
    /// waits for them; otherwise they are stale and dropped (a check, not a refused transition), and the row of a
    /// node that stopped waiting deleted. Values for a composite whose children are to be prepared again go on
    /// creating them.
    pub async fn apply_hydration(&mut self, key: &NodeKey, values: &HashMap<String, Hydrated>) -> EngineResult<()> {
        self.rows.load_nodes(key.0, std::slice::from_ref(&key.1)).await?;
        let Some(row) = self.rows.held_node(key) else {
            return Ok(());
        };
        let phase = row.phase;
        let creating = phase == NodePhase::ChildrenRunning && row.children_created < row.children_total;
        let waiting = self.hydration_waiting(key).await?;
        if flow::hydrated(phase, waiting) == flow::Then::Start {
            self.hydration_ended(key);
            self.take_values(values);
            self.start_node(key).await?;
            return self.run().await;
        }
        if waiting {
            self.hydration_ended(key);
        }
        if creating && self.shared.children(key).is_none() {
            self.take_values(values);
            return self.continue_children(key).await;
        }
        debug!(
            execution_id = %key.0,
            node_id = %key.1,
            phase = %phase,
            "dropped stale offloaded values: the node no longer waits for them"
        );
        Ok(())
    }

    /// `Request::Hydrate`: takes up again a node's wait for hydration (at start, or once it stalled): fetches its
    /// values again if it still waits (its start records the job again), deletes its row if it stopped waiting.
    pub async fn hydrate_again(&mut self, key: &NodeKey) -> EngineResult<()> {
        self.rows.load_nodes(key.0, std::slice::from_ref(&key.1)).await?;
        let phase = self.rows.held_node(key).map(|row| row.phase);
        if !self.hydration_waiting(key).await? {
            return Ok(());
        }
        match phase.map(|phase| flow::hydrated(phase, true)) {
            Some(flow::Then::Start) => {
                self.start_node(key).await?;
                self.run().await
            }
            _ => {
                debug!(execution_id = %key.0, node_id = %key.1, "deleted a stale wait for offloaded values");
                self.hydration_ended(key);
                Ok(())
            }
        }
    }

    fn take_values(&mut self, values: &HashMap<String, Hydrated>) {
        self.hydrated
            .extend(values.iter().map(|(uri, value)| (uri.clone(), value.clone())));
    }
}
