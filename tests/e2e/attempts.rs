//! Every upstream attempt is counted once in `bff_upstream_requests_total`,
//! a timed-out attempt is a breaker failure whichever timer cut it, and the
//! breaker gauge follows each transition as it happens
//! (docs/architecture.md#an-upstream-calls-life).

use std::time::Duration;

use bff_stack::simulator::{Fault, Service};

use crate::support::{Bff, Stack, spawn_with, token};

const OPEN_MS: u64 = 1000;

/// Outcomes a client never sent a request for.
const REFUSED: [&str; 2] = ["circuit_open", "overloaded"];
const OUTCOMES: [&str; 8] = [
    "ok",
    "timeout",
    "circuit_open",
    "overloaded",
    "upstream_error",
    "bad_response",
    "not_found",
    "cancelled",
];

/// The value of `series` in a Prometheus text exposition (0 when absent).
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn attempts(metrics: &str, upstream: &str, outcome: &str) -> f64 {
    value(
        metrics,
        &format!("bff_upstream_requests_total{{upstream=\"{upstream}\",outcome=\"{outcome}\"}}"),
    )
}

fn gauge(stack: &Stack, upstream: &str) -> f64 {
    value(
        &stack.bff.platform.metrics.render(),
        &format!("bff_circuit_breaker_state{{upstream=\"{upstream}\"}}"),
    )
}

async fn scrape(stack: &Stack) -> String {
    let answer = stack.get("/metrics", None, &[]).await;
    assert_eq!(answer.status, 200);
    answer.text
}

fn hang() -> Fault {
    Fault {
        hang: true,
        ..Fault::default()
    }
}

#[tokio::test]
async fn a_hanging_upstream_is_one_timeout_per_request_until_its_breaker_opens_probes_and_closes() {
    let open = OPEN_MS.to_string();
    let stack = spawn_with(
        Bff::Mobile,
        &[
            ("BFF_DEADLINE_MS", "300"),
            ("BFF_BREAKER_FAILURES", "3"),
            ("BFF_BREAKER_OPEN_MS", &open),
        ],
    )
    .await;
    let metrics = scrape(&stack).await;
    assert!(
        metrics.contains("bff_upstream_requests_total{upstream=\"recommendations\",outcome=\"cancelled\"} 0"),
        "the cancelled series is exported before the first one: {metrics}"
    );
    stack.sim.set_fault(Service::Recommendations, hang());

    // Each home waits for recommendations until the deadline: the fan-out
    // cuts the call, and that is one timeout, counted as a breaker failure.
    for homes in 1..=3 {
        stack
            .get_as_u1("/v1/home")
            .await
            .assert_degraded(&[("recommendations", "timeout")]);
        let metrics = scrape(&stack).await;
        assert_eq!(
            attempts(&metrics, "recommendations", "timeout"),
            homes as f64,
            "{metrics}"
        );
        assert_eq!(attempts(&metrics, "recommendations", "cancelled"), 0.0, "{metrics}");
    }
    assert_eq!(gauge(&stack, "recommendations"), 1.0, "open after three timeouts");

    stack
        .get_as_u1("/v1/home")
        .await
        .assert_degraded(&[("recommendations", "circuit_open")]);
    assert_eq!(stack.sim.count(Service::Recommendations), 3, "refused, not sent");
    let metrics = scrape(&stack).await;
    assert_eq!(attempts(&metrics, "recommendations", "circuit_open"), 1.0, "{metrics}");

    // After the open period the next home's call is the probe; it hangs,
    // and while it is out the gauge reads half-open.
    tokio::time::sleep(Duration::from_millis(OPEN_MS + 200)).await;
    let probe_home = tokio::spawn({
        let request = stack.http.get(stack.url("/v1/home")).bearer_auth(token("u-1"));
        async move { request.send().await.expect("home answers").text().await.expect("body") }
    });
    let mut half_open_seen = false;
    while !probe_home.is_finished() {
        if stack.sim.count(Service::Recommendations) == 4 && gauge(&stack, "recommendations") == 2.0 {
            half_open_seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(half_open_seen, "the gauge never read 2 while the probe was out");
    let body: serde_json::Value = serde_json::from_str(&probe_home.await.expect("joined")).expect("JSON");
    assert_eq!(body["meta"]["degraded"][0]["reason"], "timeout", "{body}");
    assert_eq!(gauge(&stack, "recommendations"), 1.0, "the failed probe re-opened it");

    // Healed: the next probe closes it.
    stack.sim.clear_faults();
    tokio::time::sleep(Duration::from_millis(OPEN_MS + 200)).await;
    stack.get_as_u1("/v1/home").await.assert_degraded(&[]);
    assert_eq!(gauge(&stack, "recommendations"), 0.0, "closed by a successful probe");

    // Six homes, one recommendations attempt each, each counted once.
    let metrics = scrape(&stack).await;
    let counted: Vec<(&str, f64)> = OUTCOMES
        .iter()
        .map(|o| (*o, attempts(&metrics, "recommendations", o)))
        .filter(|(_, n)| *n > 0.0)
        .collect();
    assert_eq!(
        counted,
        [("ok", 1.0), ("timeout", 4.0), ("circuit_open", 1.0)],
        "{metrics}"
    );
    assert_every_sent_attempt_is_counted_once(&stack, &metrics);
}

/// For every upstream, the attempts counted as sent (every outcome but a
/// refusal) are the requests the simulator received.
fn assert_every_sent_attempt_is_counted_once(stack: &Stack, metrics: &str) {
    for service in Service::ALL {
        let sent: f64 = OUTCOMES
            .iter()
            .filter(|o| !REFUSED.contains(o))
            .map(|o| attempts(metrics, service.name(), o))
            .sum();
        assert_eq!(sent, stack.sim.count(service) as f64, "{}: {metrics}", service.name());
    }
}

#[tokio::test]
async fn a_pass_through_cut_at_the_deadline_is_one_timeout_and_a_breaker_failure() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_DEADLINE_MS", "300"), ("BFF_BREAKER_FAILURES", "2")],
    )
    .await;
    stack.sim.set_fault(Service::Orders, hang());
    for _ in 0..2 {
        stack
            .get_as_u1("/v1/orders/o-1-1")
            .await
            .assert_problem(504, "upstream_timeout");
    }
    stack
        .get_as_u1("/v1/orders/o-1-1")
        .await
        .assert_problem(503, "upstream_unavailable");
    let metrics = scrape(&stack).await;
    assert_eq!(attempts(&metrics, "orders", "timeout"), 2.0, "{metrics}");
    assert_eq!(attempts(&metrics, "orders", "circuit_open"), 1.0, "{metrics}");
    assert_eq!(gauge(&stack, "orders"), 1.0);
    assert_every_sent_attempt_is_counted_once(&stack, &metrics);
}
