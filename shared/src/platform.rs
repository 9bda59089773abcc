//! The machinery every BFF shares: settings, the declared upstreams, token
//! verifier, metrics, readiness, HTTP client, Redis, rate limiting and the
//! idempotency store. It knows no upstream name and no typed call: a BFF
//! declares its upstreams in its settings and builds its own typed calls
//! over [`PlatformParts::upstreams`] (ours are `crate::backends`). A BFF may
//! use it as its whole axum state or embed it.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::Verifier;
use crate::client_addr::TrustedProxies;
use crate::config::{ConfigError, Settings};
use crate::idempotency::{IdempotencyStore, MemoryStore, RedisStore};
use crate::ops::Readiness;
use crate::rate_limit::RateLimitState;
use crate::redis_conn::SharedRedis;
use crate::telemetry::Metrics;
use crate::upstream::{UpstreamClient, Upstreams, build_client};

/// Memory the in-process idempotency store may use for records (keys and
/// recorded answers, ~0.5 KiB each: some 60,000 checkouts).
const IDEMPOTENCY_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// Shared application state. Cloning it (axum does, once per request) is
/// one reference-count increment; fields are reached through `Deref`.
#[derive(Clone, Debug)]
pub struct Platform(Arc<PlatformParts>);

impl std::ops::Deref for Platform {
    type Target = PlatformParts;

    fn deref(&self) -> &PlatformParts {
        &self.0
    }
}

/// What a [`Platform`] holds.
#[derive(Debug)]
pub struct PlatformParts {
    /// The loaded settings.
    pub settings: Arc<Settings>,
    /// Every upstream the settings declare, each with its own breaker,
    /// in-flight cap and metrics series; `upstreams.get(name)`.
    pub upstreams: Upstreams,
    /// Bearer-token verifier.
    pub verifier: Arc<Verifier>,
    /// This app's metrics registry.
    pub metrics: Arc<Metrics>,
    /// Draining flag for `/readyz`.
    pub readiness: Readiness,
    /// A reqwest client for calls off the request path (JWKS, OTLP), and
    /// for extensions that call other services.
    pub http: reqwest::Client,
    /// The shared Redis connection when `BFF_REDIS_URL` is set.
    pub redis: Option<Arc<SharedRedis>>,
    /// The proxies whose `X-Forwarded-For` is believed
    /// (`BFF_TRUSTED_PROXIES`), for [`client_addr::layer`](crate::client_addr::layer).
    pub trusted_proxies: TrustedProxies,
    /// Rate limiting, unless turned off (`BFF_RATE_LIMIT_RPS` or `_BURST` 0).
    pub rate_limit: Option<RateLimitState>,
    /// Checkout's idempotency records, in Redis when `BFF_REDIS_URL` is set,
    /// else in memory; records live `settings.idempotency_ttl`.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Span export, when an `OTEL_EXPORTER_OTLP_*` endpoint is set.
    pub traces: crate::telemetry::Traces,
}

impl Platform {
    /// Builds the client, the declared upstreams and the verifier from
    /// `settings`.
    pub async fn new(settings: Settings) -> Result<Self, ConfigError> {
        let http = build_client(&settings.client)?;
        let metrics = Metrics::new();
        let upstreams = Upstreams::new(
            &settings,
            UpstreamClient::new(&settings.client, settings.pool_max_idle_per_host())?,
            &metrics,
        )?;
        let verifier = Arc::new(Verifier::from_settings(&settings.jwt, http.clone()).await?);
        let redis = settings
            .redis_url
            .as_deref()
            .map(|url| SharedRedis::new(url, settings.redis_timeout))
            .transpose()?
            .map(Arc::new);
        if let Some(redis) = &redis {
            redis.connect_in_background();
        }
        let traces = crate::telemetry::Traces::new(&settings.traces, "bff", http.clone())?;
        let trusted_proxies = TrustedProxies::new(settings.edge.trusted_proxies.iter().copied());
        let rate_limit = crate::rate_limit::build(
            &settings.rate_limit,
            redis.as_ref(),
            &verifier,
            &metrics,
            &trusted_proxies,
        );
        let idempotency: Arc<dyn IdempotencyStore> = match &redis {
            Some(redis) => Arc::new(RedisStore::new(redis.clone(), settings.idempotency_ttl)),
            None => Arc::new(MemoryStore::new(settings.idempotency_ttl, IDEMPOTENCY_MAX_BYTES)),
        };
        Ok(Self(Arc::new(PlatformParts {
            settings: Arc::new(settings),
            upstreams,
            verifier,
            metrics,
            readiness: Readiness::default(),
            http,
            redis,
            trusted_proxies,
            rate_limit,
            idempotency,
            traces,
        })))
    }
}

impl FromRef<Platform> for Arc<Verifier> {
    fn from_ref(platform: &Platform) -> Self {
        platform.verifier.clone()
    }
}
