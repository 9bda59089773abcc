//! Deadlines and circuit breakers, observed from outside.

use std::time::{Duration, Instant};

use bff_stack::simulator::{Fault, Service};

use crate::support::{Bff, spawn_with};

#[tokio::test]
async fn a_hanging_upstream_never_holds_the_answer_past_the_deadline() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_DEADLINE_MS", "300")]).await;
    stack.sim.set_fault(
        Service::Orders,
        Fault {
            hang: true,
            ..Fault::default()
        },
    );
    let started = Instant::now();
    let answer = stack.get_as_u1("/v1/home").await;
    let elapsed = started.elapsed();
    answer.assert_degraded(&[("recent_orders", "timeout")]);
    // Loose bound: the point is that the hang does not hold the answer.
    assert!(elapsed < Duration::from_millis(300 + 700), "answered after {elapsed:?}");
}

#[tokio::test]
async fn the_breaker_stops_calls_to_a_dead_upstream_and_closes_after_recovery() {
    let stack = spawn_with(
        Bff::Mobile,
        &[
            ("BFF_BREAKER_FAILURES", "3"),
            ("BFF_BREAKER_OPEN_MS", "300"),
            ("BFF_DEADLINE_MS", "300"),
        ],
    )
    .await;
    stack.sim.set_fault(Service::Pricing, Fault::always(503));
    for _ in 0..3 {
        stack
            .get("/v1/products/p-1", None, &[])
            .await
            .assert_degraded(&[("price", "upstream_error")]);
    }
    let calls = stack.sim.count(Service::Pricing);
    assert_eq!(calls, 3);
    for _ in 0..5 {
        stack
            .get("/v1/products/p-1", None, &[])
            .await
            .assert_degraded(&[("price", "circuit_open")]);
    }
    assert_eq!(
        stack.sim.count(Service::Pricing),
        calls,
        "no call reaches an upstream whose breaker is open"
    );
    let metrics = stack.get("/metrics", None, &[]).await.text;
    assert!(
        metrics.contains("bff_circuit_breaker_state{upstream=\"pricing\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bff_upstream_requests_total{upstream=\"pricing\",outcome=\"circuit_open\"} 5"),
        "{metrics}"
    );

    stack.sim.clear_faults();
    tokio::time::sleep(Duration::from_millis(350)).await;
    stack.get("/v1/products/p-1", None, &[]).await.assert_degraded(&[]);
    assert_eq!(stack.sim.count(Service::Pricing), calls + 1, "one probe");
    stack.get("/v1/products/p-1", None, &[]).await.assert_degraded(&[]);
    let metrics = stack.get("/metrics", None, &[]).await.text;
    assert!(
        metrics.contains("bff_circuit_breaker_state{upstream=\"pricing\"} 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_404_does_not_count_towards_opening_the_breaker() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_BREAKER_FAILURES", "2")]).await;
    for _ in 0..5 {
        stack
            .get("/v1/products/p-999999", None, &[])
            .await
            .assert_problem(404, "not_found");
    }
    assert_eq!(stack.sim.count(Service::Catalog), 5);
}
