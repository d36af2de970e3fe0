//! The state machines of executions, nodes and attempts: `(state, event) -> (state', effects)`, each an explicit
//! transition table (see the table at the top of each module). Invalid transitions are typed errors, terminal phases
//! are absorbing, repeated events are idempotent. Effects are data for the engine to persist and carry out; nothing
//! here reads a clock or touches storage. What a composite needs once its children exist (how its outputs are
//! assembled, how their failures count) is a [`CompositePlan`] (`plan.rs`), one constructor per kind of composite.

pub mod attempt;
mod children;
mod error;
pub mod execution;
pub mod flow;
pub mod gate;
pub mod node;
mod phase;
mod plan;

pub use attempt::{AttemptEffect, AttemptEvent, AttemptResult, AttemptState};
pub use children::{
    COUNTED_MESSAGE_BYTES, ChildCounts, ChildRule, NodeKind, children_failed_error, children_outcome, required_children,
};
pub use error::TransitionError;
pub use execution::{ExecutionDecision, ExecutionEffect, ExecutionEvent, ExecutionState};
pub use node::{NodeDecision, NodeEffect, NodeEvent, NodePolicy, NodeState};
pub use phase::{AttemptPhase, CacheStatus, ExecutionPhase, NodePhase, UnknownPhase};
pub use plan::{AssemblyPlan, ChildOutputs, CompositePlan, Outputs};

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;
