//! The status page (`/status.json`, `/status`), observed from outside:
//! one row per declared upstream with figures that follow real traffic,
//! a failing upstream's error ratio and its breaker opening.

use bff_shared::security_headers::PAGE_CSP;
use bff_stack::simulator::{Fault, Service};
use serde_json::Value;

use crate::support::{Bff, Stack, spawn, spawn_with};

const UPSTREAMS: [&str; 8] = [
    "catalog",
    "inventory",
    "notifications",
    "orders",
    "pricing",
    "recommendations",
    "reviews",
    "users",
];

async fn status(stack: &Stack) -> Value {
    let answer = stack.get("/status.json", None, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    answer.json()
}

fn row<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["upstreams"]
        .as_array()
        .expect("upstreams")
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no row for {name}: {status}"))
}

#[tokio::test]
async fn status_json_lists_every_declared_upstream_with_figures_from_real_calls() {
    let stack = spawn(Bff::Mobile).await;
    for _ in 0..5 {
        stack.get_as_u1("/v1/home").await.assert_degraded(&[]);
    }
    let status = status(&stack).await;
    assert_eq!(status["service"], "bff-mobile");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["uptime_s"].is_u64(), "{status}");
    let names: Vec<&str> = status["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, UPSTREAMS);
    let users = row(&status, "users");
    let keys: Vec<&String> = users.as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        8,
        "name, breaker, in_flight, max_in_flight, calls_per_s, error_ratio, p50_ms, p99_ms: {users}"
    );
    assert_eq!(users["breaker"], "closed");
    assert_eq!(users["in_flight"], 0);
    assert_eq!(users["max_in_flight"], 512);
    assert!(users["calls_per_s"].as_f64().unwrap() > 0.0, "{users}");
    assert_eq!(users["error_ratio"], 0.0);
    let (p50, p99) = (users["p50_ms"].as_f64().unwrap(), users["p99_ms"].as_f64().unwrap());
    assert!(p50 > 0.0 && p50 <= p99, "{users}");
    // Home never calls reviews: nothing to measure, so zeros (always
    // numbers, never null).
    let reviews = row(&status, "reviews");
    assert_eq!(reviews["calls_per_s"], 0.0);
    assert_eq!(
        (&reviews["error_ratio"], &reviews["p50_ms"], &reviews["p99_ms"]),
        (
            &serde_json::json!(0.0),
            &serde_json::json!(0.0),
            &serde_json::json!(0.0)
        )
    );
}

#[tokio::test]
async fn bff_web_serves_its_own_status_under_its_own_name() {
    let stack = spawn(Bff::Web).await;
    let status = status(&stack).await;
    assert_eq!(status["service"], "bff-web");
    assert_eq!(status["upstreams"].as_array().unwrap().len(), UPSTREAMS.len());
}

#[tokio::test]
async fn a_failing_upstream_shows_its_error_ratio_and_its_open_breaker() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_BREAKER_FAILURES", "3"), ("BFF_BREAKER_OPEN_MS", "60000")],
    )
    .await;
    stack.sim.set_fault(Service::Pricing, Fault::always(503));
    for _ in 0..2 {
        stack
            .get("/v1/products/p-1", None, &[])
            .await
            .assert_degraded(&[("price", "upstream_error")]);
    }
    let pricing = row(&status(&stack).await, "pricing").clone();
    assert_eq!(pricing["breaker"], "closed", "two failures of three: {pricing}");
    assert_eq!(pricing["error_ratio"], 1.0);
    stack
        .get("/v1/products/p-1", None, &[])
        .await
        .assert_degraded(&[("price", "upstream_error")]);
    let status = status(&stack).await;
    let pricing = row(&status, "pricing");
    assert_eq!(pricing["breaker"], "open", "{pricing}");
    assert_eq!(pricing["error_ratio"], 1.0);
    assert!(pricing["calls_per_s"].as_f64().unwrap() > 0.0);
    assert!(pricing["p99_ms"].as_f64().is_some());
    let inventory = row(&status, "inventory");
    assert_eq!(inventory["breaker"], "closed");
    assert_eq!(inventory["error_ratio"], 0.0);

    // The page shows the same: one row per upstream, the open one marked.
    let page = stack.get("/status", None, &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(page.header("content-security-policy"), Some(PAGE_CSP));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(page.text.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert_eq!(page.text.matches("<tr class=\"upstream ").count(), UPSTREAMS.len());
    assert!(
        page.text.contains("data-upstream=\"pricing\" data-breaker=\"open\""),
        "{}",
        page.text
    );
    assert_eq!(page.text.matches("data-breaker=\"open\"").count(), 1);
}

#[tokio::test]
async fn the_status_routes_need_no_token_and_are_not_rate_limited() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_RATE_LIMIT_RPS", "1"), ("BFF_RATE_LIMIT_BURST", "1")],
    )
    .await;
    for _ in 0..5 {
        for path in ["/status", "/status.json"] {
            let answer = stack.get(path, None, &[]).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.text);
            assert_eq!(answer.header("ratelimit-limit"), None);
        }
    }
}
