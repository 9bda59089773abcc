//! `GET /status.json` and `GET /status` (docs/operations.md#status-page):
//! for each declared upstream, its breaker, calls in flight against the
//! cap, and over the last 60 s its calls per second, error ratio and
//! p50/p99 latency. The figures come from each upstream's rolling window
//! ([`crate::telemetry::RollingWindow`]), read when the page is asked for;
//! the HTML rendering is [`super::status_page`]'s.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::OpsState;
use crate::openapi::OPERATIONS_TAG;
use crate::security_headers::PAGE_CSP;
use crate::upstream::{BreakerState, Upstreams};

/// What the status routes read: who we are, since when, and the upstreams.
#[derive(Debug, Clone)]
pub(super) struct StatusSource {
    service: String,
    version: String,
    started: Instant,
    upstreams: Upstreams,
}

impl StatusSource {
    pub(super) fn new(service: String, version: String, upstreams: Upstreams) -> Self {
        Self {
            service,
            version,
            started: Instant::now(),
            upstreams,
        }
    }

    /// The status now.
    pub(super) fn read(&self) -> Status {
        let upstreams = self
            .upstreams
            .names()
            .filter_map(|name| self.upstreams.get(name).ok())
            .map(|upstream| {
                let (in_flight, max_in_flight) = upstream.in_flight();
                let recent = upstream.recent();
                UpstreamStatus {
                    name: upstream.name().to_owned(),
                    breaker: upstream.breaker_state().into(),
                    in_flight,
                    max_in_flight,
                    calls_per_s: round(recent.calls_per_s, 1000.0),
                    error_ratio: recent.error_ratio.map_or(0.0, |r| round(r, 10_000.0)),
                    p50_ms: recent.p50_ms.unwrap_or(0.0),
                    p99_ms: recent.p99_ms.unwrap_or(0.0),
                }
            })
            .collect();
        Status {
            service: self.service.clone(),
            version: self.version.clone(),
            uptime_s: self.started.elapsed().as_secs(),
            upstreams,
        }
    }
}

fn round(value: f64, scale: f64) -> f64 {
    (value * scale).round() / scale
}

/// The body of `/status.json`.
// `deny_unknown_fields` only tells the OpenAPI schema the shape is exact.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "service": "bff-mobile", "version": "0.1.0", "uptime_s": 3600,
    "upstreams": [{"name": "users", "breaker": "closed", "in_flight": 2, "max_in_flight": 512,
        "calls_per_s": 41.5, "error_ratio": 0.002, "p50_ms": 18.43, "p99_ms": 119.81}]
}))]
pub struct Status {
    /// The BFF's name.
    pub service: String,
    /// Its version.
    pub version: String,
    /// Seconds since it started serving.
    pub uptime_s: u64,
    /// Every upstream it declares, by name.
    pub upstreams: Vec<UpstreamStatus>,
}

/// One upstream's row of the status page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamStatus {
    /// The upstream's name, as in the metrics' `upstream` label.
    pub name: String,
    /// Its circuit breaker now.
    pub breaker: BreakerLabel,
    /// Attempts in flight now.
    pub in_flight: usize,
    /// The in-flight cap (`BFF_UPSTREAM_<NAME>_MAX_IN_FLIGHT`).
    pub max_in_flight: usize,
    /// Attempts that finished (or timed out) per second over the last 60 s
    /// (less while the BFF is younger); calls refused by the breaker or the
    /// cap were not sent and are not counted.
    pub calls_per_s: f64,
    /// The share of those attempts that failed (any outcome but `ok` and
    /// `not_found`); 0 without attempts (always a number, so a client
    /// need not special-case an idle upstream).
    pub error_ratio: f64,
    /// Their median latency in ms (within about 10 %); 0 without attempts.
    pub p50_ms: f64,
    /// Their 99th percentile latency in ms (within about 10 %); 0 without
    /// attempts.
    pub p99_ms: f64,
}

/// A breaker's state as the status page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerLabel {
    /// Calls flow.
    Closed,
    /// Calls are refused until the open period ends.
    Open,
    /// The next call (or the one out) is the single probe.
    HalfOpen,
}

impl BreakerLabel {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

impl From<BreakerState> for BreakerLabel {
    fn from(state: BreakerState) -> Self {
        match state {
            BreakerState::Closed => Self::Closed,
            BreakerState::Open => Self::Open,
            BreakerState::HalfOpen => Self::HalfOpen,
        }
    }
}

/// Upstream status as JSON.
///
/// For each upstream: breaker state, calls in flight and the cap, and over
/// the last 60 s calls per second, error ratio and p50/p99 latency.
#[utoipa::path(
    get,
    path = "/status.json",
    tag = OPERATIONS_TAG,
    operation_id = "getStatusJson",
    responses((status = 200, description = "The upstreams now and over the last 60 s", body = Status))
)]
pub(super) async fn status_json(State(state): State<OpsState>) -> Response {
    let mut response = Json(state.status.read()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Upstream status as a page.
///
/// The same figures as `/status.json`, one row per upstream, as one
/// self-contained HTML page (no script, nothing from elsewhere) that
/// reloads itself every 5 s.
#[utoipa::path(
    get,
    path = "/status",
    tag = OPERATIONS_TAG,
    operation_id = "getStatus",
    responses((status = 200, description = "An HTML page, reloading itself every 5 s",
        content_type = "text/html", body = String))
)]
pub(super) async fn status_page(State(state): State<OpsState>) -> Response {
    let mut response = super::status_page::render(&state.status.read()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    response
}
