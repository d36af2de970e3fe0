//! The audit log: entries written outside transactions, read back field for field, listed newest first with every
//! filter (principal, project, RPC, a time range) alone and together, paged by id; a made-up page token refused; an
//! id written twice a conflict.

use gantry_store::{AuditFilter, AuditRow, Page, Store, StoreError};
use uuid::Uuid;

fn entry(principal: &str, project: &str, rpc: &str, at: i64) -> AuditRow {
    AuditRow {
        id: Uuid::now_v7(),
        principal: principal.to_owned(),
        at,
        rpc: rpc.to_owned(),
        project: project.to_owned(),
        domain: "dev".to_owned(),
        target: format!("{rpc}-target"),
        summary: "task demo/dev/t@1, inputs: a".to_owned(),
        outcome: if rpc == "TerminateExecution" { "NOT_FOUND" } else { "OK" }.to_owned(),
        message: String::new(),
    }
}

fn page(after: Option<&AuditRow>, limit: u32) -> Page {
    Page {
        after: after.map(|row| row.id.to_string()),
        limit,
    }
}

/// The rpc of each listed entry, newest first.
async fn listed(store: &dyn Store, filter: AuditFilter) -> Vec<String> {
    let rows = store.list_audit_entries(&filter, &page(None, 100)).await.unwrap();
    rows.into_iter()
        .map(|row| format!("{}:{}", row.principal, row.rpc))
        .collect()
}

pub async fn audit_entries_filter_and_page_newest_first(store: &dyn Store) {
    // Written in time order: ids (UUIDv7) and times both grow.
    let written = [
        entry("alice", "p1", "RegisterTask", 100),
        entry("bob", "p1", "CreateExecution", 200),
        entry("alice", "p2", "CreateExecution", 300),
        entry("bob", "p2", "TerminateExecution", 400),
        entry("alice", "p1", "RelaunchExecution", 500),
    ];
    for row in &written {
        store.insert_audit_entry(row).await.unwrap();
    }

    let all = store
        .list_audit_entries(&AuditFilter::default(), &page(None, 100))
        .await
        .unwrap();
    let expected: Vec<AuditRow> = written.iter().rev().cloned().collect();
    assert_eq!(all, expected, "every field read back, newest first");

    let alice = AuditFilter {
        principal: Some("alice".to_owned()),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, alice.clone()).await,
        ["alice:RelaunchExecution", "alice:CreateExecution", "alice:RegisterTask"]
    );
    let p2 = AuditFilter {
        project: Some("p2".to_owned()),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, p2).await,
        ["bob:TerminateExecution", "alice:CreateExecution"]
    );
    let creations = AuditFilter {
        rpc: Some("CreateExecution".to_owned()),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, creations).await,
        ["alice:CreateExecution", "bob:CreateExecution"]
    );
    let window = AuditFilter {
        since: Some(200),
        until: Some(400),
        ..AuditFilter::default()
    };
    assert_eq!(
        listed(store, window).await,
        ["alice:CreateExecution", "bob:CreateExecution"],
        "since is inclusive, until exclusive"
    );
    let together = AuditFilter {
        principal: Some("alice".to_owned()),
        project: Some("p1".to_owned()),
        rpc: Some("RegisterTask".to_owned()),
        since: Some(0),
        until: Some(1_000),
    };
    assert_eq!(listed(store, together).await, ["alice:RegisterTask"]);
    let nobody = AuditFilter {
        principal: Some("carol".to_owned()),
        ..AuditFilter::default()
    };
    assert!(listed(store, nobody).await.is_empty());

    // Pages of two, each after the last id of the previous one, with a filter.
    let first = store.list_audit_entries(&alice, &page(None, 2)).await.unwrap();
    assert_eq!(first, vec![written[4].clone(), written[2].clone()]);
    let second = store.list_audit_entries(&alice, &page(first.last(), 2)).await.unwrap();
    assert_eq!(second, vec![written[0].clone()]);
    let past = store.list_audit_entries(&alice, &page(second.last(), 2)).await.unwrap();
    assert!(past.is_empty());

    let made_up = Page {
        after: Some("not-an-id".to_owned()),
        limit: 10,
    };
    let refused = store
        .list_audit_entries(&AuditFilter::default(), &made_up)
        .await
        .expect_err("a made-up token");
    assert!(matches!(refused, StoreError::InvalidPage(_)), "{refused:?}");

    let again = store
        .insert_audit_entry(&written[0])
        .await
        .expect_err("the same id twice");
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
}
