//! `GET /v1/products/{id}` on bff-web.

use std::collections::BTreeSet;

use bff_stack::simulator::{Fault, Service};
use serde_json::{Value, json};

use crate::support::{Bff, FAILURE_TEST_ENV, Stack, failure_modes, spawn, spawn_with, token};

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// Products among `p-1`..`p-100` whose number of related ids satisfies `wanted`.
async fn products_where(stack: &Stack, wanted: impl Fn(usize) -> bool) -> Vec<Value> {
    let ids: Vec<String> = (1..=100).map(|n| format!("p-{n}")).collect();
    let page = stack
        .upstream(Service::Catalog, &format!("/products?ids={}", ids.join(",")), None)
        .await;
    let found: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| wanted(p["related_ids"].as_array().unwrap().len()))
        .cloned()
        .collect();
    assert!(!found.is_empty(), "the simulator has such products");
    found
}

fn price_of(prices: &Value, id: &str) -> Value {
    let p = prices["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product_id"] == id)
        .expect("priced");
    json!({"amount_cents": p["amount_cents"], "currency": p["currency"], "discount_pct": p["discount_pct"]})
}

#[tokio::test]
async fn product_page_answers_every_section_in_full_without_a_token() {
    let stack = spawn(Bff::Web).await;
    let product = products_where(&stack, |n| n > 8).await[0].clone();
    let id = product["id"].as_str().unwrap();
    let answer = stack.get(&format!("/v1/products/{id}"), None, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-cache"), "public, revalidated");
    let body = answer.json();
    assert_eq!(keys(&body), ["meta", "price", "product", "related", "reviews", "stock"]);

    assert_eq!(body["product"], product);
    let prices = stack
        .upstream(Service::Pricing, &format!("/prices?product_ids={id}"), None)
        .await;
    assert_eq!(body["price"], price_of(&prices, id));
    let stock = stack
        .upstream(Service::Inventory, &format!("/stock?product_ids={id}"), None)
        .await["items"][0]
        .clone();
    assert_eq!(
        body["stock"],
        json!({"available": stock["available"], "warehouses": stock["warehouses"]})
    );
    assert!(!body["stock"]["warehouses"].as_array().unwrap().is_empty());
    let reviews = stack
        .upstream(Service::Reviews, &format!("/reviews?product_id={id}&limit=5"), None)
        .await;
    assert_eq!(body["reviews"], reviews);
    assert_eq!(keys(&body["reviews"]), ["average_rating", "count", "items"]);

    let related: Vec<String> = strings(&product["related_ids"]).into_iter().take(8).collect();
    let products = stack
        .upstream(Service::Catalog, &format!("/products?ids={}", related.join(",")), None)
        .await;
    let prices = stack
        .upstream(
            Service::Pricing,
            &format!("/prices?product_ids={}", related.join(",")),
            None,
        )
        .await;
    let expected: Vec<Value> = related
        .iter()
        .map(|rid| {
            let p = products["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == *rid)
                .expect("known");
            json!({"id": rid, "name": p["name"], "image_url": p["image_urls"][0], "price": price_of(&prices, rid)})
        })
        .collect();
    assert_eq!(body["related"], Value::Array(expected));

    answer.assert_degraded(&[]);
    assert_eq!(body["meta"]["stale"], json!([]));
    assert_eq!(body["meta"]["request_id"], answer.header("x-request-id").unwrap());
    let timing = answer.header("server-timing").expect("Server-Timing");
    for section in ["product", "price", "stock", "reviews", "related"] {
        assert!(timing.contains(&format!("{section};dur=")), "{timing}");
    }
}

#[tokio::test]
async fn product_page_calls_each_upstream_with_the_documented_queries() {
    let stack = spawn(Bff::Web).await;
    let product = products_where(&stack, |n| n > 8).await[0].clone();
    let id = product["id"].as_str().unwrap();
    let before = stack.sim.count(Service::Catalog);
    let answer = stack.get(&format!("/v1/products/{id}"), Some(&token("u-7")), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let related: Vec<String> = strings(&product["related_ids"]).into_iter().take(8).collect();

    let catalog: Vec<String> = stack
        .sim
        .requests(Service::Catalog)
        .into_iter()
        .skip(before as usize)
        .map(|r| r.path_and_query)
        .collect();
    assert_eq!(
        catalog,
        [
            format!("/products/{id}"),
            format!("/products?ids={}", related.join(","))
        ]
    );
    let pricing: BTreeSet<String> = stack
        .sim
        .requests(Service::Pricing)
        .into_iter()
        .map(|r| r.path_and_query)
        .collect();
    let expected: BTreeSet<String> = [
        format!("/prices?product_ids={id}"),
        format!("/prices?product_ids={}", related.join(",")),
    ]
    .into();
    assert_eq!(pricing, expected);
    let inventory = stack.sim.requests(Service::Inventory);
    assert_eq!(inventory.len(), 1);
    assert_eq!(inventory[0].path_and_query, format!("/stock?product_ids={id}"));
    let reviews = stack.sim.requests(Service::Reviews);
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].path_and_query, format!("/reviews?product_id={id}&limit=5"));
    assert_eq!(reviews[0].header("x-user-id"), Some("u-7"));
    assert_eq!(reviews[0].header("authorization"), None);
    assert_eq!(stack.sim.count(Service::Users) + stack.sim.count(Service::Orders), 0);
}

#[tokio::test]
async fn a_product_without_related_ids_has_an_empty_related_list_and_no_related_calls() {
    let stack = spawn(Bff::Web).await;
    let product = products_where(&stack, |n| n == 0).await[0].clone();
    let id = product["id"].as_str().unwrap();
    let before = stack.sim.count(Service::Catalog);
    let answer = stack.get(&format!("/v1/products/{id}"), None, &[]).await;
    answer.assert_degraded(&[]);
    assert_eq!(answer.json()["related"], json!([]));
    assert_eq!(stack.sim.count(Service::Catalog) - before, 1, "only the product itself");
    assert_eq!(stack.sim.count(Service::Pricing), 1, "only the product's price");
}

#[tokio::test]
async fn the_related_lookup_starts_as_soon_as_the_product_arrives() {
    let stack = spawn_with(Bff::Web, &[("BFF_DEADLINE_MS", "3000")]).await;
    let product = products_where(&stack, |n| n > 0).await[0].clone();
    let id = product["id"].as_str().unwrap();
    let before = stack.sim.count(Service::Catalog) as usize;
    stack.sim.set_fault(
        Service::Reviews,
        Fault {
            latency_ms: 400,
            ..Fault::default()
        },
    );
    stack.sim.set_fault(
        Service::Inventory,
        Fault {
            latency_ms: 400,
            ..Fault::default()
        },
    );
    let answer = stack.get(&format!("/v1/products/{id}"), None, &[]).await;
    answer.assert_degraded(&[]);
    let reviews_answered = stack.sim.requests(Service::Reviews)[0]
        .answered_at_ms
        .expect("reviews answered");
    let related_call = stack.sim.requests(Service::Catalog)[before + 1].clone();
    assert!(
        related_call.path_and_query.starts_with("/products?ids="),
        "{}",
        related_call.path_and_query
    );
    assert!(
        related_call.received_at_ms < reviews_answered,
        "related catalog at {} ms, after reviews answered at {reviews_answered} ms",
        related_call.received_at_ms
    );
}

#[tokio::test]
async fn product_is_partial_when_inventory_or_reviews_fails_in_any_way() {
    let stack = spawn_with(Bff::Web, FAILURE_TEST_ENV).await;
    for (service, section) in [(Service::Inventory, "stock"), (Service::Reviews, "reviews")] {
        for (mode, fault, reason) in failure_modes() {
            stack.sim.set_fault(service, fault);
            let answer = stack.get("/v1/products/p-3", None, &[]).await;
            answer.assert_degraded(&[(section, reason)]);
            let body = answer.json();
            assert!(body[section].is_null(), "{mode}: {}", answer.text);
            assert_eq!(body["product"]["id"], "p-3");
            assert!(body["price"].is_object() && body["related"].is_array(), "{mode}");
            stack.sim.clear_faults();
        }
    }
}

#[tokio::test]
async fn a_failing_pricing_nulls_the_price_and_every_related_price() {
    let stack = spawn_with(Bff::Web, FAILURE_TEST_ENV).await;
    let product = products_where(&stack, |n| n > 0).await[0].clone();
    let id = product["id"].as_str().unwrap();
    for (mode, fault, reason) in failure_modes() {
        stack.sim.set_fault(Service::Pricing, fault);
        let answer = stack.get(&format!("/v1/products/{id}"), None, &[]).await;
        answer.assert_degraded_in_any_order(&[("price", reason), ("related.price", reason)]);
        let body = answer.json();
        assert!(body["price"].is_null(), "{mode}");
        let cards = body["related"].as_array().expect("related stays");
        assert!(!cards.is_empty(), "{mode}");
        for card in cards {
            assert_eq!(keys(card), ["id", "image_url", "name", "price"], "{mode}");
            assert!(card["price"].is_null() && card["name"].is_string(), "{mode}: {card}");
        }
        stack.sim.clear_faults();
    }
}

#[tokio::test]
async fn a_failing_related_lookup_nulls_related_and_keeps_the_product() {
    // The product and its related products come from the same catalog, so
    // the related lookup is made to fail alone in two steps: first a slow
    // catalog lets the product arrive (and be cached) but not its related
    // products before the deadline; then, with the catalog failing, the
    // product comes from the cache and only the related lookup is called.
    let stack = spawn_with(
        Bff::Web,
        &[("BFF_DEADLINE_MS", "1000"), ("BFF_BREAKER_FAILURES", "1000")],
    )
    .await;
    let products = products_where(&stack, |n| n > 0).await;
    for ((mode, fault, reason), product) in failure_modes().into_iter().zip(&products) {
        let id = product["id"].as_str().unwrap();
        let path = format!("/v1/products/{id}");
        stack.sim.set_fault(
            Service::Catalog,
            Fault {
                latency_ms: 600,
                ..Fault::default()
            },
        );
        let answer = stack.get(&path, None, &[]).await;
        answer.assert_degraded(&[("related", "timeout")]);
        assert!(answer.json()["related"].is_null());

        stack.sim.set_fault(Service::Catalog, fault);
        let answer = stack.get(&path, None, &[]).await;
        answer.assert_degraded(&[("related", reason)]);
        let body = answer.json();
        assert!(body["related"].is_null(), "{mode}: {}", answer.text);
        assert_eq!(body["product"], *product, "{mode}");
        assert!(
            body["price"].is_object() && body["stock"].is_object() && body["reviews"].is_object(),
            "{mode}"
        );
        stack.sim.clear_faults();
    }
}

#[tokio::test]
async fn an_unknown_product_is_404_and_calls_no_related_lookup() {
    let stack = spawn(Bff::Web).await;
    stack
        .get("/v1/products/p-999999", None, &[])
        .await
        .assert_problem(404, "not_found");
    let catalog = stack.sim.requests(Service::Catalog);
    assert_eq!(catalog.len(), 1);
    assert_eq!(catalog[0].path_and_query, "/products/p-999999");
}

#[tokio::test]
async fn a_malformed_product_id_is_400_and_calls_no_upstream() {
    let stack = spawn(Bff::Web).await;
    stack
        .get("/v1/products/p%20%3Cx%3E", None, &[])
        .await
        .assert_problem(400, "invalid_request");
    assert_eq!(stack.sim.count(Service::Catalog), 0);
}

#[tokio::test]
async fn product_is_503_or_504_when_the_catalog_fails() {
    let stack = spawn_with(Bff::Web, FAILURE_TEST_ENV).await;
    for (mode, fault, reason) in failure_modes() {
        stack.sim.set_fault(Service::Catalog, fault);
        let answer = stack.get("/v1/products/p-3", None, &[]).await;
        if reason == "timeout" {
            answer.assert_problem(504, "upstream_timeout");
        } else {
            answer.assert_problem(503, "upstream_unavailable");
        }
        assert!(!answer.text.contains("Fault"), "{mode}");
        stack.sim.clear_faults();
    }
}

#[tokio::test]
async fn an_invalid_token_on_the_product_page_is_401_not_anonymous() {
    let stack = spawn(Bff::Web).await;
    stack
        .get("/v1/products/p-3", Some("not-a-jwt"), &[])
        .await
        .assert_problem(401, "invalid_token");
    assert_eq!(stack.sim.count(Service::Catalog), 0);
}

#[tokio::test]
async fn a_complete_product_page_can_be_revalidated_with_its_etag() {
    let stack = spawn(Bff::Web).await;
    let first = stack.get("/v1/products/p-9", None, &[]).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let etag = first.header("etag").expect("ETag").to_owned();
    let revalidated = stack.get("/v1/products/p-9", None, &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.text.is_empty());
    let changed = stack
        .get("/v1/products/p-9", None, &[("if-none-match", "W/\"other\"")])
        .await;
    assert_eq!(changed.status, 200);
}

#[tokio::test]
async fn a_partial_product_page_has_no_etag() {
    let stack = spawn_with(Bff::Web, FAILURE_TEST_ENV).await;
    stack.sim.set_fault(
        Service::Reviews,
        Fault {
            down: true,
            ..Fault::default()
        },
    );
    let answer = stack.get("/v1/products/p-9", None, &[]).await;
    answer.assert_degraded(&[("reviews", "upstream_error")]);
    assert_eq!(
        answer.header("etag"),
        None,
        "a degraded answer is not worth revalidating against"
    );
}
