//! One upstream and the life of a call to it: deadline check, breaker,
//! bulkhead, send with the remaining budget, classify; then, when
//! configured, retries and a hedge through the same checks. Accounting for
//! each sent attempt is [`super::attempt`]'s, bounding bodies
//! [`super::body`]'s, when to retry and the budget [`super::retry`]'s,
//! the attempts after the first `retrying`'s.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::attempt::{Attempt, AttemptSpan};
use super::body::{StreamedJson, read_capped};
use super::breaker::{Breaker, Ticket};
use super::client::{RequestBody, UpstreamClient, UpstreamResponse};
use super::error::UpstreamError;
use super::retry::RetryPolicy;
use crate::config::{BreakerSettings, RetrySettings, UpstreamSettings};
use crate::context::RequestCtx;
use crate::telemetry::trace::{SpanId, TRACEPARENT, TRACESTATE};
use crate::telemetry::{Metrics, UpstreamMetrics};

mod retrying;

static X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_REQUEST_TIMEOUT_MS: HeaderName = HeaderName::from_static("x-request-timeout-ms");

/// One upstream service.
#[derive(Debug)]
pub struct Upstream {
    name: &'static str,
    base: BaseUrl,
    timeout: Option<Duration>,
    /// Retries, hedging and their budget.
    retry: RetryPolicy,
    /// The largest body read or passed on (`BFF_UPSTREAM_MAX_BODY_BYTES`).
    max_body_bytes: usize,
    client: UpstreamClient,
    breaker: Breaker,
    in_flight: Arc<Semaphore>,
    /// The in-flight cap, for the status page (a semaphore does not say).
    max_in_flight: usize,
    metrics: UpstreamMetrics,
}

/// An outgoing request before the common headers are added; cloned for
/// each retry or hedge, so every attempt carries the same headers (and
/// `Idempotency-Key`).
#[derive(Clone)]
struct Outgoing<'a> {
    method: Method,
    path: &'a str,
    body: Option<Bytes>,
    headers: &'a [(HeaderName, HeaderValue)],
}

/// Permission to send one attempt: the breaker's ticket and a place under
/// the in-flight cap, held until the attempt ends.
struct Admitted<'a> {
    ticket: Ticket<'a>,
    _permit: SemaphorePermit<'a>,
}

/// How one attempt ended.
struct Tried<T> {
    result: Result<T, UpstreamError>,
    /// The connection failed before the request was written.
    unsent: bool,
    /// From sending to the result.
    elapsed: Duration,
}

impl Upstream {
    /// An upstream called `name` with its settings and a share of
    /// `client`, reading bodies of at most `max_body_bytes`. Retries use
    /// the default shared settings until [`Upstream::with_retry`].
    pub fn new(
        name: &'static str,
        settings: &UpstreamSettings,
        breaker: &BreakerSettings,
        max_body_bytes: usize,
        client: UpstreamClient,
        metrics: &Metrics,
    ) -> Self {
        let metrics = metrics.upstream(name);
        Self {
            name,
            // `Upstreams::new` refuses an upstream without a URL.
            base: BaseUrl::new(settings.url.as_deref().unwrap_or_default()),
            timeout: settings.timeout,
            retry: RetryPolicy::new(settings.retries, settings.hedge, &RetrySettings::default()),
            max_body_bytes,
            client,
            breaker: Breaker::new(breaker.failures, breaker.open).with_gauge(metrics.breaker.clone()),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
            max_in_flight: settings.max_in_flight.max(1),
            metrics,
        }
    }

    /// The same upstream under the shared retry settings (`BFF_RETRIES`,
    /// `BFF_RETRY_BACKOFF_MS`, `BFF_RETRY_BUDGET_PERCENT`); its own
    /// `BFF_UPSTREAM_<NAME>_RETRIES` still wins.
    pub fn with_retry(mut self, settings: &RetrySettings) -> Self {
        self.retry = self.retry.rebuilt(settings);
        self
    }

    /// The upstream's name, as used in metrics and logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The breaker's current state.
    pub fn breaker_state(&self) -> super::BreakerState {
        self.breaker.state()
    }

