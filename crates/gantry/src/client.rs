//! The admin client: connecting, turning gRPC failures into errors that carry the server's message, and looking up
//! what a target declares.

use std::fmt;
use std::time::Duration;

use anyhow::anyhow;
use gantry_core::model::{Identifier, LaunchPlan, ResourceKind, TaskTemplate, TypedInterface, WorkflowTemplate};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_worker::{AuthedChannel, Bearer, ClientTls};

/// The admin API client.
pub type Admin = AdminServiceClient<AuthedChannel>;

/// The largest message the CLI sends or accepts (the server's default limit).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The URL of `endpoint`: `host:port` (as grpcurl takes it) means `http://host:port`.
pub fn endpoint_url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("http://{endpoint}")
    }
}

/// How the client commands reach the server: its endpoint (a URL, or `host:port`) and, for `https://`, the TLS
/// settings (`--ca-file`, `--client-cert`, `--client-key`).
#[derive(Debug, Clone)]
pub struct Connection {
    pub endpoint: String,
    pub tls: ClientTls,
    /// The token every call presents (`--token`, `GANTRY_TOKEN`), for a server with authentication.
    pub token: Option<String>,
    /// How long a call may wait for the server's answer (`--request-timeout`); `None`: as long as it takes.
    pub timeout: Option<Duration>,
}

impl Connection {
    /// The endpoint as a URL.
    pub fn url(&self) -> String {
        endpoint_url(&self.endpoint)
    }
}

