//! Operations endpoints (docs/api.md#operations-endpoints): liveness, readiness,
//! metrics and the status page (`status`, `status_page`). No auth, not rate
//! limited, not counted as API traffic. Each route is registered together
//! with its OpenAPI operation; `/openapi.json` and `/docs` are
//! [`crate::openapi`]'s.

mod status;
mod status_page;

pub use status::{BreakerLabel, Status, UpstreamStatus};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::status::StatusSource;
use crate::openapi::OPERATIONS_TAG;
use crate::platform::Platform;
use crate::telemetry::Metrics;

/// Whether the process is draining (shutting down). Readiness turns 503
/// as soon as draining starts, which is `BFF_DRAIN_DELAY_MS` before the
/// listener closes, so a load balancer polling `/readyz` stops sending
/// traffic while the replica still serves it.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the process as draining.
    pub fn start_draining(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether draining has started.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct OpsState {
    readiness: Readiness,
    metrics: Arc<Metrics>,
    status: Arc<StatusSource>,
}

/// The body of `/healthz` and `/readyz`.
// `deny_unknown_fields` only tells the OpenAPI schema the shape is exact.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpsStatus {
    /// `ok` (`/healthz`), `ready` or `draining` (`/readyz`).
    #[schema(example = "ok")]
    pub status: &'static str,
}

fn router() -> OpenApiRouter<OpsState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(render_metrics))
        .routes(routes!(status::status_json))
        .routes(routes!(status::status_page))
}

/// The `/healthz`, `/readyz`, `/metrics`, `/status.json` and `/status`
/// routes of the BFF called `service` (at `version`) over `platform`.
pub fn routes<S>(platform: &Platform, service: String, version: String) -> Router<S> {
    let (router, _) = router().split_for_parts();
    router.with_state(OpsState {
        readiness: platform.readiness.clone(),
        metrics: platform.metrics.clone(),
        status: Arc::new(StatusSource::new(service, version, platform.upstreams.clone())),
    })
}

/// The OpenAPI operations of [`routes()`].
pub fn openapi() -> OpenApi {
    router().into_openapi()
}

/// Liveness: the process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = OPERATIONS_TAG,
    operation_id = "getHealthz",
    responses((status = 200, description = "The process is alive", body = OpsStatus,
        example = json!({"status": "ok"})))
)]
async fn healthz() -> Json<OpsStatus> {
    Json(OpsStatus { status: "ok" })
}

/// Readiness.
///
/// 200 once started, whatever the upstreams' state; 503 while draining, so
/// a load balancer stops sending traffic.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = OPERATIONS_TAG,
    operation_id = "getReadyz",
    responses(
        (status = 200, description = "Ready to serve", body = OpsStatus, example = json!({"status": "ready"})),
        (status = 503, description = "Draining (shutting down): send traffic elsewhere", body = OpsStatus,
            example = json!({"status": "draining"})),
    )
)]
async fn readyz(State(state): State<OpsState>) -> Response {
    if state.readiness.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, Json(OpsStatus { status: "draining" })).into_response()
    } else {
        Json(OpsStatus { status: "ready" }).into_response()
    }
}

/// Prometheus metrics.
///
/// Requests by route and status, latency histograms, upstream calls by
/// upstream and outcome, breaker states, cache and rate-limit counters.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = OPERATIONS_TAG,
    operation_id = "getMetrics",
    responses((status = 200, description = "Prometheus text exposition format, version 0.0.4",
        content_type = "text/plain", body = String,
        example = "# TYPE bff_rate_limit_rejections_total counter\nbff_rate_limit_rejections_total 0\n"))
)]
async fn render_metrics(State(state): State<OpsState>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
