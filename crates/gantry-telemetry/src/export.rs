//! The binaries' setup: logs on stderr as text or JSON lines, and, when an OTLP endpoint is given, the spans of
//! Gantry's crates exported over OTLP/gRPC in batches (off the request path, on the exporter's own thread).

use std::io::IsTerminal;

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// For people: one line per event, colored on a terminal.
    #[default]
    Text,
    /// For log pipelines: one JSON object per line (`timestamp`, `level`, `target`, `fields`, and the spans the event
    /// happened in with their fields, `span` and `spans`).
    Json,
}

/// The binaries' telemetry flags (`--log-format`, `--otlp-endpoint`), the same in each.
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetryArgs {
    /// How log lines are written to stderr: text (for people) or json (one object per line, for log pipelines).
    #[arg(long, global = true, env = "GANTRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Export traces over OTLP/gRPC to this collector endpoint (e.g. http://otel-collector:4317); off unless set.
    #[arg(long, global = true, env = "GANTRY_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans, instead of gantry-server (the server) or gantry-worker (workers).
    #[arg(long, global = true, env = "OTEL_SERVICE_NAME", hide = true)]
    pub otel_service_name: Option<String>,
}

impl TelemetryArgs {
    /// The configuration: `service` unless `OTEL_SERVICE_NAME` names another; `log_filter` in `RUST_LOG`'s syntax.
    pub fn config(&self, service: &str, log_filter: String) -> TelemetryConfig {
        TelemetryConfig {
            log_format: self.log_format,
            log_filter,
            otlp_endpoint: self.otlp_endpoint.clone().filter(|endpoint| !endpoint.is_empty()),
            service_name: self.otel_service_name.clone().unwrap_or_else(|| service.to_owned()),
        }
    }
}

/// The service names spans are exported under, unless `OTEL_SERVICE_NAME` says otherwise.
pub mod service {
    /// The server.
    pub const SERVER: &str = "gantry-server";
    /// A worker (the example worker, the SDKs).
    pub const WORKER: &str = "gantry-worker";
}

/// What the binary was told.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// Which events are logged, in `RUST_LOG`'s syntax (e.g. `info`, `gantry_engine=debug`).
    pub log_filter: String,
    /// The OTLP/gRPC endpoint spans go to (e.g. `http://otel-collector:4317`); `None`: no spans are exported.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the exported spans.
    pub service_name: String,
}

/// The installed telemetry; [`Telemetry::shutdown`] exports the spans still buffered.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// The spans exported: Gantry's own at `info` and above, never those of the libraries below them (the exporter's own
/// gRPC calls among them, which would otherwise trace themselves).
fn exported_spans() -> Targets {
    Targets::new().with_target("gantry", Level::INFO)
}

/// Installs the global subscriber: logs on stderr, and spans exported when an endpoint is set. Call once, inside
/// the Tokio runtime (the exporter's channel lives on it).
pub fn init(config: TelemetryConfig) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_new(&config.log_filter)
        .with_context(|| format!("invalid log filter {:?}", config.log_filter))?;
    let logs = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_current_span(true)
            .with_span_list(true)
            .with_filter(filter)
            .boxed(),
    };
    let (provider, spans) = match &config.otlp_endpoint {
        None => (None, None),
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .with_context(|| format!("building the OTLP exporter for {endpoint}"))?;
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    Resource::builder_empty()
                        .with_service_name(config.service_name.clone())
                        .build(),
                )
                .build();
            let tracer = provider.tracer("gantry");
            // Per span, only what the spans' own fields say: no busy/idle timing of every poll of an instrumented
            // future, no thread or source-location attributes (a worker's span per attempt is the hot case). No
            // OpenTelemetry context made current on every poll either: Gantry reads a span's context from the
            // `tracing` span itself (`TraceContext::of_span`), never from `opentelemetry::Context::current()`.
            let layer: Box<dyn Layer<Registry> + Send + Sync> = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_context_activation(false)
                .with_tracked_inactivity(false)
                .with_threads(false)
                .with_location(false)
                .with_filter(exported_spans())
                .boxed();
            (Some(provider), Some(layer))
        }
    };
    tracing_subscriber::registry()
        .with(spans)
        .with(logs)
        .try_init()
        .context("installing the log subscriber")?;
    Ok(Telemetry { provider })
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exports_spans(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered and stops the exporter.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else { return };
        // The provider's shutdown blocks until its exporter thread has sent the last batch over the runtime's channel.
        let ended = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = ended {
            tracing::warn!(%error, "could not export the last spans");
        }
    }
}
