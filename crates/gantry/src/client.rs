//! The admin client: connecting, turning gRPC failures into errors that carry the server's message, and looking up
//! what a target declares.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, anyhow};
use gantry_core::model::{Identifier, LaunchPlan, ResourceKind, TaskTemplate, TypedInterface, WorkflowTemplate};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use tonic::transport::{Channel, Endpoint};

/// The admin API client.
pub type Admin = AdminServiceClient<Channel>;

/// The largest message the CLI sends or accepts (the server's default limit).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Connects to the server at `endpoint`, failing fast when nothing listens there.
pub async fn connect(endpoint: &str) -> anyhow::Result<Admin> {
    let channel = Endpoint::from_shared(endpoint.to_owned())
        .with_context(|| format!("{endpoint:?} is not a valid endpoint URL"))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot reach the Gantry server at {endpoint}"))?;
    Ok(AdminServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// The map with the references the server sent in place of values too large for one response read, so that users
/// see values.
pub async fn read_references(client: &Admin, map: Option<pb::LiteralMap>) -> anyhow::Result<Option<pb::LiteralMap>> {
    let Some(map) = map else { return Ok(None) };
    let references = gantry_worker::References::from_client(client.clone());
    Ok(Some(references.resolve_map(map).await?))
}

/// An execution; its inputs read whole with `values`, else left out where large (as references).
pub async fn get_execution(client: &mut Admin, id: &str, values: bool) -> anyhow::Result<pb::Execution> {
    let request = pb::GetExecutionRequest {
        id: id.to_owned(),
        references: !values,
    };
    let mut execution = client
        .get_execution(request)
        .await
        .rpc(format!("fetching execution {id}"))?
        .execution
        .ok_or_else(|| anyhow!("the server returned no execution"))?;
    if values {
        execution.inputs = read_references(client, execution.inputs.take()).await?;
    }
    Ok(execution)
}

/// An execution's data, its values read whole.
pub async fn get_execution_data(client: &mut Admin, id: &str) -> anyhow::Result<pb::GetExecutionDataResponse> {
    let request = pb::GetExecutionDataRequest {
        id: id.to_owned(),
        references: false,
    };
    let mut data = client
        .get_execution_data(request)
        .await
        .rpc(format!("fetching the data of execution {id}"))?;
    data.inputs = read_references(client, data.inputs.take()).await?;
    data.outputs = read_references(client, data.outputs.take()).await?;
    Ok(data)
}

/// A failed RPC: what the CLI was doing, and the server's status (whose message names what was wrong).
#[derive(Debug)]
pub struct RpcError {
    /// What the CLI was doing, e.g. `starting task demo/dev/x@1`.
    pub doing: String,
    /// The server's answer.
    pub status: tonic::Status,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({:?})",
            self.doing,
            self.status.message(),
            self.status.code()
        )
    }
}

impl std::error::Error for RpcError {}

/// `.rpc("creating the execution")?` on a tonic result.
pub trait RpcResultExt<T> {
    /// The response's message, or an [`RpcError`] saying what was being done.
    fn rpc(self, doing: impl Into<String>) -> Result<T, RpcError>;
}

impl<T> RpcResultExt<T> for Result<tonic::Response<T>, tonic::Status> {
    fn rpc(self, doing: impl Into<String>) -> Result<T, RpcError> {
        self.map(tonic::Response::into_inner).map_err(|status| RpcError {
            doing: doing.into(),
            status,
        })
    }
}

/// The registered task `id`.
pub async fn get_task(client: &mut Admin, id: &Identifier) -> anyhow::Result<TaskTemplate> {
    let response = client
        .get_task(pb::GetTaskRequest {
            id: Some(id.clone().into()),
        })
        .await
        .rpc(format!("fetching task {id}"))?;
    Ok(gantry_proto::convert::required("task", response.task)?)
}

/// The registered workflow `id`.
pub async fn get_workflow(client: &mut Admin, id: &Identifier) -> anyhow::Result<WorkflowTemplate> {
    let response = client
        .get_workflow(pb::GetWorkflowRequest {
            id: Some(id.clone().into()),
        })
        .await
        .rpc(format!("fetching workflow {id}"))?;
    Ok(gantry_proto::convert::required("workflow", response.workflow)?)
}

/// The registered launch plan `id`.
pub async fn get_launch_plan(client: &mut Admin, id: &Identifier) -> anyhow::Result<LaunchPlan> {
    let response = client
        .get_launch_plan(pb::GetLaunchPlanRequest {
            id: Some(id.clone().into()),
        })
        .await
        .rpc(format!("fetching launch plan {id}"))?;
    Ok(gantry_proto::convert::required("launch_plan", response.launch_plan)?)
}

/// The interface callers see: a task's or workflow's own, or a launch plan's (its target's without the fixed inputs,
/// with its defaults).
pub async fn interface_of(client: &mut Admin, kind: ResourceKind, id: &Identifier) -> anyhow::Result<TypedInterface> {
    Ok(match kind {
        ResourceKind::Task => get_task(client, id).await?.interface,
        ResourceKind::Workflow => get_workflow(client, id).await?.interface,
        ResourceKind::LaunchPlan => {
            let plan = get_launch_plan(client, id).await?;
            let target = match plan.target_kind {
                ResourceKind::Task => get_task(client, &plan.target).await?.interface,
                ResourceKind::Workflow => get_workflow(client, &plan.target).await?.interface,
                ResourceKind::LaunchPlan => anyhow::bail!("launch plan {id} targets another launch plan"),
            };
            plan.interface(&target)
        }
    })
}

/// The newest registered version of `project/domain/name`.
pub async fn latest_version(
    client: &mut Admin,
    kind: ResourceKind,
    project: &str,
    domain: &str,
    name: &str,
) -> anyhow::Result<String> {
    let doing = format!("looking up the versions of {kind} {project}/{domain}/{name}");
    let (project, domain, wanted) = (project.to_owned(), domain.to_owned(), name.to_owned());
    let ids: Vec<Option<pb::Identifier>> = match kind {
        ResourceKind::Task => {
            let request = pb::ListTasksRequest {
                project,
                domain,
                name: wanted,
                page_size: 1,
                page_token: String::new(),
            };
            client
                .list_tasks(request)
                .await
                .rpc(doing)?
                .tasks
                .into_iter()
                .map(|t| t.id)
                .collect()
        }
        ResourceKind::Workflow => {
            let request = pb::ListWorkflowsRequest {
                project,
                domain,
                name: wanted,
                page_size: 1,
                page_token: String::new(),
            };
            client
                .list_workflows(request)
                .await
                .rpc(doing)?
                .workflows
                .into_iter()
                .map(|w| w.id)
                .collect()
        }
        ResourceKind::LaunchPlan => {
            let request = pb::ListLaunchPlansRequest {
                project,
                domain,
                name: wanted,
                page_size: 1,
                page_token: String::new(),
            };
            client
                .list_launch_plans(request)
                .await
                .rpc(doing)?
                .launch_plans
                .into_iter()
                .map(|l| l.id)
                .collect()
        }
    };
    ids.into_iter()
        .flatten()
        .next()
        .map(|id| id.version)
        .ok_or_else(|| anyhow!("no {kind} named {name:?} is registered; give the version as name@version"))
}
