//! Bad input and operations endpoints.

use crate::support::{Bff, spawn};

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let stack = spawn(Bff::Mobile).await;
    stack.get("/v1/nope", None, &[]).await.assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let stack = spawn(Bff::Mobile).await;
    let response = stack.http.delete(stack.url("/v1/home")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_an_odd_one_replaced() {
    let stack = spawn(Bff::Mobile).await;
    let answer = stack
        .get("/v1/products/p-1", None, &[("x-request-id", "abc:DEF_1.2-3")])
        .await;
    assert_eq!(answer.header("x-request-id"), Some("abc:DEF_1.2-3"));
    assert_eq!(answer.json()["meta"]["request_id"], "abc:DEF_1.2-3");
    let odd = "x".repeat(129);
    let answer = stack.get("/v1/products/p-1", None, &[("x-request-id", &odd)]).await;
    let id = answer.header("x-request-id").unwrap();
    assert_ne!(id, odd);
    assert_eq!(id.len(), 36, "a fresh UUID: {id}");
    let problem = stack.get("/nowhere", None, &[("x-request-id", "rid-404")]).await;
    assert_eq!(problem.json()["request_id"], "rid-404");
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_without_auth() {
    let stack = spawn(Bff::Mobile).await;
    assert_eq!(stack.get("/healthz", None, &[]).await.status, 200);
    assert_eq!(stack.get("/readyz", None, &[]).await.status, 200);
    let _ = stack.get("/v1/products/p-1", None, &[]).await;
    let metrics = stack.get("/metrics", None, &[]).await;
    assert_eq!(metrics.status, 200);
    for name in [
        "bff_http_requests_total{route=\"/v1/products/{id}\",status=\"200\"}",
        "bff_http_request_duration_seconds_bucket",
        "bff_upstream_requests_total{upstream=\"catalog\",outcome=\"ok\"}",
        "bff_circuit_breaker_state{upstream=\"catalog\"}",
    ] {
        assert!(metrics.text.contains(name), "missing {name} in\n{}", metrics.text);
    }
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let stack = spawn(Bff::Mobile).await;
    let response = stack
        .http
        .get(stack.url("/v1/products/p-1"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers().get("content-encoding").map(|v| v.to_str().unwrap()),
        Some("gzip")
    );
}
