//! The typed settings and their defaults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::ConfigError;
use super::env::vars;

/// All settings of one BFF process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `BFF_LISTEN`: the address to serve on. Default: per binary.
    pub listen: SocketAddr,
    /// `BFF_DEADLINE_MS`: the whole request's deadline. Default: per binary
    /// (mobile 500 ms, web 1500 ms).
    pub deadline: Duration,
    /// Per-upstream base URL and policy, keyed by upstream name: exactly
    /// the upstreams the BFF declared ([`Settings::declare_upstream`]).
    pub upstreams: BTreeMap<String, UpstreamSettings>,
    /// Settings of the one pooled HTTP client.
    pub client: ClientSettings,
    /// Circuit-breaker defaults for every upstream.
    pub breaker: BreakerSettings,
    /// How bearer tokens are verified.
    pub jwt: JwtSettings,
    /// `BFF_RATE_LIMIT_RPS` / `BFF_RATE_LIMIT_BURST`.
    pub rate_limit: RateLimitSettings,
    /// `BFF_REDIS_URL`: shared state for several replicas. Default: unset (memory).
    pub redis_url: Option<String>,
    /// `BFF_CORS_ORIGINS`: allowed browser origins. Default: none.
    pub cors_origins: Vec<String>,
    /// `BFF_MAX_BODY_BYTES`: request body limit. Default: 65536.
    pub max_body_bytes: usize,
    /// `BFF_LOG_FORMAT`. Default: pretty on a terminal, else JSON.
    pub log_format: LogFormat,
    /// Fragment-cache settings.
    pub cache: CacheSettings,
    /// How long idempotency records of checkout are kept. Default: 24 h.
    pub idempotency_ttl: Duration,
    /// The client-facing edge: slow clients, connection cap, trusted proxies
    /// (docs/configuration.md#serving-and-the-edge).
    pub edge: EdgeSettings,
    /// `BFF_UPSTREAM_MAX_BODY_BYTES`: the largest upstream answer read; a
    /// larger one is `bad_response` and its connection is dropped.
    /// Default: 8 MiB.
    pub upstream_max_body_bytes: usize,
    /// `BFF_REDIS_TIMEOUT_MS`: bound on each Redis call (also bounded by
    /// what remains of the request's deadline). Default: 50 ms.
    pub redis_timeout: Duration,
    /// Retries and their budget, for every upstream (docs/configuration.md#upstreams).
    pub retry: RetrySettings,
    /// Span export (`OTEL_*`, docs/configuration.md#traces).
    pub traces: TraceSettings,
}

