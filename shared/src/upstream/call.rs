//! One upstream and the life of a call to it: deadline check, breaker,
//! bulkhead, send with the remaining budget, classify, record.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::breaker::{Breaker, Verdict};
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
    /// An upstream called `name` with its settings and a share of `client`.
    pub fn new(
        name: &'static str,
        settings: &UpstreamSettings,
        breaker: &BreakerSettings,
        client: reqwest::Client,
        metrics: &Metrics,
    ) -> Self {
        Self {
            name,
            base_url: settings.url.clone(),
            timeout: settings.timeout,
            retries: settings.retries,
            client,
            breaker: Breaker::new(breaker.failures, breaker.open),
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
            metrics: metrics.upstream(name),
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
            match self.call(ctx, outgoing, read_json_weighted::<T>).await {
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
        self.call(ctx, outgoing, read_json::<T>).await
    }

    /// `GET path` and hand back the 2xx response with its body unread, for
    /// streaming it on. The breaker counts the call as answered once the
    /// status arrives.
    pub async fn get_streaming(&self, ctx: &RequestCtx, path: &str) -> Result<reqwest::Response, UpstreamError> {
        let outgoing = Outgoing {
            method: Method::GET,
            path,
            body: None,
            headers: &[],
        };
        self.call(ctx, outgoing, |response| async move { Ok(response) }).await
    }

    async fn call<T, F, Fut>(&self, ctx: &RequestCtx, outgoing: Outgoing<'_>, read: F) -> Result<T, UpstreamError>
    where
        F: FnOnce(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let remaining = ctx.deadline.remaining();
        if remaining.is_zero() {
            self.metrics.attempt(Err(UpstreamError::Timeout.reason()));
            return Err(UpstreamError::Timeout);
        }
        let Some(ticket) = self.breaker.try_acquire() else {
            self.metrics.attempt(Err(UpstreamError::CircuitOpen.reason()));
            self.metrics.breaker.set(self.breaker.state().gauge());
            return Err(UpstreamError::CircuitOpen);
        };
        let Ok(_permit) = self.in_flight.try_acquire() else {
            self.metrics.attempt(Err(UpstreamError::Overloaded.reason()));
            return Err(UpstreamError::Overloaded);
        };
        let budget = self.timeout.map_or(remaining, |own| own.min(remaining));
        let request = self.build(ctx, outgoing, budget);
        let started = Instant::now();
        let result = match tokio::time::timeout(budget, async {
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
        self.metrics.latency(started.elapsed());
        let verdict = match &result {
            Ok(_) => Verdict::Success,
            Err(e) if e.trips_breaker() => Verdict::Failure,
            Err(_) => Verdict::Success,
        };
        self.breaker.record(ticket, verdict);
        self.metrics.breaker.set(self.breaker.state().gauge());
        self.metrics
            .attempt(result.as_ref().map(|_| ()).map_err(|e| e.reason()));
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

async fn read_json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, UpstreamError> {
    read_json_weighted(response).await.map(|(value, _)| value)
}

async fn read_json_weighted<T: DeserializeOwned>(response: reqwest::Response) -> Result<(T, usize), UpstreamError> {
    let body = response.bytes().await.map_err(|_| UpstreamError::Transport)?;
    let value = serde_json::from_slice(&body).map_err(|_| UpstreamError::BadResponse)?;
    Ok((value, body.len()))
}
