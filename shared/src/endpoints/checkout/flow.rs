//! Checkout's upstream story: pricing and inventory (both required, at the
//! same time), the checks their answers allow, then `POST /orders` with the
//! idempotency key forwarded.
//!
//! Writes are never partial: any failure of the three is the request's
//! failure, 503 `upstream_unavailable`, or 504 `upstream_timeout` when the
//! deadline ran out (every call runs under it, through [`Fanout`]). A 404
//! from one of them is a 503 too: the batch reads leave unknown products
//! out rather than 404, so a 404 here means a broken upstream, not a
//! missing resource the client could fix. Prices are read uncached: a write
//! charges the current price, not one cached for the product pages.
//!
//! The checks ([`price_lines`]) are a pure function of the request and the
//! two answers: a product missing from either answer is unknown (422), a
//! quantity over `available` is short (409 listing every short product),
//! and each unit price is the discounted price rounded to the nearest cent.

use std::collections::HashMap;
use std::future::Future;

use axum::http::HeaderValue;
use futures::TryFutureExt;

use super::request::CheckoutRequest;
use crate::backends::{Backends, NewOrder, Order, OrderLine, Price, Stock};
use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::fanout::{Fanout, Summary};
use crate::upstream::UpstreamError;

/// Places the order `request` describes for the context's user: the order,
/// and the summary of its calls for `meta` and `Server-Timing`.
pub(super) async fn place(
    backends: &Backends,
    ctx: &RequestCtx,
    fan: &Fanout,
    idempotency_key: &HeaderValue,
    request: &CheckoutRequest,
) -> Result<(Order, Summary), ApiError> {
    let user_id = ctx.user_id().ok_or_else(|| {
        tracing::error!("checkout ran without an authenticated user");
        ApiError::Internal
    })?;
    let ids = request.product_ids();
    // try_join: the first failure answers at once, without waiting for the
    // other call (which is dropped, so nothing is left running).
    let (prices, stock) = tokio::try_join!(
        fan.required("prices", no_404(backends.prices_uncached(ctx, &ids))),
        fan.required("stock", no_404(backends.stock(ctx, &ids))),
    )?;
    let (currency, lines) = price_lines(request, &prices, &stock)?;
    let order = NewOrder {
        user_id,
        currency: &currency,
        lines,
    };
    let placed = fan
        .required("order", no_404(backends.place_order(ctx, idempotency_key, &order)))
        .await?;
    let summary = fan.summary(&[&prices, &stock, &placed]);
    Ok((placed.into_inner(), summary))
}

/// A 404 from a checkout call counts as an upstream failure (see the module docs).
fn no_404<T>(call: impl Future<Output = Result<T, UpstreamError>>) -> impl Future<Output = Result<T, UpstreamError>> {
    call.map_err(|e| match e {
        UpstreamError::NotFound => UpstreamError::Status(404),
        other => other,
    })
}

/// The order's currency and lines at their discounted unit prices, or why
/// the order cannot be placed.
pub(super) fn price_lines(
    request: &CheckoutRequest,
    prices: &[Price],
    stock: &[Stock],
) -> Result<(String, Vec<OrderLine>), ApiError> {
    // First answer wins if an upstream lists a product twice.
    let mut price_of: HashMap<&str, &Price> = HashMap::with_capacity(prices.len());
    for price in prices {
        price_of.entry(price.product_id.as_str()).or_insert(price);
    }
    let mut stock_of: HashMap<&str, &Stock> = HashMap::with_capacity(stock.len());
    for item in stock {
        stock_of.entry(item.product_id.as_str()).or_insert(item);
    }

    let unknown: Vec<&str> = request
        .lines
        .iter()
        .map(|line| line.product_id.as_str())
        .filter(|id| !price_of.contains_key(id) || !stock_of.contains_key(id))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::Unprocessable(format!(
            "unknown products: {}",
            unknown.join(", ")
        )));
    }

    let short: Vec<String> = request
        .lines
        .iter()
        .filter(|line| {
            stock_of
                .get(line.product_id.as_str())
                .is_some_and(|s| i64::from(line.quantity) > s.available)
        })
        .map(|line| line.product_id.clone())
        .collect();
    if !short.is_empty() {
        return Err(ApiError::OutOfStock { product_ids: short });
    }

    let mut currency: Option<&str> = None;
    let mut lines = Vec::with_capacity(request.lines.len());
    for line in &request.lines {
        let Some(price) = price_of.get(line.product_id.as_str()) else {
            continue;
        };
        match currency {
            None => currency = Some(&price.currency),
            Some(c) if c == price.currency => {}
            Some(_) => {
                // One order has one currency; splitting it is the client's call.
                return Err(ApiError::Unprocessable(
                    "these products are priced in different currencies: place one order per currency".into(),
                ));
            }
        }
        lines.push(OrderLine {
            product_id: line.product_id.clone(),
            quantity: line.quantity,
            unit_price_cents: discounted(price)?,
        });
    }
    let currency = currency.map(str::to_owned).ok_or(ApiError::Internal)?;
    Ok((currency, lines))
}

/// The unit price after the discount, rounded to the nearest cent (halves
/// up). A negative price or a discount over 100 % is a broken answer.
pub(super) fn discounted(price: &Price) -> Result<i64, ApiError> {
    if price.amount_cents < 0 || price.discount_pct > 100 {
        tracing::warn!(
            product_id = %price.product_id,
            amount_cents = price.amount_cents,
            discount_pct = price.discount_pct,
            "pricing answered an impossible price"
        );
        return Err(ApiError::UpstreamUnavailable);
    }
    let cents = (i128::from(price.amount_cents) * i128::from(100 - price.discount_pct) + 50) / 100;
    // At most the list price, so it fits.
    i64::try_from(cents).map_err(|_| ApiError::UpstreamUnavailable)
}
