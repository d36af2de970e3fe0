//! The state machines of executions, nodes and attempts: `(state, event) -> (state', effects)`, as explicit
//! transition tables. Invalid transitions are typed errors, terminal phases are absorbing, repeated events are
//! idempotent. Effects are data for the engine to persist and carry out.

mod phase;

pub use phase::{AttemptPhase, CacheStatus, ExecutionPhase, NodePhase};
