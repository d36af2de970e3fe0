//! The API keeps its word: every RPC of AdminService, WorkerService and AuditService answers each error its proto
//! comment documents, with that code, and a short message — on Postgres and on SQLite.
//!
//! One table holds a row per (RPC, documented error): the request that provokes it and the code it must get. The
//! table is checked against the service descriptors the server publishes (`gantry_proto::FILE_DESCRIPTOR_SET`, with
//! the protos' comments): every method of both services has rows, every code a method's comment names has a row,
//! and every row's code is named in its method's comment. A proto comment and the server cannot drift apart without
//! this test failing. UNAVAILABLE, documented for the whole service, is the outage tests' business (`outage.rs`).
//! Besides the table, every method is sent bytes that are not a protobuf message and must answer INVALID_ARGUMENT.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use gantry_core::model::{
    Binding, DynamicJobSpec, FailurePolicy, LaunchPlan, Literal, LiteralMap, Node, ResourceKind, TypedInterface,
    WorkflowTemplate,
};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_proto::v1::audit_service_client::AuditServiceClient;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use gantry_tests::auth::RawBytes;
use gantry_tests::client::{self, task_request};
use gantry_tests::raw_worker::{self, completion, id};
use gantry_tests::scripted::Scripted;
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use prost::Message;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// The longest status message any refusal may have: values are quoted by a short prefix.
const SHORT_MESSAGE: usize = 1024;
/// Codes a method's comment may name; UNAVAILABLE (an unreachable store) is tested by `outage.rs`.
const CHECKED_CODES: &[(&str, Code)] = &[
    ("INVALID_ARGUMENT", Code::InvalidArgument),
    ("NOT_FOUND", Code::NotFound),
    ("ALREADY_EXISTS", Code::AlreadyExists),
    ("FAILED_PRECONDITION", Code::FailedPrecondition),
    ("RESOURCE_EXHAUSTED", Code::ResourceExhausted),
    ("OUT_OF_RANGE", Code::OutOfRange),
];

type Call = Pin<Box<dyn Future<Output = Result<(), Status>> + Send>>;

/// One documented error: the method, the code it must answer, what the request gets wrong, and the call.
struct Row {
    method: &'static str,
    code: Code,
    what: &'static str,
    call: Call,
}

fn row<T, F>(method: &'static str, code: Code, what: &'static str, call: F) -> Row
where
    F: Future<Output = Result<T, Status>> + Send + 'static,
{
    Row {
        method,
        code,
        what,
        call: Box::pin(async move { call.await.map(|_| ()) }),
    }
}

/// A CompleteAttempts row judged by its one completion's result: REJECTED with `code`, as the proto documents.
fn completion_row(
    code: Code,
    what: &'static str,
    mut worker: WorkerServiceClient<Channel>,
    worker_id: &str,
    item: pb::Completion,
) -> Row {
    let request = pb::CompleteAttemptsRequest {
        worker_id: worker_id.to_owned(),
        completions: vec![item],
    };
    let call = async move {
        let results = worker.complete_attempts(request).await?.into_inner().results;
        match results.as_slice() {
            [result] if result.status == pb::CompletionStatus::Rejected as i32 => {
                Err(Status::new(Code::from(result.code), result.message.clone()))
            }
            [_] => Ok(()),
            other => Err(Status::internal(format!("expected one result, got {other:?}"))),
        }
    };
    row("CompleteAttempts", code, what, call)
}

fn identifier(project: &str, name: &str) -> pb::Identifier {
    pb::Identifier {
        project: project.to_owned(),
        domain: "dev".to_owned(),
        name: name.to_owned(),
        version: "1".to_owned(),
    }
}

fn workflow(name: &str, nodes: usize, task: &str) -> WorkflowTemplate {
    WorkflowTemplate {
        id: id(name),
        interface: TypedInterface::default(),
        nodes: (0..nodes)
            .map(|i| {
                Node::task(
                    format!("n{i}"),
                    id(task),
                    vec![Binding::literal("index", Literal::Integer(1))],
                )
            })
            .collect(),
        outputs: Vec::new(),
        failure_policy: FailurePolicy::FailImmediately,
    }
}

fn launch_plan(name: &str, target: &str, default_inputs: LiteralMap) -> LaunchPlan {
    LaunchPlan {
        id: id(name),
        target: id(target),
        target_kind: ResourceKind::Task,
        default_inputs,
        fixed_inputs: LiteralMap::new(),
        max_parallelism: None,
        timeout: None,
        schedule: None,
    }
}

