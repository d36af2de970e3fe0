//! The writer: one task that applies every state-changing command. It takes whatever commands are waiting (up to
//! `max_batch`), applies them in one transaction and commits once: group commit, so the cost of a durable commit is
//! shared by every RPC in the batch, and no two engine transactions ever contend for a parent row.
//!
//! A command whose failure may have left the transaction half-written (a store error, a bug) rolls the batch back;
//! its commands are then retried one per transaction so that one bad command cannot fail the others.

use std::collections::HashMap;
use std::sync::Arc;

use gantry_core::model::{Identifier, Literal};
use gantry_store::{AuditRow, ExecutionRow, PutOutcome};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;
use uuid::Uuid;

use crate::assembly::AssemblyTarget;
use crate::batch::{Batch, BatchOutcome, NodeKey};
use crate::error::{EngineError, EngineResult};
use crate::hydration::Hydrated;
use crate::ingress::Admitted;
use crate::interpret::SignalSet;
use crate::notify::{ChangeScope, PhaseChange};
use crate::schedules::ScheduleRecord;
use crate::shared::Shared;
use crate::submit::{CreateExecution, Registration};
use crate::worker::{Assignment, AttemptRef, Claimant, CompletionOutcome, LeaseStatus};

impl Request {
    fn name(&self) -> &'static str {
        match self {
            Request::Register(_) => "register",
            Request::Create(_) => "create",
            Request::Terminate(..) => "terminate",
            Request::Claim { .. } => "claim",
            Request::Heartbeat { .. } => "heartbeat",
            Request::Complete { .. } => "complete",
            Request::Poll { .. } => "poll",
            Request::Sweep => "sweep",
            Request::CreateChildren(_) => "create_children",
            Request::Assemble(_) => "assemble",
            Request::Assembled { .. } => "assembled",
            Request::Hydrate(_) => "hydrate",
            Request::Hydrated { .. } => "hydrated",
            Request::Audit(_) => "audit",
            Request::SetSignal { .. } => "set_signal",
            Request::SetSchedule { .. } => "set_schedule",
        }
    }
}

/// A state-changing request and where its answer goes.
#[derive(Debug)]
pub(crate) struct Command {
    pub request: Request,
    pub reply: Reply,
}

#[derive(Debug)]
pub(crate) enum Request {
    Register(Registration),
    Create(Box<CreateExecution>),
    Terminate(Uuid, String),
    Claim {
        claimant: Claimant,
        queues: Vec<String>,
        limit: u32,
    },
    Heartbeat {
        worker_id: String,
        leases: Vec<(AttemptRef, Uuid)>,
    },
    Complete {
        worker_id: String,
        completions: Vec<Admitted>,
    },
    /// A poll carrying completions: record them, then claim.
    Poll {
        claimant: Claimant,
        completions: Vec<Admitted>,
        queues: Vec<String>,
        limit: u32,
    },
    Sweep,
    /// The engine's own: create the next chunk of a composite's children.
    CreateChildren(NodeKey),
    /// The engine's own: assemble again a node (an execution, under an empty node id) left assembling with no job
    /// carrying it (see `assembly.rs`).
    Assemble(NodeKey),
    /// The assembler's: a target's outputs assembled (encoded, large values offloaded) or why they could not be;
    /// applied only if the target is still assembling at that attempt.
    Assembled {
        target: AssemblyTarget,
        result: Result<Vec<u8>, String>,
    },
    /// The engine's own: fetch again the values a node waits for, left with no job fetching them (see
    /// `hydration.rs`); a node that no longer waits has its row deleted.
    Hydrate(NodeKey),
    /// The hydrator's: the offloaded values a node's start needs, by URI (or why one cannot be fetched); the node
    /// starts with them only if it still waits for them.
    Hydrated {
        key: NodeKey,
        values: HashMap<String, Hydrated>,
    },
    /// An audit entry, written with the batch (see `audit.rs`).
    Audit(Box<AuditRow>),
    /// A client activates or deactivates a launch plan's schedule.
    SetSchedule {
        launch_plan: Identifier,
        active: bool,
    },
    /// A client sets a signal an execution's gates wait for.
    SetSignal {
        execution_id: Uuid,
        signal_id: String,
        value: Literal,
        set_by: String,
    },
}

