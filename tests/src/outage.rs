//! Database outages for end-to-end tests: a server (or several replicas) reaching Postgres through a [`TcpProxy`]
//! the test cuts and restores, the server's `grpc.health.v1` status followed as a stream, and calls timed against
//! a client-side cap.

use std::time::{Duration, Instant};

use gantry_server::{RunningServer, ServerConfig};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::proxy::TcpProxy;
use crate::{Backend, TestServer, admin_url};

/// The services whose health must follow the database: the server as a whole and both of Gantry's services.
pub const HEALTH_SERVICES: [&str; 3] = ["", "gantry.v1.AdminService", "gantry.v1.WorkerService"];

/// The longest a test lets one call run before calling it hung (far above what the server must answer in).
pub const CALL_CAP: Duration = Duration::from_secs(10);

/// A server on a fresh Postgres database that it reaches only through a proxy.
#[derive(Debug)]
pub struct ProxiedServer {
    pub proxy: TcpProxy,
    pub server: TestServer,
    /// The database url the server was given (through the proxy).
    pub proxied_url: String,
    /// The database's name, for looking at it directly.
    pub database: String,
}

impl ProxiedServer {
    /// Starts a proxy to the test Postgres and a server behind it, after `configure` adjusted its settings.
    pub async fn start(configure: impl FnOnce(&mut ServerConfig)) -> ProxiedServer {
        let proxy = TcpProxy::for_url(&admin_url()).await;
        let mut proxied_url = String::new();
        let server = TestServer::start_with(Backend::Postgres, |config| {
            let direct = config
                .database_url
                .clone()
                .expect("a Postgres test server has a database url");
            proxied_url = proxy.url(&direct);
            config.database_url = Some(proxied_url.clone());
            configure(config);
        })
        .await;
        let database = url::Url::parse(&proxied_url)
            .expect("a database URL")
            .path()
            .trim_start_matches('/')
            .to_owned();
        ProxiedServer {
            proxy,
            server,
            proxied_url,
            database,
        }
    }

    /// Another server process's worth of engine on the same database, through the same proxy, with the same
    /// settings `configure` makes: a replica.
    pub async fn start_replica(&self, configure: impl FnOnce(&mut ServerConfig)) -> RunningServer {
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            blob_store: self.server.blobs.display().to_string(),
            database_url: Some(self.proxied_url.clone()),
            strict_transitions: true,
            ..ServerConfig::default()
        };
        configure(&mut config);
        gantry_server::start(config).await.expect("the replica starts")
    }

    /// A connection to the database that does not go through the proxy, for reading the records.
    pub async fn direct_pool(&self) -> sqlx::PgPool {
        let admin = admin_url();
        let authority_start = admin.find("://").map_or(0, |i| i + 3);
        let path_start = admin[authority_start..]
            .find('/')
            .map_or(admin.len(), |i| authority_start + i);
        let url = format!("{}/{}", &admin[..path_start], self.database);
        sqlx::PgPool::connect(&url)
            .await
            .expect("a direct connection to the test database")
    }
}

/// Follows the health of one service of the server at `endpoint` (a `grpc.health.v1.Health/Watch` stream).
#[derive(Debug)]
pub struct HealthWatch {
    service: String,
    stream: tonic::Streaming<HealthCheckResponse>,
    pub last: Option<ServingStatus>,
}

impl HealthWatch {
    pub async fn start(endpoint: &str, service: &str) -> HealthWatch {
        let mut client = HealthClient::new(channel(endpoint).await);
        let request = HealthCheckRequest {
            service: service.to_owned(),
        };
        let stream = client.watch(request).await.expect("health watch starts").into_inner();
        HealthWatch {
            service: service.to_owned(),
            stream,
            last: None,
        }
    }

    /// Waits until the service reports `want`; panics when it has not within `deadline`.
    pub async fn wait_for(&mut self, want: ServingStatus, deadline: Duration) {
        let until = tokio::time::Instant::now() + deadline;
        while self.last != Some(want) {
            match tokio::time::timeout_at(until, self.stream.next()).await {
                Ok(Some(Ok(response))) => self.last = ServingStatus::try_from(response.status).ok(),
                Ok(other) => panic!("health watch of {:?} ended: {other:?}", self.service),
                Err(_) => panic!(
                    "health of {:?} did not become {want:?} within {deadline:?}; last {:?}",
                    self.service, self.last
                ),
            }
        }
    }
}

impl HealthWatch {
    /// Reads the watch to its end (the server ended it, or the connection went): the last status it reported;
    /// panics when it has not ended within `deadline`.
    pub async fn last_before_end(mut self, deadline: Duration) -> Option<ServingStatus> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            match tokio::time::timeout_at(until, self.stream.next()).await {
                Ok(Some(Ok(response))) => self.last = ServingStatus::try_from(response.status).ok(),
                Ok(_) => return self.last,
                Err(_) => panic!("the health watch of {:?} did not end within {deadline:?}", self.service),
            }
        }
    }
}

async fn channel(endpoint: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .expect("an endpoint uri")
        .connect()
        .await
        .expect("connect")
}

/// Health watches of [`HEALTH_SERVICES`].
pub async fn watch_health(endpoint: &str) -> Vec<HealthWatch> {
    let mut watches = Vec::new();
    for service in HEALTH_SERVICES {
        watches.push(HealthWatch::start(endpoint, service).await);
    }
    watches
}

/// Waits until every watched service reports `want`; returns how long that took from `since`.
pub async fn wait_all(
    watches: &mut [HealthWatch],
    want: ServingStatus,
    deadline: Duration,
    since: Instant,
) -> Duration {
    for watch in watches.iter_mut() {
        watch.wait_for(want, deadline).await;
    }
    since.elapsed()
}

/// One `Check` of every service in [`HEALTH_SERVICES`].
pub async fn check_all(endpoint: &str) -> Vec<(String, ServingStatus)> {
    let mut client = HealthClient::new(channel(endpoint).await);
    let mut statuses = Vec::new();
    for service in HEALTH_SERVICES {
        let request = HealthCheckRequest {
            service: service.to_owned(),
        };
        let status = client.check(request).await.expect("health check").into_inner().status;
        statuses.push((
            service.to_owned(),
            ServingStatus::try_from(status).unwrap_or(ServingStatus::Unknown),
        ));
    }
    statuses
}

/// How long a call took and how it ended (its status code; `Ok` for a success, `DeadlineExceeded` when it ran past
/// [`CALL_CAP`]), with the status message.
#[derive(Debug, Clone)]
pub struct Timed {
    pub what: &'static str,
    pub took: Duration,
    pub code: Code,
    pub message: String,
}

/// Times one call, cut off at [`CALL_CAP`].
pub async fn timed<T>(
    what: &'static str,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Timed {
    let started = Instant::now();
    let (code, message) = match tokio::time::timeout(CALL_CAP, call).await {
        Ok(Ok(_)) => (Code::Ok, String::new()),
        Ok(Err(status)) => (status.code(), status.message().to_owned()),
        Err(_) => (Code::DeadlineExceeded, format!("no answer within {CALL_CAP:?}")),
    };
    Timed {
        what,
        took: started.elapsed(),
        code,
        message,
    }
}
