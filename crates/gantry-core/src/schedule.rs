//! Schedules: which ticks a launch plan's schedule has, which of them are due at a moment (under its catch-up
//! policy), and what the execution of a tick is called. Pure: the engine gives the times, stores the next tick and
//! starts the executions.
//!
//! A cron schedule's ticks are its expression's times in its time zone (`croner`, with `chrono-tz`'s database
//! compiled in); a fixed rate's are `anchor + k × rate`, `k ≥ 1`, the anchor being when the schedule was activated.

use std::str::FromStr;

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use croner::Cron;
use sha2::{Digest, Sha256};

use crate::model::{CatchUp, Identifier, LaunchPlan, Schedule, ScheduleKind};

/// The shortest fixed rate: a schedule ticking faster would be a loop, not a schedule.
pub const MIN_RATE_MS: i64 = 1_000;
/// The most missed ticks a `RunMissed` policy may run at once.
pub const MAX_CATCH_UP: u32 = 1_000;

/// A schedule checked and ready to give its ticks.
#[derive(Debug, Clone)]
pub struct Ticks {
    kind: Parsed,
    catch_up: CatchUp,
}

#[derive(Debug, Clone)]
enum Parsed {
    Cron(Box<Cron>, Tz),
    Rate(i64),
}

/// The ticks due at a moment, and the next one after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The ticks to run now, oldest first (Unix milliseconds).
    pub ticks: Vec<i64>,
    /// Whether due ticks older than these were skipped.
    pub skipped: bool,
    /// The first tick after `now`; `None` when the schedule has no more.
    pub next: Option<i64>,
}

impl Ticks {
    /// Parses `schedule`, or says what is wrong with it (the field and the problem).
    pub fn new(schedule: &Schedule) -> Result<Ticks, String> {
        let kind = match &schedule.kind {
            ScheduleKind::Cron { expression, time_zone } => {
                let cron = Cron::from_str(expression)
                    .map_err(|error| format!("cron expression {}: {error}", crate::names::quote(expression)))?;
                let zone = if time_zone.is_empty() { "UTC" } else { time_zone };
                let tz = Tz::from_str(zone)
                    .map_err(|_| format!("time zone {}: not an IANA time zone", crate::names::quote(zone)))?;
                Parsed::Cron(Box::new(cron), tz)
            }
            ScheduleKind::FixedRate(rate) => {
                if rate.as_millis() < MIN_RATE_MS {
                    return Err(format!("fixed rate {} ms: at least {MIN_RATE_MS} ms", rate.as_millis()));
                }
                Parsed::Rate(rate.as_millis())
            }
        };
        if let CatchUp::RunMissed { limit } = schedule.catch_up
            && !(1..=MAX_CATCH_UP).contains(&limit)
        {
            return Err(format!("catch-up limit {limit}: between 1 and {MAX_CATCH_UP}"));
        }
        Ok(Ticks {
            kind,
            catch_up: schedule.catch_up,
        })
    }

    /// The first tick strictly after `after`, for a schedule activated at `anchor`.
    pub fn next_after(&self, anchor: i64, after: i64) -> Option<i64> {
        match &self.kind {
            Parsed::Cron(cron, tz) => {
                let at = instant(tz, after)?;
                cron.find_next_occurrence(&at, false).ok().map(|t| t.timestamp_millis())
            }
            Parsed::Rate(rate) => {
                let steps = if after < anchor { 0 } else { (after - anchor) / rate };
                anchor.checked_add(rate.checked_mul(steps + 1)?)
            }
        }
    }

    /// The latest tick at or before `at`, for a schedule activated at `anchor`.
    fn latest_at_or_before(&self, anchor: i64, at: i64) -> Option<i64> {
        match &self.kind {
            Parsed::Cron(cron, tz) => {
                let at = instant(tz, at)?;
                cron.find_previous_occurrence(&at, true)
                    .ok()
                    .map(|t| t.timestamp_millis())
            }
            Parsed::Rate(rate) => {
                let steps = at.checked_sub(anchor)? / rate;
                (steps >= 1).then(|| anchor + steps * rate)
            }
        }
    }

    /// The ticks due at `now` of a schedule activated at `anchor` whose next tick was `next_fire`: those in
    /// `[next_fire, now]`, as many of the latest as the catch-up policy runs, and the next tick after `now`. Walks
    /// back from `now`, so a schedule that missed a year of per-second ticks costs as little as one that missed one.
    pub fn due(&self, anchor: i64, next_fire: i64, now: i64) -> Due {
        let keep = match self.catch_up {
            CatchUp::Skip => 1,
            CatchUp::RunMissed { limit } => limit.max(1) as usize,
        };
        let mut ticks = Vec::new();
        let mut at = now;
        let mut skipped = false;
        while let Some(tick) = self.latest_at_or_before(anchor, at) {
            if tick < next_fire {
                break;
            }
            if ticks.len() == keep {
                skipped = true;
                break;
            }
            ticks.push(tick);
            at = tick - 1;
        }
        ticks.reverse();
        Due {
            ticks,
            skipped,
            next: self.next_after(anchor, now),
        }
    }

    /// The next `count` ticks after `after`.
    pub fn upcoming(&self, anchor: i64, after: i64, count: usize) -> Vec<i64> {
        let mut ticks = Vec::with_capacity(count);
        let mut at = after;
        while ticks.len() < count {
            let Some(tick) = self.next_after(anchor, at) else { break };
            ticks.push(tick);
            at = tick;
        }
        ticks
    }
}

fn instant(tz: &Tz, millis: i64) -> Option<DateTime<Tz>> {
    tz.timestamp_millis_opt(millis).single()
}

/// The name of the execution of `plan`'s tick at `tick` (Unix milliseconds): the same on every replica, so a tick
/// started twice is one execution (a repeated `CreateExecution` of a name returns the existing one). Within the rule
/// of execution names: `s-`, 16 hex digits of the SHA-256 of the plan's id, `-`, the tick in Unix seconds (and
/// milliseconds, when not whole).
pub fn execution_name(plan: &Identifier, tick: i64) -> String {
    let digest = Sha256::digest(plan.to_string().as_bytes());
    let short = hex::encode(&digest[..8]);
    if tick % 1000 == 0 {
        format!("s-{short}-{}", tick / 1000)
    } else {
        format!("s-{short}-{tick}ms")
    }
}

/// What a launch plan's schedule needs of the plan's target: its kickoff input must be a datetime input the plan
/// does not fix. `inputs` are the target's `(name, is a datetime)`.
pub fn check_kickoff(plan: &LaunchPlan, inputs: &[(String, bool)]) -> Result<(), String> {
    let Some(schedule) = &plan.schedule else { return Ok(()) };
    let Some(kickoff) = &schedule.kickoff_input else {
        return Ok(());
    };
    match inputs.iter().find(|(name, _)| name == kickoff) {
        None => Err(format!(
            "schedule.kickoff_input {}: the target has no such input",
            crate::names::quote(kickoff)
        )),
        Some((_, false)) => Err(format!(
            "schedule.kickoff_input {}: the input is not a datetime",
            crate::names::quote(kickoff)
        )),
        Some(_) if plan.fixed_inputs.contains_key(kickoff) => Err(format!(
            "schedule.kickoff_input {}: the launch plan fixes it",
            crate::names::quote(kickoff)
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests;
