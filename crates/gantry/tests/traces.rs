//! Traces across processes: the real `gantry server` and a separate worker process (the example worker's code, on the
//! Rust SDK with its `otel` feature) both export to an OTLP receiver running in this test; one client span submits
//! the seed, and the spans must form one trace: the submission, the generator's attempt, its ten children's
//! attempts and the assemblies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use gantry_core::model::{Identifier, Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use gantry_tests::otlp::{OtlpReceiver, ReceivedSpan};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
/// Exporters send what they hold this often, so that the test need not wait for the SDK's default 5 s.
const SCHEDULE_DELAY_MS: &str = "100";

/// Starts `command` with no GANTRY_* settings of the environment, and returns it with the rest of the first stdout
/// line holding `prefix`, after it.
async fn start(mut command: Command, prefix: &str) -> (Child, String) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GANTRY_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .env("OTEL_BSP_SCHEDULE_DELAY", SCHEDULE_DELAY_MS)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the process starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // The test harness prints `test worker_process ... ` before the worker's own line.
            if let Some((_, rest)) = line.split_once(prefix) {
                return rest.trim().to_owned();
            }
        }
        panic!("the process exited before printing {prefix:?}");
    })
    .await
    .expect("the process was ready within a minute");
    // Keep reading, so that the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, found)
}

fn ancestors<'a>(span: &'a ReceivedSpan, by_id: &'a HashMap<&str, &ReceivedSpan>) -> Vec<&'a str> {
    let mut chain = Vec::new();
    let mut parent = span.parent_span_id.as_str();
    while !parent.is_empty() {
        chain.push(parent);
        parent = by_id
            .get(parent)
            .map(|span| span.parent_span_id.as_str())
            .unwrap_or_default();
    }
    chain
}

fn is_child_attempt(span: &ReceivedSpan) -> bool {
    span.name == "attempt" && span.attribute("task") == "other_task"
}

