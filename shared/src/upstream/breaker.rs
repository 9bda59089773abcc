//! A consecutive-failures circuit breaker, one per upstream.
//!
//! Closed counts consecutive failures; at the threshold it opens for a fixed
//! time; then the first caller becomes the single half-open probe while
//! every other caller is refused. The probe's success closes the breaker,
//! its failure re-opens it. What counts as a failure is decided by the
//! caller ([`super::UpstreamError::trips_breaker`]); this module is only the
//! state machine. It uses tokio's clock so tests can pause time.
//!
//! The `bff_circuit_breaker_state` gauge, when given, is set under the
//! state's lock at every transition, so it reads what the machine is in:
//! 2 from the moment a probe is admitted until its answer, not only after.

use std::sync::Mutex;
use std::time::Duration;

use metrics::Gauge;
use tokio::time::Instant;

/// The breaker's state, as exported in `bff_circuit_breaker_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; failures are being counted.
    Closed,
    /// Calls are refused until the open period ends.
    Open,
    /// One probe is allowed through; the rest are refused.
    HalfOpen,
}

impl BreakerState {
    /// The gauge value: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_out: bool },
}

impl State {
    /// The exported state. An open period that has ended still reads as
    /// open here: the machine moves to half-open when the probe is admitted.
    fn exported(&self) -> BreakerState {
        match self {
            Self::Closed { .. } => BreakerState::Closed,
            Self::Open { .. } => BreakerState::Open,
            Self::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// A per-upstream breaker.
#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    open_for: Duration,
    /// `bff_circuit_breaker_state{upstream}`, set at each transition.
    gauge: Option<Gauge>,
}

/// Permission to make one call; report its result with [`Breaker::record`].
/// A ticket dropped without a result (the caller was cancelled) frees the
/// probe slot without judging the upstream.
#[derive(Debug)]
#[must_use]
pub struct Ticket<'a> {
    breaker: &'a Breaker,
    probe: bool,
    done: bool,
}

/// The result of a call, as far as the breaker cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An answer: resets the failure count, closes a half-open breaker.
    Success,
    /// A failure that counts towards opening.
    Failure,
    /// Neither (the call was never judged): frees a probe slot only.
    Neutral,
}

