//! Applies the `BFF_*` environment variables (docs/configuration.md) on top
//! of defaults and file. An empty variable counts as unset.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use super::{ConfigError, LogFormat, Settings};

/// The public variable names, in one place.
pub mod vars {
    /// Config file path (same as `--config`).
    pub const CONFIG: &str = "BFF_CONFIG";
    /// Listen address.
    pub const LISTEN: &str = "BFF_LISTEN";
    /// HS256 secret.
    pub const JWT_HS256_SECRET: &str = "BFF_JWT_HS256_SECRET";
    /// PEM public key file.
    pub const JWT_PUBLIC_KEY_FILE: &str = "BFF_JWT_PUBLIC_KEY_FILE";
    /// JWKS URL.
    pub const JWT_JWKS_URL: &str = "BFF_JWT_JWKS_URL";
    /// Required issuer.
    pub const JWT_ISSUER: &str = "BFF_JWT_ISSUER";
    /// Required audience.
    pub const JWT_AUDIENCE: &str = "BFF_JWT_AUDIENCE";
    /// Request deadline in ms.
    pub const DEADLINE_MS: &str = "BFF_DEADLINE_MS";
    /// Consecutive failures that open a breaker.
    pub const BREAKER_FAILURES: &str = "BFF_BREAKER_FAILURES";
    /// Breaker open time in ms.
    pub const BREAKER_OPEN_MS: &str = "BFF_BREAKER_OPEN_MS";
    /// Rate limit, requests per second.
    pub const RATE_LIMIT_RPS: &str = "BFF_RATE_LIMIT_RPS";
    /// Rate limit bucket size.
    pub const RATE_LIMIT_BURST: &str = "BFF_RATE_LIMIT_BURST";
    /// Redis URL.
    pub const REDIS_URL: &str = "BFF_REDIS_URL";
    /// Allowed CORS origins, comma separated.
    pub const CORS_ORIGINS: &str = "BFF_CORS_ORIGINS";
    /// Request body limit in bytes.
    pub const MAX_BODY_BYTES: &str = "BFF_MAX_BODY_BYTES";
    /// `json` or `pretty`.
    pub const LOG_FORMAT: &str = "BFF_LOG_FORMAT";
    /// OTLP/HTTP base URL; traces go to `<it>/v1/traces`.
    pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    /// OTLP/HTTP traces URL, used as is; wins over the base URL.
    pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    /// `service.name` of exported spans.
    pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    /// The longest a finished span waits before export, ms.
    pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
    /// Fresh lifetime of cached catalog reads, ms.
    pub const CACHE_PRODUCT_TTL_MS: &str = "BFF_CACHE_PRODUCT_TTL_MS";
    /// Fresh lifetime of cached prices, ms.
    pub const CACHE_PRICE_TTL_MS: &str = "BFF_CACHE_PRICE_TTL_MS";
    /// Stale-if-error window past the TTL, ms.
    pub const CACHE_STALE_MS: &str = "BFF_CACHE_STALE_MS";
    /// Cache weight bound in bytes.
    pub const CACHE_MAX_BYTES: &str = "BFF_CACHE_MAX_BYTES";
    /// Idempotency record lifetime, seconds.
    pub const IDEMPOTENCY_TTL_SECS: &str = "BFF_IDEMPOTENCY_TTL_SECS";
    /// Time to send a complete request head, ms.
    pub const HEADER_TIMEOUT_MS: &str = "BFF_HEADER_TIMEOUT_MS";
    /// Idle keep-alive connection lifetime, ms.
    pub const IDLE_TIMEOUT_MS: &str = "BFF_IDLE_TIMEOUT_MS";
    /// Client connections served at once.
    pub const MAX_CONNECTIONS: &str = "BFF_MAX_CONNECTIONS";
    /// After SIGTERM, how long `/readyz` is 503 before the listener closes, ms.
    pub const DRAIN_DELAY_MS: &str = "BFF_DRAIN_DELAY_MS";
    /// CIDRs whose `X-Forwarded-For` is believed, comma separated.
    pub const TRUSTED_PROXIES: &str = "BFF_TRUSTED_PROXIES";
    /// Largest upstream answer read, bytes.
    pub const UPSTREAM_MAX_BODY_BYTES: &str = "BFF_UPSTREAM_MAX_BODY_BYTES";
    /// Bound on each Redis call, ms.
    pub const REDIS_TIMEOUT_MS: &str = "BFF_REDIS_TIMEOUT_MS";
    /// Background JWKS refresh period, seconds.
    pub const JWT_JWKS_REFRESH_SECS: &str = "BFF_JWT_JWKS_REFRESH_SECS";
    /// Retries of a failed upstream call, every upstream.
    pub const RETRIES: &str = "BFF_RETRIES";
    /// First retry backoff, ms.
    pub const RETRY_BACKOFF_MS: &str = "BFF_RETRY_BACKOFF_MS";
    /// Retries allowed per upstream, percent of its calls.
    pub const RETRY_BUDGET_PERCENT: &str = "BFF_RETRY_BUDGET_PERCENT";

