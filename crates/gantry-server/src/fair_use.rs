//! Fair use: per-principal limits, so that one principal (an API key, a runaway script) cannot take the server from
//! the others.
//!
//! - **Request rate**: a token bucket per principal ([`governor`]'s keyed limiter), checked by [`RateLimitLayer`] in
//!   the router, before a request reaches any service. It reads the [`Caller`](crate::Caller) the authentication layer put into
//!   the request's extensions, so it must sit inside that layer (added after it). Health checks are not counted.
//! - **Held calls**: the long polls (PollTasks with a wait) and the WatchExecution streams one principal may have at
//!   once ([`Slots`]). A handler takes a [`Slot`] before it starts waiting; the slot is given back when it is
//!   dropped, that is whenever the call ends, for any reason: answered, cancelled by the client, its connection
//!   lost (tonic drops the call's future or stream), or the server shutting down (which ends polls and watches).
//!
//! Beyond either limit the call is answered RESOURCE_EXHAUSTED at once, with a message naming the limit and its
//! flag. Every limit is off at 0.

use std::collections::HashMap;
use std::convert::Infallible;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::task::{Context, Poll};

use gantry_core::names::quote;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tonic::Status;
use tonic::codegen::{BoxFuture, Service};
use tower::Layer;

use crate::identify::principal_of;

/// The health service's path prefix: load balancers' probes are not a principal's work.
const HEALTH: &str = "/grpc.health.v1.Health/";

/// The fair-use limits (see the module's comment); 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FairUse {
    /// Requests per second per principal, on average.
    pub rate_per_second: u32,
    /// Requests one principal may make at once (the bucket's size).
    pub burst: u32,
    /// Long polls one principal may have waiting at once.
    pub polls_per_principal: u32,
    /// Watch streams one principal may have open at once.
    pub watches_per_principal: u32,
}

impl Default for FairUse {
    /// Generous: without authentication every caller is the one principal `developer`, whose limits must hold a
    /// whole deployment (the benchmark's fan-outs on 256 worker slots in one process run at about 9,000 children a
    /// second, a poll per child or fewer).
    fn default() -> Self {
        FairUse {
            rate_per_second: 50_000,
            burst: 50_000,
            polls_per_principal: 4_096,
            watches_per_principal: 4_096,
        }
    }
}

/// The per-principal state of every limit, shared by the router's layer and the services.
#[derive(Debug, Clone)]
pub struct FairUseState {
    limiter: Option<Arc<Limiter>>,
    /// Long polls held, per principal.
    pub polls: Slots,
    /// Watch streams held, per principal.
    pub watches: Slots,
}

impl FairUseState {
    pub fn new(limits: FairUse) -> Self {
        let limiter = NonZeroU32::new(limits.rate_per_second).map(|rate| {
            let burst = NonZeroU32::new(limits.burst).unwrap_or(rate);
            Arc::new(Limiter {
                buckets: DefaultKeyedRateLimiter::dashmap(Quota::per_second(rate).allow_burst(burst)),
                clock: DefaultClock::default(),
                rate,
            })
        });
        FairUseState {
            limiter,
            polls: Slots::new(
                "long polls waiting",
                "--max-polls-per-principal",
                limits.polls_per_principal,
            ),
            watches: Slots::new(
                "watches open",
                "--max-watches-per-principal",
                limits.watches_per_principal,
            ),
        }
    }

    /// The router's layer that holds each principal to the request rate.
    pub fn rate_layer(&self) -> RateLimitLayer {
        RateLimitLayer {
            limiter: self.limiter.clone(),
        }
    }
}

/// A token bucket per principal.
struct Limiter {
    buckets: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    rate: NonZeroU32,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Takes a token of `principal`'s bucket, or says why not.
    fn admit(&self, principal: &str) -> Result<(), Status> {
        // Most principals are known: no allocation for the key unless the bucket is missing.
        match self.buckets.check_key(&principal.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(Status::resource_exhausted(format!(
                    "rate limit: principal {} made more than {} requests a second (--rate-limit); retry in {} ms",
                    quote(principal),
                    self.rate,
                    wait.as_millis().max(1)
                )))
            }
        }
    }
}

/// Holds each principal to the request rate (see the module's comment).
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: Option<Arc<Limiter>>,
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

/// A service behind [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimited<S> {
    inner: S,
    limiter: Option<Arc<Limiter>>,
}

impl<S, B> Service<http::Request<B>> for RateLimited<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if let Some(limiter) = &self.limiter
            && !request.uri().path().starts_with(HEALTH)
        {
            let principal = principal_of(&request);
            if let Err(status) = limiter.admit(&principal) {
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
        }
        Box::pin(self.inner.call(request))
    }
}

/// How many calls of one kind each principal holds, up to a maximum per principal.
#[derive(Debug, Clone)]
pub struct Slots {
    what: &'static str,
    flag: &'static str,
    max: u32,
    /// Held slots per principal (principals holding none are removed); a watch channel, so that tests can wait for
    /// a slot to be given back instead of sleeping.
    held: Arc<tokio::sync::watch::Sender<HashMap<String, u32>>>,
}

impl Slots {
    fn new(what: &'static str, flag: &'static str, max: u32) -> Self {
        Slots {
            what,
            flag,
            max,
            held: Arc::new(tokio::sync::watch::Sender::new(HashMap::new())),
        }
    }

