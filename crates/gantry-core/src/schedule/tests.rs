use super::*;
use crate::model::{Duration, Literal, LiteralMap, ResourceKind};
use crate::names;

const MINUTE: i64 = 60_000;
/// 2026-01-05T00:00:00Z, a Monday.
const MONDAY: i64 = 1_767_571_200_000;

fn cron(expression: &str, time_zone: &str, catch_up: CatchUp) -> Ticks {
    Ticks::new(&Schedule {
        kind: ScheduleKind::Cron {
            expression: expression.to_owned(),
            time_zone: time_zone.to_owned(),
        },
        kickoff_input: None,
        catch_up,
    })
    .expect("a valid schedule")
}

fn rate(millis: i64, catch_up: CatchUp) -> Ticks {
    Ticks::new(&Schedule {
        kind: ScheduleKind::FixedRate(Duration::from_millis(millis)),
        kickoff_input: None,
        catch_up,
    })
    .expect("a valid schedule")
}

#[test]
fn a_cron_ticks_at_its_times_and_one_tick_is_due_on_time() {
    let every5 = cron("*/5 * * * *", "", CatchUp::Skip);
    assert_eq!(every5.next_after(0, MONDAY), Some(MONDAY + 5 * MINUTE));
    assert_eq!(every5.next_after(0, MONDAY - 1), Some(MONDAY));
    let due = every5.due(0, MONDAY + 5 * MINUTE, MONDAY + 5 * MINUTE + 800);
    assert_eq!(
        due,
        Due {
            ticks: vec![MONDAY + 5 * MINUTE],
            skipped: false,
            next: Some(MONDAY + 10 * MINUTE)
        }
    );
    let early = every5.due(0, MONDAY + 5 * MINUTE, MONDAY + 5 * MINUTE - 1);
    assert!(early.ticks.is_empty() && !early.skipped);
    assert_eq!(early.next, Some(MONDAY + 5 * MINUTE));
}

#[test]
fn missed_ticks_are_skipped_or_run_up_to_the_limit() {
    // Down from the tick at +5 to just after +25: the ticks +5, +10, +15, +20 and +25 are due.
    let (next_fire, now) = (MONDAY + 5 * MINUTE, MONDAY + 25 * MINUTE + 10);
    let skip = cron("*/5 * * * *", "UTC", CatchUp::Skip).due(0, next_fire, now);
    assert_eq!((skip.ticks, skip.skipped), (vec![MONDAY + 25 * MINUTE], true));
    let two = cron("*/5 * * * *", "UTC", CatchUp::RunMissed { limit: 2 }).due(0, next_fire, now);
    assert_eq!(
        (two.ticks, two.skipped),
        (vec![MONDAY + 20 * MINUTE, MONDAY + 25 * MINUTE], true)
    );
    let all = cron("*/5 * * * *", "UTC", CatchUp::RunMissed { limit: 10 }).due(0, next_fire, now);
    let expected: Vec<i64> = (1..=5).map(|k| MONDAY + 5 * k * MINUTE).collect();
    assert_eq!((all.ticks, all.skipped), (expected, false));
    assert_eq!(all.next, Some(MONDAY + 30 * MINUTE));
}

#[test]
fn a_year_of_missed_per_second_ticks_costs_no_more_than_the_limit() {
    let every_second = cron("* * * * * *", "UTC", CatchUp::RunMissed { limit: 3 });
    let year = 365 * 24 * 60 * MINUTE;
    let due = every_second.due(0, MONDAY, MONDAY + year);
    assert_eq!(
        due.ticks,
        vec![MONDAY + year - 2_000, MONDAY + year - 1_000, MONDAY + year]
    );
    assert!(due.skipped);
}

#[test]
fn a_time_zone_moves_the_ticks_with_daylight_saving() {
    let nine = cron("0 9 * * *", "Europe/Paris", CatchUp::Skip);
    // Winter: 09:00 in Paris is 08:00 UTC; summer (2026-07-06): 07:00 UTC.
    assert_eq!(nine.next_after(0, MONDAY), Some(MONDAY + 8 * 60 * MINUTE));
    let july = 1_783_296_000_000; // 2026-07-06T00:00:00Z
    assert_eq!(nine.next_after(0, july), Some(july + 7 * 60 * MINUTE));
}

