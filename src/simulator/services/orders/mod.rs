//! The orders service: `GET /orders?user_id=&limit=&cursor=`,
//! `GET /orders/{id}` (only for its owner, named by `X-User-Id`) and
//! `POST /orders` (idempotent by `Idempotency-Key`).
//!
//! A user's list is the orders they placed here (newest first), then their
//! generated ones (newest first). `cursor` is the opaque `next_cursor` of
//! the previous page (an offset).

mod book;
mod generated;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

pub(crate) use book::OrderBook;
pub use book::PlacedOrder;

use super::catalog::product_number;
use super::users::user_number;
use super::{ApiError, Params, limit, required};
use crate::simulator::data::rfc3339;

/// Lines one order may have.
const MAX_LINES: usize = 100;
/// Longest accepted `user_id` and `Idempotency-Key`.
const MAX_TOKEN_LEN: usize = 255;

/// The upstream contract's `Order` (docs/api.md, "Upstream shapes").
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Order {
    id: String,
    user_id: String,
    status: &'static str,
    created_at: String,
    total_cents: u64,
    currency: String,
    lines: Vec<OrderLine>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct OrderLine {
    product_id: String,
    quantity: u64,
    unit_price_cents: u64,
}

#[derive(Deserialize)]
struct ListQuery {
    user_id: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct OrderPage {
    items: Vec<Order>,
    next_cursor: Option<String>,
}

async fn list(
    State(book): State<Arc<OrderBook>>,
    Params(query): Params<ListQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    let user_id = required(&query.user_id, "user_id")?;
    let limit = limit(&query.limit)?;
    let offset = match query.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| ApiError::BadRequest(format!("unknown cursor {c:?}")))?,
    };
    let (placed_count, mut items) = book.page(user_id, offset, limit);
    let user = user_number(user_id);
    if user.is_none() && placed_count == 0 {
        return Err(ApiError::NotFound);
    }
    let generated_count = user.map_or(0, generated::count) as usize;
    if let Some(user) = user {
        // Generated orders follow the placed ones; skip what earlier pages showed.
        let skip = offset.saturating_sub(placed_count) as u64;
        let wanted = (limit - items.len()) as u64;
        let newest = generated_count as u64;
        items.extend(
            (1..=newest.saturating_sub(skip))
                .rev()
                .take(wanted as usize)
                .map(|k| generated::order(user, k)),
        );
    }
    let end = offset.saturating_add(limit);
    let next_cursor = (limit > 0 && end < placed_count + generated_count).then(|| end.to_string());
    Ok(Json(OrderPage { items, next_cursor }))
}

async fn get_order(
    State(book): State<Arc<OrderBook>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Order>, ApiError> {
    let caller = headers.get("x-user-id").and_then(|v| v.to_str().ok());
    let order = book
        .get(&id)
        .or_else(|| generated::find(&id))
        .ok_or(ApiError::NotFound)?;
    // Someone else's order is answered exactly like a missing one.
    if caller != Some(order.user_id.as_str()) {
        return Err(ApiError::NotFound);
    }
    Ok(Json(order))
}

#[derive(Deserialize)]
struct NewOrder {
    user_id: String,
    currency: String,
    lines: Vec<OrderLine>,
}

impl NewOrder {
    /// The order's total, or what is wrong with it.
    fn check(&self) -> Result<u64, String> {
        if self.user_id.is_empty() || self.user_id.len() > MAX_TOKEN_LEN {
            return Err("user_id must have 1 to 255 characters".into());
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "currency must be an ISO code such as USD, got {:?}",
                self.currency
            ));
        }
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            return Err(format!("an order has 1 to {MAX_LINES} lines"));
        }
        let mut total: u64 = 0;
        for line in &self.lines {
            if product_number(&line.product_id).is_none() {
                return Err(format!("unknown product {:?}", line.product_id));
            }
            if !(1..=999).contains(&line.quantity) {
                return Err(format!("quantity must be 1 to 999, got {}", line.quantity));
            }
            total = line
                .quantity
                .checked_mul(line.unit_price_cents)
                .and_then(|amount| total.checked_add(amount))
                .ok_or("the total is too large")?;
        }
        Ok(total)
    }
}

async fn place(State(book): State<Arc<OrderBook>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => return Err(ApiError::IdempotencyKeyRequired),
        Some(Ok(key)) if !key.is_empty() && key.len() <= MAX_TOKEN_LEN => key,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Idempotency-Key must be 1 to 255 visible characters".into(),
            ));
        }
    };
    let new: NewOrder = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("bad order: {e}")))?;
    let total_cents = new.check().map_err(ApiError::BadRequest)?;
    let order = book.place(key, &new.user_id, |number| Order {
        id: format!("o-new-{number}"),
        user_id: new.user_id.clone(),
        status: "placed",
        created_at: rfc3339(now_secs().max(generated::after_all())),
        total_cents,
        currency: new.currency.clone(),
        lines: new.lines.clone(),
    });
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

/// The wall clock, for orders placed now (generated data never uses it).
fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub(crate) fn routes(book: Arc<OrderBook>) -> Router {
    Router::new()
        .route("/orders", get(list).post(place))
        .route("/orders/{id}", get(get_order))
        .with_state(book)
}
