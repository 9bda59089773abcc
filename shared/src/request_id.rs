//! Request ids: accept a sane client id or mint a UUID, echo it on every
//! response, and make it available to error rendering and upstream calls.
//!
//! The id lives in a task-local for the duration of the request so that
//! [`crate::error::ApiError`] can put it into problem bodies without every
//! handler threading it through; handlers that call upstreams get it from
//! [`crate::context::RequestCtx`].

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

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
/// task-local, and set it on the response.
pub async fn layer(mut request: Request, next: Next) -> Response {
    let id: Arc<str> = match request.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()) {
        Some(sent) if is_sane(sent) => Arc::from(sent),
        _ => Arc::from(uuid::Uuid::new_v4().to_string()),
    };
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = CURRENT.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
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
