//! `GET /v1/products/{id}` (auth optional).
//!
//! Catalog (required), pricing and inventory (optional), all at once. An
//! unknown product is 404 whatever the others answered. The answer is
//! public: it carries an ETag and honours `If-None-Match` with 304.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use bff_shared::auth::MaybeAuth;
use bff_shared::backends::{Price, Product, Stock, one_of};
use bff_shared::context::RequestCtx;
use bff_shared::error::ApiError;
use bff_shared::extract::ValidId;
use bff_shared::fanout::{Composite, Fanout, Meta};
use bff_shared::platform::Platform;
use serde::Serialize;

/// A product page for a small screen.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductPage {
    /// The product.
    pub product: ProductSummary,
    /// Its price; null when pricing failed.
    pub price: Option<PriceInfo>,
    /// Its availability; null when inventory failed.
    pub stock: Option<StockInfo>,
    /// Partiality and request id.
    pub meta: Meta,
}

/// The product, trimmed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductSummary {
    /// Product id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The first of the product's images.
    pub image_url: Option<String>,
}

/// A price.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PriceInfo {
    /// Price before discount, in cents.
    pub amount_cents: i64,
    /// ISO currency code.
    pub currency: String,
    /// Discount in percent.
    pub discount_pct: u32,
}

/// Availability.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StockInfo {
    /// Whether at least one unit is available.
    pub in_stock: bool,
}

/// The handler.
#[utoipa::path(
    get,
    path = "/v1/products/{id}",
    tag = "products",
    operation_id = "getProduct",
    params(("id" = String, Path, description = "Product id", example = "p-1")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The product page, possibly partial", body = ProductPage))
)]
pub async fn product(
    State(platform): State<Platform>,
    MaybeAuth(principal): MaybeAuth,
    ctx: RequestCtx,
    ValidId(id): ValidId,
    headers: HeaderMap,
) -> Result<Composite, ApiError> {
    let ctx = match &principal {
        Some(p) => ctx.for_user(&p.sub)?,
        None => ctx,
    };
    let backends = &platform.backends;
    let fan = Fanout::new(&ctx);
    let ids = std::slice::from_ref(&id);
    let (product, price, stock) = tokio::join!(
        fan.required("product", backends.product(&ctx, &id)),
        fan.optional(
            "price",
            one_of(backends.prices(&ctx, ids), |p: &Price| p.product_id == id)
        ),
        fan.optional(
            "stock",
            one_of(backends.stock(&ctx, ids), |s: &Stock| s.product_id == id)
        ),
    );
    let product: std::sync::Arc<Product> = product?;
    let body = ProductPage {
        product: ProductSummary {
            image_url: product.image_url().map(str::to_owned),
            id: product.id.clone(),
            name: product.name.clone(),
        },
        price: price.map(|p| PriceInfo {
            amount_cents: p.amount_cents,
            currency: p.currency,
            discount_pct: p.discount_pct,
        }),
        stock: stock.map(|s| StockInfo {
            in_stock: s.available > 0,
        }),
        meta: fan.meta(),
    };
    Composite::public(&fan, &body, headers.get(header::IF_NONE_MATCH))
}

