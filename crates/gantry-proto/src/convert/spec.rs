//! Dynamic job specs and launch plans.

use gantry_core::model::{DynamicJobSpec, LaunchPlan};

use super::interface::required_identifier;
use super::literal::{duration_to_pb, literal_map_or_empty, timeout_from_pb};
use super::{ConversionError, decode_enum, into_list, list};
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
        })
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
        }
    }
}
