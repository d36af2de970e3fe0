//! The credential a client presents: an API key (or another bearer token) sent as `authorization: Bearer <token>`
//! metadata on every call. The value is marked sensitive, so that HTTP/2 never indexes it in a header table and
//! `Debug` never prints it.

use std::fmt;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::deadline::Deadline;

/// A connection that presents the client's token (if it has one) on every call, each call bounded by a deadline if
/// one was given.
pub type AuthedChannel = InterceptedService<Deadline<Channel>, Bearer>;

/// Puts `authorization: Bearer <token>` on every request; does nothing without a token.
#[derive(Clone, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

/// A token that cannot be sent as metadata (not visible ASCII).
#[derive(Debug, thiserror::Error)]
#[error("the token holds characters that cannot be sent as gRPC metadata")]
pub struct InvalidToken;

impl Bearer {
    /// Sends `token`, or nothing for `None` or an empty one.
    pub fn new(token: Option<&str>) -> Result<Bearer, InvalidToken> {
        let Some(token) = token.map(str::trim).filter(|token| !token.is_empty()) else {
            return Ok(Bearer(None));
        };
        let mut value: MetadataValue<Ascii> = format!("Bearer {token}").parse().map_err(|_| InvalidToken)?;
        value.set_sensitive(true);
        Ok(Bearer(Some(value)))
    }

    /// `channel`, presenting this token.
    pub fn on(&self, channel: Channel) -> AuthedChannel {
        self.within(channel, None)
    }

    /// `channel`, presenting this token, every call failing with `DEADLINE_EXCEEDED` when no answer came within
    /// `deadline` (`None`: calls wait as long as it takes).
    pub fn within(&self, channel: Channel, deadline: Option<Duration>) -> AuthedChannel {
        InterceptedService::new(Deadline::new(channel, deadline), self.clone())
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Bearer(<redacted>)"),
            None => f.write_str("Bearer(none)"),
        }
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        #[cfg(feature = "otel")]
        propagate_current_span(request.metadata_mut());
        Ok(request)
    }
}

/// With the `otel` feature: the current span's W3C trace context as `traceparent`/`tracestate` metadata, when spans
/// are exported (so that an execution created inside a span joins its trace).
#[cfg(feature = "otel")]
fn propagate_current_span(metadata: &mut tonic::metadata::MetadataMap) {
    use gantry_telemetry::{TRACEPARENT, TRACESTATE, TraceContext};
    let Some(context) = TraceContext::of_span(&tracing::Span::current()) else {
        return;
    };
    if let Ok(value) = context.traceparent.parse() {
        metadata.insert(TRACEPARENT, value);
    }
    if !context.tracestate.is_empty()
        && let Ok(value) = context.tracestate.parse()
    {
        metadata.insert(TRACESTATE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_sent_as_bearer_and_never_printed() {
        let mut bearer = Bearer::new(Some("gantry_abc_def")).expect("ascii");
        assert_eq!(format!("{bearer:?}"), "Bearer(<redacted>)");
        let request = bearer.call(tonic::Request::new(())).expect("passes");
        assert_eq!(
            request.metadata().get("authorization").expect("set"),
            "Bearer gantry_abc_def"
        );
        let mut none = Bearer::new(Some("  ")).expect("empty");
        assert!(
            none.call(tonic::Request::new(()))
                .expect("passes")
                .metadata()
                .get("authorization")
                .is_none()
        );
        assert!(Bearer::new(Some("bad\ntoken")).is_err());
    }
}
