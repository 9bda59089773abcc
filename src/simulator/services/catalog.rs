//! The catalog service: `GET /products/{id}` and `GET /products?ids=`, for
//! products `p-1`..`p-10000`.
//!
//! Products are the largest records and the most requested, so each one is
//! serialised once, on first use, and kept as JSON text ([`ProductCache`]);
//! a list answer only joins those texts.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::{ApiError, Params, id_list, raw_json};
use crate::simulator::data::{PRODUCTS, between, hash, parse_id, pick, product_from};

const SALT_CATEGORY: u64 = 301;
const SALT_NOUN: u64 = 302;
const SALT_ADJECTIVE: u64 = 303;
const SALT_MATERIAL: u64 = 304;
const SALT_COLOR: u64 = 305;
const SALT_IMAGES: u64 = 306;
const SALT_RELATED_COUNT: u64 = 307;
const SALT_RELATED: u64 = 308;
const SALT_WEIGHT: u64 = 309;
const SALT_USE: u64 = 310;

/// Categories and the nouns their products are named after.
const CATEGORIES: [(&str, [&str; 4]); 8] = [
    ("kitchen", ["Kettle", "Skillet", "Knife Set", "Teapot"]),
    ("outdoors", ["Tent", "Backpack", "Lantern", "Hammock"]),
    ("electronics", ["Headphones", "Speaker", "Charger", "Keyboard"]),
    ("books", ["Notebook", "Atlas", "Cookbook", "Journal"]),
    ("toys", ["Puzzle", "Kite", "Robot", "Train Set"]),
    ("apparel", ["Jacket", "Scarf", "Sneakers", "Hoodie"]),
    ("garden", ["Planter", "Watering Can", "Trowel", "Bird Feeder"]),
    ("office", ["Desk Lamp", "Chair Cushion", "Pen Set", "Organizer"]),
];
const ADJECTIVES: [&str; 10] = [
    "Classic",
    "Compact",
    "Deluxe",
    "Everyday",
    "Handmade",
    "Modern",
    "Rugged",
    "Sleek",
    "Vintage",
    "Ultralight",
];
const MATERIALS: [&str; 8] = [
    "bamboo",
    "steel",
    "cotton",
    "oak",
    "recycled plastic",
    "wool",
    "ceramic",
    "linen",
];
const COLORS: [&str; 8] = ["black", "white", "navy", "forest green", "sand", "red", "grey", "ochre"];
const USES: [&str; 6] = [
    "daily use",
    "gifts",
    "travel",
    "small spaces",
    "weekend projects",
    "the whole family",
];

/// The upstream contract's `Product` (docs/api.md, "Upstream shapes").
#[derive(Debug, Serialize)]
pub(crate) struct Product {
    id: String,
    name: String,
    description: String,
    category: &'static str,
    image_urls: Vec<String>,
    attributes: BTreeMap<&'static str, String>,
    related_ids: Vec<String>,
}

