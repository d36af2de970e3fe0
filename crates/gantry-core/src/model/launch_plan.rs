//! Launch plans: a named, versioned way to start a workflow or task with default or fixed inputs.

use super::identifier::{Identifier, ResourceKind};
use super::interface::TypedInterface;
use super::literal::{Duration, LiteralMap};

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchPlan {
    pub id: Identifier,
    /// The workflow or task it starts.
    pub target: Identifier,
    pub target_kind: ResourceKind,
    /// Inputs used when the caller does not give them.
    pub default_inputs: LiteralMap,
    /// Inputs the caller cannot change.
    pub fixed_inputs: LiteralMap,
    /// Limit on task nodes running at once in executions it starts; `None` means no limit.
    pub max_parallelism: Option<u32>,
    /// Limit on the running time of executions it starts, unless the request gives one; `None` means no limit.
    pub timeout: Option<Duration>,
    /// When it runs by itself, once activated; `None` for none.
    pub schedule: Option<Schedule>,
}

/// A launch plan's schedule: when it ticks, which input receives the tick's time, and what becomes of ticks missed
/// while no server ran. What the ticks are is `crate::schedule`'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub kind: ScheduleKind,
    /// A datetime input of the target that gets the tick's time; `None` for none.
    pub kickoff_input: Option<String>,
    pub catch_up: CatchUp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleKind {
    /// A cron expression (five fields, or six with seconds first) in an IANA time zone (`UTC` when empty).
    Cron { expression: String, time_zone: String },
    /// Every so long, from when the schedule was activated.
    FixedRate(Duration),
}

/// What becomes of the ticks missed while no server ran (or the schedule's ticker fell behind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUp {
    /// Only the latest tick due runs; the missed ones before it are skipped.
    #[default]
    Skip,
    /// The latest `limit` ticks due run, oldest first (at least one); older ones are skipped.
    RunMissed { limit: u32 },
}

impl LaunchPlan {
    /// The interface a caller sees: the target's interface without fixed inputs, with defaults filled in.
    pub fn interface(&self, target: &TypedInterface) -> TypedInterface {
        let inputs = target
            .inputs
            .iter()
            .filter(|v| !self.fixed_inputs.contains_key(&v.name))
            .map(|v| {
                let mut v = v.clone();
                if let Some(default) = self.default_inputs.get(&v.name) {
                    v.default = Some(default.clone());
                }
                v
            })
            .collect();
        TypedInterface {
            inputs,
            outputs: target.outputs.clone(),
        }
    }
}
