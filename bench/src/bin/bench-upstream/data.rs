//! The fake's data, built once at start-up: JSON of docs/api.md#upstream-shapes, about the
//! simulator's sizes (a user ~250 bytes, an order ~200, a product ~450), so
//! that the BFFs parse and copy what they would against the simulator. Every
//! answer is then a lookup or a join of precomputed pieces: the fake must
//! cost far less per request than the servers it measures.

use bytes::Bytes;

/// Users `u-1`..`u-USERS`.
pub const USERS: usize = 1000;
/// Products `p-1`..`p-PRODUCTS`.
pub const PRODUCTS: usize = 10_000;
/// Orders per user: `o-<user>-1`..`o-<user>-ORDERS`, newest is the highest.
pub const ORDERS: usize = 20;
/// Unread notifications per user.
pub const UNREAD: usize = 12;
/// Recommended products per user (the most a `limit` can ask for).
pub const RECOMMENDED: usize = 20;
/// The widest fan-out `GET /fan/{i}` serves.
pub const FAN: usize = 64;

const FIRST: [&str; 8] = ["Farid", "Noor", "Jonas", "Dev", "Maria", "Kenji", "Aisha", "Lars"];
const LAST: [&str; 8] = [
    "Jensen",
    "Okafor",
    "Lindqvist",
    "Haddad",
    "Moreau",
    "Tanaka",
    "Silva",
    "Novak",
];
const ADJ: [&str; 6] = ["Modern", "Vintage", "Compact", "Rustic", "Classic", "Sleek"];
const NOUN: [&str; 6] = ["Bird Feeder", "Skillet", "Desk Lamp", "Backpack", "Kettle", "Planter"];
const STATUS: [&str; 4] = ["placed", "paid", "shipped", "delivered"];

/// SplitMix64: the same id gives the same data in every run.
fn hash(x: u64) -> u64 {
    let mut x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn pick<'a>(h: u64, items: &[&'a str]) -> &'a str {
    items[(h % items.len() as u64) as usize]
}

/// Every precomputed piece, indexed by number (index 0 unused).
pub struct Data {
    /// `User` per user.
    pub users: Vec<Bytes>,
    /// Each user's orders, newest first, as `Order` objects.
    pub orders: Vec<Vec<Bytes>>,
    /// Each user's unread notifications, as item objects.
    pub notifications: Vec<Vec<String>>,
    /// Each user's recommended product ids, as JSON strings (`"p-7"`).
    pub recommended: Vec<Vec<String>>,
    /// `Product` per product.
    pub products: Vec<String>,
    /// The `prices` item per product.
    pub prices: Vec<String>,
    /// The `stock` item per product.
    pub stock: Vec<String>,
    /// The review items of any product.
    pub reviews: Vec<String>,
    /// `GET /fan/{i}` answers.
    pub fan: Vec<Bytes>,
}

