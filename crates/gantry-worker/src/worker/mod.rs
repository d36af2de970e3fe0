//! [`Worker`] and its builder: which tasks it runs, how many at once, and against which server.

mod attempt;
mod backoff;
mod completions;
mod heartbeat;
mod prefetch;
mod run;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::token::{AuthedChannel, Bearer};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use tracing::{info, warn};

use crate::context::TaskContext;
use crate::error::{TaskError, WorkerError};
use crate::io::{Inputs, TaskOutput};
use crate::task_def::TaskDef;
use crate::tls::{self, ClientTls};
use backoff::Backoff;

/// The future a handler returns, boxed so that handlers of different types live in one registry.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<TaskOutput, TaskError>> + Send>>;

/// A registered handler.
pub(crate) type Handler = Arc<dyn Fn(TaskContext, Inputs) -> HandlerFuture + Send + Sync>;

/// A task the worker runs: its template and its handler.
#[derive(Clone)]
pub(crate) struct RegisteredTask {
    pub(crate) def: TaskDef,
    pub(crate) handler: Handler,
}

/// How often registration retries while the server is unavailable (it may still be starting).
const REGISTER_ATTEMPTS: u32 = 12;

/// What one request may carry at most, on every server (worker.proto): the worker keeps within these.
pub(crate) const MAX_POLL_QUEUES: usize = 100;
pub(crate) const MAX_POLL_ATTEMPTS: usize = 1_000;
pub(crate) const MAX_HEARTBEAT_ATTEMPTS: usize = 10_000;
pub(crate) const MAX_COMPLETIONS: usize = 1_000;

impl WorkerConfig {
    /// How many attempts may be held at once: running, and claimed ahead while they wait for a slot.
    pub(crate) fn capacity(&self) -> usize {
        self.concurrency
            .saturating_add(self.max_prefetch())
            .clamp(1, MAX_POLL_ATTEMPTS.max(self.concurrency))
    }

    /// The most attempts claimed ahead of the slots.
    pub(crate) fn max_prefetch(&self) -> usize {
        self.prefetch
            .unwrap_or(0)
            .min(MAX_POLL_ATTEMPTS.saturating_sub(self.concurrency))
    }
}

/// Tunables of the worker loop.
#[derive(Debug, Clone)]
pub(crate) struct WorkerConfig {
    /// The server's URL, for messages.
    pub(crate) endpoint: String,
    /// How to reach it over `https://`.
    pub(crate) tls: ClientTls,
    pub(crate) worker_id: String,
    pub(crate) queues: Vec<String>,
    pub(crate) concurrency: usize,
    pub(crate) prefetch: Option<usize>,
    pub(crate) poll_wait: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) completion_linger: Duration,
    pub(crate) max_completion_batch: usize,
    pub(crate) max_message_bytes: usize,
}

