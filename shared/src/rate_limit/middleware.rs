//! The middleware: pick the client key, ask the engine, refuse with 429 or
//! pass on, and set the `RateLimit-*` headers either way.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Decision, RateLimiter};
use crate::auth::Verifier;
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
}

/// The rate-limit middleware (API routes only; operations are exempt).
pub async fn layer(State(state): State<RateLimitState>, mut request: Request, next: Next) -> Response {
    let key = match state.verifier.from_headers(request.headers()).await {
        Ok(Some(principal)) => {
            let key = format!("sub:{}", principal.sub);
            request.extensions_mut().insert(principal);
            key
        }
        // No token, or an invalid one (the handler will answer 401): the
        // client is known only by its address.
        _ => match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
            None => "ip:unknown".to_owned(),
        },
    };
    let decision = state.limiter.check(&key).await;
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
