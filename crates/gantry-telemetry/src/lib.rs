//! Gantry's telemetry. Always: a W3C trace context ([`TraceContext`]) carried from a client's request through the
//! server (stored with the execution) to the workers, and made the parent of their spans, so that one trace spans
//! every process an execution touches. With the `export` feature: the binaries' setup ([`init`]): logs as text or
//! JSON lines, and spans exported over OTLP/gRPC.
//!
//! Without `export` this crate depends on the OpenTelemetry API and SDK (for the standard propagator) and
//! `tracing-opentelemetry`, never on tonic: the engine uses it.
#![forbid(unsafe_code)]

mod context;
#[cfg(feature = "export")]
mod export;

pub use context::{TRACEPARENT, TRACESTATE, TraceContext, adopt_headers, adopt_stored, split_stored};
#[cfg(feature = "export")]
pub use export::{LogFormat, Telemetry, TelemetryArgs, TelemetryConfig, init, service};
