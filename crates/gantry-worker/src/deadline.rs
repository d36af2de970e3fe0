//! A deadline on a whole call, from the moment it is made until its response (or a streaming response's headers)
//! arrives: the time it waits inside the channel for a connection counts, which tonic's own timeout (started only
//! once the connection takes the request) leaves out. The deadline is the call's own (`grpc-timeout`, which
//! `tonic::Request::set_timeout` writes) or the channel's, whichever is sooner; a call with neither is passed through
//! untouched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::codegen::http::{HeaderMap, Request};
use tonic::codegen::{Service, StdError};

/// A service whose calls fail with `DEADLINE_EXCEEDED` when no answer came within their deadline.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    after: Option<Duration>,
}

impl<S> Deadline<S> {
    /// `inner`, its calls bounded by `after` (`None`: only by their own `grpc-timeout`).
    pub fn new(inner: S, after: Option<Duration>) -> Self {
        Deadline { inner, after }
    }
}

impl<S, B> Service<Request<B>> for Deadline<S>
where
    S: Service<Request<B>>,
    S::Error: Into<StdError>,
{
    type Response = S::Response;
    type Error = StdError;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let after = match (grpc_timeout(request.headers()), self.after) {
            (Some(own), Some(channel)) => Some(own.min(channel)),
            (own, channel) => own.or(channel),
        };
        DeadlineFuture {
            inner: self.inner.call(request),
            sleep: after.map(tokio::time::sleep),
            after: after.unwrap_or_default(),
        }
    }
}

/// The call's own deadline: its `grpc-timeout` header (at most 8 digits and a unit, `H`, `M`, `S`, `m`, `u` or `n`),
/// if it has a valid one.
fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

/// The source of the status a call that met its deadline fails with: the client ended it, the server never said so
/// (a status the server sent has no source), so that the CLI and the worker look for a TLS refusal behind it as they
/// do behind other transport failures.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the server within {0:?}")]
pub struct DeadlinePassed(Duration);

impl DeadlinePassed {
    /// The status a call fails with when no answer came within `after`: `DEADLINE_EXCEEDED`, with this as its source.
    pub fn status(after: Duration) -> tonic::Status {
        let passed = DeadlinePassed(after);
        let mut status = tonic::Status::deadline_exceeded(passed.to_string());
        status.set_source(Arc::new(passed));
        status
    }
}

pin_project_lite::pin_project! {
    /// A call's answer, or `DEADLINE_EXCEEDED` once its deadline passed.
    #[derive(Debug)]
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
        after: Duration,
    }
}

impl<F, T, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<StdError>,
{
    type Output = Result<T, StdError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(answer) = this.inner.poll(cx) {
            return Poll::Ready(answer.map_err(Into::into));
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(Box::new(DeadlinePassed::status(*this.after)))),
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service that never answers.
    #[derive(Clone)]
    struct Silent;

    impl Service<Request<()>> for Silent {
        type Response = ();
        type Error = StdError;
        type Future = std::future::Pending<Result<(), StdError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), StdError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::pending()
        }
    }

    /// A request whose own deadline is `grpc_timeout`, if any.
    fn request(grpc_timeout: Option<&'static str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(value) = grpc_timeout {
            request
                .headers_mut()
                .insert("grpc-timeout", value.parse().expect("a header value"));
        }
        request
    }

    /// The message the call to `service` with `request` failed with.
    async fn ended(mut service: Deadline<Silent>, request: Request<()>) -> String {
        let error = service.call(request).await.expect_err("no answer comes");
        let status = error.downcast::<tonic::Status>().expect("a status");
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        let source = std::error::Error::source(&*status).expect("the client's failure, with a source");
        assert_eq!(source.to_string(), status.message());
        status.message().to_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_without_an_answer_ends_at_the_sooner_of_its_own_deadline_and_the_channels() {
        let channel = |after: Option<u64>| Deadline::new(Silent, after.map(Duration::from_secs));
        let within = |text: &str| format!("no answer from the server within {text}");
        assert_eq!(ended(channel(Some(3)), request(None)).await, within("3s"));
        assert_eq!(ended(channel(None), request(Some("2S"))).await, within("2s"));
        assert_eq!(ended(channel(Some(3)), request(Some("1500m"))).await, within("1.5s"));
        assert_eq!(ended(channel(Some(3)), request(Some("1M"))).await, within("3s"));
        // A header that is not a gRPC timeout is no deadline of the call's own.
        assert_eq!(ended(channel(Some(3)), request(Some("2s"))).await, within("3s"));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_a_call_waits() {
        for header in [None, Some("soon"), Some("123456789S")] {
            let call = Deadline::new(Silent, None).call(request(header));
            let waited = tokio::time::timeout(Duration::from_secs(3600), call).await;
            assert!(waited.is_err(), "{header:?}: still waiting after an hour");
        }
    }
}
