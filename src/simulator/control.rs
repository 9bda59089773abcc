//! The control API (JSON), served on its own port when `control_port` is set,
//! so people and scripts can inspect the services and change their faults at
//! run time:
//!
//! | call | answer |
//! |---|---|
//! | `GET /services` | `[{"name","url","requests","fault"}]` |
//! | `PUT /faults/{service}` with a (partial) `Fault` | 200, the stored fault; missing fields are their defaults (PUT replaces) |
//! | `GET /faults/{service}` | the current fault |
//! | `DELETE /faults/{service}`, `DELETE /faults` | 204 |
//! | `GET /requests/{service}` | the recorded requests, oldest first |
//! | `POST /counters/reset` | 204 |
//!
//! An unknown service is 404 `{"error":"not_found"}`; a bad fault is 400.
//!
//! A fault's fields (all optional; see [`Fault`]): `latency_ms`,
//! `jitter_ms`, `error_rate`, `error_status`, `hang`, `malformed`, `reset`,
//! `down`; the body faults `truncate` (real status and headers, half the
//! body, then a reset), `stall_body` (half the body, then nothing), and
//! `chunked` (no `Content-Length`, so the cut falls in a chunked body); and
//! `fault_rate`, the share of requests the fault applies to (default 1).
//!
//! ```sh
//! curl -X PUT localhost:9100/faults/orders -d '{"latency_ms": 200, "jitter_ms": 50}'
//! # A third of the orders answers stop half-way, chunked:
//! curl -X PUT localhost:9100/faults/orders -d '{"stall_body": true, "chunked": true, "fault_rate": 0.33}'
//! ```

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http::StatusCode;
use serde::Serialize;

use super::fault::Fault;
use super::record::RecordedRequest;
use super::server::Simulator;
use super::service::Service;

/// The control API's routes.
pub(crate) fn router(simulator: Simulator) -> Router {
    Router::new()
        .route("/services", get(services))
        .route("/faults", axum::routing::delete(clear_all))
        .route("/faults/{service}", put(set_fault).get(get_fault).delete(clear_one))
        .route("/requests/{service}", get(requests))
        .route("/counters/reset", post(reset_counters))
        .fallback(|| async { ControlError::NotFound })
        .with_state(simulator)
}

enum ControlError {
    NotFound,
    BadFault(String),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        match self {
            ControlError::NotFound => {
                (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "not_found" }))).into_response()
            }
            ControlError::BadFault(detail) => (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": "invalid_fault", "detail": detail })),
            )
                .into_response(),
        }
    }
}

fn service(name: &str) -> Result<Service, ControlError> {
    Service::from_name(name).ok_or(ControlError::NotFound)
}

#[derive(Serialize)]
struct ServiceView {
    name: &'static str,
    url: String,
    requests: u64,
    fault: Fault,
}

async fn services(State(sim): State<Simulator>) -> Json<Vec<ServiceView>> {
    Json(
        Service::ALL
            .into_iter()
            .map(|s| ServiceView {
                name: s.name(),
                url: sim.url(s),
                requests: sim.count(s),
                fault: sim.fault(s),
            })
            .collect(),
    )
}

async fn set_fault(
    State(sim): State<Simulator>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Fault>, ControlError> {
    let service = service(&name)?;
    // Any content type is read as JSON, so a bare `curl -d` works too; an
    // empty body is `{}` (a healthy service).
    let fault: Fault = if body.iter().all(u8::is_ascii_whitespace) {
        Fault::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ControlError::BadFault(e.to_string()))?
    };
    fault.validate().map_err(ControlError::BadFault)?;
    sim.set_fault(service, fault);
    Ok(Json(sim.fault(service)))
}

async fn get_fault(State(sim): State<Simulator>, Path(name): Path<String>) -> Result<Json<Fault>, ControlError> {
    Ok(Json(sim.fault(service(&name)?)))
}

async fn clear_one(State(sim): State<Simulator>, Path(name): Path<String>) -> Result<StatusCode, ControlError> {
    sim.set_fault(service(&name)?, Fault::default());
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_all(State(sim): State<Simulator>) -> StatusCode {
    sim.clear_faults();
    StatusCode::NO_CONTENT
}

async fn requests(
    State(sim): State<Simulator>,
    Path(name): Path<String>,
) -> Result<Json<Vec<RecordedRequest>>, ControlError> {
    Ok(Json(sim.requests(service(&name)?)))
}

async fn reset_counters(State(sim): State<Simulator>) -> StatusCode {
    sim.reset_counters();
    StatusCode::NO_CONTENT
}