    /// Takes one of `principal`'s slots, given back when the [`Slot`] is dropped; RESOURCE_EXHAUSTED when the
    /// principal holds them all.
    pub fn take(&self, principal: &str) -> Result<Slot, Status> {
        let mut refused = None;
        self.held.send_if_modified(|held| {
            let count = held.get(principal).copied().unwrap_or(0);
            if self.max != 0 && count >= self.max {
                refused = Some(count);
                return false;
            }
            held.insert(principal.to_owned(), count + 1);
            true
        });
        if let Some(count) = refused {
            return Err(Status::resource_exhausted(format!(
                "principal {} has {count} {} already, the most allowed ({} {})",
                quote(principal),
                self.what,
                self.flag,
                self.max
            )));
        }
        Ok(Slot {
            slots: self.clone(),
            principal: principal.to_owned(),
        })
    }

    /// How many slots `principal` holds now.
    pub fn held(&self, principal: &str) -> u32 {
        self.held.borrow().get(principal).copied().unwrap_or(0)
    }

    /// How many slots every principal holds together now.
    pub fn total(&self) -> u32 {
        self.held.borrow().values().sum()
    }

    /// Every principal's held slots, as they change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<HashMap<String, u32>> {
        self.held.subscribe()
    }
}

/// One held slot (see [`Slots::take`]).
#[derive(Debug)]
pub struct Slot {
    slots: Slots,
    principal: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.held.send_modify(|held| {
            if let Some(count) = held.get_mut(&self.principal) {
                *count -= 1;
                if *count == 0 {
                    held.remove(&self.principal);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::Caller;

    fn caller(principal: &str) -> Caller {
        Caller {
            principal: principal.to_owned(),
            grants: Vec::new(),
        }
    }

    /// A request of `principal` to `path` through a limited echo service: the gRPC status it was answered with
    /// (`None`: it reached the service).
    async fn send(service: &mut RateLimited<Echo>, principal: &str, path: &str) -> Option<String> {
        let mut request = http::Request::builder().uri(path).body(()).expect("request");
        request.extensions_mut().insert(caller(principal));
        let response = service.call(request).await.expect("infallible");
        response
            .headers()
            .get("grpc-status")
            .map(|status| status.to_str().expect("ascii").to_owned())
    }

    #[derive(Clone)]
    struct Echo;

    impl Service<http::Request<()>> for Echo {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(http::Response::new(tonic::body::Body::empty())))
        }
    }

    #[tokio::test]
    async fn one_principal_over_the_rate_is_refused_while_another_is_served() {
        let state = FairUseState::new(FairUse {
            rate_per_second: 1,
            burst: 3,
            ..FairUse::default()
        });
        let mut service = state.rate_layer().layer(Echo);
        let path = "/gantry.v1.AdminService/GetTask";
        for _ in 0..3 {
            assert_eq!(send(&mut service, "alice", path).await, None, "within the burst");
        }
        let refused = send(&mut service, "alice", path).await;
        assert_eq!(refused.as_deref(), Some("8"), "RESOURCE_EXHAUSTED");
        assert_eq!(
            send(&mut service, "bob", path).await,
            None,
            "another principal's bucket is full"
        );
        assert_eq!(
            send(&mut service, "alice", "/grpc.health.v1.Health/Check").await,
            None,
            "health checks are not counted"
        );
        let status = state
            .limiter
            .as_ref()
            .expect("a limiter")
            .admit("alice")
            .expect_err("still over");
        assert!(
            status.message().starts_with(
                "rate limit: principal \"alice\" made more than 1 requests a second (--rate-limit); retry in"
            ),
            "{}",
            status.message()
        );
    }

    #[tokio::test]
    async fn no_limit_at_zero() {
        let state = FairUseState::new(FairUse {
            rate_per_second: 0,
            burst: 0,
            polls_per_principal: 0,
            watches_per_principal: 0,
        });
        let mut service = state.rate_layer().layer(Echo);
        for _ in 0..1_000 {
            assert_eq!(
                send(&mut service, "alice", "/gantry.v1.AdminService/GetTask").await,
                None
            );
        }
        let held: Vec<Slot> = (0..1_000)
            .map(|_| state.polls.take("alice").expect("no limit"))
            .collect();
        assert_eq!(state.polls.held("alice"), 1_000);
        drop(held);
        assert_eq!(state.polls.held("alice"), 0);
    }

    #[test]
    fn slots_are_per_principal_and_given_back_when_dropped() {
        let slots = Slots::new("watches open", "--max-watches-per-principal", 2);
        let first = slots.take("alice").expect("one");
        let second = slots.take("alice").expect("two");
        let refused = slots.take("alice").expect_err("three");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert_eq!(
            refused.message(),
            "principal \"alice\" has 2 watches open already, the most allowed (--max-watches-per-principal 2)"
        );
        let bob = slots.take("bob").expect("bob's own slots");
        drop(first);
        assert_eq!(slots.held("alice"), 1);
        let again = slots.take("alice").expect("a slot given back is free again");
        drop((second, again, bob));
        assert_eq!(slots.held("alice"), 0);
        assert!(
            slots.held.borrow().is_empty(),
            "no entry left for principals holding nothing"
        );
    }
}
