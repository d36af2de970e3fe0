//! Per-RPC metrics as a tower layer, outermost in the router, so that refusals by the layers inside it
//! (authentication, fair use) count too: `gantry_rpc_requests_total{service,method,code}` and
//! `gantry_rpc_duration_seconds{service,method}`. A call ends when its response's status is known: at once for an
//! error answered without a body (gRPC's trailers-only response), else at the body's trailers; a stream (a watch, a
//! long poll) is timed to its end. A call the client abandons counts as CANCELLED.
//!
//! Labels stay bounded: a path that names none of the methods this server serves counts as `unknown`, whatever a
//! client sent.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use prost::Message;
use tonic::codegen::BoxFuture;
use tower::{Layer, Service};

/// gRPC's status codes by number, as Prometheus labels.
const CODES: [&str; 17] = gantry_proto::STATUS_CODE_NAMES;

/// A method's labels.
type Labels = (&'static str, &'static str);

const UNKNOWN: Labels = ("unknown", "unknown");

/// Every method this server serves, by path (`/package.Service/Method`), from the descriptors reflection serves.
fn methods() -> &'static HashMap<String, Labels> {
    static METHODS: OnceLock<HashMap<String, Labels>> = OnceLock::new();
    METHODS.get_or_init(|| {
        let mut methods = HashMap::new();
        let sets = [
            gantry_proto::FILE_DESCRIPTOR_SET,
            gantry_proto::HEALTH_FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        for set in sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
                continue;
            };
            for file in set.file {
                for service in &file.service {
                    let service_name = format!("{}.{}", file.package(), service.name());
                    // Leaked once per method of a fixed set: labels without an allocation per call.
                    let service_label: &'static str = Box::leak(service_name.clone().into_boxed_str());
                    for method in &service.method {
                        let method_label: &'static str = Box::leak(method.name().to_owned().into_boxed_str());
                        methods.insert(format!("/{service_name}/{method_label}"), (service_label, method_label));
                    }
                }
            }
        }
        methods
    })
}

/// The labels of a request's path.
fn labels(path: &str) -> Labels {
    methods().get(path).copied().unwrap_or(UNKNOWN)
}

/// The code of a `grpc-status` header or trailer.
fn code_of(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    let number: usize = value.parse().ok()?;
    Some(CODES.get(number).copied().unwrap_or("UNKNOWN"))
}

/// One call being answered: counted once, when its status is known.
#[derive(Debug)]
struct Call {
    labels: Labels,
    started: Instant,
}

impl Call {
    fn end(self, code: &'static str) {
        let (service, method) = self.labels;
        metrics::counter!("gantry_rpc_requests_total", "service" => service, "method" => method, "code" => code)
            .increment(1);
        metrics::histogram!("gantry_rpc_duration_seconds", "service" => service, "method" => method)
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// The layer (see the module's comment).
#[derive(Debug, Clone, Default)]
pub struct RpcMetricsLayer;

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

/// The layer's service.
#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for RpcMetrics<S>
where
    S: Service<Request<B>, Response = Response<R>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Body + Send + 'static,
{
    type Response = Response<Observed<R>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let call = Call {
            labels: labels(request.uri().path()),
            started: Instant::now(),
        };
        let answered = self.inner.call(request);
        Box::pin(async move {
            let response = answered.await?;
            let call = match code_of(response.headers()) {
                Some(code) => {
                    call.end(code);
                    None
                }
                None => Some(call),
            };
            Ok(response.map(|body| Observed {
                inner: Box::pin(body),
                call: Pending(call),
            }))
        })
    }
}

/// A response body that ends its call's count at the trailers (or when dropped unfinished: CANCELLED).
pub struct Observed<B> {
    inner: Pin<Box<B>>,
    call: Pending,
}

/// The call, until counted.
struct Pending(Option<Call>);

impl Pending {
    fn end(&mut self, code: &'static str) {
        if let Some(call) = self.0.take() {
            call.end(code);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.end("CANCELLED");
    }
}

impl<B: Body> Body for Observed<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = this.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.call.end(code_of(trailers).unwrap_or("UNKNOWN"));
                }
            }
            Poll::Ready(Some(Err(_))) => this.call.end("UNKNOWN"),
            Poll::Ready(None) => this.call.end("OK"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> std::fmt::Debug for Observed<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_methods_get_their_labels_and_others_one_label() {
        assert_eq!(
            labels("/gantry.v1.AdminService/CreateExecution"),
            ("gantry.v1.AdminService", "CreateExecution")
        );
        assert_eq!(
            labels("/grpc.health.v1.Health/Check"),
            ("grpc.health.v1.Health", "Check")
        );
        assert_eq!(labels("/gantry.v1.AdminService/NoSuchMethod"), UNKNOWN);
        assert_eq!(labels("/anything/else"), UNKNOWN);
    }

    #[test]
    fn status_codes_are_named() {
        let mut headers = HeaderMap::new();
        assert_eq!(code_of(&headers), None);
        headers.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(code_of(&headers), Some("NOT_FOUND"));
        headers.insert("grpc-status", "99".parse().unwrap());
        assert_eq!(code_of(&headers), Some("UNKNOWN"));
    }
}
