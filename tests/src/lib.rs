//! Test harness for Gantry's end-to-end tests: starts the real server on `127.0.0.1:0` over a fresh Postgres database
//! (from `DATABASE_URL`, which `scripts/test` provides) or a fresh SQLite file, and hands out gRPC clients.
#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod ops;
pub mod otlp;
mod otlp_count;
pub mod outage;
pub mod principals;
pub mod process;
pub mod proxy;
pub mod race;
pub mod raw_worker;
pub mod records;
pub mod scripted;
pub mod sdk;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use gantry_server::{RunningServer, ServerConfig};
use gantry_store::{PgStore, SqliteStore, Store};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A running server and what to clean up after it.
#[derive(Debug)]
pub struct TestServer {
    pub server: RunningServer,
    pub endpoint: String,
    /// The directory of the server's blob store (offloaded literals).
    pub blobs: PathBuf,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Postgres { admin_url: String, url: String },
    Sqlite(PathBuf),
}

/// The Postgres server the tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is not set; run scripts/test")
}

impl TestServer {
    /// Starts a server with default settings on `backend`.
    pub async fn start(backend: Backend) -> TestServer {
        TestServer::start_with(backend, |_| {}).await
    }

    /// Starts a server on `backend` after `configure` adjusted its settings.
    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_identified(backend, configure, None).await
    }

    /// [`TestServer::start_with`], with callers established by `identify` (see [`principals`]).
    pub async fn start_identified(
        backend: Backend,
        configure: impl FnOnce(&mut ServerConfig),
        identify: Option<gantry_server::Identify>,
    ) -> TestServer {
        let blobs = std::env::temp_dir().join(format!("gantry-e2e-blobs-{}", uuid::Uuid::now_v7().simple()));
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            blob_store: blobs.display().to_string(),
            strict_transitions: true,
            ..ServerConfig::default()
        };
        let cleanup = match backend {
            Backend::Postgres => {
                let admin_url = admin_url();
                let (store, url) = PgStore::connect_fresh(&admin_url)
                    .await
                    .expect("a fresh Postgres database");
                store.close().await;
                config.database_url = Some(url.clone());
                Cleanup::Postgres { admin_url, url }
            }
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("gantry-e2e-{}.db", uuid::Uuid::now_v7().simple()));
                config.data_path = path.clone();
                Cleanup::Sqlite(path)
            }
        };
        configure(&mut config);
        let server = gantry_server::start_identified(config, identify)
            .await
            .expect("the server starts");
        // The tests' certificates name localhost (tls::TlsFiles).
        let endpoint = match server.serves_tls() {
            true => format!("https://localhost:{}", server.local_addr().port()),
            false => format!("http://{}", server.local_addr()),
        };
        TestServer {
            server,
            endpoint,
            blobs,
            cleanup,
        }
    }

    /// The server's Postgres database, for a second replica on it (`None` on SQLite).
    pub fn database_url(&self) -> Option<&str> {
        match &self.cleanup {
            Cleanup::Postgres { url, .. } => Some(url),
            Cleanup::Sqlite(_) => None,
        }
    }

    /// The server's database, for tests that check its records (see [`records`]).
    pub async fn records_db(&self) -> records::Db {
        match &self.cleanup {
            Cleanup::Postgres { url, .. } => records::Db::postgres(url).await,
            Cleanup::Sqlite(path) => records::Db::sqlite(path).await,
        }
    }

    /// The server's store, opened anew beside it, for tests that look at what its rows hold (the engine hands out
    /// records, not rows).
    pub async fn store(&self) -> Arc<dyn Store> {
        match &self.cleanup {
            Cleanup::Postgres { url, .. } => {
                Arc::new(PgStore::connect(url, 2).await.expect("connect to the test database"))
            }
            Cleanup::Sqlite(path) => Arc::new(
                SqliteStore::open(&path.to_string_lossy())
                    .await
                    .expect("open the test database"),
            ),
        }
    }

    pub async fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::connect(self.endpoint.clone())
            .await
            .expect("admin client connects")
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20)
    }

    pub async fn worker(&self) -> WorkerServiceClient<Channel> {
        WorkerServiceClient::connect(self.endpoint.clone())
            .await
            .expect("worker client connects")
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20)
    }

    /// Stops the server and removes its database.
    pub async fn stop(self) {
        self.server.shutdown().await.expect("clean shutdown");
        let _ = std::fs::remove_dir_all(&self.blobs);
        match self.cleanup {
            Cleanup::Postgres { admin_url, url } => {
                PgStore::drop_fresh(&admin_url, &url)
                    .await
                    .expect("drop the test database");
            }
            Cleanup::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
        }
    }
}

/// Follows an execution's watch stream until it is terminal (within 300 s) and returns it as read afterwards.
pub async fn wait_for_terminal(admin: &mut AdminServiceClient<Channel>, execution_id: &str) -> pb::Execution {
    wait_for_terminal_within(admin, execution_id, Duration::from_secs(300)).await
}

/// Watches the execution until a node whose scoped id ends with `/{local_id}` (or is `local_id`) of kind `kind` is in
/// `phase`, and returns its scoped id; panics after five minutes or when the execution ends first.
pub async fn wait_for_node(
    admin: &mut AdminServiceClient<Channel>,
    execution_id: &str,
    local_id: &str,
    phase: pb::NodePhase,
) -> String {
    let request = pb::WatchExecutionRequest {
        execution_id: execution_id.to_owned(),
        include_snapshot: true,
        after_sequence: 0,
    };
    let mut stream = admin.watch_execution(request).await.expect("watch starts").into_inner();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let suffix = format!("/{local_id}");
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, stream.next()).await {
        for change in message.expect("watch stream message").changes {
            if let Some(pb::phase_change::Change::Node(node)) = change.change
                && (node.node_id == local_id || node.node_id.ends_with(&suffix))
                && node.phase == phase as i32
            {
                return node.node_id;
            }
        }
    }
    panic!("node {local_id} of execution {execution_id} never reached {phase:?}");
}

/// [`wait_for_terminal`], for an execution that may take up to `within`.
pub async fn wait_for_terminal_within(
    admin: &mut AdminServiceClient<Channel>,
    execution_id: &str,
    within: Duration,
) -> pb::Execution {
    let request = pb::WatchExecutionRequest {
        execution_id: execution_id.to_owned(),
        include_snapshot: false,
        after_sequence: 0,
    };
    let mut stream = admin.watch_execution(request).await.expect("watch starts").into_inner();
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, stream.next()).await {
        message.expect("watch stream message");
    }
    let execution = admin
        .get_execution(pb::GetExecutionRequest {
            id: execution_id.to_owned(),
            ..Default::default()
        })
        .await
        .expect("get execution")
        .into_inner()
        .execution
        .expect("execution");
    let phase = pb::ExecutionPhase::try_from(execution.phase).expect("phase");
    assert!(
        matches!(
            phase,
            pb::ExecutionPhase::Succeeded
                | pb::ExecutionPhase::Failed
                | pb::ExecutionPhase::Aborted
                | pb::ExecutionPhase::TimedOut
        ),
        "the watch ended but the execution is {phase:?}"
    );
    execution
}
