//! `GET /v1/home` (auth required).
//!
//! First stage, concurrently: users, orders (limit 5), notifications
//! (unread only), recommendations (limit 10). As soon as the recommended ids
//! arrive, catalog and pricing for them run, without waiting for the other
//! first-stage calls. Every section is optional; when all four first-stage
//! calls fail the answer is 503 `upstream_unavailable`.

use axum::extract::State;
use bff_shared::auth::Auth;
use bff_shared::backends::Bff;
use bff_shared::backends::{
    Backends, OrderSummaries, OrderSummary, Price, ProductCard, Recommended, UnreadCount, UserCard,
};
use bff_shared::context::RequestCtx;
use bff_shared::error::ApiError;
use bff_shared::fanout::{Composite, Fanout, Meta};
use bff_shared::openapi::EXAMPLE_REQUEST_ID;
use serde::Serialize;
use serde_json::json;

const ORDERS_LIMIT: u32 = 5;
const RECOMMENDATIONS_LIMIT: u32 = 10;
/// Home shows the unread count only: one item is asked for, not a page.
const NOTIFICATIONS_LIMIT: u32 = 1;

/// The home screen.
// Every field is always sent: `deny_unknown_fields` and `required` only
// tell the OpenAPI schema that the shape is exact (nulls included).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Home {
    /// The signed-in user; null when the users service failed.
    #[schema(required = true)]
    pub user: Option<HomeUser>,
    /// The five most recent orders, newest first; null when orders failed.
    #[schema(required = true)]
    pub recent_orders: Option<Vec<RecentOrder>>,
    /// Number of unread notifications; null when notifications failed.
    #[schema(required = true)]
    pub unread_notifications: Option<u64>,
    /// Recommended products; null when recommendations or catalog failed.
    #[schema(required = true)]
    pub recommendations: Option<Vec<Recommendation>>,
    /// Partiality and request id.
    pub meta: Meta,
}

/// The user, trimmed for a small screen.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HomeUser {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Avatar image URL.
    #[schema(required = true)]
    pub avatar_url: Option<String>,
}

/// An order summary.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecentOrder {
    /// Order id.
    pub id: String,
    /// Order status.
    pub status: String,
    /// Total in cents.
    pub total_cents: i64,
    /// ISO currency code.
    pub currency: String,
    /// Sum of the lines' quantities.
    pub item_count: u64,
    /// RFC 3339 UTC creation time.
    pub created_at: String,
}

/// A recommended product card.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    /// Product id.
    pub id: String,
    /// Product name.
    pub name: String,
    /// The first of the product's images.
    #[schema(required = true)]
    pub image_url: Option<String>,
    /// Price in cents; null when pricing failed (`recommendations.price`).
    #[schema(required = true)]
    pub price_cents: Option<i64>,
    /// ISO currency code; null when pricing failed.
    #[schema(required = true)]
    pub currency: Option<String>,
}

bff_shared::problems!(
    /// The problems of this endpoint (429 and 500 are the stack's).
    HomeProblems:
    auth_required,
    case(
        ApiError::UpstreamUnavailable,
        "users, orders, notifications and recommendations all failed",
    ),
);

/// The home screen of the signed-in user.
///
/// Users, orders (the last 5), notifications (unread) and recommendations
/// (10) at once; catalog and pricing for the recommended products as soon
/// as their ids arrive. Every section is optional: one whose upstream
/// failed is `null` and listed in `meta.degraded`, and the answer is still
/// 200 (503 only when all four first calls failed).
#[utoipa::path(
    get,
    path = "/v1/home",
    tag = "home",
    operation_id = "getHome",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The home screen, possibly partial", body = Home,
            extensions(("x-bff-answer" = json!("personal"))), example = example),
        HomeProblems,
    )
)]
pub async fn home(State(platform): State<Bff>, Auth(principal): Auth, ctx: RequestCtx) -> Result<Composite, ApiError> {
    let ctx = ctx.for_user(&principal.sub)?;
    let backends = &platform.backends;
    let user_id = &*principal.sub;
    let fan = Fanout::new(&ctx);

    let (user, orders, notifications, recommended) = tokio::join!(
        fan.optional("user", backends.user::<UserCard>(&ctx, user_id)),
        fan.optional(
            "recent_orders",
            backends.orders::<OrderSummaries>(&ctx, user_id, ORDERS_LIMIT)
        ),
        fan.optional(
            "unread_notifications",
            backends.unread_notifications::<UnreadCount>(&ctx, user_id, Some(NOTIFICATIONS_LIMIT))
        ),
        recommendations(&fan, backends, &ctx, user_id),
    );

    // The catalog and pricing for the cards are a second stage: they do
    // not count towards "every first-stage call failed".
    let first_stage_failed = [
        user.is_degraded(),
        orders.is_degraded(),
        notifications.is_degraded(),
        recommended.ids.is_degraded(),
    ];
    if first_stage_failed.iter().all(|failed| *failed) {
        return Err(ApiError::UpstreamUnavailable);
    }
    let summary = fan.summary(&[&user, &orders, &notifications, &recommended.cards, &recommended.price]);
    let body = Home {
        user: user.into_option().map(shape_user),
        recent_orders: orders
            .into_option()
            .map(|page| page.items.into_iter().map(shape_order).collect()),
        unread_notifications: notifications.into_option().map(|n| n.unread_count),
        recommendations: recommended.cards.into_option(),
        meta: summary.meta(),
    };
    Composite::new(&summary, &body, true)
}

