//! The metrics of docs/operations.md#metrics, recorded into a per-app Prometheus
//! registry. Handles for fixed label sets (upstream × outcome) are
//! registered once, so the hot path only bumps an atomic.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::window::RollingWindow;
use crate::upstream::DegradedReason;

const METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Latency buckets in seconds: fine below 100 ms where BFF overhead lives.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The kind of a metric family, for its `# TYPE` and `# HELP` lines.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every family's help text (`# HELP`, which `promtool check metrics`
/// requires), as docs/operations.md#metrics describes them.
const FAMILIES: [(&str, Kind, &str); 12] = [
    (
        "bff_http_requests_total",
        Kind::Counter,
        "Answered requests by route template and status.",
    ),
    (
        "bff_http_request_duration_seconds",
        Kind::Histogram,
        "Time to produce an answer, by route template.",
    ),
    ("bff_http_requests_in_flight", Kind::Gauge, "Requests being served now."),
    (
        "bff_degraded_sections_total",
        Kind::Counter,
        "Sections left out of composite answers, by route, section and reason.",
    ),
    (
        "bff_upstream_requests_total",
        Kind::Counter,
        "Upstream attempts by upstream and outcome (ok, a degraded reason, or cancelled).",
    ),
    (
        "bff_upstream_request_duration_seconds",
        Kind::Histogram,
        "Duration of each upstream attempt that was sent.",
    ),
    ("bff_upstream_retries_total", Kind::Counter, "Upstream retries sent."),
    (
        "bff_upstream_hedges_total",
        Kind::Counter,
        "Hedged upstream attempts sent.",
    ),
    (
        "bff_circuit_breaker_state",
        Kind::Gauge,
        "Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open.",
    ),
    (
        "bff_cache_requests_total",
        Kind::Counter,
        "Fragment-cache lookups by result (hit, miss, stale).",
    ),
    (
        "bff_rate_limit_rejections_total",
        Kind::Counter,
        "Requests refused by the rate limiter (429).",
    ),
    (
        "bff_rate_limit_errors_total",
        Kind::Counter,
        "Rate-limit checks that could not reach Redis and were admitted.",
    ),
];

/// One app's metrics registry.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    rate_limit_rejections: Counter,
    cache: [Counter; 3],
    in_flight: Gauge,
    /// Each route template's request series, registered on its first
    /// request: counting a request is then a map lookup, not building and
    /// hashing two metric keys.
    http: RwLock<HashMap<Box<str>, Arc<RouteSeries>>>,
}

