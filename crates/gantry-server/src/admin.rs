//! The admin service: registrations, executions, node executions, attempts, watch and terminate. Handlers decode and
//! validate (`TryFrom` from the wire), call the engine (its typed reads for reads), and map the result; nothing else.
//! The mutating ones run in `audit::Audit::record`, which writes their audit entry before they are answered (their
//! bodies are the `*_call` methods below), and a watch holds one of its principal's watch slots while it streams.

use std::pin::Pin;

use gantry_core::model::{
    Identifier, LaunchPlan, LiteralMap, ResourceKind, TaskTemplate, WorkflowTemplate, references,
};
use gantry_core::names;
use gantry_engine::{
    CreateExecution, Engine, ExecutionRecord, NodeRecord, Page, PutOutcome, Registration, Target, Template,
};
use gantry_proto::convert::{decode_enum, required};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_server::AdminService;
use prost::Message;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use std::sync::Arc;

mod schedules;
mod signals;

use crate::audit::{self, Audit, Audited};
use crate::auth::rules::Access;
use crate::data::{self, mode};
use crate::edge;
use crate::fair_use::FairUseState;
use crate::listing;
use crate::paging::{fit, page};
use crate::projects::Projects;
use crate::records;
use crate::status::{IntoStatus, parse_id};
use crate::watch;

/// The admin service over an engine.
#[derive(Debug, Clone)]
pub struct AdminApi {
    engine: Engine,
    audit: Audit,
    fair_use: FairUseState,
    projects: Arc<Projects>,
}

impl AdminApi {
    pub fn new(engine: Engine, fair_use: FairUseState, projects: Arc<Projects>) -> Self {
        AdminApi {
            audit: Audit::new(engine.clone()),
            engine,
            fair_use,
            projects,
        }
    }
}

async fn get_resource<T: Template, P: Message + From<T>>(
    api: &AdminApi,
    access: &Access,
    (kind, id): (&str, Option<pb::Identifier>),
) -> Result<P, Status> {
    let id = match id {
        Some(wire) if wire.version.is_empty() => Some(newest(api, access, kind, wire, T::kind()).await?),
        other => other,
    };
    let id: Identifier = required("id", id)?;
    // Another project's resource is answered as one that is not registered, in the engine's words.
    access.sees(&id.project, || {
        Status::not_found(format!("{kind} {id} is not registered"))
    })?;
    let template: T = api.engine.get_template(&id).await.or_status()?;
    Ok(P::from(template))
}

/// `wire` with the version registered last of its name, for a get without a version.
async fn newest(
    api: &AdminApi,
    access: &Access,
    what: &str,
    mut wire: pb::Identifier,
    kind: ResourceKind,
) -> Result<pb::Identifier, Status> {
    edge::project_or_domain("id.project", &wire.project)?;
    edge::project_or_domain("id.domain", &wire.domain)?;
    edge::required("id.name", &wire.name)?;
    edge::optional_name("id.name", &wire.name, names::RESOURCE_NAME)?;
    let named = format!("{}/{}/{}", wire.project, wire.domain, wire.name);
    let not_found = || Status::not_found(format!("no version of {what} {named} is registered"));
    access.sees(&wire.project, not_found)?;
    let latest = (wire.project.as_str(), wire.domain.as_str(), wire.name.as_str());
    wire.version = api
        .engine
        .latest_version(kind, latest)
        .await
        .or_status()?
        .ok_or_else(not_found)?;
    Ok(wire)
}

async fn list_resources<T: Template, P: Message + From<T>>(
    api: &AdminApi,
    access: &Access,
    (project, domain, name): (String, String, String),
    (size, token): (u32, String),
) -> Result<(Vec<P>, String), Status> {
    edge::project_or_domain("project", &project)?;
    edge::project_or_domain("domain", &domain)?;
    edge::optional_name("name", &name, names::RESOURCE_NAME)?;
    let page = page(size, token)?;
    if !access.lists(&project) {
        return Ok((Vec::new(), String::new()));
    }
    let name = (!name.is_empty()).then_some(name.as_str());
    let listed = api
        .engine
        .list_templates::<T>((&project, &domain), name, &page)
        .await
        .or_status()?;
    let rows = listed.len();
    let last = listed.last().map(|l| l.key.clone());
    let items = listed.into_iter().map(|l| (l.key, P::from(l.template))).collect();
    Ok(fit(items, api.budget(), (rows, page.limit, last)))
}

