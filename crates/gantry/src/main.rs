//! The `gantry` command: runs the server (`server`, `migrate`) and drives it through the admin API: `register`, `run`,
//! `task|workflow|launch-plan list|show`, `execution list|get|outputs|nodes|terminate|relaunch|recover` (also at the
//! top level: `gantry list`, `gantry nodes ID`, ...), `signal list|set`, `approve`, `reject`, `schedule list|activate|deactivate`, and prints shell
//! completions (`completions`).
//!
//! It owns the command line, the spec file format of `register`, and how tables print (the literal ↔ JSON conversion is `gantry-text`'s, shared with the console). It
//! talks to a server only over gRPC; `server` and `migrate` call the server and store crates in process, and
//! `server --examples` runs the example worker from `gantry-examples`. It must not depend on the engine.
#![forbid(unsafe_code)]

#[macro_use]
mod output;

mod client;
mod commands;
mod reference;
mod render;
mod spec_convert;
mod spec_file;
mod time_flags;

use std::path::PathBuf;

/// The allocator: it gives memory back to the system after a large fan-out, where glibc's keeps it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use gantry_core::model::ResourceKind;

use commands::catalog::CatalogCommand;
use render::OutputFormat;

/// The help heading of the options of the client commands.
const CLIENT: &str = "Client options";
/// Where the client commands look for the server by default.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";

/// Gantry: a control plane for Flyte-style dynamic tasks.
#[derive(Debug, Parser)]
#[command(name = "gantry", version, propagate_version = true)]
struct Cli {
    /// The Gantry server the client commands talk to: a URL, or host:port for http://host:port.
    #[arg(long, global = true, help_heading = CLIENT, env = "GANTRY_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
    /// For https:// endpoints: trust the CA certificates in this PEM file instead of the system's roots.
    #[arg(long, global = true, help_heading = CLIENT, env = "GANTRY_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// For https:// endpoints: present this PEM client certificate (mutual TLS), with --client-key.
    #[arg(long, global = true, help_heading = CLIENT, env = "GANTRY_CLIENT_CERT", requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// The PEM private key of --client-cert.
    #[arg(long, global = true, help_heading = CLIENT, env = "GANTRY_CLIENT_KEY", requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// Present this token (an API key from `gantry auth keys create`) to a server with authentication.
    #[arg(long, global = true, help_heading = CLIENT, env = "GANTRY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// How long a call waits for the server's answer before failing (e.g. 30s, 2m; 0 waits as long as it takes).
    /// Following an execution (--watch, watch) is not bounded by it, only the call that starts following.
    #[arg(long, global = true, help_heading = CLIENT, env = "GANTRY_REQUEST_TIMEOUT", default_value = "60s",
          value_parser = gantry_server::parse_duration)]
    request_timeout: Duration,
    /// How to print results: tables for people, JSON for scripts.
    #[arg(long, short, global = true, help_heading = CLIENT, value_enum, env = "GANTRY_OUTPUT", default_value = "table")]
    output: OutputFormat,
    /// Logs and traces.
    #[command(flatten, next_help_heading = "Telemetry options")]
    telemetry: gantry_telemetry::TelemetryArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Gantry server (with --examples, also the example worker, in this process).
    Server(commands::server::ServerArgs),
    /// Apply the database migrations and exit.
    Migrate(commands::server::MigrateArgs),
    /// Register tasks, workflows and launch plans from YAML or JSON files.
    Register(commands::register::RegisterArgs),
    /// Start an execution of a task, workflow or launch plan; --watch follows it to the end.
    Run(commands::run::RunArgs),
    /// Registered tasks: list, show.
    #[command(subcommand, visible_alias = "tasks")]
    Task(CatalogCommand),
    /// Registered workflows: list, show.
    #[command(subcommand, visible_alias = "workflows")]
    Workflow(CatalogCommand),
    /// Registered launch plans: list, show.
    #[command(subcommand, visible_alias = "launch-plans")]
    LaunchPlan(CatalogCommand),
    /// Executions: list, get, outputs, nodes, terminate, relaunch, recover (each also works without `execution`).
    #[command(subcommand, visible_alias = "executions")]
    Execution(ExecutionCommand),
    #[command(flatten)]
    Shortcut(ExecutionCommand),
    /// API keys: create, list, revoke.
    #[command(subcommand)]
    Auth(commands::auth::AuthCommand),
    /// Projects: create, list, describe, archive.
    #[command(subcommand, visible_alias = "project")]
    Projects(commands::projects::ProjectCommand),
    /// Launch plans' schedules: list (with their next ticks), activate, deactivate.
    #[command(subcommand, visible_alias = "schedules")]
    Schedule(commands::schedules::ScheduleCommand),
    /// The signals an execution's gate nodes wait for: list, set.
    #[command(subcommand, visible_alias = "signals")]
    Signal(commands::signals::SignalCommand),
    /// Approve an execution's approval gate: the value it holds goes on.
    Approve(commands::signals::DecisionArgs),
    /// Refuse an execution's approval gate: the gate node fails.
    Reject(commands::signals::DecisionArgs),
    /// The audit log of mutating calls: who registered, ran, terminated, relaunched or recovered what, and how it
    /// ended (admin only on a server with authentication).
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Print a shell completion script: `gantry completions bash > ~/.local/share/bash-completion/completions/gantry`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// What `gantry execution ...` does, and the same commands at the top level.
#[derive(Debug, Subcommand)]
enum ExecutionCommand {
    /// List executions, newest first.
    #[command(visible_alias = "ls")]
    List(commands::inspect::ListArgs),
    /// Show an execution.
    #[command(visible_alias = "show")]
    Get {
        /// The execution's id.
        execution_id: String,
    },
    /// Print an execution's outputs as JSON (or its error).
    Outputs {
        /// The execution's id.
        execution_id: String,
    },
    /// Show an execution's nodes as a tree, children of dynamic nodes included.
    Nodes(commands::nodes::NodesArgs),
    /// Stop an execution: running attempts are cancelled and it becomes aborted.
    Terminate {
        /// The execution's id.
        execution_id: String,
        /// Why, recorded on the execution's error.
        #[arg(long, default_value = "terminated with the gantry command")]
        reason: String,
    },
    /// Start an execution's target again with the same inputs; nothing from it is reused (the cache still applies).
    Relaunch {
        #[command(flatten)]
        args: commands::rerun::RerunArgs,
        /// Skip cache lookups and replace the entries of every cached task that runs.
        #[arg(long)]
        overwrite_cache: bool,
    },
    /// Start a failed, aborted or timed-out execution again, reusing the outputs of the nodes that succeeded and the
    /// specs dynamic nodes returned.
    Recover(commands::rerun::RerunArgs),
}