    /// Calls in flight now, and the cap (`BFF_UPSTREAM_<NAME>_MAX_IN_FLIGHT`).
    pub fn in_flight(&self) -> (usize, usize) {
        let free = self.in_flight.available_permits().min(self.max_in_flight);
        (self.max_in_flight - free, self.max_in_flight)
    }

    /// Its attempts over the last 60 s (the status page's figures).
    pub fn recent(&self) -> crate::telemetry::WindowSummary {
        self.metrics.window().summary()
    }

    /// `GET path` (path and query, already encoded) and decode a JSON body.
    /// Retried and hedged as configured (GETs are idempotent).
    pub async fn get_json<T: DeserializeOwned>(&self, ctx: &RequestCtx, path: &str) -> Result<T, UpstreamError> {
        self.get_json_weighted(ctx, path).await.map(|(value, _)| value)
    }

    /// Like [`Upstream::get_json`], also returning the body's size in bytes
    /// (the weight of a cache entry).
    pub async fn get_json_weighted<T: DeserializeOwned>(
        &self,
        ctx: &RequestCtx,
        path: &str,
    ) -> Result<(T, usize), UpstreamError> {
        self.get(ctx, path, |r| read_json_weighted::<T>(r, self.max_body_bytes))
            .await
    }

    /// `POST path` with a JSON body and extra headers (such as
    /// `Idempotency-Key`); decodes a JSON answer. Retried only when the
    /// connection failed before the request was written, with the same
    /// headers: whatever else happened, the upstream may have acted on it.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        ctx: &RequestCtx,
        path: &str,
        body: &B,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Result<T, UpstreamError> {
        let body = serde_json::to_vec(body).map_err(|_| UpstreamError::BadResponse)?;
        let outgoing = Outgoing {
            method: Method::POST,
            path,
            body: Some(Bytes::from(body)),
            headers,
        };
        self.post(ctx, outgoing, &|r| read_json::<T>(r, self.max_body_bytes))
            .await
    }

    /// `GET path` and hand back a 2xx `application/json` answer with its
    /// body unread, for streaming it on; another type, or a declared length
    /// over the cap, is `BadResponse`. The attempt is accounted for (and
    /// the breaker told) once the head arrives; the body that follows is
    /// bounded by the request's deadline and the cap (see [`StreamedJson`]).
    /// Retries and hedges happen before a head is accepted, never once the
    /// body flows.
    pub async fn get_streaming(&self, ctx: &RequestCtx, path: &str) -> Result<StreamedJson, UpstreamError> {
        let deadline = ctx.deadline.instant();
        self.get(ctx, path, |response| {
            std::future::ready(StreamedJson::accept(self.name, response, deadline, self.max_body_bytes))
        })
        .await
    }

