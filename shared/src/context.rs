//! The per-request context every upstream call needs: the request id, the
//! authenticated user (if any) and the request's deadline.
//!
//! The deadline starts when the request arrives (the [`layer`] middleware
//! stamps it), so time spent in auth or rate limiting is charged to it.
//! The request's body is bound by the same deadline: reading a body that
//! has not fully arrived by then fails with [`RequestBodyTimeout`], which
//! the body extractors answer 408 `request_timeout` (and the connection is
//! closed), so a client that trickles a body cannot hold a request open.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use hyper::body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tower::util::MapRequestLayer;

use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::telemetry::RequestTrace;

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

/// Middleware: stamps the request's [`Deadline`] (`budget` from now) on
/// arrival, and bounds the reading of its body by it (a body already
/// complete, such as a GET's empty one, is left as it is). A request
/// mapper: nothing is cloned or boxed per request.
pub fn layer(budget: Duration) -> MapRequestLayer<impl FnMut(Request) -> Request + Clone> {
    MapRequestLayer::new(move |request| stamp(budget, request))
}

fn stamp(budget: Duration, mut request: Request) -> Request {
    let deadline = Deadline::after(budget);
    request.extensions_mut().insert(deadline);
    if !request.body().is_end_stream() {
        request = request.map(|body| Body::new(DeadlineBody::new(body, deadline)));
    }
    request
}

/// The error of a request body still arriving at the request's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive by the request's deadline")]
pub struct RequestBodyTimeout;

impl RequestBodyTimeout {
    /// Whether `error`, or any error in its `source()` chain, is a
    /// [`RequestBodyTimeout`]: body-reading rejections wrap the body's error.
    pub fn caused(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(error) = next {
            if error.is::<Self>() {
                return true;
            }
            next = error.source();
        }
        false
    }
}

/// A request body that fails with [`RequestBodyTimeout`] once the deadline
/// passes while it still waits for bytes. The timer is created only if the
/// body ever has to wait.
struct DeadlineBody {
    inner: Body,
    deadline: Deadline,
    timer: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: Body, deadline: Deadline) -> Self {
        Self {
            inner,
            deadline,
            timer: None,
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = self.deadline.instant();
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(RequestBodyTimeout)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
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
    /// The request's trace: each upstream attempt sends a `traceparent`
    /// of it with a span id of its own.
    pub trace: Arc<RequestTrace>,
}

impl RequestCtx {
    /// A context for calls made outside a client request (tests, examples).
    pub fn detached(request_id: &str, deadline: Deadline) -> Self {
        Self {
            request_id: Arc::from(request_id),
            user: None,
            deadline,
            trace: Arc::new(RequestTrace::detached()),
        }
    }

    /// The same context acting for the subject `sub`. A subject that
    /// cannot be sent as a header value is an invalid token, and so is
    /// `.` or `..`: the subject becomes a path segment (`/users/{sub}`),
    /// and an HTTP client resolves a dot segment whatever its encoding,
    /// so a validly signed token could otherwise make the BFF call
    /// `/users/` or `/` (docs/api.md#ids-in-paths: no client reaches an upstream
    /// path its route does not name).
    pub fn for_user(mut self, sub: &str) -> Result<Self, ApiError> {
        if matches!(sub, "" | "." | "..") {
            return Err(ApiError::InvalidToken);
        }
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
        // Without the access-log layer, a trace of its own.
        let trace = parts
            .extensions
            .get::<Arc<RequestTrace>>()
            .cloned()
            .unwrap_or_else(|| Arc::new(RequestTrace::detached()));
        Ok(Self {
            request_id,
            user: None,
            deadline,
            trace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::FromRequest;
    use axum::routing::post;
    use futures::StreamExt;
    use tower::ServiceExt;

    use crate::error::ApiError;

    /// A body that sends `first` and then never finishes.
    fn stalled_body(first: &'static [u8]) -> Body {
        let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from_static(first)) })
            .chain(futures::stream::pending());
        Body::from_stream(stream)
    }

    async fn read_body(request: Request) -> Result<Bytes, ApiError> {
        Bytes::from_request(request, &()).await.map_err(ApiError::from)
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_still_arriving_at_the_deadline_is_a_request_timeout() {
        let app = Router::new()
            .route("/", post(read_body))
            .layer(layer(Duration::from_millis(300)));
        let request = Request::post("/").body(stalled_body(b"{\"li")).expect("request");
        let started = Instant::now();
        let response = app.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), axum::http::StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()["connection"], "close");
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_arrives_in_time_is_read_whole() {
        let app = Router::new()
            .route("/", post(|body: Bytes| async move { body }))
            .layer(layer(Duration::from_millis(300)));
        let request = Request::post("/").body(Body::from("{\"lines\":[]}")).expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), axum::http::StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.expect("body");
        assert_eq!(&body[..], b"{\"lines\":[]}");
    }

    #[test]
    fn the_timeout_is_found_through_the_errors_that_wrap_it() {
        let wrapped = axum::Error::new(axum::Error::new(RequestBodyTimeout));
        assert!(RequestBodyTimeout::caused(&wrapped));
        assert!(!RequestBodyTimeout::caused(&axum::Error::new(std::io::Error::other(
            "reset"
        ))));
    }
}