    /// `BFF_UPSTREAM_<NAME>_<SUFFIX>` for upstream `name`.
    pub fn upstream(name: &str, suffix: &str) -> String {
        format!("BFF_UPSTREAM_{}_{suffix}", name.to_ascii_uppercase())
    }
}

fn get<'a>(env: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// Parses `value` of `name` as a `T`, with `what` describing the accepted form.
pub(super) fn parse<T: FromStr>(name: &str, value: &str, what: &str) -> Result<T, ConfigError> {
    value
        .parse()
        .map_err(|_| ConfigError::new(name, format!("invalid value {value:?}: expected {what}")))
}

/// Validates an upstream or JWKS base URL and strips a trailing slash.
pub(super) fn parse_url(name: &str, value: &str) -> Result<String, ConfigError> {
    match reqwest::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        _ => Err(ConfigError::new(
            name,
            format!("invalid value {value:?}: expected an http:// or https:// URL"),
        )),
    }
}

pub(super) fn millis(name: &str, value: &str) -> Result<Duration, ConfigError> {
    parse::<u64>(name, value, "a whole number of milliseconds").map(Duration::from_millis)
}

/// Like [`millis`], refusing 0 (for timeouts where 0 would mean "never").
pub(super) fn positive_millis(name: &str, value: &str) -> Result<Duration, ConfigError> {
    positive(name, value, "a whole number of milliseconds, at least 1").map(Duration::from_millis)
}

/// A whole number of at least 1.
pub(super) fn positive<T: FromStr + PartialEq + Default>(
    name: &str,
    value: &str,
    what: &str,
) -> Result<T, ConfigError> {
    let n: T = parse(name, value, what)?;
    if n == T::default() {
        return Err(ConfigError::new(
            name,
            format!("invalid value {value:?}: expected {what}"),
        ));
    }
    Ok(n)
}

/// A JWKS URL: an http(s) URL that is `https` unless its host is loopback
/// (`127.0.0.0/8`, `[::1]`, `localhost`), so keys are never fetched over
/// a network in clear text.
pub(super) fn parse_jwks_url(name: &str, value: &str) -> Result<String, ConfigError> {
    let url = parse_url(name, value)?;
    let parsed = reqwest::Url::parse(&url).map_err(|_| ConfigError::new(name, "invalid URL"))?;
    let loopback = parsed.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    if parsed.scheme() != "https" && !loopback {
        return Err(ConfigError::new(
            name,
            format!("invalid value {value:?}: a JWKS URL must be https:// (http:// only on a loopback host)"),
        ));
    }
    Ok(url)
}

