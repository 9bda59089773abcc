//! Request ids: accept a sane client id or mint a UUID, echo it on every
//! response, and make it available to error rendering and upstream calls.
//!
//! The id lives in a task-local for the duration of the request so that
//! [`crate::error::ApiError`] can put it into problem bodies without every
//! handler threading it through; handlers that call upstreams get it from
//! [`crate::context::RequestCtx`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

/// The header that carries the id, inbound, outbound and upstream.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: Arc<str>;
}

/// The id assigned to one request.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// Whether a client-sent id may be reused: 1 to 128 characters, each a
/// letter, digit, `.`, `_`, `:` or `-` (docs/api.md#response-headers). Anything else
/// could smuggle log-injection or header-splitting payloads into our logs and
/// upstream calls, so it is replaced.
pub fn is_sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.to_string()).ok()
}

/// Middleware: pick the id, store it in the request's extensions and the
/// task-local, and set it on the response (written by hand rather than
/// with `from_fn`: see `crate::around`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = WithRequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithRequestId { inner }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct WithRequestId<S> {
    inner: S,
}

impl<S> Service<Request> for WithRequestId<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id: Arc<str> = match request.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()) {
            Some(sent) if is_sane(sent) => Arc::from(sent),
            // Encoded in place, not through `fmt`: one allocation, the Arc.
            _ => Arc::from(
                &*uuid::Uuid::new_v4()
                    .hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer()),
            ),
        };
        request.extensions_mut().insert(RequestId(id.clone()));
        // The inner layers' own `call`s run in the scope too, not only
        // their futures.
        let inner = CURRENT.sync_scope(id.clone(), || self.inner.call(request));
        RequestIdFuture {
            inner: CURRENT.scope(id.clone(), inner),
            id,
        }
    }
}

pin_project! {
    /// The inner response, with the id set on it.
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: TaskLocalFuture<Arc<str>, F>,
        id: Arc<str>,
    }
}

impl<F> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = std::task::ready!(this.inner.poll(cx));
        if let Ok(value) = HeaderValue::from_str(this.id) {
            response.headers_mut().insert(X_REQUEST_ID.clone(), value);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn sane_ids_are_kept_and_odd_ones_are_not() {
        assert!(is_sane("abc-123_x.y:z"));
        assert!(is_sane(&"a".repeat(128)));
        assert!(!is_sane(""));
        assert!(!is_sane(&"a".repeat(129)));
        assert!(!is_sane("has space"));
        assert!(!is_sane("new\nline"));
        assert!(!is_sane("ünïcode"));
    }
}
