//! `gantry-example-worker`: runs the example tasks against a Gantry server until Ctrl-C, then shuts down gracefully.

/// The allocator: it gives memory back to the system after a large fan-out, where glibc's keeps it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::Parser;

/// Runs Gantry's example tasks (other_task, generate_others, nested_dynamic, flatten_lists, fail_task, choose_plan,
/// rust_fans_out_python).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The Gantry server.
    #[arg(long, env = "GANTRY_ENDPOINT", default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// How many attempts run at once.
    #[arg(long, env = "GANTRY_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Register the example task templates before running.
    #[arg(long)]
    register: bool,
    /// For an https:// endpoint: trust the CA certificates in this PEM file instead of the system's roots.
    #[arg(long, env = "GANTRY_CA_FILE")]
    ca_file: Option<std::path::PathBuf>,
    /// For an https:// endpoint: present this PEM client certificate (mutual TLS), with --client-key.
    #[arg(long, env = "GANTRY_CLIENT_CERT", requires = "client_key")]
    client_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --client-cert.
    #[arg(long, env = "GANTRY_CLIENT_KEY", requires = "client_cert")]
    client_key: Option<std::path::PathBuf>,
    /// Present this token (an API key) to a server with authentication; a worker key's worker claims only its
    /// project's attempts (`--register` needs an operator key).
    #[arg(long, env = "GANTRY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Logs and traces.
    #[command(flatten, next_help_heading = "Telemetry options")]
    telemetry: gantry_telemetry::TelemetryArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    let telemetry = gantry_telemetry::init(args.telemetry.config(gantry_telemetry::service::WORKER, filter))?;
    let result = run(args).await;
    telemetry.shutdown().await;
    result
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut tls = gantry_worker::ClientTls::new();
    if let Some(ca_file) = &args.ca_file {
        tls = tls.with_ca_file(ca_file);
    }
    if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
        tls = tls.with_identity(cert, key);
    }
    let mut builder =
        gantry_examples::cross_language::with_cross_language_tasks(gantry_examples::seed_worker(&args.endpoint))
            .tls(tls)
            .concurrency(args.concurrency);
    if let Some(token) = args.token {
        builder = builder.token(token);
    }
    let worker = builder.build().context("building the worker")?;
    if args.register {
        worker.register_tasks().await.context("registering the example tasks")?;
    }
    worker
        .run(tokio::signal::ctrl_c())
        .await
        .context("running the worker")?;
    Ok(())
}
