//! The inventory service: `GET /stock?product_ids=a,b`.

use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::catalog::product_number;
use super::{ApiError, Params, id_list};
use crate::simulator::data::{between, hash};

const SALT_OUT: u64 = 501;
const SALT_AVAILABLE: u64 = 502;
const SALT_WAREHOUSES: u64 = 503;
const SALT_SPLIT: u64 = 504;

const WAREHOUSES: [&str; 3] = ["wh-east", "wh-central", "wh-west"];

/// One product's stock; the warehouses' `available` add up to `available`.
#[derive(Debug, Serialize)]
pub(crate) struct Stock {
    product_id: String,
    /// 0 for about one product in ten, else 1..=500.
    available: u64,
    warehouses: Vec<Warehouse>,
}

#[derive(Debug, Serialize)]
struct Warehouse {
    id: &'static str,
    available: u64,
}

/// The stock of product `n`.
pub(crate) fn stock(n: u32) -> Stock {
    let n64 = u64::from(n);
    let available = if hash(&[SALT_OUT, n64]).is_multiple_of(10) {
        0
    } else {
        between(hash(&[SALT_AVAILABLE, n64]), 1, 500)
    };
    let count = between(hash(&[SALT_WAREHOUSES, n64]), 1, WAREHOUSES.len() as u64) as usize;
    let mut left = available;
    let warehouses = WAREHOUSES[..count]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let here = if i + 1 == count {
                left
            } else {
                hash(&[SALT_SPLIT, n64, i as u64]) % (left + 1)
            };
            left -= here;
            Warehouse { id, available: here }
        })
        .collect();
    Stock {
        product_id: format!("p-{n}"),
        available,
        warehouses,
    }
}

#[derive(Deserialize)]
struct StockQuery {
    product_ids: Option<String>,
}

#[derive(Serialize)]
struct StockList {
    items: Vec<Stock>,
}

async fn list_stock(Params(query): Params<StockQuery>) -> Result<Json<StockList>, ApiError> {
    let ids = id_list(&query.product_ids, "product_ids")?;
    let items = ids.iter().filter_map(|id| product_number(id)).map(stock).collect();
    Ok(Json(StockList { items }))
}

pub(crate) fn routes() -> Router {
    Router::new().route("/stock", get(list_stock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warehouses_add_up_and_about_one_product_in_ten_is_out_of_stock() {
        let mut out = 0;
        for n in 1..=2000 {
            let s = stock(n);
            assert_eq!(s.warehouses.iter().map(|w| w.available).sum::<u64>(), s.available);
            assert!(!s.warehouses.is_empty() && s.available <= 500);
            out += u32::from(s.available == 0);
        }
        assert!((120..=280).contains(&out), "{out}");
    }
}
