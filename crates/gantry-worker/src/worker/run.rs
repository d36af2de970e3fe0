//! The worker loop: poll for attempts while the worker may hold more (its slots, and any prefetch claimed ahead),
//! carrying the results of finished attempts in the same call; hand each attempt to [`super::attempt`], which waits
//! for a slot; and shut down in order (stop polling, drain running attempts, flush results, stop heartbeating).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::token::AuthedChannel;
use gantry_proto::v1 as pb;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::attempt::{AttemptJob, PendingCompletion, run_attempt};
use super::backoff::Backoff;
use super::completions::Outbox;
use super::prefetch::Prefetch;
use super::{MAX_POLL_ATTEMPTS, RegisteredTask, WorkerConfig, completions, heartbeat};
use crate::context::AttemptId;
use crate::error::WorkerError;
use crate::references::References;
use crate::spec_limits::SpecLimits;

/// Until the first assignment tells the real lease, heartbeat as if it were this short.
const ASSUMED_LEASE: Duration = Duration::from_secs(15);
/// A poll's RPC deadline is its wait plus this much.
const POLL_DEADLINE_MARGIN: Duration = Duration::from_secs(15);
/// A poll being gathered goes out once no held attempt ended for this long.
const GATHER_QUIET: Duration = Duration::from_millis(1);
/// Room left in a message beside a dynamic spec, for the rest of the completion request (as the server counts it).
const SPEC_MESSAGE_MARGIN: u64 = 64 * 1024;

/// An attempt being run (or whose result is not yet acknowledged): what heartbeats present for it.
#[derive(Debug)]
pub(crate) struct RunningAttempt {
    pub(crate) attempt: pb::AttemptRef,
    pub(crate) lease_id: String,
    pub(crate) cancel: CancellationToken,
}

/// What the poll loop is doing, as the flusher sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PollState {
    /// Waiting for room, backing off, or stopped: it may not send a poll soon.
    Idle = 0,
    /// About to send a poll, gathering the results of attempts that are about to finish: it will carry them.
    Gathering = 1,
    /// A poll is out that will come back soon (it carries results, or the poll before it found work).
    Out = 2,
    /// A poll is out that may wait for work: it carries no results and the poll before it found none.
    Waiting = 3,
}

/// State shared by the poll loop, the attempts, the heartbeat loop and the completion flusher.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: WorkerConfig,
    client: WorkerServiceClient<AuthedChannel>,
    /// Reads the references in attempts' inputs.
    pub(crate) references: References,
    running: Mutex<HashMap<AttemptId, RunningAttempt>>,
    lease: watch::Sender<Duration>,
    /// The server's spec limits, as its last poll response told them.
    spec_limits: Mutex<SpecLimits>,
    /// Results waiting to be reported.
    pub(crate) outbox: Outbox,
    /// How many attempts to claim ahead of the slots.
    pub(crate) prefetch: Prefetch,
    /// What the poll loop is doing (a [`PollState`]), for the flusher.
    poll_state: AtomicU8,
    /// Whether polls carry results; off for a server that does not answer for them.
    polls_carry: AtomicBool,
}

impl Shared {
    /// A client on the shared connection (clones are cheap).
    pub(crate) fn client(&self) -> WorkerServiceClient<AuthedChannel> {
        self.client.clone()
    }

