//! Response compression (gzip or br), for the clients that ask for it.
//!
//! tower-http's compression does the work, but it wraps every answer's
//! body in its own type, for a client that sent no `Accept-Encoding` too,
//! and axum then boxes that wrapper once more: about 2.5 µs of a 22 µs
//! pass-through (docs/benchmarks.md). A request without `Accept-Encoding`
//! therefore goes to the inner service directly, and its answer gets the
//! `Vary: accept-encoding` tower-http would have given it, so both paths
//! answer alike.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::HeaderValue;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_RANGE, VARY};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::{Compression, ResponseFuture as Compressing};

/// The layer: gzip and br, tower-http's default rule for what is worth
/// compressing.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CompressionLayer;

impl<S> Layer<S> for CompressionLayer {
    type Service = Compress<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Compress(Compression::new(inner).gzip(true).br(true))
    }
}

/// The service of [`CompressionLayer`]: tower-http's compression about the
/// inner service, which a request that asks for none is handed to directly
/// (one inner service, so cloning the stack per request clones it once).
#[derive(Clone)]
pub(crate) struct Compress<S>(Compression<S>);

impl<S> Service<Request> for Compress<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CompressFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.headers().contains_key(ACCEPT_ENCODING) {
            CompressFuture::Compressing {
                inner: self.0.call(request),
            }
        } else {
            CompressFuture::Plain {
                inner: self.0.get_mut().call(request),
            }
        }
    }
}

pin_project! {
    /// The answer, compressed or not.
    #[project = CompressProj]
    pub(crate) enum CompressFuture<F> {
        /// The client sent `Accept-Encoding`: tower-http decides.
        Compressing { #[pin] inner: Compressing<F, DefaultPredicate> },
        /// It did not: the answer as it is.
        Plain { #[pin] inner: F },
    }
}

impl<F> Future for CompressFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CompressProj::Compressing { inner } => {
                inner.poll(cx).map(|done| done.map(|response| response.map(Body::new)))
            }
            CompressProj::Plain { inner } => {
                let Ok(mut response) = std::task::ready!(inner.poll(cx));
                vary_as_compression_would(&mut response);
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// `Vary: accept-encoding` on an answer tower-http would have compressed
/// for a client that asked (its rule, its header), so that a cache keeps
/// the compressed and plain answers apart.
fn vary_as_compression_would(response: &mut Response) {
    let headers = response.headers();
    let would_compress = !headers.contains_key(CONTENT_ENCODING)
        && !headers.contains_key(CONTENT_RANGE)
        && DefaultPredicate::new().should_compress(response);
    let varies = headers
        .get_all(VARY)
        .iter()
        .any(|value| contains_ignore_case(value.as_bytes(), ACCEPT_ENCODING.as_str().as_bytes()));
    if would_compress && !varies {
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::get;
    use http::header::CONTENT_TYPE;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    const JSON: &str = r#"{"items":["a long enough answer to be worth compressing, well over 32 bytes"]}"#;

    fn app() -> Router {
        Router::new()
            .route("/json", get(|| async { ([(CONTENT_TYPE, "application/json")], JSON) }))
            .route("/tiny", get(|| async { "ok" }))
            .route("/png", get(|| async { ([(CONTENT_TYPE, "image/png")], JSON) }))
            .layer(CompressionLayer)
    }

    async fn get_with(path: &str, accept: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(accept) = accept {
            request = request.header(ACCEPT_ENCODING, accept);
        }
        app().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    fn header(response: &Response, name: http::HeaderName) -> Vec<&str> {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_client_that_asks_gets_gzip_or_br_and_one_that_does_not_gets_the_plain_body() {
        for (accept, encoding) in [("gzip", "gzip"), ("br", "br"), ("gzip, br;q=0.5", "gzip")] {
            let response = get_with("/json", Some(accept)).await;
            assert_eq!(
                header(&response, CONTENT_ENCODING),
                [encoding],
                "Accept-Encoding: {accept}"
            );
            assert_eq!(header(&response, VARY), ["accept-encoding"]);
        }
        for accept in [None, Some("identity")] {
            let response = get_with("/json", accept).await;
            assert!(response.headers().get(CONTENT_ENCODING).is_none());
            assert_eq!(
                header(&response, VARY),
                ["accept-encoding"],
                "Accept-Encoding: {accept:?}"
            );
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, JSON.as_bytes());
        }
    }

    #[tokio::test]
    async fn what_would_not_be_compressed_gets_no_vary_either_way() {
        for path in ["/tiny", "/png"] {
            for accept in [None, Some("gzip")] {
                let response = get_with(path, accept).await;
                assert!(response.headers().get(CONTENT_ENCODING).is_none(), "{path} {accept:?}");
                assert!(response.headers().get(VARY).is_none(), "{path} {accept:?}");
            }
        }
    }
}
