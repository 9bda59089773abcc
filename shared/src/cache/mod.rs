//! Fragment cache for non-personal upstream reads (docs/api.md#caching-and-etags).
//!
//! Keyed by upstream call. Concurrent misses for one key make one upstream
//! call (moka's `try_get_with` coalesces them). Past its TTL an entry leaves
//! the fresh tier but stays in a backup tier for a bounded stale window: if
//! the refresh fails, the stale value is served and the section reports it
//! in `meta.stale` (stale-if-error). Both tiers are weighted by the size of
//! the upstream body, so memory is bounded in bytes, not entries.
//! What to cache (never personal data) is decided by [`crate::backends`].
//! A TTL of zero turns a cache off: every read goes to the upstream and
//! moka is not on the call's path at all (no coalescing, no stale tier).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::telemetry::{CacheResult, Metrics};
use crate::upstream::UpstreamError;

#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    weight: u32,
}

/// A value from the cache, and whether it was served past its TTL because
/// the refresh failed. Staleness travels in the type, from the cache to the
/// fan-out section that awaited it (`Fanout::optional_cached`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cached<T> {
    /// The value.
    pub value: T,
    /// True when served past its TTL (stale-if-error).
    pub stale: bool,
}

impl<T> Cached<T> {
    /// A value just fetched (or within its TTL).
    pub fn fresh(value: T) -> Self {
        Self { value, stale: false }
    }

    /// The same staleness for a value derived from this one.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Cached<U> {
        Cached {
            value: f(self.value),
            stale: self.stale,
        }
    }
}

/// One kind of cached call (say, catalog products), with its own TTL.
#[derive(Clone)]
pub struct FragmentCache {
    /// `None` when the TTL is zero: the cache is off.
    tiers: Option<Tiers>,
    metrics: Arc<Metrics>,
}

#[derive(Clone)]
struct Tiers {
    fresh: Cache<String, Entry>,
    backup: Cache<String, Entry>,
}

impl std::fmt::Debug for FragmentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FragmentCache")
            .field("entries", &self.tiers.as_ref().map(|t| t.fresh.entry_count()))
            .finish()
    }
}

impl FragmentCache {
    /// A cache whose entries are fresh for `ttl`, may be served stale for
    /// `stale_for` after that when a refresh fails, and weigh at most
    /// `max_bytes` of upstream body per tier. A zero `ttl` is a cache that
    /// is off.
    pub fn new(ttl: Duration, stale_for: Duration, max_bytes: u64, metrics: Arc<Metrics>) -> Self {
        if ttl.is_zero() {
            return Self { tiers: None, metrics };
        }
        let weigher = |_: &String, entry: &Entry| entry.weight;
        let fresh = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(weigher)
            .time_to_live(ttl.max(Duration::from_millis(1)))
            .build();
        let backup = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(weigher)
            .time_to_live((ttl + stale_for).max(Duration::from_millis(1)))
            .build();
        Self {
            tiers: Some(Tiers { fresh, backup }),
            metrics,
        }
    }

    /// The value for `key`: fresh from the cache, else fetched (one fetch
    /// for all concurrent callers), else, if the fetch fails, the stale
    /// value (marked stale) when there still is one. `fetch` yields the
    /// value and the size of the body it came from. With the cache off it
    /// is `fetch`, nothing more (and `key` is not built: it is asked for
    /// only when needed).
    pub async fn get_or_fetch<T, K, F, Fut>(&self, key: K, fetch: F) -> Result<Cached<Arc<T>>, UpstreamError>
    where
        T: Send + Sync + 'static,
        K: FnOnce() -> String,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, usize), UpstreamError>>,
    {
        let Some(Tiers { fresh, backup }) = &self.tiers else {
            return fetch().await.map(|(value, _)| Cached::fresh(Arc::new(value)));
        };
        let key = key();
        if let Some(entry) = fresh.get(&key).await
            && let Ok(value) = entry.value.downcast::<T>()
        {
            self.metrics.cache(CacheResult::Hit);
            return Ok(Cached::fresh(value));
        }
        self.metrics.cache(CacheResult::Miss);
        let loaded = fresh
            .try_get_with(key.clone(), async {
                let (value, weight) = fetch().await?;
                let entry = Entry {
                    value: Arc::new(value),
                    weight: u32::try_from(weight).unwrap_or(u32::MAX).max(1),
                };
                backup.insert(key.clone(), entry.clone()).await;
                Ok::<_, UpstreamError>(entry)
            })
            .await;
        match loaded {
            Ok(entry) => entry
                .value
                .downcast::<T>()
                .map(Cached::fresh)
                .map_err(|_| UpstreamError::BadResponse),
            Err(error) => match backup.get(&key).await.map(|e| e.value.downcast::<T>()) {
                Some(Ok(value)) => {
                    self.metrics.cache(CacheResult::Stale);
                    Ok(Cached { value, stale: true })
                }
                _ => Err(*error),
            },
        }
    }
}

#[cfg(test)]
mod tests;