#[test]
fn a_fixed_rate_ticks_from_its_activation() {
    let every_minute = rate(MINUTE, CatchUp::RunMissed { limit: 5 });
    let anchor = MONDAY + 7;
    assert_eq!(every_minute.next_after(anchor, anchor), Some(anchor + MINUTE));
    assert_eq!(
        every_minute.next_after(anchor, anchor + MINUTE),
        Some(anchor + 2 * MINUTE)
    );
    assert_eq!(
        every_minute.upcoming(anchor, anchor, 3),
        [1, 2, 3].map(|k| anchor + k * MINUTE)
    );
    let due = every_minute.due(anchor, anchor + MINUTE, anchor + 3 * MINUTE + 5);
    assert_eq!(
        due.ticks,
        vec![anchor + MINUTE, anchor + 2 * MINUTE, anchor + 3 * MINUTE]
    );
    assert_eq!(due.next, Some(anchor + 4 * MINUTE));
    assert!(
        every_minute
            .due(anchor, anchor + MINUTE, anchor + MINUTE - 1)
            .ticks
            .is_empty()
    );
}

#[test]
fn malformed_schedules_say_what_is_wrong() {
    let problem = |kind: ScheduleKind, catch_up: CatchUp| {
        Ticks::new(&Schedule {
            kind,
            kickoff_input: None,
            catch_up,
        })
        .unwrap_err()
    };
    let cron_of = |expression: &str, zone: &str| ScheduleKind::Cron {
        expression: expression.to_owned(),
        time_zone: zone.to_owned(),
    };
    assert!(problem(cron_of("61 * * * *", ""), CatchUp::Skip).starts_with("cron expression \"61 * * * *\""));
    assert_eq!(
        problem(cron_of("* * * * *", "Mars/Olympus"), CatchUp::Skip),
        "time zone \"Mars/Olympus\": not an IANA time zone"
    );
    assert_eq!(
        problem(ScheduleKind::FixedRate(Duration::from_millis(10)), CatchUp::Skip),
        "fixed rate 10 ms: at least 1000 ms"
    );
    assert_eq!(
        problem(cron_of("* * * * *", ""), CatchUp::RunMissed { limit: 0 }),
        "catch-up limit 0: between 1 and 1000"
    );
}

#[test]
fn a_tick_is_named_the_same_everywhere_within_the_rule_of_names() {
    let plan = Identifier::new("demo", "dev", "nightly", "1");
    let name = execution_name(&plan, MONDAY);
    assert_eq!(name, execution_name(&plan, MONDAY));
    assert_ne!(
        name,
        execution_name(&Identifier::new("demo", "dev", "nightly", "2"), MONDAY)
    );
    assert!(name.ends_with(&format!("-{}", MONDAY / 1000)), "{name}");
    assert!(execution_name(&plan, MONDAY + 5).ends_with("ms"));
    let long = Identifier::new("demo", "dev", "n".repeat(255), "v".repeat(255));
    for name in [name, execution_name(&long, i64::MAX - 1)] {
        names::check(&name, names::EXECUTION_NAME).unwrap_or_else(|problem| panic!("{name}: {problem}"));
    }
}

#[test]
fn the_kickoff_input_must_be_a_datetime_the_plan_leaves_open() {
    let mut plan = LaunchPlan {
        id: Identifier::new("demo", "dev", "nightly", "1"),
        target: Identifier::new("demo", "dev", "report", "1"),
        target_kind: ResourceKind::Task,
        default_inputs: LiteralMap::new(),
        fixed_inputs: LiteralMap::new(),
        max_parallelism: None,
        timeout: None,
        schedule: Some(Schedule {
            kind: ScheduleKind::FixedRate(Duration::from_secs(60)),
            kickoff_input: Some("at".to_owned()),
            catch_up: CatchUp::Skip,
        }),
    };
    let inputs = [("at".to_owned(), true), ("n".to_owned(), false)];
    assert_eq!(check_kickoff(&plan, &inputs), Ok(()));
    plan.schedule.as_mut().unwrap().kickoff_input = Some("n".to_owned());
    assert_eq!(
        check_kickoff(&plan, &inputs),
        Err("schedule.kickoff_input \"n\": the input is not a datetime".into())
    );
    plan.schedule.as_mut().unwrap().kickoff_input = Some("x".to_owned());
    assert!(
        check_kickoff(&plan, &inputs)
            .unwrap_err()
            .ends_with("the target has no such input")
    );
    plan.schedule.as_mut().unwrap().kickoff_input = Some("at".to_owned());
    plan.fixed_inputs.insert("at".to_owned(), Literal::Integer(0));
    assert!(
        check_kickoff(&plan, &inputs)
            .unwrap_err()
            .ends_with("the launch plan fixes it")
    );
}
