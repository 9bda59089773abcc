//! One client connection's clock: which slow-client rule of
//! docs/architecture.md#serving applies to it now, and when it runs out.
//!
//! A connection is in one of three phases:
//! - **head**: the first request head has not arrived yet (counted from the
//!   connection's opening), or a byte of a new request has arrived on an
//!   idle keep-alive connection (counted from that byte); the head must be
//!   complete within the header timeout, else the connection is dropped;
//! - **busy**: at least one request is being served; no timer runs, since
//!   each request is bounded by its own deadline (and a body that has not
//!   arrived by then is answered 408 by [`crate::context`]);
//! - **idle**: every answer has been sent and no byte of a new request has
//!   arrived; after the idle timeout the connection is asked to close
//!   gracefully.
//!
//! The clock only records events ([`Clock::bytes_read`],
//! [`Clock::request_started`], [`Clock::request_finished`]) and answers
//! [`Clock::verdict`]; the connection task acts on the verdict. Times are
//! passed in, so the rules are unit-tested without a clock.
//!
//! Bytes that arrive while a request is in flight are its body, or a
//! pipelined next request: the clock cannot tell them apart, so a pipelined
//! head that is still incomplete when the answers end is bounded by the idle
//! timeout, not the header timeout. HTTP/2 frames between requests (pings,
//! window updates) are not the start of a request head: once a connection
//! has shown it speaks HTTP/2, bytes no longer move it from idle to head.

use std::sync::Mutex;
use std::task::Waker;
use std::time::Duration;

use futures::task::AtomicWaker;
use tokio::time::Instant;

/// Why a connection is dropped without a graceful close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DropReason {
    /// A request head did not complete within the header timeout.
    SlowHead,
    /// The server is draining and the connection has no request in flight.
    Draining,
    /// It was asked to close gracefully and has not, with nothing in flight.
    Lingering,
}

/// What the connection task should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Nothing until this instant (`None`: until an event).
    WaitUntil(Option<Instant>),
    /// Ask the connection to close gracefully (HTTP/1.1: close now if idle;
    /// HTTP/2: `GOAWAY`), then call [`Clock::asked_to_close`].
    CloseGracefully,
    /// Drop the connection now.
    Drop(DropReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head { since: Instant },
    Busy,
    Idle { since: Instant },
}

#[derive(Debug)]
struct State {
    phase: Phase,
    in_flight: usize,
    /// Seen an HTTP/2 request: bytes between requests are frames, not heads.
    multiplexed: bool,
    draining: bool,
    asked_to_close: Option<Instant>,
}

/// The clock of one connection, shared by its IO wrapper, its service and
/// its task. The lock is uncontended (one connection's events) and taken a
/// few times per request.
#[derive(Debug)]
pub(super) struct Clock {
    state: Mutex<State>,
    header_timeout: Duration,
    idle_timeout: Duration,
    /// The connection task, woken when an HTTP/2 connection turns idle:
    /// HTTP/2 answers finish in their own tasks (HTTP/1.1 ones finish
    /// while the connection task polls, which then asks for a verdict).
    task: AtomicWaker,
}

