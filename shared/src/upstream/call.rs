//! One upstream and the life of a call to it: deadline check, breaker,
//! bulkhead, send with the remaining budget, classify. Accounting for each
//! sent attempt is [`super::attempt`]'s, bounding bodies [`super::body`]'s.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::attempt::Attempt;
use super::body::{StreamedJson, read_capped};
use super::breaker::Breaker;
use super::error::UpstreamError;
use crate::config::{BreakerSettings, UpstreamSettings};
use crate::context::RequestCtx;
use crate::telemetry::{Metrics, UpstreamMetrics};

static X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_REQUEST_TIMEOUT_MS: HeaderName = HeaderName::from_static("x-request-timeout-ms");

/// One upstream service.
#[derive(Debug)]
pub struct Upstream {
    name: &'static str,
    base_url: String,
    timeout: Option<Duration>,
    retries: u32,
    /// The largest body read or passed on (`BFF_UPSTREAM_MAX_BODY_BYTES`).
    max_body_bytes: usize,
    client: reqwest::Client,
    breaker: Breaker,
    in_flight: Arc<Semaphore>,
    metrics: UpstreamMetrics,
}

/// An outgoing request before the common headers are added.
struct Outgoing<'a> {
    method: Method,
    path: &'a str,
    body: Option<Bytes>,
    headers: &'a [(HeaderName, HeaderValue)],
}

impl Upstream {
    /// An upstream called `name` with its settings and a share of
    /// `client`, reading bodies of at most `max_body_bytes`.
    pub fn new(
        name: &'static str,
        settings: &UpstreamSettings,
        breaker: &BreakerSettings,
        max_body_bytes: usize,
        client: reqwest::Client,
        metrics: &Metrics,
    ) -> Self {
        let metrics = metrics.upstream(name);
        Self {
            name,
            // `Upstreams::new` refuses an upstream without a URL.
            base_url: settings.url.clone().unwrap_or_default(),
            timeout: settings.timeout,
            retries: settings.retries,
            max_body_bytes,
            client,
            breaker: Breaker::new(breaker.failures, breaker.open).with_gauge(metrics.breaker.clone()),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
            metrics,
        }
    }

    /// The upstream's name, as used in metrics and logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The breaker's current state.
    pub fn breaker_state(&self) -> super::BreakerState {
        self.breaker.state()
    }

