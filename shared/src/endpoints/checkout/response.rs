//! Checkout's answer: the client's shape of a placed order, the 201 that
//! is sent and recorded, and the replay of a recorded one.
//!
//! The recorded answer is the body's exact bytes, so a replay is byte for
//! byte the first answer (its `meta.request_id` included: it names the
//! request that placed the order). A replay carries `Idempotent-Replayed:
//! true` so that a client or an operator can tell it apart; headers that
//! describe one request's own work (`Server-Timing`) go on the first only.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use crate::backends::Order;
use crate::error::ApiError;
use crate::fanout::{Meta, Summary};
use crate::idempotency::StoredAnswer;

static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
static IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The 201 answer of `POST /v1/checkout`.
// `deny_unknown_fields` (here and below) only tells the OpenAPI schema the
// shape is exact.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutAnswer {
    /// The placed order.
    pub order: PlacedOrder,
    /// Request id; never partial.
    pub meta: Meta,
}

/// A placed order, as the client sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacedOrder {
    /// Order id, for `GET /v1/orders/{id}`.
    pub id: String,
    /// `placed`.
    pub status: String,
    /// Total in cents, at the discounted prices.
    pub total_cents: i64,
    /// ISO currency code (the one pricing gave).
    pub currency: String,
}

impl From<Order> for PlacedOrder {
    fn from(order: Order) -> Self {
        Self {
            id: order.id,
            status: order.status,
            total_cents: order.total_cents,
            currency: order.currency,
        }
    }
}

/// The 201 for `order`, and the answer to record for replays.
pub(super) fn created(summary: &Summary, order: Order) -> Result<(StoredAnswer, Response), ApiError> {
    let answer = CheckoutAnswer {
        order: order.into(),
        meta: summary.meta(),
    };
    let body = serde_json::to_vec(&answer).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise a checkout answer");
        ApiError::Internal
    })?;
    let stored = StoredAnswer {
        status: StatusCode::CREATED.as_u16(),
        body: Bytes::from(body),
    };
    let mut response = render(&stored);
    if let Ok(timing) = HeaderValue::from_str(&summary.server_timing()) {
        response.headers_mut().insert(SERVER_TIMING.clone(), timing);
    }
    Ok((stored, response))
}

/// A recorded answer sent again.
pub(super) fn replay(stored: &StoredAnswer) -> Response {
    let mut response = render(stored);
    response
        .headers_mut()
        .insert(IDEMPOTENT_REPLAYED.clone(), HeaderValue::from_static("true"));
    response
}

fn render(stored: &StoredAnswer) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let mut response = (status, stored.body.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}
