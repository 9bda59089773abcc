//! A Redis that accepts connections but never answers
//! (docs/operations.md#when-redis-is-down-or-hangs): it must cost a request no more than `BFF_REDIS_TIMEOUT_MS`, so the
//! rate limiter admits every request at once (homes full and on time) and
//! checkout refuses within its deadline, placing no order; and the BFF
//! recovers on its own once a real Redis answers on that address.

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::redis_mode::{checkout_at, in_stock_product, order_posts};
use crate::support::redis::RedisServer;
use crate::support::{Bff, spawn_with, token};

/// The mobile BFF's default deadline.
const DEADLINE: Duration = Duration::from_millis(500);

/// Accepts connections on 127.0.0.1 and reads whatever comes, never
/// writing a byte. Dropping it closes the listener and every connection.
struct SilentRedis {
    url: String,
    port: u16,
    /// Held for its drop, which ends the listener and every connection.
    _tasks: JoinSet<()>,
}

impl SilentRedis {
    async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                connections.spawn(async move {
                    let mut buffer = [0u8; 4096];
                    while matches!(socket.read(&mut buffer).await, Ok(n) if n > 0) {}
                });
            }
        });
        Self {
            url: format!("redis://127.0.0.1:{port}"),
            port,
            _tasks: tasks,
        }
    }
}

fn rate_limit_errors(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("bff_rate_limit_errors_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test]
async fn with_a_silent_redis_every_home_is_full_and_well_within_the_deadline() {
    let silent = SilentRedis::start_on(0).await;
    let stack = spawn_with(Bff::Mobile, &[("BFF_REDIS_URL", silent.url.as_str())]).await;
    let tok = token("u-1");
    let started = Instant::now();
    let mut homes = 0u64;
    // Past several reconnect periods (one a second), so that a dial made
    // on a request's time would show up as a slow or partial answer.
    while homes < 20 || started.elapsed() < Duration::from_secs(3) {
        let sent = Instant::now();
        let home = stack.get("/v1/home", Some(&tok), &[]).await;
        let took = sent.elapsed();
        home.assert_degraded(&[]);
        assert!(took < DEADLINE, "home #{homes} took {took:?}");
        homes += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = stack.get("/metrics", None, &[]).await.text;
    assert!(
        rate_limit_errors(&metrics) >= homes,
        "every admission failed open and was counted ({homes} homes): {metrics}"
    );
}

#[tokio::test]
async fn with_a_silent_redis_checkout_is_refused_within_its_deadline_and_places_no_order() {
    let silent = SilentRedis::start_on(0).await;
    let stack = spawn_with(Bff::Mobile, &[("BFF_REDIS_URL", silent.url.as_str())]).await;
    let base = stack.bff.url();
    for attempt in 0..5 {
        let sent = Instant::now();
        let (status, body) = checkout_at(&stack, &base, &format!("silent-{attempt}"), "p-1").await;
        let took = sent.elapsed();
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("\"upstream_unavailable\""), "{body}");
        assert!(took < DEADLINE, "checkout #{attempt} took {took:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(order_posts(&stack), 0, "no order placed without a record");
}

#[tokio::test]
async fn after_a_silent_redis_is_replaced_by_a_real_one_checkout_and_limits_recover_within_ten_seconds() {
    // Take a port a real Redis can come back on, and hold it silently first.
    let mut redis = RedisServer::start();
    redis.stop();
    let silent = SilentRedis::start_on(redis.port).await;
    let env = [
        ("BFF_REDIS_URL", silent.url.as_str()),
        ("BFF_RATE_LIMIT_RPS", "1"),
        ("BFF_RATE_LIMIT_BURST", "1"),
    ];
    let stack = spawn_with(Bff::Mobile, &env).await;
    let product = in_stock_product(&stack).await;
    let base = stack.bff.url();
    let (status, body) = checkout_at(&stack, &base, "stalled-key", &product).await;
    assert_eq!(status, 503, "{body}");

    assert_eq!(silent.port, redis.port);
    drop(silent);
    redis.restart();
    let started = Instant::now();
    loop {
        let (status, body) = checkout_at(&stack, &base, "stalled-key", &product).await;
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
    // Limits are enforced again: a burst of one, then 429.
    let tok = token("u-9");
    let statuses = [
        stack.get("/v1/products/p-1", Some(&tok), &[]).await.status,
        stack.get("/v1/products/p-1", Some(&tok), &[]).await.status,
    ];
    assert_eq!(statuses, [200, 429]);
}