/// Product number `n` (1..=10000).
pub(crate) fn product(n: u32) -> Product {
    let n64 = u64::from(n);
    let (category, nouns) = pick(hash(&[SALT_CATEGORY, n64]), &CATEGORIES);
    let noun = pick(hash(&[SALT_NOUN, n64]), &nouns);
    let adjective = pick(hash(&[SALT_ADJECTIVE, n64]), &ADJECTIVES);
    let material = pick(hash(&[SALT_MATERIAL, n64]), &MATERIALS);
    let color = pick(hash(&[SALT_COLOR, n64]), &COLORS);
    let images = between(hash(&[SALT_IMAGES, n64]), 1, 3);
    let related = between(hash(&[SALT_RELATED_COUNT, n64]), 0, 12) as usize;
    let mut related_ids: Vec<u32> = Vec::with_capacity(related);
    let mut k = 0;
    while related_ids.len() < related {
        let candidate = product_from(hash(&[SALT_RELATED, n64, k]));
        k += 1;
        if candidate != n && !related_ids.contains(&candidate) {
            related_ids.push(candidate);
        }
    }
    let attributes = BTreeMap::from([
        ("color", color.to_owned()),
        ("material", material.to_owned()),
        ("sku", format!("SKU-{n:05}")),
        ("weight_g", between(hash(&[SALT_WEIGHT, n64]), 50, 5000).to_string()),
    ]);
    Product {
        id: format!("p-{n}"),
        name: format!("{adjective} {} {noun}", capitalized(material)),
        description: format!(
            "A {} {} {} made of {material}, designed for {}.",
            adjective.to_lowercase(),
            color,
            noun.to_lowercase(),
            pick(hash(&[SALT_USE, n64]), &USES)
        ),
        category,
        image_urls: (1..=images)
            .map(|i| format!("https://img.example.com/products/p-{n}/{i}.jpg"))
            .collect(),
        attributes,
        related_ids: related_ids.iter().map(|r| format!("p-{r}")).collect(),
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// The product number of a known product id.
pub(crate) fn product_number(id: &str) -> Option<u32> {
    parse_id(id, "p-", PRODUCTS)
}

/// Each product's JSON, made on first request and kept (at most ~5 MB when
/// every product has been asked for).
pub(crate) struct ProductCache {
    json: Box<[OnceLock<String>]>,
}

impl Default for ProductCache {
    fn default() -> Self {
        ProductCache {
            json: (0..PRODUCTS).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl ProductCache {
    fn json(&self, n: u32) -> &str {
        let slot = &self.json[n as usize - 1];
        slot.get_or_init(|| {
            serde_json::to_string(&product(n)).unwrap_or_else(|e| {
                // Unreachable for this plain struct; answer something valid anyway.
                tracing::error!(error = %e, "serialising a product failed");
                format!(r#"{{"id":"p-{n}"}}"#)
            })
        })
    }
}

async fn get_product(State(cache): State<Arc<ProductCache>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let n = product_number(&id).ok_or(ApiError::NotFound)?;
    Ok(raw_json(cache.json(n).to_owned()))
}

#[derive(Deserialize)]
struct ListQuery {
    ids: Option<String>,
}

async fn list_products(
    State(cache): State<Arc<ProductCache>>,
    Params(query): Params<ListQuery>,
) -> Result<Response, ApiError> {
    let ids = id_list(&query.ids, "ids")?;
    let mut body = String::with_capacity(16 + ids.len() * 600);
    body.push_str(r#"{"items":["#);
    for (i, n) in ids.iter().filter_map(|id| product_number(id)).enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(cache.json(n));
    }
    body.push_str("]}");
    Ok(raw_json(body))
}

pub(crate) fn routes(cache: Arc<ProductCache>) -> Router {
    Router::new()
        .route("/products", get(list_products))
        .route("/products/{id}", get(get_product))
        .with_state(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_are_deterministic_and_follow_the_contract() {
        for n in [1, 2, 777, PRODUCTS] {
            let a = serde_json::to_value(product(n)).expect("json");
            assert_eq!(a, serde_json::to_value(product(n)).expect("json"));
            let images = a["image_urls"].as_array().expect("images").len();
            assert!((1..=3).contains(&images));
            let related = a["related_ids"].as_array().expect("related");
            assert!(related.len() <= 12);
            for r in related {
                let r = r.as_str().expect("id");
                assert_ne!(r, format!("p-{n}"));
                assert!(product_number(r).is_some());
            }
            assert!(
                a["attributes"]
                    .as_object()
                    .expect("map")
                    .values()
                    .all(|v| v.is_string())
            );
        }
        assert_ne!(
            serde_json::to_value(product(1)).expect("json"),
            serde_json::to_value(product(2)).expect("json")
        );
    }

    #[test]
    fn the_cache_serves_the_same_json_as_the_generator() {
        let cache = ProductCache::default();
        let cached: serde_json::Value = serde_json::from_str(cache.json(5)).expect("json");
        assert_eq!(cached, serde_json::to_value(product(5)).expect("json"));
    }
}
