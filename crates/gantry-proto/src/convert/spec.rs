//! Dynamic job specs and launch plans.

use gantry_core::model::{CatchUp, DynamicJobSpec, LaunchPlan, Schedule, ScheduleKind};
use gantry_core::schedule::Ticks;

use super::interface::required_identifier;
use super::literal::{duration_from_pb, duration_to_pb, literal_map_or_empty, timeout_from_pb};
use super::{ConversionError, ResultExt, decode_enum, into_list, list};
use crate::v1 as pb;

impl TryFrom<pb::DynamicJobSpec> for DynamicJobSpec {
    type Error = ConversionError;

    fn try_from(spec: pb::DynamicJobSpec) -> Result<Self, Self::Error> {
        Ok(DynamicJobSpec {
            nodes: list("nodes", spec.nodes)?,
            min_successes: spec.min_successes,
            outputs: list("outputs", spec.outputs)?,
            tasks: list("tasks", spec.tasks)?,
            subworkflows: list("subworkflows", spec.subworkflows)?,
        })
    }
}

impl From<DynamicJobSpec> for pb::DynamicJobSpec {
    fn from(spec: DynamicJobSpec) -> Self {
        pb::DynamicJobSpec {
            nodes: into_list(spec.nodes),
            min_successes: spec.min_successes,
            outputs: into_list(spec.outputs),
            tasks: into_list(spec.tasks),
            subworkflows: into_list(spec.subworkflows),
        }
    }
}

/// `id`, `target` and `target_type` are required; absent input maps are empty.
impl TryFrom<pb::LaunchPlan> for LaunchPlan {
    type Error = ConversionError;

    fn try_from(launch_plan: pb::LaunchPlan) -> Result<Self, Self::Error> {
        Ok(LaunchPlan {
            id: required_identifier("id", launch_plan.id)?,
            target: required_identifier("target", launch_plan.target)?,
            target_kind: decode_enum::<pb::ResourceType, _>("target_type", launch_plan.target_type)?,
            default_inputs: literal_map_or_empty("default_inputs", launch_plan.default_inputs)?,
            fixed_inputs: literal_map_or_empty("fixed_inputs", launch_plan.fixed_inputs)?,
            max_parallelism: launch_plan.max_parallelism,
            timeout: timeout_from_pb("timeout", launch_plan.timeout)?,
            schedule: launch_plan
                .schedule
                .map(Schedule::try_from)
                .transpose()
                .at("schedule")?,
        })
    }
}

/// The kind is required; the expression, time zone, rate and catch-up limit are checked as the core reads them
/// (`gantry_core::schedule::Ticks::new`).
impl TryFrom<pb::Schedule> for Schedule {
    type Error = ConversionError;

    fn try_from(schedule: pb::Schedule) -> Result<Self, Self::Error> {
        use pb::schedule::Kind;
        let kind = match schedule.kind {
            None => return Err(ConversionError::new("kind", "required field is missing")),
            Some(Kind::Cron(cron)) => ScheduleKind::Cron {
                expression: cron.expression,
                time_zone: cron.time_zone,
            },
            Some(Kind::FixedRate(rate)) => ScheduleKind::FixedRate(duration_from_pb(rate)),
        };
        let catch_up = match decode_catch_up(schedule.catch_up)? {
            pb::CatchUpPolicy::RunMissed => CatchUp::RunMissed {
                limit: schedule.catch_up_limit,
            },
            pb::CatchUpPolicy::Skip | pb::CatchUpPolicy::Unspecified => CatchUp::Skip,
        };
        let kickoff_input = match schedule.kickoff_time_input.is_empty() {
            true => None,
            false => Some(schedule.kickoff_time_input),
        };
        let schedule = Schedule {
            kind,
            kickoff_input,
            catch_up,
        };
        Ticks::new(&schedule).map_err(|problem| ConversionError::new("", problem))?;
        Ok(schedule)
    }
}

fn decode_catch_up(raw: i32) -> Result<pb::CatchUpPolicy, ConversionError> {
    pb::CatchUpPolicy::try_from(raw)
        .map_err(|_| ConversionError::new("catch_up", format!("{raw} is not a catch-up policy")))
}

impl From<Schedule> for pb::Schedule {
    fn from(schedule: Schedule) -> Self {
        use pb::schedule::Kind;
        let (catch_up, catch_up_limit) = match schedule.catch_up {
            CatchUp::Skip => (pb::CatchUpPolicy::Skip, 0),
            CatchUp::RunMissed { limit } => (pb::CatchUpPolicy::RunMissed, limit),
        };
        pb::Schedule {
            kind: Some(match schedule.kind {
                ScheduleKind::Cron { expression, time_zone } => Kind::Cron(pb::CronSchedule { expression, time_zone }),
                ScheduleKind::FixedRate(rate) => Kind::FixedRate(duration_to_pb(rate)),
            }),
            kickoff_time_input: schedule.kickoff_input.unwrap_or_default(),
            catch_up: catch_up as i32,
            catch_up_limit,
        }
    }
}

impl From<LaunchPlan> for pb::LaunchPlan {
    fn from(launch_plan: LaunchPlan) -> Self {
        pb::LaunchPlan {
            id: Some(launch_plan.id.into()),
            target: Some(launch_plan.target.into()),
            target_type: pb::ResourceType::from(launch_plan.target_kind) as i32,
            default_inputs: Some(launch_plan.default_inputs.into()),
            fixed_inputs: Some(launch_plan.fixed_inputs.into()),
            max_parallelism: launch_plan.max_parallelism,
            timeout: launch_plan.timeout.map(duration_to_pb),
            schedule: launch_plan.schedule.map(Into::into),
        }
    }
}
