//! Schedules on both stores, with the clock in the test's hands: a cron schedule fires each tick once across three
//! replicas ticking at the same moments; missed ticks are skipped or run up to the limit; a tick started twice is one
//! execution; activation and deactivation; and a schedule's kickoff input and plan are checked.

use std::collections::BTreeMap;

use gantry_core::model::{
    CatchUp, Identifier, LaunchPlan, Literal, LiteralMap, LiteralType, ResourceKind, Schedule, ScheduleKind,
    TaskTemplate, Timestamp, Variable,
};
use gantry_store::{ExecutionFilter, Page};

use super::harness::{Answer, Backend, Harness, int_task};
use crate::writer::Request;
use crate::{EngineError, Registration, ScheduleRecord, codec};

const MINUTE: i64 = 60_000;
/// The harness's clock starts at 1,000,000,000,000 ms (01:46:40 UTC): the first five-minute tick after it is 01:50.
const START: i64 = 1_000_000_000_000;
const FIRST_TICK: i64 = START + 200_000;

fn report_task() -> TaskTemplate {
    let mut task = int_task("report", "q");
    task.interface.inputs = vec![Variable::new("at", LiteralType::Datetime)];
    task
}

fn plan(name: &str, catch_up: CatchUp) -> LaunchPlan {
    LaunchPlan {
        id: Identifier::new("test", "dev", name, "1"),
        target: report_task().id,
        target_kind: ResourceKind::Task,
        default_inputs: LiteralMap::new(),
        fixed_inputs: LiteralMap::new(),
        max_parallelism: None,
        timeout: None,
        schedule: Some(Schedule {
            kind: ScheduleKind::Cron {
                expression: "*/5 * * * *".to_owned(),
                time_zone: "UTC".to_owned(),
            },
            kickoff_input: Some("at".to_owned()),
            catch_up,
        }),
    }
}

async fn set_active(harness: &Harness, plan: &LaunchPlan, active: bool) -> Result<ScheduleRecord, EngineError> {
    let request = Request::SetSchedule {
        launch_plan: plan.id.clone(),
        active,
    };
    match harness.apply_one(request).await {
        Answer::Schedule(result) => result,
        other => panic!("unexpected answer {other:?}"),
    }
}

/// `name -> kickoff time` of every scheduled execution of `plan`.
async fn scheduled(harness: &Harness, plan: &LaunchPlan) -> BTreeMap<String, i64> {
    let filter = ExecutionFilter {
        project: Some("test".into()),
        domain: Some("dev".into()),
        ..ExecutionFilter::default()
    };
    let page = Page {
        after: None,
        limit: 1000,
    };
    let rows = harness
        .shared
        .store
        .list_executions(&filter, &page)
        .await
        .expect("executions");
    rows.into_iter()
        .filter(|row| row.origin == "scheduled" && row.target == plan.id.to_string())
        .map(|row| {
            let inputs = codec::decode_literals(&row.inputs).expect("inputs");
            let Literal::Datetime(Timestamp { seconds, nanos }) = inputs["at"] else {
                panic!("no kickoff time in {inputs:?}")
            };
            (row.name, seconds * 1000 + i64::from(nanos) / 1_000_000)
        })
        .collect()
}

async fn registered(backend: Backend, plans: &[LaunchPlan]) -> Harness {
    let harness = Harness::new(backend).await;
    let mut registrations = vec![Registration::Task(report_task())];
    registrations.extend(plans.iter().cloned().map(Registration::LaunchPlan));
    harness.register(registrations).await;
    harness
}

async fn a_cron_schedule_fires_each_tick_once_across_three_replicas(backend: Backend) {
    let nightly = plan("nightly", CatchUp::Skip);
    let harness = registered(backend, std::slice::from_ref(&nightly)).await;
    let replicas = [harness.replica(), harness.replica()];
    let activated = set_active(&harness, &nightly, true).await.expect("activated");
    assert!(activated.active);
    assert_eq!(
        activated.next_ticks,
        (0..5).map(|k| FIRST_TICK + 5 * k * MINUTE).collect::<Vec<_>>()
    );

    for k in 0..3 {
        let tick = FIRST_TICK + 5 * k * MINUTE;
        harness.set_now(tick - 1);
        harness.apply_one(Request::Sweep).await;
        assert_eq!(
            scheduled(&harness, &nightly).await.len(),
            k as usize,
            "nothing before the tick"
        );
        harness.set_now(tick + 250);
        // The three replicas sweep at the same moment.
        tokio::join!(
            harness.apply_one(Request::Sweep),
            replicas[0].apply_one(Request::Sweep),
            replicas[1].apply_one(Request::Sweep),
        );
        let runs = scheduled(&harness, &nightly).await;
        assert_eq!(runs.len(), k as usize + 1, "tick {k}: {runs:?}");
        let name = gantry_core::schedule::execution_name(&nightly.id, tick);
        assert_eq!(
            runs.get(&name),
            Some(&tick),
            "the tick's execution has its time: {runs:?}"
        );
    }
    let shown = crate::schedules::list(&harness.shared, "test", "dev")
        .await
        .expect("schedules");
    assert_eq!(shown[0].last_tick, Some(FIRST_TICK + 10 * MINUTE));
    assert_eq!(shown[0].next_ticks[0], FIRST_TICK + 15 * MINUTE);
    harness.finish().await;
}

