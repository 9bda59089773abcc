//! Retries, their budget and hedged GETs (docs/configuration.md#upstreams), over
//! loopback against the simulator: what they mend, what they never retry,
//! and how many extra calls an upstream can be made to take.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use bff_stack::simulator::{Fault, Service};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::{Bff, Stack, spawn, spawn_with, token};

/// No rate limit: these tests send bursts from one client.
const NO_LIMIT: (&str, &str) = ("BFF_RATE_LIMIT_RPS", "0");
/// A breaker that never opens, so what the upstream sees is the retries'
/// doing alone.
const NO_BREAKER: (&str, &str) = ("BFF_BREAKER_FAILURES", "1000000");
/// The budget's floor: 10 retries per second over its 10 s window.
const FLOOR: u64 = 100;

fn failing(status: u16, rate: f64) -> Fault {
    Fault {
        error_rate: rate,
        error_status: status,
        ..Fault::default()
    }
}

/// The value of one exported series (0 when absent).
fn sample(stack: &Stack, series: &str) -> f64 {
    let prefix = format!("{series} ");
    stack
        .bff
        .platform
        .metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn counter(stack: &Stack, name: &str, upstream: &str) -> f64 {
    sample(stack, &format!("{name}{{upstream=\"{upstream}\"}}"))
}

fn attempts(stack: &Stack, upstream: &str, outcome: &str) -> f64 {
    sample(
        stack,
        &format!("bff_upstream_requests_total{{upstream=\"{upstream}\",outcome=\"{outcome}\"}}"),
    )
}

/// `n` home requests as `u-1`, ten at a time; the `user` section of each.
async fn homes(stack: &Stack, n: usize) -> Vec<Value> {
    let bearer = token("u-1");
    let mut users = Vec::with_capacity(n);
    for _ in 0..n.div_ceil(10) {
        let batch = (0..10.min(n - users.len())).map(|_| stack.get("/v1/home", Some(&bearer), &[]));
        for answer in join_all(batch).await {
            assert_eq!(answer.status, 200, "{}", answer.text);
            let body = answer.json();
            let degraded = body["meta"]["degraded"].as_array().expect("degraded").clone();
            users.push(json!({"user": body["user"], "degraded": degraded}));
        }
    }
    users
}

fn user_degraded(home: &Value) -> bool {
    home["degraded"]
        .as_array()
        .expect("degraded")
        .iter()
        .any(|d| d["section"] == "user")
}

#[tokio::test]
async fn a_share_of_503s_is_absorbed_by_retries_while_the_upstream_sees_only_the_budgets_extra_calls() {
    let stack = spawn_with(Bff::Mobile, &[NO_LIMIT, ("BFF_RETRIES", "2")]).await;
    stack.sim.set_fault(Service::Users, failing(503, 0.1));
    let calls = 200;
    let homes = homes(&stack, calls).await;
    let degraded = homes.iter().filter(|h| user_degraded(h)).count();
    // Each call fails only if three attempts in a row answer 503 (1 in
    // 1000); without retries about 20 would be degraded.
    assert!(degraded <= 2, "{degraded} of {calls} user sections still degraded");
    let seen = stack.sim.count(Service::Users);
    let retries = counter(&stack, "bff_upstream_retries_total", "users") as u64;
    assert!(retries > 0, "some 503 was retried");
    assert_eq!(
        seen,
        calls as u64 + retries,
        "every retry is one more call, and only retries are"
    );
    assert!(
        retries <= calls as u64 / 5 + FLOOR,
        "{retries} retries for {calls} calls"
    );
    assert_eq!(
        attempts(&stack, "users", "ok") + attempts(&stack, "users", "upstream_error"),
        seen as f64,
        "every attempt is counted, retries included"
    );
}

#[tokio::test]
async fn an_always_failing_upstream_gets_at_most_its_calls_plus_the_budget_share_plus_the_floor() {
    let stack = spawn_with(Bff::Mobile, &[NO_LIMIT, NO_BREAKER, ("BFF_RETRIES", "3")]).await;
    stack.sim.set_fault(Service::Users, failing(503, 1.0));
    let calls = 300u64;
    let homes = homes(&stack, calls as usize).await;
    assert!(
        homes.iter().all(user_degraded),
        "no retry can mend an upstream that always fails"
    );
    let seen = stack.sim.count(Service::Users);
    // Three retries each would be 1200 calls; the budget allows 20 % of
    // the calls plus 10 per second over 10 s.
    assert!(
        seen <= calls + calls / 5 + FLOOR,
        "{seen} calls reached an upstream that was called {calls} times"
    );
    assert!(seen >= calls + FLOOR, "the floor alone allows {FLOOR} retries: {seen}");
    let retries = counter(&stack, "bff_upstream_retries_total", "users") as u64;
    assert_eq!(seen, calls + retries);
}

#[tokio::test]
async fn a_timed_out_call_is_never_retried() {
    let stack = spawn_with(
        Bff::Mobile,
        &[
            ("BFF_RETRIES", "3"),
            ("BFF_UPSTREAM_USERS_TIMEOUT_MS", "100"),
            ("BFF_DEADLINE_MS", "1000"),
        ],
    )
    .await;
    stack.sim.set_fault(
        Service::Users,
        Fault {
            hang: true,
            ..Fault::default()
        },
    );
    let answer = stack.get_as_u1("/v1/home").await;
    answer.assert_degraded(&[("user", "timeout")]);
    assert_eq!(stack.sim.count(Service::Users), 1, "time was left for three retries");
    assert_eq!(counter(&stack, "bff_upstream_retries_total", "users"), 0.0);
}

#[tokio::test]
async fn a_checkout_whose_order_post_is_answered_503_is_not_retried() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_RETRIES", "3")]).await;
    let ids = (1..=100).map(|n| format!("p-{n}")).collect::<Vec<_>>().join(",");
    let stock = stack
        .upstream(Service::Inventory, &format!("/stock?product_ids={ids}"), None)
        .await;
    let product = stock["items"]
        .as_array()
        .expect("stock")
        .iter()
        .find(|s| s["available"].as_i64() >= Some(1))
        .expect("a product in stock")["product_id"]
        .clone();
    stack.sim.set_fault(Service::Orders, failing(503, 1.0));
    stack.sim.reset_counters();
    let response = stack
        .http
        .post(stack.url("/v1/checkout"))
        .bearer_auth(token("u-1"))
        .header("idempotency-key", "k-retry-503")
        .json(&json!({"lines": [{"product_id": product, "quantity": 1}]}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 503, "{:?}", response.text().await);
    let posts = stack
        .sim
        .requests(Service::Orders)
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "the upstream may have placed the order: a 503 POST is final");
    assert_eq!(counter(&stack, "bff_upstream_retries_total", "orders"), 0.0);
}

