//! Cache behaviour with fake fetches (no upstream).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

fn cache(ttl_ms: u64, stale_ms: u64) -> FragmentCache {
    FragmentCache::new(
        Duration::from_millis(ttl_ms),
        Duration::from_millis(stale_ms),
        1 << 20,
        Metrics::new(),
    )
}

#[tokio::test]
async fn concurrent_misses_for_one_key_make_one_fetch() {
    let cache = cache(10_000, 0);
    let fetches = AtomicUsize::new(0);
    let fetch = || async {
        fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok::<_, UpstreamError>((7u32, 10))
    };
    let results = futures::future::join_all((0..20).map(|_| cache.get_or_fetch(|| "k".into(), fetch))).await;
    assert!(results.iter().all(|r| *r.as_ref().unwrap().value == 7));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        cache.get_or_fetch(|| "k".into(), fetch).await.unwrap(),
        Cached::fresh(Arc::new(7)),
        "then a hit"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn past_the_ttl_a_failed_refresh_serves_the_stale_value_and_says_so() {
    let cache = cache(30, 10_000);
    cache
        .get_or_fetch(|| "k".into(), || async { Ok::<_, UpstreamError>((1u32, 1)) })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let served = cache
        .get_or_fetch::<u32, _, _, _>(|| "k".into(), || async { Err(UpstreamError::Timeout) })
        .await;
    assert_eq!(
        served,
        Ok(Cached {
            value: Arc::new(1),
            stale: true
        })
    );
}

#[tokio::test]
async fn past_the_stale_window_a_failed_refresh_is_an_error() {
    let cache = cache(20, 20);
    cache
        .get_or_fetch(|| "k".into(), || async { Ok::<_, UpstreamError>((1u32, 1)) })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    let result = cache
        .get_or_fetch::<u32, _, _, _>(|| "k".into(), || async { Err(UpstreamError::Status(500)) })
        .await;
    assert_eq!(result.unwrap_err(), UpstreamError::Status(500));
}

#[tokio::test]
async fn a_fresh_value_is_not_marked_stale() {
    let cache = cache(10_000, 10_000);
    let fetched = cache
        .get_or_fetch(|| "k".into(), || async { Ok::<_, UpstreamError>((1u32, 1)) })
        .await;
    assert_eq!(fetched, Ok(Cached::fresh(Arc::new(1))));
    let hit = cache
        .get_or_fetch::<u32, _, _, _>(|| "k".into(), || async { Err(UpstreamError::Timeout) })
        .await;
    assert_eq!(hit, Ok(Cached::fresh(Arc::new(1))), "a hit within the TTL is fresh");
}

#[tokio::test]
async fn a_zero_ttl_turns_the_cache_off_every_read_fetches_and_nothing_is_served_stale() {
    let cache = cache(0, 10_000);
    let fetches = AtomicUsize::new(0);
    for _ in 0..3 {
        let value = cache
            .get_or_fetch(
                || unreachable!("no key is built for a cache that is off"),
                || async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, UpstreamError>((5u32, 1))
                },
            )
            .await;
        assert_eq!(value, Ok(Cached::fresh(Arc::new(5))));
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 3, "one fetch per read");
    let failed = cache
        .get_or_fetch::<u32, _, _, _>(|| "k".into(), || async { Err(UpstreamError::Timeout) })
        .await;
    assert_eq!(failed, Err(UpstreamError::Timeout), "no stale tier to fall back on");
}
