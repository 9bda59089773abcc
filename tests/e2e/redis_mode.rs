//! Redis mode: replicas share one rate limit, and behave as documented
//! while Redis is down. A real `redis-server` on loopback.

use std::time::{Duration, Instant};

use crate::support::redis::RedisServer;
use crate::support::{Bff, spawn_with, token};

#[tokio::test]
async fn two_replicas_share_one_rate_limit_through_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    // Exact counts: a generous Redis timeout, so that a slow moment of a
    // busy test machine is not a fail-open admission.
    let env = [
        ("BFF_REDIS_URL", url.as_str()),
        ("BFF_RATE_LIMIT_RPS", "1"),
        ("BFF_RATE_LIMIT_BURST", "4"),
        ("BFF_REDIS_TIMEOUT_MS", "400"),
    ];
    let stack = spawn_with(Bff::Mobile, &env).await;
    let replica = stack.add_replica(Bff::Mobile, &env).await;
    let tok = token("u-1");
    let bases = [stack.bff.url(), replica.url()];
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(
            stack
                .get_from(&bases[i % 2], "/v1/products/p-1", Some(&tok), &[])
                .await
                .status,
        );
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429, 429],
        "exactly the burst, across both replicas"
    );
    let other = stack
        .get_from(&bases[1], "/v1/products/p-1", Some(&token("u-2")), &[])
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.header("ratelimit-limit"), Some("4"));
}

#[tokio::test]
async fn rate_limiting_fails_open_while_redis_is_down_and_recovers_on_its_own() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let env = [
        ("BFF_REDIS_URL", url.as_str()),
        ("BFF_RATE_LIMIT_RPS", "1"),
        ("BFF_RATE_LIMIT_BURST", "1"),
    ];
    let stack = spawn_with(Bff::Mobile, &env).await;
    let tok = token("u-1");
    assert_eq!(stack.get("/v1/products/p-1", Some(&tok), &[]).await.status, 200);
    assert_eq!(stack.get("/v1/products/p-1", Some(&tok), &[]).await.status, 429);

    redis.stop();
    for _ in 0..5 {
        let answer = stack.get("/v1/products/p-1", Some(&tok), &[]).await;
        assert_eq!(answer.status, 200, "admitted while redis is down: {}", answer.text);
    }
    let metrics = stack.get("/metrics", None, &[]).await.text;
    assert!(metrics.contains("bff_rate_limit_errors_total"), "{metrics}");

    redis.restart();
    let started = Instant::now();
    loop {
        let status = stack.get("/v1/products/p-1", Some(&tok), &[]).await.status;
        if status == 429 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "limits not enforced again within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A product the simulator has in stock.
pub(crate) async fn in_stock_product(stack: &crate::support::Stack) -> String {
    let ids: Vec<String> = (1..=30).map(|n| format!("p-{n}")).collect();
    let stock = stack
        .upstream(
            bff_stack::simulator::Service::Inventory,
            &format!("/stock?product_ids={}", ids.join(",")),
            None,
        )
        .await;
    stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["available"].as_i64().unwrap() >= 2)
        .map(|s| s["product_id"].as_str().unwrap().to_owned())
        .expect("a product in stock")
}

pub(crate) async fn checkout_at(stack: &crate::support::Stack, base: &str, key: &str, product: &str) -> (u16, String) {
    let response = stack
        .http
        .post(format!("{base}/v1/checkout"))
        .bearer_auth(token("u-3"))
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(serde_json::json!({"lines": [{"product_id": product, "quantity": 1}]}).to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub(crate) fn order_posts(stack: &crate::support::Stack) -> usize {
    stack
        .sim
        .requests(bff_stack::simulator::Service::Orders)
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

#[tokio::test]
async fn an_idempotency_key_used_on_one_replica_replays_on_the_other() {
    let redis = RedisServer::start();
    let url = redis.url();
    let env = [("BFF_REDIS_URL", url.as_str())];
    let stack = spawn_with(Bff::Mobile, &env).await;
    let replica = stack.add_replica(Bff::Mobile, &env).await;
    let product = in_stock_product(&stack).await;
    let (status, first) = checkout_at(&stack, &stack.bff.url(), "shared-key-1", &product).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = checkout_at(&stack, &replica.url(), "shared-key-1", &product).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again, first, "the same answer, byte for byte");
    assert_eq!(order_posts(&stack), 1, "one order placed across both replicas");
}

#[tokio::test]
async fn checkout_fails_closed_while_redis_is_down_and_recovers_on_its_own() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let stack = spawn_with(Bff::Mobile, &[("BFF_REDIS_URL", url.as_str())]).await;
    let product = in_stock_product(&stack).await;
    redis.stop();
    let (status, body) = checkout_at(&stack, &stack.bff.url(), "down-key", &product).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("upstream_unavailable"));
    assert_eq!(order_posts(&stack), 0, "no order placed without a record");

    redis.restart();
    let started = Instant::now();
    loop {
        let (status, body) = checkout_at(&stack, &stack.bff.url(), "down-key", &product).await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "checkout did not recover within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(order_posts(&stack), 1);
}
