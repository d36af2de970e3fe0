//! The audit log, end to end on both stores: every audited RPC leaves one entry with its principal, target and
//! outcome (refusals included), reads leave none, no entry holds an input value (a literal the request carried, or one
//! a refusal's message would quote), and `ListAuditEntries` filters by principal, project, RPC and time and pages.
//! A write that fails fails the call, saying how the call itself ended.

use gantry_core::model::{Literal, LiteralMap, LiteralType, ResourceKind};
use gantry_proto::v1 as pb;
use gantry_proto::v1::audit_service_client::AuditServiceClient;
use gantry_proto::v1::auth_service_client::AuthServiceClient;
use gantry_proto::v1::project_service_client::ProjectServiceClient;
use gantry_tests::auth::{AuthServer, bearer};
use gantry_tests::principals::{self, Audit};
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{Backend, TestServer};
use tonic::Code;

/// What an input value holds that must never reach the audit log.
const SECRET: &str = "hunter2-do-not-log";

fn secret_task() -> gantry_core::model::TaskTemplate {
    raw_worker::template(
        "secret_task",
        &[("password", LiteralType::String)],
        &[("out", LiteralType::Integer)],
    )
}

fn secret_inputs() -> Option<pb::LiteralMap> {
    Some(LiteralMap::from([("password".to_owned(), Literal::String(SECRET.to_owned()))]).into())
}

fn run_secret(name: &str) -> pb::CreateExecutionRequest {
    pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        name: name.into(),
        target: Some(pb::create_execution_request::Target::Task(id("secret_task").into())),
        inputs: secret_inputs(),
        ..Default::default()
    }
}

fn list(principal: &str, project: &str, rpc: &str) -> pb::ListAuditEntriesRequest {
    pb::ListAuditEntriesRequest {
        principal: principal.into(),
        project: project.into(),
        rpc: rpc.into(),
        ..Default::default()
    }
}

/// Every entry the filter lists, page by page (`page_size` a page), newest first.
async fn all(audit: &mut Audit, mut request: pb::ListAuditEntriesRequest, page_size: u32) -> Vec<pb::AuditEntry> {
    request.page_size = page_size;
    let mut entries = Vec::new();
    loop {
        let page = audit
            .list_audit_entries(request.clone())
            .await
            .expect("list audit entries")
            .into_inner();
        assert!(page.entries.len() <= page_size as usize);
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            return entries;
        }
        request.page_token = page.next_page_token;
    }
}

/// `principal rpc outcome` of each entry, oldest first.
fn lines(entries: &[pb::AuditEntry]) -> Vec<String> {
    entries
        .iter()
        .rev()
        .map(|e| format!("{} {} {}", e.principal, e.rpc, e.outcome))
        .collect()
}

