//! Nodes: a large fan-out, locks, and aborting subtrees.

use gantry_core::state::{AttemptPhase, CacheStatus, NodeKind, NodePhase};
use gantry_store::{NodeRow, Page, Store, StoreError};
use uuid::Uuid;

use super::fixtures::{attempt, committed_execution, node};

const CHILDREN: i64 = 10_000;

pub async fn ten_thousand_children_round_trip(store: &dyn Store) {
    let execution = committed_execution(store, "fan-out").await;
    let mut parent = node(execution.id, "gen", 0);
    parent.kind = NodeKind::Composite;
    parent.is_dynamic = true;
    parent.phase = NodePhase::ChildrenRunning;
    parent.children_total = CHILDREN;
    parent.task = None;
    parent.downstream = vec![];
    // Children in reverse position order, so a listing in insertion order would fail.
    let children: Vec<NodeRow> = (0..CHILDREN)
        .rev()
        .map(|i| node(execution.id, &format!("gen/0/dn{i}"), i))
        .collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(std::slice::from_ref(&parent)).await.unwrap();
    tx.insert_nodes(&children).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(store.get_node(execution.id, "gen").await.unwrap(), Some(parent.clone()));
    assert_eq!(
        store.get_node(execution.id, "gen/0/dn1234").await.unwrap().as_ref(),
        children.iter().find(|c| c.position == 1234)
    );
    let top = store
        .list_nodes(execution.id, "", &Page { after: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(top, [parent.clone()]);

    // Paging walks the children in position order, without gaps or repeats.
    let mut positions = Vec::new();
    let mut page = Page {
        after: None,
        limit: 3_000,
    };
    loop {
        let rows = store.list_nodes(execution.id, "gen", &page).await.unwrap();
        let Some(last) = rows.last() else { break };
        page.after = Some(last.position.to_string());
        positions.extend(rows.iter().map(|row| row.position));
    }
    assert_eq!(positions, (0..CHILDREN).collect::<Vec<_>>());

    // Lock every child at once, then complete them all in one update, then assemble.
    let mut tx = store.begin().await.unwrap();
    let all_ids: Vec<String> = children.iter().map(|child| child.node_id.clone()).collect();
    let mut locked = tx.lock_nodes(execution.id, &all_ids).await.unwrap();
    locked.sort_by_key(|row| std::cmp::Reverse(row.position));
    assert_eq!(locked, children);
    let mut done = children.clone();
    for child in &mut done {
        child.phase = NodePhase::Succeeded;
        child.attempts = 1;
        child.user_failures = 2;
        child.system_failures = 3;
        child.cache_status = CacheStatus::Populated;
        child.upstream_pending = 0;
        child.downstream = vec![];
        child.children_succeeded = 4;
        child.inputs = Some(vec![1]);
        child.outputs = Some(child.position.to_le_bytes().to_vec());
        child.error = Some(vec![]);
        child.child_execution_id = Some(execution.id);
        child.updated_at = 40;
        child.started_at = Some(30);
        child.finished_at = Some(40);
    }
    tx.update_nodes(&done).await.unwrap();
    let outputs = tx.child_outputs(execution.id, "gen").await.unwrap();
    assert_eq!(outputs.len(), CHILDREN as usize);
    for (position, (local_id, output)) in (0..CHILDREN).zip(&outputs) {
        assert_eq!(local_id, &format!("gen/0/dn{position}"));
        assert_eq!(output.as_deref(), Some(&position.to_le_bytes()[..]));
    }
    tx.commit().await.unwrap();
    let updated = store.get_node(execution.id, "gen/0/dn77").await.unwrap().unwrap();
    assert_eq!(Some(&updated), done.iter().find(|c| c.position == 77));
    // The parent's own row is untouched by its children's update.
    assert_eq!(store.get_node(execution.id, "gen").await.unwrap(), Some(parent));
}

pub async fn lock_nodes_and_children_return_only_existing(store: &dyn Store) {
    let execution = committed_execution(store, "locks").await;
    let other = committed_execution(store, "other").await;
    let rows = [
        node(execution.id, "a", 0),
        node(execution.id, "b", 1),
        node(execution.id, "b/0/x", 0),
        node(execution.id, "b/0/y", 1),
        node(execution.id, "b/1/x", 0),
        node(other.id, "a", 0),
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&rows).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let ids = ["b/0/y".to_owned(), "a".to_owned(), "missing".to_owned()];
    let mut locked: Vec<String> = tx
        .lock_nodes(execution.id, &ids)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.node_id)
        .collect();
    locked.sort();
    assert_eq!(locked, ["a", "b/0/y"]);
    assert!(tx.lock_nodes(execution.id, &[]).await.unwrap().is_empty());
    let outputs = tx.child_outputs(other.id, "").await.unwrap();
    assert_eq!(outputs, [("a".to_owned(), None)]);
}

/// Only queued nodes and nodes waiting for a retry start; each comes back as it was and as written, and the
/// database holds what was written.
pub async fn start_nodes_starts_only_queued_and_retry_waiting(store: &dyn Store) {
    let execution = committed_execution(store, "starts").await;
    let phases = [
        ("a", NodePhase::Queued),
        ("b", NodePhase::RetryWaiting),
        ("c", NodePhase::Running),
        ("d", NodePhase::NotStarted),
        ("e", NodePhase::Aborted),
    ];
    let rows: Vec<NodeRow> = phases
        .iter()
        .enumerate()
        .map(|(position, (id, phase))| NodeRow {
            phase: *phase,
            updated_at: 7,
            ..node(execution.id, id, position as i64)
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&rows).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let ids = ["e", "b", "missing", "d", "c", "a", "a"].map(str::to_owned);
    let started = tx.start_nodes(execution.id, &ids, 1_000).await.unwrap();
    let expected: Vec<(NodeRow, NodeRow)> = rows[..2]
        .iter()
        .map(|before| {
            let written = NodeRow {
                phase: NodePhase::Running,
                updated_at: 1_000,
                ..before.clone()
            };
            (before.clone(), written)
        })
        .collect();
    let got: Vec<(NodeRow, NodeRow)> = started.into_iter().map(|s| (s.before, s.written)).collect();
    assert_eq!(got, expected, "a and b, in key order, as they were and as written");
    assert!(tx.start_nodes(execution.id, &[], 1_000).await.unwrap().is_empty());
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let all: Vec<String> = phases.iter().map(|(id, _)| (*id).to_owned()).collect();
    let stored: Vec<(String, NodePhase, i64)> = tx
        .lock_nodes(execution.id, &all)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.node_id, row.phase, row.updated_at))
        .collect();
    let want: Vec<(String, NodePhase, i64)> = vec![
        ("a".into(), NodePhase::Running, 1_000),
        ("b".into(), NodePhase::Running, 1_000),
        ("c".into(), NodePhase::Running, 7),
        ("d".into(), NodePhase::NotStarted, 7),
        ("e".into(), NodePhase::Aborted, 7),
    ];
    assert_eq!(stored, want);
}

