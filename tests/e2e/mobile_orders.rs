//! `GET /v1/orders/{id}` pass-through on bff-mobile.

use bff_stack::simulator::{Fault, Service};

use crate::support::{Bff, FAILURE_TEST_ENV, failure_modes, spawn, spawn_with, token};

#[tokio::test]
async fn an_own_order_is_passed_through_unchanged() {
    let stack = spawn(Bff::Mobile).await;
    let orders = stack
        .upstream(Service::Orders, "/orders?user_id=u-1&limit=1", None)
        .await;
    let id = orders["items"][0]["id"].as_str().unwrap().to_owned();
    let direct = stack
        .http
        .get(format!("{}/orders/{id}", stack.sim.url(Service::Orders)))
        .header("x-user-id", "u-1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer = stack.get_as_u1(&format!("/v1/orders/{id}")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text, direct, "the body is passed on byte for byte");
    assert!(answer.header("content-type").unwrap().starts_with("application/json"));
    assert_eq!(answer.header("cache-control"), Some("private, no-store"));
}

#[tokio::test]
async fn the_pass_through_sends_only_bff_headers_upstream() {
    let stack = spawn(Bff::Mobile).await;
    let tok = token("u-1");
    let answer = stack
        .get(
            "/v1/orders/o-1-1",
            Some(&tok),
            &[
                ("x-user-id", "u-2"),
                ("x-request-id", "trace-me-123"),
                ("cookie", "a=b"),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("x-request-id"), Some("trace-me-123"));
    let request = &stack.sim.requests(Service::Orders)[0];
    let header = |name: &str| {
        request
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(header("x-user-id"), ["u-1"], "the client's X-User-Id is dropped");
    assert_eq!(header("x-request-id"), ["trace-me-123"]);
    assert!(header("authorization").is_empty());
    assert!(header("cookie").is_empty());
    let budget: u64 = header("x-request-timeout-ms")[0].parse().unwrap();
    assert!(budget > 0 && budget <= 500, "{budget}");
}

#[tokio::test]
async fn another_users_order_is_404() {
    let stack = spawn(Bff::Mobile).await;
    stack
        .get("/v1/orders/o-1-1", Some(&token("u-2")), &[])
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn the_pass_through_needs_a_token() {
    let stack = spawn(Bff::Mobile).await;
    let answer = stack.get("/v1/orders/o-1-1", None, &[]).await;
    answer.assert_problem(401, "unauthorized");
    assert!(answer.header("www-authenticate").unwrap().starts_with("Bearer"));
    assert_eq!(stack.sim.count(Service::Orders), 0);
}

#[tokio::test]
async fn upstream_failures_become_503_or_504() {
    let stack = spawn_with(Bff::Mobile, FAILURE_TEST_ENV).await;
    for (mode, fault, reason) in failure_modes() {
        stack.sim.set_fault(Service::Orders, fault);
        let answer = stack.get_as_u1("/v1/orders/o-1-1").await;
        if reason == "timeout" {
            answer.assert_problem(504, "upstream_timeout");
        } else if mode == "malformed JSON" {
            // A 2xx is passed on unchanged: the pass-through does not parse bodies.
            assert_eq!(answer.status, 200);
        } else {
            answer.assert_problem(503, "upstream_unavailable");
        }
        stack.sim.clear_faults();
    }
    stack.sim.set_fault(Service::Orders, Fault::always(400));
    stack
        .get_as_u1("/v1/orders/o-1-1")
        .await
        .assert_problem(503, "upstream_unavailable");
}
