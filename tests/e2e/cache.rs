//! The fragment cache and ETags, observed through the simulator's counters.

use std::time::Duration;

use bff_stack::simulator::{Fault, Service};

use crate::support::{Bff, spawn, spawn_with};

#[tokio::test]
async fn many_concurrent_identical_reads_make_one_catalog_call() {
    let stack = spawn(Bff::Mobile).await;
    stack.sim.set_fault(
        Service::Catalog,
        Fault {
            latency_ms: 50,
            ..Fault::default()
        },
    );
    let answers = futures::future::join_all((0..20).map(|_| stack.get("/v1/products/p-77", None, &[]))).await;
    assert!(answers.iter().all(|a| a.status == 200));
    assert_eq!(stack.sim.count(Service::Catalog), 1);
    assert_eq!(stack.sim.count(Service::Pricing), 1, "prices are cached too");
    assert_eq!(stack.sim.count(Service::Inventory), 20, "stock is not cached");
    let metrics = stack.get("/metrics", None, &[]).await.text;
    assert!(
        metrics.contains("bff_cache_requests_total{result=\"miss\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn past_the_ttl_a_failing_catalog_is_served_stale_and_reported() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_CACHE_PRODUCT_TTL_MS", "100"), ("BFF_CACHE_STALE_MS", "60000")],
    )
    .await;
    let fresh = stack.get("/v1/products/p-8", None, &[]).await;
    fresh.assert_degraded(&[]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stack.sim.set_fault(Service::Catalog, Fault::always(500));
    let stale = stack.get("/v1/products/p-8", None, &[]).await;
    assert_eq!(stale.status, 200, "{}", stale.text);
    assert_eq!(stale.json()["meta"]["stale"], serde_json::json!(["product"]));
    assert_eq!(stale.json()["product"], fresh.json()["product"]);
    assert_eq!(stack.sim.count(Service::Catalog), 2, "the refresh was attempted");
    let metrics = stack.get("/metrics", None, &[]).await.text;
    assert!(
        metrics.contains("bff_cache_requests_total{result=\"stale\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn personal_sections_are_never_cached() {
    let stack = spawn(Bff::Mobile).await;
    for _ in 0..3 {
        assert_eq!(stack.get_as_u1("/v1/home").await.status, 200);
    }
    for service in [
        Service::Users,
        Service::Orders,
        Service::Notifications,
        Service::Recommendations,
    ] {
        assert_eq!(stack.sim.count(service), 3, "{service:?}");
    }
}

#[tokio::test]
async fn a_public_product_answer_revalidates_with_if_none_match() {
    let stack = spawn(Bff::Mobile).await;
    let first = stack.get("/v1/products/p-9", None, &[]).await;
    let etag = first.header("etag").expect("ETag").to_owned();
    assert!(etag.starts_with("W/\""));
    let second = stack.get("/v1/products/p-9", None, &[]).await;
    assert_eq!(
        second.header("etag"),
        Some(etag.as_str()),
        "same data, same tag, whatever the request id"
    );
    let revalidated = stack.get("/v1/products/p-9", None, &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.text.is_empty());
    let other = stack
        .get("/v1/products/p-9", None, &[("if-none-match", "W/\"nope\"")])
        .await;
    assert_eq!(other.status, 200);
}
