//! Templates embedded in a dynamic spec are scoped to it: one that differs from the template registered under its
//! identifier runs under `<version>~spec-<digest>` (the registered one is left as it was), whether the spec was
//! compiled at the edge or by the writer, after a restart, and when another spec of the same batch registered the
//! identifier first. A scoped version cannot be registered.

use std::sync::Arc;

use gantry_core::model::{DynamicJobSpec, Identifier, TaskPlugin, TaskTemplate};
use gantry_core::state::{AttemptResult, ExecutionPhase};
use gantry_store::ResourceKind;

use super::harness::{
    Answer, Backend, Harness, all_nodes, assert_completed, complete, fan_out, inputs, int_task, list_task,
};
use crate::worker::Assignment;
use crate::{EngineError, Registration, codec};

fn with_plugin(task: TaskTemplate, custom: &[u8]) -> TaskTemplate {
    TaskTemplate {
        plugin: Some(TaskPlugin {
            task_type: "python-task".to_owned(),
            custom: custom.to_vec(),
            config: Default::default(),
        }),
        ..task
    }
}

/// Runs `generator` and returns its claimed attempt.
async fn generator_attempt(harness: &Harness, generator: &TaskTemplate) -> (uuid::Uuid, Assignment) {
    let execution_id = harness.run_task(generator, inputs(0)).await.id;
    let mut claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 1);
    (execution_id, claimed.remove(0))
}

fn spec_embedding(child: &TaskTemplate) -> AttemptResult {
    AttemptResult::DynamicSpec(Arc::new(DynamicJobSpec {
        tasks: vec![child.clone()],
        ..fan_out(child, 2)
    }))
}

/// The task the children of `execution_id` run, as their rows name it.
async fn children_task(harness: &Harness, execution_id: uuid::Uuid) -> Vec<String> {
    let nodes = all_nodes(harness.shared.store.as_ref(), execution_id).await;
    nodes
        .iter()
        .filter(|node| node.node_id.contains('/'))
        .filter_map(|node| node.task.clone())
        .collect()
}

/// Registers the generator and `child` (with a payload), and returns them with the `child` a run embeds instead: the
/// same id, another payload.
async fn generator_and_child(harness: &Harness) -> (TaskTemplate, TaskTemplate, TaskTemplate) {
    let generator = list_task("generator", "q");
    let registered = with_plugin(int_task("child", "q"), b"registered");
    harness
        .register(vec![
            Registration::Task(generator.clone()),
            Registration::Task(registered.clone()),
        ])
        .await;
    let embedded = with_plugin(int_task("child", "q"), b"as the run embeds it");
    (generator, registered, embedded)
}

async fn a_differing_embedded_template_runs_scoped(backend: Backend, at_the_edge: bool) {
    let mut harness = Harness::new(backend).await;
    let (generator, registered, embedded) = generator_and_child(&harness).await;
    let (execution_id, attempt) = generator_attempt(&harness, &generator).await;
    let request = match at_the_edge {
        true => {
            harness
                .complete_at_the_edge("w", &attempt, spec_embedding(&embedded))
                .await
        }
        false => complete("w", &attempt, spec_embedding(&embedded)),
    };
    assert_completed(&harness.apply_one(request).await);

    // The children run the embedded template, under a scoped identifier; what is registered is unchanged.
    let digest = codec::template_digest(gantry_core::compile::EmbeddedTemplate::Task(&embedded));
    let scoped = Identifier {
        version: format!("1~spec-{}", &digest[..16]),
        ..registered.id.clone()
    };
    assert_eq!(children_task(&harness, execution_id).await, vec![scoped.to_string(); 2]);
    let row = harness
        .shared
        .store
        .get_resource(ResourceKind::Task, &codec::resource_key(&registered.id))
        .await;
    assert_eq!(
        codec::decode_task(&row.expect("read").expect("registered").template).expect("valid"),
        registered
    );
    harness.restart().await;
    let claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 2);
    for assignment in &claimed {
        assert_eq!(assignment.task.id, scoped);
        assert_eq!(assignment.task.plugin, embedded.plugin);
        let outputs = gantry_core::model::LiteralMap::from([("y".to_owned(), gantry_core::model::Literal::Integer(1))]);
        assert_completed(
            &harness
                .apply_one(complete("w", assignment, AttemptResult::Outputs(outputs)))
                .await,
        );
    }
    assert_eq!(harness.execution(execution_id).await.phase, ExecutionPhase::Succeeded);

    // The same contents embedded again run under the same scoped identifier.
    let (again, attempt) = generator_attempt(&harness, &generator).await;
    assert_completed(
        &harness
            .apply_one(complete("w", &attempt, spec_embedding(&embedded)))
            .await,
    );
    assert_eq!(children_task(&harness, again).await, vec![scoped.to_string(); 2]);
    harness.finish().await;
}

async fn a_differing_template_is_scoped_at_the_edge(backend: Backend) {
    a_differing_embedded_template_runs_scoped(backend, true).await;
}

async fn a_differing_template_is_scoped_by_the_writer(backend: Backend) {
    a_differing_embedded_template_runs_scoped(backend, false).await;
}

