//! The worker service as served: the generated `WorkerServiceServer` for every method but `CompleteAttempts`, whose
//! requests are decoded with their dynamic specs left encoded (`gantry_proto::lazy`), so that a 100,000-node spec is
//! never a tree of `pb` messages on the server, and up to the spec limit in size whatever the message limit (a spec
//! travels alone in one). Same path, same wire format: clients see one service.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use gantry_proto::lazy;
use gantry_proto::v1 as pb;
use gantry_proto::v1::worker_service_server::WorkerServiceServer;
use tonic::body::Body as ResponseBody;
use tonic::codegen::{Body, BoxFuture, Service, StdError};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::worker::WorkerApi;

const COMPLETE_ATTEMPTS: &str = "/gantry.v1.WorkerService/CompleteAttempts";

/// `WorkerService`, with `CompleteAttempts` decoded lazily.
#[derive(Debug, Clone)]
pub struct WorkerRoutes {
    generated: WorkerServiceServer<WorkerApi>,
    api: Arc<WorkerApi>,
    /// The largest message encoded, as for the generated server.
    max_message_bytes: usize,
    /// The largest `CompleteAttempts` request decoded: one that holds the largest dynamic spec.
    max_completion_bytes: usize,
}

impl WorkerRoutes {
    pub fn new(api: WorkerApi, max_message_bytes: usize, max_completion_bytes: usize) -> Self {
        let api = Arc::new(api);
        let generated = WorkerServiceServer::from_arc(api.clone())
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        WorkerRoutes {
            generated,
            api,
            max_message_bytes,
            max_completion_bytes,
        }
    }
}

impl NamedService for WorkerRoutes {
    const NAME: &'static str = <WorkerServiceServer<WorkerApi> as NamedService>::NAME;
}

impl<B> Service<http::Request<B>> for WorkerRoutes
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<ResponseBody>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != COMPLETE_ATTEMPTS {
            return self.generated.call(request);
        }
        let (api, decoding, encoding) = (self.api.clone(), self.max_completion_bytes, self.max_message_bytes);
        Box::pin(async move {
            let codec =
                tonic_prost::ProstCodec::<pb::CompleteAttemptsResponse, lazy::CompleteAttemptsRequest>::default();
            let mut grpc =
                tonic::server::Grpc::new(codec).apply_max_message_size_config(Some(decoding), Some(encoding));
            Ok(grpc.unary(CompleteAttempts(api), request).await)
        })
    }
}

struct CompleteAttempts(Arc<WorkerApi>);

impl UnaryService<lazy::CompleteAttemptsRequest> for CompleteAttempts {
    type Response = pb::CompleteAttemptsResponse;
    type Future = BoxFuture<Response<Self::Response>, Status>;

    fn call(&mut self, request: Request<lazy::CompleteAttemptsRequest>) -> Self::Future {
        let api = self.0.clone();
        Box::pin(async move { api.complete(request).await })
    }
}