/// Not a test: the worker process of `one_trace_spans_the_submission_the_attempts_and_the_assembly`, which starts
/// it with `GANTRY_TEST_WORKER_ENDPOINT` set (ignored otherwise). It does what `gantry-example-worker` does: the
/// telemetry set up from the flags' environment, the example tasks served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the worker process of the traces test, which starts it"]
async fn worker_process() {
    let Ok(endpoint) = std::env::var("GANTRY_TEST_WORKER_ENDPOINT") else {
        return;
    };
    let config = gantry_telemetry::TelemetryConfig {
        log_format: gantry_telemetry::LogFormat::Text,
        log_filter: "warn".to_owned(),
        otlp_endpoint: std::env::var("GANTRY_OTLP_ENDPOINT").ok(),
        service_name: gantry_telemetry::service::WORKER.to_owned(),
    };
    let telemetry = gantry_telemetry::init(config).expect("telemetry");
    let worker = gantry_examples::seed_worker(&endpoint).concurrency(4).build().unwrap();
    worker.register_tasks().await.unwrap();
    println!("worker ready");
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    // Until the test closes stdin; then the spans still buffered are exported before exiting.
    worker
        .run(async move { while let Ok(Some(_)) = stdin.next_line().await {} })
        .await
        .unwrap();
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_spans_the_submission_the_attempts_and_the_assembly() {
    let receiver = OtlpReceiver::start(true).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(common::GANTRY);
    server
        .args([
            "server",
            "--http-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--otlp-endpoint",
            &receiver.endpoint,
        ])
        .arg("--data-path")
        .arg(dir.path().join("gantry.db"))
        .arg("--blob-store")
        .arg(dir.path().join("blobs"));
    let (_server, banner) = start(server, "gantry listening on ").await;
    let endpoint = banner.split_whitespace().next().unwrap().to_owned();

    let mut worker = Command::new(std::env::current_exe().unwrap());
    worker
        .args([
            "worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("GANTRY_TEST_WORKER_ENDPOINT", &endpoint)
        .env("GANTRY_OTLP_ENDPOINT", &receiver.endpoint)
        .stdin(Stdio::piped());
    let (mut worker, _) = start(worker, "worker ready").await;

    let mut admin = AdminServiceClient::connect(endpoint).await.unwrap();
    let target = Identifier::new(
        gantry_examples::PROJECT,
        gantry_examples::DOMAIN,
        "generate_others",
        gantry_examples::VERSION,
    );
    let mut request = tonic::Request::new(pb::CreateExecutionRequest {
        project: gantry_examples::PROJECT.to_owned(),
        domain: gantry_examples::DOMAIN.to_owned(),
        target: Some(pb::create_execution_request::Target::Task(target.into())),
        inputs: Some(LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(10))]).into()),
        ..Default::default()
    });
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    request.metadata_mut().insert("tracestate", "client=1".parse().unwrap());
    let execution = admin
        .create_execution(request)
        .await
        .unwrap()
        .into_inner()
        .execution
        .unwrap();

    // The execution's assembly is the last thing the server does; the worker exports its attempts' spans on its own
    // schedule, so wait for both.
    let ours = |span: &ReceivedSpan| span.attribute("execution_id") == execution.id;
    let spans = receiver
        .wait_for(Duration::from_secs(60), |spans| {
            let assembled = spans
                .iter()
                .any(|s| s.name == "assemble" && ours(s) && s.attribute("node_id").is_empty());
            let children = spans.iter().filter(|s| is_child_attempt(s) && ours(s)).count();
            assembled && children == 10
        })
        .await
        .unwrap_or_else(|| panic!("the spans did not arrive within a minute: {:#?}", receiver.spans()));
    drop(worker.stdin.take());

    let by_id: HashMap<&str, &ReceivedSpan> = spans.iter().map(|span| (span.span_id.as_str(), span)).collect();
    let submissions: Vec<_> = spans.iter().filter(|s| s.name == "CreateExecution").collect();
    assert_eq!(submissions.len(), 1, "{submissions:#?}");
    let submission = submissions[0];
    assert_eq!(submission.trace_id, CLIENT_TRACE);
    assert_eq!(submission.parent_span_id, CLIENT_SPAN, "a child of the client's span");
    assert_eq!(submission.service, "gantry-server");
    assert_eq!(submission.attribute("execution_id"), execution.id);

    let attempts: Vec<_> = spans.iter().filter(|s| s.name == "attempt" && ours(s)).collect();
    let generators: Vec<_> = attempts
        .iter()
        .filter(|s| s.attribute("task") == "generate_others")
        .collect();
    assert_eq!(generators.len(), 1, "{attempts:#?}");
    assert_eq!(generators[0].attribute("outcome"), "dynamic");
    let mut children: Vec<_> = attempts.iter().filter(|s| is_child_attempt(s)).collect();
    children.sort_by_key(|s| s.attribute("node_id").to_owned());
    let node_ids: Vec<&str> = children.iter().map(|s| s.attribute("node_id")).collect();
    for (index, node_id) in node_ids.iter().enumerate() {
        assert!(node_id.ends_with(&format!("/dn{index}")), "{node_ids:?}");
    }
    let assemblies: Vec<_> = spans.iter().filter(|s| s.name == "assemble" && ours(s)).collect();
    assert!(!assemblies.is_empty());
    for span in attempts.iter().copied().chain(assemblies.iter().copied()) {
        assert_eq!(span.trace_id, CLIENT_TRACE, "one trace throughout: {span:#?}");
        assert!(
            ancestors(span, &by_id).contains(&submission.span_id.as_str()),
            "descends from the submission: {span:#?}"
        );
    }
    for attempt in &attempts {
        assert_eq!(attempt.service, "gantry-worker", "{attempt:#?}");
        assert_eq!(attempt.attribute("attempt"), "0", "the first attempt: {attempt:#?}");
    }
    for child in &children {
        assert_eq!(child.attribute("outcome"), "succeeded", "{child:#?}");
    }
    for assembly in &assemblies {
        assert_eq!(assembly.service, "gantry-server", "{assembly:#?}");
    }
    let status = tokio::time::timeout(Duration::from_secs(30), worker.wait())
        .await
        .expect("the worker stopped once its stdin closed")
        .unwrap();
    assert!(status.success());
}
