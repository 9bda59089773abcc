//! Middleware that does its work before and after the inner service, with
//! no allocation of its own per request.
//!
//! `axum::middleware::from_fn` is the easy way to write a layer, but each
//! request through it clones the whole stack beneath it (boxed routes
//! included) and boxes its future; five of them cost a small request a
//! fifth of its CPU (docs/benchmarks.md). The layers of [`crate::stack`]
//! whose work before the inner service is synchronous implement
//! [`Around`] instead: `before` runs in `call`, the inner service is
//! called at once, and `after` runs on the response when it is ready. A
//! request abandoned on the way (client gone) drops what `before` carried,
//! without `after`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// Work around one request.
pub(crate) trait Around: Clone {
    /// What `before` hands to `after`.
    type Carry;
    /// Runs before the inner service sees the request.
    fn before(&self, request: &mut Request) -> Self::Carry;
    /// Runs on the inner service's response.
    fn after(&self, carry: Self::Carry, response: &mut Response);
}

/// The layer of an [`Around`].
#[derive(Clone)]
pub(crate) struct AroundLayer<A>(pub(crate) A);

impl<S, A: Around> Layer<S> for AroundLayer<A> {
    type Service = AroundService<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundService {
            inner,
            around: self.0.clone(),
        }
    }
}

/// An inner service with an [`Around`] about it.
#[derive(Clone)]
pub(crate) struct AroundService<S, A> {
    inner: S,
    around: A,
}

impl<S, A> Service<Request> for AroundService<S, A>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    A: Around,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AroundFuture<S::Future, A>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let carry = self.around.before(&mut request);
        AroundFuture {
            inner: self.inner.call(request),
            around: self.around.clone(),
            carry: Some(carry),
        }
    }
}

pin_project! {
    /// The inner service's future, then `after`.
    pub(crate) struct AroundFuture<F, A: Around> {
        #[pin]
        inner: F,
        around: A,
        carry: Option<A::Carry>,
    }
}

impl<F, A> Future for AroundFuture<F, A>
where
    F: Future<Output = Result<Response, Infallible>>,
    A: Around,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = std::task::ready!(this.inner.poll(cx));
        if let Some(carry) = this.carry.take() {
            this.around.after(carry, &mut response);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::routing::get;
    use http::HeaderValue;
    use tower::ServiceExt;

    use super::*;

    /// Counts requests in `before` and stamps responses in `after`.
    #[derive(Clone, Default)]
    struct Stamp(Arc<AtomicUsize>);

    impl Around for Stamp {
        type Carry = usize;
        fn before(&self, request: &mut Request) -> usize {
            request.extensions_mut().insert(7u8);
            self.0.fetch_add(1, Ordering::SeqCst)
        }
        fn after(&self, n: usize, response: &mut Response) {
            response.headers_mut().insert("x-n", HeaderValue::from(n));
        }
    }

    #[tokio::test]
    async fn before_sees_the_request_and_after_the_response_of_each_call() {
        let stamp = Stamp::default();
        let app = Router::new()
            .route("/", get(|ext: axum::Extension<u8>| async move { ext.0.to_string() }))
            .layer(AroundLayer(stamp.clone()));
        for n in 0..3 {
            let response = app
                .clone()
                .oneshot(Request::new(axum::body::Body::empty()))
                .await
                .unwrap();
            assert_eq!(response.headers()["x-n"], n.to_string().as_str());
            let body = axum::body::to_bytes(response.into_body(), 64).await.unwrap();
            assert_eq!(&body[..], b"7", "the handler saw what before inserted");
        }
        assert_eq!(stamp.0.load(Ordering::SeqCst), 3);
    }
}