/// A route's `bff_http_request_duration_seconds` and its
/// `bff_http_requests_total` by status (a handful each).
struct RouteSeries {
    duration: Histogram,
    by_status: RwLock<Vec<(u16, Counter)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh registry.
    pub fn new() -> Arc<Self> {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        for (name, kind, help) in FAMILIES {
            let (name, help) = (KeyName::from_const_str(name), SharedString::const_str(help));
            match kind {
                Kind::Counter => recorder.describe_counter(name, None, help),
                Kind::Gauge => recorder.describe_gauge(name, None, help),
                Kind::Histogram => recorder.describe_histogram(name, None, help),
            }
        }
        let counter = |name: &'static str, labels: Vec<Label>| {
            recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
        };
        let rate_limit_rejections = counter("bff_rate_limit_rejections_total", vec![]);
        let cache =
            ["hit", "miss", "stale"].map(|r| counter("bff_cache_requests_total", vec![Label::new("result", r)]));
        // Touch them so they are exported as 0 before the first event.
        rate_limit_rejections.increment(0);
        cache.iter().for_each(|c| c.increment(0));
        let in_flight = recorder.register_gauge(&Key::from_name("bff_http_requests_in_flight"), &METADATA);
        in_flight.set(0.0);
        Arc::new(Self {
            recorder,
            handle,
            rate_limit_rejections,
            cache,
            in_flight,
            http: RwLock::default(),
        })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// The value of one rendered series, such as
    /// `bff_upstream_requests_total{upstream="users",outcome="ok"}`.
    #[cfg(test)]
    pub(crate) fn sample(&self, series: &str) -> Option<f64> {
        self.render().lines().find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|value| value.trim().parse().ok())
        })
    }

    /// Drains histogram buffers; call periodically (the server does).
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Counts one served request and its latency under its route template.
    pub fn http_request(&self, route: &str, status: u16, elapsed: Duration) {
        let series = self.route_series(route);
        series.duration.record(elapsed.as_secs_f64());
        let counter = series
            .by_status
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, counter)| counter.clone());
        let counter = counter.unwrap_or_else(|| {
            let counter = self.recorder.register_counter(
                &Key::from_parts(
                    "bff_http_requests_total",
                    vec![
                        Label::new("route", route.to_owned()),
                        Label::new("status", status.to_string()),
                    ],
                ),
                &METADATA,
            );
            let mut by_status = series.by_status.write().unwrap_or_else(PoisonError::into_inner);
            if !by_status.iter().any(|(s, _)| *s == status) {
                by_status.push((status, counter.clone()));
            }
            counter
        });
        counter.increment(1);
    }

    fn route_series(&self, route: &str) -> Arc<RouteSeries> {
        if let Some(series) = self.http.read().unwrap_or_else(PoisonError::into_inner).get(route) {
            return series.clone();
        }
        let mut http = self.http.write().unwrap_or_else(PoisonError::into_inner);
        http.entry(route.into())
            .or_insert_with(|| {
                let duration = self.recorder.register_histogram(
                    &Key::from_parts(
                        "bff_http_request_duration_seconds",
                        vec![Label::new("route", route.to_owned())],
                    ),
                    &METADATA,
                );
                Arc::new(RouteSeries {
                    duration,
                    by_status: RwLock::default(),
                })
            })
            .clone()
    }

    /// One more request in flight (`bff_http_requests_in_flight`) until
    /// the returned guard is dropped, however the request ends.
    pub fn request_in_flight(&self) -> InFlight {
        self.in_flight.increment(1.0);
        InFlight(self.in_flight.clone())
    }

    /// Counts one degraded section of a composite answer
    /// (`bff_degraded_sections_total{route,section,reason}`).
    pub fn degraded_section(&self, route: &str, section: &str, reason: DegradedReason) {
        self.recorder
            .register_counter(
                &Key::from_parts(
                    "bff_degraded_sections_total",
                    vec![
                        Label::new("route", route.to_owned()),
                        Label::new("section", section.to_owned()),
                        Label::new("reason", reason.as_str()),
                    ],
                ),
                &METADATA,
            )
            .increment(1);
    }

    /// Counts a request refused by the rate limiter.
    pub fn rate_limit_rejection(&self) {
        self.rate_limit_rejections.increment(1);
    }

    /// Counts a fragment-cache lookup: `hit`, `miss` or `stale`.
    pub fn cache(&self, result: CacheResult) {
        self.cache[result as usize].increment(1);
    }

    /// A counter with arbitrary labels, for extensions by other BFFs.
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        let labels = labels
            .iter()
            .map(|(k, v)| Label::new(*k, (*v).to_owned()))
            .collect::<Vec<_>>();
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    /// Pre-registered handles for one upstream.
    pub fn upstream(&self, upstream: &'static str) -> UpstreamMetrics {
        let outcome = |o: &'static str| {
            self.recorder.register_counter(
                &Key::from_parts(
                    "bff_upstream_requests_total",
                    vec![Label::new("upstream", upstream), Label::new("outcome", o)],
                ),
                &METADATA,
            )
        };
        let reasons = [
            DegradedReason::Timeout,
            DegradedReason::CircuitOpen,
            DegradedReason::Overloaded,
            DegradedReason::UpstreamError,
            DegradedReason::BadResponse,
            DegradedReason::NotFound,
        ]
        .map(|r| outcome(r.as_str()));
        // Touched so a scrape shows the series (as 0) before the first
        // cancelled attempt.
        let cancelled = outcome("cancelled");
        cancelled.increment(0);
        let breaker: Gauge = self.recorder.register_gauge(
            &Key::from_parts("bff_circuit_breaker_state", vec![Label::new("upstream", upstream)]),
            &METADATA,
        );
        breaker.set(0.0);
        let latency: Histogram = self.recorder.register_histogram(
            &Key::from_parts(
                "bff_upstream_request_duration_seconds",
                vec![Label::new("upstream", upstream)],
            ),
            &METADATA,
        );
        // Touched too: a scrape shows them (as 0) before the first one.
        let extra = |name: &'static str| {
            let counter = self.recorder.register_counter(
                &Key::from_parts(name, vec![Label::new("upstream", upstream)]),
                &METADATA,
            );
            counter.increment(0);
            counter
        };
        UpstreamMetrics {
            ok: outcome("ok"),
            reasons,
            cancelled,
            retries: extra("bff_upstream_retries_total"),
            hedges: extra("bff_upstream_hedges_total"),
            breaker,
            latency,
            recent: Arc::new(RollingWindow::new()),
        }
    }
}