/// A Redis URL: `redis://` or `unix://`. The value is never echoed in the
/// error, since it may carry a password. `rediss://` is refused with its
/// own message: this build has no TLS client for Redis (terminate TLS in a
/// sidecar on loopback instead).
pub(super) fn parse_redis_url(name: &str, value: &str) -> Result<String, ConfigError> {
    if value.starts_with("rediss://") {
        return Err(ConfigError::new(
            name,
            "rediss:// is not supported: this build has no TLS client for Redis; reach a TLS-terminating sidecar through redis://127.0.0.1",
        ));
    }
    if !(value.starts_with("redis://") || value.starts_with("unix://")) {
        return Err(ConfigError::new(
            name,
            "invalid value: expected a redis://[user:password@]host[:port][/db] or unix:// URL",
        ));
    }
    Ok(value.to_owned())
}

/// Comma-separated CIDRs (`10.0.0.0/8`, `::1/128`) or bare addresses.
pub(super) fn trusted_proxies(name: &str, value: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|cidr| {
            cidr.parse::<ipnet::IpNet>()
                .map(|net| net.trunc())
                .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        name,
                        format!("invalid CIDR {cidr:?}: expected addresses such as 10.0.0.0/8 or ::1/128"),
                    )
                })
        })
        .collect()
}

pub(super) fn log_format(name: &str, value: &str) -> Result<LogFormat, ConfigError> {
    match value {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        _ => Err(ConfigError::new(
            name,
            format!("invalid value {value:?}: expected json or pretty"),
        )),
    }
}

/// The `OTEL_*` variables of docs/configuration.md#traces.
fn apply_otel(s: &mut Settings, env: &HashMap<String, String>) -> Result<(), ConfigError> {
    use vars::*;
    if let Some(v) = get(env, OTEL_EXPORTER_OTLP_ENDPOINT) {
        s.traces.endpoint = Some(format!("{}/v1/traces", parse_url(OTEL_EXPORTER_OTLP_ENDPOINT, v)?));
    }
    if let Some(v) = get(env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
        parse_url(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, v)?;
        s.traces.endpoint = Some(v.to_owned());
    }
    if let Some(v) = get(env, OTEL_SERVICE_NAME) {
        s.traces.service_name = Some(v.to_owned());
    }
    if let Some(v) = get(env, OTEL_BSP_SCHEDULE_DELAY) {
        s.traces.schedule_delay = positive_millis(OTEL_BSP_SCHEDULE_DELAY, v)?;
    }
    Ok(())
}