async fn every_mutation_is_audited(backend: Backend) {
    let server = TestServer::start_identified(backend, |_| {}, Some(principals::identify())).await;
    let mut alice = principals::admin(&server, "alice").await;
    let mut bob = principals::admin(&server, "bob").await;
    let mut auditor = principals::audit(&server, "root").await;

    alice
        .register_task(pb::RegisterTaskRequest {
            task: Some(secret_task().into()),
        })
        .await
        .expect("register task");
    let plan = gantry_core::model::LaunchPlan {
        id: id("secret_plan"),
        target: id("secret_task"),
        target_kind: ResourceKind::Task,
        default_inputs: LiteralMap::new(),
        fixed_inputs: LiteralMap::from([("password".to_owned(), Literal::String(SECRET.to_owned()))]),
        max_parallelism: None,
        timeout: None,
        schedule: None,
    };
    alice
        .register_launch_plan(pb::RegisterLaunchPlanRequest {
            launch_plan: Some(plan.into()),
        })
        .await
        .expect("register launch plan");
    let refused = bob
        .register_workflow(pb::RegisterWorkflowRequest { workflow: None })
        .await
        .expect_err("a workflow is required");
    assert_eq!(refused.code(), Code::InvalidArgument);

    let created = alice
        .create_execution(run_secret("first"))
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution");
    // A refusal whose message would quote the value: an enum input given a value outside it.
    let mut wrong = run_secret("wrong");
    wrong.target = Some(pb::create_execution_request::Target::Task(id("other_task").into()));
    wrong.inputs = Some(LiteralMap::from([("index".to_owned(), Literal::String(SECRET.to_owned()))]).into());
    let refused = bob.create_execution(wrong).await.expect_err("not registered");
    assert!(matches!(refused.code(), Code::NotFound | Code::InvalidArgument));

    bob.terminate_execution(pb::TerminateExecutionRequest {
        id: created.id.clone(),
        reason: "stop it".into(),
    })
    .await
    .expect("terminate");
    let relaunched = alice
        .relaunch_execution(pb::RelaunchExecutionRequest {
            id: created.id.clone(),
            name: "again".into(),
            overwrite_cache: false,
        })
        .await
        .expect("relaunch")
        .into_inner()
        .execution
        .expect("execution");
    let recovered = alice
        .recover_execution(pb::RecoverExecutionRequest {
            id: created.id.clone(),
            name: "recovered".into(),
        })
        .await
        .expect("recover")
        .into_inner()
        .execution
        .expect("execution");
    let missing = uuid::Uuid::now_v7().to_string();
    let refused = bob
        .terminate_execution(pb::TerminateExecutionRequest {
            id: missing.clone(),
            reason: String::new(),
        })
        .await
        .expect_err("no such execution");
    assert_eq!(refused.code(), Code::NotFound);

    let entries = all(&mut auditor, list("", "", ""), 100).await;
    assert_eq!(
        lines(&entries),
        [
            "alice RegisterTask OK",
            "alice RegisterLaunchPlan OK",
            "bob RegisterWorkflow INVALID_ARGUMENT",
            "alice CreateExecution OK",
            format!("bob CreateExecution {}", refused_code(&entries)).as_str(),
            "bob TerminateExecution OK",
            "alice RelaunchExecution OK",
            "alice RecoverExecution OK",
            "bob TerminateExecution NOT_FOUND",
        ]
    );
    let by_rpc = |rpc: &str, outcome: &str| {
        entries
            .iter()
            .find(|e| e.rpc == rpc && e.outcome == outcome)
            .unwrap_or_else(|| panic!("an entry of {rpc} {outcome}"))
    };
    let task = by_rpc("RegisterTask", "OK");
    assert_eq!(
        (task.project.as_str(), task.domain.as_str(), task.target.as_str()),
        ("demo", "dev", "secret_task@1")
    );
    assert_eq!(task.summary, "task; inputs: password; outputs: out");
    let plan = by_rpc("RegisterLaunchPlan", "OK");
    assert_eq!(
        plan.summary,
        "launch plan; of demo/dev/secret_task@1; fixed inputs: password"
    );
    let create = by_rpc("CreateExecution", "OK");
    assert_eq!(create.target, created.id, "the execution created");
    assert_eq!(
        create.summary,
        "task demo/dev/secret_task@1; inputs: password; name \"first\""
    );
    let terminate = by_rpc("TerminateExecution", "OK");
    assert_eq!(
        (terminate.project.as_str(), terminate.target.as_str()),
        ("demo", created.id.as_str())
    );
    assert_eq!(terminate.summary, "reason \"stop it\"");
    let relaunch = by_rpc("RelaunchExecution", "OK");
    assert_eq!(relaunch.target, created.id, "the execution relaunched");
    assert!(relaunch.summary.contains(&relaunched.id), "{}", relaunch.summary);
    assert!(by_rpc("RecoverExecution", "OK").summary.contains(&recovered.id));
    let not_found = by_rpc("TerminateExecution", "NOT_FOUND");
    assert_eq!(not_found.target, missing);
    assert!(not_found.message.contains("not found"), "{}", not_found.message);
    for entry in &entries {
        assert!(
            !format!("{entry:?}").contains("hunter2"),
            "an input value in the audit log: {entry:?}"
        );
        uuid::Uuid::parse_str(&entry.id).expect("a UUID id");
        assert!(entry.time.is_some());
    }

    // Reads and watches leave nothing.
    let before = entries.len();
    alice
        .get_execution(pb::GetExecutionRequest {
            id: created.id.clone(),
            ..Default::default()
        })
        .await
        .expect("get");
    alice
        .list_executions(pb::ListExecutionsRequest {
            project: "demo".into(),
            domain: "dev".into(),
            ..Default::default()
        })
        .await
        .expect("list");
    alice
        .get_task(pb::GetTaskRequest {
            id: Some(id("secret_task").into()),
        })
        .await
        .expect("get task");
    let mut watch = alice
        .watch_execution(pb::WatchExecutionRequest {
            execution_id: created.id.clone(),
            include_snapshot: true,
            after_sequence: 0,
        })
        .await
        .expect("watch")
        .into_inner();
    while watch.message().await.expect("watch message").is_some() {}
    assert_eq!(all(&mut auditor, list("", "", ""), 100).await.len(), before);

    // Filters, alone and together, and pages of two.
    assert_eq!(
        lines(&all(&mut auditor, list("bob", "", ""), 2).await),
        [
            "bob RegisterWorkflow INVALID_ARGUMENT",
            format!("bob CreateExecution {}", refused_code(&entries)).as_str(),
            "bob TerminateExecution OK",
            "bob TerminateExecution NOT_FOUND",
        ]
    );
    assert_eq!(
        lines(&all(&mut auditor, list("alice", "demo", "CreateExecution"), 2).await),
        ["alice CreateExecution OK"]
    );
    assert_eq!(
        all(&mut auditor, list("", "demo", ""), 2).await.len(),
        7,
        "all but the workflow without an id and the unknown execution"
    );
    assert!(all(&mut auditor, list("carol", "", ""), 2).await.is_empty());
    let paged = all(&mut auditor, list("", "", ""), 2).await;
    assert_eq!(paged, entries, "pages of two list what one page does");
    let relaunch_time = relaunch.time.expect("time");
    let since_relaunch = pb::ListAuditEntriesRequest {
        since: Some(relaunch_time),
        ..Default::default()
    };
    let millis = |e: &pb::AuditEntry| {
        let time = e.time.expect("time");
        time.seconds * 1_000 + i64::from(time.nanos) / 1_000_000
    };
    let at = millis(relaunch);
    let later = all(&mut auditor, since_relaunch, 100).await;
    assert!(later.iter().all(|e| millis(e) >= at), "since is inclusive");
    assert!(later.iter().any(|e| e.rpc == "RelaunchExecution"));
    assert_eq!(
        lines(&later).last().map(String::as_str),
        Some("bob TerminateExecution NOT_FOUND")
    );
    let before_relaunch = pb::ListAuditEntriesRequest {
        until: Some(relaunch_time),
        ..Default::default()
    };
    let earlier = all(&mut auditor, before_relaunch, 100).await;
    assert!(earlier.iter().all(|e| millis(e) < at), "until is exclusive");
    assert!(earlier.iter().any(|e| e.rpc == "RegisterTask"));
    assert_eq!(earlier.len() + later.len(), entries.len());

    for (request, field) in [
        (list("", "", "GetExecution"), "rpc"),
        (list("", "Not A Project", ""), "project"),
        (
            pb::ListAuditEntriesRequest {
                since: Some(relaunch_time),
                until: Some(relaunch_time),
                ..Default::default()
            },
            "until",
        ),
        (
            pb::ListAuditEntriesRequest {
                page_token: "made-up".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        let refused = auditor.list_audit_entries(request).await.expect_err(field);
        assert_eq!(refused.code(), Code::InvalidArgument, "{field}: {refused:?}");
        assert!(refused.message().contains(field), "{field}: {}", refused.message());
    }
    server.stop().await;
}

/// The code the server answered bob's creation of an unregistered task with (the entry records it as it was).
fn refused_code(entries: &[pb::AuditEntry]) -> String {
    entries
        .iter()
        .find(|e| e.principal == "bob" && e.rpc == "CreateExecution")
        .map(|e| e.outcome.clone())
        .expect("bob's creation")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_is_audited_on_postgres() {
    every_mutation_is_audited(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_is_audited_on_sqlite() {
    every_mutation_is_audited(Backend::Sqlite).await;
}

/// A refusal whose message quotes the value (an enum input given a string outside it) is recorded with the value
/// withheld.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_quoting_an_input_value_is_recorded_without_it() {
    let server = TestServer::start_identified(Backend::Sqlite, |_| {}, Some(principals::identify())).await;
    let mut alice = principals::admin(&server, "alice").await;
    let colour = raw_worker::template(
        "colour_task",
        &[("colour", LiteralType::Enum(vec!["red".into(), "blue".into()]))],
        &[("out", LiteralType::Integer)],
    );
    gantry_tests::client::register_task(&mut server.admin().await, colour).await;
    let mut wrong = run_secret("wrong");
    wrong.target = Some(pb::create_execution_request::Target::Task(id("colour_task").into()));
    wrong.inputs = Some(LiteralMap::from([("colour".to_owned(), Literal::String(SECRET.to_owned()))]).into());
    let refused = alice
        .create_execution(wrong)
        .await
        .expect_err("not one of the enum's values");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains(SECRET),
        "the client is told: {}",
        refused.message()
    );
    let mut auditor = principals::audit(&server, "root").await;
    let entries = all(&mut auditor, list("alice", "", "CreateExecution"), 10).await;
    let [entry] = entries.as_slice() else {
        panic!("one entry: {entries:?}")
    };
    assert_eq!(entry.outcome, "INVALID_ARGUMENT");
    assert!(!entry.message.contains(SECRET), "{}", entry.message);
    assert!(
        entry.message.starts_with("input \"colour\": … (the rest withheld"),
        "{}",
        entry.message
    );
    server.stop().await;
}

/// A failed audit write fails a call that succeeded, saying so (the change was made, and the next call, with the
/// table back, is audited again); a refused call keeps its own error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_audit_write_fails_the_call() {
    let server = TestServer::start(Backend::Postgres).await;
    let mut admin = server.admin().await;
    let gantry_tests::records::Db::Postgres(db) = server.records_db().await else {
        unreachable!("a Postgres server")
    };
    sqlx::query("ALTER TABLE audit_entries RENAME TO audit_entries_away")
        .execute(&db)
        .await
        .expect("move the table away");
    let refused = admin
        .register_task(pb::RegisterTaskRequest {
            task: Some(secret_task().into()),
        })
        .await
        .expect_err("not audited, not answered");
    assert_eq!(refused.code(), Code::Internal);
    assert_eq!(
        refused.message(),
        "audit log: the entry of this RegisterTask could not be written (storage failure); the call itself \
         succeeded (secret_task@1): check before repeating it"
    );
    let missing = admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id: uuid::Uuid::now_v7().to_string(),
            reason: String::new(),
        })
        .await
        .expect_err("no such execution");
    assert_eq!(missing.code(), Code::NotFound, "its own error: {missing:?}");
    sqlx::query("ALTER TABLE audit_entries_away RENAME TO audit_entries")
        .execute(&db)
        .await
        .expect("the table back");
    let again = admin
        .register_task(pb::RegisterTaskRequest {
            task: Some(secret_task().into()),
        })
        .await
        .expect("registered before: the same template again")
        .into_inner();
    assert!(!again.created, "the first call's change was made");
    let mut auditor = principals::audit(&server, "developer").await;
    let entries = all(&mut auditor, list("developer", "", ""), 10).await;
    assert_eq!(lines(&entries), ["developer RegisterTask OK"]);
    db.close().await;
    server.stop().await;
}