#[derive(Debug)]
pub(crate) enum Reply {
    Put(oneshot::Sender<EngineResult<PutOutcome>>),
    Execution(oneshot::Sender<EngineResult<(ExecutionRow, bool)>>),
    Terminated(oneshot::Sender<EngineResult<ExecutionRow>>),
    Claimed(oneshot::Sender<EngineResult<Vec<Assignment>>>),
    Leases(oneshot::Sender<EngineResult<Vec<LeaseStatus>>>),
    Completed(oneshot::Sender<EngineResult<Vec<CompletionOutcome>>>),
    Polled(oneshot::Sender<EngineResult<Recorded>>),
    Swept(oneshot::Sender<EngineResult<usize>>),
    Audited(oneshot::Sender<EngineResult<()>>),
    SignalSet(oneshot::Sender<EngineResult<SignalSet>>),
    Schedule(oneshot::Sender<EngineResult<ScheduleRecord>>),
    /// No one waits: a failure is logged.
    Internal,
}

/// A command's result, held until the batch commits.
enum Outcome {
    Put(EngineResult<PutOutcome>),
    Execution(EngineResult<(ExecutionRow, bool)>),
    Terminated(EngineResult<ExecutionRow>),
    Claimed(EngineResult<Vec<Assignment>>),
    Leases(EngineResult<Vec<LeaseStatus>>),
    Completed(EngineResult<Vec<CompletionOutcome>>),
    Polled(EngineResult<Recorded>),
    Swept(EngineResult<usize>),
    Audited(EngineResult<()>),
    SignalSet(EngineResult<SignalSet>),
    Schedule(EngineResult<ScheduleRecord>),
    Internal(EngineResult<()>),
}

/// A poll's completions recorded and its claim: the outcomes, in order, and the attempts claimed.
pub(crate) type Recorded = (Vec<CompletionOutcome>, Vec<Assignment>);

impl Outcome {
    fn error(&self) -> Option<&EngineError> {
        match self {
            Outcome::Put(r) => r.as_ref().err(),
            Outcome::Execution(r) => r.as_ref().err(),
            Outcome::Terminated(r) => r.as_ref().err(),
            Outcome::Claimed(r) => r.as_ref().err(),
            Outcome::Leases(r) => r.as_ref().err(),
            Outcome::Completed(r) => r.as_ref().err(),
            Outcome::Polled(r) => r.as_ref().err(),
            Outcome::Swept(r) => r.as_ref().err(),
            Outcome::Audited(r) => r.as_ref().err(),
            Outcome::SignalSet(r) => r.as_ref().err(),
            Outcome::Schedule(r) => r.as_ref().err(),
            Outcome::Internal(r) => r.as_ref().err(),
        }
    }

    /// Whether the error may have left the transaction half-written. Every other error is raised before the command
    /// writes anything.
    fn poisons(&self) -> bool {
        matches!(
            self.error(),
            Some(EngineError::Internal(_) | EngineError::Unavailable(_) | EngineError::AlreadyExists(_))
        )
    }
}

impl Reply {
    // A send fails only when the caller stopped waiting; there is nothing to do then.
    fn send(self, outcome: Outcome) {
        match (self, outcome) {
            (Reply::Put(tx), Outcome::Put(r)) => drop(tx.send(r)),
            (Reply::Execution(tx), Outcome::Execution(r)) => drop(tx.send(r)),
            (Reply::Terminated(tx), Outcome::Terminated(r)) => drop(tx.send(r)),
            (Reply::Claimed(tx), Outcome::Claimed(r)) => drop(tx.send(r)),
            (Reply::Leases(tx), Outcome::Leases(r)) => drop(tx.send(r)),
            (Reply::Completed(tx), Outcome::Completed(r)) => drop(tx.send(r)),
            (Reply::Polled(tx), Outcome::Polled(r)) => drop(tx.send(r)),
            (Reply::Swept(tx), Outcome::Swept(r)) => drop(tx.send(r)),
            (Reply::Audited(tx), Outcome::Audited(r)) => drop(tx.send(r)),
            (Reply::SignalSet(tx), Outcome::SignalSet(r)) => drop(tx.send(r)),
            (Reply::Schedule(tx), Outcome::Schedule(r)) => drop(tx.send(r)),
            (Reply::Internal, Outcome::Internal(r)) => {
                if let Err(error) = r {
                    tracing::error!(%error, "an engine command failed");
                }
            }
            (reply, _) => reply.fail(EngineError::Internal("mismatched reply".into())),
        }
    }