/// Two specs compiled at the edge before either was accepted, each embedding its own `fresh@1` that nobody
/// registered: the first accepted registers it, the second is scoped by the writer when it finds that.
async fn two_specs_of_one_batch_embedding_a_new_identifier_differently(backend: Backend) {
    let harness = Harness::new(backend).await;
    let generator = list_task("generator", "q");
    harness.register(vec![Registration::Task(generator.clone())]).await;
    let first = with_plugin(int_task("fresh", "q"), b"first");
    let second = with_plugin(int_task("fresh", "q"), b"second");
    let (one, attempt_one) = generator_attempt(&harness, &generator).await;
    let (two, attempt_two) = generator_attempt(&harness, &generator).await;
    let requests = vec![
        harness
            .complete_at_the_edge("w", &attempt_one, spec_embedding(&first))
            .await,
        harness
            .complete_at_the_edge("w", &attempt_two, spec_embedding(&second))
            .await,
    ];
    for answer in harness.apply(requests).await {
        assert_completed(&answer);
    }
    let registered = harness
        .shared
        .store
        .get_resource(ResourceKind::Task, &codec::resource_key(&first.id))
        .await;
    let registered = codec::decode_task(&registered.expect("read").expect("registered").template).expect("valid");
    let (plain, scoped) = match registered == first {
        true => (one, two),
        false => (two, one),
    };
    assert_eq!(children_task(&harness, plain).await, vec![first.id.to_string(); 2]);
    let scoped_tasks = children_task(&harness, scoped).await;
    assert_eq!(scoped_tasks.len(), 2);
    assert!(
        scoped_tasks
            .iter()
            .all(|task| task.starts_with("test/dev/fresh@1~spec-")),
        "{scoped_tasks:?}"
    );
    let claimed = harness.claim("w", "q").await;
    let plugins: Vec<_> = claimed
        .iter()
        .map(|a| (a.task.id.version.len() > 1, a.task.plugin.clone()))
        .collect();
    assert_eq!(plugins.len(), 4);
    let (scoped_plugin, plain_plugin) = match registered == first {
        true => (second.plugin.clone(), first.plugin.clone()),
        false => (first.plugin.clone(), second.plugin.clone()),
    };
    for (is_scoped, plugin) in plugins {
        assert_eq!(
            plugin,
            if is_scoped {
                scoped_plugin.clone()
            } else {
                plain_plugin.clone()
            }
        );
    }
    harness.finish().await;
}

/// A row already under the scoped identifier with other contents (a digest collision, or a template registered under
/// that version before such versions were refused): the writer finds it, and the spec's template is scoped once more
/// against it. The children run the embedded template; the row that was there is left as it was.
async fn a_scoped_identifier_taken_by_other_contents_is_scoped_again(backend: Backend) {
    let harness = Harness::new(backend).await;
    let (generator, registered, embedded) = generator_and_child(&harness).await;
    let digest = codec::template_digest(gantry_core::compile::EmbeddedTemplate::Task(&embedded));
    let taken = TaskTemplate {
        id: Identifier {
            version: format!("1~spec-{}", &digest[..16]),
            ..registered.id.clone()
        },
        ..registered.clone()
    };
    let mut tx = harness.shared.store.begin().await.expect("begin");
    let row = gantry_store::ResourceRow {
        key: codec::resource_key(&taken.id),
        template: codec::encode_task(&taken),
        created_at: 0,
    };
    tx.put_resource(ResourceKind::Task, &row).await.expect("put");
    tx.commit().await.expect("commit");

    let (execution_id, attempt) = generator_attempt(&harness, &generator).await;
    let request = harness
        .complete_at_the_edge("w", &attempt, spec_embedding(&embedded))
        .await;
    assert_completed(&harness.apply_one(request).await);
    let tasks = children_task(&harness, execution_id).await;
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks
            .iter()
            .all(|task| task.starts_with(&format!("{}~spec-", taken.id))),
        "{tasks:?}"
    );
    let claimed = harness.claim("w", "q").await;
    assert_eq!(claimed.len(), 2);
    for assignment in claimed {
        assert_eq!(assignment.task.plugin, embedded.plugin, "the embedded template runs");
    }
    let row = harness.shared.store.get_resource(ResourceKind::Task, &row.key).await;
    assert_eq!(row.expect("read").expect("kept").template, codec::encode_task(&taken));
    harness.finish().await;
}

async fn a_scoped_version_cannot_be_registered(backend: Backend) {
    let harness = Harness::new(backend).await;
    let mut task = int_task("child", "q");
    task.id.version = "1~spec-0123456789abcdef".to_owned();
    let answer = harness
        .apply_one(crate::writer::Request::Register(Registration::Task(task)))
        .await;
    assert!(
        matches!(&answer, Answer::Other(Err(EngineError::InvalidArgument(m))) if m.contains("scoped to a dynamic spec")),
        "{answer:?}"
    );
    harness.finish().await;
}

on_both_stores!(
    a_differing_template_is_scoped_at_the_edge,
    a_differing_template_is_scoped_by_the_writer,
    two_specs_of_one_batch_embedding_a_new_identifier_differently,
    a_scoped_identifier_taken_by_other_contents_is_scoped_again,
    a_scoped_version_cannot_be_registered,
);
