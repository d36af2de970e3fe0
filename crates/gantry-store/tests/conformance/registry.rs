//! Registered resources.

use gantry_core::model::{Identifier, TaskPlugin, TaskTemplate};
use gantry_proto::v1 as pb;
use gantry_store::{Page, PutOutcome, ResourceKind, ResourceRow, Store, StoreError};
use prost::Message;

use super::fixtures::resource;

pub async fn put_resource_creates_then_is_idempotent_then_conflicts(store: &dyn Store) {
    let original = resource("p", "my_task", "v1", b"template-1");
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.put_resource(ResourceKind::Task, &original).await.unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        tx.put_resource(ResourceKind::Task, &original).await.unwrap(),
        PutOutcome::Unchanged
    );
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.put_resource(ResourceKind::Task, &original).await.unwrap(),
        PutOutcome::Unchanged
    );
    let changed = resource("p", "my_task", "v1", b"template-2");
    let error = tx.put_resource(ResourceKind::Task, &changed).await.unwrap_err();
    match error {
        StoreError::Conflict(message) => assert_eq!(
            message,
            "task p/development/my_task@v1 is already registered with a different template"
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The conflict leaves the transaction usable, and the registered template as it was.
    assert_eq!(
        tx.get_resource(ResourceKind::Task, &original.key).await.unwrap(),
        Some(original.clone())
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store.get_resource(ResourceKind::Task, &original.key).await.unwrap(),
        Some(original)
    );
}

/// A template is stored as its encoding, which with a plugin payload holds arbitrary bytes (zeros, invalid UTF-8):
/// both stores give back exactly those bytes, which decode to the same template and payload.
pub async fn a_template_with_a_plugin_payload_reads_back_identical(store: &dyn Store) {
    let plugin = TaskPlugin {
        task_type: "python-task".to_owned(),
        custom: vec![0x00, 0xff, 0xfe, 0x80, 0x00, b'\'', b'\\', 0xc3, 0x28],
        config: [
            ("image".to_owned(), "cr.flyte.org/app:1".to_owned()),
            ("empty".to_owned(), String::new()),
        ]
        .into(),
    };
    let template = TaskTemplate {
        id: Identifier::new("p", "development", "flyte_task", "v1"),
        interface: Default::default(),
        metadata: Default::default(),
        container: None,
        plugin: Some(plugin.clone()),
    };
    let encoded = pb::TaskTemplate::from(template.clone()).encode_to_vec();
    let row = resource("p", "flyte_task", "v1", &encoded);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.put_resource(ResourceKind::Task, &row).await.unwrap(),
        PutOutcome::Created
    );
    tx.commit().await.unwrap();

    let read = store.get_resource(ResourceKind::Task, &row.key).await.unwrap().unwrap();
    assert_eq!(read.template, encoded);
    let decoded = TaskTemplate::try_from(pb::TaskTemplate::decode(read.template.as_slice()).unwrap()).unwrap();
    assert_eq!(decoded.plugin, Some(plugin));
    assert_eq!(decoded, template);
    // Registering the same encoding again is recognised as the same template.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.put_resource(ResourceKind::Task, &row).await.unwrap(),
        PutOutcome::Unchanged
    );
    tx.commit().await.unwrap();
}

pub async fn resource_kinds_are_separate(store: &dyn Store) {
    let task = resource("p", "shared", "v1", b"task");
    let workflow = resource("p", "shared", "v1", b"workflow");
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.put_resource(ResourceKind::Task, &task).await.unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        tx.put_resource(ResourceKind::Workflow, &workflow).await.unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        tx.put_resource(ResourceKind::LaunchPlan, &task).await.unwrap(),
        PutOutcome::Created
    );
    let error = tx.put_resource(ResourceKind::LaunchPlan, &workflow).await.unwrap_err();
    assert!(
        error.to_string().starts_with("launch plan p/development/shared@v1"),
        "{error}"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store.get_resource(ResourceKind::Workflow, &task.key).await.unwrap(),
        Some(workflow)
    );
    assert_eq!(
        store.get_resource(ResourceKind::Task, &task.key).await.unwrap(),
        Some(task.clone())
    );
    let mut missing = task.key.clone();
    missing.version = "v2".to_owned();
    assert_eq!(store.get_resource(ResourceKind::Task, &missing).await.unwrap(), None);
}

