//! The recommendations service: `GET /recommendations?user_id=&limit=`.

use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::users::user_number;
use super::{ApiError, Params, limit, required};
use crate::simulator::data::{between, hash, product_from};

const SALT_COUNT: u64 = 601;
const SALT_PRODUCT: u64 = 602;

/// The products recommended to user `n`: 12 to 50 distinct existing ids,
/// best first.
pub(crate) fn recommended(n: u32) -> Vec<u32> {
    let n64 = u64::from(n);
    let count = between(hash(&[SALT_COUNT, n64]), 12, 50) as usize;
    let mut ids = Vec::with_capacity(count);
    let mut k = 0;
    while ids.len() < count {
        let candidate = product_from(hash(&[SALT_PRODUCT, n64, k]));
        k += 1;
        if !ids.contains(&candidate) {
            ids.push(candidate);
        }
    }
    ids
}

#[derive(Deserialize)]
struct RecommendationsQuery {
    user_id: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
struct Recommendations {
    product_ids: Vec<String>,
}

async fn list(Params(query): Params<RecommendationsQuery>) -> Result<Json<Recommendations>, ApiError> {
    let user = user_number(required(&query.user_id, "user_id")?).ok_or(ApiError::NotFound)?;
    let limit = limit(&query.limit)?;
    let product_ids = recommended(user)
        .into_iter()
        .take(limit)
        .map(|p| format!("p-{p}"))
        .collect();
    Ok(Json(Recommendations { product_ids }))
}

pub(crate) fn routes() -> Router {
    Router::new().route("/recommendations", get(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommendations_are_distinct_and_stable() {
        for n in [1, 500, 1000] {
            let ids = recommended(n);
            assert!((12..=50).contains(&ids.len()));
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), ids.len());
            assert_eq!(ids, recommended(n));
        }
    }
}