async fn register(api: &AdminApi, access: &Access, registration: Registration) -> Result<bool, Status> {
    let id = match &registration {
        Registration::Task(task) => &task.id,
        Registration::Workflow(workflow) => &workflow.id,
        Registration::LaunchPlan(plan) => &plan.id,
    };
    access.in_project(&id.project)?;
    api.projects.admit(&id.project, &id.domain).await?;
    match &registration {
        Registration::Task(_) => {}
        Registration::Workflow(workflow) => {
            for (kind, id) in references(&workflow.nodes) {
                visible(access, kind, &id)?;
            }
        }
        Registration::LaunchPlan(plan) => visible(access, plan.target_kind, &plan.target)?,
    }
    let outcome = api.engine.register(registration).await.or_status()?;
    Ok(outcome == PutOutcome::Created)
}

/// A template a request names (a target, a workflow's reference): NOT_FOUND in the words of one not registered unless
/// the caller may read its project, so that no caller uses or learns another project's templates through its own.
fn visible(access: &Access, kind: ResourceKind, id: &Identifier) -> Result<(), Status> {
    access.reads(&id.project, || {
        Status::not_found(format!("{kind} {id} is not registered"))
    })
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchExecutionResponse, Status>> + Send>>;

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn register_task(
        &self,
        request: Request<pb::RegisterTaskRequest>,
    ) -> Result<Response<pb::RegisterTaskResponse>, Status> {
        let access = Access::of(&request);
        let audited = Audited::register_task(audit::principal(&request), request.get_ref());
        let result = async {
            let task: TaskTemplate = required("task", request.into_inner().task)?;
            let created = register(self, &access, Registration::Task(task)).await?;
            Ok(Response::new(pb::RegisterTaskResponse { created }))
        };
        self.audit.record(audited, result.await, |_, _| {}).await
    }

    async fn get_task(&self, request: Request<pb::GetTaskRequest>) -> Result<Response<pb::GetTaskResponse>, Status> {
        let access = Access::of(&request);
        let task =
            get_resource::<TaskTemplate, pb::TaskTemplate>(self, &access, ("task", request.into_inner().id)).await?;
        Ok(Response::new(pb::GetTaskResponse { task: Some(task) }))
    }

    async fn list_tasks(
        &self,
        request: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let (tasks, next_page_token) = list_resources::<TaskTemplate, _>(
            self,
            &access,
            (r.project, r.domain, r.name),
            (r.page_size, r.page_token),
        )
        .await?;
        Ok(Response::new(pb::ListTasksResponse { tasks, next_page_token }))
    }

    async fn register_workflow(
        &self,
        request: Request<pb::RegisterWorkflowRequest>,
    ) -> Result<Response<pb::RegisterWorkflowResponse>, Status> {
        let access = Access::of(&request);
        let audited = Audited::register_workflow(audit::principal(&request), request.get_ref());
        let result = async {
            let workflow: WorkflowTemplate = required("workflow", request.into_inner().workflow)?;
            let limit = self.engine.config().limits.spec_nodes;
            if workflow.nodes.len() as u64 > limit {
                return Err(Status::resource_exhausted(format!(
                    "workflow.nodes: {} given, over the limit of {limit}",
                    workflow.nodes.len()
                )));
            }
            let created = register(self, &access, Registration::Workflow(workflow)).await?;
            Ok(Response::new(pb::RegisterWorkflowResponse { created }))
        };
        self.audit.record(audited, result.await, |_, _| {}).await
    }

    async fn get_workflow(
        &self,
        request: Request<pb::GetWorkflowRequest>,
    ) -> Result<Response<pb::GetWorkflowResponse>, Status> {
        let access = Access::of(&request);
        let workflow = get_resource::<WorkflowTemplate, pb::WorkflowTemplate>(
            self,
            &access,
            ("workflow", request.into_inner().id),
        )
        .await?;
        Ok(Response::new(pb::GetWorkflowResponse {
            workflow: Some(workflow),
        }))
    }

    async fn list_workflows(
        &self,
        request: Request<pb::ListWorkflowsRequest>,
    ) -> Result<Response<pb::ListWorkflowsResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let (workflows, next_page_token) = list_resources::<WorkflowTemplate, _>(
            self,
            &access,
            (r.project, r.domain, r.name),
            (r.page_size, r.page_token),
        )
        .await?;
        Ok(Response::new(pb::ListWorkflowsResponse {
            workflows,
            next_page_token,
        }))
    }

    async fn register_launch_plan(
        &self,
        request: Request<pb::RegisterLaunchPlanRequest>,
    ) -> Result<Response<pb::RegisterLaunchPlanResponse>, Status> {
        let access = Access::of(&request);
        let audited = Audited::register_launch_plan(audit::principal(&request), request.get_ref());
        let result = async {
            let plan: LaunchPlan = required("launch_plan", request.into_inner().launch_plan)?;
            let created = register(self, &access, Registration::LaunchPlan(plan)).await?;
            Ok(Response::new(pb::RegisterLaunchPlanResponse { created }))
        };
        self.audit.record(audited, result.await, |_, _| {}).await
    }

    async fn get_launch_plan(
        &self,
        request: Request<pb::GetLaunchPlanRequest>,
    ) -> Result<Response<pb::GetLaunchPlanResponse>, Status> {
        let access = Access::of(&request);
        let plan =
            get_resource::<LaunchPlan, pb::LaunchPlan>(self, &access, ("launch plan", request.into_inner().id)).await?;
        Ok(Response::new(pb::GetLaunchPlanResponse {
            launch_plan: Some(plan),
        }))
    }

    async fn list_launch_plans(
        &self,
        request: Request<pb::ListLaunchPlansRequest>,
    ) -> Result<Response<pb::ListLaunchPlansResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let (launch_plans, next_page_token) = list_resources::<LaunchPlan, _>(
            self,
            &access,
            (r.project, r.domain, r.name),
            (r.page_size, r.page_token),
        )
        .await?;
        Ok(Response::new(pb::ListLaunchPlansResponse {
            launch_plans,
            next_page_token,
        }))
    }

    async fn create_execution(
        &self,
        request: Request<pb::CreateExecutionRequest>,
    ) -> Result<Response<pb::CreateExecutionResponse>, Status> {
        let access = Access::of(&request);
        let audited = Audited::create_execution(audit::principal(&request), request.get_ref());
        let (span, trace_context) = crate::tracing_context::submission_span(request.metadata());
        let result = self
            .create_execution_call(&access, request.into_inner(), trace_context)
            .instrument(span.clone())
            .await;
        if let Ok(response) = &result
            && let Some(execution) = &response.get_ref().execution
        {
            span.record("execution_id", execution.id.as_str());
        }
        let learned = |response: &pb::CreateExecutionResponse, audited: &mut Audited| {
            audited.execution(response.execution.as_ref(), response.created, true);
        };
        self.audit.record(audited, result, learned).instrument(span).await
    }

    async fn get_execution(
        &self,
        request: Request<pb::GetExecutionRequest>,
    ) -> Result<Response<pb::GetExecutionResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let execution = self.find_execution(&access, &r.id).await?;
        Ok(Response::new(pb::GetExecutionResponse {
            execution: Some(data::execution(&self.engine, &execution, mode(r.references)).await?),
        }))
    }

    async fn list_executions(
        &self,
        request: Request<pb::ListExecutionsRequest>,
    ) -> Result<Response<pb::ListExecutionsResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let filter = listing::execution_filter(&r)?;
        let page = page(r.page_size, r.page_token)?;
        if !access.lists(filter.project.as_deref().unwrap_or_default()) {
            return Ok(Response::new(pb::ListExecutionsResponse::default()));
        }
        let listed = self.engine.list_executions(&filter, &page).await.or_status()?;
        let last = listed.last().map(|execution| execution.id.to_string());
        let executions = listed
            .iter()
            .map(|execution| (execution.id.to_string(), records::execution(execution)))
            .collect();
        let (executions, next_page_token) = fit(executions, self.budget(), (listed.len(), page.limit, last));
        Ok(Response::new(pb::ListExecutionsResponse {
            executions,
            next_page_token,
        }))
    }

    async fn get_execution_data(
        &self,
        request: Request<pb::GetExecutionDataRequest>,
    ) -> Result<Response<pb::GetExecutionDataResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let execution = self.find_execution(&access, &r.id).await?;
        let response = data::execution_data(&self.engine, &execution, mode(r.references)).await?;
        Ok(Response::new(response))
    }

    async fn list_node_executions(
        &self,
        request: Request<pb::ListNodeExecutionsRequest>,
    ) -> Result<Response<pb::ListNodeExecutionsResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let execution_id = parse_id("execution_id", &r.execution_id)?;
        let page = page(r.page_size, r.page_token)?;
        self.find_execution(&access, &r.execution_id).await?;
        if !r.parent_node_id.is_empty() {
            self.find_node_of(&access, "parent_node_id", &r.execution_id, &r.parent_node_id)
                .await?;
        }
        let phases = r
            .phases
            .iter()
            .enumerate()
            .map(|(i, raw)| decode_enum::<pb::NodePhase, gantry_core::state::NodePhase>(&format!("phases[{i}]"), *raw))
            .collect::<Result<Vec<_>, _>>()?;
        if r.all_depths {
            return self
                .list_descendants(&access, execution_id, &r.parent_node_id, &phases, page)
                .await;
        }
        let listed = self
            .engine
            .list_nodes(execution_id, &r.parent_node_id, &page)
            .await
            .or_status()?;
        let last = listed.last().map(|node| node.position.to_string());
        let node_executions = listed
            .iter()
            .filter(|node| phases.is_empty() || phases.contains(&node.phase))
            .map(|node| (node.position.to_string(), records::node(node)))
            .collect();
        let (node_executions, next_page_token) = fit(node_executions, self.budget(), (listed.len(), page.limit, last));
        Ok(Response::new(pb::ListNodeExecutionsResponse {
            node_executions,
            next_page_token,
        }))
    }

    async fn get_node_execution(
        &self,
        request: Request<pb::GetNodeExecutionRequest>,
    ) -> Result<Response<pb::GetNodeExecutionResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let node = self.find_node(&access, &r.execution_id, &r.node_id).await?;
        Ok(Response::new(pb::GetNodeExecutionResponse {
            node_execution: Some(records::node(&node)),
        }))
    }

    async fn get_node_execution_data(
        &self,
        request: Request<pb::GetNodeExecutionDataRequest>,
    ) -> Result<Response<pb::GetNodeExecutionDataResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let node = self.find_node(&access, &r.execution_id, &r.node_id).await?;
        let response = data::node_data(&self.engine, &node, mode(r.references)).await?;
        Ok(Response::new(response))
    }

    async fn list_task_attempts(
        &self,
        request: Request<pb::ListTaskAttemptsRequest>,
    ) -> Result<Response<pb::ListTaskAttemptsResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let node = self.find_node(&access, &r.execution_id, &r.node_id).await?;
        let listed = self
            .engine
            .list_attempts(node.execution_id, &node.node_id)
            .await
            .or_status()?;
        let attempts = listed.iter().map(records::attempt).collect();
        Ok(Response::new(pb::ListTaskAttemptsResponse { attempts }))
    }

    type WatchExecutionStream = WatchStream;

    async fn watch_execution(
        &self,
        request: Request<pb::WatchExecutionRequest>,
    ) -> Result<Response<Self::WatchExecutionStream>, Status> {
        let access = Access::of(&request);
        let principal = access.caller.principal.clone();
        let r = request.into_inner();
        if r.include_snapshot && r.after_sequence != 0 {
            return Err(Status::invalid_argument(
                "include_snapshot and after_sequence are mutually exclusive",
            ));
        }
        if r.after_sequence != 0 {
            return Err(Status::out_of_range(
                "resuming after a sequence is not supported; watch with a snapshot",
            ));
        }
        let execution = self.find_execution(&access, &r.execution_id).await?;
        let slot = self.fair_use.watches.take(&principal)?;
        let stream = watch::stream(self.engine.clone(), execution, r.include_snapshot);
        Ok(Response::new(Box::pin(watch::holding(stream, slot))))
    }

    async fn terminate_execution(
        &self,
        request: Request<pb::TerminateExecutionRequest>,
    ) -> Result<Response<pb::TerminateExecutionResponse>, Status> {
        let access = Access::of(&request);
        let audited = Audited::terminate(audit::principal(&request), request.get_ref());
        let result = async {
            let r = request.into_inner();
            let id = parse_id("id", &r.id)?;
            self.find_execution(&access, &r.id).await?;
            let reason = if r.reason.is_empty() {
                "terminated by request".to_owned()
            } else {
                edge::capped_message(r.reason)
            };
            let execution = self.engine.terminate(id, reason).await.or_status()?;
            Ok(Response::new(pb::TerminateExecutionResponse {
                execution: Some(data::execution(&self.engine, &execution, mode(false)).await?),
            }))
        };
        let learned = |response: &pb::TerminateExecutionResponse, audited: &mut Audited| {
            audited.execution(response.execution.as_ref(), true, true);
        };
        self.audit.record(audited, result.await, learned).await
    }

    async fn relaunch_execution(
        &self,
        request: Request<pb::RelaunchExecutionRequest>,
    ) -> Result<Response<pb::RelaunchExecutionResponse>, Status> {
        let access = Access::of(&request);
        let r = request.get_ref();
        let audited = Audited::rerun(audit::principal(&request), (&r.id, &r.name, r.overwrite_cache), false);
        let result = async {
            let r = request.into_inner();
            let (execution, created) = self.rerun(&access, &r.id, r.name, r.overwrite_cache, false).await?;
            Ok(Response::new(pb::RelaunchExecutionResponse {
                execution: Some(execution),
                created,
            }))
        };
        let learned = |response: &pb::RelaunchExecutionResponse, audited: &mut Audited| {
            audited.execution(response.execution.as_ref(), response.created, false);
        };
        self.audit.record(audited, result.await, learned).await
    }

    async fn recover_execution(
        &self,
        request: Request<pb::RecoverExecutionRequest>,
    ) -> Result<Response<pb::RecoverExecutionResponse>, Status> {
        let access = Access::of(&request);
        let r = request.get_ref();
        let audited = Audited::rerun(audit::principal(&request), (&r.id, &r.name, false), true);
        let result = async {
            let r = request.into_inner();
            let (execution, created) = self.rerun(&access, &r.id, r.name, false, true).await?;
            Ok(Response::new(pb::RecoverExecutionResponse {
                execution: Some(execution),
                created,
            }))
        };
        let learned = |response: &pb::RecoverExecutionResponse, audited: &mut Audited| {
            audited.execution(response.execution.as_ref(), response.created, false);
        };
        self.audit.record(audited, result.await, learned).await
    }

    async fn list_signals(
        &self,
        request: Request<pb::ListSignalsRequest>,
    ) -> Result<Response<pb::ListSignalsResponse>, Status> {
        self.list_signals_of(request).await
    }

    async fn set_signal(
        &self,
        request: Request<pb::SetSignalRequest>,
    ) -> Result<Response<pb::SetSignalResponse>, Status> {
        self.set_signal_of(request).await
    }

    async fn list_schedules(
        &self,
        request: Request<pb::ListSchedulesRequest>,
    ) -> Result<Response<pb::ListSchedulesResponse>, Status> {
        self.list_schedules_of(request).await
    }

    async fn activate_schedule(
        &self,
        request: Request<pb::ActivateScheduleRequest>,
    ) -> Result<Response<pb::ActivateScheduleResponse>, Status> {
        self.activate_schedule_of(request).await
    }

    async fn deactivate_schedule(
        &self,
        request: Request<pb::DeactivateScheduleRequest>,
    ) -> Result<Response<pb::DeactivateScheduleResponse>, Status> {
        self.deactivate_schedule_of(request).await
    }

    type ReadOffloadedStream = data::ChunkStream;

    async fn read_offloaded(
        &self,
        request: Request<pb::ReadOffloadedRequest>,
    ) -> Result<Response<Self::ReadOffloadedStream>, Status> {
        let access = Access::of(&request);
        let uri = request.into_inner().uri;
        edge::required("uri", &uri)?;
        if let Some(execution_id) = referenced_execution(&uri) {
            // As for a reference that does not exist, in the engine's words.
            let not_found = || Status::not_found(format!("no such reference: {}", names::quote(&uri)));
            match self.engine.get_execution(execution_id).await.or_status()? {
                Some(execution) => access.sees(&execution.project, not_found)?,
                None => return Err(not_found()),
            }
        }
        let reader = self.engine.open_reference(&uri).await.or_status()?;
        Ok(Response::new(data::chunks(reader)))
    }
}

