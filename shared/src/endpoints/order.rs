//! `GET /v1/orders/{id}`: pass-through to the orders service.
//!
//! Only a 2xx is passed on, its body streamed unchanged with its content
//! type; hop-by-hop and other upstream headers are not copied. The
//! client's `Authorization` and `X-User-Id` never reach the upstream (the
//! call carries only the headers [`crate::upstream`] sets). An upstream 404
//! (unknown order, or not the caller's) is 404 `not_found`, no answer by
//! the deadline 504, any other failure 503.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::auth::Auth;
use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::extract::ValidId;
use crate::platform::Platform;
use crate::upstream::UpstreamError;

/// The pass-through handler.
pub async fn get_order(
    State(platform): State<Platform>,
    Auth(principal): Auth,
    ctx: RequestCtx,
    ValidId(id): ValidId,
) -> Result<Response, ApiError> {
    let ctx = ctx.for_user(&principal.sub)?;
    let deadline = ctx.deadline.instant();
    let upstream = tokio::time::timeout_at(deadline, platform.backends.order_raw(&ctx, &id))
        .await
        .unwrap_or(Err(UpstreamError::Timeout))
        .map_err(|e| match e {
            UpstreamError::NotFound => ApiError::NotFound("no such order".into()),
            other => other.into_api_error(),
        })?;

    let status = upstream.status();
    let content_type = upstream
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("application/json"));
    let content_length = upstream.headers().get(header::CONTENT_LENGTH).cloned();
    // The body is bounded by the same deadline: an upstream that stalls
    // mid-body cannot hold the client connection past it.
    let body = upstream
        .bytes_stream()
        .take_until(tokio::time::sleep_until(deadline));
    let mut response = (status, Body::from_stream(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Some(length) = content_length {
        headers.insert(header::CONTENT_LENGTH, length);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}
