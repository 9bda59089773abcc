//! `GET /v1/products/{id}` (auth optional): a product page in a browser.
//!
//! Catalog (required), pricing, inventory and reviews (limit 5), all at
//! once. The moment the catalog's product arrives, catalog and pricing for
//! the first 8 of its `related_ids` start, without waiting for the others.
//! An unknown product is 404, and a catalog failure 503 (504 at the
//! deadline), as soon as it happens: the page is nothing without its
//! product, so the other calls are not waited for.
//!
//! Not personal: the same for every caller, so the answer is public. A
//! complete answer carries a weak `ETag` and `If-None-Match` gets a 304, so
//! a browser revalidating a page it has cached is spared the body.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use bff_shared::auth::MaybeAuth;
use bff_shared::backends::Bff;
use bff_shared::backends::{Backends, Price, Product, Reviews, Stock, Warehouse, one_of, one_of_cached};
use bff_shared::context::RequestCtx;
use bff_shared::error::ApiError;
use bff_shared::extract::ValidId;
use bff_shared::fanout::{Composite, Fanout, Meta, Section};
use bff_shared::openapi::EXAMPLE_REQUEST_ID;
use serde::Serialize;
use serde_json::json;

use super::parts::{self, PriceInfo};

/// A product page shows a short teaser of reviews; the full list is paged
/// by another screen.
const REVIEWS_LIMIT: u32 = 5;
/// One row of related products under the product.
const RELATED_LIMIT: usize = 8;

/// A product page for a large screen.
// Every field is always sent: `deny_unknown_fields` and `required` only
// tell the OpenAPI schema that the shape is exact (nulls included).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPage {
    /// The product, in full.
    pub product: Product,
    /// Its price; null when pricing failed or has no price for it.
    #[schema(required = true)]
    pub price: Option<PriceInfo>,
    /// Its availability; null when inventory failed or does not know it.
    #[schema(required = true)]
    pub stock: Option<StockInfo>,
    /// The newest reviews; null when reviews failed.
    #[schema(required = true)]
    pub reviews: Option<Reviews>,
    /// Up to 8 related products; null when their catalog lookup failed,
    /// empty when the product has none.
    #[schema(required = true)]
    pub related: Option<Vec<RelatedCard>>,
    /// Partiality and request id.
    pub meta: Meta,
}

/// Availability, per warehouse so the page can say where it ships from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockInfo {
    /// Units available across warehouses.
    pub available: i64,
    /// Per-warehouse availability.
    pub warehouses: Vec<Warehouse>,
}

/// A related product card.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelatedCard {
    /// Product id.
    pub id: String,
    /// Product name.
    pub name: String,
    /// The first of the product's images.
    #[schema(required = true)]
    pub image_url: Option<String>,
    /// Price; null when pricing failed (`related.price`) or has no price
    /// for this product.
    #[schema(required = true)]
    pub price: Option<PriceInfo>,
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
/// Catalog (required), pricing, inventory and reviews (5) at once; catalog
/// and pricing for the first 8 related products as soon as the product
/// arrives. Public: a token is optional, and a complete answer carries a
/// weak `ETag` that `If-None-Match` revalidates with a body-less 304. A
/// section whose upstream failed is `null` and listed in `meta.degraded`.
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
    let (fan, ctx, id) = (&fan, &ctx, &id);
    let ids = std::slice::from_ref(id);
    // `try_join!` so that a failed catalog answers at once instead of
    // waiting for optional sections that no longer matter. Sections are
    // boxed: see `parts::boxed`.
    let ((product, related), price, stock, reviews) = tokio::try_join!(
        parts::boxed(move || async move {
            let product = fan.required_cached("product", backends.product(ctx, id)).await?;
            let related = related_cards(fan, backends, ctx, &product.related_ids).await;
            Ok::<_, ApiError>((product, related))
        }),
        parts::boxed(move || async move {
            let price = one_of_cached(backends.prices(ctx, ids), |p: &Price| p.product_id == *id);
            Ok(fan.optional_cached("price", price).await)
        }),
        parts::boxed(move || async move {
            let stock = one_of(backends.stock(ctx, ids), |s: &Stock| s.product_id == *id);
            Ok(fan.optional("stock", stock).await)
        }),
        parts::boxed(
            move || async move { Ok(fan.optional("reviews", backends.reviews(ctx, id, REVIEWS_LIMIT)).await) }
        ),
    )?;
    let summary = fan.summary(&[&product, &price, &stock, &reviews, &related.cards, &related.price]);
    let body = ProductPage {
        product: Arc::unwrap_or_clone(product.into_inner()),
        price: price.value().map(PriceInfo::from),
        stock: stock.into_option().map(|s| StockInfo {
            available: s.available,
            warehouses: s.warehouses,
        }),
        reviews: reviews.into_option(),
        // No related ids: an empty list, and nothing was called.
        related: related.cards.map_or(Some(Vec::new()), Section::into_option),
        meta: summary.meta(),
    };
    Composite::public(&summary, &body, headers.get(header::IF_NONE_MATCH))
}

/// The `related` section and its nested part `related.price`; neither
/// runs for a product without related ids.
struct Related {
    /// The cards: degraded when the catalog failed.
    cards: Option<Section<Vec<RelatedCard>>>,
    /// The part `related.price`.
    price: Option<Section<Arc<Vec<Price>>>>,
}