    fn fail(self, error: EngineError) {
        match self {
            Reply::Put(tx) => drop(tx.send(Err(error))),
            Reply::Execution(tx) => drop(tx.send(Err(error))),
            Reply::Terminated(tx) => drop(tx.send(Err(error))),
            Reply::Claimed(tx) => drop(tx.send(Err(error))),
            Reply::Leases(tx) => drop(tx.send(Err(error))),
            Reply::Completed(tx) => drop(tx.send(Err(error))),
            Reply::Polled(tx) => drop(tx.send(Err(error))),
            Reply::Swept(tx) => drop(tx.send(Err(error))),
            Reply::Audited(tx) => drop(tx.send(Err(error))),
            Reply::SignalSet(tx) => drop(tx.send(Err(error))),
            Reply::Schedule(tx) => drop(tx.send(Err(error))),
            Reply::Internal => tracing::error!(%error, "an engine command failed"),
        }
    }
}

/// Runs until every sender of commands is gone. While composites have children still to create, each batch
/// creates one more chunk beside whatever clients sent (and does not wait for them).
pub(crate) async fn run(shared: Arc<Shared>, mut commands: mpsc::Receiver<Command>) {
    let max_batch = shared.config.max_batch.max(1);
    crate::interpret::creation::resume(&shared).await;
    resume_assemblies(&shared, max_batch).await;
    resume_hydrations(&shared, max_batch).await;
    let mut waiting = Vec::with_capacity(max_batch + 1);
    loop {
        match shared.next_creation() {
            None => {
                if commands.recv_many(&mut waiting, max_batch).await == 0 {
                    return;
                }
            }
            Some(key) => {
                loop {
                    match commands.try_recv() {
                        Ok(command) => waiting.push(command),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        // Stopping: the rest is created after the restart.
                        Err(mpsc::error::TryRecvError::Disconnected) => return,
                    }
                    if waiting.len() == max_batch {
                        break;
                    }
                }
                waiting.push(Command {
                    request: Request::CreateChildren(key),
                    reply: Reply::Internal,
                });
            }
        }
        apply_batch(&shared, std::mem::take(&mut waiting)).await;
    }
}

/// Assembles again every node and execution left assembling (the server stopped or crashed before their jobs were
/// done), `max_batch` commands a batch.
pub(crate) async fn resume_assemblies(shared: &Arc<Shared>, max_batch: usize) {
    let requests = crate::assembly::resumable(shared, i64::MAX).await;
    apply_internal(shared, requests, max_batch).await;
}

/// Fetches again the values of every node left waiting for them (the server stopped or crashed before their jobs
/// were done), or deletes the waits gone stale, `max_batch` commands a batch.
pub(crate) async fn resume_hydrations(shared: &Arc<Shared>, max_batch: usize) {
    let requests = crate::hydration::resumable(shared, i64::MAX).await;
    apply_internal(shared, requests, max_batch).await;
}

/// Applies the engine's own requests, `max_batch` a batch.
async fn apply_internal(shared: &Arc<Shared>, requests: Vec<Request>, max_batch: usize) {
    let mut requests = requests.into_iter().peekable();
    while requests.peek().is_some() {
        let batch = requests
            .by_ref()
            .take(max_batch)
            .map(|request| Command {
                request,
                reply: Reply::Internal,
            })
            .collect();
        apply_batch(shared, batch).await;
    }
}

