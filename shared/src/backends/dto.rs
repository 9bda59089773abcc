//! Upstream answers, as the BFFs read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user (users service).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct User {
    /// User id, such as `u-1`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Avatar image URL (null when the user has none; always sent).
    #[schema(required = true)]
    pub avatar_url: Option<String>,
    /// Loyalty tier.
    pub tier: String,
    /// RFC 3339 UTC creation time.
    pub created_at: String,
    /// The user's preferences.
    pub preferences: Preferences,
}

/// A user's preferences.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Preferences {
    /// ISO currency code.
    pub currency: String,
    /// Language tag.
    pub language: String,
    /// Whether marketing messages are welcome.
    pub marketing_opt_in: bool,
}

/// One line of an order.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct OrderLine {
    /// Product id.
    pub product_id: String,
    /// Quantity ordered.
    pub quantity: u32,
    /// Unit price in cents.
    pub unit_price_cents: i64,
}

/// An order (orders service).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Order {
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
    /// The order's lines.
    pub lines: Vec<OrderLine>,
}

/// A page of a user's orders, newest first.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderPage {
    /// The orders.
    pub items: Vec<Order>,
    /// Cursor of the next page, if any.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A product (catalog service).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Product {
    /// Product id, such as `p-1`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Category.
    pub category: String,
    /// Image URLs; the first is the main image.
    pub image_urls: Vec<String>,
    /// Free-form attributes.
    pub attributes: BTreeMap<String, String>,
    /// Related product ids.
    pub related_ids: Vec<String>,
}

impl Product {
    /// The main image: the first of `image_urls`.
    pub fn image_url(&self) -> Option<&str> {
        self.image_urls.first().map(String::as_str)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Items<T> {
    pub items: Vec<T>,
}

/// A product's price (pricing service).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Price {
    /// Product id.
    pub product_id: String,
    /// ISO currency code.
    pub currency: String,
    /// Price before discount, in cents.
    pub amount_cents: i64,
    /// Discount in percent.
    pub discount_pct: u32,
}

/// Stock of a product (inventory service).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Stock {
    /// Product id.
    pub product_id: String,
    /// Units available across warehouses.
    pub available: i64,
    /// Per-warehouse availability.
    pub warehouses: Vec<Warehouse>,
}

/// Availability in one warehouse.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Warehouse {
    /// Warehouse id.
    pub id: String,
    /// Units available there.
    pub available: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Recommendations {
    pub product_ids: Vec<String>,
}

/// A user's unread notifications (notifications service).
#[derive(Debug, Clone, Deserialize)]
pub struct Notifications {
    /// Number of unread notifications.
    pub unread_count: u64,
    /// The notifications returned.
    pub items: Vec<Notification>,
}

/// One notification.
#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    /// Notification id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// RFC 3339 UTC creation time.
    pub created_at: String,
    /// Whether it has been read.
    pub read: bool,
}

/// A product's reviews (reviews service).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Reviews {
    /// Average rating, 1 to 5.
    pub average_rating: f64,
    /// Number of reviews.
    pub count: u64,
    /// The reviews returned.
    pub items: Vec<Review>,
}

/// One review.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Review {
    /// Review id.
    pub id: String,
    /// Author's display name.
    pub author: String,
    /// Rating, 1 to 5.
    pub rating: u8,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// RFC 3339 UTC creation time.
    pub created_at: String,
}

/// The body of `POST /orders`.
#[derive(Debug, Clone, Serialize)]
pub struct NewOrder<'a> {
    /// Owner's user id.
    pub user_id: &'a str,
    /// ISO currency code.
    pub currency: &'a str,
    /// Lines with the discounted unit prices.
    pub lines: Vec<OrderLine>,
}
