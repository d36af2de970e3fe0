//! Authentication and authorization beyond the matrix (tests/tests/auth_matrix.rs): workers of one project never see
//! another's attempts, a lease is bound to the key that claimed it, keys are shown once and stored as hashes, a
//! revocation reaches a second replica within the cache's TTL, a caller without access gets the answer of a missing
//! execution, listings show only what the caller may see, and projects must exist (and not be archived) once
//! authentication is on.

use std::time::{Duration, Instant};

use gantry_core::model::{
    Binding, CatchUp, DynamicJobSpec, FailurePolicy, Identifier, LaunchPlan, Literal, LiteralMap, LiteralType, Node,
    ResourceKind, Schedule, ScheduleKind, TaskTemplate, TypedInterface, Variable, WorkflowTemplate,
};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_proto::v1::auth_service_client::AuthServiceClient;
use gantry_proto::v1::project_service_client::ProjectServiceClient;
use gantry_proto::v1::worker_service_client::WorkerServiceClient;
use gantry_server::{AuthMode, ServerConfig};
use gantry_tests::auth::{AuthServer, bearer};
use gantry_tests::{Backend, TestServer};
use gantry_worker::TaskDef;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;

fn task(project: &str) -> TaskDef {
    TaskDef::new(project, "dev", "t", "1")
        .input("x", LiteralType::Integer)
        .output("y", LiteralType::Integer)
        .queue("shared")
}

/// An execution of `project`'s task `t` with `x = 1`.
fn run_t(project: &str) -> pb::CreateExecutionRequest {
    pb::CreateExecutionRequest {
        project: project.to_owned(),
        domain: "dev".to_owned(),
        target: Some(pb::create_execution_request::Target::Task(
            Identifier::new(project, "dev", "t", "1").into(),
        )),
        inputs: Some(LiteralMap::from([("x".to_owned(), Literal::Integer(1))]).into()),
        ..Default::default()
    }
}

/// Projects `alpha` and `beta`, the task in each, and one execution of it in each: `(alpha's, beta's)` ids.
async fn two_projects(server: &AuthServer) -> (String, String) {
    let token = Some(server.admin_token.as_str());
    let mut admin = AdminServiceClient::new(server.channel().await);
    let mut ids = Vec::new();
    for project in ["alpha", "beta"] {
        server.project(project).await;
        let register = pb::RegisterTaskRequest {
            task: Some(task(project).into_template().into()),
        };
        admin.register_task(bearer(register, token)).await.expect("register");
        let execution = admin
            .create_execution(bearer(run_t(project), token))
            .await
            .expect("create")
            .into_inner();
        ids.push(execution.execution.expect("execution").id);
    }
    (ids[0].clone(), ids[1].clone())
}

fn poll(worker_id: &str) -> pb::PollTasksRequest {
    pb::PollTasksRequest {
        worker_id: worker_id.to_owned(),
        queues: vec!["shared".to_owned()],
        max_attempts: 10,
        wait: Some(prost_types::Duration { seconds: 0, nanos: 0 }),
        completions: Vec::new(),
    }
}

async fn attempts(admin: &mut AdminServiceClient<Channel>, token: &str, execution_id: &str) -> Vec<pb::TaskAttempt> {
    let request = pb::ListTaskAttemptsRequest {
        execution_id: execution_id.to_owned(),
        node_id: "n0".to_owned(),
    };
    admin
        .list_task_attempts(bearer(request, Some(token)))
        .await
        .expect("attempts")
        .into_inner()
        .attempts
}

