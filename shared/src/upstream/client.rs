//! Builds the one pooled HTTP client shared by every upstream.

use crate::config::{ClientSettings, ConfigError};

/// The pooled client: keep-alive pool sized for fan-out, no redirects
/// (an upstream redirect is an answer we do not follow blindly), no proxy
/// from the environment (upstream addresses are configured explicitly),
/// rustls for HTTPS upstreams.
pub fn build_client(settings: &ClientSettings) -> Result<reqwest::Client, ConfigError> {
    // Installing twice is harmless: the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .pool_max_idle_per_host(settings.pool_max_idle_per_host)
        .pool_idle_timeout(settings.pool_idle_timeout)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| ConfigError::new("http client", format!("cannot build the HTTP client: {e}")))
}
