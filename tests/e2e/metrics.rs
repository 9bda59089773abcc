//! The metrics of docs/operations.md#metrics, observed through `/metrics`:
//! one degraded answer moves exactly the series it should, by one.

use std::collections::BTreeMap;

use bff_stack::simulator::{Fault, Service};

use crate::support::{Bff, Stack, spawn};

/// The families a degraded answer touches.
const FAMILIES: [&str; 3] = [
    "bff_degraded_sections_total{",
    "bff_upstream_requests_total{",
    "bff_http_requests_total{",
];

/// Every series of `FAMILIES` and its value.
async fn scrape(stack: &Stack) -> (BTreeMap<String, f64>, String) {
    let text = stack.get("/metrics", None, &[]).await.text;
    let series = text
        .lines()
        .filter(|line| FAMILIES.iter().any(|f| line.starts_with(f)))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect();
    (series, text)
}

#[tokio::test]
async fn one_degraded_answer_moves_exactly_its_series_by_one() {
    let stack = spawn(Bff::Mobile).await;
    stack.sim.set_fault(Service::Pricing, Fault::always(503));
    let (before, _) = scrape(&stack).await;
    stack
        .get("/v1/products/p-1", None, &[])
        .await
        .assert_degraded(&[("price", "upstream_error")]);
    let (after, text) = scrape(&stack).await;

    let mut moved: BTreeMap<String, f64> = BTreeMap::new();
    for (series, value) in &after {
        let delta = value - before.get(series).copied().unwrap_or(0.0);
        if delta != 0.0 {
            moved.insert(series.clone(), delta);
        }
    }
    let expected: BTreeMap<String, f64> = [
        r#"bff_degraded_sections_total{route="/v1/products/{id}",section="price",reason="upstream_error"}"#,
        r#"bff_upstream_requests_total{upstream="pricing",outcome="upstream_error"}"#,
        r#"bff_upstream_requests_total{upstream="catalog",outcome="ok"}"#,
        r#"bff_upstream_requests_total{upstream="inventory",outcome="ok"}"#,
        r#"bff_http_requests_total{route="/v1/products/{id}",status="200"}"#,
        // The first scrape, counted once it was answered.
        r#"bff_http_requests_total{route="/metrics",status="200"}"#,
    ]
    .into_iter()
    .map(|s| (s.to_owned(), 1.0))
    .collect();
    assert_eq!(moved, expected, "{text}");
}

#[tokio::test]
async fn the_in_flight_gauge_counts_the_requests_being_served() {
    let stack = spawn(Bff::Mobile).await;
    stack.get_as_u1("/v1/home").await.assert_degraded(&[]);
    // The scrape itself is the one request in flight while it renders.
    let text = stack.get("/metrics", None, &[]).await.text;
    assert!(text.contains("\nbff_http_requests_in_flight 1\n"), "{text}");
    assert!(text.contains("# TYPE bff_http_requests_in_flight gauge"), "{text}");
}