async fn workers_see_only_their_projects_attempts_and_leases_bind_to_keys(backend: Backend) {
    let server = AuthServer::start(backend).await;
    let (alpha_execution, beta_execution) = two_projects(&server).await;
    let (_, alpha_worker) = server.key(Some("alpha"), pb::Role::Worker, None).await;
    let (beta_key, beta_worker) = server.key(Some("beta"), pb::Role::Worker, None).await;
    let (_, other_alpha_worker) = server.key(Some("alpha"), pb::Role::Worker, None).await;
    let mut worker = WorkerServiceClient::new(server.channel().await);
    let mut admin = AdminServiceClient::new(server.channel().await);

    // Both attempts wait on the same queue, beta's queued after alpha's; alpha's worker claims only alpha's.
    let claimed = worker
        .poll_tasks(bearer(poll("w"), Some(&alpha_worker)))
        .await
        .expect("poll")
        .into_inner();
    let executions: Vec<String> = claimed
        .assignments
        .iter()
        .map(|a| a.attempt.as_ref().expect("attempt").execution_id.clone())
        .collect();
    assert_eq!(
        executions,
        std::slice::from_ref(&alpha_execution),
        "alpha's worker claims alpha's attempt only"
    );
    let again = worker
        .poll_tasks(bearer(poll("w"), Some(&alpha_worker)))
        .await
        .expect("poll")
        .into_inner();
    assert!(
        again.assignments.is_empty(),
        "beta's queued attempt is not alpha's worker's to claim"
    );

    let beta_claim = worker
        .poll_tasks(bearer(poll("w"), Some(&beta_worker)))
        .await
        .expect("poll")
        .into_inner();
    assert_eq!(beta_claim.assignments.len(), 1);
    let beta_assignment = beta_claim.assignments[0].clone();
    assert_eq!(
        beta_assignment.attempt.as_ref().expect("attempt").execution_id,
        beta_execution
    );

    // Alpha's worker holding beta's lease id (and beta's worker id) can neither heartbeat nor complete it.
    let before = attempts(&mut admin, &server.admin_token, &beta_execution).await;
    let leased = pb::LeasedAttempt {
        attempt: beta_assignment.attempt.clone(),
        lease_id: beta_assignment.lease_id.clone(),
    };
    let heartbeat = pb::HeartbeatRequest {
        worker_id: "w".to_owned(),
        attempts: vec![leased.clone()],
    };
    let stolen = worker
        .heartbeat(bearer(heartbeat.clone(), Some(&alpha_worker)))
        .await
        .expect("heartbeat");
    assert_eq!(
        stolen.into_inner().statuses[0].state,
        pb::LeaseState::Lost as i32,
        "another project's lease"
    );
    let completion = pb::Completion {
        attempt: beta_assignment.attempt.clone(),
        lease_id: beta_assignment.lease_id.clone(),
        result: Some(pb::completion::Result::Outputs(
            LiteralMap::from([("y".to_owned(), Literal::Integer(7))]).into(),
        )),
    };
    let complete = pb::CompleteAttemptsRequest {
        worker_id: "w".to_owned(),
        completions: vec![completion.clone()],
    };
    for thief in [&alpha_worker, &other_alpha_worker] {
        let refused = worker
            .complete_attempts(bearer(complete.clone(), Some(thief)))
            .await
            .expect("complete");
        let result = refused.into_inner().results.remove(0);
        assert_eq!(result.status, pb::CompletionStatus::Rejected as i32);
        assert!(
            !result.message.contains(&beta_key),
            "the refusal does not name the key holding the lease: {}",
            result.message
        );
    }
    let after = attempts(&mut admin, &server.admin_token, &beta_execution).await;
    assert_eq!(before, after, "the stolen lease changed nothing");
    assert_eq!(after[0].phase, pb::AttemptPhase::Running as i32);

    // The key that claimed it heartbeats and completes it.
    let own = worker
        .heartbeat(bearer(heartbeat, Some(&beta_worker)))
        .await
        .expect("heartbeat");
    assert_eq!(own.into_inner().statuses[0].state, pb::LeaseState::Extended as i32);
    let done = worker
        .complete_attempts(bearer(complete, Some(&beta_worker)))
        .await
        .expect("complete");
    assert_eq!(
        done.into_inner().results[0].status,
        pb::CompletionStatus::Accepted as i32
    );
    server.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_see_only_their_projects_attempts_and_leases_bind_to_keys_on_postgres() {
    workers_see_only_their_projects_attempts_and_leases_bind_to_keys(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_see_only_their_projects_attempts_and_leases_bind_to_keys_on_sqlite() {
    workers_see_only_their_projects_attempts_and_leases_bind_to_keys(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_shown_once_and_stored_as_a_hash() {
    let server = AuthServer::start(Backend::Sqlite).await;
    server.project("alpha").await;
    let (id, token) = server.key(Some("alpha"), pb::Role::Viewer, None).await;
    let secret = token.rsplit('_').next().expect("secret");
    assert_eq!(secret.len(), 64, "256 bits in hex");
    assert_eq!(token, format!("gantry_{id}_{secret}"));

    let row = server
        .server
        .store()
        .await
        .get_api_key(&id)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(
        row.secret_hash,
        Sha256::digest(secret.as_bytes()).to_vec(),
        "only the secret's SHA-256"
    );
    let stored = format!("{row:?}");
    assert!(!stored.contains(secret), "the row holds no secret: {stored}");

    let mut auth = AuthServiceClient::new(server.channel().await);
    let listed = auth
        .list_api_keys(bearer(pb::ListApiKeysRequest {}, Some(&server.admin_token)))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.keys.iter().any(|key| key.id == id));
    assert!(
        !format!("{listed:?}").contains(secret),
        "a listing never shows a secret"
    );
    server.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_another_replica_within_the_cache_ttl() {
    let first = AuthServer::start(Backend::Postgres).await;
    let second = gantry_server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        database_url: first.server.database_url().map(str::to_owned),
        blob_store: first.server.blobs.display().to_string(),
        auth: AuthMode::Keys,
        ..ServerConfig::default()
    })
    .await
    .expect("second replica");
    first.project("alpha").await;
    let (id, token) = first.key(Some("alpha"), pb::Role::Viewer, None).await;
    let channel = Channel::from_shared(format!("http://{}", second.local_addr()))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects");
    let mut projects = ProjectServiceClient::new(channel);
    let list = || bearer(pb::ListProjectsRequest {}, Some(&token));
    // The second replica verifies (and caches) the key before it is revoked on the first.
    projects
        .list_projects(list())
        .await
        .expect("the key works on the second replica");
    first.revoke(&id).await;
    let revoked_at = Instant::now();
    let refused = loop {
        match projects.list_projects(list()).await {
            Err(status) => break status,
            Ok(_) if revoked_at.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(_) => panic!("the second replica still accepts a key revoked 10 s ago"),
        }
    };
    let took = revoked_at.elapsed();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("was revoked"), "{}", refused.message());
    assert!(
        took <= gantry_server::auth::keys::KEY_CACHE_TTL + Duration::from_secs(1),
        "refused after {took:?}"
    );
    second.shutdown().await.expect("second stops");
    first.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_access_is_answered_as_missing_and_listings_show_only_what_the_caller_may_see() {
    let server = AuthServer::start(Backend::Sqlite).await;
    let (alpha_execution, beta_execution) = two_projects(&server).await;
    let (_, viewer) = server.key(Some("alpha"), pb::Role::Viewer, None).await;
    let mut admin = AdminServiceClient::new(server.channel().await);
    let get = |id: &str| {
        bearer(
            pb::GetExecutionRequest {
                id: id.to_owned(),
                references: false,
            },
            Some(&viewer),
        )
    };
    admin
        .get_execution(get(&alpha_execution))
        .await
        .expect("its own project's");
    let hidden = admin
        .get_execution(get(&beta_execution))
        .await
        .expect_err("another project's");
    let missing_id = uuid::Uuid::now_v7().to_string();
    let missing = admin
        .get_execution(get(&missing_id))
        .await
        .expect_err("no such execution");
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(
        hidden.message().replace(&beta_execution, "ID"),
        missing.message().replace(&missing_id, "ID")
    );

    let list = |project: &str| {
        bearer(
            pb::ListExecutionsRequest {
                project: project.to_owned(),
                domain: "dev".to_owned(),
                ..Default::default()
            },
            Some(&viewer),
        )
    };
    let own = admin.list_executions(list("alpha")).await.expect("list").into_inner();
    assert_eq!(own.executions.len(), 1);
    let other = admin.list_executions(list("beta")).await.expect("list").into_inner();
    assert!(
        other.executions.is_empty(),
        "beta's executions are not the viewer's to see"
    );
    let mut projects = ProjectServiceClient::new(server.channel().await);
    let listed = projects
        .list_projects(bearer(pb::ListProjectsRequest {}, Some(&viewer)))
        .await
        .expect("projects")
        .into_inner();
    let ids: Vec<&str> = listed.projects.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["alpha"]);
    server.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_authentication_projects_must_exist_and_not_be_archived() {
    let server = AuthServer::start(Backend::Sqlite).await;
    let token = Some(server.admin_token.as_str());
    let mut admin = AdminServiceClient::new(server.channel().await);
    let register = |project: &str| pb::RegisterTaskRequest {
        task: Some(task(project).into_template().into()),
    };
    let unknown = admin
        .register_task(bearer(register("nowhere"), token))
        .await
        .expect_err("no such project");
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(unknown.message().contains("project nowhere"), "{}", unknown.message());

    server.project("alpha").await;
    admin
        .register_task(bearer(register("alpha"), token))
        .await
        .expect("an existing project");
    let mut projects = ProjectServiceClient::new(server.channel().await);
    let shown = projects
        .get_project(bearer(pb::GetProjectRequest { id: "alpha".into() }, token))
        .await
        .expect("describe")
        .into_inner()
        .project
        .expect("project");
    assert_eq!(shown.domains, ["dev", "staging", "prod"]);
    let mut elsewhere = task("alpha").into_template();
    elsewhere.id.domain = "research".into();
    let refused = admin
        .register_task(bearer(
            pb::RegisterTaskRequest {
                task: Some(elsewhere.into()),
            },
            token,
        ))
        .await
        .expect_err("not one of alpha's domains");
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(
        refused.message(),
        "domain research is not a domain of project alpha (dev, staging, prod)"
    );
    projects
        .archive_project(bearer(pb::ArchiveProjectRequest { id: "alpha".into() }, token))
        .await
        .expect("archive");
    let archived = admin
        .register_task(bearer(register("alpha"), token))
        .await
        .expect_err("archived");
    assert_eq!(archived.code(), Code::FailedPrecondition);
    assert!(
        archived.message().contains("project alpha is archived"),
        "{}",
        archived.message()
    );
    server.server.stop().await;
}

/// Archiving a project stops its schedules (listed inactive, with when), and activating one again is refused as an
/// execution in it would be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archiving_a_project_stops_its_schedules() {
    let server = AuthServer::start(Backend::Sqlite).await;
    let token = Some(server.admin_token.as_str());
    let mut admin = AdminServiceClient::new(server.channel().await);
    server.project("alpha").await;
    admin
        .register_task(bearer(
            pb::RegisterTaskRequest {
                task: Some(task("alpha").into_template().into()),
            },
            token,
        ))
        .await
        .expect("the task");
    let plan = LaunchPlan {
        id: Identifier::new("alpha", "dev", "hourly", "1"),
        target: Identifier::new("alpha", "dev", "t", "1"),
        target_kind: ResourceKind::Task,
        default_inputs: LiteralMap::new(),
        fixed_inputs: LiteralMap::from([("x".to_owned(), Literal::Integer(1))]),
        max_parallelism: None,
        timeout: None,
        schedule: Some(Schedule {
            kind: ScheduleKind::Cron {
                expression: "0 * * * *".to_owned(),
                time_zone: "UTC".to_owned(),
            },
            kickoff_input: None,
            catch_up: CatchUp::Skip,
        }),
    };
    let plan_id: pb::Identifier = plan.id.clone().into();
    admin
        .register_launch_plan(bearer(
            pb::RegisterLaunchPlanRequest {
                launch_plan: Some(plan.into()),
            },
            token,
        ))
        .await
        .expect("the plan");
    let activate = || {
        bearer(
            pb::ActivateScheduleRequest {
                launch_plan: Some(plan_id.clone()),
            },
            token,
        )
    };
    let active = admin
        .activate_schedule(activate())
        .await
        .expect("activate")
        .into_inner();
    assert!(active.schedule.expect("state").active);

    let mut projects = ProjectServiceClient::new(server.channel().await);
    projects
        .archive_project(bearer(pb::ArchiveProjectRequest { id: "alpha".into() }, token))
        .await
        .expect("archive");
    let listed = admin
        .list_schedules(bearer(
            pb::ListSchedulesRequest {
                project: "alpha".into(),
                domain: "dev".into(),
            },
            token,
        ))
        .await
        .expect("list")
        .into_inner()
        .schedules;
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].active, "archiving deactivated it");
    assert!(listed[0].next_ticks.is_empty(), "{:?}", listed[0].next_ticks);
    let refused = admin.activate_schedule(activate()).await.expect_err("archived");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(refused.message(), "project alpha is archived");
    server.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_developer_mode_a_project_is_created_on_first_use() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut admin = server.admin().await;
    admin
        .register_task(pb::RegisterTaskRequest {
            task: Some(task("fresh").into_template().into()),
        })
        .await
        .expect("no project needed");
    let project = server
        .store()
        .await
        .get_project("fresh")
        .await
        .expect("read")
        .expect("created");
    assert_eq!(project.archived_at, None);
    server.stop().await;
}

