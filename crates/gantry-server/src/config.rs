//! The server's configuration: one struct, filled by clap from flags or `GANTRY_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gantry_engine::{EngineConfig, Limits};
pub use gantry_text::time_text::parse_signed_duration;

use crate::fair_use::FairUse;
use crate::oidc::OidcArgs;
use crate::tls::{ClientAuth, TlsFiles};

/// What one request may ask for at most: the same on every server, documented in worker.proto and admin.proto, and
/// respected by the SDKs and the CLI. The handlers refuse a request beyond them with INVALID_ARGUMENT naming the
/// field, the limit and the value before any of it reaches the engine, so that no single request can hold the
/// engine's one writer for long (a poll's claim is one statement over all its queues, bounded by both limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// `PollTasksRequest.queues`.
    pub poll_queues: usize,
    /// `PollTasksRequest.max_attempts`.
    pub poll_attempts: u32,
    /// `HeartbeatRequest.attempts`.
    pub heartbeat_attempts: usize,
    /// `CompleteAttemptsRequest.completions`.
    pub completions: usize,
    /// `page_size` of every listing.
    pub page_size: u32,
    /// The page size of a listing that gives none.
    pub default_page_size: u32,
}

/// The request limits every Gantry server applies.
pub const REQUEST_LIMITS: RequestLimits = RequestLimits {
    poll_queues: 100,
    poll_attempts: 1_000,
    heartbeat_attempts: 10_000,
    completions: 1_000,
    page_size: 1_000,
    default_page_size: 100,
};

/// Room left in a gRPC message beside a dynamic spec, for the rest of the completion request.
const SPEC_MESSAGE_MARGIN: u64 = 64 * 1024;

