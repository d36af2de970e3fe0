//! Execution listings by target, by creation time and by a search text, alone, together and paged.

use gantry_core::model::ResourceKind;
use gantry_store::{ExecutionFilter, ExecutionRow, Page, Store, TargetFilter};

use super::fixtures::execution;

/// `(name, target kind, target, created_at)` of the executions of project `p`, domain `d`, oldest first.
const ROWS: [(&str, &str, &str, i64); 7] = [
    ("nightly-1", "workflow", "p/d/wf@v1", 1_000),
    ("nightly-2", "workflow", "p/d/wf@v2", 2_000),
    ("adhoc", "task", "p/d/wf@v1", 3_000),
    ("nightly-3", "workflow", "p/d/wf2@v1", 4_000),
    ("other", "workflow", "lib/prod/wf@v1", 5_000),
    ("night", "workflow", "p/d/wf@v1", 6_000),
    ("wf", "workflow", "p/d/w@f", 7_000),
];

async fn seed(store: &dyn Store) -> Vec<ExecutionRow> {
    let mut tx = store.begin().await.unwrap();
    let mut rows = Vec::new();
    for (name, kind, target, created_at) in ROWS {
        let mut row = execution("p", "d", name);
        row.target_kind = kind.to_owned();
        row.target = target.to_owned();
        row.created_at = created_at;
        tx.insert_execution(&row).await.unwrap();
        rows.push(row);
    }
    // The same name and target elsewhere: never listed, since every filter narrows p/d.
    let mut elsewhere = execution("q", "d", "nightly-1");
    elsewhere.target = "p/d/wf@v1".to_owned();
    tx.insert_execution(&elsewhere).await.unwrap();
    tx.commit().await.unwrap();
    rows
}

fn in_p_d() -> ExecutionFilter {
    ExecutionFilter {
        project: Some("p".to_owned()),
        domain: Some("d".to_owned()),
        ..ExecutionFilter::default()
    }
}

fn target(kind: ResourceKind, id: &str, version: Option<&str>) -> Option<TargetFilter> {
    let mut parts = id.splitn(3, '/');
    Some(TargetFilter {
        kind,
        project: parts.next().unwrap().to_owned(),
        domain: parts.next().unwrap().to_owned(),
        name: parts.next().unwrap().to_owned(),
        version: version.map(str::to_owned),
    })
}

/// Every page of `filter`, `limit` rows at a time, as names.
async fn names(store: &dyn Store, filter: &ExecutionFilter, limit: u32) -> Vec<String> {
    let mut names = Vec::new();
    let mut page = Page { after: None, limit };
    loop {
        let rows = store.list_executions(filter, &page).await.unwrap();
        assert!(rows.len() <= limit as usize);
        let Some(last) = rows.last() else { return names };
        page.after = Some(last.id.to_string());
        names.extend(rows.iter().map(|row| row.name.clone()));
    }
}

pub async fn list_executions_by_target_time_and_search(store: &dyn Store) {
    let rows = seed(store).await;
    let by_target = |kind, id, version| ExecutionFilter {
        target: target(kind, id, version),
        ..in_p_d()
    };
    let workflow = ResourceKind::Workflow;
    assert_eq!(
        names(store, &by_target(workflow, "p/d/wf", None), 10).await,
        ["night", "nightly-2", "nightly-1"]
    );
    assert_eq!(
        names(store, &by_target(workflow, "p/d/wf", Some("v1")), 10).await,
        ["night", "nightly-1"]
    );
    assert_eq!(
        names(store, &by_target(workflow, "p/d/wf", Some("v")), 10).await,
        [] as [&str; 0]
    );
    assert_eq!(
        names(store, &by_target(ResourceKind::Task, "p/d/wf", None), 10).await,
        ["adhoc"]
    );
    assert_eq!(
        names(store, &by_target(workflow, "lib/prod/wf", None), 10).await,
        ["other"]
    );
    assert_eq!(names(store, &by_target(workflow, "p/d/w", None), 10).await, ["wf"]);

    let between = |after, before| ExecutionFilter {
        created_after: after,
        created_before: before,
        ..in_p_d()
    };
    assert_eq!(
        names(store, &between(Some(2_000), Some(5_000)), 10).await,
        ["nightly-3", "adhoc", "nightly-2"]
    );
    assert_eq!(names(store, &between(Some(6_000), None), 10).await, ["wf", "night"]);
    assert_eq!(names(store, &between(None, Some(1_001)), 10).await, ["nightly-1"]);

    let search = |text: &str| ExecutionFilter {
        search: Some(text.to_owned()),
        ..in_p_d()
    };
    assert_eq!(
        names(store, &search("nightly"), 10).await,
        ["nightly-3", "nightly-2", "nightly-1"]
    );
    assert_eq!(
        names(store, &search("night"), 10).await,
        ["night", "nightly-3", "nightly-2", "nightly-1"]
    );
    assert_eq!(names(store, &search("nightly-3x"), 10).await, [] as [&str; 0]);
    assert_eq!(names(store, &search("Night"), 10).await, [] as [&str; 0]);
    let adhoc = &rows[2];
    assert_eq!(names(store, &search(&adhoc.id.to_string()), 10).await, ["adhoc"]);
    assert_eq!(
        names(store, &search(&adhoc.id.simple().to_string()), 10).await,
        ["adhoc"]
    );

    // Filters together narrow one another, and keyset pages of one row step through the same listing.
    let together = ExecutionFilter {
        search: Some("night".to_owned()),
        created_after: Some(1_500),
        ..by_target(workflow, "p/d/wf", None)
    };
    assert_eq!(names(store, &together, 1).await, ["night", "nightly-2"]);
    assert_eq!(
        names(store, &search("night"), 1).await,
        names(store, &search("night"), 10).await
    );
}