#[test]
fn a_server_off_loopback_without_authentication_refuses_to_start_unless_insecure() {
    let mut config = ServerConfig {
        listen: "0.0.0.0:0".parse().expect("address"),
        ..ServerConfig::default()
    };
    let refused = config.validate().expect_err("no authentication on every interface");
    assert!(
        refused.contains("--insecure") && refused.contains("--auth keys"),
        "{refused}"
    );
    config.insecure = true;
    config.validate().expect("--insecure");
    config.insecure = false;
    config.auth = AuthMode::Keys;
    config.validate().expect("with authentication");
    let loopback = ServerConfig::default();
    loopback
        .validate()
        .expect("loopback without authentication is the developer mode");
}

/// An operator of one project cannot use another project's templates through its own: a workflow referring to one, a
/// launch plan or an execution targeting one are answered as if the template were not registered. An admin can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_uses_no_template_of_a_project_it_cannot_read() {
    let server = AuthServer::start(Backend::Sqlite).await;
    two_projects(&server).await;
    let (_, operator) = server.key(Some("alpha"), pb::Role::Operator, None).await;
    let mut admin = AdminServiceClient::new(server.channel().await);
    let beta_task = Identifier::new("beta", "dev", "t", "1");
    let workflow = |name: &str| pb::RegisterWorkflowRequest {
        workflow: Some(
            WorkflowTemplate {
                id: Identifier::new("alpha", "dev", name, "1"),
                interface: TypedInterface {
                    inputs: vec![Variable::new("x", LiteralType::Integer)],
                    outputs: vec![Variable::new("y", LiteralType::Integer)],
                },
                nodes: vec![Node::task(
                    "n0",
                    beta_task.clone(),
                    vec![Binding::promise("x", "", "x")],
                )],
                outputs: vec![Binding::promise("y", "n0", "y")],
                failure_policy: FailurePolicy::FailImmediately,
            }
            .into(),
        ),
    };
    let plan = pb::RegisterLaunchPlanRequest {
        launch_plan: Some(
            LaunchPlan {
                id: Identifier::new("alpha", "dev", "borrowed", "1"),
                target: beta_task.clone(),
                target_kind: ResourceKind::Task,
                default_inputs: LiteralMap::new(),
                fixed_inputs: LiteralMap::new(),
                max_parallelism: None,
                timeout: None,
                schedule: None,
            }
            .into(),
        ),
    };
    let run = pb::CreateExecutionRequest {
        project: "alpha".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(beta_task.clone().into())),
        inputs: Some(LiteralMap::from([("x".to_owned(), Literal::Integer(1))]).into()),
        ..Default::default()
    };
    let not_registered = "task beta/dev/t@1 is not registered";
    let refusals = [
        admin
            .register_workflow(bearer(workflow("borrows"), Some(&operator)))
            .await
            .map(|_| ()),
        admin
            .register_launch_plan(bearer(plan.clone(), Some(&operator)))
            .await
            .map(|_| ()),
        admin
            .create_execution(bearer(run.clone(), Some(&operator)))
            .await
            .map(|_| ()),
    ];
    for refused in refusals {
        let status = refused.expect_err("beta's task is not alpha's operator's to use");
        assert_eq!((status.code(), status.message()), (Code::NotFound, not_registered));
    }
    let listed = admin
        .list_workflows(bearer(
            pb::ListWorkflowsRequest {
                project: "alpha".into(),
                domain: "dev".into(),
                ..Default::default()
            },
            Some(&server.admin_token),
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.workflows.is_empty(), "nothing was registered");

    let token = Some(server.admin_token.as_str());
    admin
        .register_workflow(bearer(workflow("admin_borrows"), token))
        .await
        .expect("an admin reads every project");
    admin
        .register_launch_plan(bearer(plan, token))
        .await
        .expect("launch plan");
    admin.create_execution(bearer(run, token)).await.expect("execution");
    server.server.stop().await;
}

