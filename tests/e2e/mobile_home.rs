//! `GET /v1/home` on bff-mobile.

use bff_stack::simulator::Service;
use serde_json::{Value, json};

use crate::support::{Bff, FAILURE_TEST_ENV, failure_modes, spawn, spawn_with};

#[tokio::test]
async fn home_answers_every_section_shaped_from_the_upstreams() {
    let stack = spawn(Bff::Mobile).await;
    let answer = stack.get_as_u1("/v1/home").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("private, no-store"));
    let body = answer.json();

    let user = stack.upstream(Service::Users, "/users/u-1", None).await;
    assert_eq!(
        body["user"],
        json!({"id": user["id"], "name": user["name"], "avatar_url": user["avatar_url"]})
    );

    let orders = stack
        .upstream(Service::Orders, "/orders?user_id=u-1&limit=5", None)
        .await;
    let expected: Vec<Value> = orders["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let count: u64 = o["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["quantity"].as_u64().unwrap())
                .sum();
            json!({"id": o["id"], "status": o["status"], "total_cents": o["total_cents"], "currency": o["currency"],
                   "item_count": count, "created_at": o["created_at"]})
        })
        .collect();
    assert_eq!(body["recent_orders"], Value::Array(expected));

    let notifications = stack
        .upstream(
            Service::Notifications,
            "/notifications?user_id=u-1&unread_only=true",
            None,
        )
        .await;
    assert_eq!(body["unread_notifications"], notifications["unread_count"]);

    let recs = stack
        .upstream(Service::Recommendations, "/recommendations?user_id=u-1&limit=10", None)
        .await;
    let ids: Vec<&str> = recs["product_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let cards = body["recommendations"].as_array().expect("recommendations");
    assert_eq!(cards.iter().map(|c| c["id"].as_str().unwrap()).collect::<Vec<_>>(), ids);
    let first = &cards[0];
    let product = stack
        .upstream(Service::Catalog, &format!("/products/{}", ids[0]), None)
        .await;
    let price = stack
        .upstream(Service::Pricing, &format!("/prices?product_ids={}", ids[0]), None)
        .await;
    assert_eq!(
        *first,
        json!({"id": ids[0], "name": product["name"], "image_url": product["image_urls"][0],
               "price_cents": price["items"][0]["amount_cents"], "currency": price["items"][0]["currency"]})
    );

    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "meta",
            "recent_orders",
            "recommendations",
            "unread_notifications",
            "user"
        ]
    );
    assert_eq!(body["meta"]["partial"], false);
    assert_eq!(body["meta"]["degraded"], json!([]));
    assert_eq!(body["meta"]["stale"], json!([]));
    assert_eq!(body["meta"]["request_id"], answer.header("x-request-id").unwrap());
    assert_eq!(answer.header("x-partial-response"), None);

    let timing = answer.header("server-timing").expect("Server-Timing");
    for section in ["user", "recent_orders", "unread_notifications", "recommendations"] {
        assert!(timing.contains(&format!("{section};dur=")), "{timing}");
    }
    assert!(
        !timing.contains("catalog") && !timing.contains("pricing"),
        "section names, not upstream names: {timing}"
    );
}

#[tokio::test]
async fn home_calls_each_upstream_once_with_the_documented_queries() {
    let stack = spawn(Bff::Mobile).await;
    let answer = stack.get_as_u1("/v1/home").await;
    assert_eq!(answer.status, 200);
    let path = |s: Service| {
        let requests = stack.sim.requests(s);
        assert_eq!(requests.len(), 1, "{s:?} called {} times", requests.len());
        requests[0].path_and_query.clone()
    };
    assert_eq!(path(Service::Users), "/users/u-1");
    assert_eq!(path(Service::Orders), "/orders?user_id=u-1&limit=5");
    assert!(path(Service::Notifications).contains("unread_only=true"));
    assert_eq!(path(Service::Recommendations), "/recommendations?user_id=u-1&limit=10");
    assert!(path(Service::Catalog).starts_with("/products?ids="));
    assert!(path(Service::Pricing).starts_with("/prices?product_ids="));
    assert_eq!(
        stack.sim.count(Service::Inventory) + stack.sim.count(Service::Reviews),
        0
    );
}

