//! The in-memory engine: governor's keyed GCRA limiter (a well-kept crate
//! that already does this correctly and lock-free), plus the bookkeeping
//! for the `RateLimit-*` headers.

use std::num::NonZeroU32;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

use super::{Decision, RateLimiter, ceil_secs};

type Keyed = Governor<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Per-key buckets in this process.
#[derive(Debug)]
pub struct MemoryLimiter {
    limiter: Keyed,
    burst: u32,
    /// Microseconds to refill one token.
    per_token_us: u64,
    clock: DefaultClock,
}

impl MemoryLimiter {
    /// A limiter of `burst` tokens refilled at `rps` per second; `None`
    /// when either is 0 (limiting off).
    pub fn new(rps: u32, burst: u32) -> Option<Self> {
        let (rps_nz, burst_nz) = (NonZeroU32::new(rps)?, NonZeroU32::new(burst)?);
        let quota = Quota::per_second(rps_nz).allow_burst(burst_nz);
        let limiter = Governor::keyed(quota).with_middleware::<StateInformationMiddleware>();
        Some(Self {
            limiter,
            burst,
            per_token_us: 1_000_000 / u64::from(rps).max(1),
            clock: DefaultClock::default(),
        })
    }

    /// Forgets keys whose buckets are full again, bounding memory to the
    /// recently active clients. The server calls it periodically.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn decide(&self, key: &str) -> Decision {
        match self.limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit: self.burst,
                    remaining,
                    reset_secs: ceil_secs(u64::from(self.burst - remaining.min(self.burst)) * self.per_token_us),
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let wait: Duration = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit: self.burst,
                    remaining: 0,
                    reset_secs: ceil_secs(u64::from(self.burst) * self.per_token_us),
                    retry_after_secs: ceil_secs(wait.as_micros() as u64).max(1),
                }
            }
        }
    }
}

impl RateLimiter for MemoryLimiter {
    fn check<'a>(&'a self, key: &'a str, _deadline: tokio::time::Instant) -> BoxFuture<'a, Decision> {
        let decision = self.decide(key);
        async move { decision }.boxed()
    }

    fn check_now(&self, key: &str) -> Option<Decision> {
        Some(self.decide(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_exactly_the_burst_then_is_refused_with_a_retry_after() {
        let limiter = MemoryLimiter::new(1, 3).unwrap();
        let decisions: Vec<Decision> = (0..4).map(|_| limiter.decide("k")).collect();
        assert!(decisions[..3].iter().all(|d| d.allowed));
        assert_eq!(decisions.iter().map(|d| d.remaining).collect::<Vec<_>>(), [2, 1, 0, 0]);
        assert!(!decisions[3].allowed);
        assert!(decisions[3].retry_after_secs >= 1);
        assert_eq!(decisions[3].limit, 3);
    }

    #[test]
    fn keys_have_separate_buckets() {
        let limiter = MemoryLimiter::new(1, 1).unwrap();
        assert!(limiter.decide("a").allowed);
        assert!(!limiter.decide("a").allowed);
        assert!(limiter.decide("b").allowed);
    }

    #[test]
    fn zero_turns_limiting_off() {
        assert!(MemoryLimiter::new(0, 10).is_none());
        assert!(MemoryLimiter::new(10, 0).is_none());
    }
}
