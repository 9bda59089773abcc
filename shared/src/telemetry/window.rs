//! The last 60 seconds of one upstream's attempts, for the status page
//! (docs/operations.md#status-page): calls, errors and a latency histogram
//! per second, from which calls per second, the error ratio and p50/p99 are
//! read.
//!
//! Recording is on every attempt's path, so it is lock-free and allocates
//! nothing: 60 one-second buckets, each a few atomic counters. Every counter
//! carries the second it belongs to in its high 32 bits and the count in its
//! low 32 bits, so a counter left from a minute ago restarts at 1 in the same
//! compare-and-swap that counts the new attempt: no reset pass, no lost
//! counts. Readers add the counters whose second is one of the last 60.
//!
//! Latencies fall into log-spaced bins (four per power of two from 64 µs to
//! about 67 s): a quantile is read as the middle of its bin, within about
//! 10 % of the true value, which is what a status page needs. The
//! Prometheus histogram (`bff_upstream_request_duration_seconds`) stays the
//! precise record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Seconds in the window.
const SECONDS: u64 = 60;
/// Latency bins below the first power of two, all in bin 0.
const FIRST_OCTAVE: u32 = 6; // 2^6 µs = 64 µs
/// Bins per power of two.
const SUB_BINS: u32 = 4;
/// Powers of two covered above the first: 64 µs · 2^20 ≈ 67 s.
const OCTAVES: u32 = 20;
/// Bin 0 (under 64 µs), the log-spaced bins, and one for everything longer.
const BINS: usize = (OCTAVES * SUB_BINS) as usize + 2;

/// One second's counters.
struct Bucket {
    calls: AtomicU64,
    errors: AtomicU64,
    latency: [AtomicU64; BINS],
}

impl Bucket {
    fn new() -> Self {
        Self {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// The rolling window of one upstream.
pub struct RollingWindow {
    origin: Instant,
    buckets: Box<[Bucket]>,
}

impl std::fmt::Debug for RollingWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RollingWindow")
    }
}

/// What the window says about the last 60 seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowSummary {
    /// Attempts that finished (or timed out), per second.
    pub calls_per_s: f64,
    /// Failed attempts over attempts; `None` without attempts.
    pub error_ratio: Option<f64>,
    /// Median latency in milliseconds; `None` without attempts.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency in milliseconds; `None` without attempts.
    pub p99_ms: Option<f64>,
}

impl Default for RollingWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl RollingWindow {
    /// An empty window starting now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            buckets: (0..SECONDS).map(|_| Bucket::new()).collect(),
        }
    }

    /// Records one settled attempt that took `elapsed`, failed or not.
    pub fn record(&self, elapsed: Duration, failed: bool) {
        let second = self.second(Instant::now());
        let bucket = &self.buckets[(second % SECONDS) as usize];
        bump(&bucket.calls, second);
        if failed {
            bump(&bucket.errors, second);
        }
        bump(&bucket.latency[bin(elapsed)], second);
    }

    /// The last 60 seconds, read now.
    pub fn summary(&self) -> WindowSummary {
        let now = Instant::now();
        let current = self.second(now);
        let oldest = current.saturating_sub(SECONDS - 1);
        let mut calls = 0u64;
        let mut errors = 0u64;
        let mut latency = [0u64; BINS];
        for bucket in self.buckets.iter() {
            calls += count(&bucket.calls, oldest);
            errors += count(&bucket.errors, oldest);
            for (sum, bin) in latency.iter_mut().zip(&bucket.latency) {
                *sum += count(bin, oldest);
            }
        }
        // The window spans from the oldest second's start (or the origin)
        // to now: up to 60 s, less while the process is younger.
        let span = now
            .saturating_duration_since(self.origin + Duration::from_secs(oldest))
            .as_secs_f64()
            .max(1.0);
        let ratio = (calls > 0).then(|| errors as f64 / calls as f64);
        WindowSummary {
            calls_per_s: calls as f64 / span,
            error_ratio: ratio,
            p50_ms: quantile(&latency, 0.50),
            p99_ms: quantile(&latency, 0.99),
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }
}

/// Adds one to `counter` for `second`, restarting it if it held an older
/// second's count.
fn bump(counter: &AtomicU64, second: u64) {
    let stamp = (second & 0xFFFF_FFFF) << 32;
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |value| {
        Some(if value & !0xFFFF_FFFF == stamp {
            value.saturating_add(1)
        } else {
            stamp | 1
        })
    });
}

/// The count `counter` holds if its second is `oldest` or later.
fn count(counter: &AtomicU64, oldest: u64) -> u64 {
    let value = counter.load(Ordering::Relaxed);
    if value == 0 || (value >> 32) < oldest {
        0
    } else {
        value & 0xFFFF_FFFF
    }
}

