//! The set of configured upstreams, looked up by name.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{ConfigError, Settings, UPSTREAMS};
use crate::telemetry::Metrics;

use super::Upstream;

/// Every upstream of the settings, sharing one client.
#[derive(Debug, Clone)]
pub struct Upstreams {
    by_name: Arc<HashMap<&'static str, Arc<Upstream>>>,
}

impl Upstreams {
    /// Builds one [`Upstream`] per configured upstream.
    pub fn new(settings: &Settings, client: reqwest::Client, metrics: &Metrics) -> Result<Self, ConfigError> {
        let mut by_name = HashMap::new();
        for (name, _) in UPSTREAMS {
            let Some(upstream) = settings.upstream(name) else {
                continue;
            };
            by_name.insert(
                name,
                Arc::new(
                    Upstream::new(
                        name,
                        upstream,
                        &settings.breaker,
                        settings.upstream_max_body_bytes,
                        client.clone(),
                        metrics,
                    )
                    .with_retry(&settings.retry),
                ),
            );
        }
        Ok(Self {
            by_name: Arc::new(by_name),
        })
    }

    /// The upstream called `name`, or a start-up error naming its variable.
    pub fn get(&self, name: &str) -> Result<Arc<Upstream>, ConfigError> {
        self.by_name
            .get(name)
            .cloned()
            .ok_or_else(|| ConfigError::new(crate::config::vars::upstream(name, "URL"), "upstream is not configured"))
    }
}
