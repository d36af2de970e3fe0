//! The assembler: assembling a composite's outputs (a node's or an execution's: one path for both) outside the
//! writer, with the plan the core made for it (`gantry_core::state::CompositePlan`).
//!
//! When the core says `AssembleOutputs`, the batch persists the phase it returned (`assembling`, or `succeeding` for
//! an execution) and records an [`AssemblyJob`]: the target, its plan and, for bindings, its inputs. Once the batch
//! committed, the job goes to one long-lived task (`run`) through a channel; it reads the children's outputs from
//! the store outside any transaction, decodes and assembles them on the blocking pool, checks the result against the
//! assembled-outputs limit and writes its large values to the blob store, and sends the writer
//! `Request::Assembled`. The writer applies the core's `Assembled` or `AssemblyFailed` only if the target is still
//! assembling at that attempt ([`Batch::apply_assembly`]); otherwise (terminated, timed out meanwhile) the result is
//! stale and dropped. So assembling twice is harmless, and an assembly that no job carries any more (a restart, a
//! crash between the commit and the job, a replica that died) is simply done again: at start
//! (`writer::resume_assemblies`) and by the sweeper for targets assembling for longer than [`STALLED_AFTER_MS`],
//! through `Request::Assemble`, which the writer turns into a job if the target is still assembling.

use std::sync::{Arc, Weak};

use gantry_core::model::{ExecutionError, LiteralMap};
use gantry_core::state::{ChildOutputs, CompositePlan, ExecutionEvent, ExecutionPhase, NodeEvent, NodePhase};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, warn};
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::blobs::Offloader;
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::shared::Shared;
use crate::writer::{Command, Request};

/// A target assembling for this long with no job of this engine's carrying it is assembled again by the sweeper
/// (the replica assembling it died, or its job failed on an unreachable store). The phase's `updated_at` is when
/// it started assembling.
pub(crate) const STALLED_AFTER_MS: i64 = 10_000;

/// An assembly to do once the batch that recorded it committed.
#[derive(Debug, Clone)]
pub(crate) struct AssemblyJob {
    pub target: AssemblyTarget,
    pub plan: Arc<CompositePlan>,
    /// The composite's inputs, when its plan reads them (bindings); empty otherwise.
    pub inputs: Arc<LiteralMap>,
    /// The execution's stored W3C trace context: the parent of the assembly's span.
    pub trace_context: Option<Arc<str>>,
}

/// Whose outputs are assembled: a composite node at one attempt (its children are scoped under it), or an
/// execution (its top-level nodes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum AssemblyTarget {
    Node {
        execution_id: Uuid,
        node_id: String,
        attempt: i32,
    },
    Execution(Uuid),
}

impl AssemblyTarget {
    pub fn node(key: &NodeKey, attempt: i32) -> Self {
        AssemblyTarget::Node {
            execution_id: key.0,
            node_id: key.1.clone(),
            attempt,
        }
    }

    pub fn execution_id(&self) -> Uuid {
        match self {
            AssemblyTarget::Node { execution_id, .. } | AssemblyTarget::Execution(execution_id) => *execution_id,
        }
    }

    /// The scoped id of the node (empty for an execution): the parent id of the children assembled.
    pub fn node_id(&self) -> &str {
        match self {
            AssemblyTarget::Node { node_id, .. } => node_id,
            AssemblyTarget::Execution(_) => "",
        }
    }

    pub fn key(&self) -> NodeKey {
        (self.execution_id(), self.node_id().to_owned())
    }

    /// What a refusal names.
    fn describe(&self) -> String {
        match self {
            AssemblyTarget::Node { node_id, .. } => format!("node {node_id:?}"),
            AssemblyTarget::Execution(id) => format!("execution {id}"),
        }
    }

    /// The children's rows as `(scoped id, stored outputs)` in position order, kept to this attempt's children,
    /// by local id, with their outputs decoded.
    fn children(&self, rows: Vec<(String, Option<Vec<u8>>)>) -> EngineResult<Vec<ChildOutputs>> {
        let prefix = match self {
            AssemblyTarget::Node { node_id, attempt, .. } => format!("{node_id}/{attempt}/"),
            AssemblyTarget::Execution(_) => String::new(),
        };
        let mut children = Vec::with_capacity(rows.len());
        for (node_id, outputs) in rows {
            let Some(local) = node_id.strip_prefix(&prefix) else {
                continue;
            };
            let outputs = outputs.as_deref().map(codec::decode_outputs).transpose()?;
            children.push((local.to_owned(), outputs));
        }
        Ok(children)
    }
}