/// Applies the commands in one transaction and answers each; when one of them failed the transaction, they are
/// applied again one per transaction, so that one bad command cannot fail the others.
pub(crate) async fn apply_batch(shared: &Arc<Shared>, batch: Vec<Command>) {
    if let Some(retry) = isolated(shared, batch).await {
        warn!(
            commands = retry.len(),
            "a command failed inside a batch; retrying them one by one"
        );
        for command in retry {
            // A batch of one always answers its command.
            let _ = isolated(shared, vec![command]).await;
        }
    }
}

/// Applies a batch on a task of its own, so that a bug that panics fails that batch's requests (their callers see
/// their reply dropped) instead of the writer.
async fn isolated(shared: &Arc<Shared>, commands: Vec<Command>) -> Option<Vec<Command>> {
    let shared = shared.clone();
    match tokio::spawn(async move { apply(&shared, commands).await }).await {
        Ok(result) => result.err(),
        Err(panicked) => {
            tracing::error!(error = %panicked, "the writer's batch panicked; its requests failed");
            None
        }
    }
}

/// Applies `commands` in one transaction and answers them after the commit. When one of several commands
/// poisoned the transaction, nothing is answered and the commands come back to be retried one by one.
async fn apply(shared: &Shared, commands: Vec<Command>) -> Result<(), Vec<Command>> {
    let several = commands.len() > 1;
    let started = std::time::Instant::now();
    let mut batch = match Batch::begin(shared).await {
        Ok(batch) => batch,
        Err(error) => {
            commands.into_iter().for_each(|c| c.reply.fail(error.clone()));
            return Ok(());
        }
    };
    let mut outcomes = Vec::with_capacity(commands.len());
    for command in &commands {
        let command_started = std::time::Instant::now();
        let outcome = execute(&mut batch, shared, &command.request).await;
        tracing::trace!(
            command = command.request.name(),
            elapsed_us = command_started.elapsed().as_micros() as u64,
            "command applied"
        );
        if outcome.poisons() && several {
            batch.rollback().await;
            return Err(commands);
        }
        outcomes.push(outcome);
    }
    let applied = started.elapsed();
    let committed = if outcomes.iter().any(Outcome::poisons) {
        batch.rollback().await;
        Ok(None)
    } else {
        let committing = std::time::Instant::now();
        let committed = batch.commit().await;
        if committed.is_ok() {
            crate::metrics::batch_committed(commands.len(), committing.elapsed());
        }
        committed.map(Some)
    };
    tracing::debug!(
        commands = commands.len(),
        applied_us = applied.as_micros() as u64,
        total_us = started.elapsed().as_micros() as u64,
        "batch done"
    );
    match committed {
        Ok(done) => {
            for (command, outcome) in commands.into_iter().zip(outcomes) {
                command.reply.send(outcome);
            }
            if let Some(done) = done {
                crate::interpret::creation::adapt_chunk(shared, done.children_chunked, started.elapsed());
                after_batch(shared, done).await;
            }
        }
        Err(error) => commands.into_iter().for_each(|c| c.reply.fail(error.clone())),
    }
    Ok(())
}

/// Sends the writer a command whose answer nobody waits for (a job's result). False once the writer is gone.
pub(crate) async fn send_internal(commands: &mpsc::WeakSender<Command>, request: Request) -> bool {
    let Some(commands) = commands.upgrade() else {
        return false;
    };
    let command = Command {
        request,
        reply: Reply::Internal,
    };
    commands.send(command).await.is_ok()
}

/// What follows a batch's commit: its signals, and the jobs it recorded handed to their tasks.
pub(crate) async fn after_batch(shared: &Shared, mut outcome: BatchOutcome) {
    let unwatched = std::mem::take(&mut outcome.unwatched);
    after_commit(shared, outcome);
    catch_up_late_watches(shared, unwatched).await;
}

