//! Authorization, every RPC by every kind of caller: the methods come from the service descriptors the server
//! publishes (`gantry_proto::FILE_DESCRIPTOR_SET`), so a new RPC fails this test until it has a row here. Each is
//! called by an admin, an operator, a viewer and a worker of project `alpha`, on `alpha`'s resources and on `beta`'s,
//! and with no token, a malformed token, a wrong secret, an expired key and a revoked key. Who may do what is written
//! here independently of the server's table (`crates/gantry-server/src/auth/rules.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use gantry_core::model::{
    Binding, FailurePolicy, Identifier, LaunchPlan, Literal, LiteralMap, LiteralType, Node, ResourceKind,
    TypedInterface, WorkflowTemplate,
};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_tests::Backend;
use gantry_tests::auth::{AuthServer, bearer, raw_call};
use gantry_worker::TaskDef;
use prost::Message;
use tonic::Code;

const PROJECTS: [&str; 2] = ["alpha", "beta"];

/// What a method needs, as the protos document it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Admins only (keys, project administration).
    Admin,
    /// An operator of the project a request names (PERMISSION_DENIED elsewhere).
    OperateNamed,
    /// An operator of the execution's project (NOT_FOUND where it cannot see it).
    OperateExecution,
    /// A reader of the named resource's project (NOT_FOUND elsewhere).
    ReadNamed,
    /// A reader of the execution's project (NOT_FOUND elsewhere).
    ReadExecution,
    /// A reader; a listing of another project is empty.
    ReadListing,
    /// A worker (or operator); claims are the project's only.
    Work,
    /// A reader or a worker of the execution's project.
    ReadOrWorkExecution,
    /// A reader or a worker of the named project (NOT_FOUND elsewhere).
    ReadOrWorkNamed,
    /// A reader or a worker; a listing shows only its projects.
    ReadOrWorkListing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Admin,
    Operator,
    Viewer,
    Worker,
}

/// What a call must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Authorization passed: anything but UNAUTHENTICATED, PERMISSION_DENIED and NOT_FOUND (the world's resources
    /// exist; a malformed-but-authorized request may be INVALID_ARGUMENT or FAILED_PRECONDITION).
    Allowed,
    Refused(Code),
}

fn expect(needs: Needs, role: Role, own: bool) -> Expect {
    use Expect::{Allowed, Refused};
    let reader = matches!(role, Role::Operator | Role::Viewer);
    let worker = matches!(role, Role::Operator | Role::Worker);
    if role == Role::Admin {
        return Allowed;
    }
    match needs {
        Needs::Admin => Refused(Code::PermissionDenied),
        Needs::OperateNamed if role == Role::Operator => match own {
            true => Allowed,
            false => Refused(Code::PermissionDenied),
        },
        Needs::OperateExecution if role == Role::Operator => match own {
            true => Allowed,
            false => Refused(Code::NotFound),
        },
        Needs::OperateNamed | Needs::OperateExecution => Refused(Code::PermissionDenied),
        Needs::ReadNamed | Needs::ReadExecution if reader => match own {
            true => Allowed,
            false => Refused(Code::NotFound),
        },
        Needs::ReadListing if reader => Allowed,
        Needs::ReadNamed | Needs::ReadExecution | Needs::ReadListing => Refused(Code::PermissionDenied),
        Needs::Work if worker => Allowed,
        Needs::Work => Refused(Code::PermissionDenied),
        Needs::ReadOrWorkExecution | Needs::ReadOrWorkNamed => match own {
            true => Allowed,
            false => Refused(Code::NotFound),
        },
        Needs::ReadOrWorkListing => Allowed,
    }
}

/// The resources of one project the requests name.
#[derive(Debug, Clone)]
struct Resources {
    project: String,
    execution_id: String,
}

fn id(project: &str, name: &str) -> Identifier {
    Identifier::new(project, "dev", name, "1")
}

fn task_def(project: &str) -> TaskDef {
    TaskDef::new(project, "dev", "t", "1")
        .input("x", LiteralType::Integer)
        .output("y", LiteralType::Integer)
        .queue("authq")
}

fn workflow(project: &str, name: &str) -> WorkflowTemplate {
    WorkflowTemplate {
        id: id(project, name),
        interface: TypedInterface::default(),
        nodes: vec![Node::task(
            "n0",
            id(project, "t"),
            vec![Binding::literal("x", Literal::Integer(1))],
        )],
        outputs: Vec::new(),
        failure_policy: FailurePolicy::FailImmediately,
    }
}

fn launch_plan(project: &str, name: &str) -> LaunchPlan {
    LaunchPlan {
        id: id(project, name),
        target: id(project, "t"),
        target_kind: ResourceKind::Task,
        default_inputs: LiteralMap::from([("x".to_owned(), Literal::Integer(1))]),
        fixed_inputs: LiteralMap::new(),
        max_parallelism: None,
        timeout: None,
        schedule: None,
    }
}