/// The key and project RPCs are audited under the key that made them, with the new key's id as the target and never
/// a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_projects_are_audited_without_tokens() {
    let server = AuthServer::start(Backend::Sqlite).await;
    let admin = server.admin_token.clone();
    let admin_id = admin.split('_').nth(1).expect("the token names its key").to_owned();
    let channel = server.channel().await;
    let mut projects = ProjectServiceClient::new(channel.clone());
    let mut keys = AuthServiceClient::new(channel.clone());
    let project = |id: &str| pb::CreateProjectRequest {
        id: id.into(),
        ..Default::default()
    };
    projects
        .create_project(bearer(project("ledger"), Some(&admin)))
        .await
        .expect("create project");
    let created = keys
        .create_api_key(bearer(
            pb::CreateApiKeyRequest {
                project: "ledger".into(),
                role: pb::Role::Viewer as i32,
                expires_in: None,
                description: "reader".into(),
            },
            Some(&admin),
        ))
        .await
        .expect("create key")
        .into_inner();
    let key_id = created.key.expect("key").id;
    keys.revoke_api_key(bearer(pb::RevokeApiKeyRequest { id: key_id.clone() }, Some(&admin)))
        .await
        .expect("revoke");
    let archive = |id: &str| pb::ArchiveProjectRequest { id: id.into() };
    projects
        .archive_project(bearer(archive("ledger"), Some(&admin)))
        .await
        .expect("archive");
    let refused = projects
        .archive_project(bearer(archive("nowhere"), Some(&admin)))
        .await
        .expect_err("no such project");
    assert_eq!(refused.code(), Code::NotFound);

    let request = pb::ListAuditEntriesRequest {
        principal: admin_id,
        page_size: 100,
        ..Default::default()
    };
    let entries = AuditServiceClient::new(channel)
        .list_audit_entries(bearer(request, Some(&admin)))
        .await
        .expect("list")
        .into_inner()
        .entries;
    let got: Vec<(&str, &str, &str)> = entries
        .iter()
        .rev()
        .map(|e| (e.rpc.as_str(), e.target.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("CreateProject", "ledger", "OK"),
            ("CreateApiKey", key_id.as_str(), "OK"),
            ("RevokeApiKey", key_id.as_str(), "OK"),
            ("ArchiveProject", "ledger", "OK"),
            ("ArchiveProject", "nowhere", "NOT_FOUND"),
        ]
    );
    let secret = |token: &str| token.rsplit('_').next().expect("secret").to_owned();
    for entry in &entries {
        let text = format!("{entry:?}");
        assert!(!text.contains(&secret(&created.token)), "no new key's secret: {text}");
        assert!(!text.contains(&secret(&admin)), "no caller's secret: {text}");
    }
}