pub async fn node_key_conflict(store: &dyn Store) {
    let execution = committed_execution(store, "dup").await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&[node(execution.id, "a", 0)]).await.unwrap();
    let error = tx.insert_nodes(&[node(execution.id, "a", 1)]).await.unwrap_err();
    match error {
        StoreError::Conflict(message) => assert!(message.contains(r#"node "a""#), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Node ids of the abort tree, and their phases before the abort.
const TREE: [(&str, NodePhase); 12] = [
    ("gen", NodePhase::ChildrenRunning),
    ("gen/0/a", NodePhase::ChildrenRunning),
    ("gen/0/a/0/x", NodePhase::Queued),
    ("gen/0/b", NodePhase::Succeeded),
    ("gen/0/c", NodePhase::Failed),
    ("gen/0/d", NodePhase::NotStarted),
    ("gen2", NodePhase::Running),
    ("gen2/0/e", NodePhase::Running),
    ("a_b", NodePhase::ChildrenRunning),
    ("a_b/0/y", NodePhase::Running),
    ("aXb", NodePhase::ChildrenRunning),
    ("aXb/0/z", NodePhase::Running),
];

async fn insert_tree(store: &dyn Store) -> Uuid {
    let execution = committed_execution(store, "tree").await;
    let nodes: Vec<NodeRow> = TREE
        .iter()
        .enumerate()
        .map(|(position, (node_id, phase))| NodeRow {
            phase: *phase,
            ..node(execution.id, node_id, position as i64)
        })
        .collect();
    let mut running = attempt(execution.id, "gen/0/a/0/x", "q", 0);
    running.phase = AttemptPhase::Running;
    let attempts = [
        running,
        attempt(execution.id, "gen/0/d", "q", 0),
        attempt(execution.id, "gen", "q", 0),
        attempt(execution.id, "gen2/0/e", "q", 0),
        attempt(execution.id, "aXb/0/z", "q", 0),
        attempt(execution.id, "a_b/0/y", "q", 0),
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&nodes).await.unwrap();
    tx.insert_attempts(&attempts).await.unwrap();
    tx.commit().await.unwrap();
    execution.id
}

async fn phases(store: &dyn Store, execution_id: Uuid) -> Vec<(String, NodePhase)> {
    let mut phases = Vec::new();
    for (node_id, _) in TREE {
        let row = store.get_node(execution_id, node_id).await.unwrap().unwrap();
        phases.push((node_id.to_owned(), row.phase));
    }
    phases
}

async fn attempt_phase(store: &dyn Store, execution_id: Uuid, node_id: &str) -> AttemptPhase {
    store.list_attempts(execution_id, node_id).await.unwrap()[0].phase
}

pub async fn abort_descendants_aborts_only_the_subtree(store: &dyn Store) {
    let execution_id = insert_tree(store).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.abort_descendants(execution_id, Some("gen"), 500).await.unwrap(), 3);
    // `a_b` as a LIKE pattern would match `aXb/...` too.
    assert_eq!(tx.abort_descendants(execution_id, Some("a_b"), 500).await.unwrap(), 1);
    tx.commit().await.unwrap();

    let aborted = ["gen/0/a", "gen/0/a/0/x", "gen/0/d", "a_b/0/y"];
    for (node_id, phase) in phases(store, execution_id).await {
        let before = TREE.iter().find(|(id, _)| *id == node_id).unwrap().1;
        let expected = if aborted.contains(&node_id.as_str()) {
            NodePhase::Aborted
        } else {
            before
        };
        assert_eq!(phase, expected, "node {node_id}");
    }
    let row = store.get_node(execution_id, "gen/0/a/0/x").await.unwrap().unwrap();
    assert_eq!((row.finished_at, row.updated_at), (Some(500), 500));
    let untouched = store.get_node(execution_id, "gen/0/b").await.unwrap().unwrap();
    assert_eq!((untouched.finished_at, untouched.updated_at), (None, 20));

    for node_id in ["gen/0/a/0/x", "gen/0/d", "a_b/0/y"] {
        assert_eq!(
            attempt_phase(store, execution_id, node_id).await,
            AttemptPhase::Aborted,
            "{node_id}"
        );
    }
    let attempt = &store.list_attempts(execution_id, "gen/0/d").await.unwrap()[0];
    assert_eq!(attempt.finished_at, Some(500));
    // Strictly below: the node's own attempt and its sibling trees keep running.
    for node_id in ["gen", "gen2/0/e", "aXb/0/z"] {
        assert_eq!(
            attempt_phase(store, execution_id, node_id).await,
            AttemptPhase::Queued,
            "{node_id}"
        );
    }
}

pub async fn abort_whole_execution(store: &dyn Store) {
    let execution_id = insert_tree(store).await;
    let other = committed_execution(store, "bystander").await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&[node(other.id, "gen", 0)]).await.unwrap();
    tx.insert_attempts(&[attempt(other.id, "gen", "q", 0)]).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let non_terminal = TREE.iter().filter(|(_, phase)| !phase.is_terminal()).count() as u64;
    assert_eq!(
        tx.abort_descendants(execution_id, None, 700).await.unwrap(),
        non_terminal
    );
    // Nothing is left to abort.
    assert_eq!(tx.abort_descendants(execution_id, None, 800).await.unwrap(), 0);
    tx.commit().await.unwrap();

    for (node_id, phase) in phases(store, execution_id).await {
        let before = TREE.iter().find(|(id, _)| *id == node_id).unwrap().1;
        let expected = if before.is_terminal() {
            before
        } else {
            NodePhase::Aborted
        };
        assert_eq!(phase, expected, "node {node_id}");
    }
    assert_eq!(
        store.get_node(execution_id, "gen").await.unwrap().unwrap().finished_at,
        Some(700)
    );
    for node_id in ["gen", "gen/0/d", "gen2/0/e", "aXb/0/z"] {
        assert_eq!(
            attempt_phase(store, execution_id, node_id).await,
            AttemptPhase::Aborted,
            "{node_id}"
        );
    }
    assert_eq!(
        store.get_node(other.id, "gen").await.unwrap().unwrap().phase,
        NodePhase::NotStarted
    );
    assert_eq!(attempt_phase(store, other.id, "gen").await, AttemptPhase::Queued);
}

/// A composite's children are created in chunks: the count of those created is kept (insert and update), and the
/// nodes with children still to create are listed for a starting engine.
pub async fn nodes_creating_children_are_listed_until_all_are_created(store: &dyn Store) {
    let execution = committed_execution(store, "creating").await;
    let mut creating = node(execution.id, "gen", 0);
    creating.kind = NodeKind::Composite;
    creating.phase = NodePhase::ChildrenRunning;
    creating.children_total = 100_000;
    creating.children_created = 2_000;
    let mut done = node(execution.id, "other", 1);
    done.kind = NodeKind::Composite;
    done.phase = NodePhase::ChildrenRunning;
    done.children_total = 3;
    done.children_created = 3;
    // Aborted while its children were being created: nothing more to create.
    let mut aborted = creating.clone();
    aborted.node_id = "stopped".to_owned();
    aborted.local_id = "stopped".to_owned();
    aborted.phase = NodePhase::Aborted;
    let leaf = node(execution.id, "leaf", 2);
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&[creating.clone(), done, aborted, leaf]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.get_node(execution.id, "gen").await.unwrap(),
        Some(creating.clone())
    );
    assert_eq!(
        store.nodes_creating_children(i64::MAX).await.unwrap(),
        [(execution.id, "gen".to_owned())]
    );
    // Updated at 20: not stalled before then.
    assert!(store.nodes_creating_children(20).await.unwrap().is_empty());
    assert_eq!(store.nodes_creating_children(21).await.unwrap().len(), 1);

    creating.children_created = 100_000;
    let mut tx = store.begin().await.unwrap();
    tx.update_nodes(std::slice::from_ref(&creating)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get_node(execution.id, "gen").await.unwrap(), Some(creating));
    assert!(store.nodes_creating_children(i64::MAX).await.unwrap().is_empty());
}

