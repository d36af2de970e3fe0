//! Gantry's gRPC server: the admin service (clients and operators) and the worker service (pull-based workers) over
//! the engine, with the standard `grpc.health.v1` health service and gRPC reflection.
//!
//! Handlers are thin: decode and validate with `gantry-proto`'s conversions (and `edge.rs` for plain string fields:
//! projects, names, worker ids), call the engine (its typed reads for reads), map the result; engine errors become
//! gRPC statuses in one place (`status.rs`). Must not contain SQL or state-machine decisions.
#![forbid(unsafe_code)]

mod admin;
mod audit;
pub mod auth;
mod caller;
mod config;
mod data;
mod edge;
mod fair_use;
mod health;
mod identify;
mod limits;
mod listing;
mod oidc;
mod ops;
mod paging;
mod projects;
mod records;
mod status;
mod tls;
mod tracing_context;
mod watch;
mod worker;
mod worker_routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gantry_engine::{BlobStore, Engine, EngineConfig, EngineTasks};
use gantry_proto::v1::admin_service_server::AdminServiceServer;
use gantry_proto::v1::audit_service_server::AuditServiceServer;
use gantry_proto::v1::auth_service_server::AuthServiceServer;
use gantry_proto::v1::project_service_server::ProjectServiceServer;
use gantry_store::{PgSettings, PgStore, SqliteStore, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use admin::AdminApi;
pub use audit::{AUDITED, AuditApi};
pub use auth::{AuthError, TokenVerifier};
pub use caller::{Caller, Grant, Role};
pub use config::{AuthMode, REQUEST_LIMITS, RequestLimits, ServerConfig, parse_duration, parse_signed_duration};
pub use fair_use::{FairUse, FairUseState, Slots};
pub use identify::Identify;
pub use oidc::{
    ClaimMapping, DEFAULT_GRANT_RULES, GrantRule, JwksSource, KeySetLoads, OidcArgs, OidcConfig, OidcError,
    OidcVerifier,
};
pub use projects::DEFAULT_DOMAINS;
pub use status::{oidc_status, to_status};
pub use tls::{ClientAuth, TlsReloads};
pub use worker::WorkerApi;
pub use worker_routes::WorkerRoutes;

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    engine: Engine,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<Result<(), tonic::transport::Error>>,
    engine_tasks: EngineTasks,
    /// Keeps `grpc.health.v1` in step with the database.
    health: JoinHandle<()>,
    /// The TLS reloader, when the server serves TLS.
    tls: Option<tls::TlsHandle>,
    /// What each principal holds of the fair-use limits.
    fair_use: FairUseState,
    /// The OIDC token verifier, when `--oidc-issuer` is set.
    oidc: Option<OidcVerifier>,
    /// The HTTP port (`--http-listen`), when open.
    http: Option<ops::HttpPort>,
    /// Set once the server starts stopping: `/readyz` answers 503, health NOT_SERVING.
    draining: tokio::sync::watch::Sender<bool>,
    /// How long a shutdown lets requests in flight finish.
    grace: Duration,
    /// Keeps the metrics recorder's histograms drained when nobody scrapes.
    upkeep: JoinHandle<()>,
}

impl RunningServer {
    /// Where the server listens (the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the HTTP port (`/metrics`, `/healthz`, `/readyz`) listens, when open.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|http| http.local_addr)
    }

    /// Whether the server serves TLS (clients reach it with `https://`).
    pub fn serves_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// What the TLS reloads did so far, as they happen; `None` without TLS.
    pub fn tls_reloads(&self) -> Option<tokio::sync::watch::Receiver<TlsReloads>> {
        self.tls.as_ref().map(|tls| tls.reloads.clone())
    }

    /// Checks the TLS files at once, as SIGHUP does (no-op without TLS); see [`RunningServer::tls_reloads`] for
    /// what came of it.
    pub fn reload_tls(&self) {
        if let Some(tls) = &self.tls {
            tls.nudge.notify_one();
        }
    }

    /// The long polls and watches each principal holds now (see `fair_use.rs`), for tests and metrics.
    pub fn fair_use(&self) -> &FairUseState {
        &self.fair_use
    }

    /// The OIDC token verifier (its key set loaded at start), when the server accepts OIDC tokens.
    pub fn oidc(&self) -> Option<&OidcVerifier> {
        self.oidc.as_ref()
    }

    /// The engine behind the server, for in-process use.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops gracefully: `/readyz` answers 503 from now on; the server stops accepting connections and calls; long
    /// polls return and watches end at once (a watch with UNAVAILABLE, "the server is shutting down"); calls in
    /// flight finish, for at most the shutdown grace (`--shutdown-grace`), after which the connections left are
    /// closed; the HTTP port closes; the engine's writer applies the commands it has and stops. A call answered
    /// OK was committed first, so what the server acknowledged is kept however the grace ends.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.draining.send_replace(true);
        info!(grace = ?self.grace, "stopping: draining calls in flight");
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.engine.close();
        let served = match tokio::time::timeout(self.grace, &mut self.serving).await {
            Ok(served) => served.context("server task failed")?,
            Err(_) => {
                warn!(grace = ?self.grace, "the shutdown grace ran out; closing the connections still open");
                self.serving.abort();
                Ok(())
            }
        };
        drop(self.engine);
        self.upkeep.abort();
        self.engine_tasks.sweeper.abort();
        self.engine_tasks.listener.abort();
        self.engine_tasks.monitor.abort();
        self.engine_tasks.assembler.abort();
        self.engine_tasks.hydrator.abort();
        self.health.abort();
        drop(self.tls.take());
        // The HTTP port's scrapes hold the engine too: it closes before the writer is awaited.
        if let Some(http) = self.http.take() {
            http.stop().await;
        }
        let _ = self.engine_tasks.writer.await;
        info!("stopped");
        served.context("server failed")
    }

    /// Runs until the server stops by itself (it does not, unless it fails).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.serving
            .await
            .context("server task failed")?
            .context("server failed")
    }
}

