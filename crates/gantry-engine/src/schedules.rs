//! Launch plans' schedules: recorded (inactive) when a plan is registered, activated and deactivated by clients, and
//! ticked by the sweeper. The core says which ticks are due and what their executions are called
//! (`gantry_core::schedule`); this finds the rows and starts the executions.
//!
//! Exactly one execution per tick, however many replicas tick: a replica locks the due rows (skipping rows another
//! one holds) and moves each schedule's next tick in the transaction that starts the tick's executions; and a tick's
//! execution has a name derived from the plan and the tick, so one started twice (a replica that read the row before
//! another committed) is the same execution, not a second.

use std::sync::Arc;

use gantry_core::model::{Identifier, LaunchPlan, Literal, LiteralMap, LiteralType, Schedule, Timestamp};
use gantry_core::schedule::{self, Ticks};
use gantry_store::{ResourceKey, ScheduleRow};
use tracing::{info, warn};

use crate::Engine;
use crate::batch::Batch;
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::shared::Shared;
use crate::submit::{CreateExecution, Origin, Target};

/// How many ticks the next-ticks of a listing show.
pub const SHOWN_TICKS: usize = 5;

/// A launch plan's schedule and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRecord {
    pub launch_plan: Identifier,
    pub schedule: Schedule,
    pub active: bool,
    /// While active, the next ticks, the first of which runs next.
    pub next_ticks: Vec<i64>,
    pub last_tick: Option<i64>,
    pub changed_at: i64,
}