/// Each optional upstream failing in each way leaves the others intact.
async fn assert_home_degrades(service: Service, section: &str, null_field: Option<&str>) {
    let stack = spawn_with(Bff::Mobile, FAILURE_TEST_ENV).await;
    for (mode, fault, reason) in failure_modes() {
        stack.sim.set_fault(service, fault);
        let answer = stack.get_as_u1("/v1/home").await;
        assert_eq!(answer.status, 200, "{mode}: {}", answer.text);
        answer.assert_degraded(&[(section, reason)]);
        let body = answer.json();
        match null_field {
            None => assert!(
                body[section].is_null(),
                "{mode}: {section} should be null: {}",
                answer.text
            ),
            Some(field) => {
                let cards = body["recommendations"].as_array().expect("section stays");
                assert!(!cards.is_empty());
                for card in cards {
                    assert!(
                        card[field].is_null() && card["currency"].is_null(),
                        "{mode}: {}",
                        answer.text
                    );
                    assert!(card["name"].is_string());
                }
            }
        }
        stack.sim.clear_faults();
    }
}

#[tokio::test]
async fn home_is_partial_when_users_fails_in_any_way() {
    assert_home_degrades(Service::Users, "user", None).await;
}

#[tokio::test]
async fn home_is_partial_when_orders_fails_in_any_way() {
    assert_home_degrades(Service::Orders, "recent_orders", None).await;
}

#[tokio::test]
async fn home_is_partial_when_notifications_fails_in_any_way() {
    assert_home_degrades(Service::Notifications, "unread_notifications", None).await;
}

#[tokio::test]
async fn home_is_partial_when_recommendations_fails_in_any_way() {
    assert_home_degrades(Service::Recommendations, "recommendations", None).await;
}

#[tokio::test]
async fn home_drops_recommendations_when_the_catalog_fails() {
    assert_home_degrades(Service::Catalog, "recommendations", None).await;
}

#[tokio::test]
async fn home_keeps_recommendations_without_prices_when_pricing_fails() {
    assert_home_degrades(Service::Pricing, "recommendations.price", Some("price_cents")).await;
}

#[tokio::test]
async fn home_is_503_when_every_first_stage_call_fails() {
    let stack = spawn_with(Bff::Mobile, FAILURE_TEST_ENV).await;
    let down = bff_stack::simulator::Fault {
        down: true,
        ..Default::default()
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
        .get_as_u1("/v1/home")
        .await
        .assert_problem(503, "upstream_unavailable");
}

#[tokio::test]
async fn home_is_200_when_the_recommender_answers_even_if_the_catalog_and_the_others_fail() {
    let stack = spawn_with(Bff::Mobile, FAILURE_TEST_ENV).await;
    let down = bff_stack::simulator::Fault {
        down: true,
        ..Default::default()
    };
    for s in [
        Service::Users,
        Service::Orders,
        Service::Notifications,
        Service::Catalog,
    ] {
        stack.sim.set_fault(s, down.clone());
    }
    let answer = stack.get_as_u1("/v1/home").await;
    assert_eq!(answer.status, 200, "the recommender answered: {}", answer.text);
    assert!(answer.json()["recommendations"].is_null());
    assert_eq!(stack.sim.count(Service::Recommendations), 1);
}

#[tokio::test]
async fn the_recommendation_stage_does_not_wait_for_a_slow_user_call() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_DEADLINE_MS", "2000")]).await;
    stack.sim.set_fault(
        Service::Users,
        bff_stack::simulator::Fault {
            latency_ms: 400,
            ..Default::default()
        },
    );
    let answer = stack.get_as_u1("/v1/home").await;
    answer.assert_degraded(&[]);
    let catalog = &stack.sim.requests(Service::Catalog)[0];
    let users = &stack.sim.requests(Service::Users)[0];
    let users_answered = users.answered_at_ms.expect("users answered");
    assert!(
        catalog.received_at_ms < users_answered,
        "catalog was called at {} ms, after users answered at {users_answered} ms",
        catalog.received_at_ms
    );
}
