//! The failing leaf in one call: an execution failed deep down says where and why in its own error (the first failed
//! descendant's code, message and scoped id, at every depth: dynamic in dynamic, a sub-workflow's array node), and
//! `ListNodeExecutions` with `all_depths` and `phases` lists exactly the failed nodes of a fan-out, a page at a time.

use gantry_core::model::{
    ArrayNode, Binding, ExecutionError, FailurePolicy, Literal, LiteralMap, LiteralType, Node, NodeTarget,
    SuccessCriteria, TypedInterface, Variable, WorkflowTemplate,
};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, Admin};
use gantry_tests::raw_worker::{self, id};
use gantry_tests::scripted::{self, Scripted};
use gantry_tests::{Backend, TestServer, wait_for_terminal};
use tokio::sync::watch;

/// Serves the raw worker's tasks, answering with `answer`, until `stop`; unlike `raw_worker::run` it takes a refused
/// completion in its stride (a sibling of a failed leaf is aborted while it runs).
fn serve(
    server: &TestServer,
    answer: fn(&pb::AttemptAssignment) -> pb::completion::Result,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    let endpoint = server.endpoint.clone();
    let task = tokio::spawn(async move {
        let mut worker = pb::worker_service_client::WorkerServiceClient::connect(endpoint)
            .await
            .expect("worker connects");
        loop {
            let poll = pb::PollTasksRequest {
                worker_id: "leafy".to_owned(),
                queues: vec!["default".to_owned()],
                max_attempts: 64,
                wait: Some(prost_types::Duration { seconds: 2, nanos: 0 }),
                completions: Vec::new(),
            };
            let assignments = tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => return,
                polled = worker.poll_tasks(poll) => polled.expect("poll").into_inner().assignments,
            };
            if assignments.is_empty() {
                continue;
            }
            let completions = assignments
                .iter()
                .map(|a| raw_worker::completion(a, answer(a)))
                .collect();
            worker
                .complete_attempts(pb::CompleteAttemptsRequest {
                    worker_id: "leafy".to_owned(),
                    completions,
                })
                .await
                .expect("complete");
        }
    });
    (stop, task)
}

/// The raw worker's answers, except that `n0/0/dn1/0/dn2` (a leaf two dynamic levels down) fails.
fn deep_leaf_fails(assignment: &pb::AttemptAssignment) -> pb::completion::Result {
    let node_id = assignment.attempt.as_ref().map_or("", |a| a.node_id.as_str());
    if node_id == "n0/0/dn1/0/dn2" {
        let error = ExecutionError::user("leaf_broke", "leaf broke on purpose").recoverable(false);
        return pb::completion::Result::Error(error.into());
    }
    raw_worker::result_for(assignment)
}

/// Every node below `parent` (the whole execution when empty) in one of `phases`, all pages of `page_size`, checking
/// that no page is larger than asked.
async fn descendants(
    admin: &mut Admin,
    execution_id: &str,
    parent: &str,
    phases: &[pb::NodePhase],
    page_size: u32,
) -> Vec<pb::NodeExecution> {
    let mut found = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = admin
            .list_node_executions(pb::ListNodeExecutionsRequest {
                execution_id: execution_id.to_owned(),
                parent_node_id: parent.to_owned(),
                phases: phases.iter().map(|phase| *phase as i32).collect(),
                page_size,
                page_token,
                all_depths: true,
            })
            .await
            .unwrap_or_else(|status| panic!("list below {parent:?}: {status}"))
            .into_inner();
        assert!(page.node_executions.len() <= page_size as usize);
        found.extend(page.node_executions);
        if page.next_page_token.is_empty() {
            return found;
        }
        page_token = page.next_page_token;
    }
}

fn node_ids(nodes: &[pb::NodeExecution]) -> Vec<&str> {
    nodes.iter().map(|node| node.node_id.as_str()).collect()
}

