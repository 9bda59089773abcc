//! Unit tests of the fan-out with a paused clock and fake calls.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::*;
use crate::upstream::DegradedReason;

fn fanout(budget_ms: u64) -> Fanout {
    Fanout::new(&RequestCtx::detached(
        "req-1",
        Deadline::after(Duration::from_millis(budget_ms)),
    ))
}

async fn answer_after<T>(ms: u64, value: T) -> Result<T, UpstreamError> {
    sleep(Duration::from_millis(ms)).await;
    Ok(value)
}

async fn stale_after<T>(ms: u64, value: T) -> Result<Cached<T>, UpstreamError> {
    sleep(Duration::from_millis(ms)).await;
    Ok(Cached { value, stale: true })
}

#[tokio::test(start_paused = true)]
async fn sections_run_concurrently_and_latency_is_the_slowest_not_the_sum() {
    let fan = fanout(500);
    let start = Instant::now();
    let (a, b, c) = tokio::join!(
        fan.optional("a", answer_after(100, 1)),
        fan.optional("b", answer_after(200, 2)),
        fan.optional("c", answer_after(150, 3)),
    );
    assert_eq!(
        (a.outcome(), b.outcome(), c.outcome()),
        (&Outcome::Fresh(1), &Outcome::Fresh(2), &Outcome::Fresh(3))
    );
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert!(!fan.summary(&[&a, &b, &c]).meta().partial);
}

#[tokio::test(start_paused = true)]
async fn a_section_still_running_at_the_deadline_is_degraded_as_timeout() {
    let fan = fanout(300);
    let start = Instant::now();
    let (fast, slow) = tokio::join!(
        fan.optional("fast", answer_after(10, 1)),
        fan.optional("slow", answer_after(10_000, 2))
    );
    assert_eq!(fast.into_option(), Some(1));
    assert_eq!(slow.outcome(), &Outcome::Degraded(DegradedReason::Timeout));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    let meta = fan.summary(&[&fast, &slow]).meta();
    assert!(meta.partial);
    assert_eq!(
        meta.degraded,
        vec![Degraded {
            section: "slow".into(),
            reason: DegradedReason::Timeout
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn a_dependent_call_starts_when_its_own_input_arrives_not_when_all_first_calls_end() {
    let fan = fanout(1000);
    let start = Instant::now();
    let dependent_started = std::sync::Mutex::new(None);
    let (_slow, (first, detail)) = tokio::join!(fan.optional("slow", answer_after(400, ())), async {
        let first = fan.optional("first", answer_after(50, vec![1, 2])).await;
        let detail = match first.as_input() {
            Ok(ids) => {
                *dependent_started.lock().unwrap() = Some(start.elapsed());
                fan.optional("first.detail", answer_after(50, ids.len())).await
            }
            Err(degraded) => degraded,
        };
        (first, detail)
    });
    assert_eq!(detail.into_option(), Some(2));
    assert_eq!(dependent_started.lock().unwrap().unwrap(), Duration::from_millis(50));
    assert_eq!(first.ended(), Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn a_second_stage_whose_input_failed_is_degraded_for_the_same_reason_under_the_same_name() {
    let fan = fanout(500);
    let ids = fan
        .optional::<Vec<u8>>("recommendations", async { Err(UpstreamError::CircuitOpen) })
        .await;
    let cards: Section<usize> = match ids.as_input() {
        Ok(ids) => fan.optional("recommendations", answer_after(5, ids.len())).await,
        Err(degraded) => degraded,
    };
    assert_eq!(cards.name(), "recommendations");
    assert_eq!(cards.reason(), Some(DegradedReason::CircuitOpen));
    let meta = fan.summary(&[&ids, &cards]).meta();
    assert_eq!(meta.degraded.len(), 1, "one entry for the section: {meta:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_optional_section_records_its_reason_and_the_others_survive() {
    let fan = fanout(500);
    let (ok, failed) = tokio::join!(
        fan.optional("ok", answer_after(5, "v")),
        fan.optional::<()>("ok.part", async { Err(UpstreamError::Status(500)) }),
    );
    assert_eq!(ok.value(), Some(&"v"));
    assert!(failed.is_degraded());
    let summary = fan.summary(&[&ok, &failed]);
    assert_eq!(summary.meta().degraded[0].section, "ok.part");
    assert_eq!(summary.meta().degraded[0].reason, DegradedReason::UpstreamError);
    assert_eq!(
        summary.server_timing(),
        "ok;dur=5.0",
        "nested parts are not timed separately"
    );
}

#[tokio::test(start_paused = true)]
async fn a_nested_part_that_ends_last_extends_its_sections_time() {
    let fan = fanout(500);
    let orders = fan.optional("orders", answer_after(10, ())).await;
    let products = fan.optional("orders.product", answer_after(30, ())).await;
    let summary = fan.summary(&[&orders, &Some(products), &None::<Section<()>>]);
    assert_eq!(summary.server_timing(), "orders;dur=40.0");
}

#[tokio::test(start_paused = true)]
async fn a_required_section_maps_failures_to_client_errors() {
    let fan = fanout(100);
    let not_found = fan
        .required::<()>("product", async { Err(UpstreamError::NotFound) })
        .await;
    assert_eq!(not_found.unwrap_err().code(), "not_found");
    let broken = fan
        .required::<()>("product", async { Err(UpstreamError::BadResponse) })
        .await;
    assert_eq!(broken.unwrap_err().code(), "upstream_unavailable");
    let late = fan.required("product", answer_after(1000, ())).await;
    assert_eq!(late.unwrap_err().code(), "upstream_timeout");
}

#[tokio::test(start_paused = true)]
async fn a_value_the_cache_served_stale_is_listed_in_meta_stale_once() {
    let fan = fanout(500);
    let (product, price, fresh) = tokio::join!(
        fan.required_cached("product", stale_after(5, "p")),
        fan.optional_cached("price", stale_after(5, 10)),
        fan.optional_cached("stock", async { Ok(Cached::fresh(1)) }),
    );
    let product = product.expect("served");
    assert!(product.is_stale() && price.is_stale() && !fresh.is_stale());
    let meta = fan.summary(&[&product, &price, &fresh, &price]).meta();
    assert_eq!(meta.stale, ["product", "price"]);
    assert!(!meta.partial, "stale is not partial");
    assert_eq!(product.into_inner(), "p");
}

#[tokio::test(start_paused = true)]
async fn server_timing_has_one_entry_per_top_level_section() {
    let fan = fanout(500);
    let (user, orders) = tokio::join!(
        fan.optional("user", answer_after(12, ())),
        fan.optional("recent_orders", answer_after(20, ()))
    );
    assert_eq!(
        fan.summary(&[&user, &orders]).server_timing(),
        "user;dur=12.0, recent_orders;dur=20.0"
    );
}

#[test]
fn degraded_entries_keep_the_listed_order_and_the_first_reason_per_name() {
    let at = Duration::from_millis(1);
    let timeout = Section::<()>::new("b", at, Outcome::Degraded(DegradedReason::Timeout));
    let open = Section::<()>::new("b", at, Outcome::Degraded(DegradedReason::CircuitOpen));
    let a = Section::<()>::new("a.price", at, Outcome::Degraded(DegradedReason::Overloaded));
    let meta = Summary::new("r".into(), &[&timeout, &a, &open]).meta();
    let listed: Vec<_> = meta.degraded.iter().map(|d| (d.section.as_str(), d.reason)).collect();
    assert_eq!(
        listed,
        [("b", DegradedReason::Timeout), ("a.price", DegradedReason::Overloaded)]
    );
    assert_eq!(meta.request_id, "r");
}
