//! The state every BFF shares: settings, backends, token verifier, metrics
//! and readiness. A BFF may use it as its whole axum state or embed it.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::Verifier;
use crate::backends::Backends;
use crate::config::{ConfigError, Settings};
use crate::ops::Readiness;
use crate::telemetry::Metrics;
use crate::upstream::{Upstreams, build_client};

/// Shared, cheaply cloneable application state.
#[derive(Clone, Debug)]
pub struct Platform {
    /// The loaded settings.
    pub settings: Arc<Settings>,
    /// Typed calls to the backends.
    pub backends: Backends,
    /// Bearer-token verifier.
    pub verifier: Arc<Verifier>,
    /// This app's metrics registry.
    pub metrics: Arc<Metrics>,
    /// Draining flag for `/readyz`.
    pub readiness: Readiness,
    /// The pooled HTTP client, for extensions that call other services.
    pub http: reqwest::Client,
}

impl Platform {
    /// Builds the client, the upstreams and the verifier from `settings`.
    pub async fn new(settings: Settings) -> Result<Self, ConfigError> {
        let http = build_client(&settings.client)?;
        let metrics = Metrics::new();
        let upstreams = Upstreams::new(&settings, http.clone(), &metrics)?;
        let backends = Backends::new(&upstreams, &settings.cache, &metrics)?;
        let verifier = Arc::new(Verifier::from_settings(&settings.jwt, http.clone()).await?);
        Ok(Self { settings: Arc::new(settings), backends, verifier, metrics, readiness: Readiness::default(), http })
    }
}

impl FromRef<Platform> for Arc<Verifier> {
    fn from_ref(platform: &Platform) -> Self {
        platform.verifier.clone()
    }
}