pub(super) fn apply(s: &mut Settings, env: &HashMap<String, String>) -> Result<(), ConfigError> {
    use vars::*;
    if let Some(v) = get(env, LISTEN) {
        s.listen = parse(LISTEN, v, "an address:port such as 127.0.0.1:8081")?;
    }
    if let Some(v) = get(env, DEADLINE_MS) {
        s.deadline = millis(DEADLINE_MS, v)?;
    }
    for (name, upstream) in s.upstreams.iter_mut() {
        let var = vars::upstream(name, "URL");
        if let Some(v) = get(env, &var) {
            upstream.url = Some(parse_url(&var, v)?);
        }
        let var = vars::upstream(name, "TIMEOUT_MS");
        if let Some(v) = get(env, &var) {
            upstream.timeout = Some(millis(&var, v)?);
        }
        let var = vars::upstream(name, "MAX_IN_FLIGHT");
        if let Some(v) = get(env, &var) {
            upstream.max_in_flight = parse(&var, v, "a whole number of calls")?;
        }
        let var = vars::upstream(name, "RETRIES");
        if let Some(v) = get(env, &var) {
            upstream.retries = Some(parse(&var, v, "a whole number of retries")?);
        }
        let var = vars::upstream(name, "HEDGE_MS");
        if let Some(v) = get(env, &var) {
            upstream.hedge = Some(positive_millis(&var, v)?);
        }
    }
    if let Some(v) = get(env, JWT_HS256_SECRET) {
        s.jwt.hs256_secret = Some(v.to_owned());
    }
    if let Some(v) = get(env, JWT_PUBLIC_KEY_FILE) {
        s.jwt.public_key_file = Some(v.into());
    }
    if let Some(v) = get(env, JWT_JWKS_URL) {
        s.jwt.jwks_url = Some(parse_jwks_url(JWT_JWKS_URL, v)?);
    }
    if let Some(v) = get(env, JWT_ISSUER) {
        s.jwt.issuer = Some(v.to_owned());
    }
    if let Some(v) = get(env, JWT_AUDIENCE) {
        s.jwt.audience = Some(v.to_owned());
    }
    if let Some(v) = get(env, BREAKER_FAILURES) {
        s.breaker.failures = parse(BREAKER_FAILURES, v, "a whole number of at least 1")?;
        if s.breaker.failures == 0 {
            return Err(ConfigError::new(
                BREAKER_FAILURES,
                "invalid value \"0\": expected a whole number of at least 1",
            ));
        }
    }
    if let Some(v) = get(env, BREAKER_OPEN_MS) {
        s.breaker.open = millis(BREAKER_OPEN_MS, v)?;
    }
    if let Some(v) = get(env, RATE_LIMIT_RPS) {
        s.rate_limit.rps = parse(
            RATE_LIMIT_RPS,
            v,
            "a whole number of requests per second (0 turns limiting off)",
        )?;
    }
    if let Some(v) = get(env, RATE_LIMIT_BURST) {
        s.rate_limit.burst = parse(RATE_LIMIT_BURST, v, "a whole number of requests (0 turns limiting off)")?;
    }
    if let Some(v) = get(env, REDIS_URL) {
        s.redis_url = Some(parse_redis_url(REDIS_URL, v)?);
    }
    if let Some(v) = get(env, CORS_ORIGINS) {
        s.cors_origins = cors_origins(CORS_ORIGINS, v)?;
    }
    if let Some(v) = get(env, MAX_BODY_BYTES) {
        s.max_body_bytes = parse(MAX_BODY_BYTES, v, "a whole number of bytes")?;
    }
    if let Some(v) = get(env, LOG_FORMAT) {
        s.log_format = log_format(LOG_FORMAT, v)?;
    }
    apply_otel(s, env)?;
    if let Some(v) = get(env, CACHE_PRODUCT_TTL_MS) {
        s.cache.product_ttl = millis(CACHE_PRODUCT_TTL_MS, v)?;
    }
    if let Some(v) = get(env, CACHE_PRICE_TTL_MS) {
        s.cache.price_ttl = millis(CACHE_PRICE_TTL_MS, v)?;
    }
    if let Some(v) = get(env, CACHE_STALE_MS) {
        s.cache.stale_for = millis(CACHE_STALE_MS, v)?;
    }
    if let Some(v) = get(env, CACHE_MAX_BYTES) {
        s.cache.max_bytes = parse(CACHE_MAX_BYTES, v, "a whole number of bytes")?;
    }
    if let Some(v) = get(env, IDEMPOTENCY_TTL_SECS) {
        s.idempotency_ttl =
            std::time::Duration::from_secs(parse(IDEMPOTENCY_TTL_SECS, v, "a whole number of seconds")?);
    }
    if let Some(v) = get(env, HEADER_TIMEOUT_MS) {
        s.edge.header_timeout = positive_millis(HEADER_TIMEOUT_MS, v)?;
    }
    if let Some(v) = get(env, IDLE_TIMEOUT_MS) {
        s.edge.idle_timeout = positive_millis(IDLE_TIMEOUT_MS, v)?;
    }
    if let Some(v) = get(env, MAX_CONNECTIONS) {
        s.edge.max_connections = positive(MAX_CONNECTIONS, v, "a whole number of connections, at least 1")?;
    }
    if let Some(v) = get(env, DRAIN_DELAY_MS) {
        s.edge.drain_delay = drain_delay(DRAIN_DELAY_MS, v)?;
    }
    if let Some(v) = get(env, TRUSTED_PROXIES) {
        s.edge.trusted_proxies = trusted_proxies(TRUSTED_PROXIES, v)?;
    }
    if let Some(v) = get(env, UPSTREAM_MAX_BODY_BYTES) {
        s.upstream_max_body_bytes = positive(UPSTREAM_MAX_BODY_BYTES, v, "a whole number of bytes, at least 1")?;
    }
    if let Some(v) = get(env, REDIS_TIMEOUT_MS) {
        s.redis_timeout = positive_millis(REDIS_TIMEOUT_MS, v)?;
    }
    if let Some(v) = get(env, RETRIES) {
        s.retry.retries = parse(RETRIES, v, "a whole number of retries")?;
    }
    if let Some(v) = get(env, RETRY_BACKOFF_MS) {
        s.retry.backoff = millis(RETRY_BACKOFF_MS, v)?;
    }
    if let Some(v) = get(env, RETRY_BUDGET_PERCENT) {
        s.retry.budget_percent = budget_percent(RETRY_BUDGET_PERCENT, v)?;
    }
    if let Some(v) = get(env, JWT_JWKS_REFRESH_SECS) {
        s.jwt.jwks_refresh = Duration::from_secs(positive(
            JWT_JWKS_REFRESH_SECS,
            v,
            "a whole number of seconds, at least 1",
        )?);
    }
    Ok(())
}