/// Registers a task, a workflow and a launch plan in each project and starts an execution of the task.
async fn world(server: &AuthServer) -> BTreeMap<&'static str, Resources> {
    let token = Some(server.admin_token.as_str());
    let mut admin = AdminServiceClient::new(server.channel().await);
    let mut world = BTreeMap::new();
    for project in PROJECTS {
        server.project(project).await;
        let task = pb::RegisterTaskRequest {
            task: Some(task_def(project).into_template().into()),
        };
        admin.register_task(bearer(task, token)).await.expect("register task");
        let workflow = pb::RegisterWorkflowRequest {
            workflow: Some(workflow(project, "wf").into()),
        };
        admin
            .register_workflow(bearer(workflow, token))
            .await
            .expect("register workflow");
        let plan = pb::RegisterLaunchPlanRequest {
            launch_plan: Some(launch_plan(project, "lp").into()),
        };
        admin
            .register_launch_plan(bearer(plan, token))
            .await
            .expect("register plan");
        let execution = admin
            .create_execution(bearer(create_execution(project), token))
            .await
            .expect("create execution")
            .into_inner()
            .execution
            .expect("execution");
        world.insert(
            project,
            Resources {
                project: project.to_owned(),
                execution_id: execution.id,
            },
        );
    }
    world
}

fn create_execution(project: &str) -> pb::CreateExecutionRequest {
    pb::CreateExecutionRequest {
        project: project.to_owned(),
        domain: "dev".to_owned(),
        target: Some(pb::create_execution_request::Target::Task(id(project, "t").into())),
        inputs: Some(LiteralMap::from([("x".to_owned(), Literal::Integer(1))]).into()),
        ..Default::default()
    }
}

fn pb_id(project: &str, name: &str) -> Option<pb::Identifier> {
    Some(id(project, name).into())
}