impl Batch<'_> {
    /// Records the schedule of a launch plan just registered (its kickoff input checked before), inactive;
    /// registering it again changes nothing.
    pub(crate) async fn record_schedule(&mut self, plan: &LaunchPlan) -> EngineResult<()> {
        if plan.schedule.is_none() {
            return Ok(());
        }
        let row = ScheduleRow {
            key: codec::resource_key(&plan.id),
            active: false,
            anchor: self.now,
            next_tick: None,
            last_tick: None,
            changed_at: self.now,
        };
        self.rows.tx.insert_schedule(&row).await?;
        Ok(())
    }

    /// Activates (or deactivates) the schedule of launch plan `id`; activating deactivates the plan's other versions.
    pub async fn set_schedule_active(&mut self, id: &Identifier, active: bool) -> EngineResult<ScheduleRecord> {
        let (plan, ticks) = self.scheduled_plan(id).await?;
        let key = codec::resource_key(id);
        let mut row = self.rows.tx.lock_schedule(&key).await?.ok_or_else(|| no_schedule(id))?;
        if row.active != active {
            if active {
                self.rows.tx.deactivate_other_versions(&key, self.now).await?;
                row.anchor = self.now;
                row.next_tick = ticks.next_after(self.now, self.now);
                self.wake_sweeper();
            } else {
                row.next_tick = None;
            }
            row.active = active;
            row.changed_at = self.now;
            self.rows.tx.update_schedule(&row).await?;
            info!(launch_plan = %id, active, next_tick = ?row.next_tick, "schedule changed");
        }
        let schedule = plan.schedule.as_ref().ok_or_else(|| no_schedule(id))?;
        Ok(record(&plan, schedule, &ticks, row, self.now))
    }

    /// Starts the executions of the ticks due now (at most `limit` schedules), and moves each schedule on. Returns
    /// how many schedules it looked at.
    pub(crate) async fn tick(&mut self, limit: u32) -> EngineResult<usize> {
        let due = self.rows.tx.due_schedules(self.now, limit).await?;
        for mut row in due.iter().cloned() {
            let id = identifier(&row.key);
            let scheduled = match self.scheduled_plan(&id).await {
                Ok(scheduled) => scheduled,
                // The plan's row or its schedule is gone (it cannot be unregistered today, but a row may be
                // corrupt): the schedule stops rather than be looked at again and again.
                Err(error @ (EngineError::NotFound(_) | EngineError::FailedPrecondition(_))) => {
                    warn!(launch_plan = %id, %error, "a schedule whose plan cannot be read is deactivated");
                    (row.active, row.next_tick, row.changed_at) = (false, None, self.now);
                    self.rows.tx.update_schedule(&row).await?;
                    continue;
                }
                Err(other) => return Err(other),
            };
            let (plan, ticks) = scheduled;
            let due = ticks.due(row.anchor, row.next_tick.unwrap_or(self.now), self.now);
            if due.skipped {
                info!(launch_plan = %id, first_run = ?due.ticks.first(), "missed ticks skipped, as its catch-up policy says");
            }
            for &tick in &due.ticks {
                self.start_tick(&plan, tick).await?;
            }
            row.last_tick = due.ticks.last().copied().or(row.last_tick);
            row.next_tick = due.next;
            self.rows.tx.update_schedule(&row).await?;
        }
        if !due.is_empty() {
            self.run().await?;
        }
        Ok(due.len())
    }

    /// Starts the execution of `plan`'s tick at `tick`, unless it exists (another replica started it).
    async fn start_tick(&mut self, plan: &LaunchPlan, tick: i64) -> EngineResult<()> {
        let mut inputs = LiteralMap::new();
        if let Some(kickoff) = plan.schedule.as_ref().and_then(|s| s.kickoff_input.as_ref()) {
            let at = Timestamp {
                seconds: tick.div_euclid(1000),
                nanos: (tick.rem_euclid(1000) * 1_000_000) as i32,
            };
            inputs.insert(kickoff.clone(), Literal::Datetime(at));
        }
        let name = schedule::execution_name(&plan.id, tick);
        let request = CreateExecution {
            project: plan.id.project.clone(),
            domain: plan.id.domain.clone(),
            name: Some(name.clone()),
            target: Target::LaunchPlan(plan.id.clone()),
            inputs,
            max_parallelism: None,
            overwrite_cache: false,
            timeout: None,
            origin: Origin::Scheduled,
            trace_context: None,
        };
        match self.new_execution(&request, None).await {
            Ok(execution_id) => {
                info!(launch_plan = %plan.id, tick, %execution_id, name, "scheduled execution started");
                Ok(())
            }
            Err(EngineError::AlreadyExists(_)) => {
                info!(launch_plan = %plan.id, tick, name, "the tick's execution exists already");
                Ok(())
            }
            // The plan's target changed under it: the tick is lost, the schedule goes on.
            Err(EngineError::InvalidArgument(problem) | EngineError::NotFound(problem)) => {
                warn!(launch_plan = %plan.id, tick, %problem, "a scheduled execution could not start");
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// The plan `id` and its schedule's ticks; FAILED_PRECONDITION when it has no schedule.
    async fn scheduled_plan(&mut self, id: &Identifier) -> EngineResult<(Arc<LaunchPlan>, Ticks)> {
        let plan = self
            .shared
            .templates
            .launch_plan(self.rows.tx.as_mut(), id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("launch plan {id} is not registered")))?;
        let schedule = plan.schedule.as_ref().ok_or_else(|| no_schedule(id))?;
        let ticks = Ticks::new(schedule)
            .map_err(|problem| EngineError::Internal(format!("launch plan {id}: stored schedule: {problem}")))?;
        Ok((plan, ticks))
    }
}

impl Engine {
    /// The schedules of a project and domain's launch plans, by name and version.
    pub async fn list_schedules(&self, project: &str, domain: &str) -> EngineResult<Vec<ScheduleRecord>> {
        list(&self.shared, project, domain).await
    }
}

/// See [`Engine::list_schedules`].
pub(crate) async fn list(shared: &Shared, project: &str, domain: &str) -> EngineResult<Vec<ScheduleRecord>> {
    let now = shared.config.clock.now();
    let mut records = Vec::new();
    for row in shared.store.list_schedules(project, domain).await? {
        let id = identifier(&row.key);
        let Some(template) = shared
            .store
            .get_resource(gantry_store::ResourceKind::LaunchPlan, &row.key)
            .await?
        else {
            continue;
        };
        let plan = codec::decode_launch_plan(&template.template)?;
        let Some(schedule) = &plan.schedule else { continue };
        let ticks = Ticks::new(schedule)
            .map_err(|problem| EngineError::Internal(format!("launch plan {id}: stored schedule: {problem}")))?;
        records.push(record(&plan, schedule, &ticks, row, now));
    }
    Ok(records)
}

fn record(plan: &LaunchPlan, schedule: &Schedule, ticks: &Ticks, row: ScheduleRow, now: i64) -> ScheduleRecord {
    let next_ticks = match (row.active, row.next_tick) {
        (true, Some(next)) => {
            let mut shown = vec![next];
            shown.extend(ticks.upcoming(row.anchor, next.max(now), SHOWN_TICKS - 1));
            shown
        }
        _ => Vec::new(),
    };
    ScheduleRecord {
        launch_plan: plan.id.clone(),
        schedule: schedule.clone(),
        active: row.active,
        next_ticks,
        last_tick: row.last_tick,
        changed_at: row.changed_at,
    }
}

fn no_schedule(id: &Identifier) -> EngineError {
    EngineError::FailedPrecondition(format!("launch plan {id} has no schedule"))
}

fn identifier(key: &ResourceKey) -> Identifier {
    Identifier::new(&key.project, &key.domain, &key.name, &key.version)
}

/// `(name, is a datetime)` of each input of an interface, for [`schedule::check_kickoff`].
pub(crate) fn input_kinds(interface: &gantry_core::model::TypedInterface) -> Vec<(String, bool)> {
    interface
        .inputs
        .iter()
        .map(|v| (v.name.clone(), *v.ty.untagged() == LiteralType::Datetime))
        .collect()
}
