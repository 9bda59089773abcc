//! The crate's example BFF (`shared/examples/profile_inbox.rs`), built and
//! run as a user would (`cargo run -p bff-shared --example profile_inbox`):
//! its own binary on a loopback port, over two upstreams whose names are
//! none of ours, pointed at the simulator's users and notifications
//! services through `BFF_UPSTREAM_PROFILES_URL` / `BFF_UPSTREAM_INBOX_URL`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bff_shared::config::ClientSettings;
use bff_stack::simulator::{Fault, Service, Simulator, SimulatorConfig};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::support::{SECRET, token};

const EXAMPLE: &str = "profile_inbox";

/// Builds the example (a no-op when `cargo test` already has) and returns
/// its path, next to this test binary's `deps/` directory.
async fn build_example() -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "-p", "bff-shared", "--example", EXAMPLE]);
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let status = tokio::time::timeout(Duration::from_secs(600), cargo.kill_on_drop(true).status())
        .await
        .expect("the example builds within 10 minutes")
        .expect("cargo runs");
    assert!(status.success(), "cargo build --example {EXAMPLE}: {status}");
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir.join("examples").join(EXAMPLE)
}

/// A free loopback port: the example is told its address by `BFF_LISTEN`,
/// and with port 0 nobody could tell which one it took.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts the example with `env` on top of a process environment cleared
/// of every `BFF_*` variable, killed when dropped.
fn start(exe: &PathBuf, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(exe);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("BFF_") {
            command.env_remove(key);
        }
    }
    command
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("BFF_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the example starts")
}

async fn get(http: &reqwest::Client, url: &str, bearer: Option<&str>) -> (u16, String, Value) {
    let mut request = http.get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the example answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("body");
    (
        status,
        content_type,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn the_example_bff_answers_over_its_own_two_upstreams_with_their_own_breakers() {
    let exe = build_example().await;
    let sim = Simulator::start(SimulatorConfig::ephemeral()).await.expect("simulator");
    let port = free_port();
    let mut child = start(
        &exe,
        &[
            ("BFF_LISTEN", format!("127.0.0.1:{port}")),
            ("BFF_JWT_HS256_SECRET", SECRET.to_owned()),
            ("BFF_UPSTREAM_PROFILES_URL", sim.url(Service::Users)),
            ("BFF_UPSTREAM_INBOX_URL", sim.url(Service::Notifications)),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = bff_shared::upstream::build_client(&ClientSettings::default()).expect("client");

    // Ready within 30 s of starting (it only binds and builds its state).
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the example exited early: {status}");
            }
            if let Ok(response) = http.get(format!("{base}/readyz")).send().await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "the example is not ready after 30 s");
    let me = format!("{base}/v1/me");
    let bearer = token("u-7");

    // Both upstreams answer: a full answer.
    let (status, _, body) = get(&http, &me, Some(&bearer)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["name"].as_str().is_some_and(|n| !n.is_empty()), "{body}");
    assert!(body["unread"].is_u64(), "{body}");
    assert_eq!(body["meta"]["partial"], json!(false), "{body}");
    assert_eq!(body["meta"]["degraded"], json!([]), "{body}");

    // The optional inbox fails: a partial answer that says why.
    sim.set_fault(
        Service::Notifications,
        Fault {
            error_rate: 1.0,
            ..Fault::default()
        },
    );
    let (status, _, body) = get(&http, &me, Some(&bearer)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unread"], Value::Null, "{body}");
    assert_eq!(body["meta"]["partial"], json!(true), "{body}");
    assert_eq!(
        body["meta"]["degraded"],
        json!([{ "section": "unread", "reason": "upstream_error" }]),
        "{body}"
    );
    sim.clear_faults();

    // No token: a 401 problem, before any upstream is called.
    let (status, content_type, body) = get(&http, &me, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], json!("unauthorized"), "{body}");

    // Its two upstreams, and only they, have their own series.
    let (status, _, metrics) = get(&http, &format!("{base}/metrics"), None).await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().expect("text");
    for upstream in ["profiles", "inbox"] {
        let series = format!("bff_circuit_breaker_state{{upstream=\"{upstream}\"}}");
        assert!(metrics.contains(&series), "{series} missing:\n{metrics}");
        let calls = format!("bff_upstream_requests_total{{upstream=\"{upstream}\",outcome=\"ok\"}}");
        assert!(metrics.contains(&calls), "{calls} missing:\n{metrics}");
    }
    assert!(!metrics.contains("upstream=\"users\""), "{metrics}");
    assert!(!metrics.contains("upstream=\"notifications\""), "{metrics}");

    // The OpenAPI document lists its operation.
    let (status, _, doc) = get(&http, &format!("{base}/openapi.json"), None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["paths"]["/v1/me"]["get"]["operationId"], json!("getMe"));

    child.kill().await.expect("the example is stopped by its PID");
}

#[tokio::test]
async fn the_example_refuses_to_start_without_its_upstreams_url_naming_the_variable() {
    let exe = build_example().await;
    let child = start(
        &exe,
        &[
            ("BFF_LISTEN", format!("127.0.0.1:{}", free_port())),
            ("BFF_JWT_HS256_SECRET", SECRET.to_owned()),
            ("BFF_UPSTREAM_PROFILES_URL", "http://127.0.0.1:9".to_owned()),
        ],
    );
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the example exits within 30 s")
        .expect("output");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("profile_inbox: BFF_UPSTREAM_INBOX_URL: "),
        "{stderr}"
    );
}