/// Catalog (needed for the cards) and pricing (optional, `related.price`)
/// for the first [`RELATED_LIMIT`] related ids, concurrently.
async fn related_cards(fan: &Fanout, backends: &Backends, ctx: &RequestCtx, related_ids: &[String]) -> Related {
    let ids = &related_ids[..related_ids.len().min(RELATED_LIMIT)];
    if ids.is_empty() {
        return Related {
            cards: None,
            price: None,
        };
    }
    let distinct = parts::distinct(ids.iter().map(String::as_str));
    let (products, price) = tokio::join!(
        parts::boxed(|| fan.optional_cached("related", parts::products(backends, ctx, &distinct))),
        parts::boxed(|| fan.optional_cached("related.price", backends.prices(ctx, &distinct))),
    );
    let prices = price.value().map(|prices| prices.as_slice());
    let cards = products.map(|products| shape_related(ids, parts::all(&products), prices));
    Related {
        cards: Some(cards),
        price: Some(price),
    }
}

/// Cards in the catalog's `related_ids` order; ids the catalog does not
/// know are left out; a product without a price gets a null price.
fn shape_related<'a>(
    ids: &[String],
    products: impl IntoIterator<Item = &'a Product>,
    prices: Option<&[Price]>,
) -> Vec<RelatedCard> {
    let products = parts::by_id(products, |p| p.id.as_str());
    let prices = parts::by_id(prices.unwrap_or_default(), |p| p.product_id.as_str());
    ids.iter()
        .filter_map(|id| products.get(id.as_str()))
        .map(|product| RelatedCard {
            id: product.id.clone(),
            name: product.name.clone(),
            image_url: product.image_url().map(str::to_owned),
            price: prices.get(product.id.as_str()).map(|p| PriceInfo::from(*p)),
        })
        .collect()
}

/// The answer for `p-1` from the simulator's data, lists shortened.
fn example() -> serde_json::Value {
    json!({
        "product": {
            "id": "p-1",
            "name": "Rugged Ceramic Sneakers",
            "description": "A rugged grey sneakers made of ceramic, designed for travel.",
            "category": "apparel",
            "image_urls": ["https://img.example.com/products/p-1/1.jpg", "https://img.example.com/products/p-1/2.jpg"],
            "attributes": {"color": "grey", "material": "ceramic", "sku": "SKU-00001", "weight_g": "165"},
            "related_ids": ["p-1734", "p-2649", "p-8948"],
        },
        "price": {"amount_cents": 18299, "currency": "USD", "discount_pct": 0},
        "stock": {"available": 75, "warehouses": [{"id": "wh-east", "available": 75}]},
        "reviews": {
            "average_rating": 3.03,
            "count": 37,
            "items": [
                {"id": "r-1-37", "author": "Noor F.", "rating": 3, "title": "It's fine",
                    "body": "Would order again at this price.", "created_at": "2024-02-07T20:07:33Z"},
            ],
        },
        "related": [
            {"id": "p-1734", "name": "Rugged Bamboo Sneakers",
                "image_url": "https://img.example.com/products/p-1734/1.jpg",
                "price": {"amount_cents": 49699, "currency": "USD", "discount_pct": 10}},
            {"id": "p-2649", "name": "Deluxe Oak Knife Set",
                "image_url": "https://img.example.com/products/p-2649/1.jpg",
                "price": {"amount_cents": 40899, "currency": "USD", "discount_pct": 0}},
        ],
        "meta": {"request_id": EXAMPLE_REQUEST_ID, "partial": false, "degraded": [], "stale": []},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, images: &[&str]) -> Product {
        Product {
            id: id.into(),
            name: format!("name {id}"),
            description: String::new(),
            category: "c".into(),
            image_urls: images.iter().map(|s| (*s).to_owned()).collect(),
            attributes: Default::default(),
            related_ids: vec![],
        }
    }

    #[test]
    fn related_cards_keep_the_catalogs_order_and_take_the_first_image() {
        let ids = vec!["p-3".to_owned(), "p-404".to_owned(), "p-1".to_owned()];
        let products = [product("p-1", &["a", "b"]), product("p-3", &[])];
        let prices = [Price {
            product_id: "p-3".into(),
            currency: "USD".into(),
            amount_cents: 10,
            discount_pct: 0,
        }];
        let cards = shape_related(&ids, &products, Some(&prices));
        assert_eq!(cards.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["p-3", "p-1"]);
        assert_eq!(cards[0].image_url, None);
        assert_eq!(cards[1].image_url.as_deref(), Some("a"));
        assert_eq!(
            cards[0].price,
            Some(PriceInfo {
                amount_cents: 10,
                currency: "USD".into(),
                discount_pct: 0
            })
        );
        assert_eq!(cards[1].price, None);
    }

    #[test]
    fn without_pricing_every_related_card_has_a_null_price() {
        let ids = vec!["p-1".to_owned()];
        let cards = shape_related(&ids, &[product("p-1", &["a"])], None);
        assert_eq!(cards.len(), 1);
        assert!(cards[0].price.is_none());
    }
}