async fn missed_ticks_are_skipped_or_run_up_to_the_limit(backend: Backend) {
    let skip = plan("skipping", CatchUp::Skip);
    let two = plan("catching-up", CatchUp::RunMissed { limit: 2 });
    let harness = registered(backend, &[skip.clone(), two.clone()]).await;
    set_active(&harness, &skip, true).await.expect("activated");
    set_active(&harness, &two, true).await.expect("activated");
    // Down from before the first tick until just after the fifth.
    let fifth = FIRST_TICK + 20 * MINUTE;
    harness.set_now(fifth + 30_000);
    harness.apply_one(Request::Sweep).await;
    let skipped: Vec<i64> = scheduled(&harness, &skip).await.into_values().collect();
    assert_eq!(skipped, [fifth]);
    let mut caught_up: Vec<i64> = scheduled(&harness, &two).await.into_values().collect();
    caught_up.sort();
    assert_eq!(caught_up, [fifth - 5 * MINUTE, fifth]);
    // Both go on from the next tick.
    harness.set_now(fifth + 5 * MINUTE);
    harness.apply_one(Request::Sweep).await;
    assert_eq!(scheduled(&harness, &skip).await.len(), 2);
    assert_eq!(scheduled(&harness, &two).await.len(), 3);
    harness.finish().await;
}

async fn a_tick_started_twice_is_one_execution_and_deactivation_stops_ticks(backend: Backend) {
    let nightly = plan("nightly", CatchUp::Skip);
    let mut second = plan("nightly", CatchUp::Skip);
    second.id.version = "2".to_owned();
    let harness = registered(backend, &[nightly.clone(), second.clone()]).await;
    set_active(&harness, &nightly, true).await.expect("activated");
    harness.set_now(FIRST_TICK);
    harness.apply_one(Request::Sweep).await;
    assert_eq!(scheduled(&harness, &nightly).await.len(), 1);

    // As if a replica had read the schedule before the tick moved on: the same tick again is the same execution.
    let key = codec::resource_key(&nightly.id);
    let mut tx = harness.shared.store.begin().await.expect("begin");
    let mut row = tx.lock_schedule(&key).await.expect("lock").expect("row");
    row.next_tick = Some(FIRST_TICK);
    tx.update_schedule(&row).await.expect("update");
    tx.commit().await.expect("commit");
    harness.apply_one(Request::Sweep).await;
    assert_eq!(
        scheduled(&harness, &nightly).await.len(),
        1,
        "the tick's name is taken: no second execution"
    );

    // Activating version 2 deactivates version 1; deactivating it stops its ticks.
    set_active(&harness, &second, true).await.expect("activated");
    let again = set_active(&harness, &second, true)
        .await
        .expect("activating again changes nothing");
    assert!(again.active);
    harness.set_now(FIRST_TICK + 5 * MINUTE);
    harness.apply_one(Request::Sweep).await;
    assert_eq!(
        scheduled(&harness, &nightly).await.len(),
        1,
        "version 1 no longer ticks"
    );
    assert_eq!(scheduled(&harness, &second).await.len(), 1);
    let stopped = set_active(&harness, &second, false).await.expect("deactivated");
    assert!(!stopped.active && stopped.next_ticks.is_empty());
    harness.set_now(FIRST_TICK + 10 * MINUTE);
    harness.apply_one(Request::Sweep).await;
    assert_eq!(scheduled(&harness, &second).await.len(), 1);
    assert_eq!(harness.shared.store.next_tick().await.expect("next tick"), None);
    harness.finish().await;
}

async fn schedules_are_checked_where_they_are_registered_and_activated(backend: Backend) {
    let harness = registered(backend, &[]).await;
    let mut wrong = plan("wrong", CatchUp::Skip);
    wrong.schedule.as_mut().unwrap().kickoff_input = Some("missing".to_owned());
    let answer = harness
        .apply_one(Request::Register(Registration::LaunchPlan(wrong.clone())))
        .await;
    let Answer::Other(Err(EngineError::InvalidArgument(message))) = answer else {
        panic!("a kickoff input the target lacks is refused: {answer:?}");
    };
    assert!(message.contains("schedule.kickoff_input \"missing\""), "{message}");
    let mut plain = plan("plain", CatchUp::Skip);
    plain.schedule = None;
    harness.register(vec![Registration::LaunchPlan(plain.clone())]).await;
    let Err(EngineError::FailedPrecondition(message)) = set_active(&harness, &plain, true).await else {
        panic!("a plan without a schedule cannot be activated");
    };
    assert!(message.ends_with("has no schedule"), "{message}");
    let Err(EngineError::NotFound(_)) = set_active(&harness, &wrong, true).await else {
        panic!("an unregistered plan is NOT_FOUND");
    };
    harness.finish().await;
}

on_both_stores!(
    a_cron_schedule_fires_each_tick_once_across_three_replicas,
    missed_ticks_are_skipped_or_run_up_to_the_limit,
    a_tick_started_twice_is_one_execution_and_deactivation_stops_ticks,
    schedules_are_checked_where_they_are_registered_and_activated,
);
