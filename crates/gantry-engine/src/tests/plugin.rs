//! The plugin payload of a task template: stored in the registered template's bytes exactly as it came, read back
//! identical after a restart (from the store, not a cache), and handed to the worker with each attempt, for a
//! registered task and for a template embedded in a dynamic spec; and part of the cache key, so that a new version
//! with another payload runs instead of reading the entry the old payload's run wrote.

use std::sync::Arc;

use gantry_core::model::{DynamicJobSpec, Literal, TaskPlugin, TaskTemplate};
use gantry_core::model::{Identifier, LiteralMap};
use gantry_core::state::{AttemptResult, ExecutionPhase};
use gantry_proto::v1 as pb;
use gantry_store::ResourceKind;
use prost::Message;

use super::harness::{Answer, Backend, Harness, fan_out, inputs, int_task, list_task};
use crate::{Registration, codec};

fn flyte_plugin() -> TaskPlugin {
    TaskPlugin {
        task_type: "python-task".to_owned(),
        custom: vec![0x0a, 0x00, 0xff, 0x80, 0x7f, b'{', b'}'],
        config: [
            ("image".to_owned(), "cr.flyte.org/app:1".to_owned()),
            ("empty".to_owned(), String::new()),
        ]
        .into(),
    }
}

fn flyte_task(name: &str) -> TaskTemplate {
    TaskTemplate {
        plugin: Some(flyte_plugin()),
        ..int_task(name, "q")
    }
}

async fn a_registered_payload_reads_back_identical_and_reaches_the_worker(backend: Backend) {
    let mut harness = Harness::new(backend).await;
    let task = flyte_task("flyte");
    harness.register(vec![Registration::Task(task.clone())]).await;
    harness.restart().await;

    let store = harness.shared.health.store.clone();
    let row = store
        .get_resource(ResourceKind::Task, &codec::resource_key(&task.id))
        .await
        .expect("read")
        .expect("registered");
    assert_eq!(row.template, pb::TaskTemplate::from(task.clone()).encode_to_vec());
    let stored = pb::TaskTemplate::decode(row.template.as_slice()).expect("decodes");
    assert_eq!(stored.plugin.map(TaskPlugin::try_from), Some(Ok(flyte_plugin())));
    assert_eq!(codec::decode_task(&row.template).expect("valid"), task);

    harness.run_task(&task, inputs(3)).await;
    let claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].task.plugin, Some(flyte_plugin()));
    harness.finish().await;
}

async fn a_spec_embedded_payload_reaches_the_child_worker(backend: Backend) {
    let harness = Harness::new(backend).await;
    let generator = list_task("generator", "q");
    harness.register(vec![Registration::Task(generator.clone())]).await;
    let child = flyte_task("embedded");
    let spec = DynamicJobSpec {
        tasks: vec![child.clone()],
        ..fan_out(&child, 2)
    };
    harness.run_task(&generator, inputs(0)).await;
    let claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].task.plugin, None, "the generator has no payload");
    let result = AttemptResult::DynamicSpec(Arc::new(spec));
    let answer = harness
        .apply_one(harness.complete_at_the_edge("w", &claimed[0], result).await)
        .await;
    assert!(
        matches!(&answer, Answer::Completed(Ok(o)) if o.iter().all(Result::is_ok)),
        "{answer:?}"
    );
    let children = harness.claim("w", "q").await;
    assert_eq!(children.len(), 2);
    for assignment in &children {
        assert_eq!(assignment.task.id, child.id);
        assert_eq!(assignment.task.plugin, Some(flyte_plugin()));
        let inputs = codec::decode_literals(&assignment.inputs).expect("inputs");
        assert!(matches!(inputs.get("x"), Some(Literal::Integer(0 | 1))), "{inputs:?}");
    }
    harness.finish().await;
}

/// `cached@version` with caching on (cache version "1", shared by every version) and `plugin`.
fn cached(version: &str, plugin: Option<TaskPlugin>) -> TaskTemplate {
    let mut task = int_task("cached", "q");
    task.id = Identifier::new("test", "dev", "cached", version);
    task.metadata.cache = true;
    task.metadata.cache_version = "1".to_owned();
    task.plugin = plugin;
    task
}

/// Runs `task` on x = 3 and, if an attempt was claimed, completes it with y = `y`; returns whether it ran.
async fn run_cached(harness: &Harness, task: &TaskTemplate, y: i64) -> bool {
    harness.register(vec![Registration::Task(task.clone())]).await;
    let execution_id = harness.run_task(task, inputs(3)).await.id;
    let claimed = harness.claim("w", "q").await;
    for assignment in &claimed {
        let outputs = LiteralMap::from([("y".to_owned(), Literal::Integer(y))]);
        let answer = harness
            .apply_one(super::harness::complete(
                "w",
                assignment,
                AttemptResult::Outputs(outputs),
            ))
            .await;
        assert!(matches!(&answer, Answer::Completed(Ok(_))), "{answer:?}");
    }
    let execution = harness.execution(execution_id).await;
    assert_eq!(execution.phase, ExecutionPhase::Succeeded);
    !claimed.is_empty()
}

async fn the_payload_is_part_of_the_cache_key(backend: Backend) {
    let harness = Harness::new(backend).await;
    let other = TaskPlugin {
        custom: vec![0x0a, 0x00, 0xff, 0x80, 0x7f, b'{', b']'],
        ..flyte_plugin()
    };
    assert!(run_cached(&harness, &cached("1", None), 1).await, "the first run runs");
    assert!(
        !run_cached(&harness, &cached("2", None), 2).await,
        "a new version without a payload hits"
    );
    assert!(
        run_cached(&harness, &cached("3", Some(flyte_plugin())), 3).await,
        "a payload changes the key"
    );
    assert!(
        !run_cached(&harness, &cached("4", Some(flyte_plugin())), 4).await,
        "the same payload hits"
    );
    assert!(
        run_cached(&harness, &cached("5", Some(other)), 5).await,
        "one custom byte changes the key"
    );
    harness.finish().await;
}

on_both_stores!(
    a_registered_payload_reads_back_identical_and_reaches_the_worker,
    a_spec_embedded_payload_reaches_the_child_worker,
    the_payload_is_part_of_the_cache_key,
);
