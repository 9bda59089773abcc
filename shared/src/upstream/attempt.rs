//! The accounting of one sent attempt, done exactly once whatever becomes
//! of the future that made it: its outcome in
//! `bff_upstream_requests_total`, its latency, and its verdict for the
//! breaker.
//!
//! An attempt normally ends with [`Attempt::finish`]. One whose future is
//! dropped first (its section cut by the fan-out's deadline, the
//! pass-through's timeout, a handler that no longer needs it) is settled by
//! the guard's `Drop`: at or past the attempt's time limit it is a
//! `timeout` and a breaker failure, whichever timer fired first
//! (docs/architecture.md#an-upstream-calls-life); before it, `cancelled`, which says nothing about the
//! upstream and only frees the breaker's probe slot if it held it. Deciding
//! whether to send at all (deadline, breaker, in-flight cap) is
//! [`super::Upstream`]'s job. When spans are exported, the attempt's
//! client span is recorded at the same moment, with the same outcome.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

use super::breaker::{Breaker, Ticket, Verdict};
use super::error::UpstreamError;
use crate::telemetry::otel::ClientSpan;
use crate::telemetry::trace::SpanId;
use crate::telemetry::{RequestTrace, UpstreamMetrics};

/// The client span of an attempt, when spans are exported.
pub(super) struct AttemptSpan {
    /// The request's trace.
    pub(super) trace: Arc<RequestTrace>,
    /// The span id sent upstream in `traceparent`.
    pub(super) span_id: SpanId,
    /// The upstream's name.
    pub(super) upstream: &'static str,
    /// When the attempt was sent.
    pub(super) start: SystemTime,
    /// The upstream's status, once an answer's head came.
    pub(super) status: Option<u16>,
}

impl AttemptSpan {
    fn record(self, outcome: &'static str) {
        self.trace.traces.client_span(
            &self.trace.context,
            ClientSpan {
                upstream: self.upstream,
                outcome,
                status: self.status,
                span_id: self.span_id,
                start: self.start,
            },
        );
    }
}

/// A sent attempt that has not been accounted for yet.
pub(super) struct Attempt<'a> {
    metrics: &'a UpstreamMetrics,
    breaker: &'a Breaker,
    /// The breaker's permission; `None` once the attempt is settled.
    ticket: Option<Ticket<'a>>,
    started: Instant,
    /// When the attempt counts as timed out: the earlier of the request's
    /// deadline and the upstream's own timeout.
    limit: Instant,
    /// The client span to record, when spans are exported.
    span: Option<AttemptSpan>,
}

impl<'a> Attempt<'a> {
    /// An attempt sent now, under `ticket`, that times out at `limit`.
    pub(super) fn start(
        metrics: &'a UpstreamMetrics,
        breaker: &'a Breaker,
        ticket: Ticket<'a>,
        limit: Instant,
    ) -> Self {
        Self {
            metrics,
            breaker,
            ticket: Some(ticket),
            started: Instant::now(),
            limit,
            span: None,
        }
    }

    /// The same attempt, recording `span` when it ends.
    pub(super) fn traced(mut self, span: Option<AttemptSpan>) -> Self {
        self.span = span;
        self
    }

    /// Notes the status of the answer's head, for the client span.
    pub(super) fn answered(&mut self, status: u16) {
        if let Some(span) = &mut self.span {
            span.status = Some(status);
        }
    }

    /// Accounts for the attempt's result.
    pub(super) fn finish<T>(mut self, result: &Result<T, UpstreamError>) {
        self.settle(result.as_ref().map(|_| ()).map_err(|e| *e));
    }