/// `nest(1)`: `n0` yields `n0/0/dn0` and `n0/0/dn1`, each yields three `other_task` leaves; `n0/0/dn1/0/dn2` fails.
async fn dynamic_in_dynamic_names_the_leaf(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    let (stop, worker) = serve(&server, deep_leaf_fails);
    let created = client::create(
        &mut admin,
        client::task_target(id("nest")),
        LiteralMap::from([("depth".to_owned(), Literal::Integer(1))]),
        |_| {},
    )
    .await;
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);

    let error = execution.error.expect("a failed execution has an error");
    assert_eq!(
        (error.code.as_str(), error.node_id.as_str()),
        ("leaf_broke", "n0/0/dn1/0/dn2"),
        "the execution's error is the leaf's: {error:?}"
    );
    assert!(
        error
            .message
            .starts_with("leaf broke on purpose (1 of 3 children failed or were skipped; "),
        "{}",
        error.message
    );
    assert!(
        error.message.contains(") (1 of 2 children failed or were skipped; "),
        "one count per level: {}",
        error.message
    );
    let middle = client::node(&mut admin, &created.id, "n0/0/dn1").await;
    let middle_error = middle.error.expect("the failed generator has an error");
    assert_eq!(
        (middle_error.code.as_str(), middle_error.node_id.as_str()),
        ("leaf_broke", "n0/0/dn1/0/dn2")
    );
    let top = client::node(&mut admin, &created.id, "n0").await;
    assert_eq!(
        top.error.as_ref(),
        Some(&error),
        "the top node's error is the execution's"
    );

    // Every failed node at every depth, in one listing: the leaf and the two dynamic parents it failed.
    let failed = descendants(&mut admin, &created.id, "", &[pb::NodePhase::Failed], 2).await;
    assert_eq!(node_ids(&failed), ["n0", "n0/0/dn1", "n0/0/dn1/0/dn2"]);
    let below = descendants(&mut admin, &created.id, "n0/0/dn1", &[pb::NodePhase::Failed], 10).await;
    assert_eq!(node_ids(&below), ["n0/0/dn1/0/dn2"]);
    let everything = descendants(&mut admin, &created.id, "", &[], 3).await;
    assert_eq!(
        everything.len(),
        1 + 2 + 6,
        "every node once: {:?}",
        node_ids(&everything)
    );

    let unknown = admin
        .list_node_executions(pb::ListNodeExecutionsRequest {
            execution_id: created.id.clone(),
            parent_node_id: "n0/0/dn7".to_owned(),
            all_depths: true,
            ..Default::default()
        })
        .await
        .expect_err("an unknown parent");
    assert_eq!(unknown.code(), tonic::Code::NotFound, "{unknown:?}");
    let bad_token = admin
        .list_node_executions(pb::ListNodeExecutionsRequest {
            execution_id: created.id.clone(),
            all_depths: true,
            page_token: "not a node/id".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("a token no listing returned");
    assert_eq!(bad_token.code(), tonic::Code::InvalidArgument, "{bad_token:?}");

    let _ = stop.send(true);
    worker.await.expect("the worker stops");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_in_dynamic_names_the_leaf_on_postgres() {
    dynamic_in_dynamic_names_the_leaf(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_in_dynamic_names_the_leaf_on_sqlite() {
    dynamic_in_dynamic_names_the_leaf(Backend::Sqlite).await;
}

fn interface(inputs: &[(&str, LiteralType)], outputs: &[(&str, LiteralType)]) -> TypedInterface {
    TypedInterface {
        inputs: inputs.iter().map(|(n, t)| Variable::new(*n, t.clone())).collect(),
        outputs: outputs.iter().map(|(n, t)| Variable::new(*n, t.clone())).collect(),
    }
}

/// `name(xs)`: an array node `m` of `flaky` over `xs` (which fails on odd numbers) under `success`.
fn mapped(name: &str, success: SuccessCriteria) -> WorkflowTemplate {
    let element = match success {
        SuccessCriteria::All => LiteralType::Integer,
        _ => LiteralType::optional(LiteralType::Integer),
    };
    WorkflowTemplate {
        id: id(name),
        interface: interface(
            &[("xs", LiteralType::collection(LiteralType::Integer))],
            &[("out", LiteralType::collection(element))],
        ),
        nodes: vec![Node {
            id: "m".into(),
            inputs: vec![Binding::promise("index", "", "xs")],
            upstream: Vec::new(),
            target: NodeTarget::Array(ArrayNode {
                node: Box::new(Node::task("inner", id("flaky"), Vec::new())),
                parallelism: None,
                success,
            }),
            overrides: Default::default(),
        }],
        outputs: vec![Binding::promise("out", "m", "other_task_out")],
        failure_policy: FailurePolicy::FailImmediately,
    }
}

fn xs(values: impl IntoIterator<Item = i64>) -> LiteralMap {
    LiteralMap::from([(
        "xs".to_owned(),
        Literal::Collection(values.into_iter().map(Literal::Integer).collect()),
    )])
}

/// A sub-workflow `sub` whose array node `m` has one failing element: the execution's error is that element's,
/// `sub/0/m/0/1`, with the array's count and the sub-workflow's.
async fn sub_workflow_array_names_the_element(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    client::register_workflow(&mut admin, mapped("strict_map", SuccessCriteria::All)).await;
    let list = LiteralType::collection(LiteralType::Integer);
    let outer = WorkflowTemplate {
        id: id("outer_map"),
        interface: interface(&[("xs", list.clone())], &[("out", list)]),
        nodes: vec![Node {
            target: NodeTarget::SubWorkflow(id("strict_map")),
            ..Node::task("sub", id("strict_map"), vec![Binding::promise("xs", "", "xs")])
        }],
        outputs: vec![Binding::promise("out", "sub", "out")],
        failure_policy: FailurePolicy::FailImmediately,
    };
    client::register_workflow(&mut admin, outer).await;
    let (stop, worker) = serve(&server, raw_worker::result_for);
    let created = client::create(&mut admin, client::workflow_target(id("outer_map")), xs(0..3), |_| {}).await;
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    let error = execution.error.expect("a failed execution has an error");
    assert_eq!(
        (error.code.as_str(), error.node_id.as_str()),
        ("odd", "sub/0/m/0/1"),
        "{error:?}"
    );
    assert!(
        error
            .message
            .starts_with("index 1 is odd (1 of 3 children failed or were skipped; ")
            && error
                .message
                .ends_with(") (1 of 1 children failed or were skipped; 0 succeeded, 1 required)"),
        "{}",
        error.message
    );
    let failed = descendants(&mut admin, &created.id, "", &[pb::NodePhase::Failed], 100).await;
    assert_eq!(node_ids(&failed), ["sub", "sub/0/m", "sub/0/m/0/1"]);
    let _ = stop.send(true);
    worker.await.expect("the worker stops");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_workflow_array_names_the_element_on_postgres() {
    sub_workflow_array_names_the_element(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_workflow_array_names_the_element_on_sqlite() {
    sub_workflow_array_names_the_element(Backend::Sqlite).await;
}

/// A 300-element array node that tolerates half of them failing: the 150 odd elements fail, the execution
/// succeeds, and the listing of failed nodes at every depth, 7 to a page, returns exactly those 150, by node id.
async fn failed_nodes_of_a_fan_out_page_by_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    client::register_workflow(&mut admin, mapped("half_map", SuccessCriteria::MinSuccessRatio(0.5))).await;
    let (stop, worker) = serve(&server, raw_worker::result_for);
    let created = client::create(&mut admin, client::workflow_target(id("half_map")), xs(0..300), |_| {}).await;
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );
    let failed = descendants(&mut admin, &created.id, "", &[pb::NodePhase::Failed], 7).await;
    let mut expected: Vec<String> = (0..300).filter(|i| i % 2 == 1).map(|i| format!("m/0/{i}")).collect();
    expected.sort();
    assert_eq!(
        node_ids(&failed),
        expected,
        "exactly the odd elements, in node id order"
    );
    assert!(failed.iter().all(|node| {
        node.phase == pb::NodePhase::Failed as i32 && node.error.as_ref().is_some_and(|e| e.code == "odd")
    }));
    let unsuccessful = [pb::NodePhase::Failed, pb::NodePhase::TimedOut, pb::NodePhase::Aborted];
    let below = descendants(&mut admin, &created.id, "m", &unsuccessful, 1_000).await;
    assert_eq!(node_ids(&below), expected);
    let succeeded = descendants(&mut admin, &created.id, "", &[pb::NodePhase::Succeeded], 64).await;
    assert_eq!(succeeded.len(), 1 + 150, "the array node and its even elements");
    let _ = stop.send(true);
    worker.await.expect("the worker stops");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_nodes_of_a_fan_out_page_by_page_on_postgres() {
    failed_nodes_of_a_fan_out_page_by_page(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_nodes_of_a_fan_out_page_by_page_on_sqlite() {
    failed_nodes_of_a_fan_out_page_by_page(Backend::Sqlite).await;
}

/// The first failure, not the decisive one: an array node of four elements that needs three to succeed fails at
/// its second failure, completed in a later call (and so a later batch) than the first; its error is the first's.
async fn the_first_failure_is_named_not_the_decisive_one(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    client::register_raw_tasks(&mut admin).await;
    client::register_workflow(
        &mut admin,
        mapped("three_of_four", SuccessCriteria::MinSuccessRatio(0.75)),
    )
    .await;
    let created = client::create(
        &mut admin,
        client::workflow_target(id("three_of_four")),
        xs([1, 3, 0, 2]),
        |_| {},
    )
    .await;
    let mut worker = Scripted::new(&server, "one-by-one").await;
    let mut held = Vec::new();
    while held.len() < 4 {
        let claimed = worker.poll(4, std::time::Duration::from_secs(20)).await;
        assert!(!claimed.is_empty(), "the four elements are queued");
        held.extend(claimed);
    }
    let element = |node_id: &str| {
        held.iter()
            .find(|a| scripted::node_id(a) == node_id)
            .unwrap_or_else(|| panic!("{node_id} claimed"))
            .clone()
    };
    let (first, second) = (element("m/0/0"), element("m/0/1"));
    worker.finish(&first, raw_worker::result_for(&first)).await;
    assert_eq!(
        client::node(&mut admin, &created.id, "m").await.phase,
        pb::NodePhase::ChildrenRunning as i32,
        "one failure of four is within the ratio"
    );
    worker.finish(&second, raw_worker::result_for(&second)).await;
    let execution = wait_for_terminal(&mut admin, &created.id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32);
    let error = execution.error.expect("a failed execution has an error");
    assert_eq!(
        (error.code.as_str(), error.node_id.as_str(), error.message.as_str()),
        (
            "odd",
            "m/0/0",
            "index 1 is odd (2 of 4 children failed or were skipped; 0 succeeded, 3 required)"
        )
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_failure_is_named_not_the_decisive_one_on_postgres() {
    the_first_failure_is_named_not_the_decisive_one(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_failure_is_named_not_the_decisive_one_on_sqlite() {
    the_first_failure_is_named_not_the_decisive_one(Backend::Sqlite).await;
}
