//! The layer in front of every service: counts and records each request,
//! draws whether the service's current [`Fault`] applies to it
//! (`fault_rate`), then applies it before (or instead of) letting the
//! handler answer, and has `body.rs` reshape the answer for the body
//! faults. Handlers know nothing of faults.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use super::body;
use super::fault::Fault;
use super::listener::ConnHandle;
use super::port::Port;
use super::record::RecordedRequest;

/// The largest request body a service reads (orders' bodies are far smaller).
const MAX_BODY_BYTES: usize = 1 << 20;
/// How long a reset waits for hyper to drop the connection before cutting it.
const SEVER_AFTER: Duration = Duration::from_millis(200);
/// What a `malformed` service sends: starts like JSON, is not JSON. Public
/// so that a test can tell a pass-through that passed this complete (if
/// invalid) answer on unchanged from one that cut a valid answer short.
pub const MALFORMED_BODY: &str = r#"{"items": [{"id": "p-1", "name": "Trunc"#;

/// What the fault decided for one request.
enum Verdict {
    /// Let the handler answer.
    Serve,
    /// Answer this instead of the handler.
    Answer(Response),
    /// The client was to get no answer (reset, down, hang): the response only
    /// completes the handler, and is not recorded as an answer. (A request
    /// held when the simulator shuts down does receive its 503.)
    Silent(Response),
}

/// The middleware (for `axum::middleware::from_fn_with_state`).
pub(crate) async fn inject(State(port): State<Arc<Port>>, request: Request, next: Next) -> Response {
    let received_at_ms = port.now_ms();
    let conn = request
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .map(|info| info.0.clone());
    let (parts, body) = request.into_parts();
    // The body is read before any fault so that every request is recorded whole.
    let (body, readable) = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => (bytes, true),
        Err(_) => (Bytes::new(), false),
    };
    let seq = port.recorder.record(RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        received_at_ms,
        answered_at_ms: None,
    });

    let fault = port.fault();
    // A request the draw spares meets a healthy service; `down` is a state
    // of the port, not of one request, so it is never spared.
    let fault = if fault.down || applies(fault.fault_rate) {
        fault
    } else {
        Fault::default()
    };
    let mut response = match decide(&port, &fault, conn.as_ref()).await {
        Verdict::Silent(response) => return response,
        Verdict::Answer(response) => response,
        Verdict::Serve if !readable => error_body(StatusCode::BAD_REQUEST, "invalid_request"),
        Verdict::Serve => next.run(Request::from_parts(parts, Body::from(body))).await,
    };
    if fault.shapes_body() {
        response = body::shape(port.clone(), &fault, conn, response).await;
    }
    port.recorder.answered(seq, port.now_ms());
    response
}

/// Draws whether a fault with this `fault_rate` applies to one request.
fn applies(fault_rate: f64) -> bool {
    fault_rate >= 1.0 || (fault_rate > 0.0 && rand::random::<f64>() < fault_rate)
}

async fn decide(port: &Port, fault: &Fault, conn: Option<&ConnHandle>) -> Verdict {
    if fault.is_healthy() {
        return Verdict::Serve;
    }
    if fault.down {
        return Verdict::Silent(reset(port, conn).await);
    }
    let delay = fault.latency_ms.saturating_add(jitter(fault.jitter_ms));
    if delay > 0 && !port.sleep(Duration::from_millis(delay)).await {
        return Verdict::Silent(unavailable());
    }
    if fault.hang {
        // Hyper drops this future when the client closes the connection.
        port.until_shutdown().await;
        return Verdict::Silent(unavailable());
    }
    if fault.reset {
        return Verdict::Silent(reset(port, conn).await);
    }
    if fault.error_rate > 0.0 && rand::random::<f64>() < fault.error_rate {
        return Verdict::Answer(error_body(fault.status(), "injected_fault"));
    }
    if fault.malformed {
        return Verdict::Answer(([(header::CONTENT_TYPE, "application/json")], MALFORMED_BODY).into_response());
    }
    Verdict::Serve
}

fn jitter(max_ms: u64) -> u64 {
    if max_ms == 0 { 0 } else { rand::random_range(0..=max_ms) }
}

/// Resets the connection the request came on. Normally hyper drops this
/// future within microseconds of [`ConnHandle::abort`] and the client gets a
/// TCP RST; should it not, the connection is cut after [`SEVER_AFTER`]. The
/// returned response is never delivered.
async fn reset(port: &Port, conn: Option<&ConnHandle>) -> Response {
    match conn {
        Some(conn) if conn.abort() => {
            let _ = port.sleep(SEVER_AFTER).await;
            conn.sever();
        }
        // Only when served without connect info (a router driven in-process).
        _ => tracing::warn!(service = %port.service, "cannot reset a connection without its handle"),
    }
    unavailable()
}

fn unavailable() -> Response {
    error_body(StatusCode::SERVICE_UNAVAILABLE, "unavailable")
}

fn error_body(status: StatusCode, code: &'static str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": code }))).into_response()
}
