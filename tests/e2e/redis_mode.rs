//! Redis mode: replicas share one rate limit, and behave as documented
//! while Redis is down. A real `redis-server` on loopback.

use std::time::{Duration, Instant};

use crate::support::redis::RedisServer;
use crate::support::{Bff, spawn_with, token};

#[tokio::test]
async fn two_replicas_share_one_rate_limit_through_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    let env = [("BFF_REDIS_URL", url.as_str()), ("BFF_RATE_LIMIT_RPS", "1"), ("BFF_RATE_LIMIT_BURST", "4")];
    let stack = spawn_with(Bff::Mobile, &env).await;
    let replica = stack.add_replica(Bff::Mobile, &env).await;
    let tok = token("u-1");
    let bases = [stack.bff.url(), replica.url()];
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(stack.get_from(&bases[i % 2], "/v1/products/p-1", Some(&tok), &[]).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "exactly the burst, across both replicas");
    let other = stack.get_from(&bases[1], "/v1/products/p-1", Some(&token("u-2")), &[]).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.header("ratelimit-limit"), Some("4"));
}

#[tokio::test]
async fn rate_limiting_fails_open_while_redis_is_down_and_recovers_on_its_own() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let env = [("BFF_REDIS_URL", url.as_str()), ("BFF_RATE_LIMIT_RPS", "1"), ("BFF_RATE_LIMIT_BURST", "1")];
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
        assert!(started.elapsed() < Duration::from_secs(10), "limits not enforced again within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