    fn running(&self) -> MutexGuard<'_, HashMap<AttemptId, RunningAttempt>> {
        // A panic while holding the lock leaves the map consistent: every operation on it is a single call.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn track(&self, id: AttemptId, attempt: RunningAttempt) {
        self.running().insert(id, attempt);
    }

    /// Stops heartbeating an attempt.
    pub(crate) fn forget(&self, id: &AttemptId) {
        self.running().remove(id);
    }

    /// Stops heartbeating an attempt and stops its handler.
    pub(crate) fn cancel(&self, id: &AttemptId) {
        if let Some(attempt) = self.running().remove(id) {
            attempt.cancel.cancel();
        }
    }

    /// Every attempt to heartbeat.
    pub(crate) fn leased_attempts(&self) -> Vec<(AttemptId, pb::LeasedAttempt)> {
        self.running()
            .iter()
            .map(|(id, running)| {
                let leased = pb::LeasedAttempt {
                    attempt: Some(running.attempt.clone()),
                    lease_id: running.lease_id.clone(),
                };
                (id.clone(), leased)
            })
            .collect()
    }

    /// Learns the lease's length from an expiry the server handed out.
    pub(crate) fn observe_lease(&self, expires_at: Option<&prost_types::Timestamp>) {
        let Some(expires_at) = expires_at else { return };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let expires_at = Duration::new(
            expires_at.seconds.max(0).unsigned_abs(),
            expires_at.nanos.max(0).unsigned_abs(),
        );
        let Some(lease) = expires_at.checked_sub(now) else {
            return;
        };
        if lease.is_zero() {
            return;
        }
        // Round to 100 ms so that the time a message spent in flight does not wake the heartbeat loop each time.
        let lease = Duration::from_millis(
            lease
                .as_millis()
                .div_ceil(100)
                .saturating_mul(100)
                .try_into()
                .unwrap_or(u64::MAX),
        );
        self.lease.send_if_modified(|current| {
            let changed = *current != lease;
            *current = lease;
            changed
        });
    }

    pub(crate) fn lease_updates(&self) -> watch::Receiver<Duration> {
        self.lease.subscribe()
    }

    pub(crate) fn poll_state(&self) -> PollState {
        match self.poll_state.load(Ordering::Acquire) {
            1 => PollState::Gathering,
            2 => PollState::Out,
            3 => PollState::Waiting,
            _ => PollState::Idle,
        }
    }

    fn set_poll_state(&self, state: PollState) {
        self.poll_state.store(state as u8, Ordering::Release);
    }

    /// The spec limits to hold a new attempt's dynamic specs to.
    pub(crate) fn spec_limits(&self) -> SpecLimits {
        *self.spec_limits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Learns the server's spec limits from a poll response. A spec goes alone in a `CompleteAttempts` call, which
    /// the server takes up to its spec limit whatever its message limit, and which this worker sends as large
    /// (`spec_client`).
    fn observe_limits(&self, limits: Option<&pb::WorkerLimits>) {
        *self.spec_limits.lock().unwrap_or_else(PoisonError::into_inner) = SpecLimits::from_wire(limits);
    }

    /// A client for a `CompleteAttempts` call that carries a dynamic spec: it sends a message as large as the spec
    /// limit allows, beyond `max_message_bytes`, which holds every other call.
    pub(crate) fn spec_client(&self) -> WorkerServiceClient<AuthedChannel> {
        let spec = self.spec_limits().max_bytes.saturating_add(SPEC_MESSAGE_MARGIN);
        let limit = self
            .config
            .max_message_bytes
            .max(usize::try_from(spec).unwrap_or(usize::MAX));
        self.client.clone().max_encoding_message_size(limit)
    }
}

/// See [`crate::Worker::run`].
pub(crate) async fn run(
    channel: AuthedChannel,
    config: WorkerConfig,
    handlers: Arc<BTreeMap<String, RegisteredTask>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WorkerError> {
    let references = References::new(channel.clone(), config.max_message_bytes);
    let client = WorkerServiceClient::new(channel)
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);
    let shared = Arc::new(Shared {
        config: config.clone(),
        client,
        references,
        running: Mutex::new(HashMap::new()),
        lease: watch::Sender::new(ASSUMED_LEASE),
        spec_limits: Mutex::new(SpecLimits::default()),
        outbox: Outbox::new(config.max_completion_batch, config.max_message_bytes),
        poll_state: AtomicU8::new(PollState::Idle as u8),
        prefetch: Prefetch::new(config.concurrency, config.max_prefetch()),
        polls_carry: AtomicBool::new(true),
    });
    shared.observe_limits(None);
    info!(worker_id = %config.worker_id, queues = ?config.queues, concurrency = config.concurrency, "worker started");

    let tracker = TaskTracker::new();
    let finish_flushing = CancellationToken::new();
    let give_up_flushing = CancellationToken::new();
    let mut flusher = tokio::spawn(completions::flush_loop(
        shared.clone(),
        tracker.clone(),
        finish_flushing.clone(),
        give_up_flushing.clone(),
    ));
    let stop_heartbeats = CancellationToken::new();
    let heartbeats = tokio::spawn(heartbeat::heartbeat_loop(shared.clone(), stop_heartbeats.clone()));

    let stop_polling = CancellationToken::new();
    let abort_running = CancellationToken::new();
    let poller = Poller {
        shared: shared.clone(),
        handlers,
        slots: Arc::new(Semaphore::new(config.concurrency)),
        held: Arc::new(Semaphore::new(config.capacity())),
        tracker: tracker.clone(),
        stop: stop_polling.clone(),
        abort_running: abort_running.clone(),
    };
    let poll_result = {
        let poll = poller.poll_loop();
        tokio::pin!(poll);
        tokio::select! {
            result = &mut poll => result,
            () = shutdown => {
                info!(worker_id = %config.worker_id, "shutting down: no more polls, draining running attempts");
                stop_polling.cancel();
                poll.await
            }
        }
    };

    tracker.close();
    if tokio::time::timeout(config.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        warn!(worker_id = %config.worker_id, "shutdown grace elapsed, reporting the attempts still running as failed");
        abort_running.cancel();
        tracker.wait().await;
    }
    // Every attempt has ended, so the flusher drains what is left and ends.
    finish_flushing.cancel();
    if tokio::time::timeout(config.shutdown_grace, &mut flusher).await.is_err() {
        warn!(worker_id = %config.worker_id, "could not report every result before the shutdown grace elapsed");
        give_up_flushing.cancel();
        let _ = flusher.await;
    }
    stop_heartbeats.cancel();
    let _ = heartbeats.await;
    info!(worker_id = %config.worker_id, "worker stopped");
    poll_result
}

