//! The console's one way to the server: the admin API over [`Transport`], with the caller's token as the
//! `authorization` metadata of every call.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use gantry_proto::v1 as pb;
use gantry_proto::v1::admin_service_client::AdminServiceClient;
use http::request::Parts;
use tower::util::BoxCloneSyncService;

use crate::Console;
use crate::error::ConsoleError;
use crate::session;

/// The service a [`Transport`] wraps: a gRPC router's tower service, errors boxed.
pub type RouterService =
    BoxCloneSyncService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, tower::BoxError>;

/// A gRPC transport into the server's own router: the tower service of its tonic routes with the same layers as its
/// gRPC port (metrics, authentication, fair use), so that the console's calls take exactly the path of any client's.
///
/// A failure of the service itself comes back as the gRPC status response tonic's server would send, so that the
/// transport's error type is `Infallible`: with a boxed error, rustc cannot prove the handlers' futures `Send`.
#[derive(Clone)]
pub struct Transport {
    inner: RouterService,
    /// What `poll_ready` failed with, answered by the next call.
    not_ready: Option<Arc<tower::BoxError>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

impl Transport {
    /// Wraps the server's router service.
    pub fn new(inner: RouterService) -> Transport {
        Transport { inner, not_ready: None }
    }
}

fn status_response(error: &tower::BoxError) -> http::Response<tonic::body::Body> {
    tonic::Status::unavailable(format!("the server could not take the call: {error}")).into_http()
}

impl tower::Service<http::Request<tonic::body::Body>> for Transport {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(error)) => {
                self.not_ready = Some(Arc::new(error));
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if let Some(error) = self.not_ready.take() {
            let response = status_response(&error);
            return Box::pin(async move { Ok(response) });
        }
        let call = self.inner.call(request);
        Box::pin(async move {
            Ok(match call.await {
                Ok(response) => response,
                Err(error) => tonic::Status::from_error(error).into_http(),
            })
        })
    }
}

/// The admin API as one browser's request sees it: calls carry the token from its session cookie, if any.
#[derive(Debug, Clone)]
pub struct Api {
    client: AdminServiceClient<Transport>,
    token: Option<String>,
}

impl Api {
    /// The admin client; wrap messages with [`Api::request`].
    pub fn admin(&self) -> AdminServiceClient<Transport> {
        self.client.clone()
    }

    /// `message` with the caller's token as `authorization: Bearer ...`.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token
            && let Ok(value) = format!("Bearer {token}").parse()
        {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    /// One node execution (`GetNodeExecution`).
    pub async fn node(&self, execution_id: &str, node_id: &str) -> Result<pb::NodeExecution, ConsoleError> {
        let request = pb::GetNodeExecutionRequest {
            execution_id: execution_id.to_owned(),
            node_id: node_id.to_owned(),
        };
        self.admin()
            .get_node_execution(self.request(request))
            .await?
            .into_inner()
            .node_execution
            .ok_or_else(|| ConsoleError::Data("the server sent no node execution".to_owned()))
    }

    /// A node's inputs, outputs and spec (`GetNodeExecutionData`), every large value and a large spec as a
    /// reference, fetched only when asked.
    pub async fn node_data(
        &self,
        execution_id: &str,
        node_id: &str,
    ) -> Result<pb::GetNodeExecutionDataResponse, ConsoleError> {
        let request = pb::GetNodeExecutionDataRequest {
            execution_id: execution_id.to_owned(),
            node_id: node_id.to_owned(),
            references: true,
        };
        Ok(self
            .admin()
            .get_node_execution_data(self.request(request))
            .await?
            .into_inner())
    }

    /// An API that calls with `token` instead of the session's (a login checks its token with it).
    pub fn with_token(&self, token: String) -> Api {
        Api {
            client: self.client.clone(),
            token: Some(token),
        }
    }
}

impl FromRequestParts<Arc<Console>> for Api {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, console: &Arc<Console>) -> Result<Self, Self::Rejection> {
        Ok(Api {
            client: AdminServiceClient::new(console.transport.clone()),
            token: session::token(&parts.headers),
        })
    }
}
