//! Attempt records tell the truth: when the server refuses what a worker reported (outputs that do not match the
//! task's interface, a dynamic spec that does not compile), the completion's result, the attempt's record and the
//! node all say FAILED with the same user error — on SQLite and Postgres.

use gantry_core::model::{DynamicJobSpec, Literal, LiteralMap, Node};
use gantry_proto::v1 as pb;
use gantry_tests::client::{self, task_request};
use gantry_tests::raw_worker::{completion, id};
use gantry_tests::scripted::Scripted;
use gantry_tests::{Backend, TestServer, wait_for_terminal};

/// Outputs that do not match the task's interface and a spec that does not compile fail the attempt with the user
/// error that fails the node: the completion's result, the attempt's record and the node all say FAILED.
async fn a_refused_result_fails_the_attempt_as_it_fails_the_node(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    let mut worker = Scripted::new(&server, "contract").await;
    client::register_raw_tasks(&mut admin).await;
    let wrong_outputs = pb::completion::Result::Outputs(
        LiteralMap::from([("other_task_out".to_owned(), Literal::String("forty-two".into()))]).into(),
    );
    let not_compiling = pb::completion::Result::DynamicSpec(
        DynamicJobSpec {
            nodes: vec![Node::task("dn0", id("no_such_task"), vec![])],
            ..Default::default()
        }
        .into(),
    );
    let cases = [
        ("other_task", "outputs", wrong_outputs, "invalid_outputs"),
        ("generate_others", "spec", not_compiling, "compile_error"),
    ];
    for (task, name, result, code) in cases {
        let mut request = task_request(name, task, Literal::Integer(1));
        if task == "generate_others" {
            request.inputs = Some(LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(1))]).into());
        }
        let execution_id = client::submit(&mut admin, request).await.id;
        let assignment = worker.poll_one().await;
        let results = worker.complete(vec![completion(&assignment, result)]).await;
        assert_eq!(results[0].status, pb::CompletionStatus::Accepted as i32, "{task}");
        assert_eq!(
            results[0].phase,
            pb::AttemptPhase::Failed as i32,
            "{task}: the completion's result"
        );

        let execution = wait_for_terminal(&mut admin, &execution_id).await;
        assert_eq!(execution.phase, pb::ExecutionPhase::Failed as i32, "{task}");
        let node = client::node(&mut admin, &execution_id, "n0").await;
        assert_eq!(node.phase, pb::NodePhase::Failed as i32, "{task}");
        let attempts = client::attempts(&mut admin, &execution_id, "n0").await;
        assert_eq!(attempts.len(), 1, "{task}: not retried");
        assert_eq!(
            attempts[0].phase,
            pb::AttemptPhase::Failed as i32,
            "{task}: the attempt's record"
        );
        let error = attempts[0].error.clone().expect("the attempt's error");
        assert_eq!(
            (error.code.as_str(), error.kind, error.recoverable),
            (code, pb::ErrorKind::User as i32, false),
            "{task}"
        );
        let node_error = execution.error.expect("the execution's error");
        assert_eq!(
            node_error.code, error.code,
            "{task}: the attempt and the execution agree"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_result_fails_the_attempt_as_it_fails_the_node_on_sqlite() {
    a_refused_result_fails_the_attempt_as_it_fails_the_node(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_result_fails_the_attempt_as_it_fails_the_node_on_postgres() {
    a_refused_result_fails_the_attempt_as_it_fails_the_node(Backend::Postgres).await;
}
