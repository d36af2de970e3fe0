//! Three levels of dynamic tasks: children listed per parent at every depth, ids exact, dynamic parents flagged,
//! each accepted spec readable.

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_tests::client;
use gantry_tests::raw_worker::{self, id};
use gantry_tests::{Backend, TestServer, wait_for_terminal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_level_nested_dynamic() {
    let server = TestServer::start(Backend::Postgres).await;
    let mut admin = server.admin().await;
    for task in raw_worker::task_templates() {
        admin
            .register_task(pb::RegisterTaskRequest {
                task: Some(task.into()),
            })
            .await
            .expect("register");
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(raw_worker::run(server.worker().await, "raw", 64, stopped));
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id("nest").into())),
        inputs: Some(LiteralMap::from([("depth".to_owned(), Literal::Integer(2))]).into()),
        ..Default::default()
    };
    let execution_id = admin
        .create_execution(request)
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("e")
        .id;
    let execution = wait_for_terminal(&mut admin, &execution_id).await;
    assert_eq!(
        execution.phase,
        pb::ExecutionPhase::Succeeded as i32,
        "{:?}",
        execution.error
    );

    let data = admin
        .get_execution_data(pb::GetExecutionDataRequest {
            id: execution_id.clone(),
            ..Default::default()
        })
        .await
        .expect("data");
    let outputs: LiteralMap = data.into_inner().outputs.expect("outputs").try_into().expect("convert");
    assert_eq!(
        outputs["out"],
        Literal::Collection(vec![Literal::Integer(0), Literal::Integer(2), Literal::Integer(4)])
    );

    let top = client::children(&mut admin, &execution_id, "").await;
    assert_eq!(top.iter().map(|n| n.node_id.as_str()).collect::<Vec<_>>(), ["n0"]);
    assert!(top[0].is_dynamic_parent);
    let level1 = client::children(&mut admin, &execution_id, "n0").await;
    assert_eq!(
        level1.iter().map(|n| n.node_id.as_str()).collect::<Vec<_>>(),
        ["n0/0/dn0", "n0/0/dn1"]
    );
    for parent in &level1 {
        assert!(parent.is_dynamic_parent && parent.is_parent);
        assert_eq!(parent.parent_node_id, "n0");
        let level2 = client::children(&mut admin, &execution_id, &parent.node_id).await;
        let expected: Vec<String> = (0..2).map(|i| format!("{}/0/dn{i}", parent.node_id)).collect();
        assert_eq!(level2.iter().map(|n| n.node_id.clone()).collect::<Vec<_>>(), expected);
        for generator in &level2 {
            let leaves = client::children(&mut admin, &execution_id, &generator.node_id).await;
            let expected: Vec<String> = (0..3).map(|i| format!("{}/0/dn{i}", generator.node_id)).collect();
            assert_eq!(
                leaves.iter().map(|n| n.node_id.clone()).collect::<Vec<_>>(),
                expected,
                "ids exact at depth 3"
            );
            assert!(
                leaves
                    .iter()
                    .all(|n| n.phase == pb::NodePhase::Succeeded as i32 && !n.is_dynamic_parent)
            );
        }
    }
    // The deepest leaf's data and a generator's accepted spec are readable.
    let leaf = admin
        .get_node_execution_data(pb::GetNodeExecutionDataRequest {
            execution_id: execution_id.clone(),
            node_id: "n0/0/dn1/0/dn1/0/dn2".into(),
            ..Default::default()
        })
        .await
        .expect("leaf data")
        .into_inner();
    let leaf_outputs: LiteralMap = leaf.outputs.expect("outputs").try_into().expect("convert");
    assert_eq!(leaf_outputs["other_task_out"], Literal::Integer(4));
    let generator = admin
        .get_node_execution_data(pb::GetNodeExecutionDataRequest {
            execution_id: execution_id.clone(),
            node_id: "n0/0/dn1".into(),
            ..Default::default()
        })
        .await
        .expect("generator data")
        .into_inner();
    assert_eq!(generator.dynamic_spec.expect("accepted spec").nodes.len(), 2);

    stop.send(true).expect("stop");
    // 1 + 2 + 4 generators and 4 × 3 leaves, each completed once.
    assert_eq!(worker.await.expect("worker"), 7 + 12);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_falls_behind_gets_the_current_phase_and_goes_on() {
    use tokio_stream::StreamExt;
    let server = TestServer::start_with(Backend::Sqlite, |config| config.watch_buffer = 4).await;
    let mut admin = server.admin().await;
    for task in raw_worker::task_templates() {
        admin
            .register_task(pb::RegisterTaskRequest {
                task: Some(task.into()),
            })
            .await
            .expect("register");
    }
    let request = pb::CreateExecutionRequest {
        project: "demo".into(),
        domain: "dev".into(),
        target: Some(pb::create_execution_request::Target::Task(id("generate_others").into())),
        inputs: Some(LiteralMap::from([("tasks_count".to_owned(), Literal::Integer(200))]).into()),
        ..Default::default()
    };
    let execution_id = admin
        .create_execution(request)
        .await
        .expect("create")
        .into_inner()
        .execution
        .expect("e")
        .id;
    let watch = pb::WatchExecutionRequest {
        execution_id: execution_id.clone(),
        include_snapshot: false,
        after_sequence: 0,
    };
    let mut stream = admin.watch_execution(watch).await.expect("watch").into_inner();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(raw_worker::run(server.worker().await, "raw", 256, stopped));
    let mut resyncs = 0;
    let mut last_execution_phase = 0;
    while let Some(message) = stream.next().await {
        let message = message.expect("the stream never fails for falling behind");
        for change in message.changes {
            if let Some(pb::phase_change::Change::Execution(e)) = change.change {
                // Live changes are numbered from 1; a re-read current phase comes with sequence 0.
                resyncs += usize::from(change.sequence == 0);
                last_execution_phase = e.phase;
            }
        }
    }
    assert!(
        resyncs >= 1,
        "a 4-change buffer overflows during a 200-child fan-out, and the current phase follows"
    );
    assert_eq!(
        last_execution_phase,
        pb::ExecutionPhase::Succeeded as i32,
        "the stream ends with the terminal phase"
    );
    stop.send(true).expect("stop");
    worker.await.expect("worker");
    server.stop().await;
}
