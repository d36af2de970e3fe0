//! `gantry audit list` against the real server: entries of several principals (made through the test header of
//! `gantry_tests::principals`, and by the CLI itself as the developer), as a table and as JSON, with every filter
//! and a limit smaller than what there is; an empty listing said in words, a refused filter named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use gantry_core::model::Literal;
use gantry_proto::v1 as pb;
use gantry_tests::client::task_request;
use gantry_tests::{Backend, TestServer, principals, raw_worker};
use serde_json::Value;

const SEED_YAML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../gantry-examples/seed.yaml");

async fn gantry(server: &TestServer, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--endpoint", server.endpoint.as_str()];
    all.extend_from_slice(args);
    common::gantry(&all, &[]).await
}

async fn json(server: &TestServer, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--output", "json", "audit", "list"];
    all.extend_from_slice(args);
    let output = gantry(server, &all).await;
    let listed: Value = serde_json::from_str(&common::stdout(&output)).expect("JSON on stdout");
    listed.as_array().expect("an array").clone()
}

/// `principal rpc outcome` of each entry, newest first.
fn lines(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["principal"].as_str().unwrap(),
                e["rpc"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_list_shows_who_did_what_as_a_table_and_as_json() {
    let server = TestServer::start_identified(Backend::Sqlite, |_| {}, Some(principals::identify())).await;
    common::stdout(&gantry(&server, &["register", SEED_YAML]).await);
    let mut alice = principals::admin(&server, "alice").await;
    let created = alice
        .create_execution(task_request("audited", "other_task", Literal::Integer(7)))
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution");
    let mut bob = principals::admin(&server, "bob").await;
    bob.terminate_execution(pb::TerminateExecutionRequest {
        id: created.id.clone(),
        reason: String::new(),
    })
    .await
    .expect("terminate");
    let refused = bob
        .create_execution(pb::CreateExecutionRequest {
            target: Some(pb::create_execution_request::Target::Task(
                raw_worker::id("nope").into(),
            )),
            ..task_request("", "nope", Literal::Integer(1))
        })
        .await
        .expect_err("not registered");
    assert_eq!(refused.code(), tonic::Code::NotFound);

    let everything = json(&server, &[]).await;
    assert_eq!(
        lines(&everything),
        [
            "bob CreateExecution NOT_FOUND",
            "bob TerminateExecution OK",
            "alice CreateExecution OK",
            "developer RegisterTask OK",
            "developer RegisterTask OK",
        ]
    );
    let create = &everything[2];
    assert_eq!(create["target"], created.id.as_str());
    assert_eq!(create["project"], "demo");
    assert_eq!(
        create["summary"],
        "task demo/dev/other_task@1; inputs: index; name \"audited\""
    );
    assert!(!create["id"].as_str().unwrap().is_empty());
    assert!(create["time"].as_str().unwrap().ends_with('Z'));
    assert!(everything[0]["message"].as_str().unwrap().contains("nope"));

    assert_eq!(lines(&json(&server, &["--principal", "bob"]).await).len(), 2);
    assert_eq!(
        lines(&json(&server, &["--rpc", "CreateExecution", "--project", "demo"]).await),
        ["bob CreateExecution NOT_FOUND", "alice CreateExecution OK"]
    );
    assert_eq!(
        lines(&json(&server, &["--limit", "1"]).await),
        ["bob CreateExecution NOT_FOUND"]
    );
    assert_eq!(
        json(&server, &["--since", "1h", "--limit", "3"]).await.len(),
        3,
        "pages of a limit"
    );
    assert!(json(&server, &["--until", "2000-01-01T00:00:00Z"]).await.is_empty());

    let table = common::stdout(&gantry(&server, &["audit", "list", "--principal", "alice"]).await);
    for expected in [
        "TIME",
        "PRINCIPAL",
        "RPC",
        "TARGET",
        "OUTCOME",
        "SUMMARY",
        "alice",
        "CreateExecution",
        "OK",
    ] {
        assert!(table.contains(expected), "{expected} in {table}");
    }
    assert!(table.contains(&format!("demo/dev {}", created.id)), "{table}");
    assert!(!table.contains("bob"), "{table}");

    let empty = gantry(&server, &["audit", "list", "--principal", "carol"]).await;
    assert!(common::stdout(&empty).is_empty());
    assert_eq!(
        String::from_utf8_lossy(&empty.stderr).trim(),
        "no audit entries of principal carol"
    );
    let refused = gantry(&server, &["audit", "list", "--rpc", "GetTask"]).await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("rpc: \"GetTask\" is not an audited method"), "{said}");
    let bad_time = gantry(&server, &["audit", "list", "--since", "yesterday"]).await;
    assert!(!bad_time.status.success());
    assert!(String::from_utf8_lossy(&bad_time.stderr).contains("neither an RFC 3339 datetime nor a duration"));
    server.stop().await;
}
