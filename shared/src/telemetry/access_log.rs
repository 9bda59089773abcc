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
            let mut trace_hex = [0; 32];
            let line = Line {
                timestamp_ms: wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()),
                kind: "access",
                request_id,
                trace_id: trace.context.trace_id_hex_str(&mut trace_hex),
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

/// The line as JSON, written field by field: serde would escape each of
/// the constant keys too, a third of the line's cost. The same JSON as
/// `serde_json::to_vec(line)` (a test holds it to that).
fn json_line(line: &Line<'_>) -> Vec<u8> {
    // A line is about 300 bytes: one allocation, not a doubling series.
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"timestamp_ms\":");
    let _ = serde_json::to_writer(&mut out, &line.timestamp_ms);
    out.extend_from_slice(b",\"kind\":");
    json_str(&mut out, line.kind);
    out.extend_from_slice(b",\"request_id\":");
    json_str(&mut out, line.request_id);
    out.extend_from_slice(b",\"trace_id\":");
    json_str(&mut out, line.trace_id);
    out.extend_from_slice(b",\"method\":");
    json_str(&mut out, line.method);
    out.extend_from_slice(b",\"route\":");
    json_str(&mut out, line.route);
    out.extend_from_slice(b",\"status\":");
    let _ = serde_json::to_writer(&mut out, &line.status);
    out.extend_from_slice(b",\"duration_ms\":");
    let _ = serde_json::to_writer(&mut out, &line.duration_ms);
    out.extend_from_slice(if line.partial {
        b",\"partial\":true,\"degraded\":["
    } else {
        b",\"partial\":false,\"degraded\":["
    });
    for (i, degraded) in line.degraded.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(&mut out, degraded);
    }
    out.extend_from_slice(b"],\"client\":");
    match line.client {
        Some(client) => {
            let _ = write!(out, "\"{client}\"");
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    out
}

/// `s` as a JSON string: copied when nothing in it needs escaping (ids,
/// methods and route templates never do), else escaped by serde_json.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // Every byte looked at, no early exit: the compiler can do it 32 at a time.
    let needs_escape = s
        .bytes()
        .fold(false, |found, b| found | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if needs_escape {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(
        request_id: &'a str,
        route: &'a str,
        degraded: Vec<String>,
        client: Option<std::net::IpAddr>,
    ) -> Line<'a> {
        Line {
            timestamp_ms: 1_765_008_000_123,
            kind: "access",
            request_id,
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
            method: "GET",
            route,
            status: 200,
            duration_ms: 41.873,
            partial: !degraded.is_empty(),
            degraded,
            client,
        }
    }

    #[test]
    fn the_hand_written_line_is_the_json_serde_writes() {
        let lines = [
            line(
                "5b0c-id",
                "/v1/products/{id}",
                vec!["price:upstream_error".into()],
                Some("203.0.113.7".parse().unwrap()),
            ),
            line("id", "unmatched", vec![], None),
            line(
                "a\"quote\\and\u{1}control",
                "/ünïcode",
                vec!["a:b".into(), "c:\"d\"".into()],
                Some("2001:db8::1".parse().unwrap()),
            ),
        ];
        for line in &lines {
            let ours = json_line(line);
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&ours).unwrap(),
                serde_json::to_value(line).unwrap(),
                "{}",
                String::from_utf8_lossy(&ours)
            );
            assert_eq!(ours, serde_json::to_vec(line).unwrap());
        }
    }
}
