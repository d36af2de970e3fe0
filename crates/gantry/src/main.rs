//! The `gantry` command: runs the server (`server`, `migrate`) and drives it through the admin API (`register`, `run`,
//! `get`, `outputs`, `nodes`, `terminate`, `list`, `relaunch`, `recover`).
//!
//! It owns the command line, the spec file format of `register`, and the literal ↔ JSON conversion of the CLI. It
//! talks to a server only over gRPC; `server` and `migrate` call the server and store crates in process, and
//! `server --examples` runs the example worker from `gantry-examples`. It must not depend on the engine.
#![forbid(unsafe_code)]

mod client;
mod commands;
mod json;
mod reference;
mod render;
mod spec_convert;
mod spec_file;
mod time_text;
mod types;

use std::io::IsTerminal;

/// The allocator: it gives memory back to the system after a large fan-out, where glibc's keeps it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use render::OutputFormat;

/// The help heading of the options of the client commands.
const CLIENT: &str = "Client options";
/// Where the client commands look for the server by default.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";

/// Gantry: a control plane for Flyte-style dynamic tasks.
#[derive(Debug, Parser)]
#[command(name = "gantry", version, propagate_version = true)]
struct Cli {
    /// The Gantry server the client commands talk to.
    #[arg(long, global = true, help_heading = CLIENT, env = "GANTRY_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
    /// How to print results: tables for people, JSON for scripts.
    #[arg(long, short, global = true, help_heading = CLIENT, value_enum, env = "GANTRY_OUTPUT", default_value = "table")]
    output: OutputFormat,
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
    /// Show an execution.
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
    /// List executions, newest first.
    List(commands::inspect::ListArgs),
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

fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let (endpoint, output) = (cli.endpoint.as_str(), cli.output);
    match cli.command {
        Command::Server(args) => commands::server::server(args).await,
        Command::Migrate(args) => commands::server::migrate(args).await,
        Command::Register(args) => commands::register::register(endpoint, output, args).await,
        Command::Run(args) => commands::run::run(endpoint, output, args).await,
        Command::Get { execution_id } => commands::inspect::get(endpoint, output, &execution_id).await,
        Command::Outputs { execution_id } => commands::inspect::outputs(endpoint, &execution_id).await,
        Command::Nodes(args) => commands::nodes::nodes(endpoint, output, args).await,
        Command::Terminate { execution_id, reason } => {
            commands::inspect::terminate(endpoint, output, &execution_id, reason).await
        }
        Command::List(args) => commands::inspect::list(endpoint, output, args).await,
        Command::Relaunch { args, overwrite_cache } => {
            commands::rerun::relaunch(endpoint, output, args, overwrite_cache).await
        }
        Command::Recover(args) => commands::rerun::recover(endpoint, output, args).await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(if matches!(cli.command, Command::Server(_) | Command::Migrate(_)) {
        "info"
    } else {
        "warn"
    });
    match dispatch(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

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
}
