//! A W3C trace context (`traceparent`, `tracestate`) as it travels: read from a request's headers, taken from a span,
//! stored with an execution as one line of text, handed to workers, and made the parent of a span. Parsing and
//! writing the headers is the standard propagator's (`TraceContextPropagator`), never ours.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `traceparent` header (and gRPC metadata key).
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header (and gRPC metadata key).
pub const TRACESTATE: &str = "tracestate";

/// The two headers as the propagator reads them, borrowed: no header map is built to parse them.
struct Headers<'a> {
    traceparent: &'a str,
    tracestate: &'a str,
}

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => Some(self.traceparent),
            TRACESTATE => Some(self.tracestate).filter(|state| !state.is_empty()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

impl Headers<'_> {
    /// The remote context the headers name (invalid when the `traceparent` is malformed).
    fn extract(&self) -> opentelemetry::Context {
        TraceContextPropagator::new().extract(self)
    }
}

/// Makes `span` a child of the remote span a `traceparent` (with its `tracestate`, possibly empty) names; a
/// malformed `traceparent` leaves the span a root. For a worker's span per attempt: the headers are parsed once,
/// in place.
pub fn adopt_headers(span: &tracing::Span, traceparent: &str, tracestate: &str) {
    if !well_formed(traceparent) {
        return;
    }
    let context = Headers {
        traceparent,
        tracestate,
    }
    .extract();
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// A valid W3C trace context: the `traceparent` of a remote span and its (possibly empty) `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// `version-traceid-spanid-flags`, as the propagator writes it.
    pub traceparent: String,
    /// Vendor entries, empty when there are none.
    pub tracestate: String,
}

impl TraceContext {
    /// The context of header values; `None` when `traceparent` is absent or not a valid span's.
    pub fn from_headers(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<TraceContext> {
        let traceparent = traceparent.filter(|parent| well_formed(parent))?;
        let context = Headers {
            traceparent,
            tracestate: tracestate.unwrap_or_default(),
        }
        .extract();
        TraceContext::of_context(&context)
    }

    /// The context a span stands for once exported; `None` when spans are not exported (no OpenTelemetry layer).
    pub fn of_span(span: &tracing::Span) -> Option<TraceContext> {
        TraceContext::of_context(&span.context())
    }

    fn of_context(context: &opentelemetry::Context) -> Option<TraceContext> {
        if !context.span().span_context().is_valid() {
            return None;
        }
        let mut headers = HashMap::new();
        TraceContextPropagator::new().inject_context(context, &mut headers);
        Some(TraceContext {
            traceparent: headers.remove(TRACEPARENT)?,
            tracestate: headers.remove(TRACESTATE).unwrap_or_default(),
        })
    }

    /// One line of text to store: the `traceparent`, then a space and the `tracestate` when there is one (neither
    /// holds a space: W3C's `tracestate` separates its entries with commas and optional tabs or spaces only around
    /// them, which the propagator drops).
    pub fn to_stored(&self) -> String {
        if self.tracestate.is_empty() {
            self.traceparent.clone()
        } else {
            format!("{} {}", self.traceparent, self.tracestate.replace(' ', ""))
        }
    }

    /// The context [`TraceContext::to_stored`] wrote; `None` for text that is not one.
    pub fn from_stored(stored: &str) -> Option<TraceContext> {
        let (traceparent, tracestate) = split_stored(stored);
        TraceContext::from_headers(Some(traceparent), Some(tracestate).filter(|state| !state.is_empty()))
    }

    /// The remote span as an OpenTelemetry context, to be a parent.
    pub fn context(&self) -> opentelemetry::Context {
        Headers {
            traceparent: &self.traceparent,
            tracestate: &self.tracestate,
        }
        .extract()
    }

    /// Makes the remote span `span`'s parent (nothing happens when spans are not exported).
    pub fn adopt(&self, span: &tracing::Span) {
        // An error only says that the span was already entered or is disabled: it then keeps its own parent.
        let _ = span.set_parent(self.context());
    }
}

/// Whether a `traceparent` has W3C's shape, `version-traceid-spanid-flags` in lowercase hex of 2, 32, 16 and 2 digits
/// (later versions may append fields): the propagator itself pads short ids.
fn well_formed(traceparent: &str) -> bool {
    let mut parts = traceparent.split('-');
    [2, 32, 16, 2].iter().all(|&length| {
        parts.next().is_some_and(|part| {
            part.len() == length && part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    })
}

/// The `traceparent` and `tracestate` (empty when none) of a stored context, taken apart without parsing them: for the
/// server's hot path, which hands each attempt its execution's stored context.
pub fn split_stored(stored: &str) -> (&str, &str) {
    stored.split_once(' ').unwrap_or((stored, ""))
}

/// Makes the stored context, if any and valid, `span`'s parent.
pub fn adopt_stored(span: &tracing::Span, stored: Option<&str>) {
    if let Some(stored) = stored {
        let (traceparent, tracestate) = split_stored(stored);
        adopt_headers(span, traceparent, tracestate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_stored_context_reads_back() {
        let context = TraceContext::from_headers(Some(PARENT), Some("vendor=a,other=b")).expect("valid");
        assert_eq!(context.traceparent, PARENT);
        assert_eq!(context.tracestate, "vendor=a,other=b");
        assert_eq!(TraceContext::from_stored(&context.to_stored()), Some(context.clone()));
        let bare = TraceContext::from_headers(Some(PARENT), None).expect("valid");
        assert_eq!(bare.to_stored(), PARENT);
        assert_eq!(TraceContext::from_stored(PARENT), Some(bare));
        assert_eq!(split_stored(&context.to_stored()), (PARENT, "vendor=a,other=b"));
        assert_eq!(split_stored(PARENT), (PARENT, ""));
    }

    #[test]
    fn malformed_contexts_are_none() {
        assert_eq!(TraceContext::from_headers(None, Some("a=b")), None);
        assert_eq!(TraceContext::from_headers(Some("00-abc-def-01"), None), None);
        let zero_trace = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
        assert_eq!(TraceContext::from_headers(Some(zero_trace), None), None);
        assert_eq!(TraceContext::from_stored(""), None);
    }

    /// A span made under an OpenTelemetry layer (spans recorded, none exported), with `adopt` applied.
    fn adopted(adopt: impl Fn(&tracing::Span)) -> TraceContext {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("attempt");
            adopt(&span);
            TraceContext::of_span(&span).expect("a recorded span has a context")
        })
    }

    #[test]
    fn adopted_headers_make_the_span_a_child_of_the_remote_one() {
        let trace_id = &PARENT[3..35];
        let child = adopted(|span| adopt_headers(span, PARENT, "vendor=a"));
        assert_eq!(&child.traceparent[3..35], trace_id, "same trace");
        assert_ne!(child.traceparent, PARENT, "a span of its own");
        assert_eq!(child.tracestate, "vendor=a");
        let stored = adopted(|span| adopt_stored(span, Some(&format!("{PARENT} vendor=a"))));
        assert_eq!(&stored.traceparent[3..35], trace_id);
        for malformed in [
            "",
            "00-abc-def-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            let root = adopted(|span| adopt_headers(span, malformed, ""));
            assert_ne!(
                &root.traceparent[3..35],
                trace_id,
                "{malformed:?} leaves the span a root"
            );
        }
    }

    #[test]
    fn a_span_without_an_exporter_has_no_context() {
        assert_eq!(TraceContext::of_span(&tracing::Span::none()), None);
    }
}
