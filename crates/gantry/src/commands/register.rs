//! `gantry register FILE...`: every file is read and converted before anything is registered, so a mistake in any
//! of them registers nothing. Then tasks, workflows and launch plans are registered, file by file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use gantry_proto::v1 as pb;
use serde_json::json;

use crate::client::{Connection, RpcResultExt, connect, interface_of};
use crate::render::{OutputFormat, print_json, table};
use crate::spec_convert::{Interfaces, Registrations, convert, external_references};
use crate::spec_file::read_spec_file;

/// `gantry register`.
#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// YAML or JSON files (`.json`) holding `tasks`, `workflows` and `launch_plans`.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

struct Registered {
    kind: &'static str,
    id: String,
    created: bool,
}

/// Registers the files' tasks, workflows and launch plans and prints what was created.
pub async fn register(server: &Connection, output: OutputFormat, args: RegisterArgs) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let mut interfaces = Interfaces::default();
    let mut all: Vec<Registrations> = Vec::new();
    for path in &args.files {
        let file = read_spec_file(path)?;
        for (kind, id) in external_references(&file).with_context(|| format!("in {}", path.display()))? {
            if !interfaces.contains(kind, &id) {
                let interface = interface_of(&mut client, kind, &id)
                    .await
                    .with_context(|| format!("in {}", path.display()))?;
                interfaces.insert(kind, id, interface);
            }
        }
        all.push(convert(&file, &mut interfaces).with_context(|| format!("in {}", path.display()))?);
    }

    let mut registered = Vec::new();
    for registrations in all {
        for task in registrations.tasks {
            let id = task.id.to_string();
            let request = pb::RegisterTaskRequest {
                task: Some(task.into()),
            };
            let created = client
                .register_task(request)
                .await
                .rpc(format!("registering task {id}"))?
                .created;
            registered.push(Registered {
                kind: "task",
                id,
                created,
            });
        }
        for workflow in registrations.workflows {
            let id = workflow.id.to_string();
            let request = pb::RegisterWorkflowRequest {
                workflow: Some(workflow.into()),
            };
            let created = client
                .register_workflow(request)
                .await
                .rpc(format!("registering workflow {id}"))?
                .created;
            registered.push(Registered {
                kind: "workflow",
                id,
                created,
            });
        }
        for launch_plan in registrations.launch_plans {
            let id = launch_plan.id.to_string();
            let request = pb::RegisterLaunchPlanRequest {
                launch_plan: Some(launch_plan.into()),
            };
            let created = client
                .register_launch_plan(request)
                .await
                .rpc(format!("registering launch plan {id}"))?
                .created;
            registered.push(Registered {
                kind: "launch_plan",
                id,
                created,
            });
        }
    }

    match output {
        OutputFormat::Json => {
            let rows: Vec<_> = registered
                .iter()
                .map(|r| json!({"kind": r.kind, "id": r.id, "created": r.created}))
                .collect();
            print_json(&json!(rows));
        }
        OutputFormat::Table => {
            let mut rows = table(["KIND", "ID", "RESULT"]);
            for r in &registered {
                rows.add_row(vec![
                    r.kind,
                    &r.id,
                    if r.created { "created" } else { "already registered" },
                ]);
            }
            outln!("{rows}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