/// The `recommendations` section: the recommended ids, then, as soon as
/// they arrive, catalog (needed for the cards) and pricing (optional,
/// `recommendations.price`) concurrently.
async fn recommendations(
    fan: &Fanout,
    backends: &Backends,
    ctx: &RequestCtx,
    user_id: &str,
) -> Recommended<Vec<Recommendation>> {
    backends
        .recommended(fan, ctx, user_id, RECOMMENDATIONS_LIMIT, async |list: &[String]| {
            let (products, price) = tokio::join!(
                fan.optional_cached("recommendations", backends.products::<ProductCard>(ctx, list)),
                fan.optional_cached("recommendations.price", backends.prices(ctx, list)),
            );
            let prices = price.value().map(|prices| prices.as_slice());
            let cards = products.map(|products| shape_recommendations(list, &products, prices));
            (cards, price)
        })
        .await
}

fn shape_user(user: UserCard) -> HomeUser {
    HomeUser {
        id: user.id,
        name: user.name,
        avatar_url: user.avatar_url,
    }
}

fn shape_order(order: OrderSummary) -> RecentOrder {
    RecentOrder {
        item_count: order.item_count,
        id: order.id,
        status: order.status,
        total_cents: order.total_cents,
        currency: order.currency,
        created_at: order.created_at,
    }
}

/// Cards in the recommender's order; ids the catalog does not know are
/// left out; a product without a price gets null price fields.
fn shape_recommendations(ids: &[String], products: &[ProductCard], prices: Option<&[Price]>) -> Vec<Recommendation> {
    let prices = prices.unwrap_or_default();
    ids.iter()
        .filter_map(|id| products.iter().find(|p| &p.id == id))
        .map(|product| {
            let price = prices.iter().find(|p| p.product_id == product.id);
            Recommendation {
                id: product.id.clone(),
                name: product.name.clone(),
                image_url: product.image_url.clone(),
                price_cents: price.map(|p| p.amount_cents),
                currency: price.map(|p| p.currency.clone()),
            }
        })
        .collect()
}

/// The answer for `u-1` from the simulator's data, lists shortened.
fn example() -> serde_json::Value {
    json!({
        "user": {"id": "u-1", "name": "Farid Jensen", "avatar_url": "https://img.example.com/avatars/u-1.png"},
        "recent_orders": [
            {"id": "o-1-22", "status": "shipped", "total_cents": 78598, "currency": "USD", "item_count": 2,
                "created_at": "2024-03-07T12:01:19Z"},
            {"id": "o-1-21", "status": "shipped", "total_cents": 145494, "currency": "USD", "item_count": 6,
                "created_at": "2024-03-04T20:44:50Z"},
        ],
        "unread_notifications": 1,
        "recommendations": [
            {"id": "p-2639", "name": "Modern Recycled plastic Bird Feeder",
                "image_url": "https://img.example.com/products/p-2639/1.jpg", "price_cents": 28699,
                "currency": "USD"},
            {"id": "p-7145", "name": "Vintage Steel Skillet",
                "image_url": "https://img.example.com/products/p-7145/1.jpg", "price_cents": 35599,
                "currency": "USD"},
        ],
        "meta": {"request_id": EXAMPLE_REQUEST_ID, "partial": false, "degraded": [], "stale": []},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, images: &[&str]) -> ProductCard {
        let json = serde_json::json!({"id": id, "name": format!("name {id}"), "image_urls": images});
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn item_count_is_the_sum_of_line_quantities() {
        let order = serde_json::json!({
            "id": "o-1", "user_id": "u-1", "status": "placed", "created_at": "2026-01-01T00:00:00Z",
            "total_cents": 700, "currency": "USD",
            "lines": [{"product_id": "p-1", "quantity": 3, "unit_price_cents": 100},
                      {"product_id": "p-2", "quantity": 4, "unit_price_cents": 100}],
        });
        let order: OrderSummary = serde_json::from_value(order).unwrap();
        assert_eq!(shape_order(order).item_count, 7);
    }

    #[test]
    fn cards_keep_the_recommenders_order_and_take_the_first_image() {
        let ids = vec!["p-2".to_owned(), "p-404".to_owned(), "p-1".to_owned()];
        let products = vec![product("p-1", &["a", "b"]), product("p-2", &[])];
        let prices = vec![Price {
            product_id: "p-1".into(),
            currency: "USD".into(),
            amount_cents: 999,
            discount_pct: 0,
        }];
        let cards = shape_recommendations(&ids, &products, Some(&prices));
        assert_eq!(cards.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["p-2", "p-1"]);
        assert_eq!(cards[1].image_url.as_deref(), Some("a"));
        assert_eq!(cards[1].price_cents, Some(999));
        assert_eq!(cards[0].image_url, None);
        assert_eq!(cards[0].price_cents, None);
    }
}
