//! A deadline on a whole call, from the moment it is made until its response (or a streaming response's headers)
//! arrives: the time it waits inside the channel for a connection counts, which tonic's own timeout (started only
//! once the connection takes the request) leaves out. Without a deadline a call is passed through untouched.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::codegen::{Service, StdError};

/// A service whose calls fail with `DEADLINE_EXCEEDED` when no answer came within the deadline.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    after: Option<Duration>,
}

impl<S> Deadline<S> {
    /// `inner`, its calls bounded by `after` (`None`: unbounded).
    pub fn new(inner: S, after: Option<Duration>) -> Self {
        Deadline { inner, after }
    }
}

impl<S, R> Service<R> for Deadline<S>
where
    S: Service<R>,
    S::Error: Into<StdError>,
{
    type Response = S::Response;
    type Error = StdError;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        DeadlineFuture {
            inner: self.inner.call(request),
            sleep: self.after.map(tokio::time::sleep),
            after: self.after.unwrap_or_default(),
        }
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
            Some(Poll::Ready(())) => Poll::Ready(Err(Box::new(tonic::Status::deadline_exceeded(format!(
                "no answer from the server within {:?}",
                this.after
            ))))),
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

    impl Service<()> for Silent {
        type Response = ();
        type Error = StdError;
        type Future = std::future::Pending<Result<(), StdError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), StdError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: ()) -> Self::Future {
            std::future::pending()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_without_an_answer_ends_at_its_deadline_as_deadline_exceeded() {
        let error = Deadline::new(Silent, Some(Duration::from_secs(3)))
            .call(())
            .await
            .expect_err("no answer comes");
        let status = error.downcast::<tonic::Status>().expect("a status");
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(status.message(), "no answer from the server within 3s");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_a_call_waits() {
        let call = Deadline::new(Silent, None).call(());
        let waited = tokio::time::timeout(Duration::from_secs(3600), call).await;
        assert!(waited.is_err(), "still waiting after an hour");
    }
}