/// How to run the server.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "GANTRY_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Address of the HTTP port: the console (`/`), `/metrics` (Prometheus), `/healthz` (the process runs) and
    /// `/readyz` (the store answers and the server is not stopping); port 0 picks a free port. Without it (`ServerConfig::default()`, for
    /// embedders and tests) no HTTP port is opened.
    #[arg(long, env = "GANTRY_HTTP_LISTEN", default_value = "127.0.0.1:8080")]
    pub http_listen: Option<SocketAddr>,
    /// How long SIGTERM or ctrl-c lets requests in flight finish (long polls and watches end at once) before the
    /// server stops anyway, e.g. `30s`.
    #[arg(long, env = "GANTRY_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Postgres URL (`postgres://...`). Without it, state lives in the embedded SQLite database at `--data-path`.
    #[arg(long, env = "GANTRY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Path of the embedded SQLite database used when no database URL is given.
    #[arg(long, env = "GANTRY_DATA_PATH", default_value = "gantry.db")]
    pub data_path: PathBuf,
    /// Connections in the Postgres pool.
    #[arg(long, env = "GANTRY_DATABASE_CONNECTIONS", default_value_t = 8)]
    pub database_connections: u32,
    /// The longest a request waits for a Postgres connection (connecting included) before it fails as
    /// UNAVAILABLE, e.g. `1s`.
    #[arg(long, env = "GANTRY_DATABASE_ACQUIRE_TIMEOUT", default_value = "1s", value_parser = parse_duration)]
    pub database_acquire_timeout: Duration,
    /// How often the server checks that the database answers: how soon an outage nobody's request ran into, or
    /// the end of one, is noticed.
    #[arg(long, env = "GANTRY_DATABASE_PROBE_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub database_probe_interval: Duration,
    /// A check of the database slower than this, twice in a row, counts as the database being unreachable.
    #[arg(long, env = "GANTRY_DATABASE_PROBE_TIMEOUT", default_value = "1s", value_parser = parse_duration)]
    pub database_probe_timeout: Duration,
    /// How long a claimed attempt's lease lasts without a heartbeat, e.g. `30s`.
    #[arg(long, env = "GANTRY_LEASE", default_value = "30s", value_parser = parse_duration)]
    pub lease: Duration,
    /// Phase changes buffered per watched execution; a watcher further behind is resynchronised with a snapshot.
    #[arg(long, env = "GANTRY_WATCH_BUFFER", default_value_t = 65_536)]
    pub watch_buffer: usize,
    /// Largest gRPC message accepted or sent, in bytes. A response carries values inline up to half of it and the
    /// larger ones as references, which `ReadOffloaded` streams.
    #[arg(long, env = "GANTRY_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Where literals above `--offload-bytes` are kept: a directory (a relative one, such as the default, is in the
    /// server's working directory), a `file://` URL, or `s3://bucket/prefix` for
    /// S3 and S3-compatible stores (configured by the `AWS_*` environment variables, e.g. `AWS_ENDPOINT`,
    /// `AWS_REGION`, `AWS_ACCESS_KEY_ID`).
    #[arg(long, env = "GANTRY_BLOB_STORE", default_value = "gantry-blobs")]
    pub blob_store: String,
    /// Literals larger than this many bytes (encoded) are moved to the blob store and referenced.
    #[arg(long, env = "GANTRY_OFFLOAD_BYTES", default_value_t = Limits::default().offload_bytes)]
    pub offload_bytes: u64,
    /// Largest single literal (an input or output value) accepted, in bytes.
    #[arg(long, env = "GANTRY_MAX_LITERAL_BYTES", default_value_t = Limits::default().literal_bytes)]
    pub max_literal_bytes: u64,
    /// Largest outputs of one task (or inputs of one execution) accepted, in bytes.
    #[arg(long, env = "GANTRY_MAX_OUTPUTS_BYTES", default_value_t = Limits::default().outputs_bytes)]
    pub max_outputs_bytes: u64,
    /// Largest assembled outputs of a dynamic task, sub-workflow, array node or execution, in bytes.
    #[arg(long, env = "GANTRY_MAX_ASSEMBLED_BYTES", default_value_t = Limits::default().assembled_bytes)]
    pub max_assembled_bytes: u64,
    /// Largest dynamic job spec accepted, in bytes.
    #[arg(long, env = "GANTRY_MAX_SPEC_BYTES", default_value_t = Limits::default().spec_bytes)]
    pub max_spec_bytes: u64,
    /// The most children of one composite created in one transaction; a larger spec, sub-workflow or array gets the
    /// rest in later ones, between other clients' requests. Below it, each chunk is sized so that its transaction
    /// takes about 40 ms.
    #[arg(long, env = "GANTRY_CHILDREN_CHUNK", default_value_t = EngineConfig::default().children_chunk)]
    pub children_chunk: usize,
    /// Most nodes a dynamic job spec may have. Workers learn it (and the spec byte limit) from every poll, so that the
    /// SDKs stop a runaway generator before it exhausts the worker's memory.
    #[arg(long, env = "GANTRY_MAX_SPEC_NODES", default_value_t = Limits::default().spec_nodes)]
    pub max_spec_nodes: u64,
    /// Fail the batch of requests behind a state transition the engine's core refuses, instead of counting and
    /// logging it. A refusal is a bug in the engine; the tests run strict so that none passes unnoticed.
    #[arg(long, env = "GANTRY_STRICT_TRANSITIONS")]
    pub strict_transitions: bool,
    /// After how many claimed attempts the server has Postgres rid the claim's index of their entries (`VACUUM
    /// attempts`), so that claims do not step over them; 0 leaves it to autovacuum.
    #[arg(long, env = "GANTRY_COMPACT_CLAIMS_EVERY", default_value_t = EngineConfig::default().compact_claims_every)]
    pub compact_claims_every: u64,
    /// Fair use: the most requests per second one principal may make, on average (a token bucket per principal,
    /// refilled at this rate and holding `--rate-burst`); beyond it a call is answered RESOURCE_EXHAUSTED at once.
    /// 0 turns the limit off. Health checks are not counted. Without authentication every caller is one principal,
    /// `developer`, so the default is far above what a whole deployment's workers send.
    #[arg(long, env = "GANTRY_RATE_LIMIT", default_value_t = FairUse::default().rate_per_second, help_heading = "Fair use")]
    pub rate_limit: u32,
    /// The requests one principal may make at once above `--rate-limit` (the bucket's size); 0: one second's worth.
    #[arg(long, env = "GANTRY_RATE_BURST", default_value_t = 0, help_heading = "Fair use")]
    pub rate_burst: u32,
    /// Fair use: the most long polls (PollTasks with a wait) one principal may have waiting at once; one more is
    /// answered RESOURCE_EXHAUSTED. 0: no limit.
    #[arg(long, env = "GANTRY_MAX_POLLS_PER_PRINCIPAL", default_value_t = FairUse::default().polls_per_principal, help_heading = "Fair use")]
    pub max_polls_per_principal: u32,
    /// Fair use: the most WatchExecution streams one principal may have open at once; one more is answered
    /// RESOURCE_EXHAUSTED. 0: no limit.
    #[arg(long, env = "GANTRY_MAX_WATCHES_PER_PRINCIPAL", default_value_t = FairUse::default().watches_per_principal, help_heading = "Fair use")]
    pub max_watches_per_principal: u32,
    /// Serve TLS with this PEM certificate chain (the server's certificate first), with `--tls-key`. Both files are
    /// read again without a restart on SIGHUP and when they change (see `--tls-reload-interval`).
    #[arg(long, env = "GANTRY_TLS_CERT", requires = "tls_key", help_heading = "TLS")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "GANTRY_TLS_KEY", requires = "tls_cert", help_heading = "TLS")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: verify client certificates against the CA certificates in this PEM file (reloaded with the
    /// certificate).
    #[arg(long, env = "GANTRY_TLS_CLIENT_CA", requires = "tls_cert", help_heading = "TLS")]
    pub tls_client_ca: Option<PathBuf>,
    /// With `--tls-client-ca`: `required` (the default) refuses a client without a valid certificate at the
    /// handshake; `optional` accepts one without, and handlers find the certificate a client presented in the
    /// request's extensions.
    #[arg(
        long,
        env = "GANTRY_TLS_CLIENT_AUTH",
        value_enum,
        requires = "tls_client_ca",
        help_heading = "TLS"
    )]
    pub tls_client_auth: Option<ClientAuth>,
    /// How often the TLS files are checked for changes (their bytes, so that a Kubernetes secret's symlink swap
    /// counts); SIGHUP checks at once.
    #[arg(long, env = "GANTRY_TLS_RELOAD_INTERVAL", default_value = "5s", value_parser = parse_duration, help_heading = "TLS")]
    pub tls_reload_interval: Duration,
    /// How callers authenticate: `keys` (API keys from `gantry auth keys create`, sent as `authorization: Bearer
    /// <token>`), or `none`, the developer mode, where anyone who reaches the port may do anything: only on a loopback
    /// address, unless `--insecure`.
    #[arg(
        long,
        env = "GANTRY_AUTH",
        value_enum,
        default_value = "none",
        help_heading = "Authentication"
    )]
    pub auth: AuthMode,
    /// Serve without authentication on an address that is not a loopback one (`--auth none` on `0.0.0.0`).
    #[arg(long, env = "GANTRY_INSECURE", help_heading = "Authentication")]
    pub insecure: bool,
    /// Bearer tokens from an OIDC issuer (`--oidc-*`).
    #[command(flatten)]
    pub oidc: OidcArgs,
}