/// Assembles the target's outputs by its plan from its children's rows and its inputs, and stores them as they are
/// kept (checked against the limit, large values offloaded, encoded); or says why they cannot be assembled. Decoding
/// and assembling (a 100,000-element list) run on the blocking pool.
async fn assemble(
    offloader: &Offloader,
    job: AssemblyJob,
    rows: Vec<(String, Option<Vec<u8>>)>,
) -> EngineResult<Result<Vec<u8>, String>> {
    let target = job.target.clone();
    let assembled = tokio::task::spawn_blocking(move || {
        let children = job.target.children(rows)?;
        Ok::<_, EngineError>(job.plan.assembly.assemble(&job.inputs, &children))
    })
    .await
    .map_err(|e| EngineError::Internal(format!("assembling {}: {e}", target.describe())))??;
    let outputs = match assembled {
        Ok(outputs) => outputs,
        Err(problem) => return Ok(Err(problem)),
    };
    let group = target.execution_id().to_string();
    let stored = offloader.store_assembled(outputs, &target.describe(), &group).await?;
    Ok(stored.map(|outputs| codec::encode_literals(&outputs)))
}

/// Does one job: reads, assembles and stores the target's outputs outside any transaction, and returns the writer
/// command that applies them. `None` when the store or the blob store failed (logged): the target stays
/// assembling, and the sweeper has it assembled again.
pub(crate) async fn run_job(shared: &Shared, job: AssemblyJob) -> Option<Request> {
    let target = job.target.clone();
    let span = tracing::info_span!(
        "assemble",
        execution_id = %target.execution_id(),
        node_id = target.node_id(),
    );
    gantry_telemetry::adopt_stored(&span, job.trace_context.as_deref());
    async move {
        let started = std::time::Instant::now();
        let rows = match shared
            .store
            .child_outputs(target.execution_id(), target.node_id())
            .await
        {
            Ok(rows) => rows,
            Err(error) => {
                warn!(%error, "could not read the children's outputs to assemble; assembling again later");
                return None;
            }
        };
        let children = rows.len();
        match assemble(&shared.offloader, job, rows).await {
            Ok(result) => {
                debug!(
                    children,
                    ok = result.is_ok(),
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "assembled"
                );
                Some(Request::Assembled { target, result })
            }
            Err(error) => {
                warn!(%error, "assembling failed; assembling again later");
                None
            }
        }
    }
    .instrument(span)
    .await
}

/// The assembler: one task doing the jobs of committed batches one after the other, and sending the writer their
/// results. Holds the engine weakly, so that it ends with it.
pub(crate) async fn run(
    shared: Weak<Shared>,
    mut jobs: mpsc::UnboundedReceiver<AssemblyJob>,
    commands: mpsc::WeakSender<Command>,
) {
    while let Some(job) = jobs.recv().await {
        let Some(shared) = shared.upgrade() else { return };
        let key = job.target.key();
        let request = run_job(&shared, job).await;
        if let Some(request) = request
            && !crate::writer::send_internal(&commands, request).await
        {
            return;
        }
        shared.assembly_done(&key);
    }
}

/// The writer commands that assemble again every target left assembling (updated before `updated_before`) that no
/// job of this engine carries: at start, all of them; from the sweeper, those stalled.
pub(crate) async fn resumable(shared: &Shared, updated_before: i64) -> Vec<Request> {
    match shared.store.assembling(updated_before).await {
        Ok(targets) => targets
            .into_iter()
            .filter(|key| !shared.assembly_in_flight(key))
            .map(|key| {
                info!(execution_id = %key.0, node_id = %key.1, "assembling again");
                Request::Assemble(key)
            })
            .collect(),
        Err(error) => {
            warn!(%error, "could not read which nodes and executions are assembling");
            Vec::new()
        }
    }
}