/// Nodes of some phases at every depth, the whole execution's or one subtree's, paged in bytewise node id order
/// (ids with upper case, `-` and `_`, which a locale's collation would order otherwise), without gaps or repeats,
/// and nothing of another execution or outside the subtree (`b` is not `bb`'s ancestor).
pub async fn descendants_of_some_phases_page_in_node_id_order(store: &dyn Store) {
    let execution = committed_execution(store, "descendants").await;
    let other = committed_execution(store, "other").await;
    let phase_of = |i: usize| match i % 5 {
        0 => NodePhase::Failed,
        1 => NodePhase::TimedOut,
        2 => NodePhase::Succeeded,
        3 => NodePhase::Skipped,
        _ => NodePhase::Running,
    };
    let mut ids: Vec<String> = ["a", "b", "bb", "B", "_c", "-d", "Z9"].map(str::to_owned).to_vec();
    ids.extend((0..300).map(|i| format!("b/0/dn{i}")));
    ids.extend((0..40).map(|i| format!("b/0/dn7/0/x{i}")));
    ids.extend((0..30).map(|i| format!("bb/0/e{i}")));
    ids.extend(["b/0/A", "b/0/_z", "b/0/-z", "b/1/dn0"].map(str::to_owned));
    let rows: Vec<NodeRow> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| NodeRow {
            phase: phase_of(i),
            ..node(execution.id, id, i as i64)
        })
        .collect();
    let elsewhere: Vec<NodeRow> = (0..20)
        .map(|i| NodeRow {
            phase: NodePhase::Failed,
            ..node(other.id, &format!("b/0/dn{i}"), i)
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&rows).await.unwrap();
    tx.insert_nodes(&elsewhere).await.unwrap();
    tx.commit().await.unwrap();

    let expected = |below: &str, phases: &[NodePhase]| -> Vec<String> {
        let prefix = format!("{below}/");
        let mut ids: Vec<String> = rows
            .iter()
            .filter(|row| below.is_empty() || row.node_id.starts_with(&prefix))
            .filter(|row| phases.is_empty() || phases.contains(&row.phase))
            .map(|row| row.node_id.clone())
            .collect();
        ids.sort();
        ids
    };
    let listed = |below: &'static str, phases: &'static [NodePhase], limit: u32| async move {
        let mut ids = Vec::new();
        let mut page = Page { after: None, limit };
        loop {
            let rows = store
                .list_descendants(execution.id, below, phases, &page)
                .await
                .unwrap();
            assert!(rows.len() <= limit as usize, "a page holds at most its limit");
            assert!(rows.iter().all(|row| row.execution_id == execution.id));
            let Some(last) = rows.last() else { break };
            page.after = Some(last.node_id.clone());
            ids.extend(rows.into_iter().map(|row| row.node_id));
        }
        ids
    };
    let failed: &[NodePhase] = &[NodePhase::Failed];
    let unsuccessful: &[NodePhase] = &[NodePhase::Failed, NodePhase::TimedOut, NodePhase::Failed];
    for (below, phases, limit) in [
        ("", failed, 7),
        ("", unsuccessful, 50),
        ("", &[][..], 33),
        ("b", failed, 9),
        ("b", unsuccessful, 1_000),
        ("b/0/dn7", &[][..], 4),
        ("bb", failed, 2),
        ("b", &[NodePhase::Running, NodePhase::Failed][..], 11),
        ("", &[NodePhase::Skipped][..], 6),
        ("a", failed, 5),
    ] {
        let want = expected(below, phases);
        assert_eq!(
            listed(below, phases, limit).await,
            want,
            "below {below:?}, phases {phases:?}"
        );
    }
    assert!(expected("", failed).len() > 70, "the fixture has many failed nodes");
    assert!(
        expected("b", failed).contains(&"b/0/dn7/0/x3".to_owned()),
        "a failed grandchild is a descendant"
    );
    assert!(!expected("b", &[]).iter().any(|id| id.starts_with("bb")));
    assert!(
        store
            .list_descendants(
                execution.id,
                "",
                failed,
                &Page {
                    after: Some("a\0/".to_owned()),
                    limit: 5
                }
            )
            .await
            .is_err_and(|error| matches!(error, StoreError::InvalidPage(_)))
    );
}

