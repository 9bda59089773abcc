//! `GET /v1/dashboard` on bff-web.

use std::collections::{BTreeMap, BTreeSet};

use bff_stack::simulator::{Fault, Service};
use serde_json::{Value, json};

use crate::support::{Bff, FAILURE_TEST_ENV, Stack, failure_modes, spawn, spawn_with};

/// The keys of a JSON object, sorted.
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

/// The ids of a `{"items": [...]}` or `[...]` list of objects with `id`.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .collect()
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// The products of `ids` as the catalog has them, by id.
async fn catalog(stack: &Stack, ids: &[String]) -> BTreeMap<String, Value> {
    let products = stack
        .upstream(Service::Catalog, &format!("/products?ids={}", ids.join(",")), None)
        .await;
    products["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p.clone()))
        .collect()
}

/// The distinct product ids of the orders' lines, in order of first appearance.
fn order_product_ids(orders: &Value) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for order in orders.as_array().unwrap() {
        for line in order["lines"].as_array().unwrap() {
            let id = line["product_id"].as_str().unwrap().to_owned();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

#[tokio::test]
async fn dashboard_answers_every_section_in_full_as_the_upstreams_have_it() {
    let stack = spawn(Bff::Web).await;
    let answer = stack.get_as_u1("/v1/dashboard").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("private, no-store"));
    let body = answer.json();
    assert_eq!(
        keys(&body),
        ["meta", "notifications", "orders", "recommendations", "user"]
    );

    let user = stack.upstream(Service::Users, "/users/u-1", None).await;
    assert_eq!(body["user"], user);
    assert_eq!(
        keys(&body["user"]),
        ["avatar_url", "created_at", "email", "id", "name", "preferences", "tier"]
    );

    let orders = stack
        .upstream(Service::Orders, "/orders?user_id=u-1&limit=20", None)
        .await["items"]
        .clone();
    let products = catalog(&stack, &order_product_ids(&orders)).await;
    let mut expected = orders.clone();
    for order in expected.as_array_mut().unwrap() {
        for line in order["lines"].as_array_mut().unwrap() {
            let product = &products[line["product_id"].as_str().unwrap()];
            line["product"] = json!({"name": product["name"], "image_url": product["image_urls"][0]});
        }
    }
    assert_eq!(body["orders"], expected);
    let first = &body["orders"][0];
    assert_eq!(
        keys(first),
        [
            "created_at",
            "currency",
            "id",
            "lines",
            "status",
            "total_cents",
            "user_id"
        ]
    );
    assert_eq!(
        keys(&first["lines"][0]),
        ["product", "product_id", "quantity", "unit_price_cents"]
    );
    assert_eq!(keys(&first["lines"][0]["product"]), ["image_url", "name"]);

    let notifications = stack
        .upstream(
            Service::Notifications,
            "/notifications?user_id=u-1&unread_only=true&limit=20",
            None,
        )
        .await;
    let items: Vec<Value> = notifications["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| json!({"id": n["id"], "title": n["title"], "body": n["body"], "created_at": n["created_at"]}))
        .collect();
    assert!(!items.is_empty(), "u-1 has unread notifications");
    assert_eq!(
        body["notifications"],
        json!({"unread_count": notifications["unread_count"], "items": items})
    );

    let recs = stack
        .upstream(Service::Recommendations, "/recommendations?user_id=u-1&limit=24", None)
        .await;
    let rec_ids: Vec<String> = recs["product_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(
        (1..=24).contains(&rec_ids.len()),
        "at most the limit: {}",
        rec_ids.len()
    );
    let products = catalog(&stack, &rec_ids).await;
    let prices = stack
        .upstream(
            Service::Pricing,
            &format!("/prices?product_ids={}", rec_ids.join(",")),
            None,
        )
        .await;
    let expected: Vec<Value> = rec_ids
        .iter()
        .map(|id| {
            let p = &products[id];
            let price = prices["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["product_id"] == *id)
                .expect("priced");
            json!({"id": id, "name": p["name"], "description": p["description"], "image_urls": p["image_urls"],
                   "category": p["category"],
                   "price": {"amount_cents": price["amount_cents"], "currency": price["currency"],
                             "discount_pct": price["discount_pct"]}})
        })
        .collect();
    assert_eq!(body["recommendations"], Value::Array(expected));

    assert_eq!(keys(&body["meta"]), ["degraded", "partial", "request_id", "stale"]);
    assert_eq!(body["meta"]["partial"], false);
    assert_eq!(body["meta"]["degraded"], json!([]));
    assert_eq!(body["meta"]["stale"], json!([]));
    assert_eq!(body["meta"]["request_id"], answer.header("x-request-id").unwrap());
    assert_eq!(answer.header("x-partial-response"), None);

    let timing = answer.header("server-timing").expect("Server-Timing");
    for section in ["user", "orders", "notifications", "recommendations"] {
        assert!(timing.contains(&format!("{section};dur=")), "{timing}");
    }
    assert!(
        !timing.contains("catalog") && !timing.contains("pricing"),
        "section names, not upstream names: {timing}"
    );
}

#[tokio::test]
async fn dashboard_calls_each_upstream_with_the_documented_queries() {
    let stack = spawn(Bff::Web).await;
    let answer = stack.get_as_u1("/v1/dashboard").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let only = |s: Service| {
        let requests = stack.sim.requests(s);
        assert_eq!(requests.len(), 1, "{s:?} called {} times", requests.len());
        requests[0].clone()
    };
    assert_eq!(only(Service::Users).path_and_query, "/users/u-1");
    assert_eq!(only(Service::Orders).path_and_query, "/orders?user_id=u-1&limit=20");
    assert_eq!(
        only(Service::Notifications).path_and_query,
        "/notifications?user_id=u-1&unread_only=true&limit=20"
    );
    assert_eq!(
        only(Service::Recommendations).path_and_query,
        "/recommendations?user_id=u-1&limit=24"
    );
    let users = only(Service::Users);
    assert_eq!(users.header("x-user-id"), Some("u-1"));
    assert_eq!(
        users.header("authorization"),
        None,
        "the client's token is never forwarded"
    );

    let recs = stack
        .upstream(Service::Recommendations, "/recommendations?user_id=u-1&limit=24", None)
        .await;
    let rec_ids: Vec<&str> = recs["product_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        only(Service::Pricing).path_and_query,
        format!("/prices?product_ids={}", rec_ids.join(","))
    );

    let catalog_calls: Vec<String> = stack
        .sim
        .requests(Service::Catalog)
        .into_iter()
        .map(|r| r.path_and_query)
        .collect();
    assert_eq!(
        catalog_calls.len(),
        2,
        "one for the order lines, one for the recommendations: {catalog_calls:?}"
    );
    assert!(
        catalog_calls.contains(&format!("/products?ids={}", rec_ids.join(","))),
        "{catalog_calls:?}"
    );
    assert_eq!(
        stack.sim.count(Service::Inventory) + stack.sim.count(Service::Reviews),
        0
    );
}

#[tokio::test]
async fn the_order_lines_catalog_call_asks_for_exactly_the_distinct_products_of_the_orders() {
    let stack = spawn(Bff::Web).await;
    let answer = stack.get_as_u1("/v1/dashboard").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let orders = stack
        .upstream(Service::Orders, "/orders?user_id=u-1&limit=20", None)
        .await["items"]
        .clone();
    let expected: BTreeSet<String> = order_product_ids(&orders).into_iter().collect();
    let recs = stack
        .upstream(Service::Recommendations, "/recommendations?user_id=u-1&limit=24", None)
        .await;
    let rec_query = format!(
        "/products?ids={}",
        recs["product_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    );
    let lines_call = stack
        .sim
        .requests(Service::Catalog)
        .into_iter()
        .find(|r| r.path_and_query != rec_query)
        .expect("a catalog call for the order lines");
    let asked: Vec<&str> = lines_call
        .path_and_query
        .strip_prefix("/products?ids=")
        .expect("a batch call")
        .split(',')
        .collect();
    let asked_set: BTreeSet<String> = asked.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        asked.len(),
        asked_set.len(),
        "no id twice: {}",
        lines_call.path_and_query
    );
    assert_eq!(asked_set, expected);
}

/// One first-stage upstream failing in each way nulls its section only.
async fn assert_section_degrades(service: Service, section: &str) {
    let stack = spawn_with(Bff::Web, FAILURE_TEST_ENV).await;
    for (mode, fault, reason) in failure_modes() {
        stack.sim.set_fault(service, fault);
        let answer = stack.get_as_u1("/v1/dashboard").await;
        assert_eq!(answer.status, 200, "{mode}: {}", answer.text);
        answer.assert_degraded(&[(section, reason)]);
        let body = answer.json();
        assert_eq!(
            keys(&body),
            ["meta", "notifications", "orders", "recommendations", "user"],
            "{mode}"
        );
        for other in ["user", "orders", "notifications", "recommendations"] {
            assert_eq!(
                body[other].is_null(),
                other == section,
                "{mode}: {other} in {}",
                answer.text
            );
        }
        stack.sim.clear_faults();
    }
}

#[tokio::test]
async fn dashboard_is_partial_when_users_fails_in_any_way() {
    assert_section_degrades(Service::Users, "user").await;
}

#[tokio::test]
async fn dashboard_is_partial_when_orders_fails_in_any_way() {
    assert_section_degrades(Service::Orders, "orders").await;
}

#[tokio::test]
async fn dashboard_is_partial_when_notifications_fails_in_any_way() {
    assert_section_degrades(Service::Notifications, "notifications").await;
}

#[tokio::test]
async fn dashboard_is_partial_when_recommendations_fails_in_any_way() {
    assert_section_degrades(Service::Recommendations, "recommendations").await;
}

#[tokio::test]
async fn a_failing_catalog_keeps_the_orders_without_products_and_drops_the_recommendations() {
    let stack = spawn_with(Bff::Web, FAILURE_TEST_ENV).await;
    for (mode, fault, reason) in failure_modes() {
        stack.sim.set_fault(Service::Catalog, fault);
        let answer = stack.get_as_u1("/v1/dashboard").await;
        answer.assert_degraded_in_any_order(&[("orders.product", reason), ("recommendations", reason)]);
        let body = answer.json();
        let orders = body["orders"].as_array().expect("orders stay");
        assert!(!orders.is_empty(), "{mode}");
        for line in orders.iter().flat_map(|o| o["lines"].as_array().unwrap()) {
            assert!(
                line.as_object().unwrap().contains_key("product"),
                "{mode}: the key stays"
            );
            assert!(line["product"].is_null(), "{mode}: {}", answer.text);
            assert!(line["product_id"].is_string() && line["quantity"].is_u64());
        }
        assert!(body["recommendations"].is_null(), "{mode}");
        assert!(body["user"].is_object() && body["notifications"].is_object(), "{mode}");
        stack.sim.clear_faults();
    }
}

#[tokio::test]
async fn a_failing_pricing_keeps_the_recommendations_without_prices() {
    let stack = spawn_with(Bff::Web, FAILURE_TEST_ENV).await;
    for (mode, fault, reason) in failure_modes() {
        stack.sim.set_fault(Service::Pricing, fault);
        let answer = stack.get_as_u1("/v1/dashboard").await;
        answer.assert_degraded(&[("recommendations.price", reason)]);
        let cards = answer.json()["recommendations"]
            .as_array()
            .expect("the section stays")
            .clone();
        assert!(!cards.is_empty(), "{mode}");
        for card in &cards {
            assert!(card.as_object().unwrap().contains_key("price"), "{mode}: the key stays");
            assert!(card["price"].is_null(), "{mode}: {card}");
            assert!(card["name"].is_string() && card["image_urls"].is_array(), "{mode}");
        }
        stack.sim.clear_faults();
    }
}

#[tokio::test]
async fn dashboard_is_503_when_every_first_stage_call_fails() {
    let stack = spawn_with(Bff::Web, FAILURE_TEST_ENV).await;
    let down = Fault {
        down: true,
        ..Fault::default()
    };
    for s in [
        Service::Users,
        Service::Orders,
        Service::Notifications,
        Service::Recommendations,
    ] {
        stack.sim.set_fault(s, down.clone());
    }
    stack
        .get_as_u1("/v1/dashboard")
        .await
        .assert_problem(503, "upstream_unavailable");
    assert_eq!(stack.sim.count(Service::Catalog) + stack.sim.count(Service::Pricing), 0);
}

#[tokio::test]
async fn dashboard_is_200_when_the_recommender_answers_even_if_the_catalog_and_the_others_fail() {
    let stack = spawn_with(Bff::Web, FAILURE_TEST_ENV).await;
    let down = Fault {
        down: true,
        ..Fault::default()
    };
    for s in [
        Service::Users,
        Service::Orders,
        Service::Notifications,
        Service::Catalog,
    ] {
        stack.sim.set_fault(s, down.clone());
    }
    let answer = stack.get_as_u1("/v1/dashboard").await;
    assert_eq!(answer.status, 200, "the recommender answered: {}", answer.text);
    assert!(answer.json()["recommendations"].is_null());
    assert_eq!(stack.sim.count(Service::Recommendations), 1);
}

#[tokio::test]
async fn dashboard_requires_a_token() {
    let stack = spawn(Bff::Web).await;
    let answer = stack.get("/v1/dashboard", None, &[]).await;
    answer.assert_problem(401, "unauthorized");
    assert!(
        answer
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer"))
    );
    assert_eq!(stack.sim.count(Service::Users), 0);
}

#[tokio::test]
async fn second_stage_calls_do_not_wait_for_a_slow_user_call() {
    let stack = spawn_with(Bff::Web, &[("BFF_DEADLINE_MS", "3000")]).await;
    stack.sim.set_fault(
        Service::Users,
        Fault {
            latency_ms: 400,
            ..Fault::default()
        },
    );
    let answer = stack.get_as_u1("/v1/dashboard").await;
    answer.assert_degraded(&[]);
    let users = &stack.sim.requests(Service::Users)[0];
    let users_answered = users.answered_at_ms.expect("users answered");
    let catalog = stack.sim.requests(Service::Catalog);
    assert_eq!(catalog.len(), 2, "order lines and recommendations");
    for call in catalog.iter().chain(&stack.sim.requests(Service::Pricing)) {
        assert!(
            call.received_at_ms < users_answered,
            "{} was called at {} ms, after users answered at {users_answered} ms",
            call.path_and_query,
            call.received_at_ms
        );
    }
}

#[tokio::test]
async fn the_order_lines_lookup_does_not_wait_for_slow_recommendations() {
    let stack = spawn_with(Bff::Web, &[("BFF_DEADLINE_MS", "3000")]).await;
    stack.sim.set_fault(
        Service::Recommendations,
        Fault {
            latency_ms: 400,
            ..Fault::default()
        },
    );
    let answer = stack.get_as_u1("/v1/dashboard").await;
    answer.assert_degraded(&[]);
    let recs = &stack.sim.requests(Service::Recommendations)[0];
    let recs_answered = recs.answered_at_ms.expect("recommendations answered");
    let first_catalog = stack
        .sim
        .requests(Service::Catalog)
        .iter()
        .map(|r| r.received_at_ms)
        .min()
        .expect("called");
    assert!(
        first_catalog < recs_answered,
        "order-lines catalog at {first_catalog} ms, recs answered {recs_answered} ms"
    );
    let recs = stack
        .upstream(Service::Recommendations, "/recommendations?user_id=u-1&limit=24", None)
        .await;
    assert_eq!(ids(&answer.json()["recommendations"]), strings(&recs["product_ids"]));
}
