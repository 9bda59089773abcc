//! `GET /v1/products/{id}` on bff-mobile.

use bff_stack::simulator::{Fault, Service};
use serde_json::json;

use crate::support::{Bff, FAILURE_TEST_ENV, failure_modes, spawn, spawn_with, token};

#[tokio::test]
async fn product_answers_summary_price_and_stock_without_a_token() {
    let stack = spawn(Bff::Mobile).await;
    let answer = stack.get("/v1/products/p-42", None, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    let product = stack.upstream(Service::Catalog, "/products/p-42", None).await;
    let price = stack.upstream(Service::Pricing, "/prices?product_ids=p-42", None).await["items"][0].clone();
    let stock = stack
        .upstream(Service::Inventory, "/stock?product_ids=p-42", None)
        .await["items"][0]
        .clone();
    assert_eq!(
        body["product"],
        json!({"id": "p-42", "name": product["name"], "image_url": product["image_urls"][0]})
    );
    assert_eq!(
        body["price"],
        json!({"amount_cents": price["amount_cents"], "currency": price["currency"], "discount_pct": price["discount_pct"]})
    );
    assert_eq!(
        body["stock"],
        json!({"in_stock": stock["available"].as_i64().unwrap() > 0})
    );
    answer.assert_degraded(&[]);
    assert_eq!(body.as_object().unwrap().len(), 4);
}

#[tokio::test]
async fn product_with_a_token_forwards_the_user_id() {
    let stack = spawn(Bff::Mobile).await;
    let answer = stack.get("/v1/products/p-1", Some(&token("u-7")), &[]).await;
    assert_eq!(answer.status, 200);
    let request = &stack.sim.requests(Service::Catalog)[0];
    assert!(request.headers.iter().any(|(k, v)| k == "x-user-id" && v == "u-7"));
}

#[tokio::test]
async fn an_unknown_product_is_404_not_found() {
    let stack = spawn(Bff::Mobile).await;
    stack
        .get("/v1/products/p-999999", None, &[])
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_malformed_product_id_is_400_and_calls_no_upstream() {
    let stack = spawn(Bff::Mobile).await;
    stack
        .get("/v1/products/p%20%3Cx%3E", None, &[])
        .await
        .assert_problem(400, "invalid_request");
    let long = format!("/v1/products/{}", "a".repeat(65));
    stack.get(&long, None, &[]).await.assert_problem(400, "invalid_request");
    assert_eq!(stack.sim.count(Service::Catalog), 0);
}

#[tokio::test]
async fn product_is_partial_when_pricing_or_inventory_fails_in_any_way() {
    let stack = spawn_with(Bff::Mobile, FAILURE_TEST_ENV).await;
    for (service, section) in [(Service::Pricing, "price"), (Service::Inventory, "stock")] {
        for (mode, fault, reason) in failure_modes() {
            stack.sim.set_fault(service, fault);
            let answer = stack.get("/v1/products/p-3", None, &[]).await;
            answer.assert_degraded(&[(section, reason)]);
            assert!(answer.json()[section].is_null(), "{mode}");
            assert_eq!(answer.json()["product"]["id"], "p-3");
            stack.sim.clear_faults();
        }
    }
}

#[tokio::test]
async fn product_is_503_or_504_when_the_catalog_fails() {
    let stack = spawn_with(Bff::Mobile, FAILURE_TEST_ENV).await;
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
async fn a_slow_upstream_within_the_deadline_is_waited_for() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_DEADLINE_MS", "1000")]).await;
    stack.sim.set_fault(
        Service::Pricing,
        Fault {
            latency_ms: 300,
            ..Fault::default()
        },
    );
    let answer = stack.get("/v1/products/p-3", None, &[]).await;
    answer.assert_degraded(&[]);
    assert!(answer.json()["price"].is_object());
}
