//! The pricing service: `GET /prices?product_ids=a,b`.

use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::catalog::product_number;
use super::{ApiError, Params, id_list};
use crate::simulator::data::{between, hash};

const SALT_DOLLARS: u64 = 401;
const SALT_DISCOUNTED: u64 = 402;
const SALT_DISCOUNT: u64 = 403;

/// One product's price.
#[derive(Debug, Serialize)]
pub(crate) struct Price {
    product_id: String,
    currency: &'static str,
    /// The list price, more than 0.
    amount_cents: u64,
    /// 0..=30; a quarter of the products are discounted, by 5 to 30 %.
    discount_pct: u64,
}

/// The list price of product `n` in cents: $0.99 to $499.99.
pub(crate) fn list_price_cents(n: u32) -> u64 {
    between(hash(&[SALT_DOLLARS, u64::from(n)]), 1, 500) * 100 - 1
}

/// The price of product `n`.
pub(crate) fn price(n: u32) -> Price {
    let n64 = u64::from(n);
    let discounted = hash(&[SALT_DISCOUNTED, n64]).is_multiple_of(4);
    Price {
        product_id: format!("p-{n}"),
        currency: "USD",
        amount_cents: list_price_cents(n),
        discount_pct: if discounted {
            5 * between(hash(&[SALT_DISCOUNT, n64]), 1, 6)
        } else {
            0
        },
    }
}

#[derive(Deserialize)]
struct PricesQuery {
    product_ids: Option<String>,
}

#[derive(Serialize)]
struct Prices {
    items: Vec<Price>,
}

async fn list_prices(Params(query): Params<PricesQuery>) -> Result<Json<Prices>, ApiError> {
    let ids = id_list(&query.product_ids, "product_ids")?;
    let items = ids.iter().filter_map(|id| product_number(id)).map(price).collect();
    Ok(Json(Prices { items }))
}

pub(crate) fn routes() -> Router {
    Router::new().route("/prices", get(list_prices))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_positive_and_discounts_stay_within_30_percent() {
        let mut discounted = 0;
        for n in 1..=1000 {
            let p = price(n);
            assert!(p.amount_cents > 0);
            assert!(p.discount_pct <= 30);
            discounted += u32::from(p.discount_pct > 0);
            assert_eq!(p.amount_cents, price(n).amount_cents);
        }
        assert!((150..=350).contains(&discounted), "{discounted}");
    }
}