impl AdminApi {
    /// CreateExecution, without its audit entry.
    async fn create_execution_call(
        &self,
        access: &Access,
        r: pb::CreateExecutionRequest,
        trace_context: Option<gantry_telemetry::TraceContext>,
    ) -> Result<Response<pb::CreateExecutionResponse>, Status> {
        edge::project_or_domain("project", &r.project)?;
        edge::project_or_domain("domain", &r.domain)?;
        edge::optional_name("name", &r.name, names::EXECUTION_NAME)?;
        access.in_project(&r.project)?;
        self.projects.admit(&r.project, &r.domain).await?;
        let target = match r.target {
            Some(pb::create_execution_request::Target::Task(id)) => Target::Task(required("task", Some(id))?),
            Some(pb::create_execution_request::Target::Workflow(id)) => {
                Target::Workflow(required("workflow", Some(id))?)
            }
            Some(pb::create_execution_request::Target::LaunchPlan(id)) => {
                Target::LaunchPlan(required("launch_plan", Some(id))?)
            }
            None => {
                return Err(Status::invalid_argument(
                    "target is required: a task, workflow or launch plan",
                ));
            }
        };
        let (kind, id) = match &target {
            Target::Task(id) => (ResourceKind::Task, id),
            Target::Workflow(id) => (ResourceKind::Workflow, id),
            Target::LaunchPlan(id) => (ResourceKind::LaunchPlan, id),
        };
        visible(access, kind, id)?;
        let inputs: LiteralMap = match r.inputs {
            Some(inputs) => required("inputs", Some(inputs))?,
            None => LiteralMap::new(),
        };
        let request = CreateExecution {
            project: r.project,
            domain: r.domain,
            name: (!r.name.is_empty()).then_some(r.name),
            target,
            inputs,
            max_parallelism: r.max_parallelism,
            overwrite_cache: r.overwrite_cache,
            origin: Default::default(),
            timeout: gantry_proto::convert::timeout_from_pb("timeout", r.timeout)?,
            trace_context,
        };
        let (execution, created) = self.engine.create_execution(request).await.or_status()?;
        Ok(Response::new(pb::CreateExecutionResponse {
            execution: Some(data::execution(&self.engine, &execution, mode(false)).await?),
            created,
        }))
    }

