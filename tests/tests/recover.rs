//! Relaunch and recover. A recovery reuses the outputs of the nodes that succeeded and the spec a dynamic node's
//! generator returned, so the generator does not run again and only what failed runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gantry_core::model::{
    Binding, BindingData, DynamicJobSpec, ExecutionError, Literal, LiteralMap, LiteralType, Node, Promise,
};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin};
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tonic::Code;

const CHILDREN: i64 = 4;

/// `gated_parent()`: `other_task(i)` for i < 4, then `gate` after all of them; `out` lists the five outputs.
fn gated_spec() -> DynamicJobSpec {
    let mut nodes: Vec<Node> = (0..CHILDREN)
        .map(|i| {
            Node::task(
                format!("dn{i}"),
                id("other_task"),
                vec![Binding::literal("index", Literal::Integer(i))],
            )
        })
        .collect();
    let mut gate = Node::task(
        "gate",
        id("gate"),
        vec![Binding::literal("index", Literal::Integer(50))],
    );
    gate.upstream = nodes.iter().map(|n| n.id.clone()).collect();
    nodes.push(gate);
    let outputs = nodes
        .iter()
        .map(|n| BindingData::Promise(Promise::new(n.id.clone(), "other_task_out")))
        .collect();
    DynamicJobSpec {
        nodes,
        outputs: vec![Binding::new("out", BindingData::Collection(outputs))],
        ..Default::default()
    }
}

/// A worker whose `gate` fails while `open` is false; counts the generator's runs.
async fn spawn_worker(
    server: &TestServer,
    open: Arc<AtomicBool>,
    generator_runs: Arc<AtomicUsize>,
) -> tokio::sync::watch::Sender<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let client = server.worker().await;
    {
        tokio::spawn(raw_worker::run_with(client, "gated", 64, stopped, move |assignment| {
            let name = assignment
                .task
                .as_ref()
                .and_then(|t| t.id.as_ref())
                .map(|i| i.name.clone());
            match name.as_deref() {
                Some("gated_parent") => {
                    generator_runs.fetch_add(1, Ordering::SeqCst);
                    pb::completion::Result::DynamicSpec(gated_spec().into())
                }
                Some("gate") if !open.load(Ordering::SeqCst) => {
                    let error = ExecutionError::user("closed", "the gate is closed").recoverable(false);
                    pb::completion::Result::Error(error.into())
                }
                Some("gate") => {
                    let outputs = LiteralMap::from([("other_task_out".to_owned(), Literal::Integer(100))]);
                    pb::completion::Result::Outputs(outputs.into())
                }
                _ => raw_worker::result_for(assignment),
            }
        }));
        stop
    }
}

async fn register(admin: &mut Admin) {
    client::register_raw_tasks(admin).await;
    let list = LiteralType::collection(LiteralType::Integer);
    for template in [
        raw_worker::template("gated_parent", &[], &[("out", list)]),
        raw_worker::template(
            "gate",
            &[("index", LiteralType::Integer)],
            &[("other_task_out", LiteralType::Integer)],
        ),
    ] {
        client::register_task(admin, template).await;
    }
}

async fn recover(admin: &mut Admin, id: &str, name: &str) -> Result<pb::RecoverExecutionResponse, tonic::Status> {
    admin
        .recover_execution(pb::RecoverExecutionRequest {
            id: id.to_owned(),
            name: name.to_owned(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn recover_reuses_outputs_and_the_spec(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    register(&mut admin).await;
    let (open, generator_runs) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let stop = spawn_worker(&server, open.clone(), generator_runs.clone()).await;

    let created = client::create(
        &mut admin,
        client::task_target(id("gated_parent")),
        LiteralMap::new(),
        |_| {},
    )
    .await;
    let failed = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(failed.phase, pb::ExecutionPhase::Failed as i32);
    assert_eq!(generator_runs.load(Ordering::SeqCst), 1);
    let old_children = client::children(&mut admin, &failed.id, "n0").await;
    assert_eq!(old_children.len(), 5);

    open.store(true, Ordering::SeqCst);
    let recovered = recover(&mut admin, &failed.id, "second-try").await.expect("recover");
    assert!(recovered.created);
    let execution = recovered.execution.expect("execution");
    assert_eq!(execution.origin, pb::ExecutionOrigin::Recovered as i32);
    assert_eq!(execution.source_execution_id, failed.id);
    let done = wait_for_terminal(&mut admin, &execution.id).await;
    assert_eq!(done.phase, pb::ExecutionPhase::Succeeded as i32, "{:?}", done.error);
    let mut expected: Vec<Literal> = (0..CHILDREN).map(|i| Literal::Integer(i * 2)).collect();
    expected.push(Literal::Integer(100));
    assert_eq!(
        client::outputs(&mut admin, &done.id).await["out"],
        Literal::Collection(expected)
    );

    assert_eq!(
        generator_runs.load(Ordering::SeqCst),
        1,
        "the generator did not run again"
    );
    let generator = client::node(&mut admin, &done.id, "n0").await;
    assert!(generator.is_dynamic_parent);
    assert!(client::attempts(&mut admin, &done.id, "n0").await.is_empty());
    let children = client::children(&mut admin, &done.id, "n0").await;
    let ids: Vec<&str> = children.iter().map(|c| c.node_id.as_str()).collect();
    let old_ids: Vec<&str> = old_children.iter().map(|c| c.node_id.as_str()).collect();
    assert_eq!(ids, old_ids, "the same spec, so the same child ids");
    for child in &children[..CHILDREN as usize] {
        assert_eq!(client::phase_name(child.phase), "RECOVERED", "{}", child.node_id);
        assert!(client::attempts(&mut admin, &done.id, &child.node_id).await.is_empty());
    }
    let gate = &children[CHILDREN as usize];
    assert_eq!(client::phase_name(gate.phase), "SUCCEEDED");
    assert_eq!(client::attempts(&mut admin, &done.id, &gate.node_id).await.len(), 1);

    // Idempotent per name; a succeeded or unknown execution cannot be recovered.
    let again = recover(&mut admin, &failed.id, "second-try").await.expect("again");
    assert!(!again.created);
    assert_eq!(again.execution.expect("execution").id, done.id);
    let refused = recover(&mut admin, &done.id, "").await.expect_err("succeeded");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("SUCCEEDED") || refused.message().contains("succeeded"));
    let unknown = recover(&mut admin, &uuid::Uuid::now_v7().to_string(), "")
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);

    // A relaunch reuses nothing: the generator runs again.
    let relaunched = admin
        .relaunch_execution(pb::RelaunchExecutionRequest {
            id: failed.id.clone(),
            ..Default::default()
        })
        .await
        .expect("relaunch")
        .into_inner()
        .execution
        .expect("execution");
    assert_eq!(relaunched.origin, pb::ExecutionOrigin::Relaunched as i32);
    assert_eq!(relaunched.source_execution_id, failed.id);
    let done = wait_for_terminal(&mut admin, &relaunched.id).await;
    assert_eq!(done.phase, pb::ExecutionPhase::Succeeded as i32);
    assert_eq!(generator_runs.load(Ordering::SeqCst), 2);
    let _ = stop.send(true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_postgres() {
    recover_reuses_outputs_and_the_spec(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_sqlite() {
    recover_reuses_outputs_and_the_spec(Backend::Sqlite).await;
}
