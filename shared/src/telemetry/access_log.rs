//! The per-request middleware of docs/operations.md#access-log: it gives
//! the request its trace context ([`RequestTrace`], read by every upstream
//! call), and once the answer is ready writes one access-log line and,
//! when spans are exported, the request's server span.
//!
//! The line carries the request id, trace id, method, route template
//! (`unmatched` when no route matched), status, duration, whether the
//! answer was partial and which sections were degraded (from the
//! [`DegradedReport`] a composite answer leaves in the response's
//! extensions), and the client address of docs/architecture.md (trusted
//! proxies honoured). Never a token, query string, header value or body:
//! the path itself is not written, only its template. Lines go to the
//! shared non-blocking stdout writer (`logs.rs`); before logs are set up
//! (tests, embedders that never call `init_logs`) nothing is written.

use std::io::Write;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use serde::Serialize;

use super::otel::{ServerSpan, Traces};
use super::trace::{RequestTrace, TraceContext};
use crate::around::Around;
use crate::client_addr::TrustedProxies;
use crate::fanout::DegradedReport;
use crate::request_id::RequestId;

/// What the layer needs: the exporter and the proxies whose
/// `X-Forwarded-For` is believed.
#[derive(Debug, Clone)]
pub struct AccessLog {
    traces: Traces,
    trusted: TrustedProxies,
}

impl AccessLog {
    /// The layer's state.
    pub fn new(traces: Traces, trusted: TrustedProxies) -> Self {
        Self { traces, trusted }
    }
}

/// One access-log line.
#[derive(Serialize)]
struct Line<'a> {
    timestamp_ms: u128,
    kind: &'static str,
    request_id: &'a str,
    trace_id: &'a str,
    method: &'a str,
    route: &'a str,
    status: u16,
    duration_ms: f64,
    partial: bool,
    degraded: Vec<String>,
    client: Option<std::net::IpAddr>,
}

/// What the access log keeps from a request until its answer is ready.
pub(crate) struct Pending {
    started: Instant,
    wall: SystemTime,
    trace: Arc<RequestTrace>,
    client: Option<std::net::IpAddr>,
    method: http::Method,
    route: Option<MatchedPath>,
    request_id: Option<Arc<str>>,
}

impl Around for Arc<AccessLog> {
    type Carry = Pending;

    /// Gives the request its trace context and notes what the line needs.
    fn before(&self, request: &mut Request) -> Pending {
        let trace = Arc::new(RequestTrace {
            context: TraceContext::from_headers(request.headers()),
            traces: self.traces.clone(),
        });
        request.extensions_mut().insert(trace.clone());
        let client = self.trusted.of_request(request.extensions(), request.headers());
        if let Some(client) = client {
            request.extensions_mut().insert(client);
        }
        Pending {
            started: Instant::now(),
            wall: SystemTime::now(),
            trace,
            client: client.map(|c| c.0),
            method: request.method().clone(),
            route: request.extensions().get::<MatchedPath>().cloned(),
            request_id: request.extensions().get::<RequestId>().map(|r| r.0.clone()),
        }
    }

    /// Writes the line, and the server span when spans are exported.
    fn after(&self, pending: Pending, response: &mut Response) {
        let Pending {
            started,
            wall,
            trace,
            client,
            method,
            route,
            request_id,
        } = pending;
        let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let status = response.status().as_u16();
        let degraded = response.extensions().get::<DegradedReport>();
        let partial = degraded.is_some_and(|d| !d.0.is_empty());
        let request_id = request_id.as_deref().unwrap_or("");
        trace.traces.server_span(
            &trace.context,
            ServerSpan {
                method: method.as_str(),
                route,
                status,
                request_id,
                partial,
                start: wall,
            },
        );
        if let Some((writer, json)) = super::logs::stdout() {
            let line = Line {
                timestamp_ms: wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()),
                kind: "access",
                request_id,
                trace_id: &trace.context.trace_id_hex(),
                method: method.as_str(),
                route,
                status,
                duration_ms: (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
                partial,
                degraded: degraded
                    .map(|d| {
                        d.0.iter()
                            .map(|d| format!("{}:{}", d.section, d.reason.as_str()))
                            .collect()
                    })
                    .unwrap_or_default(),
                client,
            };
            let mut out = if *json { json_line(&line) } else { pretty_line(&line) };
            out.push(b'\n');
            let _ = writer.clone().write_all(&out);
        }
    }
}

fn json_line(line: &Line<'_>) -> Vec<u8> {
    // A line is about 300 bytes: one allocation, not a doubling series.
    let mut out = Vec::with_capacity(512);
    match serde_json::to_writer(&mut out, line) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

fn pretty_line(line: &Line<'_>) -> Vec<u8> {
    let mut out = format!(
        "access {} {} {} {:.1}ms request_id={} trace_id={} client={}",
        line.method,
        line.route,
        line.status,
        line.duration_ms,
        line.request_id,
        line.trace_id,
        line.client.map_or_else(|| "-".to_owned(), |c| c.to_string()),
    );
    if line.partial {
        out.push_str(" partial degraded=");
        out.push_str(&line.degraded.join(","));
    }
    out.into_bytes()
}