/// The longest drain delay accepted: an hour. A longer one is taken for a
/// mistake (a stray digit), which would keep a stopping replica unready,
/// and its orchestrator waiting, for hours.
pub(super) const MAX_DRAIN_DELAY: Duration = Duration::from_secs(3600);

/// A drain delay in milliseconds, 0 (none) to [`MAX_DRAIN_DELAY`].
pub(super) fn drain_delay(name: &str, value: &str) -> Result<Duration, ConfigError> {
    const WHAT: &str = "a whole number of milliseconds from 0 to 3600000";
    let delay = Duration::from_millis(parse(name, value, WHAT)?);
    if delay > MAX_DRAIN_DELAY {
        return Err(ConfigError::new(
            name,
            format!("invalid value \"{value}\": expected {WHAT}"),
        ));
    }
    Ok(delay)
}

/// A retry budget in percent, 0 to 1000 (ten retries per call).
pub(super) fn budget_percent(name: &str, value: &str) -> Result<u32, ConfigError> {
    const WHAT: &str = "a whole number of percent from 0 to 1000";
    let percent: u32 = parse(name, value, WHAT)?;
    if percent > 1000 {
        return Err(ConfigError::new(
            name,
            format!("invalid value \"{value}\": expected {WHAT}"),
        ));
    }
    Ok(percent)
}

