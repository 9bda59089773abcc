//! `GET /v1/orders/{id}`: pass-through to the orders service.
//!
//! Only a 2xx `application/json` answer is passed on, its body streamed
//! unchanged with its content type and length; hop-by-hop and other
//! upstream headers are not copied. The client's `Authorization` and
//! `X-User-Id` never reach the upstream (the call carries only the headers
//! [`crate::upstream`] sets). An upstream 404 (unknown order, or not the
//! caller's) is 404 `not_found`, no answer by the deadline 504, any other
//! failure (another status or type, a declared length over
//! `BFF_UPSTREAM_MAX_BODY_BYTES`) 503.
//!
//! Once the status is sent, a body that fails, stalls past the deadline or
//! grows past the cap aborts the client's connection
//! (docs/api.md#order-pass-through): the stream ends in an error, so the server leaves a chunked body
//! unterminated and a `Content-Length` body short. The client sees an
//! incomplete message, never a complete-looking 200 with half an order.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::auth::Auth;
use crate::backends::{Bff, Order};
use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::extract::ValidId;
use crate::upstream::UpstreamError;

crate::problems!(
    /// The problems the pass-through answers (429 and 500 are the stack's).
    OrderProblems:
    malformed_id,
    auth_required,
    case(no_such_order(), "the order does not exist or is not the caller's"),
    case(
        ApiError::UpstreamUnavailable,
        "the orders service failed, or answered a status other than 2xx and 404, a type other than \
         `application/json` or a body over the size cap",
    ),
    case(
        ApiError::UpstreamTimeout,
        "the orders service did not answer by the deadline",
    ),
);

/// The 404 of an order that does not exist or is not the caller's.
fn no_such_order() -> ApiError {
    ApiError::NotFound("no such order".into())
}

/// One of the caller's orders, exactly as the orders service has it.
///
/// A pass-through: the orders service's answer is streamed unchanged (its
/// fields are at least those below; fields it adds are passed on too).
#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    tag = "orders",
    operation_id = "getOrder",
    params(("id" = String, Path, description = "Order id", example = "o-1-1", min_length = 1, max_length = 64,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order, as the orders service answered it", body = Order,
            headers(("Cache-Control" = String, description = "`private, no-store`: the order is personal")),
            example = json!({"id": "o-1-1", "user_id": "u-1", "status": "delivered",
                "created_at": "2024-01-04T22:34:23Z", "total_cents": 140394, "currency": "USD", "lines": [
                    {"product_id": "p-4513", "quantity": 3, "unit_price_cents": 18299},
                    {"product_id": "p-4650", "quantity": 3, "unit_price_cents": 28499}]})),
        OrderProblems,
    )
)]
pub async fn get_order(
    State(platform): State<Bff>,
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
            UpstreamError::NotFound => no_such_order(),
            other => other.into_api_error(),
        })?;

    let mut response = (upstream.status, Body::from_stream(upstream.body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, upstream.content_type);
    if let Some(length) = upstream.content_length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}