/// Builds a [`Worker`]: `Worker::builder("http://127.0.0.1:50051").concurrency(8).task(def, handler).build()?`.
pub struct WorkerBuilder {
    endpoint: String,
    /// The token every call presents (`None`: none, for a server without authentication).
    token: Option<String>,
    config: WorkerConfig,
    tasks: Vec<RegisteredTask>,
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .field(
                "tasks",
                &self.tasks.iter().map(|t| t.def.id().to_string()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl WorkerBuilder {
    /// Sets the worker's id, recorded on the attempts it claims. Defaults to `hostname-pid-random`.
    #[must_use]
    pub fn worker_id(mut self, worker_id: impl Into<String>) -> Self {
        self.config.worker_id = worker_id.into();
        self
    }

    /// The queues to poll (default `["default"]`); at most 100, the server's limit per poll.
    #[must_use]
    pub fn queues<Q: Into<String>>(mut self, queues: impl IntoIterator<Item = Q>) -> Self {
        self.config.queues = queues.into_iter().map(Into::into).collect();
        self
    }

    /// How many attempts run at once; also the most one poll asks for (up to 1,000, the server's limit). Default 4.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.config.concurrency = concurrency;
        self
    }

    /// The most attempts to claim ahead of the slots, so that a slot that frees starts its next attempt at once instead
    /// of after a round trip (default 0: none; running and prefetched attempts together are held to 1,000, or to
    /// `concurrency` when that is larger). Within it the worker claims `concurrency × round trip / run time` ahead, at
    /// least one once it has measured both (none before): deep for short tasks, shallow for long ones. Set it for short
    /// tasks (4 × `concurrency` takes a no-op task's cycle from a round trip to a fraction of one); leave it off where
    /// long tasks must spread over several workers: attempts one worker claimed ahead wait for its slots even while
    /// another worker's slots are free. A prefetched attempt is leased and heartbeated while it waits, and its timeout
    /// runs from its claim.
    #[must_use]
    pub fn prefetch(mut self, prefetch: usize) -> Self {
        self.config.prefetch = Some(prefetch);
        self
    }

    /// How long one poll waits for work (default 20 s; the server clamps it to its maximum).
    #[must_use]
    pub fn poll_wait(mut self, wait: Duration) -> Self {
        self.config.poll_wait = wait;
        self
    }

    /// How long shutdown lets running attempts finish before reporting them as system errors (default 30 s).
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// The longest a finished attempt's result waits to be sent with others when no poll carries it first (default
    /// 5 ms). A result waits only while other attempts run or a poll is about to go out; otherwise it is sent at once.
    #[must_use]
    pub fn completion_linger(mut self, linger: Duration) -> Self {
        self.config.completion_linger = linger;
        self
    }

    /// The largest gRPC message sent or received, in bytes (default 64 MiB, the server's default).
    #[must_use]
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.config.max_message_bytes = bytes;
        self
    }

    /// Presents `token` (an API key from `gantry auth keys create`) as `authorization: Bearer <token>` on every call,
    /// for a server with authentication. A worker key's claims take only attempts of its project's executions.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// For an `https://` endpoint: trusts the CA certificates in this PEM file instead of the system's roots.
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.tls = self.config.tls.clone().with_ca_file(path);
        self
    }

