//! `GET /v1/dashboard` (auth required): the signed-in user's home page in
//! a browser.
//!
//! First stage, concurrently: users, orders (limit 20), notifications
//! (unread only, limit 20), recommendations (limit 24). Each second-stage
//! call starts the moment its own input arrives: catalog for the distinct
//! products of the orders as soon as the orders answer, catalog and pricing
//! for the recommended ids as soon as those answer. Every section is
//! optional; when all four first-stage calls fail the answer is 503
//! `upstream_unavailable`, because an empty page is not a useful 200.
//!
//! The answer is personal, so it is marked `Cache-Control: private, no-store`.

use axum::extract::State;
use bff_shared::auth::Auth;
use bff_shared::backends::Bff;
use bff_shared::backends::{
    Backends, Notification, Notifications, Order, OrderLine, OrderPage, Price, Product, Recommended, User,
};
use bff_shared::context::RequestCtx;
use bff_shared::error::ApiError;
use bff_shared::fanout::{Composite, Fanout, Meta, Section};
use bff_shared::openapi::EXAMPLE_REQUEST_ID;
use serde::Serialize;
use serde_json::json;

use super::parts::{self, Batches, PriceInfo};

/// A page shows the last twenty orders and notifications; more is paging,
/// which the page does through the pass-through, not the dashboard.
const ORDERS_LIMIT: u32 = 20;
const NOTIFICATIONS_LIMIT: u32 = 20;
/// Four rows of six cards on a desktop grid.
const RECOMMENDATIONS_LIMIT: u32 = 24;

/// The dashboard page.
// Every field is always sent: `deny_unknown_fields` and `required` only
// tell the OpenAPI schema that the shape is exact (nulls included).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// The signed-in user, in full; null when the users service failed.
    #[schema(required = true)]
    pub user: Option<User>,
    /// The 20 most recent orders, newest first; null when orders failed.
    #[schema(required = true)]
    pub orders: Option<Vec<DashboardOrder>>,
    /// Unread notifications; null when notifications failed.
    #[schema(required = true)]
    pub notifications: Option<NotificationsInfo>,
    /// Recommended products; null when recommendations or catalog failed.
    #[schema(required = true)]
    pub recommendations: Option<Vec<Recommendation>>,
    /// Partiality and request id.
    pub meta: Meta,
}

/// An order as the orders service has it, with each line extended by the
/// product's name and image so the page needs no further calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardOrder {
    /// Order id.
    pub id: String,
    /// Owner's user id.
    pub user_id: String,
    /// `placed`, `shipped`, …
    pub status: String,
    /// RFC 3339 UTC creation time.
    pub created_at: String,
    /// Total in cents.
    pub total_cents: i64,
    /// ISO currency code.
    pub currency: String,
    /// The order's lines, in the upstream's order.
    pub lines: Vec<DashboardLine>,
}

/// An order line with its product.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardLine {
    /// Product id.
    pub product_id: String,
    /// Quantity ordered.
    pub quantity: u32,
    /// Unit price in cents.
    pub unit_price_cents: i64,
    /// Name and image; null when the catalog failed (`orders.product`) or
    /// no longer knows the product.
    #[schema(required = true)]
    pub product: Option<LineProduct>,
}

/// What a line shows of its product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineProduct {
    /// Product name.
    pub name: String,
    /// The first of the product's images.
    #[schema(required = true)]
    pub image_url: Option<String>,
}

/// The unread notifications.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsInfo {
    /// Number of unread notifications (may exceed the items listed).
    pub unread_count: u64,
    /// The most recent unread notifications.
    pub items: Vec<NotificationItem>,
}

/// One notification; `read` is left out since every item is unread.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationItem {
    /// Notification id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// RFC 3339 UTC creation time.
    pub created_at: String,
}

/// A recommended product card, richer than mobile's: a desktop card shows
/// the description and an image carousel.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    /// Product id.
    pub id: String,
    /// Product name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Image URLs; the first is the main image.
    pub image_urls: Vec<String>,
    /// Category.
    pub category: String,
    /// Price; null when pricing failed (`recommendations.price`) or has no
    /// price for this product.
    #[schema(required = true)]
    pub price: Option<PriceInfo>,
}

bff_shared::problems!(
    /// The problems of this endpoint (429 and 500 are the stack's).
    DashboardProblems:
    auth_required,
    case(
        ApiError::UpstreamUnavailable,
        "users, orders, notifications and recommendations all failed",
    ),
);

