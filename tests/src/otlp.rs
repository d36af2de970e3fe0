//! An OTLP/gRPC trace receiver for the tests and the benchmark: the collector's `TraceService` on `127.0.0.1:0`,
//! keeping every span it is sent (or only counting them, `otlp_count.rs`) and waking whoever waits for more.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::otlp_count::CountingTraceService;

/// One received span, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// Its resource's `service.name`.
    pub service: String,
    pub name: String,
    /// Lowercase hex, as in a `traceparent`.
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// String and integer attributes, integers as their decimal text.
    pub attributes: HashMap<String, String>,
}

impl ReceivedSpan {
    /// An attribute's value, `""` when it has none.
    pub fn attribute(&self, key: &str) -> &str {
        self.attributes.get(key).map(String::as_str).unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct Received {
    spans: Mutex<Vec<ReceivedSpan>>,
}

#[derive(Debug)]
struct Receiver {
    received: Arc<Received>,
    /// How many spans arrived so far.
    count: Arc<watch::Sender<usize>>,
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        any_value::Value::IntValue(number) => Some(number.to_string()),
        any_value::Value::BoolValue(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn flatten(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|resource| &resource.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| text(kv.value.as_ref()))
            .unwrap_or_default();
        for span in resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans) {
            let attributes = span
                .attributes
                .iter()
                .filter_map(|kv| Some((kv.key.clone(), text(kv.value.as_ref())?)))
                .collect();
            spans.push(ReceivedSpan {
                service: service.clone(),
                name: span.name,
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
                attributes,
            });
        }
    }
    spans
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let spans = flatten(request.into_inner());
        let added = spans.len();
        self.received
            .spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(spans);
        self.count.send_modify(|count| *count += added);
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// A running receiver; it stops when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    /// `http://127.0.0.1:PORT`, for `--otlp-endpoint`.
    pub endpoint: String,
    received: Arc<Received>,
    count: watch::Receiver<usize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl OtlpReceiver {
    /// Starts a receiver that keeps the spans (`keep`) or only counts them without decoding them (the benchmark's).
    pub async fn start(keep: bool) -> std::io::Result<OtlpReceiver> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let received = Arc::new(Received::default());
        let (count_tx, count) = watch::channel(0);
        let count_tx = Arc::new(count_tx);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async {
            let _ = stopped.await;
        };
        let incoming = TcpListenerStream::new(listener);
        let mut server = tonic::transport::Server::builder();
        let router = match keep {
            true => server.add_service(TraceServiceServer::new(Receiver {
                received: received.clone(),
                count: count_tx,
            })),
            false => server.add_service(CountingTraceService { count: count_tx }),
        };
        tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped));
        Ok(OtlpReceiver {
            endpoint,
            received,
            count,
            _stop: stop,
        })
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received
            .spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// How many spans arrived so far.
    pub fn count(&self) -> usize {
        *self.count.borrow()
    }

    /// Waits, at most `deadline`, until the spans received satisfy `done`; the spans then, or `None` at the deadline.
    pub async fn wait_for(
        &self,
        deadline: Duration,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Option<Vec<ReceivedSpan>> {
        let mut count = self.count.clone();
        tokio::time::timeout(deadline, async {
            loop {
                let spans = self.spans();
                if done(&spans) {
                    return spans;
                }
                if count.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
        .await
        .ok()
    }
}
