//! Gantry's engine: carries out what `gantry-core` decides, against a `gantry-store`.
//!
//! Event-driven: a submission, a completion, a lease expiry or a termination is applied in one transaction, and its
//! effects (ready nodes, new attempts, execution completion) follow in the same transaction; a composite's output
//! assembly is recorded there and done after the commit by the assembler (`assembly.rs`), outside the writer, whose
//! result is applied as another command; so are the fetches of offloaded values a node needs to start, by the
//! hydrator (`hydration.rs`). There are no periodic scans of graphs and no task or timer per waiting
//! node; what is not running lives only in the database. One writer task applies every state change, batching whatever commands are waiting into one
//! transaction (see `writer.rs`); reads go straight to the store, and leave the engine as typed records (`reads/`):
//! nothing outside the engine sees a row or decodes stored bytes.
//!
//! Must not depend on tonic or the server: the server maps requests to this API and [`EngineError`] to gRPC codes.
//! It uses `gantry-proto`'s messages without its `services` feature, so tonic is not even in its dependency tree.
#![forbid(unsafe_code)]

mod access;
mod assembly;
mod audit;
mod batch;
mod blobs;
mod codec;
mod compaction;
mod config;
mod dispatch;
mod error;
mod guarded;
mod health;
mod hydration;
mod ingress;
mod interpret;
mod metrics;
mod notify;
mod reads;
mod refusals;
mod rows;
mod schedules;
mod shared;
mod submit;
mod sweep;
mod templates;
mod worker;
mod writer;

use std::sync::Arc;

use gantry_store::Store;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use audit::NewAuditEntry;
pub use blobs::{BlobStore, Limits, contains_offloaded, encoded_size};
pub use codec::{NodeRuns, decode_literals};
pub use config::{Clock, EngineConfig};
pub use dispatch::Polled;
pub use error::{EngineError, EngineResult};
pub use gantry_store::{
    ActiveCounts, AuditFilter, AuditRow as AuditEntry, ExecutionFilter, Page, PoolUse, PutOutcome, TargetFilter,
};
pub use interpret::SignalSet;
pub use notify::{ChangeScope, PhaseChange, Settled, Watch};
pub use reads::{
    AttemptRecord, CHUNK_BYTES, ExecutionOrigin, ExecutionRecord, ExecutionValues, Listed, NodeRecord, NodeValues,
    ReadMode, ReferenceReader, SignalRecord, SpecRead, TaskAssignment, Template,
};
pub use schedules::ScheduleRecord;
pub use submit::{CreateExecution, Origin, Registration, Target};
pub use worker::{AttemptRef, Claimant, Completion, CompletionOutcome, LeaseStatus};

use shared::Shared;
use writer::{Command, Reply, Request};

/// Milliseconds since the Unix epoch: the engine's only clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A handle on the engine. Cheap to clone; the engine stops when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Engine {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
}

/// The engine's background tasks, to await on shutdown.
#[derive(Debug)]
pub struct EngineTasks {
    pub writer: JoinHandle<()>,
    pub sweeper: JoinHandle<()>,
    /// Forwards other replicas' queue announcements to local long polls.
    pub listener: JoinHandle<()>,
    /// Watches whether the store is reachable, and renews leases after an outage.
    pub monitor: JoinHandle<()>,
    /// Assembles composites' outputs outside the writer (see `assembly.rs`).
    pub assembler: JoinHandle<()>,
    /// Fetches the offloaded values nodes need to start outside the writer (see `hydration.rs`).
    pub hydrator: JoinHandle<()>,
}

impl Engine {
    /// Starts the writer, the lease sweeper, the listener for other replicas, the store's health monitor, the
    /// assembler and the hydrator on the current tokio runtime.
    pub fn start(store: Arc<dyn Store>, config: EngineConfig) -> (Engine, EngineTasks) {
        let shared = Arc::new(Shared::new(store, config));
        let (commands, receiver) = mpsc::channel(4_096);
        let writer = tokio::spawn(writer::run(shared.clone(), receiver));
        let engine = Engine { shared, commands };
        let sweeper = tokio::spawn(sweep::run(engine.downgrade()));
        let listener = tokio::spawn(sweep::listen(engine.downgrade()));
        let monitor = tokio::spawn(health::monitor(Arc::downgrade(&engine.shared)));
        let jobs = engine
            .shared
            .take_assembly_queue()
            .expect("a new engine's assembly queue");
        let assembler = tokio::spawn(assembly::run(
            Arc::downgrade(&engine.shared),
            jobs,
            engine.commands.downgrade(),
        ));
        let jobs = engine
            .shared
            .take_hydration_queue()
            .expect("a new engine's hydration queue");
        let hydrator = tokio::spawn(hydration::run(
            Arc::downgrade(&engine.shared),
            jobs,
            engine.commands.downgrade(),
        ));
        (
            engine,
            EngineTasks {
                writer,
                sweeper,
                listener,
                monitor,
                assembler,
                hydrator,
            },
        )
    }

    /// Whether the store is reachable, as the engine last found (`true` when it answers): what the server's health
    /// reports.
    pub fn store_reachable(&self) -> watch::Receiver<bool> {
        self.shared.health.subscribe()
    }

    /// What is in flight (executions and nodes not yet ended, queued and running attempts), counted in the store:
    /// the operators' gauges, read when metrics are scraped.
    pub async fn active_counts(&self) -> EngineResult<ActiveCounts> {
        Ok(self.shared.store.active_counts().await?)
    }