/// How the server authenticates its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// No authentication: every request may do everything (the developer mode).
    None,
    /// API keys issued by Gantry.
    Keys,
}

impl ServerConfig {
    /// Refuses settings the server cannot run with.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("--lease", self.lease),
            ("--database-acquire-timeout", self.database_acquire_timeout),
            ("--database-probe-interval", self.database_probe_interval),
            ("--database-probe-timeout", self.database_probe_timeout),
            ("--tls-reload-interval", self.tls_reload_interval),
        ];
        if let Some((flag, _)) = positive.iter().find(|(_, duration)| duration.is_zero()) {
            return Err(format!("{flag} must be longer than zero"));
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => return Err("--tls-cert needs --tls-key".to_owned()),
            (None, Some(_)) => return Err("--tls-key needs --tls-cert".to_owned()),
            (None, None) if self.tls_client_ca.is_some() => {
                return Err("--tls-client-ca needs --tls-cert and --tls-key".to_owned());
            }
            _ => {}
        }
        if self.tls_client_auth.is_some() && self.tls_client_ca.is_none() {
            return Err("--tls-client-auth needs --tls-client-ca".to_owned());
        }
        if !self.authenticates()? && !self.listen.ip().is_loopback() && !self.insecure {
            return Err(format!(
                "refusing to serve {} without authentication: anyone who reaches the port could do anything. \
                 Turn authentication on (--auth keys, or --oidc-issuer), listen on a loopback address, or pass \
                 --insecure",
                self.listen
            ));
        }
        Ok(())
    }

    /// Whether requests are authenticated: with API keys (`--auth keys`), OIDC tokens (`--oidc-issuer`), or both.
    pub fn authenticates(&self) -> Result<bool, String> {
        Ok(self.auth == AuthMode::Keys || self.oidc.config()?.is_some())
    }

    /// The TLS files, when the server serves TLS.
    pub(crate) fn tls_files(&self) -> Option<TlsFiles> {
        let (cert, key) = (self.tls_cert.clone()?, self.tls_key.clone()?);
        Some(TlsFiles {
            cert,
            key,
            client_ca: self.tls_client_ca.clone(),
            client_auth: self.tls_client_auth.unwrap_or(ClientAuth::Required),
        })
    }

    /// The engine's limits from these settings.
    pub fn limits(&self) -> Limits {
        Limits {
            offload_bytes: self.offload_bytes,
            literal_bytes: self.max_literal_bytes,
            outputs_bytes: self.max_outputs_bytes,
            assembled_bytes: self.max_assembled_bytes,
            spec_bytes: self.max_spec_bytes,
            spec_nodes: self.max_spec_nodes,
            // Half the message limit leaves room for everything else a response holds (errors, templates, references).
            response_bytes: self.max_message_bytes as u64 / 2,
        }
    }

    /// The fair-use limits from these settings.
    pub fn fair_use(&self) -> FairUse {
        FairUse {
            rate_per_second: self.rate_limit,
            burst: if self.rate_burst == 0 {
                self.rate_limit
            } else {
                self.rate_burst
            },
            polls_per_principal: self.max_polls_per_principal,
            watches_per_principal: self.max_watches_per_principal,
        }
    }

    /// The spec limits workers are told. A spec goes alone in a `CompleteAttempts` call, which takes messages as large
    /// as the largest spec (`completion_message_bytes`), so the spec limit does not depend on the message limit.
    pub fn spec_limits(&self) -> (u64, u64) {
        (self.max_spec_nodes, self.max_spec_bytes)
    }

    /// The largest `CompleteAttempts` message: one that holds the largest spec, or `--max-message-bytes` if larger.
    /// Every other call is held to `--max-message-bytes`.
    pub fn completion_message_bytes(&self) -> usize {
        let spec = self.max_spec_bytes.saturating_add(SPEC_MESSAGE_MARGIN);
        self.max_message_bytes.max(usize::try_from(spec).unwrap_or(usize::MAX))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_listen: None,
            shutdown_grace: Duration::from_secs(30),
            database_url: None,
            data_path: PathBuf::from("gantry.db"),
            database_connections: 8,
            database_acquire_timeout: Duration::from_secs(1),
            database_probe_interval: Duration::from_secs(1),
            database_probe_timeout: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            watch_buffer: 65_536,
            max_message_bytes: 64 * 1024 * 1024,
            blob_store: "gantry-blobs".to_owned(),
            offload_bytes: Limits::default().offload_bytes,
            max_literal_bytes: Limits::default().literal_bytes,
            max_outputs_bytes: Limits::default().outputs_bytes,
            max_assembled_bytes: Limits::default().assembled_bytes,
            max_spec_bytes: Limits::default().spec_bytes,
            children_chunk: EngineConfig::default().children_chunk,
            max_spec_nodes: Limits::default().spec_nodes,
            strict_transitions: false,
            compact_claims_every: EngineConfig::default().compact_claims_every,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tls_client_auth: None,
            tls_reload_interval: Duration::from_secs(5),
            rate_limit: FairUse::default().rate_per_second,
            rate_burst: 0,
            max_polls_per_principal: FairUse::default().polls_per_principal,
            max_watches_per_principal: FairUse::default().watches_per_principal,
            auth: AuthMode::None,
            insecure: false,
            oidc: OidcArgs::default(),
        }
    }
}