/// The first child of a parent to stop without success with an error, by finish time and then position: neither a
/// later failure, nor one without an error, nor a success, nor another parent's child, nor a grandchild.
pub async fn first_child_error_is_the_earliest_unsuccessful_child(store: &dyn Store) {
    let execution = committed_execution(store, "first-failure").await;
    let settled = |id: &str, position: i64, phase: NodePhase, finished_at: i64, error: Option<&str>| NodeRow {
        phase,
        finished_at: Some(finished_at),
        error: error.map(|e| e.as_bytes().to_vec()),
        ..node(execution.id, id, position)
    };
    let rows = [
        settled("a", 0, NodePhase::Failed, 30, Some("top a")),
        settled("b", 1, NodePhase::Failed, 20, Some("top b")),
        settled("b/0/x", 0, NodePhase::Succeeded, 1, None),
        settled("b/0/y", 1, NodePhase::Failed, 50, Some("late")),
        settled("b/0/z", 2, NodePhase::Failed, 10, None),
        settled("b/0/w", 5, NodePhase::TimedOut, 40, Some("timed out at 40")),
        settled("b/0/v", 4, NodePhase::Aborted, 40, Some("aborted at 40, before w")),
        settled("b/0/v/0/deep", 0, NodePhase::Failed, 5, Some("a grandchild")),
        settled("c/0/q", 0, NodePhase::Failed, 1, Some("another parent's")),
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&rows).await.unwrap();
    let error = |bytes: Option<Vec<u8>>| bytes.map(|b| String::from_utf8(b).unwrap());
    assert_eq!(
        error(tx.first_child_error(execution.id, "b").await.unwrap()).as_deref(),
        Some("aborted at 40, before w")
    );
    assert_eq!(
        error(tx.first_child_error(execution.id, "").await.unwrap()).as_deref(),
        Some("top b")
    );
    assert_eq!(tx.first_child_error(execution.id, "a").await.unwrap(), None);
    tx.commit().await.unwrap();
}