fn list_tasks(project: &str, domain: &str, token: &str) -> pb::ListTasksRequest {
    pb::ListTasksRequest {
        project: project.into(),
        domain: domain.into(),
        page_token: token.into(),
        ..Default::default()
    }
}

fn list_executions(project: &str, domain: &str, token: &str) -> pb::ListExecutionsRequest {
    pb::ListExecutionsRequest {
        project: project.into(),
        domain: domain.into(),
        page_token: token.into(),
        ..Default::default()
    }
}

fn poll(worker_id: &str, queues: Vec<String>) -> pb::PollTasksRequest {
    pb::PollTasksRequest {
        worker_id: worker_id.into(),
        queues,
        max_attempts: 1,
        wait: Some(prost_types::Duration { seconds: 0, nanos: 0 }),
        completions: Vec::new(),
    }
}

/// What the table's requests refer to.
struct World {
    /// A succeeded execution, named `a`, and the assignment of its attempt.
    succeeded: String,
    succeeded_assignment: pb::AttemptAssignment,
    /// A running execution, named `b`, and the assignment of its running attempt.
    running: String,
    running_assignment: pb::AttemptAssignment,
    /// An aborted execution, named `c`.
    aborted: String,
}

async fn world(server: &TestServer) -> World {
    let mut admin = server.admin().await;
    let mut worker = Scripted::new(server, "contract").await;
    client::register_raw_tasks(&mut admin).await;
    let execution_id =
        |response: tonic::Response<pb::CreateExecutionResponse>| response.into_inner().execution.expect("execution").id;
    let succeeded = execution_id(
        admin
            .create_execution(task_request("a", "other_task", Literal::Integer(1)))
            .await
            .expect("create a"),
    );
    let succeeded_assignment = worker.poll_one().await;
    let result = raw_worker::result_for(&succeeded_assignment);
    worker.finish(&succeeded_assignment, result).await;
    let phase = wait_for_terminal(&mut admin, &succeeded).await.phase;
    assert_eq!(phase, pb::ExecutionPhase::Succeeded as i32);
    let running = execution_id(
        admin
            .create_execution(task_request("b", "other_task", Literal::Integer(2)))
            .await
            .expect("create b"),
    );
    let running_assignment = worker.poll_one().await;
    let aborted = execution_id(
        admin
            .create_execution(task_request("c", "other_task", Literal::Integer(3)))
            .await
            .expect("create c"),
    );
    admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id: aborted.clone(),
            reason: String::new(),
        })
        .await
        .expect("terminate c");
    World {
        succeeded,
        succeeded_assignment,
        running,
        running_assignment,
        aborted,
    }
}

