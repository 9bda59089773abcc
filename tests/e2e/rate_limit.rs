//! Per-client rate limiting in memory.

use crate::support::{Bff, spawn_with, token};

const TIGHT: &[(&str, &str)] = &[("BFF_RATE_LIMIT_RPS", "1"), ("BFF_RATE_LIMIT_BURST", "3")];

#[tokio::test]
async fn a_client_gets_the_burst_then_429_with_retry_after_and_headers() {
    let stack = spawn_with(Bff::Mobile, TIGHT).await;
    let tok = token("u-1");
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let answer = stack.get("/v1/home", Some(&tok), &[]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("ratelimit-limit"), Some("3"));
        remaining.push(answer.header("ratelimit-remaining").unwrap().parse::<u32>().unwrap());
        let reset: u64 = answer.header("ratelimit-reset").unwrap().parse().unwrap();
        assert!(reset <= 3);
    }
    assert_eq!(remaining, [2, 1, 0]);
    let refused = stack.get("/v1/home", Some(&tok), &[]).await;
    refused.assert_problem(429, "rate_limited");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    let metrics = stack.get("/metrics", None, &[]).await.text;
    assert!(metrics.contains("bff_rate_limit_rejections_total 1"), "{metrics}");
}

#[tokio::test]
async fn users_are_limited_separately_and_anonymous_clients_by_address() {
    let stack = spawn_with(Bff::Mobile, TIGHT).await;
    for _ in 0..3 {
        assert_eq!(stack.get("/v1/home", Some(&token("u-1")), &[]).await.status, 200);
    }
    assert_eq!(stack.get("/v1/home", Some(&token("u-1")), &[]).await.status, 429);
    assert_eq!(stack.get("/v1/home", Some(&token("u-2")), &[]).await.status, 200);
    for _ in 0..3 {
        assert_eq!(stack.get("/v1/products/p-1", None, &[]).await.status, 200);
    }
    assert_eq!(stack.get("/v1/products/p-1", None, &[]).await.status, 429);
}

#[tokio::test]
async fn operations_endpoints_are_not_limited() {
    let stack = spawn_with(Bff::Mobile, TIGHT).await;
    for _ in 0..10 {
        let answer = stack.get("/healthz", None, &[]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("ratelimit-limit"), None);
    }
    assert_eq!(stack.get("/metrics", None, &[]).await.status, 200);
}

#[tokio::test]
async fn zero_turns_limiting_off() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_RATE_LIMIT_RPS", "0")]).await;
    for _ in 0..120 {
        let answer = stack.get("/v1/products/p-1", None, &[]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("ratelimit-limit"), None);
    }
}
