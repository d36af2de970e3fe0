//! `gantry schedule list|activate|deactivate`: launch plans' schedules, with their next ticks.

use std::process::ExitCode;

use gantry_core::model::{Identifier, ResourceKind};
use gantry_proto::v1 as pb;
use serde_json::{Value, json};

use crate::client::{Admin, Connection, RpcResultExt, connect};
use crate::commands::catalog::Scope;
use crate::reference::Reference;
use crate::render::{OutputFormat, identifier, print_json, table, timestamp};

/// `gantry schedule ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ScheduleCommand {
    /// List the schedules of a project and domain's launch plans, with the next ticks of the active ones.
    #[command(visible_alias = "ls")]
    List {
        #[command(flatten)]
        scope: Scope,
    },
    /// Activate a launch plan's schedule from now (its other versions are deactivated).
    Activate(PlanArgs),
    /// Deactivate a launch plan's schedule.
    Deactivate(PlanArgs),
}

/// The launch plan a schedule command acts on.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// `project/domain/name@version`, or `name[@version]` in --project and --domain (the latest version when absent).
    launch_plan: String,
    #[command(flatten)]
    scope: Scope,
}

/// Runs a schedule command.
pub async fn schedule(server: &Connection, output: OutputFormat, command: ScheduleCommand) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    match command {
        ScheduleCommand::List { scope } => {
            let request = pb::ListSchedulesRequest {
                project: scope.project.clone(),
                domain: scope.domain.clone(),
            };
            let schedules = client.list_schedules(request).await.rpc("listing schedules")?.schedules;
            match output {
                OutputFormat::Json => print_json(&Value::Array(schedules.iter().map(state_json).collect())),
                OutputFormat::Table if schedules.is_empty() => {
                    errln!("no launch plan of {}/{} has a schedule", scope.project, scope.domain);
                }
                OutputFormat::Table => outln!("{}", states_table(&schedules)),
            }
        }
        ScheduleCommand::Activate(args) => {
            let id = plan_id(&mut client, &args).await?;
            let request = pb::ActivateScheduleRequest {
                launch_plan: Some(id.clone().into()),
            };
            let state = client
                .activate_schedule(request)
                .await
                .rpc(format!("activating the schedule of {id}"))?;
            print_state(output, state.schedule);
        }
        ScheduleCommand::Deactivate(args) => {
            let id = plan_id(&mut client, &args).await?;
            let request = pb::DeactivateScheduleRequest {
                launch_plan: Some(id.clone().into()),
            };
            let state = client
                .deactivate_schedule(request)
                .await
                .rpc(format!("deactivating the schedule of {id}"))?;
            print_state(output, state.schedule);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn plan_id(client: &mut Admin, args: &PlanArgs) -> anyhow::Result<Identifier> {
    let reference = Reference::parse(&args.launch_plan)?;
    let project = reference.project.clone().unwrap_or_else(|| args.scope.project.clone());
    let domain = reference.domain.clone().unwrap_or_else(|| args.scope.domain.clone());
    let version = match reference.version.clone() {
        Some(version) => version,
        None => {
            crate::client::latest_version(client, ResourceKind::LaunchPlan, &project, &domain, &reference.name).await?
        }
    };
    Ok(Identifier::new(project, domain, reference.name, version))
}

fn print_state(output: OutputFormat, state: Option<pb::ScheduleState>) {
    let state = state.unwrap_or_default();
    match output {
        OutputFormat::Json => print_json(&state_json(&state)),
        OutputFormat::Table => outln!("{}", states_table(std::slice::from_ref(&state))),
    }
}

/// The schedule in a few words (`gantry_text::schedules::describe`); empty when the server sent none or a malformed one.
fn describe(schedule: Option<&pb::Schedule>) -> String {
    let schedule = schedule.and_then(|wire| gantry_core::model::Schedule::try_from(wire.clone()).ok());
    schedule.map_or_else(String::new, |schedule| gantry_text::schedules::describe(&schedule))
}

fn states_table(states: &[pb::ScheduleState]) -> comfy_table::Table {
    let mut table = table(["LAUNCH PLAN", "SCHEDULE", "ACTIVE", "NEXT TICKS", "LAST TICK"]);
    for state in states {
        let next: Vec<String> = state.next_ticks.iter().map(|at| timestamp(Some(at))).collect();
        table.add_row(vec![
            identifier(state.launch_plan.as_ref()),
            describe(state.schedule.as_ref()),
            if state.active { "yes" } else { "no" }.to_owned(),
            next.join("\n"),
            state
                .last_tick
                .as_ref()
                .map(|at| timestamp(Some(at)))
                .unwrap_or_default(),
        ]);
    }
    table
}

fn state_json(state: &pb::ScheduleState) -> Value {
    json!({
        "launch_plan": identifier(state.launch_plan.as_ref()),
        "schedule": describe(state.schedule.as_ref()),
        "active": state.active,
        "next_ticks": state.next_ticks.iter().map(|at| timestamp(Some(at))).collect::<Vec<_>>(),
        "last_tick": state.last_tick.as_ref().map(|at| timestamp(Some(at))),
        "changed_at": timestamp(state.changed_at.as_ref()),
    })
}