    /// For an `https://` endpoint: presents this PEM certificate chain and private key to a server that asks for one
    /// (mutual TLS).
    #[must_use]
    pub fn client_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.config.tls = self.config.tls.clone().with_identity(cert, key);
        self
    }

    /// For an `https://` endpoint: every TLS setting at once (see [`ClientTls`]). An `http://` endpoint stays plaintext
    /// whatever is set; an `https://` one never falls back to it.
    #[must_use]
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.config.tls = tls;
        self
    }

    /// Registers the handler of a task, dispatched on the task's name:
    /// `async fn handler(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError>`.
    #[must_use]
    pub fn task<F, Fut>(mut self, def: TaskDef, handler: F) -> Self
    where
        F: Fn(TaskContext, Inputs) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<TaskOutput, TaskError>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |ctx, inputs| Box::pin(handler(ctx, inputs)) as HandlerFuture);
        self.tasks.push(RegisteredTask { def, handler });
        self
    }

    /// Checks the configuration (the TLS files are read here) and makes the worker. The connection is made lazily, and
    /// remade whenever lost; a TLS failure on it stops the worker with [`WorkerError::Tls`].
    pub fn build(self) -> Result<Worker, WorkerError> {
        let mut config = self.config;
        config.endpoint.clone_from(&self.endpoint);
        if config.concurrency == 0 {
            return Err(WorkerError::Config("concurrency must be at least 1".to_owned()));
        }
        if config.queues.is_empty() || config.queues.iter().any(String::is_empty) {
            return Err(WorkerError::Config("queues must be non-empty names".to_owned()));
        }
        if config.queues.len() > MAX_POLL_QUEUES {
            return Err(WorkerError::Config(format!(
                "{} queues given; a poll may name at most {MAX_POLL_QUEUES}",
                config.queues.len()
            )));
        }
        if config.worker_id.is_empty() {
            return Err(WorkerError::Config("worker id must not be empty".to_owned()));
        }
        let mut handlers = BTreeMap::new();
        for task in self.tasks {
            let name = task.def.name().to_owned();
            if handlers.insert(name.clone(), task).is_some() {
                return Err(WorkerError::Config(format!("task {name:?} is registered twice")));
            }
        }
        let endpoint = tls::endpoint(&self.endpoint, &config.tls)
            .map_err(|error| WorkerError::Config(error.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        let bearer = Bearer::new(self.token.as_deref()).map_err(|error| WorkerError::Config(error.to_string()))?;
        Ok(Worker {
            endpoint: self.endpoint,
            channel: bearer.on(endpoint.connect_lazy()),
            config,
            handlers: Arc::new(handlers),
        })
    }
}

/// A worker process's connection to the server: polls attempts of its queues, runs their handlers, keeps their
/// leases alive and reports their results. See [`Worker::run`].
pub struct Worker {
    endpoint: String,
    channel: AuthedChannel,
    config: WorkerConfig,
    handlers: Arc<BTreeMap<String, RegisteredTask>>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .field("tasks", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Worker {
    /// Starts building a worker for the server at `endpoint` (`http://127.0.0.1:50051`).
    pub fn builder(endpoint: impl Into<String>) -> WorkerBuilder {
        WorkerBuilder {
            endpoint: endpoint.into(),
            token: None,
            config: WorkerConfig {
                endpoint: String::new(),
                tls: ClientTls::new(),
                worker_id: default_worker_id(),
                queues: vec![gantry_proto::convert::DEFAULT_QUEUE.to_owned()],
                concurrency: 4,
                prefetch: None,
                poll_wait: Duration::from_secs(20),
                shutdown_grace: Duration::from_secs(30),
                completion_linger: Duration::from_millis(5),
                max_completion_batch: 500,
                max_message_bytes: 64 * 1024 * 1024,
            },
            tasks: Vec::new(),
        }
    }

    /// The id recorded on the attempts this worker claims.
    pub fn id(&self) -> &str {
        &self.config.worker_id
    }

    /// The tasks this worker has handlers for.
    pub fn tasks(&self) -> Vec<&TaskDef> {
        self.handlers.values().map(|task| &task.def).collect()
    }

    /// Registers the template of every task this worker runs. A template already registered identically is fine
    /// (the server answers `created = false`); a different one under the same id is an error. Returns how many were
    /// newly created. Retries while the server is unavailable, for a while.
    pub async fn register_tasks(&self) -> Result<usize, WorkerError> {
        let defs: Vec<TaskDef> = self.handlers.values().map(|task| task.def.clone()).collect();
        register_tasks_on(self.channel.clone(), &defs, &self.config).await
    }

    /// Runs until `shutdown` completes, then stops polling, lets running attempts finish (for the shutdown grace,
    /// after which they are reported as recoverable system errors), sends every pending result and returns.
    /// Returns an error only when the server refuses the worker in a way retrying cannot fix.
    /// `shutdown` is any future; its output is ignored, so `tokio::signal::ctrl_c()` works as it is.
    pub async fn run<F: Future + Send>(self, shutdown: F) -> Result<(), WorkerError> {
        let shutdown = async move {
            let _ = shutdown.await;
        };
        run::run(self.channel, self.config, self.handlers, shutdown).await
    }
}

/// Registers task templates through the admin API on `channel`; see [`Worker::register_tasks`].
pub(crate) async fn register_tasks_on(
    channel: AuthedChannel,
    defs: &[TaskDef],
    config: &WorkerConfig,
) -> Result<usize, WorkerError> {
    let mut client = AdminServiceClient::new(channel)
        .max_decoding_message_size(config.max_message_bytes)
        .max_encoding_message_size(config.max_message_bytes);
    let mut created = 0;
    for def in defs {
        let request = pb::RegisterTaskRequest {
            task: Some(def.template().clone().into()),
        };
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(3));
        let mut tries = 0;
        let response = loop {
            tries += 1;
            match client.register_task(request.clone()).await {
                Ok(response) => break response.into_inner(),
                Err(status) if status.code() == tonic::Code::Unavailable && tries < REGISTER_ATTEMPTS => {
                    if let Some(refused) = WorkerError::tls(config, &status).await {
                        return Err(refused);
                    }
                    warn!(task = %def.id(), error = %status.message(), "server unavailable, retrying registration");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(status) => match WorkerError::tls(config, &status).await {
                    Some(refused) => return Err(refused),
                    None => return Err(WorkerError::rpc("RegisterTask", status)),
                },
            }
        };
        if response.created {
            created += 1;
        }
        info!(task = %def.id(), created = response.created, "task registered");
    }
    Ok(created)
}

/// `hostname-pid-random`: stable for the process, distinct between processes on one machine.
fn default_worker_id() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let host = if host.is_empty() { "worker".to_owned() } else { host };
    let random = uuid::Uuid::now_v7().simple().to_string();
    // The tail of a v7 uuid is random; its head is the clock.
    let suffix = &random[random.len() - 6..];
    format!("{host}-{}-{suffix}", std::process::id())
}