    /// Deadline, breaker, in-flight cap: whether an attempt may be sent.
    fn admit(&self, ctx: &RequestCtx) -> Result<Admitted<'_>, UpstreamError> {
        if Instant::now() >= ctx.deadline.instant() {
            return Err(UpstreamError::Timeout);
        }
        let ticket = self.breaker.try_acquire().ok_or(UpstreamError::CircuitOpen)?;
        // On refusal the ticket is dropped unjudged: a probe slot it held
        // is freed.
        let permit = self.in_flight.try_acquire().map_err(|_| UpstreamError::Overloaded)?;
        Ok(Admitted {
            ticket,
            _permit: permit,
        })
    }

    /// One attempt: admitted and sent, or refused and counted as such
    /// (a refused call is an attempt with nothing to judge the upstream by).
    async fn call<T, F, Fut>(&self, ctx: &RequestCtx, outgoing: Outgoing<'_>, read: &F) -> Tried<T>
    where
        F: Fn(UpstreamResponse) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        match self.admit(ctx) {
            Ok(admitted) => self.send(ctx, outgoing, admitted, read).await,
            Err(e) => {
                self.metrics.attempt(Err(e.reason()));
                Tried {
                    result: Err(e),
                    unsent: true,
                    elapsed: Duration::ZERO,
                }
            }
        }
    }

    /// Sends an admitted attempt with the remaining budget and classifies
    /// its answer.
    async fn send<T, F, Fut>(
        &self,
        ctx: &RequestCtx,
        outgoing: Outgoing<'_>,
        admitted: Admitted<'_>,
        read: &F,
    ) -> Tried<T>
    where
        F: Fn(UpstreamResponse) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let Admitted { ticket, _permit } = admitted;
        let now = Instant::now();
        let deadline = ctx.deadline.instant();
        // One limit for this timer and for the accounting below, so a
        // timeout is a timeout whichever timer (this one, a fan-out's, a
        // handler's) fires first.
        let limit = self.timeout.map_or(deadline, |own| deadline.min(now + own));
        // Each attempt (retries and hedges too) is a span of its own.
        let span_id = SpanId::random();
        let request = self.build(ctx, outgoing, limit.saturating_duration_since(now), span_id);
        let span = ctx.trace.traces.enabled().then(|| AttemptSpan {
            trace: ctx.trace.clone(),
            span_id,
            upstream: self.name,
            start: std::time::SystemTime::now(),
            status: None,
        });
        // From here until `finish`, dropping this future is accounted for
        // by the attempt's guard.
        let mut attempt = Attempt::start(&self.metrics, &self.breaker, ticket, limit).traced(span);
        let mut unsent = false;
        let result = match tokio::time::timeout_at(limit, async {
            let response = self.client.send(request?).await.map_err(|e| {
                tracing::debug!(upstream = self.name, error = %e, "upstream request failed");
                // The connection was never made, so the request was not
                // written: the one failure after which a POST is retried.
                unsent = e.is_connect();
                UpstreamError::Transport
            })?;
            let status = response.status();
            attempt.answered(status.as_u16());
            if status.is_success() {
                read(response).await
            } else if status == http::StatusCode::NOT_FOUND {
                Err(UpstreamError::NotFound)
            } else {
                Err(UpstreamError::Status(status.as_u16()))
            }
        })
        .await
        {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout),
        };
        attempt.finish(&result);
        let elapsed = now.elapsed();
        match &result {
            Ok(_) => self.retry.answered_in(elapsed),
            Err(e) => {
                tracing::debug!(upstream = self.name, request_id = %ctx.request_id, reason = e.reason().as_str(), "upstream call degraded");
            }
        }
        Tried {
            result,
            unsent,
            elapsed,
        }
    }

    /// The attempt's request: the call's method, path, body and headers,
    /// plus the ones every upstream call carries (docs/api.md#the-upstream-contract).
    /// A path that makes no valid URI under the base is a transport
    /// failure, as the connection could not have been asked for it.
    fn build(
        &self,
        ctx: &RequestCtx,
        outgoing: Outgoing<'_>,
        budget: Duration,
        span_id: SpanId,
    ) -> Result<http::Request<RequestBody>, UpstreamError> {
        let uri = self.base.join(outgoing.path).ok_or(UpstreamError::Transport)?;
        let budget_ms = budget.as_millis().clamp(1, u64::MAX as u128) as u64;
        let body = outgoing.body.unwrap_or_default();
        let mut request = http::Request::new(RequestBody::new(body.clone()));
        *request.method_mut() = outgoing.method;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(X_REQUEST_TIMEOUT_MS.clone(), HeaderValue::from(budget_ms));
        if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
            headers.insert(X_REQUEST_ID.clone(), id);
        }
        if let Some(user) = &ctx.user {
            headers.insert(X_USER_ID.clone(), user.clone());
        }
        let trace = &ctx.trace.context;
        headers.insert(TRACEPARENT.clone(), trace.traceparent(span_id));
        if let Some(state) = &trace.state {
            headers.insert(TRACESTATE.clone(), state.clone());
        }
        for (name, value) in outgoing.headers {
            headers.append(name.clone(), value.clone());
        }
        if !body.is_empty() {
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(request)
    }
}

/// An upstream's base URL without its trailing `/`; each call's URI is
/// the base followed by the call's path and query (already encoded).
#[derive(Debug)]
struct BaseUrl(String);

impl BaseUrl {
    fn new(raw: &str) -> Self {
        Self(raw.trim_end_matches('/').to_owned())
    }

    /// The absolute URI of `path_and_query` under this base, or `None`
    /// when they make no valid URI.
    fn join(&self, path_and_query: &str) -> Option<http::Uri> {
        http::Uri::try_from(format!("{}{path_and_query}", self.0))
            .ok()
            .filter(|uri| uri.scheme().is_some() && uri.authority().is_some())
    }
}

