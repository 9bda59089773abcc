//! The Redis engine: GCRA in one Lua script, so check-and-update is atomic
//! across replicas, timed by Redis's own clock so replicas' clocks do not
//! matter. While Redis is unreachable, or has not answered within
//! `BFF_REDIS_TIMEOUT_MS` (or the request's deadline, if nearer), it fails
//! open: the request is admitted, the error counted
//! (`bff_rate_limit_errors_total`) and logged, at most once every
//! [`LOG_EVERY`] so that an outage under load does not flood the log.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use metrics::Counter;
use redis::Script;
use tokio::time::Instant;

use super::{Decision, RateLimiter, ceil_secs};
use crate::redis_conn::SharedRedis;

/// KEYS[1]: bucket key. ARGV[1]: microseconds per token, ARGV[2]: burst.
/// Returns {allowed (0/1), remaining, reset_us, retry_after_us}.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local per = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tolerance = per * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + per
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
local remaining = math.floor((now + tolerance - new_tat) / per)
return {1, remaining, new_tat - now, 0}
"#;

/// The least time between two "failing open" warnings.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Buckets shared by every replica through Redis.
#[derive(Debug)]
pub struct RedisLimiter {
    redis: Arc<SharedRedis>,
    script: Script,
    burst: u32,
    per_token_us: u64,
    errors: Counter,
    log: Throttle,
}

impl RedisLimiter {
    /// A limiter of `burst` tokens at `rps` per second over `redis`; `None`
    /// when either is 0. `errors` counts fail-open admissions.
    pub fn new(redis: Arc<SharedRedis>, rps: u32, burst: u32, errors: Counter) -> Option<Self> {
        if rps == 0 || burst == 0 {
            return None;
        }
        Some(Self {
            redis,
            script: Script::new(GCRA),
            burst,
            per_token_us: 1_000_000 / u64::from(rps),
            errors,
            log: Throttle::new(LOG_EVERY),
        })
    }

    async fn decide(&self, key: &str, deadline: Instant) -> Decision {
        match self.run(key, deadline).await {
            Ok((allowed, remaining, reset_us, retry_us)) => Decision {
                allowed: allowed == 1,
                limit: self.burst,
                remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
                reset_secs: ceil_secs(u64::try_from(reset_us.max(0)).unwrap_or(0)),
                retry_after_secs: ceil_secs(u64::try_from(retry_us.max(0)).unwrap_or(0)).max(u64::from(allowed != 1)),
            },
            Err(e) => {
                self.errors.increment(1);
                if let Some(skipped) = self.log.allow() {
                    tracing::warn!(
                        error = %e,
                        similar_since_last = skipped,
                        "rate limiting skipped: redis unavailable (failing open)"
                    );
                }
                Decision {
                    allowed: true,
                    limit: self.burst,
                    remaining: self.burst,
                    reset_secs: 0,
                    retry_after_secs: 0,
                }
            }
        }
    }

    async fn run(&self, key: &str, deadline: Instant) -> Result<(i64, i64, i64, i64), crate::redis_conn::RedisDown> {
        let bucket = format!("bff:rl:{key}");
        self.redis
            .call(Some(deadline), |mut connection| async move {
                self.script
                    .key(bucket)
                    .arg(self.per_token_us)
                    .arg(self.burst)
                    .invoke_async(&mut connection)
                    .await
            })
            .await
    }
}

impl RateLimiter for RedisLimiter {
    fn check<'a>(&'a self, key: &'a str, deadline: Instant) -> BoxFuture<'a, Decision> {
        self.decide(key, deadline).boxed()
    }
}

/// Lets one event through per period and counts the others.
#[derive(Debug)]
struct Throttle {
    epoch: Instant,
    every_ms: u64,
    /// Milliseconds since `epoch` before which nothing is let through.
    next_ms: AtomicU64,
    skipped: AtomicU64,
}

impl Throttle {
    fn new(every: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            every_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
            next_ms: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    /// `Some(events skipped since the last one let through)` at most once
    /// per period; `None` otherwise.
    fn allow(&self) -> Option<u64> {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next_ms.load(Ordering::Relaxed);
        if now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now.saturating_add(self.every_ms),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(self.skipped.swap(0, Ordering::Relaxed));
        }
        self.skipped.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_throttle_lets_one_event_through_per_period_and_counts_the_rest() {
        let throttle = Throttle::new(Duration::from_secs(10));
        assert_eq!(throttle.allow(), Some(0));
        assert_eq!((0..5).filter_map(|_| throttle.allow()).count(), 0);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(throttle.allow(), Some(5));
        assert_eq!(throttle.allow(), None);
    }
}