/// Splits and checks a comma-separated origin list (`scheme://host[:port]`).
pub(super) fn cors_origins(name: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && axum::http::HeaderValue::from_str(origin).is_ok()
                && !origin.trim_end_matches('/').contains(['?', '#', ' '])
                && origin.splitn(4, '/').nth(3).is_none_or(str::is_empty);
            if ok {
                Ok(origin.trim_end_matches('/').to_owned())
            } else {
                Err(ConfigError::new(
                    name,
                    format!("invalid origin {origin:?}: expected scheme://host[:port]"),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Settings, load};

    fn defaults() -> Settings {
        let mut settings = Settings::defaults("127.0.0.1:8081".parse().unwrap(), Duration::from_millis(500));
        settings
            .declare_upstream("users", Some("http://127.0.0.1:9101"))
            .declare_upstream("orders", Some("http://127.0.0.1:9102/"));
        settings
    }

    /// [`defaults`] plus a third upstream, for per-upstream overrides.
    fn with_pricing() -> Settings {
        let mut settings = defaults();
        settings.declare_upstream("pricing", Some("http://127.0.0.1:9104"));
        settings
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn variables_override_defaults() {
        let s = load(
            defaults(),
            None,
            &env(&[
                ("BFF_JWT_HS256_SECRET", "s"),
                ("BFF_LISTEN", "127.0.0.1:0"),
                ("BFF_DEADLINE_MS", "250"),
                ("BFF_UPSTREAM_USERS_URL", "http://127.0.0.1:1234/"),
                ("BFF_RATE_LIMIT_RPS", "0"),
                ("BFF_CORS_ORIGINS", "http://a.test, https://b.test:8443"),
            ]),
        )
        .unwrap();
        assert_eq!(s.listen.port(), 0);
        assert_eq!(s.deadline, Duration::from_millis(250));
        assert_eq!(
            s.upstream("users").unwrap().url.as_deref(),
            Some("http://127.0.0.1:1234")
        );
        assert!(!s.rate_limit.enabled());
        assert_eq!(s.cors_origins, vec!["http://a.test", "https://b.test:8443"]);
    }

    #[test]
    fn only_declared_upstreams_exist_and_each_reads_its_own_variables() {
        let mut declared = defaults();
        declared.declare_upstream("profiles_v2", None);
        let s = load(
            declared,
            None,
            &env(&[
                ("BFF_JWT_HS256_SECRET", "s"),
                ("BFF_UPSTREAM_PROFILES_V2_URL", "https://profiles.internal/"),
                ("BFF_UPSTREAM_PROFILES_V2_TIMEOUT_MS", "120"),
                ("BFF_UPSTREAM_PROFILES_V2_MAX_IN_FLIGHT", "8"),
                ("BFF_UPSTREAM_PROFILES_V2_RETRIES", "2"),
                ("BFF_UPSTREAM_CATALOG_URL", "http://127.0.0.1:1"),
            ]),
        )
        .unwrap();
        let names: Vec<&str> = s.upstreams.keys().map(String::as_str).collect();
        assert_eq!(names, ["orders", "profiles_v2", "users"]);
        let profiles = s.upstream("profiles_v2").unwrap();
        assert_eq!(profiles.url.as_deref(), Some("https://profiles.internal"));
        assert_eq!(profiles.timeout, Some(Duration::from_millis(120)));
        assert_eq!((profiles.max_in_flight, profiles.retries), (8, Some(2)));
        assert_eq!(
            s.upstream("orders").unwrap().url.as_deref(),
            Some("http://127.0.0.1:9102")
        );
        assert_eq!(s.upstream("users").unwrap().max_in_flight, 512);
    }

    #[test]
    fn an_upstream_declared_without_a_url_must_be_configured() {
        let mut declared = defaults();
        declared.declare_upstream("inbox", None);
        let err = load(declared, None, &env(&[("BFF_JWT_HS256_SECRET", "s")])).unwrap_err();
        assert_eq!(err.variable, "BFF_UPSTREAM_INBOX_URL");
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    #[test]
    fn an_upstream_name_outside_lower_case_letters_digits_and_underscore_is_refused() {
        for bad in ["Users", "user-service", "", "a.b"] {
            let mut declared = defaults();
            declared.declare_upstream(bad, Some("http://127.0.0.1:1"));
            let err = load(declared, None, &env(&[("BFF_JWT_HS256_SECRET", "s")])).unwrap_err();
            assert!(err.variable.starts_with("BFF_UPSTREAM_"), "{bad:?}: {err}");
            assert!(err.message.contains("invalid upstream name"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn there_is_no_drain_delay_unless_one_is_set() {
        let s = load(defaults(), None, &env(&[("BFF_JWT_HS256_SECRET", "s")])).unwrap();
        assert_eq!(s.edge.drain_delay, Duration::ZERO);
        let s = load(
            defaults(),
            None,
            &env(&[("BFF_JWT_HS256_SECRET", "s"), ("BFF_DRAIN_DELAY_MS", "3600000")]),
        )
        .unwrap();
        assert_eq!(s.edge.drain_delay, Duration::from_secs(3600));
    }

    #[test]
    fn edge_variables_are_read_and_proxies_accept_cidrs_and_bare_addresses() {
        let s = load(
            defaults(),
            None,
            &env(&[
                ("BFF_JWT_HS256_SECRET", "s"),
                ("BFF_HEADER_TIMEOUT_MS", "1500"),
                ("BFF_IDLE_TIMEOUT_MS", "2500"),
                ("BFF_MAX_CONNECTIONS", "7"),
                ("BFF_DRAIN_DELAY_MS", "1500"),
                ("BFF_TRUSTED_PROXIES", "10.1.2.3/8, 127.0.0.1 ,fd00::/64"),
                ("BFF_UPSTREAM_MAX_BODY_BYTES", "1024"),
                ("BFF_REDIS_TIMEOUT_MS", "20"),
                ("BFF_JWT_JWKS_REFRESH_SECS", "30"),
            ]),
        )
        .unwrap();
        assert_eq!(s.edge.header_timeout, Duration::from_millis(1500));
        assert_eq!(s.edge.idle_timeout, Duration::from_millis(2500));
        assert_eq!(s.edge.max_connections, 7);
        assert_eq!(s.edge.drain_delay, Duration::from_millis(1500));
        let proxies: Vec<String> = s.edge.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["10.0.0.0/8", "127.0.0.1/32", "fd00::/64"]);
        assert_eq!(s.upstream_max_body_bytes, 1024);
        assert_eq!(s.redis_timeout, Duration::from_millis(20));
        assert_eq!(s.jwt.jwks_refresh, Duration::from_secs(30));
    }

    #[test]
    fn a_jwks_url_must_be_https_unless_it_is_on_loopback() {
        for ok in [
            "https://idp.example.com/jwks.json",
            "http://127.0.0.1:9000/jwks",
            "http://127.8.9.1/jwks",
            "http://[::1]:9000/jwks",
            "http://localhost:9000/jwks",
        ] {
            let s = load(defaults(), None, &env(&[("BFF_JWT_JWKS_URL", ok)]));
            assert!(s.is_ok(), "{ok}: {s:?}");
        }
        for bad in [
            "http://idp.example.com/jwks",
            "http://10.0.0.1/jwks",
            "http://localhost.example.com/jwks",
        ] {
            let err = load(defaults(), None, &env(&[("BFF_JWT_JWKS_URL", bad)])).unwrap_err();
            assert_eq!(err.variable, "BFF_JWT_JWKS_URL", "{bad}");
        }
    }

    #[test]
    fn a_redis_url_error_never_echoes_the_password() {
        let err = load(
            defaults(),
            None,
            &env(&[
                ("BFF_JWT_HS256_SECRET", "s"),
                ("BFF_REDIS_URL", "http://user:hunter2@cache:6379"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.variable, "BFF_REDIS_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_missing_jwt_key_names_all_three_variables() {
        let err = load(defaults(), None, &env(&[])).unwrap_err().to_string();
        assert!(err.contains("BFF_JWT_HS256_SECRET"), "{err}");
        assert!(err.contains("BFF_JWT_PUBLIC_KEY_FILE"), "{err}");
        assert!(err.contains("BFF_JWT_JWKS_URL"), "{err}");
    }

    #[test]
    fn otel_variables_choose_the_traces_url_service_name_and_delay() {
        let base = load(defaults(), None, &env(&[("BFF_JWT_HS256_SECRET", "s")])).unwrap();
        assert_eq!(base.traces.endpoint, None, "export is off by default");
        assert_eq!(base.traces.schedule_delay, Duration::from_secs(5));
        let s = load(
            with_pricing(),
            None,
            &env(&[
                ("BFF_JWT_HS256_SECRET", "s"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
                ("OTEL_SERVICE_NAME", "mobile-eu"),
                ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ]),
        )
        .unwrap();
        assert_eq!(s.traces.endpoint.as_deref(), Some("http://collector:4318/v1/traces"));
        assert_eq!(s.traces.service_name.as_deref(), Some("mobile-eu"));
        assert_eq!(s.traces.schedule_delay, Duration::from_millis(200));
        let s = load(
            defaults(),
            None,
            &env(&[
                ("BFF_JWT_HS256_SECRET", "s"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:4318/custom/traces"),
            ]),
        )
        .unwrap();
        assert_eq!(s.traces.endpoint.as_deref(), Some("http://other:4318/custom/traces"));
        for (name, value) in [
            ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
            ("OTEL_BSP_SCHEDULE_DELAY", "0"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector"),
        ] {
            let err = load(defaults(), None, &env(&[("BFF_JWT_HS256_SECRET", "s"), (name, value)])).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert_eq!(err.to_string().lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn retry_variables_are_read_and_an_upstreams_own_count_is_kept_apart() {
        let s = load(
            with_pricing(),
            None,
            &env(&[
                ("BFF_JWT_HS256_SECRET", "s"),
                ("BFF_RETRIES", "2"),
                ("BFF_UPSTREAM_USERS_RETRIES", "0"),
                ("BFF_RETRY_BACKOFF_MS", "25"),
                ("BFF_RETRY_BUDGET_PERCENT", "50"),
                ("BFF_UPSTREAM_PRICING_HEDGE_MS", "40"),
            ]),
        )
        .unwrap();
        assert_eq!(s.retry.retries, 2);
        assert_eq!(s.retry.backoff, Duration::from_millis(25));
        assert_eq!(s.retry.budget_percent, 50);
        assert_eq!(s.upstream("users").unwrap().retries, Some(0));
        assert_eq!(s.upstream("orders").unwrap().retries, None);
        assert_eq!(s.upstream("pricing").unwrap().hedge, Some(Duration::from_millis(40)));
        assert_eq!(s.upstream("users").unwrap().hedge, None);
        for (name, value) in [
            ("BFF_RETRY_BUDGET_PERCENT", "1001"),
            ("BFF_RETRIES", "-1"),
            ("BFF_UPSTREAM_USERS_HEDGE_MS", "0"),
        ] {
            let err = load(
                with_pricing(),
                None,
                &env(&[("BFF_JWT_HS256_SECRET", "s"), (name, value)]),
            )
            .unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("BFF_DEADLINE_MS", "soon"),
            ("BFF_LISTEN", "nowhere"),
            ("BFF_UPSTREAM_ORDERS_URL", "ftp://x"),
            ("BFF_UPSTREAM_USERS_TIMEOUT_MS", "soon"),
            ("BFF_UPSTREAM_USERS_MAX_IN_FLIGHT", "many"),
            ("BFF_UPSTREAM_ORDERS_RETRIES", "-1"),
            ("BFF_BREAKER_FAILURES", "0"),
            ("BFF_LOG_FORMAT", "xml"),
            ("BFF_CORS_ORIGINS", "not an origin"),
            ("BFF_MAX_BODY_BYTES", "-1"),
            ("BFF_HEADER_TIMEOUT_MS", "0"),
            ("BFF_IDLE_TIMEOUT_MS", "later"),
            ("BFF_MAX_CONNECTIONS", "0"),
            ("BFF_DRAIN_DELAY_MS", "soon"),
            ("BFF_DRAIN_DELAY_MS", "-1"),
            ("BFF_DRAIN_DELAY_MS", "3600001"),
            ("BFF_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("BFF_TRUSTED_PROXIES", "nginx"),
            ("BFF_UPSTREAM_MAX_BODY_BYTES", "0"),
            ("BFF_REDIS_TIMEOUT_MS", "0"),
            ("BFF_JWT_JWKS_REFRESH_SECS", "0"),
            ("BFF_JWT_JWKS_URL", "http://keys.example.com/jwks.json"),
            ("BFF_REDIS_URL", "http://127.0.0.1:6379"),
            ("BFF_REDIS_URL", "rediss://127.0.0.1:6379"),
        ] {
            let err = load(defaults(), None, &env(&[("BFF_JWT_HS256_SECRET", "s"), (var, value)])).unwrap_err();
            assert_eq!(err.variable, var);
            assert!(!err.to_string().contains('\n'));
        }
    }
}
