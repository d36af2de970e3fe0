//! Schedules: recorded once (a second registration leaves the row as it is), activated, found due (earliest first,
//! only active ones, with their earliest tick as the next one), updated, listed by project and domain; activating one
//! version deactivates the others of its name; archiving a project deactivates its schedules.

use gantry_store::{ProjectRow, ResourceKey, ScheduleRow, Store};

fn key(name: &str, version: &str) -> ResourceKey {
    ResourceKey {
        project: "sched".to_owned(),
        domain: "dev".to_owned(),
        name: name.to_owned(),
        version: version.to_owned(),
    }
}

fn inactive(key: ResourceKey) -> ScheduleRow {
    ScheduleRow {
        key,
        active: false,
        anchor: 5,
        next_tick: None,
        last_tick: None,
        changed_at: 5,
    }
}

pub async fn schedules_are_activated_found_due_and_listed(store: &dyn Store) {
    let mut tx = store.begin().await.unwrap();
    for row in [
        inactive(key("nightly", "1")),
        inactive(key("nightly", "2")),
        inactive(key("hourly", "1")),
    ] {
        tx.insert_schedule(&row).await.unwrap();
    }
    let mut again = inactive(key("nightly", "1"));
    again.anchor = 99;
    tx.insert_schedule(&again).await.unwrap();
    tx.commit().await.unwrap();
    let listed = store.list_schedules("sched", "dev").await.unwrap();
    assert_eq!(
        listed,
        [
            inactive(key("hourly", "1")),
            inactive(key("nightly", "1")),
            inactive(key("nightly", "2"))
        ]
    );
    assert!(store.list_schedules("sched", "prod").await.unwrap().is_empty());
    assert_eq!(store.next_tick().await.unwrap(), None, "nothing active");

    // Activate nightly@1 and hourly@1.
    let mut tx = store.begin().await.unwrap();
    for (name, next) in [("nightly", 100), ("hourly", 50)] {
        let mut row = tx.lock_schedule(&key(name, "1")).await.unwrap().expect("recorded");
        (row.active, row.anchor, row.next_tick, row.changed_at) = (true, 10, Some(next), 10);
        tx.update_schedule(&row).await.unwrap();
    }
    assert!(tx.lock_schedule(&key("weekly", "1")).await.unwrap().is_none());
    tx.commit().await.unwrap();
    assert_eq!(store.next_tick().await.unwrap(), Some(50));

    let mut tx = store.begin().await.unwrap();
    assert!(tx.due_schedules(49, 10).await.unwrap().is_empty());
    let due: Vec<String> = tx
        .due_schedules(100, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.key.name)
        .collect();
    assert_eq!(due, ["hourly", "nightly"]);
    assert_eq!(tx.due_schedules(100, 1).await.unwrap().len(), 1, "the limit holds");
    let mut hourly = tx.lock_schedule(&key("hourly", "1")).await.unwrap().unwrap();
    (hourly.next_tick, hourly.last_tick) = (Some(150), Some(50));
    tx.update_schedule(&hourly).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.next_tick().await.unwrap(), Some(100));

    // Activating nightly@2 deactivates nightly@1, and only it.
    let mut tx = store.begin().await.unwrap();
    tx.deactivate_other_versions(&key("nightly", "2"), 20).await.unwrap();
    tx.commit().await.unwrap();
    let listed = store.list_schedules("sched", "dev").await.unwrap();
    let states: Vec<(String, bool, Option<i64>, i64)> = listed
        .into_iter()
        .map(|row| {
            (
                format!("{}@{}", row.key.name, row.key.version),
                row.active,
                row.next_tick,
                row.changed_at,
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("hourly@1".to_owned(), true, Some(150), 10),
            ("nightly@1".to_owned(), false, None, 20),
            ("nightly@2".to_owned(), false, None, 5),
        ]
    );
    assert_eq!(store.next_tick().await.unwrap(), Some(150));
}

pub async fn archiving_a_project_deactivates_its_schedules(store: &dyn Store) {
    for id in ["sched", "kept"] {
        let project = ProjectRow {
            id: id.to_owned(),
            description: String::new(),
            domains: vec!["dev".to_owned()],
            created_at: 1,
            archived_at: None,
        };
        assert!(store.insert_project(&project).await.unwrap());
    }
    let elsewhere = ResourceKey {
        project: "kept".to_owned(),
        ..key("nightly", "1")
    };
    let active = |key: ResourceKey| ScheduleRow {
        active: true,
        next_tick: Some(100),
        changed_at: 10,
        ..inactive(key)
    };
    let mut tx = store.begin().await.unwrap();
    for row in [
        active(key("nightly", "1")),
        active(key("hourly", "1")),
        inactive(key("weekly", "1")),
        active(elsewhere.clone()),
    ] {
        tx.insert_schedule(&row).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(store.next_tick().await.unwrap(), Some(100));

    let archived = store.archive_project("sched", 70).await.unwrap().expect("a project");
    assert_eq!(archived.archived_at, Some(70));
    let states = |rows: Vec<ScheduleRow>| -> Vec<(String, bool, Option<i64>, i64)> {
        rows.into_iter()
            .map(|row| (row.key.name, row.active, row.next_tick, row.changed_at))
            .collect()
    };
    assert_eq!(
        states(store.list_schedules("sched", "dev").await.unwrap()),
        [
            ("hourly".to_owned(), false, None, 70),
            ("nightly".to_owned(), false, None, 70),
            ("weekly".to_owned(), false, None, 5),
        ],
        "the archived project's active schedules stopped; an inactive one is left as it was"
    );
    assert_eq!(
        states(store.list_schedules("kept", "dev").await.unwrap()),
        [("nightly".to_owned(), true, Some(100), 10)],
        "another project's schedule goes on"
    );
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.due_schedules(1_000, 10).await.unwrap(), [active(elsewhere)]);
    tx.commit().await.unwrap();
    assert_eq!(store.archive_project("nowhere", 80).await.unwrap(), None);
}
