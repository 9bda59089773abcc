//! Trace context and span export (docs/operations.md#traces): every
//! upstream call carries a W3C `traceparent` of the request's trace, and
//! with an OTLP endpoint set the spans reach a real OTLP/HTTP receiver
//! with the span ids the upstreams saw.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use bff_stack::simulator::{Fault, RecordedRequest, Service};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::support::{Bff, Stack, spawn, spawn_with, token};

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_PARENT: &str = "00f067aa0ba902b7";

fn client_traceparent() -> String {
    format!("00-{CLIENT_TRACE}-{CLIENT_PARENT}-01")
}

/// Every request the simulator received, with the service it went to.
fn upstream_calls(stack: &Stack) -> Vec<(Service, RecordedRequest)> {
    Service::ALL
        .into_iter()
        .flat_map(|service| stack.sim.requests(service).into_iter().map(move |r| (service, r)))
        .collect()
}

/// `(trace id, span id, flags)` of a recorded request's `traceparent`.
fn traceparent(request: &RecordedRequest) -> (String, String, String) {
    let value = request
        .header("traceparent")
        .expect("every upstream call carries a traceparent");
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    assert_eq!(parts[0], "00", "{value}");
    assert_eq!((parts[1].len(), parts[2].len(), parts[3].len()), (32, 16, 2), "{value}");
    assert!(
        value
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    (parts[1].to_owned(), parts[2].to_owned(), parts[3].to_owned())
}

#[tokio::test]
async fn with_a_client_traceparent_every_upstream_call_carries_its_trace_and_a_span_of_its_own() {
    let stack = spawn(Bff::Mobile).await;
    let parent = client_traceparent();
    let answer = stack
        .get(
            "/v1/home",
            Some(&token("u-1")),
            &[("traceparent", &parent), ("tracestate", "vendor=abc,other=1")],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let calls = upstream_calls(&stack);
    assert!(calls.len() >= 3, "home calls several upstreams: {}", calls.len());
    let mut spans = HashSet::new();
    for (service, call) in &calls {
        let (trace, span, flags) = traceparent(call);
        assert_eq!(trace, CLIENT_TRACE, "{service:?}");
        assert_eq!(flags, "01");
        assert_ne!(span, CLIENT_PARENT, "the BFF's own span, not the client's");
        assert!(spans.insert(span), "each call has its own span id");
        assert_eq!(call.header("tracestate"), Some("vendor=abc,other=1"), "{service:?}");
    }
}

#[tokio::test]
async fn without_a_traceparent_a_new_trace_is_shared_by_the_requests_calls_only() {
    let stack = spawn(Bff::Mobile).await;
    let mut traces = Vec::new();
    for _ in 0..2 {
        stack.sim.reset_counters();
        let answer = stack.get("/v1/home", Some(&token("u-1")), &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let calls = upstream_calls(&stack);
        let ids: HashSet<String> = calls.iter().map(|(_, c)| traceparent(c).0).collect();
        assert_eq!(ids.len(), 1, "one trace per request: {ids:?}");
        let spans: HashSet<String> = calls.iter().map(|(_, c)| traceparent(c).1).collect();
        assert_eq!(spans.len(), calls.len(), "a span id per call");
        assert!(calls.iter().all(|(_, c)| c.header("tracestate").is_none()));
        traces.extend(ids);
    }
    assert_ne!(traces[0], traces[1], "each request starts its own trace");
    assert_ne!(traces[0], "0".repeat(32));
}

#[tokio::test]
async fn an_invalid_client_traceparent_is_ignored_and_a_new_trace_started() {
    let stack = spawn(Bff::Mobile).await;
    let upper = format!("00-{}-{CLIENT_PARENT}-01", CLIENT_TRACE.to_uppercase());
    let zero = format!("00-{}-{CLIENT_PARENT}-01", "0".repeat(32));
    for bad in [upper.as_str(), zero.as_str(), "00-garbage", "01-x"] {
        stack.sim.reset_counters();
        let answer = stack
            .get(
                "/v1/home",
                Some(&token("u-1")),
                &[("traceparent", bad), ("tracestate", "k=v")],
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        for (_, call) in upstream_calls(&stack) {
            let (trace, _, flags) = traceparent(&call);
            assert_ne!(trace.to_lowercase(), CLIENT_TRACE, "{bad}");
            assert_ne!(trace, "0".repeat(32), "{bad}");
            assert_eq!(flags, "01");
            assert_eq!(
                call.header("tracestate"),
                None,
                "a tracestate without its traceparent is dropped"
            );
        }
    }
}

/// A real OTLP/HTTP receiver on loopback: every export it decodes.
struct Collector {
    url: String,
    exports: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

async fn receive(State(exports): State<Arc<Mutex<Vec<ExportTraceServiceRequest>>>>, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    exports.lock().unwrap().push(request);
    // An empty ExportTraceServiceResponse.
    Vec::new()
}

async fn collector() -> Collector {
    let exports = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(exports.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Collector { url, exports }
}

/// One exported span with its resource's `service.name`.
struct Exported {
    service: String,
    span: Span,
}

fn exported(collector: &Collector) -> Vec<Exported> {
    let mut all = Vec::new();
    for export in collector.exports.lock().unwrap().iter() {
        for resource in &export.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| attr(&r.attributes, "service.name"))
                .and_then(|v| match v {
                    Any::StringValue(s) => Some(s),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in &resource.scope_spans {
                for span in &scope.spans {
                    all.push(Exported {
                        service: service.clone(),
                        span: span.clone(),
                    });
                }
            }
        }
    }
    all
}

fn attr(attributes: &[KeyValue], key: &str) -> Option<Any> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.clone())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn exported_spans_reach_an_otlp_receiver_with_the_span_ids_the_upstreams_saw() {
    let collector = collector().await;
    let stack = spawn_with(
        Bff::Mobile,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url),
            ("OTEL_SERVICE_NAME", "mobile-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("BFF_UPSTREAM_RECOMMENDATIONS_RETRIES", "1"),
        ],
    )
    .await;
    // Recommendations fail with 503: the attempt and its retry are two
    // sibling spans, and the answer is partial.
    stack.sim.set_fault(Service::Recommendations, Fault::always(503));
    let answer = stack
        .get(
            "/v1/home",
            Some(&token("u-1")),
            &[("traceparent", &client_traceparent())],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("x-partial-response"), Some("true"), "{}", answer.text);
    let request_id = answer.header("x-request-id").expect("a request id").to_owned();
    let calls = upstream_calls(&stack);

    // Wait (bounded) until the server span and every client span arrived.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let spans = exported(&collector);
        let ours = spans.iter().filter(|e| hex(&e.span.trace_id) == CLIENT_TRACE).count();
        if ours > calls.len() {
            break spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{ours} spans of {} arrived",
            calls.len() + 1
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ours: Vec<&Exported> = spans.iter().filter(|e| hex(&e.span.trace_id) == CLIENT_TRACE).collect();
    assert!(ours.iter().all(|e| e.service == "mobile-under-test"));

    let server: Vec<&Span> = ours.iter().map(|e| &e.span).filter(|s| s.kind == 2).collect();
    assert_eq!(server.len(), 1, "one server span per request");
    let server = server[0];
    assert_eq!(server.name, "GET /v1/home");
    assert_eq!(
        hex(&server.parent_span_id),
        CLIENT_PARENT,
        "a child of the client's span"
    );
    assert_eq!(
        attr(&server.attributes, "http.request.method"),
        Some(Any::StringValue("GET".into()))
    );
    assert_eq!(
        attr(&server.attributes, "http.route"),
        Some(Any::StringValue("/v1/home".into()))
    );
    assert_eq!(
        attr(&server.attributes, "http.response.status_code"),
        Some(Any::IntValue(200))
    );
    assert_eq!(
        attr(&server.attributes, "bff.request_id"),
        Some(Any::StringValue(request_id))
    );
    assert_eq!(attr(&server.attributes, "bff.partial"), Some(Any::BoolValue(true)));

    let clients: HashMap<String, &Span> = ours
        .iter()
        .map(|e| &e.span)
        .filter(|s| s.kind == 3)
        .map(|s| (hex(&s.span_id), s))
        .collect();
    assert_eq!(clients.len(), calls.len(), "a client span per upstream attempt");
    for (service, call) in &calls {
        let (_, span_id, _) = traceparent(call);
        let span = clients
            .get(&span_id)
            .unwrap_or_else(|| panic!("no span with the id {service:?} received"));
        assert_eq!(span.parent_span_id, server.span_id, "a child of the request's span");
        assert_eq!(span.name, service.name());
        assert_eq!(
            attr(&span.attributes, "bff.upstream"),
            Some(Any::StringValue(service.name().into()))
        );
        assert!(span.start_time_unix_nano >= server.start_time_unix_nano);
        if *service == Service::Recommendations {
            assert_eq!(
                attr(&span.attributes, "http.response.status_code"),
                Some(Any::IntValue(503))
            );
            assert_eq!(
                attr(&span.attributes, "bff.outcome"),
                Some(Any::StringValue("upstream_error".into()))
            );
        } else {
            assert_eq!(
                attr(&span.attributes, "http.response.status_code"),
                Some(Any::IntValue(200))
            );
            assert_eq!(
                attr(&span.attributes, "bff.outcome"),
                Some(Any::StringValue("ok".into()))
            );
        }
    }
    let retried = calls.iter().filter(|(s, _)| *s == Service::Recommendations).count();
    assert_eq!(retried, 2, "the attempt and its retry, siblings under the server span");
}

#[tokio::test]
async fn an_unreachable_collector_changes_nothing_a_client_sees() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{closed}");
    let stack = spawn_with(
        Bff::Mobile,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
            ("BFF_RATE_LIMIT_RPS", "0"),
        ],
    )
    .await;
    let bearer = token("u-1");
    for _ in 0..30 {
        let answer = stack.get("/v1/home", Some(&bearer), &[]).await;
        // A full answer: every section arrived within the deadline, so
        // the failing exports never held a request up.
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.header("x-partial-response"), None, "{}", answer.text);
        assert_eq!(answer.json()["meta"]["partial"], false);
    }
}
