//! Unit tests of the fan-out with a paused clock and fake calls.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::*;

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

#[tokio::test(start_paused = true)]
async fn sections_run_concurrently_and_latency_is_the_slowest_not_the_sum() {
    let fan = fanout(500);
    let start = Instant::now();
    let (a, b, c) = tokio::join!(
        fan.optional("a", answer_after(100, 1)),
        fan.optional("b", answer_after(200, 2)),
        fan.optional("c", answer_after(150, 3)),
    );
    assert_eq!((a, b, c), (Some(1), Some(2), Some(3)));
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert!(!fan.meta().partial);
}

#[tokio::test(start_paused = true)]
async fn a_section_still_running_at_the_deadline_is_degraded_as_timeout() {
    let fan = fanout(300);
    let start = Instant::now();
    let (fast, slow) = tokio::join!(
        fan.optional("fast", answer_after(10, 1)),
        fan.optional("slow", answer_after(10_000, 2))
    );
    assert_eq!(fast, Some(1));
    assert_eq!(slow, None);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    let meta = fan.meta();
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
    let (_slow, chained) = tokio::join!(fan.optional("slow", answer_after(400, ())), async {
        let ids = fan.optional("first", answer_after(50, vec![1, 2])).await?;
        *dependent_started.lock().unwrap() = Some(start.elapsed());
        fan.optional("first.detail", answer_after(50, ids.len())).await
    });
    assert_eq!(chained, Some(2));
    assert_eq!(dependent_started.lock().unwrap().unwrap(), Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn a_failed_optional_section_records_its_reason_and_the_others_survive() {
    let fan = fanout(500);
    let (ok, failed) = tokio::join!(
        fan.optional("ok", answer_after(5, "v")),
        fan.optional::<()>("orders.product", async { Err(UpstreamError::Status(500)) }),
    );
    assert_eq!(ok, Some("v"));
    assert_eq!(failed, None);
    assert_eq!(fan.meta().degraded[0].section, "orders.product");
    assert_eq!(fan.meta().degraded[0].reason, DegradedReason::UpstreamError);
    assert!(
        !fan.server_timing().contains("orders.product"),
        "nested parts are not timed separately"
    );
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
async fn server_timing_has_one_entry_per_top_level_section() {
    let fan = fanout(500);
    let _ = tokio::join!(
        fan.optional("user", answer_after(12, ())),
        fan.optional("recent_orders", answer_after(20, ()))
    );
    assert_eq!(fan.server_timing(), "user;dur=12.0, recent_orders;dur=20.0");
}
