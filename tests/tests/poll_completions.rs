//! A poll carries the results of finished attempts: they are recorded as CompleteAttempts records them, each with
//! its own result, and the claim that follows in the same call sees what they released — on SQLite and Postgres.

use std::time::{Duration, Instant};

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::client;
use gantry_tests::raw_worker::{completion, id, result_for};
use gantry_tests::records;
use gantry_tests::scripted::{Scripted, node_id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};

/// Longer than any test waits: a poll that carries results must not wait for work at all.
const LONG_WAIT: Duration = Duration::from_secs(60);

async fn results_ride_a_poll_that_claims_what_they_released(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut admin = server.admin().await;
    let mut worker = Scripted::new(&server, "carrier").await;
    client::register_raw_tasks(&mut admin).await;
    let inputs = LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(2))]);
    let target = client::task_target(id("generate_others"));
    let execution_id = client::create(&mut admin, target, inputs, |_| {}).await.id;

    // The generator's spec rides the poll that claims the children it creates.
    let generator = worker.poll_one().await;
    let polled = worker
        .poll_carrying(vec![completion(&generator, result_for(&generator))], 10, LONG_WAIT)
        .await;
    assert_eq!(polled.completion_results.len(), 1);
    assert_eq!(
        (polled.completion_results[0].status, polled.completion_results[0].phase),
        (
            pb::CompletionStatus::Accepted as i32,
            pb::AttemptPhase::Succeeded as i32
        ),
        "{}",
        polled.completion_results[0].message
    );
    let mut children: Vec<String> = polled.assignments.iter().map(|a| node_id(a).to_owned()).collect();
    children.sort();
    assert_eq!(
        children.len(),
        2,
        "the children were claimed by the poll that created them: {children:?}"
    );

    // Both children's results in one poll with nothing left to claim: answered at once, not after the wait.
    let finished: Vec<pb::Completion> = polled
        .assignments
        .iter()
        .map(|a| completion(a, result_for(a)))
        .collect();
    let asked = Instant::now();
    let polled_again = worker.poll_carrying(finished.clone(), 10, LONG_WAIT).await;
    assert!(
        asked.elapsed() < LONG_WAIT / 2,
        "the poll waited for work although it carried results"
    );
    assert!(polled_again.assignments.is_empty());
    let statuses: Vec<i32> = polled_again.completion_results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [pb::CompletionStatus::Accepted as i32; 2]);

    // A repeated result and a malformed one: each refused on its own, in order, and nothing changes.
    let malformed = pb::Completion {
        attempt: finished[0].attempt.clone(),
        lease_id: finished[0].lease_id.clone(),
        result: None,
    };
    let refused = worker
        .poll_carrying(vec![finished[1].clone(), malformed], 10, LONG_WAIT)
        .await;
    let answers: Vec<(i32, i32)> = refused.completion_results.iter().map(|r| (r.status, r.code)).collect();
    assert_eq!(
        answers,
        [
            (
                pb::CompletionStatus::Rejected as i32,
                tonic::Code::FailedPrecondition as i32
            ),
            (
                pb::CompletionStatus::Rejected as i32,
                tonic::Code::InvalidArgument as i32
            ),
        ]
    );
    assert!(refused.completion_results[1].message.contains("completions[1].result"));

    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(execution.phase, pb::ExecutionPhase::Succeeded as i32);
    let outputs = client::outputs(&mut admin, &execution_id).await;
    assert_eq!(
        outputs.get("out"),
        Some(&Literal::Collection(vec![Literal::Integer(0), Literal::Integer(2)]))
    );
    for child in &children {
        let attempts = client::attempts(&mut admin, &execution_id, child).await;
        assert_eq!(attempts.len(), 1, "{child}: one attempt, recorded once");
        assert_eq!(attempts[0].phase, pb::AttemptPhase::Succeeded as i32, "{child}");
    }
    let db = server.records_db().await;
    records::check(&db, &[]).await.assert_sound();
    db.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_ride_a_poll_that_claims_what_they_released_on_sqlite() {
    results_ride_a_poll_that_claims_what_they_released(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_ride_a_poll_that_claims_what_they_released_on_postgres() {
    results_ride_a_poll_that_claims_what_they_released(Backend::Postgres).await;
}
