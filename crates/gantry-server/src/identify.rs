//! Finding a request's [`Caller`] below tonic, in the router's layers (fair use reads it there), and a way to
//! establish callers without the authentication layer: [`Identify`], a function of a request's headers, run by the
//! outermost layer of a server started with [`crate::start_identified`]. Embedders that authenticate by other means
//! use it, and so do the tests, to make requests as several principals. The authentication layer, when it runs,
//! sits at the same place: outside every layer that reads the caller.

use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::Service;
use tower::Layer;

use crate::caller::Caller;

/// The principal of a request as the router's layers see it: the caller's that the authentication layer (or
/// [`Identify`]) put into its extensions, the developer's when nothing did.
pub fn principal_of<B>(request: &http::Request<B>) -> String {
    match request.extensions().get::<Caller>() {
        Some(caller) => caller.principal.clone(),
        None => Caller::developer().principal,
    }
}

/// The function of an [`Identify`].
type IdentifyFn = dyn Fn(&http::HeaderMap) -> Option<Caller> + Send + Sync;

/// Says who made a request, from its headers; `None` leaves the request without a caller (the developer).
#[derive(Clone)]
pub struct Identify(Arc<IdentifyFn>);

impl Identify {
    pub fn new(identify: impl Fn(&http::HeaderMap) -> Option<Caller> + Send + Sync + 'static) -> Self {
        Identify(Arc::new(identify))
    }
}

impl std::fmt::Debug for Identify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identify")
    }
}

impl<S> Layer<S> for Identify {
    type Service = Identified<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Identified {
            inner,
            identify: self.clone(),
        }
    }
}

/// A service behind [`Identify`].
#[derive(Debug, Clone)]
pub struct Identified<S> {
    inner: S,
    identify: Identify,
}

impl<S, B> Service<http::Request<B>> for Identified<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if let Some(caller) = (self.identify.0)(request.headers()) {
            request.extensions_mut().insert(caller);
        }
        self.inner.call(request)
    }
}