impl Breaker {
    /// A closed breaker that opens after `threshold` consecutive failures
    /// and stays open for `open_for`.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
            threshold: threshold.max(1),
            open_for,
            gauge: None,
        }
    }

    /// The same breaker, reporting its state to `gauge` (0 closed, 1 open,
    /// 2 half-open) as each transition happens.
    pub fn with_gauge(mut self, gauge: Gauge) -> Self {
        gauge.set(BreakerState::Closed.gauge());
        self.gauge = Some(gauge);
        self
    }

    /// The current state. An expired open period reads as half-open here
    /// (the next call will be the probe), while the gauge moves to 2 only
    /// when that probe is admitted.
    pub fn state(&self) -> BreakerState {
        match &*self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() < *until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call: `None` when the breaker refuses it.
    pub fn try_acquire(&self) -> Option<Ticket<'_>> {
        let mut state = self.lock();
        let probe = match &mut *state {
            State::Closed { .. } => false,
            State::Open { until } => {
                if Instant::now() < *until {
                    return None;
                }
                self.enter(&mut state, State::HalfOpen { probe_out: true });
                true
            }
            State::HalfOpen { probe_out } => {
                if *probe_out {
                    return None;
                }
                *probe_out = true;
                true
            }
        };
        Some(Ticket {
            breaker: self,
            probe,
            done: false,
        })
    }

    /// Records the result of the call `ticket` allowed.
    pub fn record(&self, mut ticket: Ticket<'_>, verdict: Verdict) {
        ticket.done = true;
        self.apply(ticket.probe, verdict);
    }

    fn apply(&self, probe: bool, verdict: Verdict) {
        let mut state = self.lock();
        match (&mut *state, verdict) {
            (State::Closed { failures }, Verdict::Success) => *failures = 0,
            (State::Closed { failures }, Verdict::Failure) => {
                *failures += 1;
                if *failures >= self.threshold {
                    self.open(&mut state);
                }
            }
            (State::HalfOpen { .. }, Verdict::Success) if probe => {
                self.enter(&mut state, State::Closed { failures: 0 })
            }
            (State::HalfOpen { .. }, Verdict::Failure) if probe => self.open(&mut state),
            (State::HalfOpen { probe_out }, Verdict::Neutral) if probe => *probe_out = false,
            // Results of calls admitted before the breaker opened do not
            // move an open or half-open breaker: only the probe decides.
            _ => {}
        }
    }

    fn open(&self, state: &mut State) {
        let until = Instant::now() + self.open_for;
        self.enter(state, State::Open { until });
    }

    /// Moves to `next` and reports it, while the caller holds the lock, so
    /// the gauge never shows a state the machine has already left.
    fn enter(&self, state: &mut State, next: State) {
        *state = next;
        if let Some(gauge) = &self.gauge {
            gauge.set(state.exported().gauge());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere mid-update of plain
        // data; the state is still a valid state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.apply(self.probe, Verdict::Neutral);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    const OPEN: Duration = Duration::from_millis(5000);

    /// A breaker whose gauge the test can read.
    fn gauged(threshold: u32) -> (Breaker, impl Fn() -> f64) {
        let cell = Arc::new(AtomicU64::new(f64::NAN.to_bits()));
        let breaker = Breaker::new(threshold, OPEN).with_gauge(Gauge::from_arc(cell.clone()));
        (breaker, move || f64::from_bits(cell.load(Ordering::Relaxed)))
    }

    fn fail(b: &Breaker) {
        let t = b.try_acquire().expect("admitted");
        b.record(t, Verdict::Failure);
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_configured_consecutive_failures() {
        let b = Breaker::new(3, OPEN);
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_failure_count() {
        let b = Breaker::new(3, OPEN);
        fail(&b);
        fail(&b);
        let t = b.try_acquire().unwrap();
        b.record(t, Verdict::Success);
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_open_period_exactly_one_probe_goes_through() {
        let b = Breaker::new(1, OPEN);
        fail(&b);
        tokio::time::advance(OPEN - Duration::from_millis(1)).await;
        assert!(b.try_acquire().is_none());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire().expect("probe admitted");
        assert!(
            b.try_acquire().is_none(),
            "a second caller is refused while the probe is out"
        );
        b.record(probe, Verdict::Success);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_reopens_for_a_full_period() {
        let b = Breaker::new(1, OPEN);
        fail(&b);
        tokio::time::advance(OPEN).await;
        let probe = b.try_acquire().unwrap();
        b.record(probe, Verdict::Failure);
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(OPEN - Duration::from_millis(1)).await;
        assert!(b.try_acquire().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_probe_frees_the_slot_for_the_next_caller() {
        let b = Breaker::new(1, OPEN);
        fail(&b);
        tokio::time::advance(OPEN).await;
        drop(b.try_acquire().unwrap());
        assert!(b.try_acquire().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn late_results_of_calls_admitted_before_opening_do_not_close_it() {
        let b = Breaker::new(1, OPEN);
        let early = b.try_acquire().unwrap();
        fail(&b);
        b.record(early, Verdict::Success);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn the_gauge_follows_each_transition_as_it_happens() {
        let (b, gauge) = gauged(2);
        assert_eq!(gauge(), 0.0, "closed from the start");
        fail(&b);
        assert_eq!(gauge(), 0.0, "one failure of two");
        fail(&b);
        assert_eq!(gauge(), 1.0, "open at the threshold");
        tokio::time::advance(OPEN).await;
        assert_eq!(gauge(), 1.0, "still open until a probe is admitted");
        let probe = b.try_acquire().expect("probe admitted");
        assert_eq!(gauge(), 2.0, "half-open while the probe is out");
        assert!(b.try_acquire().is_none());
        assert_eq!(gauge(), 2.0, "a refused caller changes nothing");
        b.record(probe, Verdict::Failure);
        assert_eq!(gauge(), 1.0, "a failed probe re-opens");
        tokio::time::advance(OPEN).await;
        let probe = b.try_acquire().expect("second probe admitted");
        assert_eq!(gauge(), 2.0);
        drop(probe);
        assert_eq!(gauge(), 2.0, "a cancelled probe leaves it half-open");
        let probe = b.try_acquire().expect("the freed slot admits the next probe");
        assert_eq!(gauge(), 2.0);
        b.record(probe, Verdict::Success);
        assert_eq!(gauge(), 0.0, "a successful probe closes it");
    }

    #[tokio::test(start_paused = true)]
    async fn the_gauge_ignores_late_results_and_neutral_verdicts() {
        let (b, gauge) = gauged(1);
        let early = b.try_acquire().unwrap();
        let neutral = b.try_acquire().unwrap();
        b.record(neutral, Verdict::Neutral);
        assert_eq!(gauge(), 0.0);
        fail(&b);
        assert_eq!(gauge(), 1.0);
        b.record(early, Verdict::Success);
        assert_eq!(gauge(), 1.0, "a call admitted before opening does not close it");
    }
}
