//! The minimal BFF's upstream calls: hyper-util's pooled HTTP/1 client,
//! the headers the real BFF sends (`X-Request-Id`, `X-User-Id`,
//! `traceparent` with a new span id per call), the whole body collected
//! and parsed with serde into structs of the few fields home uses (serde
//! skips the rest). No timeout, retry, breaker or cache: a failed call fails
//! the request.

use std::fmt;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Why a call failed; the request then answers 502.
#[derive(Debug)]
pub enum CallError {
    /// Connection or protocol failure.
    Transport,
    /// A non-2xx answer.
    Status(u16),
    /// Not JSON of the expected shape.
    BadResponse,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport => f.write_str("transport"),
            Self::Status(status) => write!(f, "status {status}"),
            Self::BadResponse => f.write_str("bad response"),
        }
    }
}

/// One pooled client to the upstreams (all behind one base URL here: the
/// fake serves them on one port).
pub struct Upstreams {
    client: Client<HttpConnector, Empty<Bytes>>,
    base: String,
}

/// What every call of one request carries.
pub struct CallCtx {
    /// The request's id.
    pub request_id: HeaderValue,
    /// The caller's `sub`.
    pub user: HeaderValue,
    /// The request's trace id, 32 hex digits.
    pub trace_id: String,
}

impl Upstreams {
    /// A keep-alive pool (unbounded idle connections per host) to `base`.
    pub fn new(base: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// `GET <base><path>` passed through: the upstream's status, type and
    /// body (read whole), with the client's `X-User-Id` and `X-Request-Id`.
    pub async fn forward(
        &self,
        path: &str,
        user: Option<HeaderValue>,
        request_id: &HeaderValue,
    ) -> Result<(http::StatusCode, Option<HeaderValue>, Bytes), CallError> {
        self.fetch(path, |request| {
            let request = request.header(X_REQUEST_ID.clone(), request_id.clone());
            match user {
                Some(user) => request.header(X_USER_ID.clone(), user),
                None => request,
            }
        })
        .await
    }

    /// `GET <base><path>`, parsed as `T`.
    pub async fn get<T: DeserializeOwned>(&self, ctx: &CallCtx, path: &str) -> Result<T, CallError> {
        let traceparent = format!("00-{}-{:016x}-01", ctx.trace_id, rand::random::<u64>() | 1);
        let (status, _, body) = self
            .fetch(path, |request| {
                request
                    .header(X_REQUEST_ID.clone(), ctx.request_id.clone())
                    .header(X_USER_ID.clone(), ctx.user.clone())
                    .header(TRACEPARENT.clone(), traceparent)
            })
            .await?;
        if !status.is_success() {
            return Err(CallError::Status(status.as_u16()));
        }
        serde_json::from_slice(&body).map_err(|_| CallError::BadResponse)
    }

    /// `GET <base><path>` with the headers `headers` adds: status, type and
    /// the whole body.
    async fn fetch(
        &self,
        path: &str,
        headers: impl FnOnce(http::request::Builder) -> http::request::Builder,
    ) -> Result<(http::StatusCode, Option<HeaderValue>, Bytes), CallError> {
        let uri: Uri = format!("{}{path}", self.base)
            .parse()
            .map_err(|_| CallError::Transport)?;
        let request = headers(Request::get(uri))
            .body(Empty::new())
            .map_err(|_| CallError::Transport)?;
        let response = self.client.request(request).await.map_err(|_| CallError::Transport)?;
        let (status, content_type) = (
            response.status(),
            response.headers().get(http::header::CONTENT_TYPE).cloned(),
        );
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|_| CallError::Transport)?
            .to_bytes();
        Ok((status, content_type, body))
    }
}