pub async fn list_resources_pages_in_name_version_order(store: &dyn Store) {
    let mut tx = store.begin().await.unwrap();
    // Inserted out of order; one in another project and one of another kind must never be listed.
    for (project, name, version) in [
        ("p", "b", "v1"),
        ("p", "a", "v2"),
        ("q", "a", "v0"),
        ("p", "c", "v1"),
        ("p", "a", "v1"),
        ("p", "b", "v2"),
    ] {
        tx.put_resource(ResourceKind::Task, &resource(project, name, version, b"t"))
            .await
            .unwrap();
    }
    tx.put_resource(ResourceKind::Workflow, &resource("p", "a", "v0", b"w"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut listed = Vec::new();
    let mut page = Page { after: None, limit: 2 };
    loop {
        let rows = store
            .list_resources(ResourceKind::Task, "p", "development", None, &page)
            .await
            .unwrap();
        assert!(rows.len() <= 2);
        let Some(last) = rows.last() else { break };
        page.after = Some(format!("{}@{}", last.key.name, last.key.version));
        listed.extend(rows.iter().map(|row| format!("{}@{}", row.key.name, row.key.version)));
    }
    assert_eq!(listed, ["a@v1", "a@v2", "b@v1", "b@v2", "c@v1"]);

    let only_b = store
        .list_resources(
            ResourceKind::Task,
            "p",
            "development",
            Some("b"),
            &Page { after: None, limit: 10 },
        )
        .await
        .unwrap();
    let versions: Vec<&str> = only_b.iter().map(|row| row.key.version.as_str()).collect();
    assert_eq!(versions, ["v1", "v2"]);
    let after_b1 = Page {
        after: Some("b@v1".to_owned()),
        limit: 10,
    };
    let rest = store
        .list_resources(ResourceKind::Task, "p", "development", Some("b"), &after_b1)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].key.version, "v2");
    let other_domain = store
        .list_resources(
            ResourceKind::Task,
            "p",
            "production",
            None,
            &Page { after: None, limit: 10 },
        )
        .await;
    assert!(other_domain.unwrap().is_empty());
}

/// The version registered last is the latest, whatever its name sorts as; among versions registered in the same
/// millisecond, the highest; none of another kind, project or name.
pub async fn the_latest_version_is_the_one_registered_last(store: &dyn Store) {
    let at = |version: &str, created_at: i64| ResourceRow {
        created_at,
        ..resource("p", "nightly", version, b"lp")
    };
    let mut tx = store.begin().await.unwrap();
    for row in [at("v2", 10), at("v10", 20), at("a", 30), at("b", 30)] {
        tx.put_resource(ResourceKind::LaunchPlan, &row).await.unwrap();
    }
    tx.put_resource(ResourceKind::Task, &at("z", 99)).await.unwrap();
    tx.commit().await.unwrap();
    let latest = |kind, name: &'static str| store.latest_version(kind, "p", "development", name);
    assert_eq!(
        latest(ResourceKind::LaunchPlan, "nightly").await.unwrap().as_deref(),
        Some("b")
    );
    assert_eq!(
        latest(ResourceKind::Task, "nightly").await.unwrap().as_deref(),
        Some("z")
    );
    assert_eq!(latest(ResourceKind::Workflow, "nightly").await.unwrap(), None);
    assert_eq!(latest(ResourceKind::LaunchPlan, "other").await.unwrap(), None);
    let mut tx = store.begin().await.unwrap();
    tx.put_resource(ResourceKind::LaunchPlan, &at("v3", 40)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        latest(ResourceKind::LaunchPlan, "nightly").await.unwrap().as_deref(),
        Some("v3")
    );
}
