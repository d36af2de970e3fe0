//! Retries end to end: separate user and system budgets with exponential backoff, read back from the server's records
//! (attempt `created_at` / `not_before`, the node's failure counters); a lease timeout spending the system budget;
//! a dynamic child failing its parent (or not, under `min_successes`); a retried generator running again.

use std::time::Duration;

use gantry_core::model::{
    Binding, BindingData, DynamicJobSpec, Literal, LiteralMap, Promise, RetryPolicy, TaskTemplate,
};
use gantry_proto::v1 as pb;
use gantry_tests::raw_worker::{self, id};
use gantry_tests::scripted::{self, Scripted, all_nodes, attempts, ms, node, register};
use gantry_tests::{Backend, TestServer, wait_for_terminal};

type Admin = gantry_proto::v1::admin_service_client::AdminServiceClient<tonic::transport::Channel>;

fn policy(user_retries: u32, system_retries: u32, initial_backoff_ms: i64) -> RetryPolicy {
    RetryPolicy {
        user_retries,
        system_retries,
        initial_backoff: gantry_core::model::Duration::from_millis(initial_backoff_ms),
        max_backoff: gantry_core::model::Duration::from_secs(10),
    }
}

/// The raw worker's tasks, with `retries` on the one named `name`.
fn tasks_with(name: &str, retries: RetryPolicy) -> Vec<TaskTemplate> {
    let mut tasks = raw_worker::task_templates();
    for task in &mut tasks {
        if task.id.name == name {
            task.metadata.retries = retries.clone();
        }
    }
    tasks
}

async fn start(admin: &mut Admin, task: &str, input: (&str, i64)) -> String {
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id(task).into())),
        inputs: Some(LiteralMap::from([(input.0.to_owned(), Literal::Integer(input.1))]).into()),
        ..Default::default()
    };
    admin
        .create_execution(request)
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution")
        .id
}

fn user(recoverable: bool) -> pb::completion::Result {
    scripted::error(pb::ErrorKind::User, recoverable, "flaky")
}

fn system() -> pb::completion::Result {
    scripted::error(pb::ErrorKind::System, true, "infrastructure")
}

