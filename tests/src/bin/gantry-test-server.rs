//! A Gantry server process for the crash tests and the benchmark: `gantry-test-server LISTEN DATABASE_URL LEASE_MS
//! [OTLP_ENDPOINT]`, where `DATABASE_URL` is a Postgres URL or `sqlite:PATH` for the embedded store, and spans are
//! exported to `OTLP_ENDPOINT` when given (as `gantry server --otlp-endpoint` does). Prints `listening on ADDR` once
//! it serves, then runs until killed.

use std::time::Duration;

/// The allocator the `gantry` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (listen, database_url, lease_ms, otlp_endpoint) = match args.as_slice() {
        [_, listen, database_url, lease_ms] => (listen, database_url, lease_ms, None),
        [_, listen, database_url, lease_ms, otlp] => (listen, database_url, lease_ms, Some(otlp.clone())),
        _ => anyhow::bail!("usage: gantry-test-server LISTEN DATABASE_URL LEASE_MS [OTLP_ENDPOINT]"),
    };
    // Warnings (a lease expired, a batch retried) on stderr, which the tests pass through.
    let _telemetry = gantry_telemetry::init(gantry_telemetry::TelemetryConfig {
        log_format: gantry_telemetry::LogFormat::Text,
        log_filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        otlp_endpoint,
        service_name: gantry_telemetry::service::SERVER.to_owned(),
    })?;
    let mut config = gantry_server::ServerConfig {
        listen: listen.parse()?,
        database_url: Some(database_url.clone()),
        lease: Duration::from_millis(lease_ms.parse()?),
        strict_transitions: true,
        ..Default::default()
    };
    if let Some(path) = database_url.strip_prefix("sqlite:") {
        config.database_url = None;
        config.data_path = path.into();
    }
    // The benchmark tries other chunk sizes.
    if let Ok(chunk) = std::env::var("GANTRY_CHILDREN_CHUNK") {
        config.children_chunk = chunk.parse()?;
    }
    // The benchmark measures what metrics cost: with GANTRY_BENCH_METRICS=off, a recorder that keeps nothing takes
    // the place of the server's Prometheus recorder.
    if std::env::var("GANTRY_BENCH_METRICS").as_deref() == Ok("off") {
        metrics::set_global_recorder(metrics::NoopRecorder).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let server = gantry_server::start(config).await?;
    println!("listening on {}", server.local_addr());
    server.wait().await
}
