//! The benchmark's OTLP receiver: it counts the spans it is sent without decoding them. A collector runs on another
//! machine in production, so its decoding is not what tracing costs Gantry; on the benchmark's two cores a receiver
//! that decoded every span (its attributes, ids and strings) would charge that work to the fan-out being measured.
//!
//! `CountedRequest` reads only the nesting of `ExportTraceServiceRequest` (resource spans, scope spans, spans):
//! every span is an empty message to prost, which skips its fields without allocating.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use tokio::sync::watch;
use tonic::body::Body;
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

/// A boxed future, as tonic's generated services use.
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The path of the collector's `Export` method.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// `ExportTraceServiceRequest`, down to its spans and no further.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct CountedRequest {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<CountedResourceSpans>,
}

/// `ResourceSpans`: its `scope_spans` (field 2); the resource is skipped.
#[derive(Clone, PartialEq, prost::Message)]
struct CountedResourceSpans {
    #[prost(message, repeated, tag = "2")]
    scope_spans: Vec<CountedScopeSpans>,
}

/// `ScopeSpans`: its `spans` (field 2), each left undecoded; the scope is skipped.
#[derive(Clone, PartialEq, prost::Message)]
struct CountedScopeSpans {
    #[prost(message, repeated, tag = "2")]
    spans: Vec<Undecoded>,
}

/// A span whose fields prost skips.
#[derive(Clone, Copy, PartialEq, prost::Message)]
struct Undecoded {}

impl CountedRequest {
    /// How many spans the request carries.
    pub(crate) fn spans(&self) -> usize {
        self.resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .map(|scope| scope.spans.len())
            .sum()
    }
}

/// The collector's trace service, counting into `count`.
#[derive(Clone)]
pub(crate) struct CountingTraceService {
    pub(crate) count: Arc<watch::Sender<usize>>,
}

impl NamedService for CountingTraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl UnaryService<CountedRequest> for CountingTraceService {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<Result<Response<ExportTraceServiceResponse>, Status>>;

    fn call(&mut self, request: Request<CountedRequest>) -> Self::Future {
        let added = request.get_ref().spans();
        self.count.send_modify(|count| *count += added);
        Box::pin(async { Ok(Response::new(ExportTraceServiceResponse { partial_success: None })) })
    }
}

impl<B> tower::Service<http::Request<B>> for CountingTraceService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> <Self as tower::Service<http::Request<B>>>::Future {
        let service = self.clone();
        Box::pin(async move {
            if request.uri().path() != EXPORT {
                return Ok(Status::unimplemented(request.uri().path().to_owned()).into_http());
            }
            let codec = tonic_prost::ProstCodec::<ExportTraceServiceResponse, CountedRequest>::default();
            Ok(tonic::server::Grpc::new(codec).unary(service, request).await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    fn span(name: &str) -> Span {
        Span {
            name: name.to_owned(),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            attributes: vec![KeyValue {
                key: "execution_id".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("0190".into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn counts_the_spans_of_every_scope_of_every_resource() {
        let scope = |names: &[&str]| ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "gantry".into(),
                ..Default::default()
            }),
            spans: names.iter().map(|name| span(name)).collect(),
            schema_url: "x".into(),
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource::default()),
                    scope_spans: vec![scope(&["a", "b"]), scope(&["c"])],
                    schema_url: String::new(),
                },
                ResourceSpans {
                    resource: None,
                    scope_spans: vec![scope(&[]), scope(&["d", "e", "f"])],
                    schema_url: String::new(),
                },
            ],
        };
        let counted = CountedRequest::decode(request.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(counted.spans(), 6);
    }
}