/// Every (RPC, documented error) with the request that provokes it.
fn table(admin: &AdminServiceClient<Channel>, worker: &WorkerServiceClient<Channel>, world: &World) -> Vec<Row> {
    let huge = "n".repeat(1 << 20);
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut rows = Vec::new();
    macro_rules! admin {
        ($method:literal, $code:ident, $what:literal; $rpc:ident($request:expr)) => {{
            let mut client = admin.clone();
            let request = $request;
            rows.push(row(
                $method,
                Code::$code,
                $what,
                async move { client.$rpc(request).await },
            ));
        }};
    }
    macro_rules! worker {
        ($method:literal, $code:ident, $what:literal; $rpc:ident($request:expr)) => {{
            let mut client = worker.clone();
            let request = $request;
            rows.push(row(
                $method,
                Code::$code,
                $what,
                async move { client.$rpc(request).await },
            ));
        }};
    }
    let register_task = |task: pb::TaskTemplate| pb::RegisterTaskRequest { task: Some(task) };
    let other_task = || pb::TaskTemplate::from(raw_worker::task_templates().remove(0));

    // Registrations.
    let mut long_name = other_task();
    long_name.id.as_mut().expect("id").name = huge.clone();
    admin!("RegisterTask", InvalidArgument, "a 1 MiB task name"; register_task(register_task(long_name)));
    let mut nul_project = other_task();
    nul_project.id.as_mut().expect("id").project = "de\0mo".into();
    admin!("RegisterTask", InvalidArgument, "NUL in the project"; register_task(register_task(nul_project)));
    let mut long_queue = other_task();
    long_queue.id.as_mut().expect("id").name = "long_queue".into();
    long_queue.metadata.as_mut().expect("metadata").queue = "q".repeat(3_000);
    admin!("RegisterTask", InvalidArgument, "a 3 kB queue"; register_task(register_task(long_queue)));
    let mut changed = other_task();
    changed.interface = Some(TypedInterface::default().into());
    admin!("RegisterTask", AlreadyExists, "another template under a taken id"; register_task(register_task(changed)));
    admin!("GetTask", InvalidArgument, "NUL in the project"; get_task(pb::GetTaskRequest {
        id: Some(identifier("de\0mo", "other_task"))
    }));
    admin!("GetTask", NotFound, "an unregistered task"; get_task(pb::GetTaskRequest {
        id: Some(identifier("demo", "no_such_task"))
    }));
    admin!("ListTasks", InvalidArgument, "an empty project"; list_tasks(list_tasks("", "dev", "")));
    admin!("ListTasks", InvalidArgument, "NUL in the domain"; list_tasks(list_tasks("demo", "d\0ev", "")));
    admin!("ListTasks", InvalidArgument, "a made-up page token"; list_tasks(list_tasks("demo", "dev", "garbage")));
    admin!("ListTasks", InvalidArgument, "a page token holding NUL"; list_tasks(list_tasks("demo", "dev", "a\0@1")));
    let mut at_version = other_task();
    at_version.id.as_mut().expect("id").version = "1@2".into();
    admin!("RegisterTask", InvalidArgument, "an '@' in the version"; register_task(register_task(at_version)));

    let register_workflow = |workflow: WorkflowTemplate| pb::RegisterWorkflowRequest {
        workflow: Some(workflow.into()),
    };
    admin!("RegisterWorkflow", InvalidArgument, "a node of an unregistered task"; register_workflow(register_workflow(workflow("wf_missing", 1, "no_such_task"))));
    admin!("RegisterWorkflow", AlreadyExists, "another template under a taken id"; register_workflow(register_workflow(workflow("wf", 2, "other_task"))));
    admin!("RegisterWorkflow", ResourceExhausted, "more nodes than the limit"; register_workflow(register_workflow(workflow("wf_big", 4, "other_task"))));
    admin!("GetWorkflow", InvalidArgument, "an empty name"; get_workflow(pb::GetWorkflowRequest {
        id: Some(pb::Identifier {
            name: String::new(),
            ..identifier("demo", "wf")
        })
    }));
    admin!("GetWorkflow", InvalidArgument, "an empty name and version"; get_workflow(pb::GetWorkflowRequest {
        id: Some(pb::Identifier {
            name: String::new(),
            version: String::new(),
            ..identifier("demo", "wf")
        })
    }));
    admin!("GetWorkflow", NotFound, "no version of the name"; get_workflow(pb::GetWorkflowRequest {
        id: Some(pb::Identifier {
            version: String::new(),
            ..identifier("demo", "no_such_workflow")
        })
    }));
    admin!("GetWorkflow", NotFound, "an unregistered workflow"; get_workflow(pb::GetWorkflowRequest {
        id: Some(identifier("demo", "no_such_workflow"))
    }));
    admin!("ListWorkflows", InvalidArgument, "an uppercase project"; list_workflows(pb::ListWorkflowsRequest {
        project: "Demo".into(),
        domain: "dev".into(),
        ..Default::default()
    }));

    let register_plan = |plan: LaunchPlan| pb::RegisterLaunchPlanRequest {
        launch_plan: Some(plan.into()),
    };
    let bogus_input = LiteralMap::from([("bogus".to_owned(), Literal::Integer(1))]);
    admin!("RegisterLaunchPlan", InvalidArgument, "an input the target does not have"; register_launch_plan(register_plan(launch_plan("lp_bogus", "other_task", bogus_input))));
    admin!("RegisterLaunchPlan", NotFound, "an unregistered target"; register_launch_plan(register_plan(launch_plan(
        "lp_missing",
        "no_such_task",
        LiteralMap::new()
    ))));
    let other_default = LiteralMap::from([("index".to_owned(), Literal::Integer(9))]);
    admin!("RegisterLaunchPlan", AlreadyExists, "another plan under a taken id"; register_launch_plan(register_plan(launch_plan("lp", "other_task", other_default))));
    admin!("GetLaunchPlan", InvalidArgument, "a 1 MiB version"; get_launch_plan(pb::GetLaunchPlanRequest {
        id: Some(pb::Identifier {
            version: huge.clone(),
            ..identifier("demo", "lp")
        })
    }));
    admin!("GetLaunchPlan", NotFound, "an unregistered plan"; get_launch_plan(pb::GetLaunchPlanRequest {
        id: Some(identifier("demo", "no_such_plan"))
    }));
    admin!("ListSchedules", InvalidArgument, "an empty project"; list_schedules(pb::ListSchedulesRequest {
        project: String::new(),
        domain: "dev".into(),
    }));
    let activate = |plan: Option<pb::Identifier>| pb::ActivateScheduleRequest { launch_plan: plan };
    admin!("ActivateSchedule", InvalidArgument, "no launch plan"; activate_schedule(activate(None)));
    admin!("ActivateSchedule", NotFound, "an unregistered plan"; activate_schedule(activate(Some(identifier("demo", "no_such_plan")))));
    admin!("ActivateSchedule", FailedPrecondition, "a plan without a schedule"; activate_schedule(activate(Some(identifier("demo", "lp")))));
    let deactivate = |plan: Option<pb::Identifier>| pb::DeactivateScheduleRequest { launch_plan: plan };
    admin!("DeactivateSchedule", InvalidArgument, "no launch plan"; deactivate_schedule(deactivate(None)));
    admin!("DeactivateSchedule", NotFound, "an unregistered plan"; deactivate_schedule(deactivate(Some(identifier("demo", "no_such_plan")))));
    admin!("DeactivateSchedule", FailedPrecondition, "a plan without a schedule"; deactivate_schedule(deactivate(Some(identifier("demo", "lp")))));
    admin!("ListLaunchPlans", InvalidArgument, "a control character in the name filter"; list_launch_plans(pb::ListLaunchPlansRequest {
        project: "demo".into(),
        domain: "dev".into(),
        name: "l\u{1b}p".into(),
        ..Default::default()
    }));

    // Executions.
    admin!("CreateExecution", InvalidArgument, "a 1 MiB name"; create_execution(task_request(&huge, "other_task", Literal::Integer(1))));
    admin!("CreateExecution", InvalidArgument, "an input of the wrong type"; create_execution(task_request("", "other_task", Literal::String("one".into()))));
    admin!("CreateExecution", InvalidArgument, "NUL in the project"; create_execution(pb::CreateExecutionRequest {
        project: "de\0mo".into(),
        ..task_request("", "other_task", Literal::Integer(1))
    }));
    admin!("CreateExecution", NotFound, "an unregistered task"; create_execution(task_request("", "no_such_task", Literal::Integer(1))));
    admin!("CreateExecution", AlreadyExists, "a taken name with other inputs"; create_execution(task_request("a", "other_task", Literal::Integer(99))));
    admin!("CreateExecution", ResourceExhausted, "an input over the literal limit"; create_execution(task_request("", "other_task", Literal::String("x".repeat(64 * 1024)))));
    admin!("GetExecution", InvalidArgument, "an id that is not a UUID"; get_execution(pb::GetExecutionRequest {
        id: huge.clone(),
        references: false,
    }));
    admin!("GetExecution", NotFound, "an unknown id"; get_execution(pb::GetExecutionRequest {
        id: unknown.clone(),
        references: false,
    }));
    admin!("ListExecutions", InvalidArgument, "an empty project"; list_executions(list_executions("", "dev", "")));
    admin!("ListExecutions", InvalidArgument, "an empty domain"; list_executions(list_executions("demo", "", "")));
    admin!("ListExecutions", InvalidArgument, "NUL in the project"; list_executions(list_executions("d\0", "dev", "")));
    admin!("ListExecutions", InvalidArgument, "a made-up page token"; list_executions(list_executions("demo", "dev", "garbage")));
    admin!("ListExecutions", InvalidArgument, "UNSPECIFIED in phases"; list_executions(pb::ListExecutionsRequest {
        phases: vec![0],
        ..list_executions("demo", "dev", "")
    }));
    admin!("GetExecutionData", InvalidArgument, "an id that is not a UUID"; get_execution_data(pb::GetExecutionDataRequest {
        id: "x".into(),
        references: false
    }));
    admin!("GetExecutionData", NotFound, "an unknown id"; get_execution_data(pb::GetExecutionDataRequest {
        id: unknown.clone(),
        references: false,
    }));

    // Nodes and attempts.
    let nodes = |execution_id: &str, parent: &str, token: &str| pb::ListNodeExecutionsRequest {
        execution_id: execution_id.into(),
        parent_node_id: parent.into(),
        page_token: token.into(),
        ..Default::default()
    };
    admin!("ListNodeExecutions", InvalidArgument, "a malformed parent id"; list_node_executions(nodes(&world.succeeded, "n0//x", "")));
    admin!("ListNodeExecutions", InvalidArgument, "a made-up page token"; list_node_executions(nodes(&world.succeeded, "", "garbage")));
    admin!("ListNodeExecutions", NotFound, "an unknown execution"; list_node_executions(nodes(&unknown, "", "")));
    admin!("ListNodeExecutions", NotFound, "an unknown parent node"; list_node_executions(nodes(&world.succeeded, "zz", "")));
    let node = |execution_id: &str, node_id: &str| pb::GetNodeExecutionRequest {
        execution_id: execution_id.into(),
        node_id: node_id.into(),
    };
    admin!("GetNodeExecution", InvalidArgument, "NUL in the node id"; get_node_execution(node(&world.succeeded, "n\0x")));
    admin!("GetNodeExecution", NotFound, "an unknown node"; get_node_execution(node(&world.succeeded, "zz")));
    let node_data = |execution_id: &str, node_id: &str| pb::GetNodeExecutionDataRequest {
        execution_id: execution_id.into(),
        node_id: node_id.into(),
        references: false,
    };
    admin!("GetNodeExecutionData", InvalidArgument, "a 1 MiB node id"; get_node_execution_data(node_data(&world.succeeded, &huge)));
    admin!("GetNodeExecutionData", NotFound, "an unknown execution"; get_node_execution_data(node_data(&unknown, "n0")));
    let attempts = |execution_id: &str, node_id: &str| pb::ListTaskAttemptsRequest {
        execution_id: execution_id.into(),
        node_id: node_id.into(),
    };
    admin!("ListTaskAttempts", InvalidArgument, "an empty node id"; list_task_attempts(attempts(&world.succeeded, "")));
    admin!("ListTaskAttempts", NotFound, "an unknown node"; list_task_attempts(attempts(&world.succeeded, "zz")));

    // Watching and control.
    let watch = |execution_id: &str, include_snapshot: bool, after_sequence: u64| pb::WatchExecutionRequest {
        execution_id: execution_id.into(),
        include_snapshot,
        after_sequence,
    };
    admin!("WatchExecution", InvalidArgument, "both a snapshot and a sequence"; watch_execution(watch(&world.running, true, 3)));
    admin!("WatchExecution", InvalidArgument, "an id that is not a UUID"; watch_execution(watch("x", true, 0)));
    admin!("WatchExecution", NotFound, "an unknown execution"; watch_execution(watch(&unknown, true, 0)));
    admin!("WatchExecution", OutOfRange, "resuming after a sequence"; watch_execution(watch(&world.running, false, 3)));
    let terminate = |id: &str| pb::TerminateExecutionRequest {
        id: id.into(),
        reason: "x".repeat(100_000),
    };
    admin!("TerminateExecution", InvalidArgument, "an id that is not a UUID"; terminate_execution(terminate("x")));
    admin!("TerminateExecution", NotFound, "an unknown execution"; terminate_execution(terminate(&unknown)));
    admin!("TerminateExecution", FailedPrecondition, "a succeeded execution"; terminate_execution(terminate(&world.succeeded)));
    let relaunch = |id: &str, name: &str| pb::RelaunchExecutionRequest {
        id: id.into(),
        name: name.into(),
        overwrite_cache: false,
    };
    admin!("RelaunchExecution", InvalidArgument, "a name with a space"; relaunch_execution(relaunch(&world.succeeded, "new name")));
    admin!("RelaunchExecution", NotFound, "an unknown execution"; relaunch_execution(relaunch(&unknown, "")));
    admin!("RelaunchExecution", AlreadyExists, "a name taken by another execution"; relaunch_execution(relaunch(&world.running, "a")));
    let recover = |id: &str, name: &str| pb::RecoverExecutionRequest {
        id: id.into(),
        name: name.into(),
    };
    admin!("RecoverExecution", InvalidArgument, "NUL in the name"; recover_execution(recover(&world.aborted, "r\0")));
    admin!("RecoverExecution", NotFound, "an unknown execution"; recover_execution(recover(&unknown, "")));
    admin!("RecoverExecution", FailedPrecondition, "a succeeded execution"; recover_execution(recover(&world.succeeded, "")));
    admin!("RecoverExecution", AlreadyExists, "a name taken by another execution"; recover_execution(recover(&world.aborted, "a")));
    let list_signals = |id: &str| pb::ListSignalsRequest {
        execution_id: id.into(),
    };
    admin!("ListSignals", InvalidArgument, "an id that is not a UUID"; list_signals(list_signals("x")));
    admin!("ListSignals", NotFound, "an unknown execution"; list_signals(list_signals(&unknown)));
    let set_signal = |id: &str, signal: &str, value: Option<Literal>| pb::SetSignalRequest {
        execution_id: id.into(),
        signal_id: signal.into(),
        value: value.map(Into::into),
    };
    admin!("SetSignal", InvalidArgument, "an id that is not a UUID"; set_signal(set_signal("x", "s", Some(Literal::Integer(1)))));
    admin!("SetSignal", InvalidArgument, "a signal id with a space"; set_signal(set_signal(&world.running, "a b", Some(Literal::Integer(1)))));
    admin!("SetSignal", InvalidArgument, "no value"; set_signal(set_signal(&world.running, "s", None)));
    admin!("SetSignal", NotFound, "an unknown execution"; set_signal(set_signal(&unknown, "s", Some(Literal::Integer(1)))));
    admin!("SetSignal", NotFound, "a signal no gate waits for"; set_signal(set_signal(&world.running, "s", Some(Literal::Integer(1)))));
    admin!("SetSignal", FailedPrecondition, "a succeeded execution"; set_signal(set_signal(&world.succeeded, "s", Some(Literal::Integer(1)))));
    let read = |uri: String| pb::ReadOffloadedRequest { uri };
    admin!("ReadOffloaded", InvalidArgument, "an empty uri"; read_offloaded(read(String::new())));
    admin!("ReadOffloaded", NotFound, "a reference to nothing"; read_offloaded(read(format!("gantry:value?execution={unknown}&map=inputs&name=x"))));
    admin!("ReadOffloaded", NotFound, "a reference with NUL in its node"; read_offloaded(read(format!(
        "gantry:value?execution={}&node=n%000&map=inputs&name=index",
        world.succeeded
    ))));

    // Workers.
    worker!("PollTasks", InvalidArgument, "an empty worker id"; poll_tasks(poll("", vec!["default".into()])));
    worker!("PollTasks", InvalidArgument, "NUL in the worker id"; poll_tasks(poll("w\0", vec!["default".into()])));
    worker!("PollTasks", InvalidArgument, "a 3 kB queue"; poll_tasks(poll("w", vec!["q".repeat(3_000)])));
    worker!("PollTasks", InvalidArgument, "101 queues"; poll_tasks(poll("w", (0..101).map(|i| format!("q{i}")).collect())));
    let leased = |assignment: &pb::AttemptAssignment| pb::LeasedAttempt {
        attempt: assignment.attempt.clone(),
        lease_id: assignment.lease_id.clone(),
    };
    worker!("Heartbeat", InvalidArgument, "NUL in the worker id"; heartbeat(pb::HeartbeatRequest {
        worker_id: "w\0".into(),
        attempts: vec![leased(&world.running_assignment)],
    }));
    worker!("Heartbeat", InvalidArgument, "a 1 MiB node id"; heartbeat(pb::HeartbeatRequest {
        worker_id: "contract".into(),
        attempts: vec![pb::LeasedAttempt {
            attempt: Some(pb::AttemptRef {
                execution_id: world.running.clone(),
                node_id: huge.clone(),
                attempt: 0,
            }),
            lease_id: world.running_assignment.lease_id.clone(),
        }],
    }));
    let outputs = raw_worker::result_for(&world.running_assignment);
    worker!("CompleteAttempts", InvalidArgument, "an empty worker id"; complete_attempts(pb::CompleteAttemptsRequest {
        worker_id: String::new(),
        completions: vec![completion(&world.running_assignment, outputs.clone())],
    }));
    let mut stranger = completion(&world.running_assignment, outputs.clone());
    stranger.attempt.as_mut().expect("attempt").attempt = 7;
    rows.push(completion_row(
        Code::NotFound,
        "an attempt that does not exist",
        worker.clone(),
        "contract",
        stranger,
    ));
    let mut made_up = completion(&world.running_assignment, outputs.clone());
    made_up.lease_id = uuid::Uuid::now_v7().to_string();
    rows.push(completion_row(
        Code::FailedPrecondition,
        "a made-up lease on a real attempt",
        worker.clone(),
        "contract",
        made_up,
    ));
    rows.push(completion_row(
        Code::FailedPrecondition,
        "an attempt that already succeeded",
        worker.clone(),
        "contract",
        completion(&world.succeeded_assignment, outputs.clone()),
    ));
    let mut no_result = completion(&world.running_assignment, outputs.clone());
    no_result.result = None;
    rows.push(completion_row(
        Code::InvalidArgument,
        "no result",
        worker.clone(),
        "contract",
        no_result,
    ));
    let too_many_nodes = DynamicJobSpec {
        nodes: (0..4)
            .map(|i| Node::task(format!("dn{i}"), id("other_task"), vec![]))
            .collect(),
        ..Default::default()
    };
    rows.push(completion_row(
        Code::ResourceExhausted,
        "a spec with more nodes than the limit",
        worker.clone(),
        "contract",
        completion(
            &world.running_assignment,
            pb::completion::Result::DynamicSpec(too_many_nodes.into()),
        ),
    ));
    rows
}