impl Data {
    /// Builds it all (a few MiB, a few tens of milliseconds).
    pub fn build() -> Self {
        let users = (0..=USERS).map(|u| Bytes::from(user(u))).collect();
        let orders = (0..=USERS)
            .map(|u| (1..=ORDERS).rev().map(|k| Bytes::from(order(u, k))).collect())
            .collect();
        let notifications = (0..=USERS)
            .map(|u| (1..=UNREAD).rev().map(|k| notification(u, k)).collect())
            .collect();
        let recommended = (0..=USERS)
            .map(|u| {
                (0..RECOMMENDED as u64)
                    .map(|k| format!("\"p-{}\"", hash(u as u64 * 64 + k) % PRODUCTS as u64 + 1))
                    .collect()
            })
            .collect();
        let products = (0..=PRODUCTS).map(product).collect();
        let prices = (0..=PRODUCTS)
            .map(|p| {
                format!(
                    r#"{{"product_id":"p-{p}","currency":"USD","amount_cents":{},"discount_pct":{}}}"#,
                    hash(p as u64) % 50_000 + 99,
                    [0, 0, 10, 25][(hash(p as u64 + 7) % 4) as usize]
                )
            })
            .collect();
        let stock = (0..=PRODUCTS)
            .map(|p| {
                let (east, central) = (hash(p as u64 + 1) % 400, hash(p as u64 + 2) % 100);
                format!(
                    r#"{{"product_id":"p-{p}","available":{},"warehouses":[{{"id":"wh-east","available":{east}}},{{"id":"wh-central","available":{central}}}]}}"#,
                    east + central
                )
            })
            .collect();
        let reviews = (1..=20)
            .rev()
            .map(|k| {
                format!(
                    r#"{{"id":"r-{k}","author":"{} {}.","rating":{},"title":"Very good","body":"Bought it as a gift; they liked it.","created_at":"2024-02-{:02}T19:35:21Z"}}"#,
                    pick(k, &FIRST),
                    &pick(k + 3, &LAST)[..1],
                    k % 5 + 1,
                    k % 28 + 1
                )
            })
            .collect();
        let fan = (0..FAN)
            .map(|i| {
                Bytes::from(format!(
                    r#"{{"i":{i},"name":"fan item {i}","value":{}}}"#,
                    hash(i as u64) % 1000
                ))
            })
            .collect();
        Self {
            users,
            orders,
            notifications,
            recommended,
            products,
            prices,
            stock,
            reviews,
            fan,
        }
    }
}

fn user(u: usize) -> String {
    let h = hash(u as u64);
    let (first, last) = (pick(h, &FIRST), pick(h >> 8, &LAST));
    format!(
        r#"{{"id":"u-{u}","name":"{first} {last}","email":"{}.{}{u}@example.com","avatar_url":"https://img.example.com/avatars/u-{u}.png","tier":"standard","created_at":"2023-08-15T08:34:23Z","preferences":{{"currency":"USD","language":"en","marketing_opt_in":true}}}}"#,
        first.to_lowercase(),
        last.to_lowercase()
    )
}

fn order(u: usize, k: usize) -> String {
    let h = hash((u * 100 + k) as u64);
    let lines = 1 + h % 3;
    let mut total = 0;
    let lines: Vec<String> = (0..lines)
        .map(|l| {
            let (quantity, price) = (1 + (h >> (8 + l)) % 3, 99 + hash(h + l) % 40_000);
            total += quantity * price;
            format!(
                r#"{{"product_id":"p-{}","quantity":{quantity},"unit_price_cents":{price}}}"#,
                hash(h ^ l) % PRODUCTS as u64 + 1
            )
        })
        .collect();
    format!(
        r#"{{"id":"o-{u}-{k}","user_id":"u-{u}","status":"{}","created_at":"2024-03-{:02}T12:01:19Z","total_cents":{total},"currency":"USD","lines":[{}]}}"#,
        pick(h >> 4, &STATUS),
        k % 28 + 1,
        lines.join(",")
    )
}

fn notification(u: usize, k: usize) -> String {
    format!(
        r#"{{"id":"n-{u}-{k}","title":"Your order has shipped","body":"Good news: your parcel is on its way.","created_at":"2024-01-{:02}T21:15:01Z","read":false}}"#,
        k % 28 + 1
    )
}

fn product(p: usize) -> String {
    let h = hash(p as u64 + 1_000_000);
    let (adj, noun) = (pick(h, &ADJ), pick(h >> 8, &NOUN));
    let images: Vec<String> = (1..=1 + h % 3)
        .map(|i| format!("\"https://img.example.com/products/p-{p}/{i}.jpg\""))
        .collect();
    let related: Vec<String> = (0..7)
        .map(|r| format!("\"p-{}\"", hash(h + r) % PRODUCTS as u64 + 1))
        .collect();
    format!(
        r#"{{"id":"p-{p}","name":"{adj} {noun}","description":"A {} {} made to last, designed for small spaces and weekend projects.","category":"home","image_urls":[{}],"attributes":{{"color":"white","material":"recycled plastic","sku":"SKU-{p:05}","weight_g":"{}"}},"related_ids":[{}]}}"#,
        adj.to_lowercase(),
        noun.to_lowercase(),
        images.join(","),
        100 + h % 900,
        related.join(",")
    )
}
