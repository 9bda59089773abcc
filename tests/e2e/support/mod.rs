//! The fixture: a simulator plus one BFF, both on ephemeral loopback ports,
//! and a client with helpers to call it as a real app would.

#![allow(dead_code)]

pub mod redis;

use std::collections::HashMap;
use std::time::Duration;

use bff_shared::auth::mint_hs256;
use bff_shared::config::Settings;
use bff_shared::serve::AppFn;
use bff_stack::simulator::{Service, Simulator, SimulatorConfig};
use bff_stack::wiring::{RunningBff, start_bff, upstream_env};
use serde_json::Value;

pub const SECRET: &str = "e2e-test-secret-with-enough-length-0123456789";

/// Which BFF a test runs.
#[derive(Clone, Copy, Debug)]
pub enum Bff {
    Mobile,
    Web,
}

impl Bff {
    fn parts(self) -> (Settings, AppFn) {
        match self {
            Bff::Mobile => (bff_mobile::defaults(), bff_mobile::app),
            Bff::Web => (bff_web::defaults(), bff_web::app),
        }
    }
}

/// A running simulator and BFF; dropped at the end of the test (the
/// runtime of `#[tokio::test]` ends their tasks).
pub struct Stack {
    pub sim: Simulator,
    pub bff: RunningBff,
    pub http: reqwest::Client,
}

/// Starts a stack with extra `BFF_*` variables.
pub async fn spawn_with(bff: Bff, extra: &[(&str, &str)]) -> Stack {
    let sim = Simulator::start(SimulatorConfig::ephemeral())
        .await
        .expect("simulator starts");
    let mut env: HashMap<String, String> = upstream_env(&sim);
    env.insert("BFF_LISTEN".into(), "127.0.0.1:0".into());
    env.insert("BFF_JWT_HS256_SECRET".into(), SECRET.into());
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    let (defaults, app) = bff.parts();
    let bff = start_bff(defaults, &env, app).await.expect("bff starts");
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    Stack { sim, bff, http }
}

/// Starts a stack with default settings.
pub async fn spawn(bff: Bff) -> Stack {
    spawn_with(bff, &[]).await
}

/// A valid token for `sub`.
pub fn token(sub: &str) -> String {
    mint_hs256(SECRET, sub, Duration::from_secs(600)).expect("token")
}

/// A decoded answer.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with `status` and `code`.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        let body = self.json();
        assert_eq!(body["code"], code, "body: {}", self.text);
        assert_eq!(body["status"], status);
        for field in ["type", "title", "detail", "request_id"] {
            assert!(body[field].is_string(), "problem lacks {field}: {}", self.text);
        }
    }

    /// Asserts a 200 answer with exactly these degraded entries, in order.
    pub fn assert_degraded(&self, expected: &[(&str, &str)]) {
        self.assert_degraded_as(expected, false);
    }

    /// Asserts a 200 answer with exactly these degraded entries, in any
    /// order (for sections that fail concurrently).
    pub fn assert_degraded_in_any_order(&self, expected: &[(&str, &str)]) {
        self.assert_degraded_as(expected, true);
    }

    fn assert_degraded_as(&self, expected: &[(&str, &str)], any_order: bool) {
        assert_eq!(self.status, 200, "body: {}", self.text);
        let body = self.json();
        let mut degraded: Vec<(String, String)> = body["meta"]["degraded"]
            .as_array()
            .expect("degraded list")
            .iter()
            .map(|d| {
                (
                    d["section"].as_str().unwrap().to_owned(),
                    d["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut expected: Vec<(String, String)> = expected
            .iter()
            .map(|(s, r)| ((*s).to_owned(), (*r).to_owned()))
            .collect();
        if any_order {
            degraded.sort();
            expected.sort();
        }
        assert_eq!(degraded, expected, "body: {}", self.text);
        assert_eq!(body["meta"]["partial"], !expected.is_empty());
        if expected.is_empty() {
            assert_eq!(self.header("x-partial-response"), None);
        } else {
            assert_eq!(self.header("x-partial-response"), Some("true"));
        }
    }
}

impl Stack {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.bff.url(), path)
    }

    /// GET `path` with optional bearer token and extra headers.
    pub async fn get(&self, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Answer {
        self.get_from(&self.bff.url(), path, token, headers).await
    }

    /// Starts another BFF (a replica) against the same simulator.
    pub async fn add_replica(&self, bff: Bff, extra: &[(&str, &str)]) -> RunningBff {
        let mut env: HashMap<String, String> = upstream_env(&self.sim);
        env.insert("BFF_LISTEN".into(), "127.0.0.1:0".into());
        env.insert("BFF_JWT_HS256_SECRET".into(), SECRET.into());
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        let (defaults, app) = bff.parts();
        start_bff(defaults, &env, app).await.expect("replica starts")
    }

    /// GET `path` from the BFF at `base`.
    pub async fn get_from(&self, base: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.http.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let answer = Answer { status, headers, text };
        self.assert_no_upstream_address(&answer);
        answer
    }

    /// GET as user `u-1`.
    pub async fn get_as_u1(&self, path: &str) -> Answer {
        self.get(path, Some(&token("u-1")), &[]).await
    }

    /// Every answer is checked: no simulator address in any body or header.
    pub fn assert_no_upstream_address(&self, answer: &Answer) {
        for service in Service::ALL {
            let url = self.sim.url(service);
            let host_port = url.trim_start_matches("http://");
            assert!(
                !answer.text.contains(host_port),
                "body leaks an upstream address: {}",
                answer.text
            );
            for (name, value) in &answer.headers {
                let value = value.to_str().unwrap_or_default();
                assert!(!value.contains(host_port), "header {name} leaks an upstream address");
            }
        }
    }

    /// GET straight from a simulator service (the ground truth).
    pub async fn upstream(&self, service: Service, path: &str, user: Option<&str>) -> Value {
        let mut request = self.http.get(format!("{}{}", self.sim.url(service), path));
        if let Some(user) = user {
            request = request.header("x-user-id", user);
        }
        request
            .send()
            .await
            .expect("sim answers")
            .json()
            .await
            .expect("sim JSON")
    }
}

/// The ways an upstream can fail, with the reason a client then sees.
pub fn failure_modes() -> Vec<(&'static str, bff_stack::simulator::Fault, &'static str)> {
    use bff_stack::simulator::Fault;
    vec![
        ("error status", Fault::always(500), "upstream_error"),
        (
            "malformed JSON",
            Fault {
                malformed: true,
                ..Fault::default()
            },
            "bad_response",
        ),
        (
            "hang",
            Fault {
                hang: true,
                ..Fault::default()
            },
            "timeout",
        ),
        (
            "connection reset",
            Fault {
                reset: true,
                ..Fault::default()
            },
            "upstream_error",
        ),
        (
            "down",
            Fault {
                down: true,
                ..Fault::default()
            },
            "upstream_error",
        ),
    ]
}

/// Settings for failure tests: a short deadline (fast hang cases) and a
/// breaker that does not open mid-test.
pub const FAILURE_TEST_ENV: &[(&str, &str)] = &[("BFF_DEADLINE_MS", "300"), ("BFF_BREAKER_FAILURES", "1000")];