/// Logs (`RUST_LOG`, else `info` for the server and `warn` for the client commands) and, for the server, traces when
/// an OTLP endpoint is set.
fn init_telemetry(cli: &Cli) -> anyhow::Result<gantry_telemetry::Telemetry> {
    let serves = matches!(cli.command, Command::Server(_) | Command::Migrate(_));
    let default = if serves { "info" } else { "warn" };
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| default.to_owned());
    let mut config = cli.telemetry.config(gantry_telemetry::service::SERVER, filter);
    if !matches!(cli.command, Command::Server(_)) {
        // A client command's spans would be one process's: only the server exports.
        config.otlp_endpoint = None;
    }
    gantry_telemetry::init(config)
}

impl Cli {
    /// How the client commands (and `server --examples`' worker) reach a server.
    fn connection(&self) -> client::Connection {
        let mut tls = gantry_worker::ClientTls::new();
        if let Some(ca_file) = &self.ca_file {
            tls = tls.with_ca_file(ca_file);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            tls = tls.with_identity(cert, key);
        }
        client::Connection {
            endpoint: self.endpoint.clone(),
            tls,
            token: self.token.clone(),
            timeout: Some(self.request_timeout).filter(|timeout| !timeout.is_zero()),
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let connection = cli.connection();
    let (endpoint, output) = (&connection, cli.output);
    match cli.command {
        Command::Server(args) => commands::server::server(args, connection).await,
        Command::Auth(command) => commands::auth::auth(endpoint, output, command).await,
        Command::Projects(command) => commands::projects::projects(endpoint, output, command).await,
        Command::Migrate(args) => commands::server::migrate(args).await,
        Command::Register(args) => commands::register::register(endpoint, output, args).await,
        Command::Run(args) => commands::run::run(endpoint, output, args).await,
        Command::Task(command) => commands::catalog::catalog(endpoint, output, ResourceKind::Task, command).await,
        Command::Workflow(command) => {
            commands::catalog::catalog(endpoint, output, ResourceKind::Workflow, command).await
        }
        Command::LaunchPlan(command) => {
            commands::catalog::catalog(endpoint, output, ResourceKind::LaunchPlan, command).await
        }
        Command::Execution(command) | Command::Shortcut(command) => execution(endpoint, output, command).await,
        Command::Audit(command) => commands::audit::audit(endpoint, output, command).await,
        Command::Signal(command) => commands::signals::signal(endpoint, output, command).await,
        Command::Schedule(command) => commands::schedules::schedule(endpoint, output, command).await,
        Command::Approve(args) => commands::signals::decide(endpoint, output, args, true).await,
        Command::Reject(args) => commands::signals::decide(endpoint, output, args, false).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "gantry", &mut script);
            outln!("{}", String::from_utf8_lossy(&script).trim_end());
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn execution(
    endpoint: &client::Connection,
    output: OutputFormat,
    command: ExecutionCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        ExecutionCommand::Get { execution_id } => commands::inspect::get(endpoint, output, &execution_id).await,
        ExecutionCommand::Outputs { execution_id } => commands::inspect::outputs(endpoint, &execution_id).await,
        ExecutionCommand::Nodes(args) => commands::nodes::nodes(endpoint, output, args).await,
        ExecutionCommand::Terminate { execution_id, reason } => {
            commands::inspect::terminate(endpoint, output, &execution_id, reason).await
        }
        ExecutionCommand::List(args) => commands::inspect::list(endpoint, output, args).await,
        ExecutionCommand::Relaunch { args, overwrite_cache } => {
            commands::rerun::relaunch(endpoint, output, args, overwrite_cache).await
        }
        ExecutionCommand::Recover(args) => commands::rerun::recover(endpoint, output, args).await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let telemetry = match init_telemetry(&cli) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            errln!("error: {}", output::error_chain(&error));
            return ExitCode::FAILURE;
        }
    };
    let connection = cli.connection();
    let code = match dispatch(cli).await {
        Ok(code) => code,
        Err(error) => {
            let error = client::name_tls_failure(error, &connection).await;
            errln!("error: {}", output::error_chain(&error));
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown().await;
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_parses_targets_and_flags() {
        let cli = Cli::try_parse_from([
            "gantry",
            "--output",
            "json",
            "run",
            "demo/dev/generate_others@1",
            "--inputs",
            "{\"tasks_count\": 5}",
            "--watch",
        ])
        .unwrap();
        assert_eq!(cli.output, OutputFormat::Json);
        let Command::Run(args) = cli.command else { panic!("run") };
        assert!(args.watch);
        assert_eq!(args.target, "demo/dev/generate_others@1");
        assert_eq!(args.timeout, None);
    }

    #[test]
    fn run_takes_a_positive_timeout() {
        let parse = |timeout: &str| Cli::try_parse_from(["gantry", "run", "demo/dev/t@1", "--timeout", timeout]);
        let Command::Run(args) = parse("1m30s").unwrap().command else {
            panic!("run")
        };
        assert_eq!(args.timeout.map(|t| t.as_millis()), Some(90_000));
        let refused = parse("0s").expect_err("a zero timeout");
        assert!(refused.to_string().contains("at least one millisecond"), "{refused}");
    }

    #[test]
    fn a_calls_deadline_and_an_executions_timeout_are_two_flags() {
        let cli = Cli::try_parse_from([
            "gantry",
            "run",
            "demo/dev/t@1",
            "--timeout",
            "90s",
            "--request-timeout",
            "5s",
        ])
        .unwrap();
        assert_eq!(cli.connection().timeout, Some(Duration::from_secs(5)));
        let Command::Run(args) = cli.command else { panic!("run") };
        assert_eq!(args.timeout.map(|t| t.as_millis()), Some(90_000));
        let unbounded = Cli::try_parse_from(["gantry", "--request-timeout", "0", "task", "list"]).unwrap();
        assert_eq!(unbounded.connection().timeout, None);
        let default = Cli::try_parse_from(["gantry", "task", "list"]).unwrap();
        assert_eq!(default.connection().timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn resources_take_verbs_and_the_old_commands_still_work() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["gantry"], args].concat()).map(|cli| cli.command);
        assert!(matches!(
            parse(&["task", "list"]),
            Ok(Command::Task(CatalogCommand::List(_)))
        ));
        assert!(matches!(
            parse(&["launch-plan", "show", "p"]),
            Ok(Command::LaunchPlan(CatalogCommand::Show { .. }))
        ));
        assert!(matches!(
            parse(&["workflows", "ls"]),
            Ok(Command::Workflow(CatalogCommand::List(_)))
        ));
        assert!(matches!(
            parse(&["execution", "show", "x"]),
            Ok(Command::Execution(ExecutionCommand::Get { .. }))
        ));
        assert!(matches!(
            parse(&["get", "x"]),
            Ok(Command::Shortcut(ExecutionCommand::Get { .. }))
        ));
        assert!(matches!(
            parse(&["list"]),
            Ok(Command::Shortcut(ExecutionCommand::List(_)))
        ));
        assert!(matches!(
            parse(&["completions", "zsh"]),
            Ok(Command::Completions { .. })
        ));
    }

    #[test]
    fn every_duration_flag_takes_the_same_syntax() {
        for text in ["1m30s", "90s", "1m 30s", "90"] {
            let cli = Cli::try_parse_from(["gantry", "server", "--lease", text]).expect(text);
            assert!(matches!(cli.command, Command::Server(_)), "{text}");
            let cli = Cli::try_parse_from(["gantry", "run", "t", "--timeout", text]).expect(text);
            let Command::Run(args) = cli.command else { panic!("run") };
            assert_eq!(args.timeout.map(|t| t.as_millis()), Some(90_000), "{text}");
        }
    }
}
