//! `GET /v1/products/{id}` (auth optional).
//!
//! Catalog (required), pricing and inventory (optional), all at once. An
//! unknown product is 404 whatever the others answered. The answer is
//! public: it carries an ETag and honours `If-None-Match` with 304.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use bff_shared::auth::MaybeAuth;
use bff_shared::backends::Bff;
use bff_shared::backends::{Price, Stock, one_of, one_of_cached};
use bff_shared::context::RequestCtx;
use bff_shared::error::ApiError;
use bff_shared::extract::ValidId;
use bff_shared::fanout::{Composite, Fanout, Meta};
use bff_shared::openapi::EXAMPLE_REQUEST_ID;
use serde::Serialize;
use serde_json::json;

/// A product page for a small screen.
// Every field is always sent: `deny_unknown_fields` and `required` only
// tell the OpenAPI schema that the shape is exact (nulls included).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPage {
    /// The product.
    pub product: ProductSummary,
    /// Its price; null when pricing failed.
    #[schema(required = true)]
    pub price: Option<PriceInfo>,
    /// Its availability; null when inventory failed.
    #[schema(required = true)]
    pub stock: Option<StockInfo>,
    /// Partiality and request id.
    pub meta: Meta,
}

/// The product, trimmed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductSummary {
    /// Product id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The first of the product's images.
    #[schema(required = true)]
    pub image_url: Option<String>,
}

/// A price.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct StockInfo {
    /// Whether at least one unit is available.
    pub in_stock: bool,
}

bff_shared::problems!(
    /// The problems of this endpoint (429 and 500 are the stack's).
    ProductProblems:
    malformed_id,
    auth_optional,
    required_upstream("the catalog"),
);

/// A product page.
///
/// Catalog (required), pricing and inventory at once. Public: a token is
/// optional, and a complete answer carries a weak `ETag` that
/// `If-None-Match` revalidates with a body-less 304. A price or stock whose
/// upstream failed is `null` and listed in `meta.degraded`.
#[utoipa::path(
    get,
    path = "/v1/products/{id}",
    tag = "products",
    operation_id = "getProduct",
    params(
        ("id" = String, Path, description = "Product id", example = "p-1", min_length = 1, max_length = 64,
            pattern = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"),
        ("If-None-Match" = Option<String>, Header,
            description = "An `ETag` of an earlier answer: 304 when the page has not changed since"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The product page, possibly partial", body = ProductPage,
            extensions(("x-bff-answer" = json!("public"))), example = example),
        (status = 304, description = "Not modified since the `ETag` named in `If-None-Match`; no body",
            headers(("ETag" = String, description = "The page's weak tag"))),
        ProductProblems,
    )
)]
pub async fn product(
    State(platform): State<Bff>,
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
        fan.required_cached("product", backends.product(&ctx, &id)),
        fan.optional_cached(
            "price",
            one_of_cached(backends.prices(&ctx, ids), |p: &Price| p.product_id == id)
        ),
        fan.optional(
            "stock",
            one_of(backends.stock(&ctx, ids), |s: &Stock| s.product_id == id)
        ),
    );
    let product = product?;
    let summary = fan.summary(&[&product, &price, &stock]);
    let body = ProductPage {
        product: ProductSummary {
            image_url: product.image_url().map(str::to_owned),
            id: product.id.clone(),
            name: product.name.clone(),
        },
        price: price.into_option().map(|p| PriceInfo {
            amount_cents: p.amount_cents,
            currency: p.currency,
            discount_pct: p.discount_pct,
        }),
        stock: stock.into_option().map(|s| StockInfo {
            in_stock: s.available > 0,
        }),
        meta: summary.meta(),
    };
    Composite::public(&summary, &body, headers.get(header::IF_NONE_MATCH))
}

/// The answer for `p-1` from the simulator's data.
fn example() -> serde_json::Value {
    json!({
        "product": {"id": "p-1", "name": "Rugged Ceramic Sneakers",
            "image_url": "https://img.example.com/products/p-1/1.jpg"},
        "price": {"amount_cents": 18299, "currency": "USD", "discount_pct": 0},
        "stock": {"in_stock": true},
        "meta": {"request_id": EXAMPLE_REQUEST_ID, "partial": false, "degraded": [], "stale": []},
    })
}
