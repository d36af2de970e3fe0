//! Small admin-client helpers shared by the end-to-end tests: register, run, read outputs and node trees.

use gantry_core::model::{Identifier, LaunchPlan, Literal, LiteralMap, WorkflowTemplate};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use tonic::transport::Channel;

use crate::raw_worker;

pub type Admin = AdminServiceClient<Channel>;

/// Registers every task the raw worker serves.
pub async fn register_raw_tasks(admin: &mut Admin) {
    for task in raw_worker::task_templates() {
        register_task(admin, task).await;
    }
}

pub async fn register_task(admin: &mut Admin, task: gantry_core::model::TaskTemplate) {
    let name = task.id.to_string();
    admin
        .register_task(pb::RegisterTaskRequest {
            task: Some(task.into()),
        })
        .await
        .unwrap_or_else(|status| panic!("register task {name}: {status}"));
}

pub async fn register_workflow(admin: &mut Admin, workflow: WorkflowTemplate) {
    let name = workflow.id.to_string();
    admin
        .register_workflow(pb::RegisterWorkflowRequest {
            workflow: Some(workflow.into()),
        })
        .await
        .unwrap_or_else(|status| panic!("register workflow {name}: {status}"));
}

pub async fn register_launch_plan(admin: &mut Admin, plan: LaunchPlan) {
    let name = plan.id.to_string();
    admin
        .register_launch_plan(pb::RegisterLaunchPlanRequest {
            launch_plan: Some(plan.into()),
        })
        .await
        .unwrap_or_else(|status| panic!("register launch plan {name}: {status}"));
}

/// A request to run the raw worker's task `task` on input `index` in `demo/dev`, named `name` (empty: the server
/// names it); for tests that expect it refused, or change it before sending.
pub fn task_request(name: &str, task: &str, index: Literal) -> pb::CreateExecutionRequest {
    pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        name: name.into(),
        target: Some(task_target(raw_worker::id(task))),
        inputs: Some(LiteralMap::from([("index".to_owned(), index)]).into()),
        ..Default::default()
    }
}

/// Creates an execution in `demo/dev` and returns it.
pub async fn create(
    admin: &mut Admin,
    target: pb::create_execution_request::Target,
    inputs: LiteralMap,
    configure: impl FnOnce(&mut pb::CreateExecutionRequest),
) -> pb::Execution {
    let mut request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(target),
        inputs: Some(inputs.into()),
        ..Default::default()
    };
    configure(&mut request);
    submit(admin, request).await
}

/// Sends a prepared `CreateExecution` (from [`task_request`] or built by the test) and returns the execution.
pub async fn submit(admin: &mut Admin, request: pb::CreateExecutionRequest) -> pb::Execution {
    admin
        .create_execution(request)
        .await
        .unwrap_or_else(|status| panic!("create execution: {status}"))
        .into_inner()
        .execution
        .expect("execution")
}

pub fn workflow_target(id: Identifier) -> pb::create_execution_request::Target {
    pb::create_execution_request::Target::Workflow(id.into())
}

pub fn task_target(id: Identifier) -> pb::create_execution_request::Target {
    pb::create_execution_request::Target::Task(id.into())
}

pub async fn execution(admin: &mut Admin, id: &str) -> pb::Execution {
    admin
        .get_execution(pb::GetExecutionRequest {
            id: id.to_owned(),
            ..Default::default()
        })
        .await
        .expect("get execution")
        .into_inner()
        .execution
        .expect("execution")
}

/// The execution's outputs.
pub async fn outputs(admin: &mut Admin, id: &str) -> LiteralMap {
    admin
        .get_execution_data(pb::GetExecutionDataRequest {
            id: id.to_owned(),
            ..Default::default()
        })
        .await
        .expect("execution data")
        .into_inner()
        .outputs
        .expect("outputs")
        .try_into()
        .expect("outputs convert")
}

/// Runs `target` on `inputs` to its end, which must be a success (the error is shown otherwise): its outputs.
pub async fn run_to_success(
    admin: &mut Admin,
    target: pb::create_execution_request::Target,
    inputs: LiteralMap,
) -> LiteralMap {
    let created = create(admin, target, inputs, |_| {}).await;
    let execution = crate::wait_for_terminal(admin, &created.id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    outputs(admin, &execution.id).await
}

/// The task registered under `id`, as `GetTask` returns it.
pub async fn task(admin: &mut Admin, id: Identifier) -> Option<pb::TaskTemplate> {
    admin
        .get_task(pb::GetTaskRequest { id: Some(id.into()) })
        .await
        .expect("get task")
        .into_inner()
        .task
}

/// The children of `parent` (empty: the top-level nodes), in order.
pub async fn children(admin: &mut Admin, execution_id: &str, parent: &str) -> Vec<pb::NodeExecution> {
    admin
        .list_node_executions(pb::ListNodeExecutionsRequest {
            execution_id: execution_id.to_owned(),
            parent_node_id: parent.to_owned(),
            ..Default::default()
        })
        .await
        .expect("list nodes")
        .into_inner()
        .node_executions
}

pub async fn node(admin: &mut Admin, execution_id: &str, node_id: &str) -> pb::NodeExecution {
    admin
        .get_node_execution(pb::GetNodeExecutionRequest {
            execution_id: execution_id.to_owned(),
            node_id: node_id.to_owned(),
        })
        .await
        .unwrap_or_else(|status| panic!("get node {node_id}: {status}"))
        .into_inner()
        .node_execution
        .expect("node")
}

pub async fn attempts(admin: &mut Admin, execution_id: &str, node_id: &str) -> Vec<pb::TaskAttempt> {
    admin
        .list_task_attempts(pb::ListTaskAttemptsRequest {
            execution_id: execution_id.to_owned(),
            node_id: node_id.to_owned(),
        })
        .await
        .expect("list attempts")
        .into_inner()
        .attempts
}

/// A node phase's name without its prefix: `SUCCEEDED`.
pub fn phase_name(phase: i32) -> String {
    pb::NodePhase::try_from(phase).map_or_else(
        |_| phase.to_string(),
        |p| p.as_str_name().trim_start_matches("NODE_PHASE_").to_owned(),
    )
}
