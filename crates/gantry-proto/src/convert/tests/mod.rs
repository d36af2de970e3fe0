//! Round trips (core -> wire -> bytes -> wire -> core is the identity) and malformed messages (the error names the
//! exact field path).

mod malformed;
mod malformed_specs;
mod plugin;
mod roundtrip;
mod spec_strategies;
mod strategies;