    /// `GET path` (path and query, already encoded) and decode a JSON body.
    /// Connection failures are retried up to the configured count while
    /// the deadline allows (GETs are idempotent).
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
        let mut attempts_left = self.retries;
        loop {
            let outgoing = Outgoing {
                method: Method::GET,
                path,
                body: None,
                headers: &[],
            };
            match self
                .call(ctx, outgoing, |r| read_json_weighted::<T>(r, self.max_body_bytes))
                .await
            {
                Err(UpstreamError::Transport) if attempts_left > 0 && !ctx.deadline.remaining().is_zero() => {
                    attempts_left -= 1;
                }
                other => return other,
            }
        }
    }

    /// `POST path` with a JSON body and extra headers (such as
    /// `Idempotency-Key`); decodes a JSON answer. Never retried here: a
    /// retry of a write is the caller's decision.
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
        self.call(ctx, outgoing, |r| read_json::<T>(r, self.max_body_bytes))
            .await
    }

    /// `GET path` and hand back a 2xx `application/json` answer with its
    /// body unread, for streaming it on; another type, or a declared length
    /// over the cap, is `BadResponse`. The attempt is accounted for (and
    /// the breaker told) once the head arrives; the body that follows is
    /// bounded by the request's deadline and the cap (see [`StreamedJson`]).
    pub async fn get_streaming(&self, ctx: &RequestCtx, path: &str) -> Result<StreamedJson, UpstreamError> {
        let outgoing = Outgoing {
            method: Method::GET,
            path,
            body: None,
            headers: &[],
        };
        let deadline = ctx.deadline.instant();
        self.call(ctx, outgoing, |response| {
            std::future::ready(StreamedJson::accept(self.name, response, deadline, self.max_body_bytes))
        })
        .await
    }

    async fn call<T, F, Fut>(&self, ctx: &RequestCtx, outgoing: Outgoing<'_>, read: F) -> Result<T, UpstreamError>
    where
        F: FnOnce(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let now = Instant::now();
        let deadline = ctx.deadline.instant();
        if now >= deadline {
            // Never sent: nothing to judge the upstream by.
            self.metrics.attempt(Err(UpstreamError::Timeout.reason()));
            return Err(UpstreamError::Timeout);
        }
        let Some(ticket) = self.breaker.try_acquire() else {
            self.metrics.attempt(Err(UpstreamError::CircuitOpen.reason()));
            return Err(UpstreamError::CircuitOpen);
        };
        let Ok(_permit) = self.in_flight.try_acquire() else {
            // The ticket is dropped unjudged: a probe slot it held is freed.
            self.metrics.attempt(Err(UpstreamError::Overloaded.reason()));
            return Err(UpstreamError::Overloaded);
        };
        // One limit for this timer and for the accounting below, so a
        // timeout is a timeout whichever timer (this one, a fan-out's, a
        // handler's) fires first.
        let limit = self.timeout.map_or(deadline, |own| deadline.min(now + own));
        let request = self.build(ctx, outgoing, limit.saturating_duration_since(now));
        // From here until `finish`, dropping this future is accounted for
        // by the attempt's guard.
        let attempt = Attempt::start(&self.metrics, &self.breaker, ticket, limit);
        let result = match tokio::time::timeout_at(limit, async {
            let response = request.send().await.map_err(|e| {
                tracing::debug!(upstream = self.name, error = %e, "upstream request failed");
                UpstreamError::Transport
            })?;
            let status = response.status();
            if status.is_success() {
                read(response).await
            } else if status == reqwest::StatusCode::NOT_FOUND {
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
        if let Err(e) = &result {
            tracing::debug!(upstream = self.name, request_id = %ctx.request_id, reason = e.reason().as_str(), "upstream call degraded");
        }
        result
    }

    fn build(&self, ctx: &RequestCtx, outgoing: Outgoing<'_>, budget: Duration) -> reqwest::RequestBuilder {
        let url = format!("{}{}", self.base_url, outgoing.path);
        let budget_ms = budget.as_millis().clamp(1, u64::MAX as u128) as u64;
        let mut request = self
            .client
            .request(outgoing.method, url)
            .header(X_REQUEST_TIMEOUT_MS.clone(), HeaderValue::from(budget_ms));
        if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
            request = request.header(X_REQUEST_ID.clone(), id);
        }
        if let Some(user) = &ctx.user {
            request = request.header(X_USER_ID.clone(), user.clone());
        }
        for (name, value) in outgoing.headers {
            request = request.header(name.clone(), value.clone());
        }
        if let Some(body) = outgoing.body {
            request = request
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        request
    }
}

async fn read_json<T: DeserializeOwned>(response: reqwest::Response, cap: usize) -> Result<T, UpstreamError> {
    read_json_weighted(response, cap).await.map(|(value, _)| value)
}

async fn read_json_weighted<T: DeserializeOwned>(
    response: reqwest::Response,
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
    use crate::config::{BreakerSettings, ClientSettings, UpstreamSettings};
    use crate::context::Deadline;
    use crate::upstream::{BreakerState, build_client};

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
        let client = build_client(&ClientSettings::default()).unwrap();
        Upstream::new("silent", &UpstreamSettings::new(url), &breaker, 1024, client, metrics)
    }

    fn attempts(metrics: &Metrics, outcome: &str) -> f64 {
        let series = format!("bff_upstream_requests_total{{upstream=\"silent\",outcome=\"{outcome}\"}}");
        metrics.sample(&series).unwrap_or(0.0)
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
