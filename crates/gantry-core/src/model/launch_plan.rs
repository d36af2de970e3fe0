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
