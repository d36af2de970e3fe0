//! `gantry get`, `outputs`, `terminate` and `list`.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use gantry_core::state::ExecutionPhase;
use gantry_proto::v1 as pb;
use serde_json::Value;

use crate::client::{Connection, RpcResultExt, connect, get_execution, get_execution_data};
use crate::commands::catalog::Scope;
use crate::render::{
    OutputFormat, error_text, execution_json, execution_phase, execution_table, executions_table, literals_json,
    print_json,
};
use crate::time_flags::parse_time_or_ago;

/// `gantry list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only executions in these phases; repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_parser = phase_parser())]
    phase: Vec<ExecutionPhase>,
    #[command(flatten)]
    scope: Scope,
    /// Only executions of this target, registered in the listed project and domain: `KIND:NAME` (every version) or
    /// `KIND:NAME@VERSION`, KIND one of task, workflow, launch-plan.
    #[arg(long, value_parser = parse_target)]
    target: Option<pb::ExecutionTargetFilter>,
    /// Only executions created at or after this time: RFC 3339 (`2026-12-01T09:00:00Z`) or a duration ago (`1h`).
    #[arg(long, value_parser = parse_time_or_ago)]
    since: Option<prost_types::Timestamp>,
    /// Only executions created before this time, as for --since.
    #[arg(long, value_parser = parse_time_or_ago)]
    until: Option<prost_types::Timestamp>,
    /// Only executions whose name starts with this text, or the execution with this id.
    #[arg(long)]
    search: Option<String>,
    /// The most executions to show.
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

/// `--target`: `KIND:NAME` or `KIND:NAME@VERSION` (names and versions hold no `@`).
fn parse_target(text: &str) -> Result<pb::ExecutionTargetFilter, String> {
    let (kind, id) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not KIND:NAME or KIND:NAME@VERSION (KIND: task, workflow, launch-plan)"))?;
    let kind = match kind {
        "task" => pb::ResourceType::Task,
        "workflow" => pb::ResourceType::Workflow,
        "launch-plan" | "launch_plan" => pb::ResourceType::LaunchPlan,
        other => {
            return Err(format!(
                "{other:?} is not a kind of target: task, workflow or launch-plan"
            ));
        }
    };
    let (name, version) = id.split_once('@').unwrap_or((id, ""));
    Ok(pb::ExecutionTargetFilter {
        r#type: kind as i32,
        name: name.to_owned(),
        version: version.to_owned(),
        ..Default::default()
    })
}

/// `--phase`: one of the execution phases' names, which clap lists when given another.
fn phase_parser() -> impl clap::builder::TypedValueParser<Value = ExecutionPhase> {
    use clap::builder::TypedValueParser;
    let names: Vec<&'static str> = ExecutionPhase::ALL.iter().map(|phase| phase.as_str()).collect();
    clap::builder::PossibleValuesParser::new(names).try_map(|name| name.parse::<ExecutionPhase>())
}

/// Prints one execution.
pub async fn get(server: &Connection, output: OutputFormat, id: &str) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let execution = get_execution(&mut client, id, true).await?;
    match output {
        OutputFormat::Json => print_json(&execution_json(&execution)),
        OutputFormat::Table => outln!("{}", execution_table(&execution)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the outputs as JSON; an execution that failed or has not finished is an error saying so.
pub async fn outputs(server: &Connection, id: &str) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let data = get_execution_data(&mut client, id).await?;
    if let Some(outputs) = data.outputs {
        print_json(&literals_json(Some(outputs))?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(error) = data.error {
        bail!("execution {id} has no outputs: {}", error_text(&error));
    }
    let execution = get_execution(&mut client, id, false).await?;
    bail!(
        "execution {id} has no outputs yet (it is {})",
        execution_phase(execution.phase)
    )
}

/// Terminates an execution and prints its phase.
pub async fn terminate(
    server: &Connection,
    output: OutputFormat,
    id: &str,
    reason: String,
) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let execution = client
        .terminate_execution(pb::TerminateExecutionRequest {
            id: id.to_owned(),
            reason,
        })
        .await
        .rpc(format!("terminating execution {id}"))?
        .execution
        .ok_or_else(|| anyhow!("the server returned no execution"))?;
    match output {
        OutputFormat::Json => print_json(&execution_json(&execution)),
        OutputFormat::Table => outln!("execution {id} is {}", execution_phase(execution.phase)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists executions, newest first, up to the limit.
pub async fn list(server: &Connection, output: OutputFormat, args: ListArgs) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let phases: Vec<i32> = args.phase.iter().map(|p| pb::ExecutionPhase::from(*p) as i32).collect();
    let mut executions = Vec::new();
    let mut page_token = String::new();
    while executions.len() < args.limit as usize {
        let remaining = args.limit - executions.len() as u32;
        let request = pb::ListExecutionsRequest {
            project: args.scope.project.clone(),
            domain: args.scope.domain.clone(),
            phases: phases.clone(),
            page_size: remaining.min(1000),
            page_token,
            target: args.target.clone(),
            created_after: args.since,
            created_before: args.until,
            search: args.search.clone().unwrap_or_default(),
        };
        let page = client.list_executions(request).await.rpc("listing executions")?;
        executions.extend(page.executions);
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    executions.truncate(args.limit as usize);
    match output {
        OutputFormat::Json => print_json(&Value::Array(executions.iter().map(execution_json).collect())),
        OutputFormat::Table if executions.is_empty() => {
            let Scope { project, domain } = &args.scope;
            errln!(
                "no executions{} in {project}/{domain} (see --project and --domain)",
                filters(&args)
            );
        }
        OutputFormat::Table => outln!("{}", executions_table(&executions)),
    }
    Ok(ExitCode::SUCCESS)
}

/// What the filters asked for, for an empty listing's sentence.
fn filters(args: &ListArgs) -> String {
    let mut said = String::new();
    if !args.phase.is_empty() {
        let names: Vec<&str> = args.phase.iter().map(|phase| phase.as_str()).collect();
        said.push_str(&format!(" in phase {}", names.join(" or ")));
    }
    if let Some(target) = &args.target {
        let version = if target.version.is_empty() {
            String::new()
        } else {
            format!("@{}", target.version)
        };
        said.push_str(&format!(" of {}{version}", target.name));
    }
    if let Some(search) = &args.search {
        said.push_str(&format!(" matching {search:?}"));
    }
    if args.since.is_some() || args.until.is_some() {
        said.push_str(" created in that time range");
    }
    said
}