    fn settle(&mut self, outcome: Result<(), UpstreamError>) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        let elapsed = self.started.elapsed();
        self.metrics.latency(elapsed);
        // The status page's rolling window (`/status`): one settled attempt.
        self.metrics.recent(elapsed, outcome.map_err(UpstreamError::reason));
        let verdict = match outcome {
            Err(e) if e.trips_breaker() => Verdict::Failure,
            // An answer, even a 404 or another 4xx, shows the upstream is up.
            Ok(()) | Err(_) => Verdict::Success,
        };
        self.breaker.record(ticket, verdict);
        let outcome = outcome.map_err(UpstreamError::reason);
        if let Some(span) = self.span.take() {
            span.record(outcome.map_or_else(|reason| reason.as_str(), |()| "ok"));
        }
        self.metrics.attempt(outcome);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.ticket.is_none() {
            return;
        }
        if Instant::now() >= self.limit {
            self.settle(Err(UpstreamError::Timeout));
        } else {
            // Dropping the ticket unjudged frees a probe slot it held. No
            // latency: the attempt never finished, so it has none.
            self.ticket = None;
            self.metrics.cancelled();
            if let Some(span) = self.span.take() {
                span.record("cancelled");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::telemetry::Metrics;
    use crate::upstream::BreakerState;

    const OPEN: Duration = Duration::from_secs(5);
    const LIMIT: Duration = Duration::from_millis(300);

    fn attempts(metrics: &Metrics, outcome: &str) -> f64 {
        metrics
            .sample(&format!(
                "bff_upstream_requests_total{{upstream=\"u\",outcome=\"{outcome}\"}}"
            ))
            .unwrap_or(0.0)
    }

    fn latencies(metrics: &Metrics) -> f64 {
        metrics
            .sample("bff_upstream_request_duration_seconds_count{upstream=\"u\"}")
            .unwrap_or(0.0)
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_dropped_before_its_limit_is_cancelled_and_neutral() {
        let metrics = Metrics::new();
        let handles = metrics.upstream("u");
        let breaker = Breaker::new(1, OPEN);
        let ticket = breaker.try_acquire().unwrap();
        let attempt = Attempt::start(&handles, &breaker, ticket, Instant::now() + LIMIT);
        tokio::time::advance(LIMIT - Duration::from_millis(1)).await;
        drop(attempt);
        assert_eq!(attempts(&metrics, "cancelled"), 1.0);
        assert_eq!(attempts(&metrics, "timeout"), 0.0);
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "one failure would have opened it"
        );
        assert_eq!(latencies(&metrics), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_dropped_at_its_limit_is_a_timeout_and_a_breaker_failure() {
        let metrics = Metrics::new();
        let handles = metrics.upstream("u");
        let breaker = Breaker::new(1, OPEN);
        let ticket = breaker.try_acquire().unwrap();
        let attempt = Attempt::start(&handles, &breaker, ticket, Instant::now() + LIMIT);
        tokio::time::advance(LIMIT).await;
        drop(attempt);
        assert_eq!(attempts(&metrics, "timeout"), 1.0);
        assert_eq!(attempts(&metrics, "cancelled"), 0.0);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(latencies(&metrics), 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_finished_attempt_is_counted_once_by_its_result() {
        let metrics = Metrics::new();
        let handles = metrics.upstream("u");
        let breaker = Breaker::new(1, OPEN);
        for result in [Ok(()), Err(UpstreamError::NotFound), Err(UpstreamError::Status(503))] {
            let ticket = breaker.try_acquire().expect("closed so far");
            let attempt = Attempt::start(&handles, &breaker, ticket, Instant::now() + LIMIT);
            attempt.finish(&result);
        }
        assert_eq!(attempts(&metrics, "ok"), 1.0);
        assert_eq!(attempts(&metrics, "not_found"), 1.0);
        assert_eq!(attempts(&metrics, "upstream_error"), 1.0);
        assert_eq!(attempts(&metrics, "cancelled"), 0.0);
        assert_eq!(latencies(&metrics), 3.0);
        assert_eq!(breaker.state(), BreakerState::Open, "the 503 tripped it");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_probe_lets_the_next_caller_probe() {
        let metrics = Metrics::new();
        let handles = metrics.upstream("u");
        let breaker = Breaker::new(1, OPEN);
        let ticket = breaker.try_acquire().unwrap();
        Attempt::start(&handles, &breaker, ticket, Instant::now() + LIMIT)
            .finish(&Err::<(), _>(UpstreamError::Timeout));
        tokio::time::advance(OPEN).await;
        let probe = breaker.try_acquire().expect("probe");
        drop(Attempt::start(&handles, &breaker, probe, Instant::now() + LIMIT));
        assert_eq!(attempts(&metrics, "cancelled"), 1.0);
        assert!(breaker.try_acquire().is_some(), "the slot is free again");
    }
}