    /// What one response may carry, for cutting list pages.
    fn budget(&self) -> u64 {
        self.engine.config().limits.response_bytes
    }

    /// Relaunches (or, with `recover`, recovers) the execution `id` under `name` (empty: a generated one): the new
    /// execution, and whether this call created it.
    async fn rerun(
        &self,
        access: &Access,
        id: &str,
        name: String,
        overwrite_cache: bool,
        recover: bool,
    ) -> Result<(pb::Execution, bool), Status> {
        let uuid = parse_id("id", id)?;
        edge::optional_name("name", &name, names::EXECUTION_NAME)?;
        let execution = self.find_execution(access, id).await?;
        self.projects.admit(&execution.project, &execution.domain).await?;
        let name = (!name.is_empty()).then_some(name);
        let (execution, created) = self
            .engine
            .rerun(uuid, name, overwrite_cache, recover)
            .await
            .or_status()?;
        Ok((data::execution(&self.engine, &execution, mode(false)).await?, created))
    }

    /// The execution `id`: NOT_FOUND when it does not exist, and, in the same words, when the caller may not see it
    /// (PERMISSION_DENIED when it may see it but not do what it asks).
    async fn find_execution(&self, access: &Access, id: &str) -> Result<ExecutionRecord, Status> {
        let uuid = parse_id("id", id)?;
        let not_found = || Status::not_found(format!("execution {id} not found"));
        let execution = self.engine.get_execution(uuid).await.or_status()?;
        let execution = execution.ok_or_else(not_found)?;
        access.on_execution(&execution.project, not_found)?;
        Ok(execution)
    }