/// The error an alpha execution of `t` fails with when its attempt returns `spec` (worker key `worker`).
async fn spec_error(server: &AuthServer, worker: &str, spec: DynamicJobSpec) -> pb::ExecutionError {
    let token = Some(server.admin_token.as_str());
    let mut admin = AdminServiceClient::new(server.channel().await);
    let execution = admin
        .create_execution(bearer(run_t("alpha"), token))
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution")
        .id;
    let mut workers = WorkerServiceClient::new(server.channel().await);
    let claimed = workers
        .poll_tasks(bearer(poll("w"), Some(worker)))
        .await
        .expect("poll")
        .into_inner();
    let [assignment] = claimed.assignments.as_slice() else {
        panic!("one attempt: {:?}", claimed.assignments);
    };
    let complete = pb::CompleteAttemptsRequest {
        worker_id: "w".to_owned(),
        completions: vec![pb::Completion {
            attempt: assignment.attempt.clone(),
            lease_id: assignment.lease_id.clone(),
            result: Some(pb::completion::Result::DynamicSpec(spec.into())),
        }],
    };
    let done = workers
        .complete_attempts(bearer(complete, Some(worker)))
        .await
        .expect("complete")
        .into_inner();
    assert_eq!(done.results[0].status, pb::CompletionStatus::Accepted as i32);
    let watch = pb::WatchExecutionRequest {
        execution_id: execution.clone(),
        include_snapshot: false,
        after_sequence: 0,
    };
    let mut changes = admin
        .watch_execution(bearer(watch, token))
        .await
        .expect("watch")
        .into_inner();
    while changes.message().await.expect("watch message").is_some() {}
    let request = pb::GetExecutionRequest {
        id: execution,
        ..Default::default()
    };
    let execution = admin
        .get_execution(bearer(request, token))
        .await
        .expect("execution")
        .into_inner()
        .execution
        .expect("execution");
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    execution.error.expect("error")
}