async fn read_json<T: DeserializeOwned>(response: UpstreamResponse, cap: usize) -> Result<T, UpstreamError> {
    read_json_weighted(response, cap).await.map(|(value, _)| value)
}

async fn read_json_weighted<T: DeserializeOwned>(
    response: UpstreamResponse,
    cap: usize,
) -> Result<(T, usize), UpstreamError> {
    let body = read_capped(response, cap).await?;
    let value = serde_json::from_slice(&body).map_err(|_| UpstreamError::BadResponse)?;
    Ok((value, body.len()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::config::{BreakerSettings, ClientSettings, RetrySettings, UpstreamSettings};
    use crate::context::Deadline;
    use crate::upstream::BreakerState;

    /// An upstream on loopback that reads requests and never answers.
    async fn silent_upstream(metrics: &Metrics) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                held.push(socket);
            }
        });
        let breaker = BreakerSettings {
            failures: 1,
            open: Duration::from_secs(60),
        };
        let client = UpstreamClient::new(&ClientSettings::default(), 16).unwrap();
        Upstream::new("silent", &UpstreamSettings::new(url), &breaker, 1024, client, metrics)
    }

    fn attempts(metrics: &Metrics, outcome: &str) -> f64 {
        let series = format!("bff_upstream_requests_total{{upstream=\"silent\",outcome=\"{outcome}\"}}");
        metrics.sample(&series).unwrap_or(0.0)
    }

    /// An upstream at a loopback port nothing listens on, retried `retries`
    /// times.
    async fn refusing_upstream(metrics: &Metrics, retries: u32) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let breaker = BreakerSettings {
            failures: 100,
            open: Duration::from_secs(60),
        };
        let client = UpstreamClient::new(&ClientSettings::default(), 16).unwrap();
        let settings = UpstreamSettings::new(url);
        let retry = RetrySettings {
            retries,
            backoff: Duration::from_millis(1),
            budget_percent: 20,
        };
        Upstream::new("silent", &settings, &breaker, 1024, client, metrics).with_retry(&retry)
    }

    fn counted(metrics: &Metrics, name: &str) -> f64 {
        metrics.sample(&format!("{name}{{upstream=\"silent\"}}")).unwrap_or(0.0)
    }

    #[test]
    fn a_call_uri_is_the_base_followed_by_the_path_and_query() {
        let cases = [
            ("http://127.0.0.1:9101", "/users/u-1", "http://127.0.0.1:9101/users/u-1"),
            (
                "http://127.0.0.1:9101/",
                "/users/u%201",
                "http://127.0.0.1:9101/users/u%201",
            ),
            (
                "http://example.test/api/",
                "/orders?user_id=u-1&limit=5",
                "http://example.test/api/orders?user_id=u-1&limit=5",
            ),
            (
                "https://[::1]:8443",
                "/products?ids=p-1,p%2C2",
                "https://[::1]:8443/products?ids=p-1,p%2C2",
            ),
        ];
        for (base, path, expected) in cases {
            let uri = BaseUrl::new(base).join(path).expect("a valid URI");
            assert_eq!(uri.to_string(), expected);
        }
        assert_eq!(BaseUrl::new("not a url").join("/x"), None);
        assert_eq!(BaseUrl::new("http://h").join("/a b"), None, "an unencoded space");
    }

    #[tokio::test]
    async fn a_post_whose_connection_was_refused_is_retried_and_every_attempt_counted() {
        let metrics = Metrics::new();
        let upstream = refusing_upstream(&metrics, 2).await;
        let ctx = RequestCtx::detached("r-1", Deadline::after(Duration::from_secs(5)));
        let key = [(
            HeaderName::from_static("idempotency-key"),
            HeaderValue::from_static("k"),
        )];
        let result = upstream
            .post_json::<_, serde_json::Value>(&ctx, "/orders", &serde_json::json!({}), &key)
            .await;
        assert_eq!(result.unwrap_err(), UpstreamError::Transport);
        assert_eq!(attempts(&metrics, "upstream_error"), 3.0, "the call and two retries");
        assert_eq!(counted(&metrics, "bff_upstream_retries_total"), 2.0);
    }

    #[tokio::test]
    async fn with_no_retries_configured_a_refused_get_is_one_attempt() {
        let metrics = Metrics::new();
        let upstream = refusing_upstream(&metrics, 0).await;
        let ctx = RequestCtx::detached("r-1", Deadline::after(Duration::from_secs(5)));
        let result = upstream.get_json::<serde_json::Value>(&ctx, "/x").await;
        assert_eq!(result.unwrap_err(), UpstreamError::Transport);
        assert_eq!(attempts(&metrics, "upstream_error"), 1.0);
        assert_eq!(counted(&metrics, "bff_upstream_retries_total"), 0.0);
        assert_eq!(counted(&metrics, "bff_upstream_hedges_total"), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_is_sent_only_if_the_deadline_covers_the_wait_and_a_usual_attempt() {
        let metrics = Metrics::new();
        let upstream = refusing_upstream(&metrics, 3).await;
        let ctx = RequestCtx::detached("r-1", Deadline::after(Duration::from_millis(100)));
        let ms = Duration::from_millis;
        assert!(upstream.fits(&ctx, ms(40), ms(50)));
        assert!(!upstream.fits(&ctx, ms(60), ms(50)), "the failed attempt took 50 ms");
        upstream.retry.answered_in(ms(90));
        assert!(!upstream.fits(&ctx, ms(20), ms(1)), "answers usually take 90 ms");
        tokio::time::advance(ms(95)).await;
        upstream.retry.answered_in(ms(1));
        assert!(
            !upstream.fits(&ctx, ms(1), ms(1)),
            "5 ms left, an answer takes about 79"
        );
    }

    #[tokio::test]
    async fn a_call_cut_by_another_timer_at_the_deadline_is_one_timeout_and_trips_the_breaker() {
        let metrics = Metrics::new();
        let upstream = silent_upstream(&metrics).await;
        let ctx = RequestCtx::detached("r-1", Deadline::after(Duration::from_millis(100)));
        // The fan-out's timer, polled before the call's own: the call is
        // dropped rather than finished.
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(ctx.deadline.instant()) => {}
            _ = upstream.get_json::<serde_json::Value>(&ctx, "/x") => panic!("a silent upstream answered"),
        }
        assert_eq!(attempts(&metrics, "timeout"), 1.0);
        assert_eq!(attempts(&metrics, "cancelled"), 0.0);
        assert_eq!(upstream.breaker_state(), BreakerState::Open);
    }

    #[tokio::test]
    async fn a_call_dropped_while_the_request_has_time_is_cancelled_and_neutral() {
        let metrics = Metrics::new();
        let upstream = silent_upstream(&metrics).await;
        let ctx = RequestCtx::detached("r-1", Deadline::after(Duration::from_secs(10)));
        let call = upstream.get_json::<serde_json::Value>(&ctx, "/x");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), call).await.is_err(),
            "a silent upstream answered"
        );
        assert_eq!(attempts(&metrics, "cancelled"), 1.0);
        assert_eq!(attempts(&metrics, "timeout"), 0.0);
        assert_eq!(upstream.breaker_state(), BreakerState::Closed);
        let gauge = metrics.sample("bff_circuit_breaker_state{upstream=\"silent\"}");
        assert_eq!(gauge, Some(0.0));
    }

    #[tokio::test]
    async fn a_call_that_runs_out_of_time_itself_is_one_timeout() {
        let metrics = Metrics::new();
        let upstream = silent_upstream(&metrics).await;
        let ctx = RequestCtx::detached("r-1", Deadline::after(Duration::from_millis(100)));
        let result = upstream.get_json::<serde_json::Value>(&ctx, "/x").await;
        assert_eq!(result.unwrap_err(), UpstreamError::Timeout);
        assert_eq!(attempts(&metrics, "timeout"), 1.0);
        assert_eq!(attempts(&metrics, "cancelled"), 0.0);
        let gauge = metrics.sample("bff_circuit_breaker_state{upstream=\"silent\"}");
        assert_eq!(gauge, Some(1.0), "the breaker opened and the gauge says so");
    }
}