/// Where and how spans are exported.
#[derive(Debug, Clone)]
pub struct TraceSettings {
    /// The OTLP/HTTP traces URL (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`). Unset: no export.
    pub endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME`; unset, the binary's name.
    pub service_name: Option<String>,
    /// `OTEL_BSP_SCHEDULE_DELAY`: the longest a span waits for its batch.
    /// Default: 5000 ms.
    pub schedule_delay: Duration,
}

impl Default for TraceSettings {
    fn default() -> Self {
        Self {
            endpoint: None,
            service_name: None,
            schedule_delay: Duration::from_secs(5),
        }
    }
}

impl Settings {
    /// Defaults for a binary listening on `listen` with `deadline`, with no
    /// upstream: the BFF declares its own ([`Settings::declare_upstream`]).
    pub fn defaults(listen: SocketAddr, deadline: Duration) -> Self {
        Self {
            listen,
            deadline,
            upstreams: BTreeMap::new(),
            client: ClientSettings::default(),
            breaker: BreakerSettings::default(),
            jwt: JwtSettings::default(),
            rate_limit: RateLimitSettings { rps: 50, burst: 100 },
            redis_url: None,
            cors_origins: Vec::new(),
            max_body_bytes: 65536,
            log_format: LogFormat::Auto,
            cache: CacheSettings::default(),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            edge: EdgeSettings::default(),
            upstream_max_body_bytes: 8 * 1024 * 1024,
            redis_timeout: Duration::from_millis(50),
            retry: RetrySettings::default(),
            traces: TraceSettings::default(),
        }
    }

    /// Declares upstream `name` (lower case `[a-z0-9_]`), so that the
    /// `BFF_UPSTREAM_<NAME>_URL`, `_TIMEOUT_MS`, `_MAX_IN_FLIGHT` and
    /// `_RETRIES` variables and the `[upstreams.<name>]` file table apply
    /// to it, and the platform builds it with its own breaker, in-flight cap
    /// and metrics series. Without a `default_url`, the URL must be
    /// configured, else loading fails naming `BFF_UPSTREAM_<NAME>_URL`; an
    /// invalid name fails loading the same way. Declaring a name again
    /// replaces its defaults.
    pub fn declare_upstream(&mut self, name: &str, default_url: Option<&str>) -> &mut Self {
        let url = default_url.map(|url| url.trim_end_matches('/').to_owned());
        self.upstreams.insert(
            name.to_owned(),
            UpstreamSettings {
                url,
                ..UpstreamSettings::new(String::new())
            },
        );
        self
    }

    /// Checks what no single variable can check on its own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, upstream) in &self.upstreams {
            if !is_upstream_name(name) {
                return Err(ConfigError::new(
                    vars::upstream(name, "URL"),
                    format!("invalid upstream name {name:?}: expected lower-case letters, digits and _"),
                ));
            }
            if upstream.url.is_none() {
                return Err(ConfigError::new(
                    vars::upstream(name, "URL"),
                    format!("upstream {name:?} has no URL; set an http:// or https:// URL"),
                ));
            }
        }
        let keys = [
            self.jwt.hs256_secret.is_some(),
            self.jwt.public_key_file.is_some(),
            self.jwt.jwks_url.is_some(),
        ];
        let set = keys.iter().filter(|k| **k).count();
        let names = format!(
            "{}, {} or {}",
            vars::JWT_HS256_SECRET,
            vars::JWT_PUBLIC_KEY_FILE,
            vars::JWT_JWKS_URL
        );
        if set == 0 {
            return Err(ConfigError::new(names, "no JWT key is configured; set exactly one"));
        }
        if set > 1 {
            return Err(ConfigError::new(
                names,
                "more than one JWT key is configured; set exactly one",
            ));
        }
        if self.deadline.is_zero() {
            return Err(ConfigError::new(vars::DEADLINE_MS, "must be greater than 0"));
        }
        Ok(())
    }

    /// The settings of upstream `name`.
    pub fn upstream(&self, name: &str) -> Option<&UpstreamSettings> {
        self.upstreams.get(name)
    }

    /// Idle keep-alive connections the pool keeps per host: the configured
    /// number, else the in-flight caps of the upstreams that share a host
    /// added up (the busiest host's sum). A pool smaller than the calls its
    /// caps admit closes connections after each burst and opens them again
    /// on the next (measured: about 2,000 reconnects in 8 s and a longer
    /// p99 for home at 256 connections, docs/benchmarks.md); idle ones
    /// still close after `pool_idle_timeout`, so a quiet BFF keeps few.
    pub fn pool_max_idle_per_host(&self) -> usize {
        if let Some(configured) = self.client.pool_max_idle_per_host {
            return configured;
        }
        let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
        for upstream in self.upstreams.values() {
            if let Some(url) = &upstream.url {
                *per_host.entry(origin(url)).or_default() += upstream.max_in_flight;
            }
        }
        per_host.into_values().max().unwrap_or(DEFAULT_MAX_IN_FLIGHT).max(1)
    }
}

/// `scheme://authority` of `url`: what the pool keys its connections by
/// (letter case aside, which only splits a host in two here).
fn origin(url: &str) -> &str {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    url[authority_start..]
        .find('/')
        .map_or(url, |end| &url[..authority_start + end])
}

/// Whether `name` can name an upstream: 1 to 64 of `[a-z0-9_]`, so its
/// variables (`BFF_UPSTREAM_<NAME>_*`) and metrics label are plain.
pub fn is_upstream_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An upstream's in-flight cap unless configured.
const DEFAULT_MAX_IN_FLIGHT: usize = 512;

/// One upstream's base URL and call policy.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// `BFF_UPSTREAM_<NAME>_URL`: base URL, without a trailing slash.
    /// `None` until configured when the upstream was declared without one.
    pub url: Option<String>,
    /// The call's own timeout. Default: none, so a call may use whatever
    /// remains of the request's deadline (docs/api.md#deadlines).
    pub timeout: Option<Duration>,
    /// In-flight cap (bulkhead): calls beyond it are refused as
    /// `overloaded` without being sent. Default: 512.
    pub max_in_flight: usize,
    /// `BFF_UPSTREAM_<NAME>_RETRIES`: this upstream's retries, overriding
    /// `BFF_RETRIES` ([`RetrySettings::retries`]). Default: unset.
    pub retries: Option<u32>,
    /// `BFF_UPSTREAM_<NAME>_HEDGE_MS`: a GET not answered after this long
    /// is sent once more. Default: off.
    pub hedge: Option<Duration>,
}