/// Parses a duration flag (see [`parse_signed_duration`]); a negative one is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed = parse_signed_duration(text)?;
    Duration::try_from(signed).map_err(|_| format!("{text:?}: a duration must not be negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_duration_flag_takes_one_syntax() {
        for (text, millis) in [
            ("1m30s", 90_000),
            ("1m 30s", 90_000),
            ("250ms", 250),
            ("30", 30_000),
            ("1.5s", 1500),
            ("PT1M", 60_000),
            ("1h", 3_600_000),
        ] {
            assert_eq!(parse_duration(text).map(|d| d.as_millis()), Ok(millis), "{text}");
        }
        for text in ["", "s", "1x", "1..5s", "-1s", "forever"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        assert_eq!(parse_signed_duration("-1.5s").map(|d| d.as_millis()), Ok(-1500));
    }

    #[test]
    fn durations_of_zero_are_refused() {
        assert!(ServerConfig::default().validate().is_ok());
        let config = ServerConfig {
            database_probe_interval: Duration::ZERO,
            ..ServerConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err("--database-probe-interval must be longer than zero".to_owned())
        );
    }

    #[test]
    fn tls_flags_come_in_working_sets() {
        let with = |edit: fn(&mut ServerConfig)| {
            let mut config = ServerConfig::default();
            edit(&mut config);
            config.validate()
        };
        assert_eq!(
            with(|c| c.tls_cert = Some("c.pem".into())),
            Err("--tls-cert needs --tls-key".to_owned())
        );
        assert_eq!(
            with(|c| c.tls_client_ca = Some("ca.pem".into())),
            Err("--tls-client-ca needs --tls-cert and --tls-key".to_owned())
        );
        assert_eq!(
            with(|c| {
                c.tls_cert = Some("c.pem".into());
                c.tls_key = Some("k.pem".into());
                c.tls_client_auth = Some(ClientAuth::Optional);
            }),
            Err("--tls-client-auth needs --tls-client-ca".to_owned())
        );
        let mut config = ServerConfig {
            tls_cert: Some("c.pem".into()),
            tls_key: Some("k.pem".into()),
            tls_client_ca: Some("ca.pem".into()),
            ..ServerConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(
            config.tls_files().map(|files| files.client_auth),
            Some(ClientAuth::Required)
        );
        config.tls_cert = None;
        config.tls_key = None;
        config.tls_client_ca = None;
        assert_eq!(config.tls_files(), None);
    }
}
