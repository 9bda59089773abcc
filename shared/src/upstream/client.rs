//! The HTTP clients: the pooled one every upstream call goes through, and
//! a reqwest client for the few calls off the request path (JWKS, OTLP).
//!
//! Upstream calls use hyper-util's pooled client directly rather than
//! reqwest on top of it: per call, reqwest re-parses the URL for its
//! redirect layer (even with redirects off), converts between its URL and
//! hyper's URI, and wraps every request in retry and redirect services.
//! On the mobile home's six calls that was a fifth of the BFF's CPU per
//! request (docs/benchmarks.md). What reqwest gave us that matters is kept:
//! the keep-alive pool, a connect timeout, TCP_NODELAY, no proxy from the
//! environment, no redirects followed, rustls with the platform's roots
//! for HTTPS upstreams (HTTP/2 when the upstream offers it by ALPN).

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::{ClientSettings, ConfigError};

/// The request body of an upstream call: empty, or one JSON document.
pub type RequestBody = Full<Bytes>;

/// The pooled client shared by every upstream (cheap to clone: the pool is
/// shared).
#[derive(Clone, Debug)]
pub struct UpstreamClient {
    inner: Client<HttpsConnector<HttpConnector>, RequestBody>,
}

impl UpstreamClient {
    /// A client with `settings`' connect timeout and keep-alive pool,
    /// keeping up to `max_idle_per_host` idle connections per host
    /// ([`Settings::pool_max_idle_per_host`](crate::config::Settings::pool_max_idle_per_host)).
    pub fn new(settings: &ClientSettings, max_idle_per_host: usize) -> Result<Self, ConfigError> {
        install_crypto_provider();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let https = HttpsConnectorBuilder::new()
            .try_with_platform_verifier()
            .map_err(|e| ConfigError::new("http client", format!("cannot load the TLS roots: {e}")))?
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let inner = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(max_idle_per_host)
            .build(https);
        Ok(Self { inner })
    }

    /// Sends `request` (an absolute URI) on a pooled connection.
    pub(crate) fn send(&self, request: http::Request<RequestBody>) -> ResponseFuture {
        self.inner.request(request)
    }
}

/// The answer of an upstream, its body unread.
pub(crate) type UpstreamResponse = http::Response<Incoming>;

/// The reqwest client for calls off the request path (JWKS refresh, OTLP
/// export): no redirects followed, no proxy from the environment, rustls.
pub fn build_client(settings: &ClientSettings) -> Result<reqwest::Client, ConfigError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .pool_idle_timeout(settings.pool_idle_timeout)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| ConfigError::new("http client", format!("cannot build the HTTP client: {e}")))
}

fn install_crypto_provider() {
    // Installing twice is harmless: the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