impl UpstreamSettings {
    /// Defaults for an upstream at `url`.
    pub fn new(url: String) -> Self {
        Self {
            url: Some(url),
            timeout: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            retries: None,
            hedge: None,
        }
    }
}

/// Retries of upstream calls (docs/configuration.md#upstreams), shared by every
/// upstream; each upstream keeps its own budget.
#[derive(Debug, Clone, Copy)]
pub struct RetrySettings {
    /// `BFF_RETRIES`: retries of a failed call, for every upstream without
    /// its own `BFF_UPSTREAM_<NAME>_RETRIES`. Default: 0, so every call is
    /// exactly one attempt.
    pub retries: u32,
    /// `BFF_RETRY_BACKOFF_MS`: the first retry waits up to this long (full
    /// jitter), each further one up to twice as long as the one before.
    /// Default: 10 ms.
    pub backoff: Duration,
    /// `BFF_RETRY_BUDGET_PERCENT`: retries and hedges allowed per upstream,
    /// as a share of its calls over the last 10 s, on top of 10 per second.
    /// At most 1000. Default: 20.
    pub budget_percent: u32,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            retries: 0,
            backoff: Duration::from_millis(10),
            budget_percent: 20,
        }
    }
}

/// The pooled HTTP client's settings.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// TCP connect timeout. Default: 1 s (the deadline usually cuts first).
    pub connect_timeout: Duration,
    /// Idle keep-alive connections kept per upstream host. Default
    /// (`None`): [`Settings::pool_max_idle_per_host`], enough for every
    /// call the in-flight caps admit.
    pub pool_max_idle_per_host: Option<usize>,
    /// How long an idle pooled connection is kept. Default: 90 s.
    pub pool_idle_timeout: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            pool_max_idle_per_host: None,
            pool_idle_timeout: Duration::from_secs(90),
        }
    }
}

/// Circuit-breaker settings, shared by every upstream.
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    /// `BFF_BREAKER_FAILURES`: consecutive failures that open it. Default: 5.
    pub failures: u32,
    /// `BFF_BREAKER_OPEN_MS`: how long it stays open before a probe. Default: 5000 ms.
    pub open: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failures: 5,
            open: Duration::from_millis(5000),
        }
    }
}

/// How bearer tokens are verified; exactly one key source must be set.
/// Its `Debug` output redacts the HS256 secret.
#[derive(Clone)]
pub struct JwtSettings {
    /// `BFF_JWT_HS256_SECRET`.
    pub hs256_secret: Option<String>,
    /// `BFF_JWT_PUBLIC_KEY_FILE`: PEM public key, RS256 or ES256.
    pub public_key_file: Option<PathBuf>,
    /// `BFF_JWT_JWKS_URL`.
    pub jwks_url: Option<String>,
    /// `BFF_JWT_ISSUER`: required `iss` when set.
    pub issuer: Option<String>,
    /// `BFF_JWT_AUDIENCE`: required `aud` when set.
    pub audience: Option<String>,
    /// `BFF_JWT_JWKS_REFRESH_SECS`: background JWKS refresh period, so a
    /// key removed from the set stops being accepted within one period.
    /// Default: 300 s.
    pub jwks_refresh: Duration,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("hs256_secret", &self.hs256_secret.as_ref().map(|_| "<redacted>"))
            .field("public_key_file", &self.public_key_file)
            .field("jwks_url", &self.jwks_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks_refresh", &self.jwks_refresh)
            .finish()
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            hs256_secret: None,
            public_key_file: None,
            jwks_url: None,
            issuer: None,
            audience: None,
            jwks_refresh: Duration::from_secs(300),
        }
    }
}

