//! The per-request context every upstream call needs: the request id, the
//! authenticated user (if any) and the request's deadline.
//!
//! The deadline starts when the request arrives (the [`layer`] middleware
//! stamps it), so time spent in auth or rate limiting is charged to it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::request_id::RequestId;

/// The instant by which the whole request must be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }

    /// A deadline at `instant`.
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// The instant itself.
    pub fn instant(self) -> Instant {
        self.0
    }

    /// Time left; zero once passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// Middleware: stamps the request's [`Deadline`] on arrival.
pub async fn layer(State(budget): State<Duration>, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Deadline::after(budget));
    next.run(request).await
}

/// What an upstream call carries from the client request.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// The request id, forwarded as `X-Request-Id`.
    pub request_id: Arc<str>,
    /// The authenticated subject, forwarded as `X-User-Id`, pre-validated
    /// as a header value.
    pub user: Option<HeaderValue>,
    /// The request's deadline.
    pub deadline: Deadline,
}

impl RequestCtx {
    /// A context for calls made outside a client request (tests, examples).
    pub fn detached(request_id: &str, deadline: Deadline) -> Self {
        Self {
            request_id: Arc::from(request_id),
            user: None,
            deadline,
        }
    }

    /// The same context acting for the subject `sub`. A subject that
    /// cannot be sent as a header value is an invalid token.
    pub fn for_user(mut self, sub: &str) -> Result<Self, ApiError> {
        self.user = Some(HeaderValue::from_str(sub).map_err(|_| ApiError::InvalidToken)?);
        Ok(self)
    }

    /// The user id as a string, when authenticated.
    pub fn user_id(&self) -> Option<&str> {
        self.user.as_ref().and_then(|v| v.to_str().ok())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| Arc::from(uuid::Uuid::new_v4().to_string()));
        // Without the layer (a router assembled by hand) fall back to a
        // generous deadline rather than none.
        let deadline = parts
            .extensions
            .get::<Deadline>()
            .copied()
            .unwrap_or_else(|| Deadline::after(Duration::from_secs(30)));
        Ok(Self {
            request_id,
            user: None,
            deadline,
        })
    }
}