async fn user_budget_and_backoff(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    register(&mut admin, tasks_with("other_task", policy(2, 0, 100))).await;
    let mut worker = Scripted::new(&server, "w").await;

    // A recoverable user error is retried twice (user_retries = 2), then the node fails.
    let retried = start(&mut admin, "other_task", ("index", 1)).await;
    for expected in 0..3 {
        let assignment = worker.poll_one().await;
        assert_eq!(scripted::attempt_number(&assignment), expected);
        assert_eq!(
            worker.finish(&assignment, user(true)).await,
            pb::AttemptPhase::Failed as i32
        );
    }
    let finished = wait_for_terminal(&mut admin, &retried).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::Failed as i32);
    let n0 = node(&mut admin, &retried, "n0").await;
    assert_eq!(
        (n0.phase, n0.attempts, n0.user_failures, n0.system_failures),
        (pb::NodePhase::Failed as i32, 3, 3, 0)
    );
    let records = attempts(&mut admin, &retried, "n0").await;
    assert_eq!(records.len(), 3, "the attempts list matches the counters");
    assert!(records.iter().all(|a| a.phase == pb::AttemptPhase::Failed as i32));
    assert_eq!(
        ms(&records[0].not_before),
        ms(&records[0].created_at),
        "a first attempt waits for nothing"
    );
    let backoffs: Vec<i64> = records[1..]
        .iter()
        .map(|a| ms(&a.not_before) - ms(&a.created_at))
        .collect();
    assert_eq!(backoffs, [100, 200], "exponential backoff from 100 ms");
    for pair in records.windows(2) {
        assert_eq!(
            ms(&pair[1].created_at),
            ms(&pair[0].finished_at),
            "a retry is queued as its predecessor fails"
        );
        assert!(
            ms(&pair[1].started_at) >= ms(&pair[1].not_before),
            "never claimed before its backoff ended"
        );
    }

    // A non-recoverable user error is not retried.
    let final_failure = start(&mut admin, "other_task", ("index", 2)).await;
    let assignment = worker.poll_one().await;
    worker.finish(&assignment, user(false)).await;
    let finished = wait_for_terminal(&mut admin, &final_failure).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::Failed as i32);
    let n0 = node(&mut admin, &final_failure, "n0").await;
    assert_eq!((n0.attempts, n0.user_failures), (1, 1));
    assert_eq!(attempts(&mut admin, &final_failure, "n0").await.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_retry_within_their_budget_with_exponential_backoff_on_postgres() {
    user_budget_and_backoff(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_retry_within_their_budget_with_exponential_backoff_on_sqlite() {
    user_budget_and_backoff(Backend::Sqlite).await;
}

async fn separate_budgets(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    register(&mut admin, tasks_with("other_task", policy(1, 1, 20))).await;
    let mut worker = Scripted::new(&server, "w").await;
    let execution = start(&mut admin, "other_task", ("index", 1)).await;
    // system (1 of 1 system retries), user (1 of 1 user retries), system again: the system budget is spent.
    for result in [system(), user(true), system()] {
        let assignment = worker.poll_one().await;
        worker.finish(&assignment, result).await;
    }
    let finished = wait_for_terminal(&mut admin, &execution).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::Failed as i32);
    assert_eq!(finished.error.as_ref().map(|e| e.code.as_str()), Some("infrastructure"));
    let n0 = node(&mut admin, &execution, "n0").await;
    assert_eq!(
        (n0.attempts, n0.user_failures, n0.system_failures),
        (3, 1, 2),
        "each error counted in its own budget"
    );
    let kinds: Vec<i32> = attempts(&mut admin, &execution, "n0")
        .await
        .iter()
        .map(|a| a.error.as_ref().expect("error").kind)
        .collect();
    assert_eq!(
        kinds,
        [
            pb::ErrorKind::System as i32,
            pb::ErrorKind::User as i32,
            pb::ErrorKind::System as i32
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_errors_have_a_budget_of_their_own_on_postgres() {
    separate_budgets(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_errors_have_a_budget_of_their_own_on_sqlite() {
    separate_budgets(Backend::Sqlite).await;
}

/// Nobody heartbeats: each lease expires, a system error; the first is redispatched (system_retries = 1), the second
/// spends the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_timeout_is_redispatched_under_the_system_budget_until_it_is_spent() {
    let server = TestServer::start_with(Backend::Postgres, |config| config.lease = Duration::from_millis(300)).await;
    let mut admin = server.admin().await;
    register(&mut admin, tasks_with("other_task", policy(3, 1, 20))).await;
    let execution = start(&mut admin, "other_task", ("index", 1)).await;
    let mut first_worker = Scripted::new(&server, "vanishes-1").await;
    let first = first_worker.poll_one().await;
    let mut second_worker = Scripted::new(&server, "vanishes-2").await;
    let second = second_worker.poll_one().await;
    assert_eq!(
        (scripted::attempt_number(&first), scripted::attempt_number(&second)),
        (0, 1),
        "the expired attempt was dispatched again"
    );
    let finished = wait_for_terminal(&mut admin, &execution).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::Failed as i32);
    let n0 = node(&mut admin, &execution, "n0").await;
    assert_eq!(
        (n0.phase, n0.attempts, n0.user_failures, n0.system_failures),
        (pb::NodePhase::Failed as i32, 2, 0, 2),
        "user retries remain, but a lease timeout spends the system budget"
    );
    let records = attempts(&mut admin, &execution, "n0").await;
    let summary: Vec<(&str, &str)> = records
        .iter()
        .map(|a| (a.worker_id.as_str(), a.error.as_ref().map_or("", |e| e.code.as_str())))
        .collect();
    assert_eq!(
        summary,
        [("vanishes-1", "lease_expired"), ("vanishes-2", "lease_expired")]
    );
    server.stop().await;
}

/// `generate_others(3)` whose child `dn1` always fails (recoverably, with one user retry): the child fails after its
/// retries, which fails its parent and the execution.
async fn child_failure_fails_the_parent(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    register(&mut admin, tasks_with("other_task", policy(1, 0, 20))).await;
    let execution = start(&mut admin, "generate_others", ("tasks_count", 3)).await;
    let mut worker = Scripted::new(&server, "w").await;
    let mut dn1_attempts = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while dn1_attempts < 2 && tokio::time::Instant::now() < deadline {
        for assignment in worker.poll(16, Duration::from_millis(500)).await {
            let result = if scripted::node_id(&assignment) == "n0/0/dn1" {
                dn1_attempts += 1;
                user(true)
            } else {
                raw_worker::result_for(&assignment)
            };
            // A sibling may already be aborted when the parent failed: its completion is refused, which is fine.
            worker.complete(vec![raw_worker::completion(&assignment, result)]).await;
        }
    }
    let finished = wait_for_terminal(&mut admin, &execution).await;
    assert_eq!(finished.phase, pb::ExecutionPhase::Failed as i32);
    let dn1 = node(&mut admin, &execution, "n0/0/dn1").await;
    assert_eq!(
        (dn1.phase, dn1.attempts, dn1.user_failures),
        (pb::NodePhase::Failed as i32, 2, 1 + 1)
    );
    let parent = node(&mut admin, &execution, "n0").await;
    assert_eq!(parent.phase, pb::NodePhase::Failed as i32);
    let error = parent.error.expect("the failed parent has an error");
    assert_eq!(
        (error.code.as_str(), error.node_id.as_str()),
        ("flaky", "n0/0/dn1"),
        "the parent's error is its failed child's"
    );
    assert!(
        error.message.starts_with("flaky on purpose (1 of 3 children failed"),
        "{}",
        error.message
    );
    assert_eq!(finished.error, Some(error), "and so is the execution's");
    assert_eq!(parent.attempts, 1, "a child's failure does not re-run the generator");
    for node in all_nodes(&mut admin, &execution).await {
        assert!(
            ![
                pb::NodePhase::Queued,
                pb::NodePhase::Running,
                pb::NodePhase::RetryWaiting
            ]
            .iter()
            .any(|p| *p as i32 == node.phase),
            "node {} left {}",
            node.node_id,
            node.phase
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_failing_after_its_retries_fails_parent_and_execution_on_postgres() {
    child_failure_fails_the_parent(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_failing_after_its_retries_fails_parent_and_execution_on_sqlite() {
    child_failure_fails_the_parent(Backend::Sqlite).await;
}

/// Three children, `min_successes = 2`, outputs from `dn0` and `dn2`: `dn1` failing for good leaves the parent
/// successful.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_successes_lets_the_parent_succeed_despite_a_failed_child() {
    let server = TestServer::start(Backend::Postgres).await;
    let mut admin = server.admin().await;
    register(&mut admin, raw_worker::task_templates()).await;
    let execution = start(&mut admin, "generate_others", ("tasks_count", 3)).await;
    let mut worker = Scripted::new(&server, "w").await;
    let generator = worker.poll_one().await;
    let mut spec: DynamicJobSpec = raw_worker::seed_spec(3);
    spec.min_successes = Some(2);
    spec.outputs = vec![Binding::new(
        "out",
        BindingData::Collection(
            ["dn0", "dn2"]
                .iter()
                .map(|n| BindingData::Promise(Promise::new(*n, "other_task_out")))
                .collect(),
        ),
    )];
    worker
        .finish(&generator, pb::completion::Result::DynamicSpec(spec.into()))
        .await;
    let mut children = Vec::new();
    while children.len() < 3 {
        children.extend(worker.poll(3, Duration::from_secs(10)).await);
    }
    // The failure last: the parent waits for every child, then succeeds on the count of successes.
    children.sort_by_key(|a| scripted::node_id(a) == "n0/0/dn1");
    for child in &children {
        let result = if scripted::node_id(child) == "n0/0/dn1" {
            user(false)
        } else {
            raw_worker::result_for(child)
        };
        worker.finish(child, result).await;
    }
    let finished = wait_for_terminal(&mut admin, &execution).await;
    assert_eq!(
        finished.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        finished.error
    );
    let outputs: LiteralMap = admin
        .get_execution_data(pb::GetExecutionDataRequest {
            id: execution.clone(),
            ..Default::default()
        })
        .await
        .expect("data")
        .into_inner()
        .outputs
        .expect("outputs")
        .try_into()
        .expect("convert");
    assert_eq!(
        outputs["out"],
        Literal::Collection(vec![Literal::Integer(0), Literal::Integer(4)])
    );
    assert_eq!(
        node(&mut admin, &execution, "n0/0/dn1").await.phase,
        pb::NodePhase::Failed as i32
    );
    server.stop().await;
}

/// The generator's first attempt fails recoverably: the retry runs the generator again and its children are scoped
/// under attempt 1.
async fn a_retried_generator_runs_again(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    register(&mut admin, tasks_with("generate_others", policy(1, 0, 20))).await;
    let execution = start(&mut admin, "generate_others", ("tasks_count", 2)).await;
    let mut worker = Scripted::new(&server, "w").await;
    let first = worker.poll_one().await;
    worker.finish(&first, user(true)).await;
    let second = worker.poll_one().await;
    assert_eq!(
        (scripted::task_name(&second), scripted::attempt_number(&second)),
        ("generate_others", 1),
        "the generator runs again"
    );
    worker.finish(&second, raw_worker::result_for(&second)).await;
    for _ in 0..2 {
        let child = worker.poll_one().await;
        assert!(
            scripted::node_id(&child).starts_with("n0/1/"),
            "{}",
            scripted::node_id(&child)
        );
        worker.finish(&child, raw_worker::result_for(&child)).await;
    }
    let finished = wait_for_terminal(&mut admin, &execution).await;
    assert_eq!(
        finished.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        finished.error
    );
    let parent = node(&mut admin, &execution, "n0").await;
    assert_eq!((parent.attempts, parent.user_failures), (2, 1));
    let ids: Vec<String> = all_nodes(&mut admin, &execution)
        .await
        .into_iter()
        .map(|n| n.node_id)
        .collect();
    assert_eq!(ids, ["n0", "n0/1/dn0", "n0/1/dn1"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recoverable_generator_failure_runs_the_generator_again_on_postgres() {
    a_retried_generator_runs_again(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recoverable_generator_failure_runs_the_generator_again_on_sqlite() {
    a_retried_generator_runs_again(Backend::Sqlite).await;
}
