//! A panic in a handler, or in any layer inside this one, becomes a 500
//! `internal` problem: never a dropped connection, never a stack trace.
//!
//! tower-http's `CatchPanic` does the same, but boxes every answer's body
//! into its own type so that its 500 and the handler's answers share one,
//! and axum then boxes that box again. Here both are axum's `Body`
//! already, so the answer passes through untouched.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::error::ApiError;

/// The layer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

/// The service of [`CatchPanicLayer`].
#[derive(Debug, Clone)]
pub(crate) struct CatchPanic<S> {
    inner: S,
}

impl<S> Service<Request> for CatchPanic<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(inner) => CatchPanicFuture::Running { inner },
            Err(_) => CatchPanicFuture::Panicked,
        }
    }
}

pin_project! {
    /// The inner answer, or the 500 of a panic.
    #[project = CatchPanicProj]
    pub(crate) enum CatchPanicFuture<F> {
        /// The inner service's future.
        Running { #[pin] inner: F },
        /// The inner service panicked in `call`.
        Panicked,
    }
}

impl<F> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            // A future that panicked is not polled again: the 500 is its end.
            CatchPanicProj::Running { inner } => match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                Ok(poll) => poll,
                Err(_) => Poll::Ready(Ok(ApiError::Internal.into_response())),
            },
            CatchPanicProj::Panicked => Poll::Ready(Ok(ApiError::Internal.into_response())),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::StatusCode;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    /// Panics in `call`, before any future exists.
    #[derive(Clone)]
    struct PanicsInCall;

    impl Service<Request> for PanicsInCall {
        type Response = Response;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request) -> Self::Future {
            panic!("in call")
        }
    }

    async fn panics_in_its_future() -> &'static str {
        let always = std::hint::black_box(true);
        assert!(!always, "in the handler's future");
        "never"
    }

    async fn problem_of(response: Response) -> (StatusCode, String, serde_json::Value) {
        let status = response.status();
        let content_type = response.headers()[http::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_panicking_handler_or_service_answers_a_500_internal_problem() {
        let app = Router::new()
            .route("/future", get(panics_in_its_future))
            .route_service("/call", PanicsInCall)
            .route("/fine", get(|| async { "fine" }))
            .layer(CatchPanicLayer);
        for path in ["/future", "/call"] {
            let response = app
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let (status, content_type, problem) = problem_of(response).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert_eq!(content_type, "application/problem+json");
            assert_eq!(problem["code"], "internal");
            assert!(!problem.to_string().contains("panic"), "{problem}");
        }
        let fine = app
            .oneshot(Request::get("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
        assert_eq!(fine.into_body().collect().await.unwrap().to_bytes(), "fine");
    }
}
