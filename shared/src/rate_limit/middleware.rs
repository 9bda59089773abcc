//! The middleware: pick the client key, ask the engine, refuse with 429 or
//! pass on, and set the `RateLimit-*` headers either way.
//!
//! The engine is given the request's deadline (stamped by the context
//! layer, which runs before this one), so a slow engine (Redis) cannot
//! hold a request past it: it admits instead.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use futures::future::BoxFuture;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{Decision, RateLimiter};
use crate::auth::{Principal, Verifier};
use crate::client_addr::TrustedProxies;
use crate::context::Deadline;
use crate::error::ApiError;
use crate::telemetry::Metrics;

static LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// What the middleware needs.
#[derive(Clone, Debug)]
pub struct RateLimitState {
    /// The engine.
    pub limiter: Arc<dyn RateLimiter>,
    /// Verifies the bearer token so an authenticated client is keyed by
    /// `sub`; the verified principal is left in the request for the
    /// handler's extractor, so the token is verified once.
    pub verifier: Arc<Verifier>,
    /// Counts rejections.
    pub metrics: Arc<Metrics>,
    /// Whose `X-Forwarded-For` names the client of an anonymous request
    /// (`BFF_TRUSTED_PROXIES`), when no
    /// [`client_addr::layer`](crate::client_addr::layer) resolved it before.
    pub trusted_proxies: TrustedProxies,
}

/// The deadline assumed when the context layer did not stamp one (a router
/// assembled by hand), as [`RequestCtx`](crate::context::RequestCtx) does.
const FALLBACK_DEADLINE: Duration = Duration::from_secs(30);

/// The rate-limit layer (API routes only; operations are exempt).
///
/// Hand-written rather than `from_fn` (see `around.rs`): when the
/// token is checked without waiting (remembered, or a fixed key) and the
/// engine decides without I/O (memory), the request goes straight to the
/// inner service, with nothing cloned or boxed. A JWKS key to fetch or a
/// Redis engine takes the boxed path, which awaits them.
#[derive(Clone, Debug)]
pub struct RateLimitLayer(pub RateLimitState);

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            state: self.0.clone(),
        }
    }
}

/// An inner service behind the rate limit.
#[derive(Clone, Debug)]
pub struct RateLimitService<S> {
    inner: S,
    state: RateLimitState,
}

/// How far the request got without waiting.
enum Step {
    /// Decided.
    Decided(Decision),
    /// Keyed; the engine must be asked (Redis).
    Check(String),
    /// The token's check must wait (a JWKS fetch).
    Verify,
}

impl RateLimitState {
    /// Keys the request and decides, as far as can be done without waiting.
    fn step_now(&self, request: &mut Request) -> Step {
        let Some(verified) = self.verifier.from_headers(request.headers()).now_or_never() else {
            return Step::Verify;
        };
        let key = self.key(request, verified);
        match self.limiter.check_now(&key) {
            Some(decision) => Step::Decided(decision),
            None => Step::Check(key),
        }
    }

    /// The client key: the token's `sub` when it verified (the principal is
    /// left in the request for the handler's extractor, so the token is
    /// verified once), else the client's address.
    fn key(&self, request: &mut Request, verified: Result<Option<Principal>, ApiError>) -> String {
        match verified {
            Ok(Some(principal)) => {
                let key = format!("sub:{}", principal.sub);
                request.extensions_mut().insert(principal);
                key
            }
            // No token, or an invalid one (the handler will answer 401): the
            // client is known only by its address. It stays in the request
            // for whatever runs inside.
            _ => match self.trusted_proxies.of_request(request.extensions(), request.headers()) {
                Some(client) => {
                    request.extensions_mut().insert(client);
                    client.rate_limit_key()
                }
                None => "ip:unknown".to_owned(),
            },
        }
    }

    /// What [`Self::step_now`] left undone, awaited.
    async fn decide_later(&self, request: &mut Request, step: Step) -> Decision {
        let key = match step {
            Step::Decided(decision) => return decision,
            Step::Check(key) => key,
            Step::Verify => {
                let verified = self.verifier.from_headers(request.headers()).await;
                self.key(request, verified)
            }
        };
        let deadline = request
            .extensions()
            .get::<Deadline>()
            .copied()
            .unwrap_or_else(|| Deadline::after(FALLBACK_DEADLINE));
        self.limiter.check(&key, deadline.instant()).await
    }

    /// The 429 for a refused request, counted.
    fn refuse(&self, decision: &Decision) -> Response {
        self.metrics.rate_limit_rejection();
        let mut response = ApiError::RateLimited {
            retry_after_secs: decision.retry_after_secs.max(1),
        }
        .into_response();
        set_headers(&mut response, decision);
        response
    }
}

impl<S> Service<Request> for RateLimitService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RateLimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        match self.state.step_now(&mut request) {
            Step::Decided(decision) if decision.allowed => RateLimitFuture::Admitted {
                inner: self.inner.call(request),
                decision,
            },
            Step::Decided(decision) => RateLimitFuture::Refused {
                response: Some(self.state.refuse(&decision)),
            },
            step => {
                let state = self.state.clone();
                // The clone is called, and this one left ready for the next
                // request (tower's rule for a service moved into a future).
                let ready = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, ready);
                RateLimitFuture::Waiting {
                    future: Box::pin(async move {
                        let decision = state.decide_later(&mut request, step).await;
                        if !decision.allowed {
                            return state.refuse(&decision);
                        }
                        let Ok(mut response) = inner.call(request).await;
                        set_headers(&mut response, &decision);
                        response
                    }),
                }
            }
        }
    }
}

pin_project! {
    /// The response of [`RateLimitService`], headers set.
    #[project = RateLimitProj]
    pub enum RateLimitFuture<F> {
        /// Admitted without waiting: the inner service's future.
        Admitted { #[pin] inner: F, decision: Decision },
        /// Refused without waiting.
        Refused { response: Option<Response> },
        /// The token or the engine had to be awaited.
        Waiting { future: BoxFuture<'static, Response> },
    }
}

impl<F> Future for RateLimitFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            RateLimitProj::Admitted { inner, decision } => {
                let Ok(mut response) = std::task::ready!(inner.poll(cx));
                set_headers(&mut response, decision);
                Poll::Ready(Ok(response))
            }
            RateLimitProj::Refused { response } => {
                Poll::Ready(Ok(response.take().expect("a refused request is answered once")))
            }
            RateLimitProj::Waiting { future } => future.as_mut().poll(cx).map(Ok),
        }
    }
}

fn set_headers(response: &mut Response, decision: &Decision) {
    let headers = response.headers_mut();
    headers.insert(LIMIT.clone(), HeaderValue::from(decision.limit));
    headers.insert(REMAINING.clone(), HeaderValue::from(decision.remaining));
    headers.insert(RESET.clone(), HeaderValue::from(decision.reset_secs));
    if !decision.allowed {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(decision.retry_after_secs.max(1)));
    }
}
