//! The tower layer that authenticates every request to Gantry's services (paths under `/gantry.v1.`) and checks the
//! RPC's rule before the handler runs. Health checks and reflection pass untouched. The `authorization` header is
//! taken off the request once read, so nothing downstream (handlers, logs) ever holds the token.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::Status;
use tonic::codegen::BoxFuture;
use tower::{Layer, Service};
use tracing::debug;

use super::Authenticator;
use super::rules::{Access, rule_of};
use crate::caller::Caller;

/// The paths the layer guards.
const GUARDED: &str = "/gantry.v1.";

/// Authentication for every guarded request: by `authenticator`, or none (`None`, the developer mode: every request
/// is the [`Caller::developer`]).
#[derive(Debug, Clone)]
pub struct AuthLayer {
    authenticator: Option<Arc<Authenticator>>,
}

impl AuthLayer {
    pub fn new(authenticator: Option<Arc<Authenticator>>) -> Self {
        AuthLayer { authenticator }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

/// A service behind [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    inner: S,
    authenticator: Option<Arc<Authenticator>>,
}

impl<S, B, R> Service<Request<B>> for Authenticated<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        if !path.starts_with(GUARDED) {
            return Box::pin(self.inner.call(request));
        }
        // The service that was made ready serves this request; a fresh clone takes its place (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        Box::pin(async move {
            let rule = rule_of(&path);
            let header = request.headers_mut().remove(http::header::AUTHORIZATION);
            // A caller an outer layer established (`crate::Identify`, for embedders that authenticate by other
            // means) stands; otherwise the token decides, or, without authentication, the developer.
            let established = request.extensions().get::<Caller>().cloned();
            let caller = match (&authenticator, established) {
                (_, Some(caller)) => caller,
                (None, None) => Caller::developer(),
                (Some(authenticator), None) => {
                    match authenticator.authenticate(header.as_ref().map(|h| h.as_bytes())).await {
                        Ok(caller) => caller,
                        Err(error) => {
                            debug!(path = %path, reason = %error, "request not authenticated");
                            return Ok(Status::from(error).into_http());
                        }
                    }
                }
            };
            if !caller.may_somewhere(rule) {
                debug!(path = %path, principal = %caller.principal, "request not authorized");
                let status = Status::permission_denied(format!(
                    "{} may not call {}",
                    caller.principal,
                    path.trim_start_matches('/')
                ));
                return Ok(status.into_http());
            }
            request.extensions_mut().insert(caller.clone());
            request.extensions_mut().insert(Access { caller, rule });
            inner.call(request).await
        })
    }
}
