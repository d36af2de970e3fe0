//! `gantry server` and `gantry migrate`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use gantry_server::ServerConfig;

use crate::client::Connection;

/// `gantry server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    #[command(flatten)]
    config: ServerConfig,
    /// Also register the example tasks (demo/dev, version 1) and run the example worker in this process.
    #[arg(long)]
    examples: bool,
    /// How many attempts the example worker runs at once.
    #[arg(long, default_value_t = 8, requires = "examples")]
    example_concurrency: usize,
    /// With --examples, run the seed (`generate_others`) with this many children once the worker is up, and print
    /// its outputs; 0 skips it.
    #[arg(long, default_value_t = 10, requires = "examples")]
    seed_tasks: i64,
}

/// `gantry migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Postgres URL (`postgres://...`). Without it, the embedded SQLite database at --data-path is migrated.
    #[arg(long, env = "GANTRY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Path of the embedded SQLite database.
    #[arg(long, env = "GANTRY_DATA_PATH", default_value = "gantry.db")]
    pub data_path: PathBuf,
}

/// Where a client reaches a server listening on `addr` (an unspecified address is reached on loopback), over TLS when
/// the server serves it.
fn client_endpoint(addr: SocketAddr, tls: bool) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}

fn store_description(config: &ServerConfig) -> String {
    match &config.database_url {
        Some(_) => "postgres".to_owned(),
        None => format!("sqlite {}", config.data_path.display()),
    }
}

/// Resolves on SIGTERM (what systemd, Docker and Kubernetes send) or SIGINT (ctrl-c).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut terminate, mut interrupt) = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%error, "cannot listen for SIGTERM and SIGINT; stopping");
                return;
            }
        };
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::error!(%error, "cannot listen for ctrl-c; stopping");
    }
}

/// Where the HTTP port serves, for the banner.
fn http_note(server: &gantry_server::RunningServer) -> String {
    match server.http_addr() {
        Some(addr) => format!("; the console, metrics and probes on http://{addr} (/, /metrics, /healthz, /readyz)"),
        None => String::new(),
    }
}

/// Runs the server (and the example worker) until ctrl-c. With TLS, the example worker and the seed's client reach it
/// over TLS with the client options (`--ca-file`, `--client-cert`, `--client-key`), at its IP address, which its
/// certificate must name.
pub async fn server(args: ServerArgs, client: Connection) -> anyhow::Result<ExitCode> {
    let store = store_description(&args.config);
    let auth_on = args.config.auth == gantry_server::AuthMode::Keys;
    let server = gantry_server::start(args.config).await?;
    let endpoint = client_endpoint(server.local_addr(), server.serves_tls());
    // The client options the command was given, at the address the server took.
    let connection = Connection {
        endpoint: endpoint.clone(),
        ..client
    };
    if !args.examples {
        outln!(
            "gantry listening on {endpoint} ({store}){}; ctrl-c stops it",
            http_note(&server)
        );
        stop_signal().await;
        server.shutdown().await?;
        return Ok(ExitCode::SUCCESS);
    }

    if auth_on {
        ensure_example_project(&connection)
            .await
            .context("creating the example project (with --auth keys, --token must be an admin key's)")?;
    }
    let mut worker = gantry_examples::seed_worker(&endpoint).tls(connection.tls.clone());
    if let Some(token) = connection.token.clone() {
        worker = worker.token(token);
    }
    let worker = worker.concurrency(args.example_concurrency).build()?;
    worker.register_tasks().await.context("registering the example tasks")?;
    register_example_launch_plans(&connection)
        .await
        .context("registering the example launch plans")?;
    let mut endpoint_flag = if endpoint == "http://127.0.0.1:50051" {
        String::new()
    } else {
        format!(" --endpoint {endpoint}")
    };
    if let (true, Some(ca_file)) = (server.serves_tls(), connection.tls.ca_file()) {
        endpoint_flag.push_str(&format!(" --ca-file {}", ca_file.display()));
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    outln!(
        "gantry listening on {endpoint} ({store}) with the example worker{}",
        http_note(&server)
    );
    if args.seed_tasks > 0 {
        run_seed(&connection, args.seed_tasks)
            .await
            .context("running the seed example")?;
    }
    outln!(
        "try: {} run demo/dev/generate_others@1 --inputs '{{\"tasks_count\": 5}}' --watch{endpoint_flag}; \
         ctrl-c stops the server",
        gantry_command()
    );
    stop_signal().await;
    let _ = stop.send(());
    let worker_result = worker.await.context("the example worker panicked")?;
    server.shutdown().await?;
    worker_result.context("the example worker failed")?;
    Ok(ExitCode::SUCCESS)
}

/// How a user in this shell runs this binary: `gantry` when that is on PATH, else this binary's path (relative to
/// the working directory when inside it), so that the banner's suggestion works before `cargo install`.
fn gantry_command() -> String {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("gantry").is_file()));
    if on_path {
        return "gantry".to_owned();
    }
    let Ok(exe) = std::env::current_exe() else {
        return "gantry".to_owned();
    };
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(std::path::Path::to_path_buf));
    relative.unwrap_or(exe).display().to_string()
}

