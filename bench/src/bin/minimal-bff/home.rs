//! `GET /v1/home` the short way: the same six upstream calls as
//! bff-mobile (users, orders limit 5, notifications unread only limit 1,
//! recommendations limit 10; catalog and pricing
//! for the recommended ids as soon as they arrive) and the exact docs/api.md
//! shape, with `meta` always complete (`partial: false`): any failed call
//! answers 502 instead of a partial answer. The query strings are
//! bff-mobile's (`bff-mobile/src/routes/home.rs`): when one changes there, it
//! changes here, or the two would not do the same work.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::upstream::{CallCtx, CallError, Upstreams};

const ORDERS_LIMIT: u32 = 5;
const RECOMMENDATIONS_LIMIT: u32 = 10;
const NOTIFICATIONS_LIMIT: u32 = 1;

// What home reads from the upstreams; serde skips every other field.
#[derive(Deserialize)]
struct User {
    id: String,
    name: String,
    avatar_url: Option<String>,
}
#[derive(Deserialize)]
struct OrderPage {
    items: Vec<Order>,
}
#[derive(Deserialize)]
struct Order {
    id: String,
    status: String,
    total_cents: i64,
    currency: String,
    created_at: String,
    lines: Vec<Line>,
}
#[derive(Deserialize)]
struct Line {
    quantity: u64,
}
#[derive(Deserialize)]
struct Unread {
    unread_count: u64,
}
#[derive(Deserialize)]
struct Recommended {
    product_ids: Vec<String>,
}
#[derive(Deserialize)]
struct Items<T> {
    items: Vec<T>,
}
#[derive(Deserialize)]
struct Product {
    id: String,
    name: String,
    image_urls: Vec<String>,
}
#[derive(Deserialize)]
struct Price {
    product_id: String,
    currency: String,
    amount_cents: i64,
}

/// The answer (docs/api.md#mobile-home).
#[derive(Serialize)]
pub struct Home {
    user: HomeUser,
    recent_orders: Vec<RecentOrder>,
    unread_notifications: u64,
    recommendations: Vec<Card>,
    meta: Meta,
}
#[derive(Serialize)]
struct HomeUser {
    id: String,
    name: String,
    avatar_url: Option<String>,
}
#[derive(Serialize)]
struct RecentOrder {
    id: String,
    status: String,
    total_cents: i64,
    currency: String,
    item_count: u64,
    created_at: String,
}
#[derive(Serialize)]
struct Card {
    id: String,
    name: String,
    image_url: Option<String>,
    price_cents: Option<i64>,
    currency: Option<String>,
}
#[derive(Serialize)]
struct Meta {
    request_id: String,
    partial: bool,
    degraded: [(); 0],
    stale: [(); 0],
}

/// The home of `user`, and its `Server-Timing` value.
pub async fn home(
    upstreams: &Upstreams,
    ctx: &CallCtx,
    user: &str,
    request_id: String,
) -> Result<(Home, String), CallError> {
    let started = Instant::now();
    let sub = urlencoding::encode(user);
    let cards = async {
        let path = format!("/recommendations?user_id={sub}&limit={RECOMMENDATIONS_LIMIT}");
        let ids = upstreams.get::<Recommended>(ctx, &path).await?.product_ids;
        let joined = ids
            .iter()
            .map(|id| urlencoding::encode(id))
            .collect::<Vec<_>>()
            .join(",");
        let (products_path, prices_path) = (
            format!("/products?ids={joined}"),
            format!("/prices?product_ids={joined}"),
        );
        let (products, prices) = tokio::join!(
            upstreams.get::<Items<Product>>(ctx, &products_path),
            upstreams.get::<Items<Price>>(ctx, &prices_path),
        );
        Ok::<_, CallError>((products?.items, prices?.items))
    };
    let (user_path, orders_path, unread_path) = (
        format!("/users/{sub}"),
        format!("/orders?user_id={sub}&limit={ORDERS_LIMIT}"),
        format!("/notifications?user_id={sub}&unread_only=true&limit={NOTIFICATIONS_LIMIT}"),
    );
    let ((user, t_user), (orders, t_orders), (unread, t_unread), (cards, t_cards)) = tokio::join!(
        timed(started, upstreams.get::<User>(ctx, &user_path)),
        timed(started, upstreams.get::<OrderPage>(ctx, &orders_path)),
        timed(started, upstreams.get::<Unread>(ctx, &unread_path)),
        timed(started, cards),
    );
    let (user, orders, unread, (products, prices)) = (user?, orders?, unread?, cards?);
    let recommendations = products
        .into_iter()
        .map(|p| {
            let price = prices.iter().find(|price| price.product_id == p.id);
            Card {
                image_url: p.image_urls.into_iter().next(),
                price_cents: price.map(|price| price.amount_cents),
                currency: price.map(|price| price.currency.clone()),
                id: p.id,
                name: p.name,
            }
        })
        .collect();
    let home = Home {
        user: HomeUser {
            id: user.id,
            name: user.name,
            avatar_url: user.avatar_url,
        },
        recent_orders: orders
            .items
            .into_iter()
            .map(|o| RecentOrder {
                item_count: o.lines.iter().map(|l| l.quantity).sum(),
                id: o.id,
                status: o.status,
                total_cents: o.total_cents,
                currency: o.currency,
                created_at: o.created_at,
            })
            .collect(),
        unread_notifications: unread.unread_count,
        recommendations,
        meta: Meta {
            request_id,
            partial: false,
            degraded: [],
            stale: [],
        },
    };
    let timing = [
        ("user", t_user),
        ("recent_orders", t_orders),
        ("unread_notifications", t_unread),
        ("recommendations", t_cards),
    ];
    Ok((home, server_timing(&timing)))
}

/// The call's output and when it ended, counted from `started`.
async fn timed<F: Future>(started: Instant, call: F) -> (F::Output, Duration) {
    let value = call.await;
    (value, started.elapsed())
}

/// `name;dur=12.3, …`, one entry per section, as bff-mobile writes it.
fn server_timing(entries: &[(&str, Duration)]) -> String {
    let mut out = String::with_capacity(entries.len() * 28);
    for (i, (name, took)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str(";dur=");
        out.push_str(&format!("{:.1}", took.as_secs_f64() * 1000.0));
    }
    out
}
