//! The reviews service: `GET /reviews?product_id=&limit=`.
//!
//! Product `n` has 1 to 120 reviews, newest first; `average_rating` is the
//! mean of all of them (rounded to two decimals), whatever `limit` says.

use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::catalog::product_number;
use super::users::{FIRST_NAMES, LAST_NAMES};
use super::{ApiError, Params, limit, required};
use crate::simulator::data::{BASE_TIME, DAY, between, hash, pick, rfc3339};

const SALT_COUNT: u64 = 801;
const SALT_QUALITY: u64 = 802;
const SALT_RATING: u64 = 803;
const SALT_AUTHOR: u64 = 804;
const SALT_TEXT: u64 = 805;
const SALT_TIME: u64 = 806;

/// Titles by rating (index 0 for one star).
const TITLES: [&str; 5] = ["Disappointing", "Not great", "It's fine", "Very good", "Excellent"];
const BODIES: [&str; 4] = [
    "Arrived quickly and matches the description.",
    "Took a while to arrive, but the quality is as shown.",
    "Bought it as a gift; they liked it.",
    "Would order again at this price.",
];

#[derive(Debug, Serialize)]
struct Review {
    id: String,
    author: String,
    rating: u64,
    title: &'static str,
    body: &'static str,
    created_at: String,
}

fn count(n: u32) -> u64 {
    between(hash(&[SALT_COUNT, u64::from(n)]), 1, 120)
}

/// Rating of review `k` of product `n`: around the product's quality (2 to 4 stars).
fn rating(n: u32, k: u64) -> u64 {
    let quality = between(hash(&[SALT_QUALITY, u64::from(n)]), 2, 4);
    (quality + hash(&[SALT_RATING, u64::from(n), k]) % 3)
        .saturating_sub(1)
        .clamp(1, 5)
}

fn review(n: u32, k: u64) -> Review {
    let n64 = u64::from(n);
    let author = hash(&[SALT_AUTHOR, n64, k]);
    let rating = rating(n, k);
    let at = BASE_TIME + (k as i64) * DAY + (hash(&[SALT_TIME, n64, k]) % DAY as u64) as i64;
    Review {
        id: format!("r-{n}-{k}"),
        author: format!(
            "{} {}.",
            pick(author, &FIRST_NAMES),
            &pick(author >> 8, &LAST_NAMES)[..1]
        ),
        rating,
        title: TITLES[rating as usize - 1],
        body: pick(hash(&[SALT_TEXT, n64, k]), &BODIES),
        created_at: rfc3339(at),
    }
}

#[derive(Deserialize)]
struct ReviewsQuery {
    product_id: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
struct Reviews {
    average_rating: f64,
    count: u64,
    items: Vec<Review>,
}

async fn list(Params(query): Params<ReviewsQuery>) -> Result<Json<Reviews>, ApiError> {
    let product = product_number(required(&query.product_id, "product_id")?).ok_or(ApiError::NotFound)?;
    let limit = limit(&query.limit)?;
    let count = count(product);
    let sum: u64 = (1..=count).map(|k| rating(product, k)).sum();
    let average_rating = (sum as f64 / count as f64 * 100.0).round() / 100.0;
    let items = (1..=count).rev().take(limit).map(|k| review(product, k)).collect();
    Ok(Json(Reviews {
        average_rating,
        count,
        items,
    }))
}

pub(crate) fn routes() -> Router {
    Router::new().route("/reviews", get(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_stay_between_one_and_five() {
        for n in 1..=50 {
            for k in 1..=count(n) {
                assert!((1..=5).contains(&rating(n, k)));
            }
            assert_eq!(review(n, 1).title, review(n, 1).title);
        }
    }
}