/// Runs the seed's `generate_others(tasks_count)` to its end and prints what it returned.
async fn run_seed(connection: &Connection, tasks_count: i64) -> anyhow::Result<()> {
    use gantry_proto::v1 as pb;
    let mut client = crate::client::connect(connection).await?;
    let inputs = gantry_core::model::LiteralMap::from([(
        "tasks_count".to_owned(),
        gantry_core::model::Literal::Integer(tasks_count),
    )]);
    let target = gantry_core::model::Identifier::new(
        gantry_examples::PROJECT,
        gantry_examples::DOMAIN,
        "generate_others",
        gantry_examples::VERSION,
    );
    let execution = client
        .create_execution(pb::CreateExecutionRequest {
            project: gantry_examples::PROJECT.to_owned(),
            domain: gantry_examples::DOMAIN.to_owned(),
            target: Some(pb::create_execution_request::Target::Task(target.into())),
            inputs: Some(inputs.into()),
            ..Default::default()
        })
        .await?
        .into_inner()
        .execution
        .context("the server returned no execution")?;
    let phase = super::watch::watch_execution(&mut client, &execution.id, false).await?;
    let data = crate::client::get_execution_data(&mut client, &execution.id).await?;
    let outputs = crate::render::literals_json(data.outputs)?;
    outln!(
        "seed example: generate_others(tasks_count={tasks_count}) {} in execution {}: {outputs}",
        phase
            .as_str_name()
            .trim_start_matches("EXECUTION_PHASE_")
            .to_lowercase(),
        execution.id
    );
    Ok(())
}

/// With authentication on, the examples' project must exist before they are registered: creates it unless it does.
async fn ensure_example_project(connection: &Connection) -> anyhow::Result<()> {
    use gantry_proto::v1 as pb;
    let mut client =
        gantry_proto::v1::project_service_client::ProjectServiceClient::new(crate::client::channel(connection).await?);
    let request = pb::CreateProjectRequest {
        id: gantry_examples::PROJECT.to_owned(),
        domains: vec![gantry_examples::DOMAIN.to_owned()],
        ..Default::default()
    };
    match client.create_project(request).await {
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::AlreadyExists => Ok(()),
        Err(status) => Err(anyhow::anyhow!("{}", status.message())),
    }
}

/// Registers the launch plans the example `choose_plan` starts (again is fine: registration is idempotent).
async fn register_example_launch_plans(connection: &Connection) -> anyhow::Result<()> {
    let mut client = crate::client::connect(connection).await?;
    for plan in gantry_examples::launch_plans() {
        let name = plan.id.to_string();
        client
            .register_launch_plan(gantry_proto::v1::RegisterLaunchPlanRequest {
                launch_plan: Some(plan.into()),
            })
            .await
            .with_context(|| format!("registering launch plan {name}"))?;
    }
    Ok(())
}

/// Applies the migrations of the configured database.
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    match &args.database_url {
        Some(url) => {
            let store = gantry_store::PgStore::connect(url, 2)
                .await
                .with_context(|| format!("migrating the Postgres database at {}", gantry_store::redact_url(url)))?;
            store.close().await;
            outln!("migrations applied to {}", gantry_store::redact_url(url));
        }
        None => {
            let path = args.data_path.to_string_lossy().into_owned();
            let store = gantry_store::SqliteStore::open(&path)
                .await
                .with_context(|| format!("migrating the embedded database {path}"))?;
            store.close().await;
            outln!("migrations applied to {path}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_reach_a_wildcard_listener_on_loopback() {
        assert_eq!(
            client_endpoint("0.0.0.0:50051".parse().unwrap(), false),
            "http://127.0.0.1:50051"
        );
        assert_eq!(
            client_endpoint("10.1.2.3:7".parse().unwrap(), false),
            "http://10.1.2.3:7"
        );
        assert_eq!(
            client_endpoint("10.1.2.3:7".parse().unwrap(), true),
            "https://10.1.2.3:7"
        );
    }
}