/// Connects to the server, failing fast when nothing listens there. An `https://` endpoint speaks TLS or fails: a TLS
/// failure is reported as one, never retried in plaintext.
pub async fn connect(connection: &Connection) -> anyhow::Result<Admin> {
    Ok(AdminServiceClient::new(channel(connection).await?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A channel to the server, presenting the connection's token, for the admin client or another service's
/// ([`connect`] says how it fails).
pub async fn channel(connection: &Connection) -> anyhow::Result<AuthedChannel> {
    let bearer = Bearer::new(connection.token.as_deref())?;
    let url = connection.url();
    let endpoint = gantry_worker::endpoint(&url, &connection.tls).map_err(|error| match error {
        gantry_worker::ConnectError::InvalidEndpoint { endpoint, .. } => {
            anyhow!("{endpoint:?} is not a valid endpoint (http://host:port, https://host:port or host:port)")
        }
        other => anyhow::Error::new(other),
    })?;
    match endpoint.connect_timeout(Duration::from_secs(5)).connect().await {
        Ok(channel) => Ok(bearer.within(channel, connection.timeout)),
        Err(error) => {
            if let Some(cause) = gantry_worker::tls_failure(&error) {
                return Err(anyhow!("TLS with the Gantry server at {url} failed: {cause}"));
            }
            Err(anyhow::Error::new(error).context(format!("cannot reach the Gantry server at {url}")))
        }
    }
}

/// The map with the references the server sent in place of values too large for one response read, so that users
/// see values.
pub async fn read_references(client: &Admin, map: Option<pb::LiteralMap>) -> anyhow::Result<Option<pb::LiteralMap>> {
    let Some(map) = map else { return Ok(None) };
    let references = gantry_worker::References::from_authed(client.clone());
    Ok(Some(references.resolve_map(map).await?))
}

/// `error`, or, when a call failed at TLS (a TLS 1.3 server refuses a client certificate on the first call, after the
/// handshake), that TLS failure naming the server.
pub async fn name_tls_failure(error: anyhow::Error, connection: &Connection) -> anyhow::Error {
    let Some(rpc) = error.downcast_ref::<RpcError>() else {
        return error;
    };
    let url = connection.url();
    match gantry_worker::tls_refusal(&url, &connection.tls, &rpc.status).await {
        Some(cause) => anyhow!("TLS with the Gantry server at {url} failed: {cause}"),
        None => error,
    }
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
        // A server that refuses our certificate says so after the handshake, on the first call.
        if let Some(cause) = gantry_worker::tls_failure(&self.status) {
            return write!(f, "{}: TLS with the server failed: {cause}", self.doing);
        }
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

/// A failed lookup of `id`: when the server does not know it, what is registered instead.
async fn lookup_failed(
    client: &mut Admin,
    kind: ResourceKind,
    id: &Identifier,
    status: tonic::Status,
) -> anyhow::Error {
    if status.code() == tonic::Code::NotFound {
        return not_registered(client, kind, &id.project, &id.domain, &id.name, Some(&id.version)).await;
    }
    RpcError {
        doing: format!("fetching {kind} {id}"),
        status,
    }
    .into()
}

/// The registered task `id`.
pub async fn get_task(client: &mut Admin, id: &Identifier) -> anyhow::Result<TaskTemplate> {
    let request = pb::GetTaskRequest {
        id: Some(id.clone().into()),
    };
    match client.get_task(request).await {
        Ok(response) => Ok(gantry_proto::convert::required("task", response.into_inner().task)?),
        Err(status) => Err(lookup_failed(client, ResourceKind::Task, id, status).await),
    }
}

/// The registered workflow `id`.
pub async fn get_workflow(client: &mut Admin, id: &Identifier) -> anyhow::Result<WorkflowTemplate> {
    let request = pb::GetWorkflowRequest {
        id: Some(id.clone().into()),
    };
    match client.get_workflow(request).await {
        Ok(response) => Ok(gantry_proto::convert::required(
            "workflow",
            response.into_inner().workflow,
        )?),
        Err(status) => Err(lookup_failed(client, ResourceKind::Workflow, id, status).await),
    }
}

/// The registered launch plan `id`.
pub async fn get_launch_plan(client: &mut Admin, id: &Identifier) -> anyhow::Result<LaunchPlan> {
    let request = pb::GetLaunchPlanRequest {
        id: Some(id.clone().into()),
    };
    match client.get_launch_plan(request).await {
        Ok(response) => Ok(gantry_proto::convert::required(
            "launch_plan",
            response.into_inner().launch_plan,
        )?),
        Err(status) => Err(lookup_failed(client, ResourceKind::LaunchPlan, id, status).await),
    }
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

/// The ids registered under `project/domain` (only `name`'s versions when not empty), by name and version, at most
/// `limit`.
pub async fn list_registered(
    client: &mut Admin,
    kind: ResourceKind,
    project: &str,
    domain: &str,
    name: &str,
    limit: usize,
) -> anyhow::Result<Vec<Identifier>> {
    let doing = if name.is_empty() {
        format!("listing the {kind}s of {project}/{domain}")
    } else {
        format!("looking up the versions of {kind} {project}/{domain}/{name}")
    };
    let mut ids: Vec<pb::Identifier> = Vec::new();
    let mut page_token = String::new();
    while ids.len() < limit {
        let page_size = (limit - ids.len()).min(1000) as u32;
        let (project, domain, name) = (project.to_owned(), domain.to_owned(), name.to_owned());
        let (page, next) = match kind {
            ResourceKind::Task => {
                let request = pb::ListTasksRequest {
                    project,
                    domain,
                    name,
                    page_size,
                    page_token,
                };
                let page = client.list_tasks(request).await.rpc(doing.clone())?;
                (
                    page.tasks.into_iter().filter_map(|t| t.id).collect::<Vec<_>>(),
                    page.next_page_token,
                )
            }
            ResourceKind::Workflow => {
                let request = pb::ListWorkflowsRequest {
                    project,
                    domain,
                    name,
                    page_size,
                    page_token,
                };
                let page = client.list_workflows(request).await.rpc(doing.clone())?;
                (
                    page.workflows.into_iter().filter_map(|w| w.id).collect(),
                    page.next_page_token,
                )
            }
            ResourceKind::LaunchPlan => {
                let request = pb::ListLaunchPlansRequest {
                    project,
                    domain,
                    name,
                    page_size,
                    page_token,
                };
                let page = client.list_launch_plans(request).await.rpc(doing.clone())?;
                (
                    page.launch_plans.into_iter().filter_map(|l| l.id).collect(),
                    page.next_page_token,
                )
            }
        };
        ids.extend(page);
        page_token = next;
        if page_token.is_empty() {
            break;
        }
    }
    ids.truncate(limit);
    Ok(ids
        .into_iter()
        .map(|id| Identifier::new(id.project, id.domain, id.name, id.version))
        .collect())
}

/// How many registered names a "did you mean" looks through.
const SUGGESTION_SCAN: usize = 10_000;

/// The registered names closest to `wanted`, closest first: those within a few edits, or sharing a prefix.
pub fn suggestions<'a>(wanted: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(usize, &str)> = names
        .into_iter()
        .filter_map(|name| {
            let distance = strsim::damerau_levenshtein(wanted, name);
            let close = distance <= (wanted.chars().count() / 3).max(2)
                || (wanted.len() >= 3 && (name.starts_with(wanted) || wanted.starts_with(name)));
            close.then_some((distance, name))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, name)| name).collect()
}

/// The error for a `kind` named `name` (of `version`, when given) that is not registered: the registered versions
/// of that name, else the closest registered names ("did you mean"), else what is registered at all.
pub async fn not_registered(
    client: &mut Admin,
    kind: ResourceKind,
    project: &str,
    domain: &str,
    name: &str,
    version: Option<&str>,
) -> anyhow::Error {
    let scope = format!("{project}/{domain}");
    if let Some(version) = version {
        let versions = list_registered(client, kind, project, domain, name, 20)
            .await
            .unwrap_or_default();
        if !versions.is_empty() {
            let versions: Vec<&str> = versions.iter().map(|id| id.version.as_str()).collect();
            return anyhow!(
                "{kind} {scope}/{name} has no version {version:?}; registered versions, newest first: {}",
                versions.join(", ")
            );
        }
    }
    let registered = list_registered(client, kind, project, domain, "", SUGGESTION_SCAN)
        .await
        .unwrap_or_default();
    let mut names: Vec<&str> = registered.iter().map(|id| id.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let close = suggestions(name, names.iter().copied());
    let hint = if !close.is_empty() {
        format!("; did you mean {}?", close.join(" or "))
    } else if names.is_empty() {
        format!("; no {kind} is registered in {scope} (see --project, --domain and gantry register)")
    } else {
        let shown: Vec<&str> = names.iter().take(10).copied().collect();
        let more = if names.len() > shown.len() { ", ..." } else { "" };
        format!("; registered in {scope}: {}{more}", shown.join(", "))
    };
    anyhow!("no {kind} named {name:?} is registered in {scope}{hint}")
}

/// The version of `project/domain/name` registered last.
pub async fn latest_version(
    client: &mut Admin,
    kind: ResourceKind,
    project: &str,
    domain: &str,
    name: &str,
) -> anyhow::Result<String> {
    // A get without a version answers the version registered last.
    let id = Some(pb::Identifier {
        project: project.to_owned(),
        domain: domain.to_owned(),
        name: name.to_owned(),
        version: String::new(),
    });
    let found = match kind {
        ResourceKind::Task => client
            .get_task(pb::GetTaskRequest { id })
            .await
            .map(|r| r.into_inner().task.and_then(|t| t.id)),
        ResourceKind::Workflow => client
            .get_workflow(pb::GetWorkflowRequest { id })
            .await
            .map(|r| r.into_inner().workflow.and_then(|w| w.id)),
        ResourceKind::LaunchPlan => client
            .get_launch_plan(pb::GetLaunchPlanRequest { id })
            .await
            .map(|r| r.into_inner().launch_plan.and_then(|p| p.id)),
    };
    match found {
        Ok(Some(id)) => Ok(id.version),
        Ok(None) => Err(anyhow::anyhow!(
            "the server answered {kind} {project}/{domain}/{name} without its id"
        )),
        Err(status) if status.code() == tonic::Code::NotFound => {
            Err(not_registered(client, kind, project, domain, name, None).await)
        }
        Err(status) => Err(anyhow::Error::new(status).context(format!("looking up {kind} {project}/{domain}/{name}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_mean_http() {
        assert_eq!(endpoint_url("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(endpoint_url("https://gantry.example:443"), "https://gantry.example:443");
    }

    #[test]
    fn typos_find_the_registered_name() {
        let names = ["generate_others", "other_task", "choose_plan", "double_hundred"];
        assert_eq!(suggestions("generate_other", names), ["generate_others"]);
        assert_eq!(suggestions("othr_task", names), ["other_task"]);
        assert_eq!(suggestions("generate", names), ["generate_others"]);
        assert!(suggestions("zzz", names).is_empty());
    }
}