/// The poll loop and what it hands to each attempt.
struct Poller {
    shared: Arc<Shared>,
    handlers: Arc<BTreeMap<String, RegisteredTask>>,
    /// One per attempt that may run at once.
    slots: Arc<Semaphore>,
    /// One per attempt the worker may hold: running, or claimed ahead and waiting for a slot.
    held: Arc<Semaphore>,
    tracker: TaskTracker,
    stop: CancellationToken,
    abort_running: CancellationToken,
}

impl Poller {
    async fn poll_loop(self) -> Result<(), WorkerError> {
        let config = &self.shared.config;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut found_work = false;
        loop {
            let Some(mut room) = self.room().await else {
                return Ok(());
            };
            if !self.gather(&mut room).await || !self.within_prefetch(&mut room).await {
                return Ok(());
            }
            let carried = match self.shared.polls_carry.load(Ordering::Relaxed) {
                true => self.shared.outbox.take_for_poll(),
                false => Vec::new(),
            };
            let request = pb::PollTasksRequest {
                worker_id: config.worker_id.clone(),
                queues: config.queues.clone(),
                // The server refuses more per poll; the room left over is freed when `room` is dropped.
                max_attempts: u32::try_from(room.len().min(MAX_POLL_ATTEMPTS)).unwrap_or(1),
                wait: Some(prost_types::Duration {
                    seconds: i64::try_from(config.poll_wait.as_secs()).unwrap_or(i64::MAX),
                    nanos: i32::try_from(config.poll_wait.subsec_nanos()).unwrap_or(0),
                }),
                completions: carried.iter().map(|pending| pending.completion.clone()).collect(),
            };
            let mut request = tonic::Request::new(request);
            request.set_timeout(config.poll_wait + POLL_DEADLINE_MARGIN);
            let mut client = self.shared.client();
            let may_wait = carried.is_empty() && !found_work;
            self.shared.set_poll_state(match may_wait {
                true => PollState::Waiting,
                false => PollState::Out,
            });
            let sent = tokio::time::Instant::now();
            // An attempt claimed by a poll cut short here comes back after its lease expires; results it carried
            // are sent again (one the server did record is answered as such).
            let response = tokio::select! {
                biased;
                () = self.stop.cancelled() => Err(None),
                response = client.poll_tasks(request) => response.map_err(Some),
            };
            self.shared.set_poll_state(PollState::Idle);
            let response = match response {
                Ok(response) => response.into_inner(),
                Err(status) => {
                    self.shared.outbox.push_all(carried);
                    match status {
                        None => return Ok(()),
                        Some(status) if is_fatal(&status) => return Err(WorkerError::rpc("PollTasks", status)),
                        Some(status) => {
                            // Never retried: a server that refuses our TLS (or we its) will not change its mind.
                            if let Some(refused) = WorkerError::tls(config, &status).await {
                                return Err(refused);
                            }
                            let delay = backoff.next_delay();
                            warn!(code = ?status.code(), error = %status.message(), retry_in = ?delay, "poll failed");
                            tokio::select! {
                                () = self.stop.cancelled() => return Ok(()),
                                () = tokio::time::sleep(delay) => continue,
                            }
                        }
                    }
                }
            };
            backoff.reset();
            found_work = !response.assignments.is_empty();
            if found_work && !may_wait {
                self.shared.prefetch.observe_round_trip(sent.elapsed());
            }
            if let Some(limits) = &response.limits {
                self.shared.observe_limits(Some(limits));
            }
            self.settle_carried(carried, response.completion_results);
            debug!(count = response.assignments.len(), "polled attempts");
            for assignment in response.assignments {
                let held = match room.pop() {
                    Some(held) => held,
                    // The server never hands out more than asked; if it did, hold the extra one when room frees.
                    None => match self.held.clone().acquire_owned().await {
                        Ok(held) => held,
                        Err(_) => return Ok(()),
                    },
                };
                self.start(assignment, held);
            }
        }
    }

