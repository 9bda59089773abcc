//! When a failed call to one upstream is tried again or hedged, and how much
//! extra load that may add (docs/architecture.md#an-upstream-calls-life).
//!
//! Which failures are worth another attempt: for a GET, a failed or reset
//! connection or a 502, 503 or 504 answer, never a timeout (the upstream is
//! slow, and a second request would only add to its load) nor an answer
//! that would come back the same (404, 500, bad JSON). For a POST, only a
//! connection that failed before the request was written.
//!
//! How long to wait: exponential backoff from `BFF_RETRY_BACKOFF_MS` with
//! full jitter (a random wait between 0 and the doubled bound), so the
//! retries of many requests failing at once spread out instead of arriving
//! together.
//!
//! Whether it still fits: a retry is only worth sending if its answer can
//! arrive before the deadline. The time another attempt needs is estimated
//! as the longer of the upstream's recent answer time (a moving average of
//! its successful attempts) and the failed attempt's own duration; a quick
//! 503 from an upstream that usually takes 80 ms does not suggest the retry
//! will take 1 ms.
//!
//! How much extra load: retries and hedges draw on a per-upstream budget,
//! tower's [`TpsBudget`]: every call deposits, every retry or hedge
//! withdraws, deposits expire after 10 s, and a reserve of 10 per second
//! lets a quiet upstream be retried at all. An upstream failing every call
//! therefore sees at most its calls × (1 + percent) plus the reserve.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tower::retry::budget::{Budget, TpsBudget};

use super::error::UpstreamError;
use crate::config::RetrySettings;

/// How long deposits to the budget count.
const BUDGET_WINDOW: Duration = Duration::from_secs(10);
/// Retries allowed per second whatever the number of calls.
const BUDGET_FLOOR_PER_SEC: u32 = 10;
/// Doublings of the backoff bound stop here (about 1000 × the first wait).
const MAX_DOUBLINGS: u32 = 10;

/// One upstream's retry and hedging policy, with its budget.
#[derive(Debug)]
pub(super) struct RetryPolicy {
    /// This upstream's own retry count, when it has one; kept so the
    /// policy can be rebuilt with other shared settings.
    own_retries: Option<u32>,
    /// Retries of one call.
    pub(super) retries: u32,
    /// First backoff bound.
    backoff: Duration,
    /// Delay after which a GET is sent once more, when hedging is on.
    pub(super) hedge: Option<Duration>,
    budget: TpsBudget,
    /// Moving average of successful attempts' durations in µs, 0 until the
    /// first one.
    typical_us: AtomicU64,
}

impl RetryPolicy {
    /// The policy of an upstream with `own_retries` (overriding the shared
    /// count) and `hedge`, under the shared `settings`.
    pub(super) fn new(own_retries: Option<u32>, hedge: Option<Duration>, settings: &RetrySettings) -> Self {
        // Validated to 0..=1000 by the configuration; clamped again so a
        // hand-built setting cannot trip tower's assertions.
        let share = settings.budget_percent.min(1000) as f32 / 100.0;
        Self {
            own_retries,
            retries: own_retries.unwrap_or(settings.retries),
            backoff: settings.backoff,
            hedge,
            budget: TpsBudget::new(BUDGET_WINDOW, BUDGET_FLOOR_PER_SEC, share),
            typical_us: AtomicU64::new(0),
        }
    }

    /// The same upstream's policy under other shared settings.
    pub(super) fn rebuilt(&self, settings: &RetrySettings) -> Self {
        Self::new(self.own_retries, self.hedge, settings)
    }

    /// Whether any call may make more than one attempt. When not, calls
    /// take the plain path and never touch the budget.
    pub(super) fn active(&self) -> bool {
        self.retries > 0 || self.hedge.is_some()
    }

    /// Records a call (not an attempt): what the budget's share is of.
    pub(super) fn deposit(&self) {
        self.budget.deposit();
    }

    /// Takes one retry or hedge from the budget; `false` when it is spent.
    pub(super) fn withdraw(&self) -> bool {
        self.budget.withdraw()
    }

    /// The wait before retry number `retry` (0 for the first): a random
    /// duration between 0 and the first backoff doubled `retry` times.
    pub(super) fn backoff(&self, retry: u32) -> Duration {
        let bound = self.backoff.saturating_mul(1 << retry.min(MAX_DOUBLINGS));
        jitter(bound)
    }