/// ListAuditEntries' documented refusals.
fn audit_rows(audit: &AuditServiceClient<Channel>) -> Vec<Row> {
    let call = |request: pb::ListAuditEntriesRequest| {
        let mut audit = audit.clone();
        async move { audit.list_audit_entries(request).await }
    };
    let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    vec![
        row(
            "ListAuditEntries",
            Code::InvalidArgument,
            "page_size over 1,000",
            call(pb::ListAuditEntriesRequest {
                page_size: 1_001,
                ..Default::default()
            }),
        ),
        row(
            "ListAuditEntries",
            Code::InvalidArgument,
            "a made-up page token",
            call(pb::ListAuditEntriesRequest {
                page_token: "made-up".into(),
                ..Default::default()
            }),
        ),
        row(
            "ListAuditEntries",
            Code::InvalidArgument,
            "a malformed project",
            call(pb::ListAuditEntriesRequest {
                project: "Not A Project".into(),
                ..Default::default()
            }),
        ),
        row(
            "ListAuditEntries",
            Code::InvalidArgument,
            "a method that is not audited",
            call(pb::ListAuditEntriesRequest {
                rpc: "GetTask".into(),
                ..Default::default()
            }),
        ),
        row(
            "ListAuditEntries",
            Code::InvalidArgument,
            "until not after since",
            call(pb::ListAuditEntriesRequest {
                since: at(100),
                until: at(100),
                ..Default::default()
            }),
        ),
    ]
}