    /// The store's connection pool's use now.
    pub fn pool_use(&self) -> PoolUse {
        self.shared.store.pool_use()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// How many transitions the core refused since the engine started: each is a bug in the engine (see
    /// [`EngineConfig::strict_transitions`]).
    pub fn refused_transitions(&self) -> u64 {
        self.shared.refusals.count()
    }

    fn downgrade(&self) -> sweep::WeakEngine {
        sweep::WeakEngine {
            shared: Arc::downgrade(&self.shared),
            commands: self.commands.downgrade(),
        }
    }

    async fn send<T>(
        &self,
        request: Request,
        reply: Reply,
        answer: oneshot::Receiver<EngineResult<T>>,
    ) -> EngineResult<T> {
        let stopped = || EngineError::Unavailable("the engine is shutting down".to_owned());
        // Nothing queues up for the writer while the store is known to be unreachable.
        self.shared.health.check()?;
        self.commands
            .send(Command { request, reply })
            .await
            .map_err(|_| stopped())?;
        // A dropped reply with the writer still running means the batch failed on a bug (logged by the writer).
        let answered = answer.await.map_err(|_| match self.commands.is_closed() {
            true => stopped(),
            false => EngineError::Internal("the request failed inside the engine".to_owned()),
        })?;
        if matches!(answered, Err(EngineError::Unavailable(_))) {
            // A store call inside the batch failed: the store may have become unreachable.
            self.shared.health.suspect();
        }
        answered
    }

    /// Registers a task, workflow or launch plan. Registering the identical template again is a no-op.
    pub async fn register(&self, registration: Registration) -> EngineResult<PutOutcome> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Register(registration), Reply::Put(tx), rx).await
    }

    /// Creates an execution (or returns the existing one of the same name): `(execution, created)`.
    pub async fn create_execution(&self, request: CreateExecution) -> EngineResult<(ExecutionRecord, bool)> {
        let request = self.admit_inputs(request).await?;
        let (tx, rx) = oneshot::channel();
        let (row, created) = self
            .send(Request::Create(Box::new(request)), Reply::Execution(tx), rx)
            .await?;
        Ok((ExecutionRecord::from_row(row)?, created))
    }

    /// Starts `id`'s target again with its inputs, as `name`. A relaunch reuses nothing (the cache still applies); a
    /// recovery reuses the nodes that succeeded and the specs that were accepted, and needs an execution that ended
    /// without succeeding.
    pub async fn rerun(
        &self,
        id: Uuid,
        name: Option<String>,
        overwrite_cache: bool,
        recover: bool,
    ) -> EngineResult<(ExecutionRecord, bool)> {
        let old = self
            .shared
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("execution {id} not found")))?;
        if recover && (!old.phase.is_terminal() || old.phase == gantry_core::state::ExecutionPhase::Succeeded) {
            return Err(EngineError::FailedPrecondition(format!(
                "execution {id} is {}: only an execution that ended without succeeding can be recovered",
                old.phase
            )));
        }
        let origin = if recover {
            Origin::Recovered(id)
        } else {
            Origin::Relaunched(id)
        };
        self.create_execution(submit::rerun_of(&old, name, overwrite_cache, origin)?)
            .await
    }

    /// Aborts a running execution and everything below it.
    pub async fn terminate(&self, id: Uuid, reason: String) -> EngineResult<ExecutionRecord> {
        let (tx, rx) = oneshot::channel();
        let row = self
            .send(Request::Terminate(id, reason), Reply::Terminated(tx), rx)
            .await?;
        ExecutionRecord::from_row(row)
    }

    /// Sets signal `signal_id` of execution `execution_id` to `value` (by `set_by`, a principal) and opens the gates
    /// waiting for it (see `interpret/gate.rs`).
    pub async fn set_signal(
        &self,
        execution_id: Uuid,
        signal_id: String,
        value: gantry_core::model::Literal,
        set_by: String,
    ) -> EngineResult<SignalSet> {
        let (tx, rx) = oneshot::channel();
        let request = Request::SetSignal {
            execution_id,
            signal_id,
            value,
            set_by,
        };
        self.send(request, Reply::SignalSet(tx), rx).await
    }

    /// Activates (`active`) or deactivates the schedule of launch plan `launch_plan` (see `schedules.rs`).
    pub async fn set_schedule_active(
        &self,
        launch_plan: gantry_core::model::Identifier,
        active: bool,
    ) -> EngineResult<ScheduleRecord> {
        let (tx, rx) = oneshot::channel();
        let request = Request::SetSchedule { launch_plan, active };
        self.send(request, Reply::Schedule(tx), rx).await
    }

    /// Fails attempts whose lease expired now and times out attempts and executions past their deadlines; returns
    /// how many rows it looked at.
    pub async fn sweep(&self) -> EngineResult<usize> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Sweep, Reply::Swept(tx), rx).await
    }

    /// Phase changes of one execution from now on. A receiver that falls behind by more than the buffer gets
    /// `Lagged` and should re-read the state it follows. A snapshot of the execution is read after
    /// [`Watch::settled`], so that no change falls between the snapshot and the changes.
    pub fn watch(&self, execution_id: Uuid) -> Watch {
        self.shared.signals.watch(execution_id)
    }
}

/// Resolves when any of the notifications fires.
pub(crate) async fn any_notified(mut notified: Vec<std::pin::Pin<Box<tokio::sync::futures::Notified<'_>>>>) {
    use std::future::Future;
    std::future::poll_fn(|cx| {
        for waiting in &mut notified {
            if waiting.as_mut().poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod tests;
