//! `gantry projects create|list|describe|archive`.

use std::process::ExitCode;

use anyhow::anyhow;
use gantry_proto::v1 as pb;
use gantry_proto::v1::project_service_client::ProjectServiceClient;
use serde_json::json;

use crate::client::{Connection, RpcResultExt, channel};
use crate::render::{OutputFormat, print_json, table, timestamp};

/// `gantry projects ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ProjectCommand {
    /// Create a project (admins).
    Create {
        /// Its id: lowercase letters, digits, `-` and `_`.
        id: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Its domains, comma-separated (default: dev,staging,prod).
        #[arg(long, value_delimiter = ',')]
        domains: Vec<String>,
    },
    /// List the projects you have a role on.
    #[command(visible_alias = "ls")]
    List,
    /// Describe a project.
    #[command(visible_alias = "show")]
    Describe { id: String },
    /// Archive a project: no new registrations or executions in it (admins).
    Archive { id: String },
}

fn project_json(project: &pb::Project) -> serde_json::Value {
    json!({
        "id": project.id,
        "description": project.description,
        "domains": project.domains,
        "created_at": timestamp(project.created_at.as_ref()),
        "archived_at": project.archived_at.as_ref().map(|at| timestamp(Some(at))),
    })
}

fn print(output: OutputFormat, projects: &[pb::Project]) {
    if output == OutputFormat::Json {
        print_json(&json!(projects.iter().map(project_json).collect::<Vec<_>>()));
        return;
    }
    let mut rows = table(["ID", "DOMAINS", "CREATED", "ARCHIVED", "DESCRIPTION"]);
    for project in projects {
        rows.add_row(vec![
            project.id.clone(),
            project.domains.join(","),
            timestamp(project.created_at.as_ref()),
            project
                .archived_at
                .as_ref()
                .map_or(String::new(), |at| timestamp(Some(at))),
            project.description.clone(),
        ]);
    }
    outln!("{rows}");
}

/// Runs `gantry projects ...`.
pub async fn projects(server: &Connection, output: OutputFormat, command: ProjectCommand) -> anyhow::Result<ExitCode> {
    let mut client = ProjectServiceClient::new(channel(server).await?);
    let one = |project: Option<pb::Project>| project.ok_or_else(|| anyhow!("the server returned no project"));
    let shown = match command {
        ProjectCommand::Create {
            id,
            description,
            domains,
        } => {
            let request = pb::CreateProjectRequest {
                id: id.clone(),
                description,
                domains,
            };
            vec![one(client
                .create_project(request)
                .await
                .rpc(format!("creating project {id}"))?
                .project)?]
        }
        ProjectCommand::List => {
            client
                .list_projects(pb::ListProjectsRequest {})
                .await
                .rpc("listing projects")?
                .projects
        }
        ProjectCommand::Describe { id } => {
            let request = pb::GetProjectRequest { id: id.clone() };
            vec![one(client
                .get_project(request)
                .await
                .rpc(format!("fetching project {id}"))?
                .project)?]
        }
        ProjectCommand::Archive { id } => {
            let request = pb::ArchiveProjectRequest { id: id.clone() };
            vec![one(client
                .archive_project(request)
                .await
                .rpc(format!("archiving project {id}"))?
                .project)?]
        }
    };
    print(output, &shown);
    Ok(ExitCode::SUCCESS)
}