/// The methods of `gantry.v1.{AdminService, WorkerService, AuditService}` and the checked codes each one's comment
/// names.
fn documented() -> BTreeMap<String, BTreeSet<i32>> {
    let set = prost_types::FileDescriptorSet::decode(gantry_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut methods = BTreeMap::new();
    for file in set.file.iter().filter(|f| f.package() == "gantry.v1") {
        let comments: BTreeMap<Vec<i32>, String> = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .map(|location| (location.path.clone(), location.leading_comments().to_owned()))
            .collect();
        for (s, service) in file.service.iter().enumerate() {
            // The key and project services are checked by tests/tests/auth_matrix.rs, with authentication on.
            if matches!(service.name(), "AuthService" | "ProjectService") {
                continue;
            }
            assert!(
                matches!(service.name(), "AdminService" | "WorkerService" | "AuditService"),
                "an unexpected service {}",
                service.name()
            );
            for (m, method) in service.method.iter().enumerate() {
                let path = vec![6, s as i32, 2, m as i32];
                let comment = comments.get(&path).cloned().unwrap_or_default();
                let codes = CHECKED_CODES
                    .iter()
                    .filter(|(name, _)| comment.contains(name))
                    .map(|(_, code)| *code as i32)
                    .collect();
                methods.insert(method.name().to_owned(), codes);
            }
        }
    }
    assert!(methods.len() >= 25, "both services' methods: {methods:?}");
    methods
}

/// Sends bytes that are not a protobuf message to `path` (a length-delimited field 1 cut short).
async fn undecodable(channel: Channel, path: &str) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path: http::uri::PathAndQuery = path.parse().expect("path");
    let codec = tonic_prost::ProstCodec::<RawBytes, pb::GetTaskResponse>::default();
    let request = tonic::Request::new(RawBytes {
        bytes: vec![0x0a, 0x7f],
    });
    grpc.unary(request, path, codec).await.expect_err("undecodable")
}