/// The signed-in user's dashboard.
///
/// Users, orders (the last 20), notifications (unread, 20) and
/// recommendations (24) at once; catalog for the products of the orders as
/// soon as the orders arrive, catalog and pricing for the recommended
/// products as soon as their ids arrive. Every section is optional: one
/// whose upstream failed is `null` and listed in `meta.degraded`, and the
/// answer is still 200 (503 only when all four first calls failed).
#[utoipa::path(
    get,
    path = "/v1/dashboard",
    tag = "dashboard",
    operation_id = "getDashboard",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dashboard, possibly partial", body = Dashboard,
            extensions(("x-bff-answer" = json!("personal"))), example = example),
        DashboardProblems,
    )
)]
pub async fn dashboard(
    State(platform): State<Bff>,
    Auth(principal): Auth,
    ctx: RequestCtx,
) -> Result<Composite, ApiError> {
    let ctx = ctx.for_user(&principal.sub)?;
    let backends = &platform.backends;
    let user_id = &*principal.sub;
    let fan = Fanout::new(&ctx);
    let (fan, ctx) = (&fan, &ctx);

    // Sections are boxed: see `parts::boxed`.
    let (user, orders, notifications, recommended) = tokio::join!(
        parts::boxed(|| fan.optional("user", backends.user::<User>(ctx, user_id))),
        parts::boxed(|| orders_with_products(fan, backends, ctx, user_id)),
        parts::boxed(|| {
            let notifications = backends.unread_notifications::<Notifications>(ctx, user_id, Some(NOTIFICATIONS_LIMIT));
            fan.optional("notifications", notifications)
        }),
        parts::boxed(|| recommendations(fan, backends, ctx, user_id)),
    );

    // The catalog and pricing calls are second stages: they do not count
    // towards "every first-stage call failed".
    let first_stage_failed = [
        user.is_degraded(),
        orders.orders.is_degraded(),
        notifications.is_degraded(),
        recommended.ids.is_degraded(),
    ];
    if first_stage_failed.iter().all(|failed| *failed) {
        return Err(ApiError::UpstreamUnavailable);
    }
    let summary = fan.summary(&[
        &user,
        &orders.orders,
        &orders.product,
        &notifications,
        &recommended.cards,
        &recommended.price,
    ]);
    let body = Dashboard {
        user: user.into_option(),
        orders: orders.orders.into_option(),
        notifications: notifications.into_option().map(shape_notifications),
        recommendations: recommended.cards.into_option(),
        meta: summary.meta(),
    };
    Composite::new(&summary, &body, true)
}

/// The `orders` section and its nested part `orders.product`.
struct OrdersWithProducts {
    /// The orders, shaped; degraded only when the orders service failed.
    orders: Section<Vec<DashboardOrder>>,
    /// The catalog lookup for their lines; never ran without orders.
    product: Option<Section<Batches>>,
}

/// The orders, then, as soon as they arrive, one catalog lookup for the
/// distinct products of all lines. The lookup's failure is the nested part
/// `orders.product`: the orders are still worth showing without names and
/// images.
async fn orders_with_products(
    fan: &Fanout,
    backends: &Backends,
    ctx: &RequestCtx,
    user_id: &str,
) -> OrdersWithProducts {
    let orders = fan
        .optional("orders", backends.orders::<OrderPage>(ctx, user_id, ORDERS_LIMIT))
        .await;
    let product = match orders.value() {
        Some(page) => {
            let ids = order_product_ids(&page.items);
            let lookup = parts::boxed(|| fan.optional_cached("orders.product", parts::products(backends, ctx, &ids)));
            Some(lookup.await)
        }
        None => None,
    };
    let products = product.as_ref().and_then(Section::value).map(parts::all);
    OrdersWithProducts {
        orders: orders.map(|page| shape_orders(page.items, products)),
        product,
    }
}