/// A request counted in `bff_http_requests_in_flight` until dropped.
#[must_use]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The result of a fragment-cache lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheResult {
    /// Served fresh from the cache.
    Hit = 0,
    /// Fetched from the upstream.
    Miss = 1,
    /// Served past its TTL because the refresh failed.
    Stale = 2,
}

/// Metric handles of one upstream.
#[derive(Clone)]
pub struct UpstreamMetrics {
    ok: Counter,
    reasons: [Counter; 6],
    cancelled: Counter,
    retries: Counter,
    hedges: Counter,
    /// `bff_circuit_breaker_state{upstream}`, handed to the upstream's
    /// breaker, which sets it at each transition.
    pub breaker: Gauge,
    latency: Histogram,
    /// The last 60 s of settled attempts, for the status page.
    recent: Arc<RollingWindow>,
}

impl std::fmt::Debug for UpstreamMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamMetrics")
    }
}

impl UpstreamMetrics {
    /// Counts one attempt by its outcome: `Ok(())` or the degraded reason.
    pub fn attempt(&self, outcome: Result<(), DegradedReason>) {
        match outcome {
            Ok(()) => self.ok.increment(1),
            Err(reason) => self.reasons[reason as usize].increment(1),
        }
    }

    /// Counts one attempt dropped before it finished while the request
    /// still had time (a section no longer needed, a hedge that lost):
    /// outcome `cancelled`, which says nothing about the upstream.
    pub fn cancelled(&self) {
        self.cancelled.increment(1);
    }

    /// Counts one retry sent (`bff_upstream_retries_total`); the attempt
    /// itself is counted by its outcome as well.
    pub fn retry(&self) {
        self.retries.increment(1);
    }

    /// Counts one hedge sent (`bff_upstream_hedges_total`); the attempt
    /// itself is counted by its outcome as well.
    pub fn hedge(&self) {
        self.hedges.increment(1);
    }

    /// Records the duration of an attempt that was sent.
    pub fn latency(&self, elapsed: Duration) {
        self.latency.record(elapsed.as_secs_f64());
    }

    /// Records a settled attempt in the status page's 60-second window:
    /// its duration and whether it failed (any outcome but `ok` and
    /// `not_found`: a 404 is an answer, as the breaker agrees).
    pub fn recent(&self, elapsed: Duration, outcome: Result<(), DegradedReason>) {
        let failed = outcome.is_err_and(|reason| reason != DegradedReason::NotFound);
        self.recent.record(elapsed, failed);
    }

    /// The status page's window of the last 60 s.
    pub fn window(&self) -> &RollingWindow {
        &self.recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exported_family_has_help_and_type_lines() {
        let metrics = Metrics::new();
        let upstream = metrics.upstream("u");
        upstream.attempt(Ok(()));
        upstream.latency(Duration::from_millis(3));
        metrics.http_request("/x", 200, Duration::from_millis(4));
        metrics.degraded_section("/x", "s", DegradedReason::Timeout);
        let _guard = metrics.request_in_flight();
        let text = metrics.render();
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(families.len(), FAMILIES.len() - 1, "all but the Redis errors: {text}");
        for family in families {
            assert!(text.contains(&format!("# HELP {family} ")), "{family}: {text}");
        }
        assert!(text.contains("bff_http_requests_in_flight 1"), "{text}");
    }
}
