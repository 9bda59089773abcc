//! Narrow views of upstream answers, for screens that show a few fields of
//! them (the mobile home). Decoding into a view skips the fields it does
//! not name without allocating them, where the full DTOs of
//! [`super::dto`] own every field. The same answers, the same rules: a
//! missing field or a wrong type is a `bad_response`.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

/// A user's card: who is signed in.
#[derive(Debug, Clone, Deserialize)]
pub struct UserCard {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Avatar image URL (null when the user has none).
    pub avatar_url: Option<String>,
}

/// An order as a list shows it: no lines, their item count.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderSummary {
    /// Order id.
    pub id: String,
    /// `placed`, `shipped`, …
    pub status: String,
    /// RFC 3339 UTC creation time.
    pub created_at: String,
    /// Total in cents.
    pub total_cents: i64,
    /// ISO currency code.
    pub currency: String,
    /// The sum of the lines' quantities.
    #[serde(rename = "lines", deserialize_with = "item_count")]
    pub item_count: u64,
}

/// A page of order summaries, newest first.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderSummaries {
    /// The orders.
    pub items: Vec<OrderSummary>,
}

/// The number of unread notifications, without the notifications.
#[derive(Debug, Clone, Deserialize)]
pub struct UnreadCount {
    /// Unread notifications.
    pub unread_count: u64,
    /// The list is checked to be a list, and skipped.
    #[serde(rename = "items")]
    _items: Vec<IgnoredAny>,
}

/// A product's card: name and main image.
#[derive(Debug, Clone, Deserialize)]
pub struct ProductCard {
    /// Product id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The first of `image_urls`.
    #[serde(rename = "image_urls", deserialize_with = "first_of")]
    pub image_url: Option<String>,
}

/// Reads `[{"quantity": n, …}, …]` as the sum of the quantities.
fn item_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    struct Line {
        quantity: u32,
    }
    struct Sum;
    impl<'de> Visitor<'de> for Sum {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of order lines")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
            let mut sum = 0u64;
            while let Some(line) = seq.next_element::<Line>()? {
                sum += u64::from(line.quantity);
            }
            Ok(sum)
        }
    }
    deserializer.deserialize_seq(Sum)
}

/// Reads a list of strings as its first element (the rest checked to be
/// strings, not kept).
fn first_of<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct First;
    impl<'de> Visitor<'de> for First {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<String>()?;
            while seq.next_element::<AnyStr>()?.is_some() {}
            Ok(first)
        }
    }
    deserializer.deserialize_seq(First)
}

/// Any string, checked and not kept (no allocation, escapes or not).
struct AnyStr;

impl<'de> Deserialize<'de> for AnyStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Str;
        impl Visitor<'_> for Str {
            type Value = AnyStr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<AnyStr, E> {
                Ok(AnyStr)
            }
        }
        deserializer.deserialize_str(Str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::{Notifications, Order, Product, User};

    #[test]
    fn a_view_reads_the_same_values_as_the_full_answer() {
        let user = r#"{"id":"u-1","name":"Ada","email":"a@x","avatar_url":null,"tier":"gold",
            "created_at":"2024-01-01T00:00:00Z","preferences":{"currency":"EUR","language":"en","marketing_opt_in":true}}"#;
        let (full, card): (User, UserCard) = (serde_json::from_str(user).unwrap(), serde_json::from_str(user).unwrap());
        assert_eq!(
            (full.id, full.name, full.avatar_url),
            (card.id, card.name, card.avatar_url)
        );

        let order = r#"{"id":"o-1","user_id":"u-1","status":"placed","created_at":"t","total_cents":500,"currency":"EUR",
            "lines":[{"product_id":"p-1","quantity":2,"unit_price_cents":100},{"product_id":"p-2","quantity":3,"unit_price_cents":100}]}"#;
        let full: Order = serde_json::from_str(order).unwrap();
        let summary: OrderSummary = serde_json::from_str(order).unwrap();
        assert_eq!(summary.item_count, 5);
        assert_eq!(
            (full.id, full.status, full.total_cents),
            (summary.id, summary.status, summary.total_cents)
        );

        let product = r#"{"id":"p-1","name":"Lamp","description":"d","category":"c","image_urls":["a","b"],
            "attributes":{"k":"v"},"related_ids":["p-2"]}"#;
        let full: Product = serde_json::from_str(product).unwrap();
        let card: ProductCard = serde_json::from_str(product).unwrap();
        assert_eq!(full.image_url(), card.image_url.as_deref());
        let none: ProductCard = serde_json::from_str(r#"{"id":"p","name":"n","image_urls":[]}"#).unwrap();
        assert_eq!(none.image_url, None);

        let unread =
            r#"{"unread_count":3,"items":[{"id":"n-1","title":"t","body":"b","created_at":"c","read":false}]}"#;
        let full: Notifications = serde_json::from_str(unread).unwrap();
        let count: UnreadCount = serde_json::from_str(unread).unwrap();
        assert_eq!(full.unread_count, count.unread_count);
    }

    #[test]
    fn a_view_refuses_what_the_full_answer_refuses() {
        // Wrong types in the fields a view skips over are still caught where
        // it checks them, and in the fields it keeps always.
        for bad in [
            r#"{"id":"p","name":"n","image_urls":["a",1]}"#,
            r#"{"id":"p","name":"n","image_urls":["a","b\\n",null]}"#,
            r#"{"id":"p","name":"n","image_urls":"a"}"#,
            r#"{"id":"p","image_urls":[]}"#,
        ] {
            assert!(serde_json::from_str::<ProductCard>(bad).is_err(), "{bad}");
        }
        for bad in [
            r#"{"id":"o","status":"s","created_at":"t","total_cents":1,"currency":"EUR","lines":[{"quantity":"2"}]}"#,
            r#"{"id":"o","status":"s","created_at":"t","total_cents":1,"currency":"EUR"}"#,
        ] {
            assert!(serde_json::from_str::<OrderSummary>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<UnreadCount>(r#"{"unread_count":-1,"items":[]}"#).is_err());
        assert!(serde_json::from_str::<UnreadCount>(r#"{"unread_count":1,"items":3}"#).is_err());
    }
}