impl Batch<'_> {
    /// Records the job that assembles the target's outputs once this batch committed; its phase (`assembling`, or
    /// the execution's `succeeding`) is what the core's transition already set.
    pub async fn assemble(&mut self, target: AssemblyTarget) -> EngineResult<()> {
        let key = target.key();
        let plan = self.plan(&key).await?;
        let inputs = if plan.assembly.reads_inputs() {
            self.rows.parent_inputs(key.0, &key.1).await?
        } else {
            Arc::default()
        };
        let trace_context = self.facts(key.0).await?.trace_context;
        self.outcome.assemblies.push(AssemblyJob {
            target,
            plan,
            inputs,
            trace_context,
        });
        Ok(())
    }

    /// `Request::Assemble`: assembles again a node (an execution, under an empty node id) that is still
    /// assembling, at its current attempt; anything else is left alone.
    pub async fn assemble_again(&mut self, key: &NodeKey) -> EngineResult<()> {
        let target = if key.1.is_empty() {
            match self.rows.execution(key.0).await {
                Ok(row) if row.phase == ExecutionPhase::Succeeding => AssemblyTarget::Execution(key.0),
                Ok(_) | Err(EngineError::NotFound(_)) => return Ok(()),
                Err(error) => return Err(error),
            }
        } else {
            self.rows.load_nodes(key.0, std::slice::from_ref(&key.1)).await?;
            match self.rows.held_node(key) {
                Some(row) if row.phase == NodePhase::Assembling => {
                    AssemblyTarget::node(key, row.attempts.saturating_sub(1))
                }
                _ => return Ok(()),
            }
        };
        self.assemble(target).await
    }

    /// `Request::Assembled`: applies an assembly's result if its target is still assembling at the attempt it was
    /// assembled for. Otherwise the target moved on while it was assembled (terminated, timed out, or assembled by
    /// another job) and the result is dropped: a check, not a refused transition.
    pub async fn apply_assembly(
        &mut self,
        target: &AssemblyTarget,
        result: &Result<Vec<u8>, String>,
    ) -> EngineResult<()> {
        let current = match target {
            AssemblyTarget::Node { attempt, .. } => {
                let key = target.key();
                self.rows.load_nodes(key.0, std::slice::from_ref(&key.1)).await?;
                self.rows
                    .held_node(&key)
                    .is_some_and(|row| row.phase == NodePhase::Assembling && row.attempts.saturating_sub(1) == *attempt)
            }
            AssemblyTarget::Execution(id) => match self.rows.execution(*id).await {
                Ok(row) => row.phase == ExecutionPhase::Succeeding,
                Err(EngineError::NotFound(_)) => false,
                Err(error) => return Err(error),
            },
        };
        if !current {
            debug!(
                execution_id = %target.execution_id(),
                node_id = target.node_id(),
                "dropped a stale assembly: its target is no longer assembling"
            );
            return Ok(());
        }
        self.assembled(target, result.clone());
        self.run().await
    }

    /// Records assembled outputs (encoded) or the reason they could not be assembled, and queues the core's event.
    fn assembled(&mut self, target: &AssemblyTarget, result: Result<Vec<u8>, String>) {
        match target {
            AssemblyTarget::Node { node_id, .. } => {
                let key = target.key();
                let event = match result {
                    Ok(outputs) => {
                        self.rows.node_mut(&key).outputs = Some(outputs);
                        NodeEvent::Assembled
                    }
                    Err(problem) => NodeEvent::AssemblyFailed {
                        error: assembly_error(problem).at_node(node_id.clone()),
                    },
                };
                self.events.push_back((key, event));
            }
            AssemblyTarget::Execution(id) => {
                let event = match result {
                    Ok(outputs) => {
                        self.rows.execution_mut(*id).outputs = Some(outputs);
                        ExecutionEvent::Assembled
                    }
                    Err(problem) => ExecutionEvent::AssemblyFailed {
                        error: assembly_error(problem),
                    },
                };
                self.execution_events.push_back((*id, event));
            }
        }
    }
}

fn assembly_error(problem: String) -> ExecutionError {
    ExecutionError::user("output_assembly", problem).recoverable(false)
}
