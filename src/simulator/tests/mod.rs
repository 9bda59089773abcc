//! Tests that drive a real simulator over loopback with reqwest, as the
//! BFFs do. Each test starts its own simulator on ephemeral ports.

mod control;
mod endpoints;
mod faults;

use std::time::Duration;

use serde_json::Value;

use super::{Service, Simulator, SimulatorConfig};

/// A simulator and a client for it.
pub(super) struct Harness {
    pub(super) sim: Simulator,
    pub(super) http: reqwest::Client,
}

pub(super) async fn start() -> Harness {
    start_with(SimulatorConfig::ephemeral()).await
}

pub(super) async fn start_with(config: SimulatorConfig) -> Harness {
    let sim = Simulator::start(config).await.expect("simulator starts");
    let http = client().timeout(Duration::from_secs(5)).build().expect("client");
    Harness { sim, http }
}

/// A client builder for loopback (no proxy), usable in any test.
pub(super) fn client() -> reqwest::ClientBuilder {
    // reqwest is built without a default TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy()
}

impl Harness {
    pub(super) fn url(&self, service: Service, path: &str) -> String {
        format!("{}{path}", self.sim.url(service))
    }

    /// GET and return status and JSON body (Null when the body is not JSON).
    pub(super) async fn get(&self, service: Service, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(service, path)).send().await.expect("answer");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// GET expecting 200, returning the JSON body.
    pub(super) async fn ok(&self, service: Service, path: &str) -> Value {
        let (status, body) = self.get(service, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}
