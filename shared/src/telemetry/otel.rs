//! Span export over OTLP/HTTP protobuf (docs/operations.md#traces), on
//! only when an `OTEL_EXPORTER_OTLP_*` endpoint is set.
//!
//! Spans are built with the SDK's tracer directly, once each is over (its
//! start and end times given), rather than bridged from `tracing`: the
//! request path only hands finished spans to the SDK's batch processor,
//! whose bounded queue drops spans when full, and whose own thread sends
//! batches at most `OTEL_BSP_SCHEDULE_DELAY` apart. The HTTP requests go
//! through the BFF's reqwest client on the runtime (a spawned task): a
//! slow or unreachable collector never touches an answer. With export off,
//! [`Traces`] is `None` inside and every method returns at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt, TraceFlags, TraceState, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider};

use super::trace::{SpanId, TraceContext};
use crate::config::{ConfigError, TraceSettings, vars};

/// Spans kept waiting for export at most; more are dropped.
const MAX_QUEUE: usize = 2048;
/// The bound on one export request, and on the flush at shutdown.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The span exporter of one BFF, or nothing when export is off. Cheap to
/// clone.
#[derive(Clone, Default)]
pub struct Traces(Option<Arc<Exporter>>);

struct Exporter {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl std::fmt::Debug for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Traces(on)" } else { "Traces(off)" })
    }
}

/// What the server span of one request says.
pub struct ServerSpan<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The route template, or `unmatched`.
    pub route: &'a str,
    /// The answer's status.
    pub status: u16,
    /// The request id.
    pub request_id: &'a str,
    /// Whether a section was degraded.
    pub partial: bool,
    /// When the request arrived.
    pub start: SystemTime,
}

/// What the client span of one upstream attempt says.
pub struct ClientSpan {
    /// The upstream's name.
    pub upstream: &'static str,
    /// `ok`, a degraded reason or `cancelled`.
    pub outcome: &'static str,
    /// The upstream's status, when one came.
    pub status: Option<u16>,
    /// The span id sent upstream in `traceparent`.
    pub span_id: SpanId,
    /// When the attempt was sent.
    pub start: SystemTime,
}

impl Traces {
    /// The exporter `settings` ask for, sending through `http`; no
    /// exporter without an endpoint. Must be called on a Tokio runtime.
    pub fn new(settings: &TraceSettings, default_service: &str, http: reqwest::Client) -> Result<Self, ConfigError> {
        let Some(endpoint) = &settings.endpoint else {
            return Ok(Self(None));
        };
        let client = RuntimeClient {
            http,
            runtime: tokio::runtime::Handle::current(),
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_endpoint(endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| {
                ConfigError::new(
                    vars::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                    format!("cannot export to {endpoint:?}: {e}"),
                )
            })?;
        let batch = BatchConfigBuilder::default()
            .with_scheduled_delay(settings.schedule_delay)
            .with_max_queue_size(MAX_QUEUE)
            .build();
        let processor = BatchSpanProcessor::builder(exporter).with_batch_config(batch).build();
        let service = settings
            .service_name
            .clone()
            .unwrap_or_else(|| default_service.to_owned());
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(Resource::builder_empty().with_service_name(service).build())
            .build();
        let tracer = provider.tracer("bff");
        Ok(Self(Some(Arc::new(Exporter { provider, tracer }))))
    }

    /// Whether spans are exported.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Records the server span of the request `trace`, ending now.
    pub fn server_span(&self, trace: &TraceContext, span: ServerSpan<'_>) {
        let Some(exporter) = &self.0 else { return };
        let parent = match trace.remote_parent {
            Some(remote) => Context::new().with_remote_span_context(SpanContext::new(
                otel_trace_id(trace),
                opentelemetry::trace::SpanId::from_bytes(remote.0),
                TraceFlags::new(trace.flags),
                true,
                TraceState::default(),
            )),
            None => Context::new(),
        };
        let mut builder = exporter
            .tracer
            .span_builder(format!("{} {}", span.method, span.route))
            .with_kind(SpanKind::Server)
            .with_start_time(span.start)
            .with_attributes([
                KeyValue::new("http.request.method", span.method.to_owned()),
                KeyValue::new("http.route", span.route.to_owned()),
                KeyValue::new("http.response.status_code", i64::from(span.status)),
                KeyValue::new("bff.request_id", span.request_id.to_owned()),
                KeyValue::new("bff.partial", span.partial),
            ]);
        builder.trace_id = Some(otel_trace_id(trace));
        builder.span_id = Some(opentelemetry::trace::SpanId::from_bytes(trace.span_id.0));
        let mut built = exporter.tracer.build_with_context(builder, &parent);
        opentelemetry::trace::Span::end(&mut built);
    }

    /// Records the client span of one upstream attempt of the request
    /// `trace`, ending now: a child of the request's server span.
    pub fn client_span(&self, trace: &TraceContext, span: ClientSpan) {
        let Some(exporter) = &self.0 else { return };
        let parent = Context::new().with_remote_span_context(SpanContext::new(
            otel_trace_id(trace),
            opentelemetry::trace::SpanId::from_bytes(trace.span_id.0),
            TraceFlags::new(trace.flags),
            false,
            TraceState::default(),
        ));
        let mut attributes = vec![
            KeyValue::new("bff.upstream", span.upstream),
            KeyValue::new("bff.outcome", span.outcome),
        ];
        if let Some(status) = span.status {
            attributes.push(KeyValue::new("http.response.status_code", i64::from(status)));
        }
        let mut builder = exporter
            .tracer
            .span_builder(span.upstream)
            .with_kind(SpanKind::Client)
            .with_start_time(span.start)
            .with_attributes(attributes);
        builder.span_id = Some(opentelemetry::trace::SpanId::from_bytes(span.span_id.0));
        let mut built = exporter.tracer.build_with_context(builder, &parent);
        opentelemetry::trace::Span::end(&mut built);
    }

    /// Sends what is queued and stops exporting, waiting at most a few
    /// seconds (graceful shutdown). Call from the runtime.
    pub async fn shutdown(&self) {
        let Some(exporter) = self.0.clone() else { return };
        let flush = tokio::task::spawn_blocking(move || exporter.provider.shutdown_with_timeout(EXPORT_TIMEOUT));
        if tokio::time::timeout(EXPORT_TIMEOUT + Duration::from_secs(1), flush)
            .await
            .is_err()
        {
            tracing::warn!("traces: the final flush did not finish in time");
        }
    }
}

fn otel_trace_id(trace: &TraceContext) -> opentelemetry::trace::TraceId {
    opentelemetry::trace::TraceId::from_bytes(trace.trace_id.0)
}

/// The exporter's HTTP client: the BFF's reqwest client, driven on the
/// Tokio runtime (the batch processor calls it from its own thread).
#[derive(Debug, Clone)]
struct RuntimeClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, HttpError> {
        let http = self.http.clone();
        let task = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let mut outgoing = http
                .request(parts.method, parts.uri.to_string())
                .timeout(EXPORT_TIMEOUT)
                .body(body);
            for (name, value) in &parts.headers {
                outgoing = outgoing.header(name, value);
            }
            let response = outgoing.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            let mut answer = http::Response::new(body);
            *answer.status_mut() = status;
            Ok::<_, reqwest::Error>(answer)
        });
        Ok(task.await??)
    }
}
