//! The set of upstreams a BFF declared, looked up by name. The machinery
//! knows no upstream name of its own: whatever the settings declare
//! ([`Settings::declare_upstream`]) is built here, each with its own
//! breaker, in-flight cap and metrics series.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use crate::config::{ConfigError, Settings, is_upstream_name, vars};
use crate::telemetry::Metrics;

use super::{Upstream, UpstreamClient};

/// Every declared upstream, sharing one client.
#[derive(Debug, Clone)]
pub struct Upstreams {
    by_name: Arc<BTreeMap<&'static str, Arc<Upstream>>>,
}

impl Upstreams {
    /// Builds one [`Upstream`] per declared upstream, or a start-up error
    /// naming the `BFF_UPSTREAM_<NAME>_URL` of one without a usable URL.
    pub fn new(settings: &Settings, client: UpstreamClient, metrics: &Metrics) -> Result<Self, ConfigError> {
        let mut by_name = BTreeMap::new();
        for (name, upstream) in &settings.upstreams {
            if !is_upstream_name(name) || upstream.url.is_none() {
                // `Settings::validate` says which of the two, in its own words.
                settings.validate()?;
                return Err(ConfigError::new(
                    vars::upstream(name, "URL"),
                    "upstream is not configured",
                ));
            }
            let name = intern(name);
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

    /// The upstream called `name`, or a start-up error naming its variable
    /// (the BFF asked for an upstream it did not declare).
    pub fn get(&self, name: &str) -> Result<Arc<Upstream>, ConfigError> {
        self.by_name
            .get(name)
            .cloned()
            .ok_or_else(|| ConfigError::new(vars::upstream(name, "URL"), "upstream is not declared"))
    }

    /// The declared names, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }
}

/// `name` as a `&'static str`, for metrics labels and logs: each distinct
/// name is allocated once per process and kept, so memory is bounded by the
/// declared names however many registries (tests build many) are made.
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn client() -> UpstreamClient {
        UpstreamClient::new(
            &Settings::defaults(([127, 0, 0, 1], 0).into(), Duration::from_millis(500)).client,
            16,
        )
        .unwrap()
    }

    fn settings() -> Settings {
        let mut settings = Settings::defaults(([127, 0, 0, 1], 0).into(), Duration::from_millis(500));
        settings.jwt.hs256_secret = Some("s".into());
        settings
    }

    #[test]
    fn the_registry_holds_exactly_the_declared_upstreams_each_with_its_own_series() {
        let mut settings = settings();
        settings
            .declare_upstream("profiles", Some("http://127.0.0.1:1"))
            .declare_upstream("inbox", Some("http://127.0.0.1:2"));
        let metrics = Metrics::new();
        let upstreams = Upstreams::new(&settings, client(), &metrics).unwrap();
        assert_eq!(upstreams.names().collect::<Vec<_>>(), ["inbox", "profiles"]);
        assert_eq!(upstreams.get("profiles").unwrap().name(), "profiles");
        let err = upstreams.get("users").unwrap_err();
        assert_eq!(err.variable, "BFF_UPSTREAM_USERS_URL");
        let rendered = metrics.render();
        for name in ["profiles", "inbox"] {
            assert!(
                rendered.contains(&format!("bff_circuit_breaker_state{{upstream=\"{name}\"}}")),
                "{rendered}"
            );
        }
    }

    #[test]
    fn an_upstream_without_a_url_is_a_start_up_error_naming_its_variable() {
        let mut settings = settings();
        settings.declare_upstream("inbox", None);
        let err = Upstreams::new(&settings, client(), &Metrics::new()).unwrap_err();
        assert_eq!(err.variable, "BFF_UPSTREAM_INBOX_URL");
    }
}
