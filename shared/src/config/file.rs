//! Applies an optional TOML file. Keys mirror the variables in lower case,
//! grouped in tables; unknown keys are errors so a typo is never silently
//! ignored. Example:
//!
//! ```toml
//! listen = "127.0.0.1:8081"
//! deadline_ms = 500
//! [jwt]
//! hs256_secret = "dev-secret"
//! [upstreams.users]
//! url = "http://127.0.0.1:9101"
//! timeout_ms = 200
//! max_in_flight = 256
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::env::{
    budget_percent, cors_origins, drain_delay, log_format, parse, parse_jwks_url, parse_redis_url, parse_url,
    trusted_proxies,
};
use super::{ConfigError, Settings, UpstreamSettings};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    deadline_ms: Option<u64>,
    max_body_bytes: Option<usize>,
    log_format: Option<String>,
    redis_url: Option<String>,
    cors_origins: Option<Vec<String>>,
    idempotency_ttl_secs: Option<u64>,
    upstream_max_body_bytes: Option<usize>,
    redis_timeout_ms: Option<u64>,
    #[serde(default)]
    edge: Edge,
    #[serde(default)]
    jwt: Jwt,
    #[serde(default)]
    breaker: Breaker,
    #[serde(default)]
    rate_limit: RateLimit,
    #[serde(default)]
    cache: Cache,
    #[serde(default)]
    client: Client,
    #[serde(default)]
    retry: Retry,
    #[serde(default)]
    upstreams: BTreeMap<String, Upstream>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Jwt {
    hs256_secret: Option<String>,
    public_key_file: Option<String>,
    jwks_url: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    jwks_refresh_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Edge {
    header_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    drain_delay_ms: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Breaker {
    failures: Option<u32>,
    open_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RateLimit {
    rps: Option<u32>,
    burst: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Cache {
    product_ttl_ms: Option<u64>,
    price_ttl_ms: Option<u64>,
    stale_ms: Option<u64>,
    max_bytes: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Client {
    connect_timeout_ms: Option<u64>,
    pool_max_idle_per_host: Option<usize>,
    pool_idle_timeout_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Retry {
    retries: Option<u32>,
    backoff_ms: Option<u64>,
    budget_percent: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Upstream {
    url: Option<String>,
    timeout_ms: Option<u64>,
    max_in_flight: Option<usize>,
    retries: Option<u32>,
    hedge_ms: Option<u64>,
}

pub(super) fn apply(s: &mut Settings, path: &Path) -> Result<(), ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(super::vars::CONFIG, format!("cannot read {shown}: {e}")))?;
    let file: File = toml::from_str(&text).map_err(|e| {
        let message = e.message().replace('\n', " ");
        ConfigError::new(shown.clone(), format!("invalid config file: {message}"))
    })?;
    let key = |k: &str| format!("{shown}: {k}");
    let ms = Duration::from_millis;

    if let Some(v) = file.listen {
        s.listen = parse(&key("listen"), &v, "an address:port such as 127.0.0.1:8081")?;
    }
    if let Some(v) = file.deadline_ms {
        s.deadline = ms(v);
    }
    if let Some(v) = file.max_body_bytes {
        s.max_body_bytes = v;
    }
    if let Some(v) = file.log_format {
        s.log_format = log_format(&key("log_format"), &v)?;
    }
    if let Some(v) = file.redis_url {
        s.redis_url = Some(parse_redis_url(&key("redis_url"), &v)?);
    }
    if let Some(v) = file.cors_origins {
        s.cors_origins = cors_origins(&key("cors_origins"), &v.join(","))?;
    }
    if let Some(v) = file.idempotency_ttl_secs {
        s.idempotency_ttl = Duration::from_secs(v);
    }
    let jwt = file.jwt;
    s.jwt.hs256_secret = jwt.hs256_secret.or(s.jwt.hs256_secret.take());
    s.jwt.public_key_file = jwt.public_key_file.map(Into::into).or(s.jwt.public_key_file.take());
    if let Some(v) = jwt.jwks_url {
        s.jwt.jwks_url = Some(parse_jwks_url(&key("jwt.jwks_url"), &v)?);
    }
    if let Some(v) = jwt.jwks_refresh_secs {
        s.jwt.jwks_refresh = Duration::from_secs(at_least_1(&key("jwt.jwks_refresh_secs"), v)?);
    }
    if let Some(v) = file.upstream_max_body_bytes {
        s.upstream_max_body_bytes = at_least_1(&key("upstream_max_body_bytes"), v as u64)? as usize;
    }
    if let Some(v) = file.redis_timeout_ms {
        s.redis_timeout = ms(at_least_1(&key("redis_timeout_ms"), v)?);
    }
    if let Some(v) = file.edge.header_timeout_ms {
        s.edge.header_timeout = ms(at_least_1(&key("edge.header_timeout_ms"), v)?);
    }
    if let Some(v) = file.edge.idle_timeout_ms {
        s.edge.idle_timeout = ms(at_least_1(&key("edge.idle_timeout_ms"), v)?);
    }
    if let Some(v) = file.edge.max_connections {
        s.edge.max_connections = at_least_1(&key("edge.max_connections"), v as u64)? as usize;
    }
    if let Some(v) = file.edge.drain_delay_ms {
        s.edge.drain_delay = drain_delay(&key("edge.drain_delay_ms"), &v.to_string())?;
    }
    if let Some(v) = file.edge.trusted_proxies {
        s.edge.trusted_proxies = trusted_proxies(&key("edge.trusted_proxies"), &v.join(","))?;
    }
    s.jwt.issuer = jwt.issuer.or(s.jwt.issuer.take());
    s.jwt.audience = jwt.audience.or(s.jwt.audience.take());
    if let Some(v) = file.breaker.failures {
        if v == 0 {
            return Err(ConfigError::new(key("breaker.failures"), "must be at least 1"));
        }
        s.breaker.failures = v;
    }
    if let Some(v) = file.breaker.open_ms {
        s.breaker.open = ms(v);
    }
    if let Some(v) = file.rate_limit.rps {
        s.rate_limit.rps = v;
    }
    if let Some(v) = file.rate_limit.burst {
        s.rate_limit.burst = v;
    }
    if let Some(v) = file.cache.product_ttl_ms {
        s.cache.product_ttl = ms(v);
    }
    if let Some(v) = file.cache.price_ttl_ms {
        s.cache.price_ttl = ms(v);
    }
    if let Some(v) = file.cache.stale_ms {
        s.cache.stale_for = ms(v);
    }
    if let Some(v) = file.cache.max_bytes {
        s.cache.max_bytes = v;
    }
    if let Some(v) = file.client.connect_timeout_ms {
        s.client.connect_timeout = ms(v);
    }
    if let Some(v) = file.client.pool_max_idle_per_host {
        s.client.pool_max_idle_per_host = Some(v);
    }
    if let Some(v) = file.client.pool_idle_timeout_ms {
        s.client.pool_idle_timeout = ms(v);
    }
    if let Some(v) = file.retry.retries {
        s.retry.retries = v;
    }
    if let Some(v) = file.retry.backoff_ms {
        s.retry.backoff = ms(v);
    }
    if let Some(v) = file.retry.budget_percent {
        s.retry.budget_percent = budget_percent(&key("retry.budget_percent"), &v.to_string())?;
    }
    for (name, up) in file.upstreams {
        let Some(target) = s.upstreams.get_mut(&name) else {
            return Err(ConfigError::new(
                key(&format!("upstreams.{name}")),
                "unknown upstream: this BFF declares no upstream of that name",
            ));
        };
        apply_upstream(target, up, &key(&format!("upstreams.{name}.url")))?;
    }
    Ok(())
}

fn at_least_1(key: &str, v: u64) -> Result<u64, ConfigError> {
    if v == 0 {
        return Err(ConfigError::new(key, "must be at least 1"));
    }
    Ok(v)
}

fn apply_upstream(target: &mut UpstreamSettings, up: Upstream, url_key: &str) -> Result<(), ConfigError> {
    if let Some(v) = up.url {
        target.url = Some(parse_url(url_key, &v)?);
    }
    if let Some(v) = up.timeout_ms {
        target.timeout = Some(Duration::from_millis(v));
    }
    if let Some(v) = up.max_in_flight {
        target.max_in_flight = v;
    }
    if let Some(v) = up.retries {
        target.retries = Some(v);
    }
    if let Some(v) = up.hedge_ms {
        let key = format!("{}hedge_ms", url_key.trim_end_matches("url"));
        target.hedge = Some(Duration::from_millis(at_least_1(&key, v)?));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::load;

    /// `text` in a file of its own under the temporary directory.
    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("bff-config-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, text).expect("write the config file");
        path
    }

    fn declared() -> Settings {
        let mut settings = Settings::defaults(([127, 0, 0, 1], 0).into(), Duration::from_millis(500));
        settings.declare_upstream("profiles", None);
        settings
    }

    #[test]
    fn a_declared_upstream_is_configured_by_its_table() {
        let path = file(
            "declared",
            "[jwt]\nhs256_secret = \"s\"\n[upstreams.profiles]\nurl = \"http://127.0.0.1:9101/\"\ntimeout_ms = 200\nmax_in_flight = 4\nretries = 1\n",
        );
        let settings = load(declared(), Some(&path), &HashMap::new());
        let _ = std::fs::remove_file(&path);
        let settings = settings.expect("valid");
        let profiles = settings.upstream("profiles").expect("declared");
        assert_eq!(profiles.url.as_deref(), Some("http://127.0.0.1:9101"));
        assert_eq!(profiles.timeout, Some(Duration::from_millis(200)));
        assert_eq!((profiles.max_in_flight, profiles.retries), (4, Some(1)));
    }

    #[test]
    fn a_table_for_an_undeclared_upstream_is_an_error_naming_its_key() {
        let path = file(
            "undeclared",
            "[jwt]\nhs256_secret = \"s\"\n[upstreams.profiles]\nurl = \"http://127.0.0.1:1\"\n[upstreams.users]\nurl = \"http://127.0.0.1:9101\"\n",
        );
        let err = load(declared(), Some(&path), &HashMap::new());
        let _ = std::fs::remove_file(&path);
        let err = err.expect_err("users is not declared");
        assert!(err.variable.ends_with(": upstreams.users"), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }

    fn applied(text: &str) -> Result<Settings, ConfigError> {
        let path = std::env::temp_dir().join(format!("bff-retry-{}-{}.toml", std::process::id(), text.len()));
        std::fs::write(&path, text).unwrap();
        let mut s = Settings::defaults("127.0.0.1:8081".parse().unwrap(), Duration::from_millis(500));
        s.declare_upstream("pricing", Some("http://127.0.0.1:9104"));
        let result = apply(&mut s, &path).map(|()| s);
        let _ = std::fs::remove_file(&path);
        result
    }

    #[test]
    fn the_retry_table_and_an_upstreams_retries_and_hedge_are_read() {
        let s = applied(
            "[retry]\nretries = 2\nbackoff_ms = 30\nbudget_percent = 10\n\
             [upstreams.pricing]\nretries = 0\nhedge_ms = 40\n",
        )
        .unwrap();
        assert_eq!(s.retry.retries, 2);
        assert_eq!(s.retry.backoff, Duration::from_millis(30));
        assert_eq!(s.retry.budget_percent, 10);
        let pricing = s.upstream("pricing").unwrap();
        assert_eq!(pricing.retries, Some(0));
        assert_eq!(pricing.hedge, Some(Duration::from_millis(40)));
    }

    #[test]
    fn the_edge_table_sets_the_drain_delay_and_refuses_one_over_an_hour() {
        let s = applied("[edge]\ndrain_delay_ms = 5000\n").unwrap();
        assert_eq!(s.edge.drain_delay, Duration::from_secs(5));
        let err = applied("[edge]\ndrain_delay_ms = 3600001\n").unwrap_err();
        assert!(err.to_string().contains("edge.drain_delay_ms"), "{err}");
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
        let err = applied("[edge]\ndrain_delay_ms = -1\n").unwrap_err();
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
    }

    #[test]
    fn a_hedge_of_zero_and_a_budget_over_1000_percent_are_refused_by_key() {
        let err = applied("[upstreams.pricing]\nhedge_ms = 0\n").unwrap_err();
        assert!(err.to_string().contains("upstreams.pricing.hedge_ms"), "{err}");
        let err = applied("[retry]\nbudget_percent = 5000\n").unwrap_err();
        assert!(err.to_string().contains("retry.budget_percent"), "{err}");
    }
}
