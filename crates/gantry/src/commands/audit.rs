//! `gantry audit list`: the server's audit log of mutating calls (admin only once the server authenticates).

use std::process::ExitCode;

use gantry_proto::v1 as pb;
use gantry_proto::v1::audit_service_client::AuditServiceClient;
use serde_json::{Value, json};

use crate::client::{Connection, RpcResultExt, channel};
use crate::render::{OutputFormat, print_json, table, timestamp};
use crate::time_flags::parse_time_or_ago;

/// `gantry audit ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// List audit entries (registrations, executions created, terminated, relaunched, recovered), newest first.
    #[command(visible_alias = "ls")]
    List(AuditListArgs),
}

/// `gantry audit list`'s filters.
#[derive(Debug, clap::Args)]
pub struct AuditListArgs {
    /// Only this principal's calls (`developer` on a server without authentication).
    #[arg(long)]
    principal: Option<String>,
    /// Only calls on this project.
    #[arg(long)]
    project: Option<String>,
    /// Only this method's calls, e.g. CreateExecution.
    #[arg(long)]
    rpc: Option<String>,
    /// Only calls at or after this time: RFC 3339 (`2026-12-01T09:00:00Z`) or a duration ago (`1h`, `30m`).
    #[arg(long, value_parser = parse_time_or_ago)]
    since: Option<prost_types::Timestamp>,
    /// Only calls before this time, as for --since.
    #[arg(long, value_parser = parse_time_or_ago)]
    until: Option<prost_types::Timestamp>,
    /// The most entries to show.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

/// Runs an audit command.
pub async fn audit(server: &Connection, output: OutputFormat, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let AuditCommand::List(args) = command;
    let mut client = AuditServiceClient::new(channel(server).await?);
    let mut entries = Vec::new();
    let mut page_token = String::new();
    while entries.len() < args.limit as usize {
        let remaining = args.limit - entries.len() as u32;
        let request = pb::ListAuditEntriesRequest {
            principal: args.principal.clone().unwrap_or_default(),
            project: args.project.clone().unwrap_or_default(),
            rpc: args.rpc.clone().unwrap_or_default(),
            since: args.since,
            until: args.until,
            page_size: remaining.min(1000),
            page_token,
        };
        let page = client.list_audit_entries(request).await.rpc("listing audit entries")?;
        entries.extend(page.entries);
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    entries.truncate(args.limit as usize);
    match output {
        OutputFormat::Json => print_json(&Value::Array(entries.iter().map(entry_json).collect())),
        OutputFormat::Table if entries.is_empty() => errln!("no audit entries{}", filters(&args)),
        OutputFormat::Table => outln!("{}", entries_table(&entries)),
    }
    Ok(ExitCode::SUCCESS)
}

/// What the filters asked for, for an empty listing's sentence.
fn filters(args: &AuditListArgs) -> String {
    let mut said = String::new();
    for (what, value) in [
        ("of principal", &args.principal),
        ("on project", &args.project),
        ("of", &args.rpc),
    ] {
        if let Some(value) = value {
            said.push_str(&format!(" {what} {value}"));
        }
    }
    if args.since.is_some() || args.until.is_some() {
        said.push_str(" in that time range");
    }
    said
}

fn entries_table(entries: &[pb::AuditEntry]) -> comfy_table::Table {
    let mut table = table(["TIME", "PRINCIPAL", "RPC", "TARGET", "OUTCOME", "SUMMARY"]);
    for entry in entries {
        let target = match (entry.project.is_empty(), entry.target.is_empty()) {
            (true, _) => entry.target.clone(),
            (false, true) => format!("{}/{}", entry.project, entry.domain),
            (false, false) => format!("{}/{} {}", entry.project, entry.domain, entry.target),
        };
        let outcome = if entry.message.is_empty() {
            entry.outcome.clone()
        } else {
            format!("{}: {}", entry.outcome, entry.message)
        };
        table.add_row(vec![
            timestamp(entry.time.as_ref()),
            entry.principal.clone(),
            entry.rpc.clone(),
            target,
            outcome,
            entry.summary.clone(),
        ]);
    }
    table
}

fn entry_json(entry: &pb::AuditEntry) -> Value {
    json!({
        "id": entry.id,
        "time": timestamp(entry.time.as_ref()),
        "principal": entry.principal,
        "rpc": entry.rpc,
        "project": entry.project,
        "domain": entry.domain,
        "target": entry.target,
        "summary": entry.summary,
        "outcome": entry.outcome,
        "message": entry.message,
    })
}
