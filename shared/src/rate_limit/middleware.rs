//! The middleware: pick the client key, ask the engine, refuse with 429 or
//! pass on, and set the `RateLimit-*` headers either way.
//!
//! The engine is given the request's deadline (stamped by the context
//! layer, which runs before this one), so a slow engine (Redis) cannot
//! hold a request past it: it admits instead.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Decision, RateLimiter};
use crate::auth::Verifier;
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

/// The rate-limit middleware (API routes only; operations are exempt).
pub async fn layer(State(state): State<RateLimitState>, mut request: Request, next: Next) -> Response {
    let key = match state.verifier.from_headers(request.headers()).await {
        Ok(Some(principal)) => {
            let key = format!("sub:{}", principal.sub);
            request.extensions_mut().insert(principal);
            key
        }
        // No token, or an invalid one (the handler will answer 401): the
        // client is known only by its address. It stays in the request for
        // whatever runs inside.
        _ => match state
            .trusted_proxies
            .of_request(request.extensions(), request.headers())
        {
            Some(client) => {
                request.extensions_mut().insert(client);
                client.rate_limit_key()
            }
            None => "ip:unknown".to_owned(),
        },
    };
    let deadline = request
        .extensions()
        .get::<Deadline>()
        .copied()
        .unwrap_or_else(|| Deadline::after(FALLBACK_DEADLINE));
    let decision = state.limiter.check(&key, deadline.instant()).await;
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        state.metrics.rate_limit_rejection();
        ApiError::RateLimited {
            retry_after_secs: decision.retry_after_secs.max(1),
        }
        .into_response()
    };
    set_headers(&mut response, &decision);
    response
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