/// Sends the watches that began while a batch changed their execution (after the batch found it unwatched, so that
/// it built no change for them) the execution's committed phase: such a watch may have read the execution before
/// the commit, and would otherwise wait for a change that never comes. Costs a read only in that race.
async fn catch_up_late_watches(shared: &Shared, unwatched: Vec<Uuid>) {
    for id in unwatched.into_iter().filter(|id| shared.signals.watched(*id)) {
        match shared.store.get_execution(id).await {
            Ok(Some(row)) => shared.signals.publish(vec![PhaseChange {
                execution_id: id,
                node_id: String::new(),
                attempt: None,
                scope: ChangeScope::Execution,
                phase: row.phase.as_str(),
                at_ms: row.updated_at,
            }]),
            Ok(None) => {}
            // The watch goes on live; it learns the phase at the execution's next change, or when it watches again.
            Err(error) => warn!(execution_id = %id, %error, "cannot read a newly watched execution's phase"),
        }
    }
}

fn after_commit(shared: &Shared, mut outcome: BatchOutcome) {
    std::mem::take(&mut outcome.tally).emit();
    if outcome.delayed {
        shared.sweeper_poke.notify_one();
    }
    for queue in &outcome.woken {
        shared.signals.wake(queue);
    }
    shared.signals.publish(outcome.changes);
    // Published: the watches waiting to read a snapshot may read it.
    drop(outcome.in_flight.take());
    for execution_id in outcome.finished {
        shared.forget_execution(execution_id);
    }
    shared.queue_creations(outcome.creating);
    shared.queue_assemblies(outcome.assemblies);
    shared.queue_hydrations(outcome.hydrations);
}

async fn execute(batch: &mut Batch<'_>, shared: &Shared, request: &Request) -> Outcome {
    let lease_ms = shared.config.lease.as_millis() as i64;
    match request {
        Request::Register(registration) => Outcome::Put(batch.register(registration).await),
        Request::Create(create) => Outcome::Execution(batch.create_execution(create).await),
        Request::Terminate(id, reason) => Outcome::Terminated(batch.terminate(*id, reason).await),
        Request::Claim {
            claimant,
            queues,
            limit,
        } => Outcome::Claimed(batch.claim(claimant, queues, *limit, lease_ms).await),
        Request::Heartbeat { worker_id, leases } => Outcome::Leases(batch.heartbeat(worker_id, leases, lease_ms).await),
        Request::Complete { worker_id, completions } => {
            Outcome::Completed(batch.complete(worker_id, completions).await)
        }
        Request::Poll {
            claimant,
            completions,
            queues,
            limit,
        } => Outcome::Polled(poll(batch, claimant, completions, queues, *limit, lease_ms).await),
        Request::Sweep => Outcome::Swept(batch.sweep(1_000).await),
        Request::CreateChildren(key) => Outcome::Internal(batch.continue_children(key).await),
        Request::Assemble(key) => Outcome::Internal(batch.assemble_again(key).await),
        Request::Assembled { target, result } => Outcome::Internal(batch.apply_assembly(target, result).await),
        Request::Hydrate(key) => Outcome::Internal(batch.hydrate_again(key).await),
        Request::Hydrated { key, values } => Outcome::Internal(batch.apply_hydration(key, values).await),
        Request::Audit(entry) => Outcome::Audited(batch.rows.tx.insert_audit_entry(entry).await.map_err(Into::into)),
        Request::SetSignal {
            execution_id,
            signal_id,
            value,
            set_by,
        } => Outcome::SignalSet(batch.set_signal(*execution_id, signal_id, value, set_by).await),
        Request::SetSchedule { launch_plan, active } => {
            Outcome::Schedule(batch.set_schedule_active(launch_plan, *active).await)
        }
    }
}

/// Records a poll's completions, then claims: the claim sees what the completions released.
async fn poll(
    batch: &mut Batch<'_>,
    claimant: &Claimant,
    completions: &[Admitted],
    queues: &[String],
    limit: u32,
    lease_ms: i64,
) -> EngineResult<Recorded> {
    let completed = batch.complete(&claimant.worker_id, completions).await?;
    let claimed = batch.claim(claimant, queues, limit, lease_ms).await?;
    Ok((completed, claimed))
}
