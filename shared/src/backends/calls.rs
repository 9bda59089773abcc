//! Typed calls to each backend. Ids are percent-encoded into paths and
//! queries here, so handlers never build URLs.

use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use urlencoding::encode;

use super::dto::*;
use crate::cache::{Cached, FragmentCache};
use crate::config::ConfigError;
use crate::context::RequestCtx;
use crate::platform::Platform;
use crate::upstream::{StreamedJson, Upstream, UpstreamError};

/// Typed access to the eight backends.
#[derive(Debug, Clone)]
pub struct Backends {
    users: Arc<Upstream>,
    orders: Arc<Upstream>,
    catalog: Arc<Upstream>,
    pricing: Arc<Upstream>,
    inventory: Arc<Upstream>,
    recommendations: Arc<Upstream>,
    notifications: Arc<Upstream>,
    reviews: Arc<Upstream>,
    /// Catalog reads (single and batch), keyed by call.
    product_cache: FragmentCache,
    /// Price reads, keyed by call, with a short TTL.
    price_cache: FragmentCache,
}

fn join_ids(ids: &[String]) -> String {
    ids.iter().map(|id| encode(id)).collect::<Vec<_>>().join(",")
}

impl Backends {
    /// Picks the eight backends out of the platform's declared upstreams
    /// (see [`super::declare`]), with fragment caches for the non-personal
    /// reads (catalog, pricing).
    pub fn new(platform: &Platform) -> Result<Self, ConfigError> {
        let (upstreams, cache, metrics) = (&platform.upstreams, &platform.settings.cache, &platform.metrics);
        Ok(Self {
            users: upstreams.get("users")?,
            orders: upstreams.get("orders")?,
            catalog: upstreams.get("catalog")?,
            pricing: upstreams.get("pricing")?,
            inventory: upstreams.get("inventory")?,
            recommendations: upstreams.get("recommendations")?,
            notifications: upstreams.get("notifications")?,
            reviews: upstreams.get("reviews")?,
            product_cache: FragmentCache::new(cache.product_ttl, cache.stale_for, cache.max_bytes / 2, metrics.clone()),
            price_cache: FragmentCache::new(cache.price_ttl, cache.stale_for, cache.max_bytes / 2, metrics.clone()),
        })
    }

    /// `GET /users/{id}`: a [`User`], or a narrower view of one such as
    /// [`UserCard`](super::UserCard).
    pub async fn user<T: DeserializeOwned>(&self, ctx: &RequestCtx, id: &str) -> Result<T, UpstreamError> {
        self.users.get_json(ctx, &format!("/users/{}", encode(id))).await
    }

    /// `GET /orders?user_id=&limit=`, newest first: an [`OrderPage`], or
    /// a narrower view such as [`OrderSummaries`](super::OrderSummaries).
    pub async fn orders<T: DeserializeOwned>(
        &self,
        ctx: &RequestCtx,
        user_id: &str,
        limit: u32,
    ) -> Result<T, UpstreamError> {
        self.orders
            .get_json(ctx, &format!("/orders?user_id={}&limit={limit}", encode(user_id)))
            .await
    }

    /// `GET /orders/{id}` with the body left unread, for pass-through.
    pub async fn order_raw(&self, ctx: &RequestCtx, id: &str) -> Result<StreamedJson, UpstreamError> {
        self.orders.get_streaming(ctx, &format!("/orders/{}", encode(id))).await
    }

    /// `POST /orders` with the idempotency key forwarded.
    pub async fn place_order(
        &self,
        ctx: &RequestCtx,
        idempotency_key: &HeaderValue,
        order: &NewOrder<'_>,
    ) -> Result<Order, UpstreamError> {
        static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
        self.orders
            .post_json(
                ctx,
                "/orders",
                order,
                &[(IDEMPOTENCY_KEY.clone(), idempotency_key.clone())],
            )
            .await
    }

    /// `GET /products/{id}`, through the product cache.
    pub async fn product(&self, ctx: &RequestCtx, id: &str) -> Result<Cached<Arc<Product>>, UpstreamError> {
        let path = format!("/products/{}", encode(id));
        self.product_cache
            .get_or_fetch(|| path.clone(), || self.catalog.get_json_weighted(ctx, &path))
            .await
    }

