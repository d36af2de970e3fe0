//! The span of a submission: `CreateExecution`'s, a child of the W3C trace context its request carried in its
//! `traceparent`/`tracestate` metadata (a new root without one), and the context stored with the execution.

use gantry_telemetry::{TRACEPARENT, TRACESTATE, TraceContext};
use tonic::metadata::MetadataMap;
use tracing::Span;

/// The request's span, and the trace context the execution keeps: the span's own when spans are exported, else the
/// incoming one, so that a client's trace still reaches the workers through a server that does not trace.
pub(crate) fn submission_span(metadata: &MetadataMap) -> (Span, Option<TraceContext>) {
    let header = |key: &str| metadata.get(key).and_then(|value| value.to_str().ok());
    let incoming = TraceContext::from_headers(header(TRACEPARENT), header(TRACESTATE));
    let span = tracing::info_span!(
        "CreateExecution",
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = "gantry.v1.AdminService",
        rpc.method = "CreateExecution",
        execution_id = tracing::field::Empty,
    );
    if let Some(context) = &incoming {
        context.adopt(&span);
    }
    let stored = TraceContext::of_span(&span).or(incoming);
    (span, stored)
}