    /// `ListNodeExecutions` with `all_depths`: every node below `parent` in one of `phases`, by node id; the page
    /// token is the last node id listed.
    async fn list_descendants(
        &self,
        access: &Access,
        execution_id: uuid::Uuid,
        parent: &str,
        phases: &[gantry_core::state::NodePhase],
        page: Page,
    ) -> Result<Response<pb::ListNodeExecutionsResponse>, Status> {
        if !parent.is_empty() {
            self.find_node(access, &execution_id.to_string(), parent).await?;
        }
        if let Some(after) = &page.after
            && gantry_core::ids::NodeExecutionId::parse(after).is_err()
        {
            return Err(Status::invalid_argument(
                "page_token: not a token of this listing (all_depths)",
            ));
        }
        let listed = self
            .engine
            .list_descendants(execution_id, parent, phases, &page)
            .await
            .or_status()?;
        let last = listed.last().map(|node| node.node_id.clone());
        let node_executions = listed
            .iter()
            .map(|node| (node.node_id.clone(), records::node(node)))
            .collect();
        let (node_executions, next_page_token) = fit(node_executions, self.budget(), (listed.len(), page.limit, last));
        Ok(Response::new(pb::ListNodeExecutionsResponse {
            node_executions,
            next_page_token,
        }))
    }

    async fn find_node(&self, access: &Access, execution_id: &str, node_id: &str) -> Result<NodeRecord, Status> {
        self.find_node_of(access, "node_id", execution_id, node_id).await
    }

    /// The node `node_id` (given in `field`) of an execution: INVALID_ARGUMENT for a malformed id, NOT_FOUND when
    /// the execution or the node does not exist.
    async fn find_node_of(
        &self,
        access: &Access,
        field: &str,
        execution_id: &str,
        node_id: &str,
    ) -> Result<NodeRecord, Status> {
        let uuid = parse_id("execution_id", execution_id)?;
        edge::node_id(field, node_id)?;
        self.find_execution(access, execution_id).await?;
        let node = self.engine.get_node(uuid, node_id).await.or_status()?;
        node.ok_or_else(|| {
            Status::not_found(format!(
                "node {} not found in execution {execution_id}",
                names::quote(node_id)
            ))
        })
    }
}

/// The execution a `gantry:` reference names (`...?execution=ID&...`); `None` for blob references, whose keys are
/// their contents' hashes.
fn referenced_execution(uri: &str) -> Option<uuid::Uuid> {
    let (_, query) = uri.strip_prefix("gantry:")?.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("execution="))
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
}
