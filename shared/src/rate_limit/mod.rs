//! Per-client rate limiting (docs/api.md#rate-limiting): a token bucket of
//! `BFF_RATE_LIMIT_BURST` refilled at `BFF_RATE_LIMIT_RPS`, keyed by the
//! JWT `sub` when the request carries a valid token, else by the client
//! address ([`crate::client_addr`]: `X-Forwarded-For` believed only from
//! `BFF_TRUSTED_PROXIES`; an IPv6 client keyed by its /64).
//!
//! The engine sits behind [`RateLimiter`]: in memory ([`MemoryLimiter`],
//! governor's GCRA) by default, in Redis ([`RedisLimiter`], the same GCRA
//! in a Lua script) when replicas must share one limit. The middleware
//! here only picks the key, asks the engine, and writes the headers.

mod memory;
mod middleware;
mod redis;

pub use self::memory::MemoryLimiter;
pub use self::middleware::{RateLimitLayer, RateLimitService, RateLimitState};
pub use self::redis::RedisLimiter;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use crate::auth::Verifier;
use crate::client_addr::TrustedProxies;
use crate::config::RateLimitSettings;
use crate::redis_conn::SharedRedis;
use crate::telemetry::Metrics;

/// The verdict for one request, with what the headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// The bucket size (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests left right now (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Whole seconds until the bucket is full again (`RateLimit-Reset`).
    pub reset_secs: u64,
    /// Whole seconds until a rejected request would be admitted (at least 1).
    pub retry_after_secs: u64,
}

/// A rate-limit engine.
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Takes one token for `key`, or refuses. `deadline` is the request's:
    /// an engine that does I/O decides by then (the Redis engine admits
    /// the request when Redis has not answered in time).
    fn check<'a>(&'a self, key: &'a str, deadline: Instant) -> BoxFuture<'a, Decision>;

    /// The decision without waiting, for an engine that needs no I/O (the
    /// middleware then neither boxes nor clones anything for the request).
    /// `None`: ask [`check`](Self::check).
    fn check_now(&self, _key: &str) -> Option<Decision> {
        None
    }
}

/// Rounds a duration in microseconds up to whole seconds.
pub(crate) fn ceil_secs(micros: u64) -> u64 {
    micros.div_ceil(1_000_000)
}

/// The engine the settings ask for: none when off, Redis when a Redis URL
/// is configured, else memory (with a task that forgets idle clients).
pub fn build(
    settings: &RateLimitSettings,
    redis: Option<&Arc<SharedRedis>>,
    verifier: &Arc<Verifier>,
    metrics: &Arc<Metrics>,
    trusted_proxies: &TrustedProxies,
) -> Option<RateLimitState> {
    let limiter: Arc<dyn RateLimiter> = match redis {
        Some(redis) => {
            let errors = metrics.counter("bff_rate_limit_errors_total", &[]);
            Arc::new(RedisLimiter::new(redis.clone(), settings.rps, settings.burst, errors)?)
        }
        None => {
            let memory = Arc::new(MemoryLimiter::new(settings.rps, settings.burst)?);
            let weak = Arc::downgrade(&memory);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(memory) => memory.forget_idle(),
                        None => break,
                    }
                }
            });
            memory
        }
    };
    Some(RateLimitState {
        limiter,
        verifier: verifier.clone(),
        metrics: metrics.clone(),
        trusted_proxies: trusted_proxies.clone(),
    })
}