    /// Notes how long a successful attempt took.
    pub(super) fn answered_in(&self, elapsed: Duration) {
        let sample = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
        let old = self.typical_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old.saturating_mul(7)).saturating_add(sample) / 8
        };
        self.typical_us.store(new, Ordering::Relaxed);
    }

    /// The time another attempt is expected to take, after one that failed
    /// in `failed`.
    pub(super) fn expected_attempt(&self, failed: Duration) -> Duration {
        let typical = Duration::from_micros(self.typical_us.load(Ordering::Relaxed));
        typical.max(failed)
    }
}

/// A random duration in `0..=bound`. The randomness of a fresh
/// [`std::hash::RandomState`] is plenty for spreading retries.
fn jitter(bound: Duration) -> Duration {
    let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u64(nanos);
    Duration::from_nanos(hasher.finish() % nanos.saturating_add(1))
}

/// Whether a GET that failed this way may be retried (or its hedge awaited).
pub(super) fn get_may_retry(error: UpstreamError) -> bool {
    matches!(error, UpstreamError::Transport | UpstreamError::Status(502..=504))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(budget_percent: u32) -> RetryPolicy {
        let settings = RetrySettings {
            retries: 3,
            backoff: Duration::from_millis(10),
            budget_percent,
        };
        RetryPolicy::new(None, None, &settings)
    }

    fn withdrawals(policy: &RetryPolicy) -> u32 {
        let mut n = 0;
        while policy.withdraw() {
            n += 1;
            assert!(n < 100_000, "the budget never ran out");
        }
        n
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_calls_the_budget_allows_only_the_floor_of_ten_per_second_over_the_window() {
        assert_eq!(withdrawals(&policy(20)), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_allows_its_share_of_the_calls_on_top_of_the_floor() {
        let policy = policy(20);
        for _ in 0..1000 {
            policy.deposit();
        }
        assert_eq!(withdrawals(&policy), 100 + 200);
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_budget_refills_once_its_withdrawals_are_older_than_the_window() {
        let policy = policy(20);
        assert_eq!(withdrawals(&policy), 100);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!policy.withdraw(), "half a window later it is still spent");
        tokio::time::advance(BUDGET_WINDOW).await;
        assert_eq!(withdrawals(&policy), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_of_zero_percent_still_has_the_floor() {
        let policy = policy(0);
        for _ in 0..1000 {
            policy.deposit();
        }
        assert_eq!(withdrawals(&policy), 100);
    }

    #[test]
    fn each_backoff_is_a_jittered_wait_under_a_bound_that_doubles() {
        let policy = policy(20);
        for retry in 0..4 {
            let bound = Duration::from_millis(10 << retry);
            let waits: Vec<Duration> = (0..200).map(|_| policy.backoff(retry)).collect();
            assert!(
                waits.iter().all(|w| *w <= bound),
                "retry {retry}: a wait over {bound:?}"
            );
            let spread = waits.iter().max().unwrap().saturating_sub(*waits.iter().min().unwrap());
            assert!(
                spread > bound / 2,
                "retry {retry}: waits are not spread out: {spread:?}"
            );
        }
        assert!(policy.backoff(40) <= Duration::from_millis(10 << MAX_DOUBLINGS));
    }

    #[test]
    fn another_attempt_is_expected_to_take_the_longer_of_the_usual_answer_and_the_failure() {
        let policy = policy(20);
        assert_eq!(
            policy.expected_attempt(Duration::from_millis(3)),
            Duration::from_millis(3)
        );
        policy.answered_in(Duration::from_millis(80));
        assert_eq!(
            policy.expected_attempt(Duration::from_millis(3)),
            Duration::from_millis(80)
        );
        assert_eq!(
            policy.expected_attempt(Duration::from_millis(200)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn gets_are_retried_after_connection_failures_and_gateway_errors_only() {
        for retried in [
            UpstreamError::Transport,
            UpstreamError::Status(502),
            UpstreamError::Status(503),
            UpstreamError::Status(504),
        ] {
            assert!(get_may_retry(retried), "{retried:?}");
        }
        for kept in [
            UpstreamError::Timeout,
            UpstreamError::Status(500),
            UpstreamError::Status(429),
            UpstreamError::NotFound,
            UpstreamError::BadResponse,
            UpstreamError::CircuitOpen,
            UpstreamError::Overloaded,
        ] {
            assert!(!get_may_retry(kept), "{kept:?}");
        }
    }
}
