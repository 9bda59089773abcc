//! The eight fake upstream services of the upstream contract (docs/api.md,
//! "The upstream contract"): one router per service, the shared error
//! answers and query parsing. Each service's file owns its data, its
//! endpoints and their tests; faults and recording are added around these
//! routers by `inject.rs`.

mod catalog;
mod inventory;
mod notifications;
mod orders;
mod pricing;
mod recommendations;
mod reviews;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::service::Service;

pub(crate) use catalog::ProductCache;
pub(crate) use orders::OrderBook;
pub use orders::PlacedOrder;

/// `limit` when the query has none.
const DEFAULT_LIMIT: usize = 10;
/// The largest `limit` honoured; larger values are lowered to it.
const MAX_LIMIT: usize = 100;
/// The most ids one `ids=` / `product_ids=` list may carry.
const MAX_IDS: usize = 100;

/// State that outlives a request: orders placed through `POST /orders` and
/// the serialised products.
#[derive(Clone, Default)]
pub(crate) struct Stores {
    pub(crate) orders: Arc<OrderBook>,
    pub(crate) products: Arc<ProductCache>,
}

/// The routes of `service`, answering `{"error":"not_found"}` to any other path.
pub(crate) fn router(service: Service, stores: &Stores) -> Router {
    let routes = match service {
        Service::Users => users::routes(),
        Service::Orders => orders::routes(stores.orders.clone()),
        Service::Catalog => catalog::routes(stores.products.clone()),
        Service::Pricing => pricing::routes(),
        Service::Inventory => inventory::routes(),
        Service::Recommendations => recommendations::routes(),
        Service::Notifications => notifications::routes(),
        Service::Reviews => reviews::routes(),
    };
    routes.fallback(|| async { ApiError::NotFound })
}

/// Every non-2xx answer of the services, as `{"error": code, "detail"?}`.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 404: unknown id (or an order that is not the caller's).
    NotFound,
    /// 400: a missing or malformed parameter or body, explained.
    BadRequest(String),
    /// 400: `POST /orders` without `Idempotency-Key`.
    IdempotencyKeyRequired,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, serde_json::json!({ "error": "not_found" })),
            ApiError::BadRequest(detail) => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": "invalid_request", "detail": detail }),
            ),
            ApiError::IdempotencyKeyRequired => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": "idempotency_key_required" }),
            ),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// The query string as `T`, or a 400 [`ApiError`] (instead of axum's plain text).
pub(crate) struct Params<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(value)| Params(value))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// A required query parameter.
pub(crate) fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    match value.as_deref() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::BadRequest(format!("{name} is required"))),
    }
}

/// `limit`: 10 when absent, at most 100, a whole number.
pub(crate) fn limit(value: &Option<String>) -> Result<usize, ApiError> {
    match value.as_deref() {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<usize>()
            .map(|n| n.min(MAX_LIMIT))
            .map_err(|_| ApiError::BadRequest(format!("limit must be a whole number, got {v:?}"))),
    }
}

/// A required comma-separated id list of at most 100 ids (empty items skipped).
pub(crate) fn id_list<'a>(value: &'a Option<String>, name: &str) -> Result<Vec<&'a str>, ApiError> {
    let raw = value
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest(format!("{name} is required")))?;
    let ids: Vec<&str> = raw.split(',').filter(|id| !id.is_empty()).collect();
    if ids.len() > MAX_IDS {
        return Err(ApiError::BadRequest(format!(
            "{name} has {} ids, at most {MAX_IDS} allowed",
            ids.len()
        )));
    }
    Ok(ids)
}

/// A 200 answer whose JSON is already serialised.
pub(crate) fn raw_json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