/// The client-facing edge (docs/configuration.md#serving-and-the-edge).
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// `BFF_HEADER_TIMEOUT_MS`: time a connection has to send a complete
    /// request head (the first from opening, later ones from their first
    /// byte), else it is closed. Default: 10 s.
    pub header_timeout: Duration,
    /// `BFF_IDLE_TIMEOUT_MS`: a keep-alive connection with no byte of a new
    /// request for this long is closed. Default: 60 s.
    pub idle_timeout: Duration,
    /// `BFF_MAX_CONNECTIONS`: client connections served at once; further
    /// ones wait in the listen backlog. Default: 10000.
    pub max_connections: usize,
    /// `BFF_DRAIN_DELAY_MS`: after SIGTERM or SIGINT, how long `/readyz`
    /// answers 503 while everything else (new connections included) is
    /// still served, before the listener closes. It exists because a load
    /// balancer learns that a replica is going away only by polling
    /// `/readyz`: it must see the 503, and stop sending new requests,
    /// before the port starts refusing them. Default: 0 (the listener
    /// closes at once).
    pub drain_delay: Duration,
    /// `BFF_TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    /// Default: none (the header is ignored).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            drain_delay: Duration::ZERO,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Per-client-key rate limit; 0 in either field turns it off.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitSettings {
    /// `BFF_RATE_LIMIT_RPS`: sustained requests per second. Default: 50.
    pub rps: u32,
    /// `BFF_RATE_LIMIT_BURST`: bucket size. Default: 100.
    pub burst: u32,
}

impl RateLimitSettings {
    /// Whether limiting is on.
    pub fn enabled(&self) -> bool {
        self.rps > 0 && self.burst > 0
    }
}

/// Fragment-cache settings.
#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// Fresh lifetime of catalog products. Default: 60 s.
    pub product_ttl: Duration,
    /// Fresh lifetime of prices. Default: 5 s.
    pub price_ttl: Duration,
    /// How long past its TTL an entry may still be served when the refresh
    /// fails. Default: 300 s.
    pub stale_for: Duration,
    /// Upper bound of the cache's weight in bytes. Default: 64 MiB.
    pub max_bytes: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            product_ttl: Duration::from_secs(60),
            price_ttl: Duration::from_secs(5),
            stale_for: Duration::from_secs(300),
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Pretty when stderr is a terminal, JSON otherwise.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_upstreams(upstreams: &[(&str, &str, usize)]) -> Settings {
        let mut settings = Settings::defaults(([127, 0, 0, 1], 0).into(), Duration::from_millis(500));
        for (name, url, cap) in upstreams {
            settings.declare_upstream(name, Some(url));
            settings.upstreams.get_mut(*name).unwrap().max_in_flight = *cap;
        }
        settings
    }

    #[test]
    fn the_pool_keeps_what_the_busiest_hosts_caps_admit() {
        let settings = with_upstreams(&[
            ("users", "http://10.0.0.1:8080/api", 100),
            ("orders", "http://10.0.0.1:8080", 50),
            ("catalog", "http://10.0.0.2:8080/", 120),
            ("pricing", "https://10.0.0.1:8080", 140),
        ]);
        // 10.0.0.1:8080 over http carries users and orders; https is its own pool.
        assert_eq!(settings.pool_max_idle_per_host(), 150);
        let settings = with_upstreams(&[
            ("users", "http://sidecar:15001/users", 512),
            ("orders", "http://sidecar:15001/orders", 512),
        ]);
        assert_eq!(settings.pool_max_idle_per_host(), 1024);
    }

    #[test]
    fn a_configured_pool_size_wins_and_no_upstream_keeps_a_default() {
        let mut settings = with_upstreams(&[("users", "http://a:1", 100)]);
        settings.client.pool_max_idle_per_host = Some(7);
        assert_eq!(settings.pool_max_idle_per_host(), 7);
        assert_eq!(with_upstreams(&[]).pool_max_idle_per_host(), DEFAULT_MAX_IN_FLIGHT);
        assert_eq!(origin("http://a:1"), "http://a:1");
        assert_eq!(origin("a:1/x"), "a:1");
    }
}