/// The `recommendations` section: the recommended ids, then, as soon as
/// they arrive, catalog (needed for the cards) and pricing (optional,
/// `recommendations.price`) concurrently, each asked once per product.
async fn recommendations(
    fan: &Fanout,
    backends: &Backends,
    ctx: &RequestCtx,
    user_id: &str,
) -> Recommended<Vec<Recommendation>> {
    backends
        .recommended(fan, ctx, user_id, RECOMMENDATIONS_LIMIT, async |list: &[String]| {
            let distinct = parts::distinct(list.iter().map(String::as_str));
            let (products, price) = tokio::join!(
                parts::boxed(|| fan.optional_cached("recommendations", parts::products(backends, ctx, &distinct))),
                parts::boxed(|| fan.optional_cached("recommendations.price", backends.prices(ctx, &distinct))),
            );
            let prices = price.value().map(|prices| prices.as_slice());
            let cards = products.map(|products| shape_recommendations(list, parts::all(&products), prices));
            (cards, price)
        })
        .await
}

/// The distinct product ids of all lines, in order of first appearance.
fn order_product_ids(orders: &[Order]) -> Vec<String> {
    parts::distinct(orders.iter().flat_map(|o| &o.lines).map(|l| l.product_id.as_str()))
}

/// Orders with each line's product filled from `products`; `None` (the
/// catalog failed) leaves every line's product null, and a product the
/// catalog left out leaves only its own lines' product null.
fn shape_orders<'a>(
    orders: Vec<Order>,
    products: Option<impl IntoIterator<Item = &'a Product>>,
) -> Vec<DashboardOrder> {
    let products = parts::by_id(products.into_iter().flatten(), |p| p.id.as_str());
    let line = |line: OrderLine| DashboardLine {
        product: products.get(line.product_id.as_str()).map(|p| LineProduct {
            name: p.name.clone(),
            image_url: p.image_url().map(str::to_owned),
        }),
        product_id: line.product_id,
        quantity: line.quantity,
        unit_price_cents: line.unit_price_cents,
    };
    orders
        .into_iter()
        .map(|order| DashboardOrder {
            id: order.id,
            user_id: order.user_id,
            status: order.status,
            created_at: order.created_at,
            total_cents: order.total_cents,
            currency: order.currency,
            lines: order.lines.into_iter().map(line).collect(),
        })
        .collect()
}

fn shape_notifications(notifications: Notifications) -> NotificationsInfo {
    NotificationsInfo {
        unread_count: notifications.unread_count,
        items: notifications
            .items
            .into_iter()
            .map(|n: Notification| NotificationItem {
                id: n.id,
                title: n.title,
                body: n.body,
                created_at: n.created_at,
            })
            .collect(),
    }
}

/// Cards in the recommender's order; ids the catalog does not know are
/// left out (a card without a name is useless); a product without a price
/// gets a null price.
fn shape_recommendations<'a>(
    ids: &[String],
    products: impl IntoIterator<Item = &'a Product>,
    prices: Option<&[Price]>,
) -> Vec<Recommendation> {
    let products = parts::by_id(products, |p| p.id.as_str());
    let prices = parts::by_id(prices.unwrap_or_default(), |p| p.product_id.as_str());
    ids.iter()
        .filter_map(|id| products.get(id.as_str()))
        .map(|product| Recommendation {
            id: product.id.clone(),
            name: product.name.clone(),
            description: product.description.clone(),
            image_urls: product.image_urls.clone(),
            category: product.category.clone(),
            price: prices.get(product.id.as_str()).map(|p| PriceInfo::from(*p)),
        })
        .collect()
}

