//! Fair use, end to end: one principal over the request rate is answered RESOURCE_EXHAUSTED while another is served;
//! one principal's long polls and watches are held to their maxima while another's are not, and a held slot is given
//! back when its call ends: the client cancels it, its connection goes, or the server shuts down. Waits on the
//! server's count of held slots (a watch channel), never on sleeps.

use std::time::Duration;

use gantry_core::model::Literal;
use gantry_proto::v1 as pb;
use gantry_server::Slots;
use gantry_tests::client::{register_raw_tasks, task_request};
use gantry_tests::principals;
use gantry_tests::{Backend, TestServer};
use tonic::Code;

/// Waits (at most 30 s) until `principal` holds `count` of `slots`.
async fn until_held(slots: &Slots, principal: &str, count: u32) {
    let mut held = slots.subscribe();
    let reached = held.wait_for(|held| held.get(principal).copied().unwrap_or(0) == count);
    tokio::time::timeout(Duration::from_secs(30), reached)
        .await
        .unwrap_or_else(|_| panic!("{principal} never held {count}: {}", slots.held(principal)))
        .expect("the server's slots");
}

fn get_task() -> pb::GetTaskRequest {
    pb::GetTaskRequest {
        id: Some(gantry_tests::raw_worker::id("no_such_task").into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_principal_over_the_rate_is_refused_while_another_is_served() {
    let server = TestServer::start_identified(
        Backend::Sqlite,
        |config| {
            config.rate_limit = 2;
            config.rate_burst = 5;
        },
        Some(principals::identify()),
    )
    .await;
    let mut alice = principals::admin(&server, "alice").await;
    let mut bob = principals::admin(&server, "bob").await;
    let mut served = 0;
    let refused = loop {
        match alice.get_task(get_task()).await {
            Err(status) if status.code() == Code::ResourceExhausted => break status,
            Err(status) => assert_eq!(status.code(), Code::NotFound, "{status:?}"),
            Ok(_) => panic!("no such task"),
        }
        served += 1;
        assert!(served <= 20, "20 requests at 2 a second, and none refused");
    };
    assert!(served >= 5, "the burst is served first: {served}");
    assert!(
        refused
            .message()
            .starts_with("rate limit: principal \"alice\" made more than 2 requests a second (--rate-limit)"),
        "{}",
        refused.message()
    );
    // Bob's bucket is his own: served at once, while alice's is empty.
    let status = bob.get_task(get_task()).await.expect_err("no such task");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let again = alice.get_task(get_task()).await.expect_err("still over");
    assert_eq!(again.code(), Code::ResourceExhausted);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_are_held_to_their_maximum_and_given_back_on_cancel_and_disconnect() {
    let server = TestServer::start_identified(
        Backend::Sqlite,
        |config| config.max_watches_per_principal = 1,
        Some(principals::identify()),
    )
    .await;
    let watches = server.server.fair_use().watches.clone();
    let mut admin = server.admin().await;
    register_raw_tasks(&mut admin).await;
    // No worker: the execution stays queued, and its watches open.
    let execution = admin
        .create_execution(task_request("", "other_task", Literal::Integer(1)))
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("execution");
    let watch = pb::WatchExecutionRequest {
        execution_id: execution.id.clone(),
        include_snapshot: false,
        after_sequence: 0,
    };

    let mut alice = principals::admin(&server, "alice").await;
    let first = alice.watch_execution(watch.clone()).await.expect("a first watch");
    assert_eq!(watches.held("alice"), 1);
    let refused = alice.watch_execution(watch.clone()).await.expect_err("a second watch");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(
        refused.message(),
        "principal \"alice\" has 1 watches open already, the most allowed (--max-watches-per-principal 1)"
    );
    let mut bob = principals::admin(&server, "bob").await;
    let bobs = bob.watch_execution(watch.clone()).await.expect("bob's own watch");
    assert_eq!(watches.held("bob"), 1);

    // The client cancels its watch (the connection stays): the slot comes back.
    drop(first);
    until_held(&watches, "alice", 0).await;
    let second = alice.watch_execution(watch.clone()).await.expect("a watch again");
    // The client goes away with its connection.
    drop((second, alice));
    until_held(&watches, "alice", 0).await;
    assert_eq!(watches.held("bob"), 1, "bob's watch is untouched");

    // The execution ends: the stream ends, and its slot comes back.
    admin
        .terminate_execution(pb::TerminateExecutionRequest {
            id: execution.id.clone(),
            reason: String::new(),
        })
        .await
        .expect("terminate");
    let mut stream = bobs.into_inner();
    while stream.message().await.expect("watch message").is_some() {}
    drop(stream);
    until_held(&watches, "bob", 0).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_are_held_to_their_maximum_and_given_back_on_cancel_and_shutdown() {
    let server = TestServer::start_identified(
        Backend::Sqlite,
        |config| config.max_polls_per_principal = 1,
        Some(principals::identify()),
    )
    .await;
    let state = server.server.fair_use().clone();
    let polls = state.polls.clone();
    let poll = |wait: u64| pb::PollTasksRequest {
        worker_id: "w".into(),
        queues: vec!["nothing-here".into()],
        max_attempts: 1,
        wait: Some(prost_types::Duration {
            seconds: wait as i64,
            nanos: 0,
        }),
        completions: Vec::new(),
    };

    // Alice's long poll waits (nothing is queued); a second is refused, a poll without a wait is not long.
    let mut alice = principals::worker(&server, "alice").await;
    let waiting = tokio::spawn(async move { alice.poll_tasks(poll(120)).await });
    until_held(&polls, "alice", 1).await;
    let mut alice = principals::worker(&server, "alice").await;
    let refused = alice.poll_tasks(poll(120)).await.expect_err("a second long poll");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(
        refused.message(),
        "principal \"alice\" has 1 long polls waiting already, the most allowed (--max-polls-per-principal 1)"
    );
    let at_once = alice
        .poll_tasks(poll(0))
        .await
        .expect("a poll without a wait")
        .into_inner();
    assert!(at_once.assignments.is_empty());
    // Bob's long poll is his own.
    let mut bob = principals::worker(&server, "bob").await;
    let bobs = tokio::spawn(async move { bob.poll_tasks(poll(120)).await });
    until_held(&polls, "bob", 1).await;

    // Alice's client cancels (the task holding the call and its connection is dropped): the slot comes back.
    waiting.abort();
    until_held(&polls, "alice", 0).await;
    let mut alice_again = principals::worker(&server, "alice").await;
    let again = tokio::spawn(async move { alice_again.poll_tasks(poll(120)).await });
    until_held(&polls, "alice", 1).await;

    // The server shuts down: the waiting polls end, and every slot comes back.
    server.stop().await;
    assert_eq!(polls.held("alice"), 0);
    assert_eq!(polls.held("bob"), 0);
    for call in [again, bobs] {
        let ended = call.await.expect("the poll's task");
        if let Err(status) = ended {
            assert_ne!(status.code(), Code::ResourceExhausted, "{status:?}");
        }
    }
}