    /// Acts on the answers for the results a poll carried. A server that answers for none of them does not take
    /// results in polls: they go with `CompleteAttempts`, now and from then on.
    fn settle_carried(&self, carried: Vec<PendingCompletion>, results: Vec<pb::CompletionResult>) {
        if carried.is_empty() {
            return;
        }
        if results.len() != carried.len() {
            warn!(
                carried = carried.len(),
                answered = results.len(),
                "the server did not answer for the results a poll carried; sending them with CompleteAttempts"
            );
            self.shared.polls_carry.store(false, Ordering::Relaxed);
            self.shared.outbox.push_all(carried);
            return;
        }
        let retry = completions::settle(&self.shared, carried, results);
        self.shared.outbox.push_all(retry);
    }

    /// Before a poll, while attempts are still held, waits for more of them to finish, taking the room each frees,
    /// so that the poll carries their results and asks for their room at once instead of one poll per result: up to
    /// the completion linger, and no longer than [`GATHER_QUIET`] after the last one ended. `false` once stopped.
    async fn gather(&self, room: &mut Vec<OwnedSemaphorePermit>) -> bool {
        let capacity = self.shared.config.capacity();
        if room.len() >= capacity {
            return true;
        }
        self.shared.set_poll_state(PollState::Gathering);
        let linger = self.shared.config.completion_linger;
        let until = tokio::time::Instant::now() + linger;
        let quiet = linger.min(GATHER_QUIET);
        while room.len() < capacity {
            // Until the linger ends, or a quiet spell in which no attempt ended: the rest may run for long.
            let deadline = until.min(tokio::time::Instant::now() + quiet);
            tokio::select! {
                biased;
                () = self.stop.cancelled() => {
                    self.shared.set_poll_state(PollState::Idle);
                    return false;
                }
                permit = self.held.clone().acquire_owned() => match permit {
                    Ok(permit) => room.push(permit),
                    Err(_) => return false,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        true
    }

    /// Keeps to the prefetch the measured durations call for: gives back the room beyond it, waiting while there is
    /// none within it. `false` once stopped.
    async fn within_prefetch(&self, room: &mut Vec<OwnedSemaphorePermit>) -> bool {
        let capacity = self.shared.config.capacity();
        loop {
            let held = capacity - room.len();
            let wanted = self.shared.prefetch.target().saturating_sub(held);
            if wanted > 0 {
                room.truncate(wanted);
                return true;
            }
            self.shared.set_poll_state(PollState::Idle);
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return false,
                permit = self.held.clone().acquire_owned() => match permit {
                    Ok(permit) => room.push(permit),
                    Err(_) => return false,
                },
            }
        }
    }

    /// Waits until the worker may hold at least one more attempt and takes all the room there is; `None` once
    /// stopped.
    async fn room(&self) -> Option<Vec<OwnedSemaphorePermit>> {
        let first = tokio::select! {
            biased;
            () = self.stop.cancelled() => return None,
            permit = self.held.clone().acquire_owned() => permit.ok()?,
        };
        let mut room = vec![first];
        while let Ok(permit) = self.held.clone().try_acquire_owned() {
            room.push(permit);
        }
        Some(room)
    }

    fn start(&self, assignment: pb::AttemptAssignment, held: OwnedSemaphorePermit) {
        let Some(job) = AttemptJob::prepare(&self.shared, &self.handlers, assignment) else {
            return;
        };
        self.tracker.spawn(run_attempt(
            self.shared.clone(),
            job,
            self.slots.clone(),
            self.abort_running.clone(),
            held,
        ));
    }
}

/// Errors that retrying the same request cannot fix.
fn is_fatal(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::InvalidArgument
            | tonic::Code::Unimplemented
            | tonic::Code::PermissionDenied
            | tonic::Code::Unauthenticated
    )
}
