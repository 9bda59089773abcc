//! The Redis engine: GCRA in one Lua script, so check-and-update is atomic
//! across replicas, timed by Redis's own clock so replicas' clocks do not
//! matter. While Redis is unreachable it fails open: the request is
//! admitted, the error logged and counted (`bff_rate_limit_errors_total`).

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use metrics::Counter;
use redis::Script;

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

/// Buckets shared by every replica through Redis.
#[derive(Debug)]
pub struct RedisLimiter {
    redis: Arc<SharedRedis>,
    script: Script,
    burst: u32,
    per_token_us: u64,
    errors: Counter,
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
        })
    }

    async fn decide(&self, key: &str) -> Decision {
        match self.run(key).await {
            Ok((allowed, remaining, reset_us, retry_us)) => Decision {
                allowed: allowed == 1,
                limit: self.burst,
                remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
                reset_secs: ceil_secs(u64::try_from(reset_us.max(0)).unwrap_or(0)),
                retry_after_secs: ceil_secs(u64::try_from(retry_us.max(0)).unwrap_or(0)).max(u64::from(allowed != 1)),
            },
            Err(e) => {
                self.errors.increment(1);
                tracing::warn!(error = %e, "rate limiting skipped: redis unavailable (failing open)");
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

    async fn run(&self, key: &str) -> Result<(i64, i64, i64, i64), crate::redis_conn::RedisDown> {
        let mut connection = self.redis.connection().await?;
        let bucket = format!("bff:rl:{key}");
        self.script
            .key(bucket)
            .arg(self.per_token_us)
            .arg(self.burst)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.redis.failed(&e))
    }
}

impl RateLimiter for RedisLimiter {
    fn check<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Decision> {
        self.decide(key).boxed()
    }
}
