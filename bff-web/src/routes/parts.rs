//! Pieces both web endpoints use: the price object clients see and the
//! catalog batch split into calls the catalog accepts.
//!
//! Which sections and parts exist, and what their failure means, stays
//! with each endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use bff_shared::backends::{Backends, Price, Product};
use bff_shared::cache::Cached;
use bff_shared::context::RequestCtx;
use bff_shared::upstream::UpstreamError;
use futures::future::{BoxFuture, join_all};
use serde::Serialize;

/// The catalog answers at most this many ids per `GET /products?ids=`
/// (docs/api.md#the-upstream-contract); longer lists are split.
pub const CATALOG_BATCH: usize = 100;

/// A price as browsers see it: before discount, with the discount apart,
/// so the page can show both the struck-through and the final amount.
// `deny_unknown_fields` only tells the OpenAPI schema the shape is exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceInfo {
    /// Price before discount, in cents.
    pub amount_cents: i64,
    /// ISO currency code.
    pub currency: String,
    /// Discount in percent.
    pub discount_pct: u32,
}

impl From<&Price> for PriceInfo {
    fn from(price: &Price) -> Self {
        Self {
            amount_cents: price.amount_cents,
            currency: price.currency.clone(),
            discount_pct: price.discount_pct,
        }
    }
}

/// What the catalog answered to a lookup: one list per batch call, kept
/// as the (possibly cached, shared) lists they are rather than copied.
pub type Batches = Vec<Arc<Vec<Product>>>;

/// The products of `ids` from the catalog, in as many concurrent batch
/// calls as the catalog's limit needs. One failed batch fails the whole
/// lookup: a page with some products and not others would look like
/// missing data rather than a degraded part. Stale when any batch is.
pub async fn products(backends: &Backends, ctx: &RequestCtx, ids: &[String]) -> Result<Cached<Batches>, UpstreamError> {
    let mut found = Cached::fresh(Batches::new());
    for batch in join_all(
        ids.chunks(CATALOG_BATCH)
            .map(|chunk| backends.products::<Product>(ctx, chunk)),
    )
    .await
    {
        let batch = batch?;
        found.stale |= batch.stale;
        found.value.push(batch.value);
    }
    Ok(found)
}

/// Every product of `batches`, for shaping code, which need not know how
/// the lookup was split.
pub fn all(batches: &Batches) -> impl Iterator<Item = &Product> {
    batches.iter().flat_map(|batch| batch.iter())
}

/// The future `make` builds, moved to the heap.
///
/// Why: in unoptimised (debug) builds every future a frame builds gets its
/// own stack slot, and each fan-out wrapper holds a copy of what it wraps,
/// so the nested stages of a composite needed more than a thread's 2 MiB
/// of stack. Built here, the big future's slot is in this short-lived
/// frame rather than in the frames that stay on the stack while it is
/// polled. One allocation per section is noise next to an upstream call.
pub fn boxed<'a, T, F>(make: impl FnOnce() -> F) -> BoxFuture<'a, T>
where
    F: Future<Output = T> + Send + 'a,
{
    Box::pin(make())
}

/// `ids` without repeats, in order of first appearance, so a product
/// that appears on several order lines is asked for once.
pub fn distinct<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(*id))
        .map(str::to_owned)
        .collect()
}

/// Lookup by id, for shaping lists in the upstream's order without a
/// quadratic scan.
pub fn by_id<'a, T>(items: impl IntoIterator<Item = &'a T>, id: impl Fn(&'a T) -> &'a str) -> HashMap<&'a str, &'a T> {
    items.into_iter().map(|item| (id(item), item)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bff_shared::context::Deadline;
    use std::sync::{Arc, Mutex};

    #[test]
    fn distinct_keeps_the_first_appearance_order() {
        assert_eq!(distinct(["p-3", "p-1", "p-3", "p-2", "p-1"]), ["p-3", "p-1", "p-2"]);
        assert!(distinct([]).is_empty());
    }

    #[test]
    fn a_price_keeps_amount_currency_and_discount() {
        let price = Price {
            product_id: "p-1".into(),
            currency: "EUR".into(),
            amount_cents: 1250,
            discount_pct: 10,
        };
        assert_eq!(
            PriceInfo::from(&price),
            PriceInfo {
                amount_cents: 1250,
                currency: "EUR".into(),
                discount_pct: 10
            }
        );
    }

    /// A catalog on loopback that refuses more than 100 ids, as the real
    /// one does, and records the size of every batch it received.
    async fn fake_catalog(sizes: Arc<Mutex<Vec<usize>>>) -> String {
        use axum::extract::{Query, State};
        use axum::http::StatusCode;
        use axum::response::{IntoResponse, Response};

        async fn list(
            State(sizes): State<Arc<Mutex<Vec<usize>>>>,
            Query(query): Query<HashMap<String, String>>,
        ) -> Response {
            let ids: Vec<&str> = query.get("ids").map(|ids| ids.split(',').collect()).unwrap_or_default();
            sizes.lock().expect("lock").push(ids.len());
            if ids.len() > CATALOG_BATCH {
                return StatusCode::BAD_REQUEST.into_response();
            }
            let items: Vec<_> = ids
                .iter()
                .filter(|id| **id != "p-7")
                .map(|id| {
                    serde_json::json!({"id": id, "name": id, "description": "", "category": "c",
                                       "image_urls": [], "attributes": {}, "related_ids": []})
                })
                .collect();
            axum::Json(serde_json::json!({ "items": items })).into_response()
        }

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .route("/products", axum::routing::get(list))
            .with_state(sizes);
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    async fn backends(catalog_url: String) -> Backends {
        let mut settings = crate::defaults();
        settings.deadline = std::time::Duration::from_secs(5);
        settings.upstreams.get_mut("catalog").expect("catalog").url = Some(catalog_url);
        settings.jwt.hs256_secret = Some("a development secret, 32 bytes!!".into());
        let platform = bff_shared::platform::Platform::new(settings).await.expect("platform");
        Backends::new(&platform).expect("backends")
    }

    #[tokio::test]
    async fn more_than_a_batch_of_ids_is_split_into_calls_the_catalog_accepts() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let backends = backends(fake_catalog(sizes.clone()).await).await;
        let ctx = RequestCtx::detached("t", Deadline::after(std::time::Duration::from_secs(5)));
        let ids: Vec<String> = (1..=250).map(|n| format!("p-{n}")).collect();

        let found = products(&backends, &ctx, &ids)
            .await
            .expect("every batch answers")
            .value;

        let mut sizes = sizes.lock().expect("lock").clone();
        sizes.sort_unstable();
        assert_eq!(sizes, [50, 100, 100]);
        assert_eq!(all(&found).count(), 249, "the unknown p-7 is left out");
        assert!(products(&backends, &ctx, &[]).await.expect("no call").value.is_empty());
    }
}