/// The composites and executions assembling their outputs are listed for an engine to assemble again (by when they
/// were last updated), until they leave that phase; children's outputs are read outside a transaction as inside.
pub async fn assembling_nodes_and_executions_are_listed(store: &dyn Store) {
    let execution = committed_execution(store, "assembling").await;
    let mut assembling = node(execution.id, "gen", 0);
    assembling.kind = NodeKind::Composite;
    assembling.phase = NodePhase::Assembling;
    let mut running = node(execution.id, "other", 1);
    running.kind = NodeKind::Composite;
    running.phase = NodePhase::ChildrenRunning;
    let mut child = node(execution.id, "gen/0/c0", 0);
    child.parent_id = "gen".to_owned();
    child.local_id = "c0".to_owned();
    child.phase = NodePhase::Succeeded;
    child.outputs = Some(vec![7]);
    let mut tx = store.begin().await.unwrap();
    tx.insert_nodes(&[assembling.clone(), running, child]).await.unwrap();
    tx.commit().await.unwrap();
    let ours = |rows: Vec<(Uuid, String)>| -> Vec<String> {
        rows.into_iter()
            .filter(|(id, _)| *id == execution.id)
            .map(|(_, node_id)| node_id)
            .collect()
    };
    assert_eq!(ours(store.assembling(i64::MAX).await.unwrap()), ["gen"]);
    // Updated at 20: not stalled before then.
    assert!(ours(store.assembling(20).await.unwrap()).is_empty());
    assert_eq!(ours(store.assembling(21).await.unwrap()), ["gen"]);
    assert_eq!(
        store.child_outputs(execution.id, "gen").await.unwrap(),
        [("gen/0/c0".to_owned(), Some(vec![7]))]
    );

    // The execution assembles its own outputs (`succeeding`), listed under an empty node id, first.
    let mut tx = store.begin().await.unwrap();
    let mut row = tx.lock_execution(execution.id).await.unwrap().unwrap();
    row.phase = gantry_core::state::ExecutionPhase::Succeeding;
    row.updated_at = 30;
    tx.update_execution(&row).await.unwrap();
    assembling.phase = NodePhase::Succeeded;
    assembling.updated_at = 30;
    tx.update_nodes(std::slice::from_ref(&assembling)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ours(store.assembling(i64::MAX).await.unwrap()), [""]);
    assert!(ours(store.assembling(30).await.unwrap()).is_empty());
}