    /// `GET /products?ids=…` (at most 100 ids; unknown ids are left out),
    /// through the product cache: [`Product`]s, or a narrower view such
    /// as [`ProductCard`](super::ProductCard) (cached apart: the view is part of the key).
    pub async fn products<T>(&self, ctx: &RequestCtx, ids: &[String]) -> Result<Cached<Arc<Vec<T>>>, UpstreamError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        if ids.is_empty() {
            return Ok(Cached::fresh(Arc::new(Vec::new())));
        }
        let path = format!("/products?ids={}", join_ids(ids));
        let key = || format!("{path} as {}", std::any::type_name::<T>());
        self.product_cache
            .get_or_fetch(key, || self.fetch_items(&self.catalog, ctx, &path))
            .await
    }

    /// `GET /prices?product_ids=…`, through the price cache.
    pub async fn prices(&self, ctx: &RequestCtx, ids: &[String]) -> Result<Cached<Arc<Vec<Price>>>, UpstreamError> {
        if ids.is_empty() {
            return Ok(Cached::fresh(Arc::new(Vec::new())));
        }
        let path = format!("/prices?product_ids={}", join_ids(ids));
        self.price_cache
            .get_or_fetch(|| path.clone(), || self.fetch_items(&self.pricing, ctx, &path))
            .await
    }

    /// `GET /prices?product_ids=…` straight from pricing: for writes, which
    /// must charge the current price, not a cached one.
    pub async fn prices_uncached(&self, ctx: &RequestCtx, ids: &[String]) -> Result<Vec<Price>, UpstreamError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let path = format!("/prices?product_ids={}", join_ids(ids));
        self.fetch_items(&self.pricing, ctx, &path)
            .await
            .map(|(items, _)| items)
    }

    async fn fetch_items<T: DeserializeOwned>(
        &self,
        upstream: &Upstream,
        ctx: &RequestCtx,
        path: &str,
    ) -> Result<(Vec<T>, usize), UpstreamError> {
        let (page, weight): (Items<T>, usize) = upstream.get_json_weighted(ctx, path).await?;
        Ok((page.items, weight))
    }

    /// `GET /stock?product_ids=…`.
    pub async fn stock(&self, ctx: &RequestCtx, ids: &[String]) -> Result<Vec<Stock>, UpstreamError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let page: Items<Stock> = self
            .inventory
            .get_json(ctx, &format!("/stock?product_ids={}", join_ids(ids)))
            .await?;
        Ok(page.items)
    }

    /// `GET /recommendations?user_id=&limit=`: product ids.
    pub async fn recommendations(
        &self,
        ctx: &RequestCtx,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<String>, UpstreamError> {
        let recs: Recommendations = self
            .recommendations
            .get_json(
                ctx,
                &format!("/recommendations?user_id={}&limit={limit}", encode(user_id)),
            )
            .await?;
        Ok(recs.product_ids)
    }

    /// `GET /notifications?user_id=&unread_only=true[&limit=]`; without a
    /// limit the upstream's default applies. [`Notifications`], or a
    /// narrower view such as [`UnreadCount`](super::UnreadCount).
    pub async fn unread_notifications<T: DeserializeOwned>(
        &self,
        ctx: &RequestCtx,
        user_id: &str,
        limit: Option<u32>,
    ) -> Result<T, UpstreamError> {
        let mut path = format!("/notifications?user_id={}&unread_only=true", encode(user_id));
        if let Some(limit) = limit {
            path.push_str(&format!("&limit={limit}"));
        }
        self.notifications.get_json(ctx, &path).await
    }

    /// `GET /reviews?product_id=&limit=`.
    pub async fn reviews(&self, ctx: &RequestCtx, product_id: &str, limit: u32) -> Result<Reviews, UpstreamError> {
        self.reviews
            .get_json(
                ctx,
                &format!("/reviews?product_id={}&limit={limit}", encode(product_id)),
            )
            .await
    }
}