/// One request per method, naming `r`'s resources; `fresh` makes names no other call used.
fn request(method: &str, r: &Resources, fresh: &str) -> Option<Vec<u8>> {
    let p = r.project.clone();
    let e = r.execution_id.clone();
    let bytes = match method {
        "RegisterTask" => pb::RegisterTaskRequest {
            task: Some(task_def(&p).into_template().into()),
        }
        .encode_to_vec(),
        "GetTask" => pb::GetTaskRequest { id: pb_id(&p, "t") }.encode_to_vec(),
        "ListTasks" => pb::ListTasksRequest {
            project: p,
            domain: "dev".into(),
            ..Default::default()
        }
        .encode_to_vec(),
        "RegisterWorkflow" => pb::RegisterWorkflowRequest {
            workflow: Some(workflow(&p, "wf").into()),
        }
        .encode_to_vec(),
        "GetWorkflow" => pb::GetWorkflowRequest { id: pb_id(&p, "wf") }.encode_to_vec(),
        "ListWorkflows" => pb::ListWorkflowsRequest {
            project: p,
            domain: "dev".into(),
            ..Default::default()
        }
        .encode_to_vec(),
        "RegisterLaunchPlan" => pb::RegisterLaunchPlanRequest {
            launch_plan: Some(launch_plan(&p, "lp").into()),
        }
        .encode_to_vec(),
        "GetLaunchPlan" => pb::GetLaunchPlanRequest { id: pb_id(&p, "lp") }.encode_to_vec(),
        "ListLaunchPlans" => pb::ListLaunchPlansRequest {
            project: p,
            domain: "dev".into(),
            ..Default::default()
        }
        .encode_to_vec(),
        "CreateExecution" => create_execution(&p).encode_to_vec(),
        "GetExecution" => pb::GetExecutionRequest {
            id: e,
            ..Default::default()
        }
        .encode_to_vec(),
        "ListExecutions" => pb::ListExecutionsRequest {
            project: p,
            domain: "dev".into(),
            ..Default::default()
        }
        .encode_to_vec(),
        "GetExecutionData" => pb::GetExecutionDataRequest {
            id: e,
            ..Default::default()
        }
        .encode_to_vec(),
        "ListNodeExecutions" => pb::ListNodeExecutionsRequest {
            execution_id: e,
            ..Default::default()
        }
        .encode_to_vec(),
        "GetNodeExecution" => pb::GetNodeExecutionRequest {
            execution_id: e,
            node_id: "n0".into(),
        }
        .encode_to_vec(),
        "GetNodeExecutionData" => pb::GetNodeExecutionDataRequest {
            execution_id: e,
            node_id: "n0".into(),
            ..Default::default()
        }
        .encode_to_vec(),
        "ListTaskAttempts" => pb::ListTaskAttemptsRequest {
            execution_id: e,
            node_id: "n0".into(),
        }
        .encode_to_vec(),
        "WatchExecution" => pb::WatchExecutionRequest {
            execution_id: e,
            include_snapshot: true,
            after_sequence: 0,
        }
        .encode_to_vec(),
        // Terminating would end the execution the other rows read; a reason too long is refused after the check.
        "TerminateExecution" => pb::TerminateExecutionRequest {
            id: e,
            reason: String::new(),
        }
        .encode_to_vec(),
        "RelaunchExecution" => pb::RelaunchExecutionRequest {
            id: e,
            name: format!("relaunch-{fresh}"),
            ..Default::default()
        }
        .encode_to_vec(),
        "RecoverExecution" => pb::RecoverExecutionRequest {
            id: e,
            name: format!("recover-{fresh}"),
        }
        .encode_to_vec(),
        "ListSchedules" => pb::ListSchedulesRequest {
            project: p.clone(),
            domain: "dev".into(),
        }
        .encode_to_vec(),
        // The plan has no schedule: an authorized caller gets FAILED_PRECONDITION, and nothing changes.
        "ActivateSchedule" => pb::ActivateScheduleRequest {
            launch_plan: pb_id(&p, "lp"),
        }
        .encode_to_vec(),
        "DeactivateSchedule" => pb::DeactivateScheduleRequest {
            launch_plan: pb_id(&p, "lp"),
        }
        .encode_to_vec(),
        "ListSignals" => pb::ListSignalsRequest { execution_id: e }.encode_to_vec(),
        // No value: an authorized caller gets INVALID_ARGUMENT, and nothing is set.
        "SetSignal" => pb::SetSignalRequest {
            execution_id: e,
            signal_id: "s".into(),
            value: None,
        }
        .encode_to_vec(),
        "ReadOffloaded" => pb::ReadOffloadedRequest {
            uri: format!("gantry:value?execution={e}&map=inputs&name=x"),
        }
        .encode_to_vec(),
        "PollTasks" => pb::PollTasksRequest {
            worker_id: "w".into(),
            queues: vec!["no-such-queue".into()],
            max_attempts: 1,
            wait: Some(prost_types::Duration { seconds: 0, nanos: 0 }),
            completions: Vec::new(),
        }
        .encode_to_vec(),
        "Heartbeat" => pb::HeartbeatRequest {
            worker_id: "w".into(),
            attempts: Vec::new(),
        }
        .encode_to_vec(),
        "CompleteAttempts" => pb::CompleteAttemptsRequest {
            worker_id: "w".into(),
            completions: Vec::new(),
        }
        .encode_to_vec(),
        "CreateApiKey" => pb::CreateApiKeyRequest {
            project: p,
            role: pb::Role::Viewer as i32,
            ..Default::default()
        }
        .encode_to_vec(),
        "ListApiKeys" => pb::ListApiKeysRequest {}.encode_to_vec(),
        "ListAuditEntries" => pb::ListAuditEntriesRequest::default().encode_to_vec(),
        // A malformed id: an authorized caller gets INVALID_ARGUMENT, and no key is revoked.
        "RevokeApiKey" => pb::RevokeApiKeyRequest { id: "not-a-key".into() }.encode_to_vec(),
        "CreateProject" => pb::CreateProjectRequest {
            id: format!("p-{fresh}"),
            ..Default::default()
        }
        .encode_to_vec(),
        "ListProjects" => pb::ListProjectsRequest {}.encode_to_vec(),
        "GetProject" => pb::GetProjectRequest { id: p }.encode_to_vec(),
        // A malformed id: an authorized caller gets INVALID_ARGUMENT, and nothing is archived.
        "ArchiveProject" => pb::ArchiveProjectRequest {
            id: "Not A Project".into(),
        }
        .encode_to_vec(),
        _ => return None,
    };
    Some(bytes)
}

fn needs(method: &str) -> Option<Needs> {
    Some(match method {
        "RegisterTask" | "RegisterWorkflow" | "RegisterLaunchPlan" | "CreateExecution" | "ActivateSchedule"
        | "DeactivateSchedule" => Needs::OperateNamed,
        "TerminateExecution" | "RelaunchExecution" | "RecoverExecution" | "SetSignal" => Needs::OperateExecution,
        "GetTask" | "GetWorkflow" | "GetLaunchPlan" => Needs::ReadNamed,
        "GetExecution"
        | "GetExecutionData"
        | "ListNodeExecutions"
        | "GetNodeExecution"
        | "GetNodeExecutionData"
        | "ListTaskAttempts"
        | "ListSignals"
        | "WatchExecution" => Needs::ReadExecution,
        "ListTasks" | "ListWorkflows" | "ListLaunchPlans" | "ListExecutions" | "ListSchedules" => Needs::ReadListing,
        "PollTasks" | "Heartbeat" | "CompleteAttempts" => Needs::Work,
        "ReadOffloaded" => Needs::ReadOrWorkExecution,
        "GetProject" => Needs::ReadOrWorkNamed,
        "ListProjects" => Needs::ReadOrWorkListing,
        "CreateApiKey" | "ListApiKeys" | "RevokeApiKey" | "CreateProject" | "ArchiveProject" | "ListAuditEntries" => {
            Needs::Admin
        }
        _ => return None,
    })
}