/// The answer for `u-1` from the simulator's data, lists shortened.
fn example() -> serde_json::Value {
    json!({
        "user": {
            "id": "u-1",
            "name": "Farid Jensen",
            "email": "farid.jensen1@example.com",
            "avatar_url": "https://img.example.com/avatars/u-1.png",
            "tier": "standard",
            "created_at": "2023-08-15T08:34:23Z",
            "preferences": {"currency": "USD", "language": "es", "marketing_opt_in": true},
        },
        "orders": [{
            "id": "o-1-22", "user_id": "u-1", "status": "shipped", "created_at": "2024-03-07T12:01:19Z",
            "total_cents": 78598, "currency": "USD",
            "lines": [{"product_id": "p-3415", "quantity": 2, "unit_price_cents": 39299,
                "product": {"name": "Sleek Linen Kettle",
                    "image_url": "https://img.example.com/products/p-3415/1.jpg"}}],
        }],
        "notifications": {"unread_count": 1, "items": [{"id": "n-1-11", "title": "Your order has shipped",
            "body": "Good news: your parcel is on its way.", "created_at": "2024-01-23T21:15:01Z"}]},
        "recommendations": [
            {"id": "p-2639", "name": "Modern Recycled plastic Bird Feeder",
                "description": "A modern white bird feeder made of recycled plastic, designed for small spaces.",
                "image_urls": ["https://img.example.com/products/p-2639/1.jpg"], "category": "garden",
                "price": {"amount_cents": 28699, "currency": "USD", "discount_pct": 0}},
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
            description: format!("about {id}"),
            category: "c".into(),
            image_urls: images.iter().map(|s| (*s).to_owned()).collect(),
            attributes: Default::default(),
            related_ids: vec![],
        }
    }

    fn order(id: &str, products: &[&str]) -> Order {
        Order {
            id: id.into(),
            user_id: "u-1".into(),
            status: "placed".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            total_cents: 100,
            currency: "USD".into(),
            lines: products
                .iter()
                .map(|p| OrderLine {
                    product_id: (*p).into(),
                    quantity: 2,
                    unit_price_cents: 50,
                })
                .collect(),
        }
    }

    fn price(id: &str, cents: i64) -> Price {
        Price {
            product_id: id.into(),
            currency: "USD".into(),
            amount_cents: cents,
            discount_pct: 5,
        }
    }

    #[test]
    fn the_catalog_is_asked_once_for_each_product_of_the_orders() {
        let orders = [order("o-2", &["p-3", "p-1"]), order("o-1", &["p-1", "p-9"])];
        assert_eq!(order_product_ids(&orders), ["p-3", "p-1", "p-9"]);
    }

    #[test]
    fn lines_get_name_and_first_image_and_unknown_products_stay_null() {
        let products = [product("p-1", &["a", "b"]), product("p-3", &[])];
        let shaped = shape_orders(vec![order("o-1", &["p-1", "p-404", "p-3"])], Some(&products));
        let lines = &shaped[0].lines;
        assert_eq!(
            lines[0].product,
            Some(LineProduct {
                name: "name p-1".into(),
                image_url: Some("a".into())
            })
        );
        assert_eq!(lines[1].product, None);
        assert_eq!(
            lines[2].product,
            Some(LineProduct {
                name: "name p-3".into(),
                image_url: None
            })
        );
        assert_eq!(
            (
                lines[1].product_id.as_str(),
                lines[1].quantity,
                lines[1].unit_price_cents
            ),
            ("p-404", 2, 50)
        );
    }

    #[test]
    fn without_the_catalog_every_line_keeps_its_order_but_has_no_product() {
        let shaped = shape_orders(vec![order("o-1", &["p-1"]), order("o-2", &["p-2"])], None::<&[Product]>);
        assert_eq!(shaped.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["o-1", "o-2"]);
        assert!(shaped.iter().flat_map(|o| &o.lines).all(|l| l.product.is_none()));
    }

    #[test]
    fn notifications_drop_the_read_flag() {
        let shaped = shape_notifications(Notifications {
            unread_count: 7,
            items: vec![Notification {
                id: "n-1".into(),
                title: "t".into(),
                body: "b".into(),
                created_at: "2026-01-01T00:00:00Z".into(),
                read: false,
            }],
        });
        let json = serde_json::to_value(shaped).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"unread_count": 7, "items": [{"id": "n-1", "title": "t", "body": "b", "created_at": "2026-01-01T00:00:00Z"}]})
        );
    }

    #[test]
    fn cards_keep_the_recommenders_order_and_drop_unknown_products() {
        let ids = vec!["p-2".to_owned(), "p-404".to_owned(), "p-1".to_owned()];
        let products = [product("p-1", &["a", "b"]), product("p-2", &[])];
        let prices = [price("p-1", 999)];
        let cards = shape_recommendations(&ids, &products, Some(&prices));
        assert_eq!(cards.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["p-2", "p-1"]);
        assert_eq!(cards[1].image_urls, ["a", "b"]);
        assert_eq!(cards[1].description, "about p-1");
        assert_eq!(
            cards[1].price,
            Some(PriceInfo {
                amount_cents: 999,
                currency: "USD".into(),
                discount_pct: 5
            })
        );
        assert_eq!(cards[0].price, None);
    }

    #[test]
    fn without_pricing_every_card_has_a_null_price() {
        let ids = vec!["p-1".to_owned()];
        let cards = shape_recommendations(&ids, &[product("p-1", &["a"])], None);
        assert_eq!(cards.len(), 1);
        assert_eq!(cards[0].price, None);
    }
}