async fn every_rpc_answers_every_documented_error(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.max_spec_nodes = 3;
        config.offload_bytes = 1024;
        config.max_literal_bytes = 16 * 1024;
    })
    .await;
    let world = world(&server).await;
    let mut admin = server.admin().await;
    admin
        .register_workflow(pb::RegisterWorkflowRequest {
            workflow: Some(workflow("wf", 1, "other_task").into()),
        })
        .await
        .expect("register wf");
    admin
        .register_launch_plan(pb::RegisterLaunchPlanRequest {
            launch_plan: Some(launch_plan("lp", "other_task", LiteralMap::new()).into()),
        })
        .await
        .expect("register lp");

    let worker = server.worker().await;
    let mut rows = table(&admin, &worker, &world);
    rows.extend(audit_rows(
        &AuditServiceClient::connect(server.endpoint.clone())
            .await
            .expect("audit client"),
    ));
    let mut failures = Vec::new();
    let mut covered: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for Row {
        method,
        code,
        what,
        call,
    } in rows
    {
        covered.entry(method.to_owned()).or_default().insert(code as i32);
        match call.await {
            Ok(()) => failures.push(format!("{method} with {what}: OK, expected {code:?}")),
            Err(status) if status.code() != code => failures.push(format!(
                "{method} with {what}: {:?} {:?}, expected {code:?}",
                status.code(),
                truncated(status.message())
            )),
            Err(status) if status.message().len() > SHORT_MESSAGE => failures.push(format!(
                "{method} with {what}: a message of {} bytes",
                status.message().len()
            )),
            Err(_) => {}
        }
    }

    let documented = documented();
    for (method, codes) in &documented {
        let tested = covered.get(method).cloned().unwrap_or_default();
        for code in codes.difference(&tested) {
            failures.push(format!(
                "{method}: {:?} is documented but no row tests it",
                Code::from(*code)
            ));
        }
        for code in tested.difference(codes) {
            failures.push(format!(
                "{method}: {:?} is tested but not documented in its comment",
                Code::from(*code)
            ));
        }
        let service = match method.as_str() {
            "PollTasks" | "Heartbeat" | "CompleteAttempts" => "WorkerService",
            "ListAuditEntries" => "AuditService",
            _ => "AdminService",
        };
        let channel = Channel::from_shared(server.endpoint.clone())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let status = undecodable(channel, &format!("/gantry.v1.{service}/{method}")).await;
        if status.code() != Code::InvalidArgument {
            failures.push(format!(
                "{method} with undecodable bytes: {:?} {:?}",
                status.code(),
                status.message()
            ));
        }
    }
    for method in covered.keys().filter(|m| !documented.contains_key(*m)) {
        failures.push(format!("{method} has rows but is not a method of either service"));
    }

    // The rows changed nothing: the running attempt still runs, nothing was created or registered by them.
    let listed = admin
        .list_executions(list_executions("demo", "dev", ""))
        .await
        .expect("list")
        .into_inner()
        .executions;
    assert_eq!(listed.len(), 3, "a, b and c only: {listed:?}");
    let attempts = admin
        .list_task_attempts(pb::ListTaskAttemptsRequest {
            execution_id: world.running.clone(),
            node_id: "n0".into(),
        })
        .await
        .expect("attempts")
        .into_inner()
        .attempts;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].phase, pb::AttemptPhase::Running as i32);
    assert!(
        failures.is_empty(),
        "{} broken promises:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.stop().await;
}

fn truncated(message: &str) -> String {
    message.chars().take(200).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_every_documented_error_on_sqlite() {
    every_rpc_answers_every_documented_error(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_every_documented_error_on_postgres() {
    every_rpc_answers_every_documented_error(Backend::Postgres).await;
}
