//! ListExecutions' filters through gRPC on both stores: by target (every version, or one), by creation time, by a
//! search of names and ids, together and paged; and each malformed filter refused naming its field.

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin, task_request};
use gantry_tests::{Backend, TestServer};
use tonic::Code;

fn list(configure: impl FnOnce(&mut pb::ListExecutionsRequest)) -> pb::ListExecutionsRequest {
    let mut request = pb::ListExecutionsRequest {
        project: "demo".into(),
        domain: "dev".into(),
        ..Default::default()
    };
    configure(&mut request);
    request
}

/// Every page of a listing, `page_size` at a time, as names.
async fn names(admin: &mut Admin, mut request: pb::ListExecutionsRequest) -> Vec<String> {
    let mut names = Vec::new();
    loop {
        let page = admin.list_executions(request.clone()).await.expect("list").into_inner();
        names.extend(page.executions.iter().map(|execution| execution.name.clone()));
        if page.next_page_token.is_empty() {
            return names;
        }
        request.page_token = page.next_page_token;
    }
}

fn created_ms(execution: &pb::Execution) -> i64 {
    let time = execution.created_at.expect("created_at");
    time.seconds * 1_000 + i64::from(time.nanos) / 1_000_000
}

fn task(name: &str, version: &str) -> pb::ExecutionTargetFilter {
    pb::ExecutionTargetFilter {
        r#type: pb::ResourceType::Task as i32,
        name: name.into(),
        version: version.into(),
        ..Default::default()
    }
}

async fn executions_list_by_target_time_and_search(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    let mut created = Vec::new();
    for (name, task) in [
        ("nightly-1", "other_task"),
        ("nightly-2", "other_task"),
        ("adhoc", "deep"),
    ] {
        let mut request = task_request(name, task, Literal::Integer(1));
        if task == "deep" {
            request.inputs = Some(LiteralMap::from([("depth".to_owned(), Literal::Integer(0))]).into());
        }
        created.push(client::submit(&mut admin, request).await);
    }

    let by_task = |name: &str, version: &str| list(|r| r.target = Some(task(name, version)));
    assert_eq!(
        names(&mut admin, by_task("other_task", "")).await,
        ["nightly-2", "nightly-1"]
    );
    assert_eq!(
        names(&mut admin, by_task("other_task", "1")).await,
        ["nightly-2", "nightly-1"]
    );
    assert!(names(&mut admin, by_task("other_task", "2")).await.is_empty());
    assert_eq!(names(&mut admin, by_task("deep", "")).await, ["adhoc"]);
    let as_workflow = list(|r| {
        r.target = Some(pb::ExecutionTargetFilter {
            r#type: pb::ResourceType::Workflow as i32,
            ..task("other_task", "")
        })
    });
    assert!(names(&mut admin, as_workflow).await.is_empty());

    let search = |text: &str| list(|r| r.search = text.into());
    assert_eq!(names(&mut admin, search("nightly")).await, ["nightly-2", "nightly-1"]);
    assert_eq!(names(&mut admin, search(&created[2].id)).await, ["adhoc"]);
    assert!(names(&mut admin, search("nightly-3")).await.is_empty());

    // Creation times: each listing equals the unfiltered one cut at the same times by the executions' own
    // `created_at`, whatever milliseconds they happened to share.
    let everything = admin
        .list_executions(list(|_| {}))
        .await
        .expect("list")
        .into_inner()
        .executions;
    let since = created[1].created_at.expect("created_at");
    let expected: Vec<String> = everything
        .iter()
        .filter(|execution| created_ms(execution) >= created_ms(&created[1]))
        .map(|execution| execution.name.clone())
        .collect();
    let after = names(&mut admin, list(|r| r.created_after = Some(since))).await;
    assert_eq!(after, expected);
    assert!(after.contains(&"nightly-2".to_owned()) && after.contains(&"adhoc".to_owned()));
    let before = names(&mut admin, list(|r| r.created_before = Some(since))).await;
    assert_eq!(before.len() + after.len(), 3);
    assert!(!before.contains(&"nightly-2".to_owned()));

    // Filters together, one execution a page: the tokens step through the same listing.
    let together = list(|r| {
        r.search = "nightly".into();
        r.target = Some(task("other_task", "1"));
        r.created_after = Some(created[0].created_at.expect("created_at"));
        r.page_size = 1;
    });
    assert_eq!(names(&mut admin, together).await, ["nightly-2", "nightly-1"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_list_by_target_time_and_search_on_sqlite() {
    executions_list_by_target_time_and_search(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_list_by_target_time_and_search_on_postgres() {
    executions_list_by_target_time_and_search(Backend::Postgres).await;
}

/// Each malformed filter is INVALID_ARGUMENT naming its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_execution_filters_are_refused_naming_the_field() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut admin = server.admin().await;
    let at = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
    let cases = [
        (
            "target.type",
            list(|r| {
                r.target = Some(pb::ExecutionTargetFilter {
                    r#type: 0,
                    ..task("t", "")
                })
            }),
        ),
        ("target.name", list(|r| r.target = Some(task("", "")))),
        ("target.name", list(|r| r.target = Some(task("t@1", "")))),
        ("target.version", list(|r| r.target = Some(task("t", "1\u{0}")))),
        (
            "target.project",
            list(|r| {
                r.target = Some(pb::ExecutionTargetFilter {
                    project: "Demo".into(),
                    ..task("t", "")
                })
            }),
        ),
        ("search", list(|r| r.search = "nightly run".into())),
        (
            "created_before",
            list(|r| {
                r.created_after = Some(at(10));
                r.created_before = Some(at(10));
            }),
        ),
    ];
    for (field, request) in cases {
        let status = admin.list_executions(request).await.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {}", status.message());
        assert!(status.message().contains(field), "{field}: {}", status.message());
    }
    server.stop().await;
}