impl Clock {
    /// A connection opened at `opened`: its first head is due within
    /// `header_timeout`.
    pub(super) fn new(opened: Instant, header_timeout: Duration, idle_timeout: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Head { since: opened },
                in_flight: 0,
                multiplexed: false,
                draining: false,
                asked_to_close: None,
            }),
            header_timeout,
            idle_timeout,
            task: AtomicWaker::new(),
        }
    }

    /// The connection task to wake when an event outside it changes the
    /// verdict.
    pub(super) fn register(&self, task: &Waker) {
        self.task.register(task);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the state is plain data.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Some bytes arrived (`now` is asked for only when it matters).
    pub(super) fn bytes_read(&self, now: impl FnOnce() -> Instant) {
        let mut state = self.state();
        if matches!(state.phase, Phase::Idle { .. }) && !state.multiplexed {
            state.phase = Phase::Head { since: now() };
        }
    }

    /// A request head is complete and its request is being served.
    pub(super) fn request_started(&self, http2: bool) {
        let mut state = self.state();
        state.in_flight += 1;
        state.multiplexed |= http2;
        state.phase = Phase::Busy;
    }

    /// A request's answer has been sent (or abandoned).
    pub(super) fn request_finished(&self, now: Instant) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.phase = Phase::Idle { since: now };
            if state.multiplexed {
                drop(state);
                self.task.wake();
            }
        }
    }

    /// The server is shutting down and has asked the connection to close
    /// gracefully: in-flight requests finish, nothing else waits.
    pub(super) fn start_draining(&self, now: Instant) {
        let mut state = self.state();
        state.draining = true;
        state.asked_to_close.get_or_insert(now);
    }

    /// The connection was asked to close gracefully at `now`.
    pub(super) fn asked_to_close(&self, now: Instant) {
        self.state().asked_to_close.get_or_insert(now);
    }

    /// What to do at `now`.
    pub(super) fn verdict(&self, now: Instant) -> Verdict {
        let state = self.state();
        let due = |at: Instant, then: Verdict| {
            if now >= at { then } else { Verdict::WaitUntil(Some(at)) }
        };
        match state.phase {
            Phase::Busy => Verdict::WaitUntil(None),
            Phase::Head { .. } if state.draining => Verdict::Drop(DropReason::Draining),
            Phase::Head { since } => due(since + self.header_timeout, Verdict::Drop(DropReason::SlowHead)),
            Phase::Idle { since } => match state.asked_to_close {
                None => due(since + self.idle_timeout, Verdict::CloseGracefully),
                // HTTP/1.1 closes an idle connection at once when asked; an
                // HTTP/2 client that never completes the GOAWAY exchange is
                // not waited for longer than a head would be.
                Some(asked) => due(
                    asked.max(since) + self.header_timeout,
                    Verdict::Drop(DropReason::Lingering),
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_first_head_is_due_within_the_header_timeout_of_opening() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, HEADER, IDLE);
        clock.bytes_read(|| t0 + secs(5));
        assert_eq!(clock.verdict(t0 + secs(9)), Verdict::WaitUntil(Some(t0 + HEADER)));
        assert_eq!(clock.verdict(t0 + HEADER), Verdict::Drop(DropReason::SlowHead));
    }

    #[test]
    fn no_timer_runs_while_a_request_is_served() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, HEADER, IDLE);
        clock.request_started(false);
        clock.bytes_read(|| t0 + secs(1));
        assert_eq!(clock.verdict(t0 + secs(3600)), Verdict::WaitUntil(None));
    }

    #[test]
    fn an_idle_keep_alive_connection_lasts_the_idle_timeout_not_the_header_timeout() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, HEADER, IDLE);
        clock.request_started(false);
        clock.request_finished(t0 + secs(1));
        assert_eq!(clock.verdict(t0 + secs(30)), Verdict::WaitUntil(Some(t0 + secs(61))));
        assert_eq!(clock.verdict(t0 + secs(61)), Verdict::CloseGracefully);
    }

    #[test]
    fn a_later_head_is_due_within_the_header_timeout_of_its_first_byte() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, HEADER, IDLE);
        clock.request_started(false);
        clock.request_finished(t0 + secs(1));
        clock.bytes_read(|| t0 + secs(40));
        // Later bytes of the same head do not move its start.
        clock.bytes_read(|| t0 + secs(45));
        assert_eq!(clock.verdict(t0 + secs(49)), Verdict::WaitUntil(Some(t0 + secs(50))));
        assert_eq!(clock.verdict(t0 + secs(50)), Verdict::Drop(DropReason::SlowHead));
        clock.request_started(false);
        assert_eq!(clock.verdict(t0 + secs(500)), Verdict::WaitUntil(None));
    }

    #[test]
    fn the_connection_is_idle_only_when_every_request_has_finished() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, HEADER, IDLE);
        clock.request_started(true);
        clock.request_started(true);
        clock.request_finished(t0 + secs(1));
        assert_eq!(clock.verdict(t0 + secs(100)), Verdict::WaitUntil(None));
        clock.request_finished(t0 + secs(2));
        assert_eq!(clock.verdict(t0 + secs(3)), Verdict::WaitUntil(Some(t0 + secs(62))));
    }

    #[test]
    fn http2_frames_between_requests_do_not_start_a_head() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, HEADER, IDLE);
        clock.request_started(true);
        clock.request_finished(t0 + secs(1));
        clock.bytes_read(|| t0 + secs(20));
        assert_eq!(clock.verdict(t0 + secs(40)), Verdict::WaitUntil(Some(t0 + secs(61))));
    }

    #[test]
    fn draining_drops_a_connection_waiting_for_a_head_and_spares_one_in_flight() {
        let t0 = Instant::now();
        let waiting = Clock::new(t0, HEADER, IDLE);
        waiting.start_draining(t0 + secs(1));
        assert_eq!(waiting.verdict(t0 + secs(1)), Verdict::Drop(DropReason::Draining));

        let serving = Clock::new(t0, HEADER, IDLE);
        serving.request_started(false);
        serving.start_draining(t0 + secs(1));
        assert_eq!(serving.verdict(t0 + secs(2)), Verdict::WaitUntil(None));
        serving.request_finished(t0 + secs(3));
        assert_eq!(serving.verdict(t0 + secs(3)), Verdict::WaitUntil(Some(t0 + secs(13))));
        assert_eq!(serving.verdict(t0 + secs(13)), Verdict::Drop(DropReason::Lingering));
    }

    #[test]
    fn a_connection_asked_to_close_that_lingers_is_dropped_after_the_header_timeout() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, HEADER, IDLE);
        clock.request_started(true);
        clock.request_finished(t0);
        assert_eq!(clock.verdict(t0 + IDLE), Verdict::CloseGracefully);
        clock.asked_to_close(t0 + IDLE);
        assert_eq!(clock.verdict(t0 + IDLE), Verdict::WaitUntil(Some(t0 + IDLE + HEADER)));
        assert_eq!(clock.verdict(t0 + IDLE + HEADER), Verdict::Drop(DropReason::Lingering));
    }
}
