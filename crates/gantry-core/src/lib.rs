//! Gantry's pure core: the data model, type checking, the spec compiler, binding resolution, the state machines of
//! executions, nodes and attempts, scoped node ids and cache keys.
//!
//! This crate does no IO. It must not depend on tokio, sqlx, tonic or any other runtime or transport crate: the engine
//! persists what the core decides and carries out the effects it returns.
#![forbid(unsafe_code)]

pub mod cache_key;
pub mod compile;
pub mod ids;
pub mod model;
pub mod names;
pub mod resolve;
pub mod schedule;
pub mod state;
pub mod typing;