/// Opens the configured store: Postgres when a database URL is given, the embedded SQLite file otherwise.
pub async fn open_store(config: &ServerConfig) -> anyhow::Result<Arc<dyn Store>> {
    match &config.database_url {
        Some(url) => {
            let settings = PgSettings {
                max_connections: config.database_connections,
                acquire_timeout: config.database_acquire_timeout,
            };
            let store = PgStore::connect_with(url, &settings)
                .await
                .with_context(|| format!("connecting to Postgres at {}", gantry_store::redact_url(url)))?;
            Ok(Arc::new(store))
        }
        None => {
            let path = config.data_path.to_string_lossy().into_owned();
            let store = SqliteStore::open(&path)
                .await
                .with_context(|| format!("opening the embedded store {path}"))?;
            Ok(Arc::new(store))
        }
    }
}

/// Opens the store, starts the engine and serves gRPC on `config.listen`.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    start_identified(config, None).await
}

/// [`start`], with callers established by `identify` from each request's headers (see `identify.rs`): for embedders
/// that authenticate by other means, and for tests that make requests as several principals. Without it every
/// request is the developer's, until authentication establishes callers.
pub async fn start_identified(config: ServerConfig, identify: Option<Identify>) -> anyhow::Result<RunningServer> {
    config.validate().map_err(anyhow::Error::msg)?;
    // The metrics recorder before the engine, whose first batches (resuming work left by a stop) count too.
    let recorder = ops::recorder().cloned();
    // Before the store and the engine: a TLS file that does not load stops the server at once, naming the file.
    let tls = match config.tls_files() {
        Some(files) => Some(
            tls::ServerTls::start(files, config.tls_reload_interval)
                .await
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    // Also before the store: a key set file that does not load stops the server (an issuer that does not answer is
    // only logged, and asked again when tokens come).
    let oidc = match config.oidc.config().map_err(anyhow::Error::msg)? {
        Some(oidc) => Some(OidcVerifier::start(oidc).await.map_err(anyhow::Error::msg)?),
        None => None,
    };
    let store = open_store(&config).await?;
    // Authentication is on with API keys, OIDC tokens, or both: tokens starting with `gantry_` are keys, the others
    // go to the OIDC verifier (refused as malformed without one).
    let authenticating = config.auth == AuthMode::Keys || oidc.is_some();
    let blobs =
        BlobStore::open(&config.blob_store).with_context(|| format!("opening blob store {}", config.blob_store))?;
    let engine_config = EngineConfig {
        lease: config.lease,
        watch_buffer: config.watch_buffer.max(1),
        limits: config.limits(),
        max_poll_attempts: REQUEST_LIMITS.poll_attempts,
        blobs: Some(blobs),
        children_chunk: config.children_chunk.max(1),
        store_probe_interval: config.database_probe_interval,
        store_probe_timeout: config.database_probe_timeout,
        strict_transitions: config.strict_transitions,
        own_project_references: authenticating,
        compact_claims_every: config.compact_claims_every,
        ..EngineConfig::default()
    };
    let (engine, engine_tasks) = Engine::start(store, engine_config);
    let projects = Arc::new(projects::Projects::new(engine.clone(), authenticating));
    let authenticator = authenticating.then(|| {
        Arc::new(auth::Authenticator {
            keys: auth::keys::KeyVerifier::new(engine.clone(), auth::keys::KEY_CACHE_TTL),
            other: oidc
                .clone()
                .map(|verifier| Arc::new(verifier) as Arc<dyn TokenVerifier>),
        })
    });
    let auth_api = auth::api::AuthApi::new(engine.clone());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let local_addr = listener.local_addr()?;

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let (draining, drains) = tokio::sync::watch::channel(false);
    let health = health::follow_store(health_reporter, engine.store_reachable(), drains.clone()).await;
    // Reflection v1, and v1alpha for the clients that only speak it (older grpcurl, Postman, many IDE plugins).
    let reflection = reflection_builder()
        .build_v1()
        .context("building the reflection service")?;
    let reflection_v1alpha = reflection_builder()
        .build_v1alpha()
        .context("building the v1alpha reflection service")?;
    let limit = config.max_message_bytes;
    let fair_use = FairUseState::new(config.fair_use());
    let admin = AdminServiceServer::new(AdminApi::new(engine.clone(), fair_use.clone(), projects.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let audit = AuditServiceServer::new(AuditApi::new(engine.clone()))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let api = WorkerApi::new(engine.clone(), config.spec_limits(), fair_use.clone());
    let worker = WorkerRoutes::new(api, limit, config.completion_message_bytes());

    let (stop, stopped) = oneshot::channel::<()>();
    // Outermost first: who the caller is (authentication goes here too), then the limits that read the caller.
    let layers = tower::ServiceBuilder::new()
        .layer(ops::RpcMetricsLayer)
        .option_layer(identify)
        .layer(auth::layer::AuthLayer::new(authenticator))
        .layer(fair_use.rate_layer())
        .layer(tower::util::MapResponseLayer::new(limits::relabel));
    let routes = tonic::service::Routes::new(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(admin)
        .add_service(audit)
        .add_service(worker)
        .add_service(AuthServiceServer::new(auth_api))
        .add_service(ProjectServiceServer::new(projects::ProjectApi::new(projects)))
        .prepare();
    // The console calls the same routes through the same layers, in process (see `console_transport`).
    let console = config.http_listen.map(|_| {
        let transport = console_transport(layers.clone(), routes.clone());
        gantry_console::router(
            transport,
            gantry_console::ConsoleConfig {
                authenticating,
                default_project: "demo".to_owned(),
                default_domain: "dev".to_owned(),
            },
        )
    });
    let router = tonic::transport::Server::builder().layer(layers).add_routes(routes);
    let stopped = async {
        let _ = stopped.await;
    };
    let store = if config.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let auth = match (config.auth, oidc.is_some()) {
        (AuthMode::Keys, false) => "keys",
        (AuthMode::Keys, true) => "keys+oidc",
        (AuthMode::None, true) => "oidc",
        (AuthMode::None, false) => {
            warn!(
                address = %local_addr,
                "authentication is off (developer mode): anyone who can reach this address may do anything; \
                 turn it on with --auth keys"
            );
            "none"
        }
    };
    let scrape = Arc::new(ops::Scrape::new(engine.clone(), fair_use.clone(), drains));
    let http = match config.http_listen {
        Some(addr) => Some(ops::HttpPort::start(addr, scrape, console).await?),
        None => None,
    };
    let upkeep = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            if let Some(recorder) = &recorder {
                recorder.run_upkeep();
            }
        }
    });
    let (serving, tls) = match tls {
        Some(tls) => {
            let incoming = tls::incoming(listener, tls.config);
            let serving = tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped));
            let client_auth = match (&config.tls_client_ca, config.tls_client_auth) {
                (None, _) => "none",
                (Some(_), Some(ClientAuth::Optional)) => "optional",
                (Some(_), _) => "required",
            };
            info!(address = %local_addr, http = ?http.as_ref().map(|h| h.local_addr), store, tls = true, client_auth,
                auth, "gantry listening");
            (serving, Some(tls.handle))
        }
        None => {
            // No Nagle delay: a unary reply's small frames must leave at once.
            let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            let serving = tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped));
            info!(address = %local_addr, http = ?http.as_ref().map(|h| h.local_addr), store, tls = false, auth,
                "gantry listening");
            (serving, None)
        }
    };
    Ok(RunningServer {
        local_addr,
        engine,
        stop: Some(stop),
        serving,
        engine_tasks,
        health,
        tls,
        fair_use,
        oidc,
        http,
        draining,
        grace: config.shutdown_grace,
        upkeep,
    })
}

/// The console's gRPC transport: the server's routes behind the same layers as its gRPC port (per-RPC metrics,
/// callers identified and authenticated, fair use, refusals relabelled), called in process, so that a page's calls
/// are authenticated, authorized, audited, limited and counted exactly as any client's. tonic 0.14 has no
/// `Router::into_service`; the routes and layers are built once and given both to the port and to this.
fn console_transport<L, B>(
    layers: tower::ServiceBuilder<L>,
    routes: tonic::service::Routes,
) -> gantry_console::Transport
where
    L: tower::Layer<tonic::service::Routes>,
    L::Service: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<B>,
            Error: Into<tower::BoxError>,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static,
    B: http_body::Body<Data = bytes::Bytes, Error: Into<tower::BoxError>> + Send + 'static,
{
    use tower::ServiceExt as _;
    let service = layers
        .service(routes)
        .map_response(|response: http::Response<B>| response.map(tonic::body::Body::new))
        .map_err(Into::into);
    gantry_console::Transport::new(tower::util::BoxCloneSyncService::new(service))
}

/// What reflection describes: our services and the health service, from the protos in `proto/`.
fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(gantry_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(gantry_proto::HEALTH_FILE_DESCRIPTOR_SET)
}