/// The latency bin of `elapsed`.
fn bin(elapsed: Duration) -> usize {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    if micros < 1 << FIRST_OCTAVE {
        return 0;
    }
    let octave = 63 - micros.leading_zeros(); // floor(log2)
    if octave >= FIRST_OCTAVE + OCTAVES {
        return BINS - 1;
    }
    let sub = (micros >> (octave - SUB_BINS.trailing_zeros())) & u64::from(SUB_BINS - 1);
    1 + ((octave - FIRST_OCTAVE) * SUB_BINS) as usize + sub as usize
}

/// The middle of bin `index`, in milliseconds.
fn bin_middle_ms(index: usize) -> f64 {
    if index == 0 {
        return f64::from(1u32 << FIRST_OCTAVE) / 2.0 / 1000.0;
    }
    let index = (index - 1) as u32;
    let octave = FIRST_OCTAVE + index / SUB_BINS;
    let sub = index % SUB_BINS;
    let base = (1u64 << octave) as f64;
    let width = base / f64::from(SUB_BINS);
    let low = base + width * f64::from(sub);
    (low + width / 2.0) / 1000.0
}

/// The `q` quantile of the binned latencies, in milliseconds (rounded to
/// 0.01 ms).
fn quantile(bins: &[u64; BINS], q: f64) -> Option<f64> {
    let total: u64 = bins.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (index, &n) in bins.iter().enumerate() {
        seen += n;
        if seen >= rank {
            let ms = if index == BINS - 1 {
                // Past the last bound: report the bound itself.
                (1u64 << (FIRST_OCTAVE + OCTAVES)) as f64 / 1000.0
            } else {
                bin_middle_ms(index)
            };
            return Some((ms * 100.0).round() / 100.0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[tokio::test(start_paused = true)]
    async fn an_empty_window_has_no_ratio_and_no_percentiles() {
        let window = RollingWindow::new();
        let summary = window.summary();
        assert_eq!(summary.calls_per_s, 0.0);
        assert_eq!(
            (summary.error_ratio, summary.p50_ms, summary.p99_ms),
            (None, None, None)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn calls_errors_and_percentiles_cover_the_last_sixty_seconds() {
        let window = RollingWindow::new();
        tokio::time::advance(Duration::from_secs(90)).await;
        for i in 0..100u64 {
            // 98 calls of 10 ms, two of 400 ms; one in four fails.
            let elapsed = if i < 98 { MS(10) } else { MS(400) };
            window.record(elapsed, i % 4 == 0);
            if i % 10 == 9 {
                tokio::time::advance(Duration::from_secs(1)).await;
            }
        }
        let summary = window.summary();
        assert!((summary.calls_per_s - 100.0 / 60.0).abs() < 0.05, "{summary:?}");
        assert_eq!(summary.error_ratio, Some(0.25));
        let p50 = summary.p50_ms.unwrap();
        assert!((9.0..=11.0).contains(&p50), "{p50}");
        let p99 = summary.p99_ms.unwrap();
        assert!((360.0..=440.0).contains(&p99), "{p99}");
    }

    #[tokio::test(start_paused = true)]
    async fn calls_older_than_a_minute_are_forgotten_even_in_a_reused_bucket() {
        let window = RollingWindow::new();
        window.record(MS(5), true);
        tokio::time::advance(Duration::from_secs(60)).await;
        // Same bucket (second 60 ≡ 0), a new second: starts again at 1.
        window.record(MS(5), false);
        let summary = window.summary();
        assert_eq!(summary.error_ratio, Some(0.0));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(window.summary().error_ratio, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_young_window_divides_by_its_own_age() {
        let window = RollingWindow::new();
        tokio::time::advance(Duration::from_secs(10)).await;
        for _ in 0..50 {
            window.record(MS(1), false);
        }
        let rate = window.summary().calls_per_s;
        assert!((rate - 5.0).abs() < 0.01, "{rate}");
    }

    #[test]
    fn every_bin_middle_lies_within_its_bin() {
        for micros in [0, 63, 64, 65, 100, 1_000, 12_345, 999_999, 67_000_000, u64::MAX / 2] {
            let elapsed = Duration::from_micros(micros);
            let index = bin(elapsed);
            assert!(index < BINS);
            if (64..(1 << 26)).contains(&micros) {
                let middle = bin_middle_ms(index) * 1000.0;
                let error = (middle - micros as f64).abs() / micros as f64;
                assert!(error <= 0.13, "{micros} µs read as {middle} µs");
            }
        }
        let monotonic: Vec<usize> = (0..2000).map(|ms| bin(MS(ms))).collect();
        assert!(monotonic.windows(2).all(|w| w[0] <= w[1]));
    }
}