/// An upstream on loopback that answers every request with `body`, the
/// first one only after `first_delay`; counts the requests.
async fn slow_first(body: Value, first_delay: Duration) -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    let app = Router::new().fallback(move || {
        let body = body.clone();
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                tokio::time::sleep(first_delay).await;
            }
            axum::Json(body).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, count)
}

#[tokio::test]
async fn hedging_turns_a_slow_first_attempt_into_an_answer_in_time_with_two_calls() {
    let probe = spawn(Bff::Mobile).await;
    let user = probe.upstream(Service::Users, "/users/u-1", Some("u-1")).await;
    // The first answer would come long after the 500 ms deadline.
    let (url, calls) = slow_first(user, Duration::from_secs(3)).await;
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_UPSTREAM_USERS_URL", &url), ("BFF_UPSTREAM_USERS_HEDGE_MS", "50")],
    )
    .await;
    let answer = stack.get_as_u1("/v1/home").await;
    answer.assert_degraded(&[]);
    assert_eq!(answer.json()["user"]["id"], "u-1");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the first call and its hedge");
    assert_eq!(counter(&stack, "bff_upstream_hedges_total", "users"), 1.0);
    assert_eq!(attempts(&stack, "users", "ok"), 1.0);
    assert_eq!(
        attempts(&stack, "users", "cancelled"),
        1.0,
        "the slow attempt lost and was cancelled"
    );
    assert_eq!(
        counter(&stack, "bff_upstream_hedges_total", "orders"),
        0.0,
        "only users hedges"
    );
}

/// The calls a composite makes by design (docs/api.md): one per
/// upstream it names, and one more to catalog or pricing where a second
/// stage needs them for other products.
type Calls = &'static [(&'static str, u64)];

#[tokio::test]
async fn with_nothing_configured_every_upstream_call_of_a_composite_is_exactly_one_attempt() {
    let routes: [(Bff, &str, Calls); 4] = [
        (
            Bff::Mobile,
            "/v1/home",
            &[
                ("catalog", 1),
                ("notifications", 1),
                ("orders", 1),
                ("pricing", 1),
                ("recommendations", 1),
                ("users", 1),
            ],
        ),
        (
            Bff::Mobile,
            "/v1/products/p-1",
            &[("catalog", 1), ("inventory", 1), ("pricing", 1)],
        ),
        (
            Bff::Web,
            "/v1/dashboard",
            // Catalog for the ordered products and for the recommended ones.
            &[
                ("catalog", 2),
                ("notifications", 1),
                ("orders", 1),
                ("pricing", 1),
                ("recommendations", 1),
                ("users", 1),
            ],
        ),
        (
            Bff::Web,
            "/v1/products/p-1",
            // Catalog and pricing for the product and for its related ones.
            &[("catalog", 2), ("inventory", 1), ("pricing", 2), ("reviews", 1)],
        ),
    ];
    for (bff, path, expected) in routes {
        let stack = spawn(bff).await;
        let answer = stack.get_as_u1(path).await;
        answer.assert_degraded(&[]);
        let mut called: Vec<(&str, u64)> = Service::ALL
            .iter()
            .map(|s| (s.name(), stack.sim.count(*s)))
            .filter(|(_, n)| *n > 0)
            .collect();
        called.sort();
        assert_eq!(called, expected, "{path}");
        for upstream in Service::ALL {
            let name = upstream.name();
            assert_eq!(
                attempts(&stack, name, "ok"),
                stack.sim.count(upstream) as f64,
                "{path}: {name}"
            );
            for series in ["bff_upstream_retries_total", "bff_upstream_hedges_total"] {
                let exported = format!("{series}{{upstream=\"{name}\"}} 0");
                assert!(
                    stack.bff.platform.metrics.render().contains(&exported),
                    "{exported} is exported before any retry"
                );
            }
        }
    }
}