/// Every method of the authenticated services: `(path, name, server-streaming)`.
fn methods() -> Vec<(String, String, bool)> {
    let set = prost_types::FileDescriptorSet::decode(gantry_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut methods = Vec::new();
    for file in set.file.iter().filter(|f| f.package() == "gantry.v1") {
        for service in &file.service {
            for method in &service.method {
                methods.push((
                    format!("/gantry.v1.{}/{}", service.name(), method.name()),
                    method.name().to_owned(),
                    method.server_streaming(),
                ));
            }
        }
    }
    assert!(methods.len() >= 32, "every service's methods: {methods:?}");
    methods
}

async fn every_rpc_by_every_caller(backend: Backend) {
    let server = AuthServer::start(backend).await;
    let world = world(&server).await;
    let mut keys = BTreeMap::new();
    keys.insert("admin", server.admin_token.clone());
    for (name, role) in [
        ("operator", pb::Role::Operator),
        ("viewer", pb::Role::Viewer),
        ("worker", pb::Role::Worker),
    ] {
        keys.insert(name, server.key(Some("alpha"), role, None).await.1);
    }
    let (_, expired) = server
        .key(Some("alpha"), pb::Role::Operator, Some(Duration::from_millis(1)))
        .await;
    let (revoked_id, revoked) = server.key(Some("alpha"), pb::Role::Operator, None).await;
    server.revoke(&revoked_id).await;
    let (_, valid) = server.key(Some("alpha"), pb::Role::Operator, None).await;
    let wrong_secret = format!("{}{}", &valid[..valid.len() - 64], "0".repeat(64));
    // The expired key's millisecond is long over by now, whatever the cache holds.
    let unauthenticated: [(&str, Option<&str>, &str); 5] = [
        ("no token", None, "authentication required"),
        ("a malformed token", Some("not-a-token"), "malformed"),
        ("a wrong secret", Some(&wrong_secret), "secret does not match"),
        ("an expired key", Some(&expired), "has expired"),
        ("a revoked key", Some(&revoked), "was revoked"),
    ];

    let channel = server.channel().await;
    let mut failures = Vec::new();
    let mut calls = 0;
    for (path, name, streaming) in methods() {
        let needs = needs(&name).unwrap_or_else(|| panic!("{name} has no row in this test: add one"));
        assert!(request(&name, &world["alpha"], "x").is_some(), "{name} has no request");
        for (what, token, words) in &unauthenticated {
            let bytes = request(&name, &world["alpha"], &format!("u{calls}")).expect("request");
            calls += 1;
            match raw_call(channel.clone(), &path, bytes, *token, streaming).await {
                Err(status) if status.code() == Code::Unauthenticated && status.message().contains(words) => {
                    if let Some(token) = token
                        && status.message().contains(token)
                    {
                        failures.push(format!("{name} with {what}: the message echoes the token"));
                    }
                }
                other => failures.push(format!(
                    "{name} with {what}: {other:?}, expected UNAUTHENTICATED ({words})"
                )),
            }
        }
        for (role_name, role) in [
            ("admin", Role::Admin),
            ("operator", Role::Operator),
            ("viewer", Role::Viewer),
            ("worker", Role::Worker),
        ] {
            for (own, project) in [(true, "alpha"), (false, "beta")] {
                let bytes = request(&name, &world[project], &format!("c{calls}")).expect("request");
                calls += 1;
                let answer = raw_call(channel.clone(), &path, bytes, Some(&keys[role_name]), streaming).await;
                let expected = expect(needs, role, own);
                let code = answer.as_ref().err().map_or(Code::Ok, |status| status.code());
                let fine = match expected {
                    Expect::Allowed => !matches!(code, Code::Unauthenticated | Code::PermissionDenied | Code::NotFound),
                    Expect::Refused(refusal) => code == refusal,
                };
                if !fine {
                    failures.push(format!(
                        "{name} by {role_name} on {project}: {code:?} ({:?}), expected {expected:?}",
                        answer.err().map(|status| status.message().to_owned())
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} calls:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_by_every_caller_on_postgres() {
    every_rpc_by_every_caller(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_by_every_caller_on_sqlite() {
    every_rpc_by_every_caller(Backend::Sqlite).await;
}