/// A worker's dynamic spec refers only to its own project's registered templates and embeds only templates of its
/// own project: another project's fails the node as not registered, or as not of the project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_spec_uses_no_template_of_another_project() {
    let server = AuthServer::start(Backend::Sqlite).await;
    for project in ["alpha", "beta"] {
        server.project(project).await;
        let register = pb::RegisterTaskRequest {
            task: Some(task(project).into_template().into()),
        };
        AdminServiceClient::new(server.channel().await)
            .register_task(bearer(register, Some(&server.admin_token)))
            .await
            .expect("register");
    }
    let (_, worker) = server.key(Some("alpha"), pb::Role::Worker, None).await;
    let embedded = |project: &str| {
        let mut template = task(project).into_template();
        template.id.name = "embedded".into();
        template
    };
    let spec = |tasks: Vec<TaskTemplate>, targets: &[Identifier]| DynamicJobSpec {
        nodes: targets
            .iter()
            .enumerate()
            .map(|(i, id)| {
                Node::task(
                    format!("n{i}"),
                    id.clone(),
                    vec![Binding::literal("x", Literal::Integer(1))],
                )
            })
            .collect(),
        min_successes: None,
        outputs: vec![Binding::promise("y", "n0", "y")],
        tasks,
        subworkflows: Vec::new(),
    };

    let own = embedded("alpha");
    let beta_task = Identifier::new("beta", "dev", "t", "1");
    let error = spec_error(&server, &worker, spec(vec![own.clone()], &[own.id.clone(), beta_task])).await;
    assert_eq!(error.code, "compile_error");
    assert!(
        error
            .message
            .contains("task beta/dev/t@1 is neither registered nor embedded")
            && !error.message.contains("embedded@"),
        "{}",
        error.message
    );

    let foreign = embedded("beta");
    let error = spec_error(&server, &worker, spec(vec![foreign.clone()], &[foreign.id])).await;
    assert_eq!(error.code, "compile_error");
    assert!(
        error
            .message
            .contains("embedded task beta/dev/embedded@1 is not of project alpha"),
        "{}",
        error.message
    );
    server.server.stop().await;
}
