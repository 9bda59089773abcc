//! Each fault kind is visible from a reqwest client, as a BFF would see it,
//! and clearing it brings the service back.

use std::time::{Duration, Instant};

use super::{Harness, start, start_with};
use crate::simulator::{Fault, Service, SimulatorConfig};

const PATH: &str = "/users/u-1";

impl Harness {
    async fn send(&self, client: &reqwest::Client) -> Result<reqwest::Response, reqwest::Error> {
        client.get(self.url(Service::Users, PATH)).send().await
    }
}

/// A client error that carries no HTTP answer and is not a timeout.
fn assert_connection_error(result: Result<reqwest::Response, reqwest::Error>, what: &str) -> reqwest::Error {
    match result {
        Ok(response) => panic!("{what}: expected a connection error, got HTTP {}", response.status()),
        Err(e) => {
            assert!(e.status().is_none() && !e.is_timeout(), "{what}: {e:?}");
            e
        }
    }
}

/// The client saw a TCP RST (not a clean close, not a refusal).
fn assert_reset_by_peer(error: &reqwest::Error, what: &str) {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)
        {
            return;
        }
        cause = e.source();
    }
    panic!("{what}: not a connection reset: {error:?}");
}

#[tokio::test]
async fn latency_delays_every_answer_and_jitter_stays_within_its_bound() {
    let h = start().await;
    h.sim.set_fault(
        Service::Users,
        Fault {
            latency_ms: 120,
            jitter_ms: 40,
            ..Fault::default()
        },
    );
    let started = Instant::now();
    let response = h.send(&h.http).await.expect("answer");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    assert!(elapsed >= Duration::from_millis(120), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    let recorded = &h.sim.requests(Service::Users)[0];
    let held = recorded.answered_at_ms.expect("answered") - recorded.received_at_ms;
    assert!((119..=200).contains(&held), "{held} ms");

    h.sim.clear_faults();
    let started = Instant::now();
    h.send(&h.http).await.expect("answer");
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[tokio::test]
async fn an_error_rate_answers_the_error_status_that_often() {
    let h = start().await;
    h.sim.set_fault(Service::Users, Fault::always(503));
    let response = h.send(&h.http).await.expect("answer");
    assert_eq!(response.status(), 503);
    assert!(
        response.json::<serde_json::Value>().await.is_ok(),
        "an injected error is still JSON"
    );

    h.sim.set_fault(
        Service::Users,
        Fault {
            error_rate: 1.0,
            ..Fault::default()
        },
    );
    assert_eq!(h.send(&h.http).await.expect("answer").status(), 500, "0 means 500");

    h.sim.set_fault(
        Service::Users,
        Fault {
            error_rate: 0.5,
            error_status: 502,
            ..Fault::default()
        },
    );
    let mut errors = 0;
    for _ in 0..200 {
        errors += u32::from(h.send(&h.http).await.expect("answer").status() == 502);
    }
    assert!((50..=150).contains(&errors), "{errors} of 200");
    assert_eq!(h.sim.count(Service::Users), 202, "faulted requests are counted");
}

#[tokio::test]
async fn a_malformed_answer_is_200_json_that_does_not_parse() {
    let h = start().await;
    h.sim.set_fault(
        Service::Catalog,
        Fault {
            malformed: true,
            ..Fault::default()
        },
    );
    let response = h
        .http
        .get(h.url(Service::Catalog, "/products/p-1"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.expect("body");
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn a_hanging_service_holds_the_request_until_the_client_gives_up() {
    let h = start().await;
    h.sim.set_fault(
        Service::Users,
        Fault {
            hang: true,
            ..Fault::default()
        },
    );
    let impatient = super::client()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let started = Instant::now();
    let error = h.send(&impatient).await.expect_err("no answer");
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(h.sim.count(Service::Users), 1);
    assert_eq!(h.sim.requests(Service::Users)[0].answered_at_ms, None);

    h.sim.clear_faults();
    assert_eq!(h.send(&impatient).await.expect("answer").status(), 200);
}

#[tokio::test]
async fn a_reset_fault_breaks_the_connection_without_any_answer() {
    let h = start().await;
    // Warm a keep-alive connection, then reset both it and a fresh one.
    assert_eq!(h.send(&h.http).await.expect("answer").status(), 200);
    h.sim.set_fault(
        Service::Users,
        Fault {
            reset: true,
            ..Fault::default()
        },
    );
    let started = Instant::now();
    let error = assert_connection_error(h.send(&h.http).await, "kept-alive connection");
    assert_reset_by_peer(&error, "kept-alive connection");
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "reset at once: {:?}",
        started.elapsed()
    );
    let fresh = super::client().build().expect("client");
    let error = assert_connection_error(h.send(&fresh).await, "new connection");
    assert_reset_by_peer(&error, "new connection");
    assert_eq!(h.sim.count(Service::Users), 3, "reset requests are counted");
    assert!(
        h.sim.requests(Service::Users)[1..]
            .iter()
            .all(|r| r.answered_at_ms.is_none())
    );

    h.sim.clear_faults();
    assert_eq!(h.send(&h.http).await.expect("answer").status(), 200);
}

#[tokio::test]
async fn a_down_service_refuses_connections_resets_kept_alive_ones_and_comes_back_on_the_same_port() {
    let h = start().await;
    let url = h.sim.url(Service::Users);
    assert_eq!(h.send(&h.http).await.expect("answer").status(), 200);

    h.sim.set_fault(
        Service::Users,
        Fault {
            down: true,
            ..Fault::default()
        },
    );
    let error = assert_connection_error(h.send(&h.http).await, "kept-alive connection");
    assert_reset_by_peer(&error, "kept-alive connection");
    assert_eq!(
        h.sim.count(Service::Users),
        2,
        "the request on the kept-alive connection is counted"
    );
    let fresh = super::client().build().expect("client");
    let refused = assert_connection_error(h.send(&fresh).await, "new connection");
    assert!(refused.is_connect(), "refused: {refused:?}");
    assert_eq!(h.sim.count(Service::Users), 2, "a refused connection sends nothing");

    h.sim.clear_faults();
    assert_eq!(h.sim.url(Service::Users), url);
    assert_eq!(h.send(&fresh).await.expect("answer").status(), 200);
    assert_eq!(h.send(&h.http).await.expect("answer").status(), 200);
}

#[tokio::test]
async fn faults_in_the_configuration_apply_from_the_start_and_other_services_stay_healthy() {
    let mut config = SimulatorConfig::ephemeral();
    config.faults = vec![
        (
            Service::Users,
            Fault {
                down: true,
                ..Fault::default()
            },
        ),
        (Service::Pricing, Fault::always(429)),
    ];
    let h = start_with(config).await;
    assert_connection_error(h.send(&h.http).await, "down from the start");
    let price = h
        .http
        .get(h.url(Service::Pricing, "/prices?product_ids=p-1"))
        .send()
        .await
        .expect("answer");
    assert_eq!(price.status(), 429);
    assert_eq!(h.ok(Service::Catalog, "/products/p-1").await["id"], "p-1");
    h.sim.clear_faults();
    assert_eq!(h.send(&h.http).await.expect("answer").status(), 200);
}

/// What a raw client read from one request: the head, the body bytes that
/// arrived, and how the connection ended.
struct RawAnswer {
    head: String,
    body: Vec<u8>,
    /// The read error that ended it, if not a clean end of stream.
    error: Option<std::io::ErrorKind>,
    /// False when the reader gave up waiting (the body stalled).
    ended: bool,
}

impl RawAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends one GET on a fresh socket and reads until the connection ends or
/// `patience` passes without a byte.
async fn raw_get(h: &Harness, service: Service, path: &str, patience: Duration) -> RawAnswer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = h.sim.url(service).trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.expect("send");
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let (error, ended) = loop {
        match tokio::time::timeout(patience, socket.read(&mut buf)).await {
            Err(_) => break (None, false),
            Ok(Ok(0)) => break (None, true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => break (Some(e.kind()), true),
        }
    };
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head arrived");
    RawAnswer {
        head: String::from_utf8_lossy(&received[..split]).into_owned(),
        body: received[split + 4..].to_vec(),
        error,
        ended,
    }
}

/// The healthy answer's body, for comparison.
async fn healthy_body(h: &Harness, service: Service, path: &str) -> Vec<u8> {
    let response = h.http.get(h.url(service, path)).send().await.expect("answer");
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body").to_vec()
}

#[tokio::test]
async fn a_truncated_body_announces_its_full_length_sends_half_then_resets() {
    let h = start().await;
    let full = healthy_body(&h, Service::Users, PATH).await;
    h.sim.set_fault(
        Service::Users,
        Fault {
            truncate: true,
            ..Fault::default()
        },
    );
    let raw = raw_get(&h, Service::Users, PATH, Duration::from_secs(2)).await;
    assert!(raw.head.starts_with("HTTP/1.1 200"), "{}", raw.head);
    assert_eq!(raw.header("content-length"), Some(full.len().to_string().as_str()));
    assert_eq!(raw.header("content-type"), Some("application/json"));
    assert!(raw.ended, "the connection ends, it does not stall");
    assert_eq!(raw.body, full[..full.len() / 2], "exactly the first half arrives");
    assert_eq!(raw.error, Some(std::io::ErrorKind::ConnectionReset), "then a reset");

    // What an HTTP client such as the BFF's sees: a 200 whose body fails.
    let response = h.send(&h.http).await.expect("status and headers arrive");
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(full.len() as u64));
    assert!(response.bytes().await.is_err(), "the body read fails");

    h.sim.clear_faults();
    assert_eq!(healthy_body(&h, Service::Users, PATH).await, full);
}

#[tokio::test]
async fn a_truncated_chunked_body_never_sends_its_last_chunk() {
    let h = start().await;
    let full = healthy_body(&h, Service::Catalog, "/products/p-1").await;
    h.sim.set_fault(
        Service::Catalog,
        Fault {
            truncate: true,
            chunked: true,
            ..Fault::default()
        },
    );
    let raw = raw_get(&h, Service::Catalog, "/products/p-1", Duration::from_secs(2)).await;
    assert!(raw.head.starts_with("HTTP/1.1 200"), "{}", raw.head);
    assert_eq!(raw.header("transfer-encoding"), Some("chunked"));
    assert_eq!(raw.header("content-length"), None);
    assert!(raw.ended);
    assert!(!raw.body.ends_with(b"0\r\n\r\n"), "no terminating chunk");
    let half = &full[..full.len() / 2];
    let prefix = format!("{:X}\r\n", half.len());
    assert!(
        raw.body.to_ascii_uppercase().starts_with(prefix.as_bytes()),
        "one chunk of half the body: {}",
        String::from_utf8_lossy(&raw.body)
    );
    assert_eq!(&raw.body[prefix.len()..prefix.len() + half.len()], half);
    assert!(
        h.http
            .get(h.url(Service::Catalog, "/products/p-1"))
            .send()
            .await
            .expect("head")
            .bytes()
            .await
            .is_err(),
        "an HTTP client's body read fails"
    );
}

#[tokio::test]
async fn a_stalled_body_sends_half_then_holds_until_the_client_gives_up() {
    let h = start().await;
    let full = healthy_body(&h, Service::Users, PATH).await;
    for chunked in [false, true] {
        h.sim.set_fault(
            Service::Users,
            Fault {
                stall_body: true,
                chunked,
                ..Fault::default()
            },
        );
        let raw = raw_get(&h, Service::Users, PATH, Duration::from_millis(300)).await;
        assert!(raw.head.starts_with("HTTP/1.1 200"), "{}", raw.head);
        assert!(
            !raw.ended,
            "chunked {chunked}: the body stalls, the connection stays open"
        );
        if chunked {
            assert_eq!(raw.header("transfer-encoding"), Some("chunked"));
        } else {
            assert_eq!(raw.header("content-length"), Some(full.len().to_string().as_str()));
            assert_eq!(raw.body, full[..full.len() / 2]);
        }

        let impatient = super::client()
            .timeout(Duration::from_millis(300))
            .build()
            .expect("client");
        let response = h.send(&impatient).await.expect("status and headers arrive");
        assert_eq!(response.status(), 200);
        let error = response.bytes().await.expect_err("the body never completes");
        assert!(error.is_timeout(), "{error:?}");
    }
    h.sim.clear_faults();
    assert_eq!(healthy_body(&h, Service::Users, PATH).await, full);
}

#[tokio::test]
async fn a_chunked_answer_alone_is_whole_and_valid() {
    let h = start().await;
    let full = healthy_body(&h, Service::Users, PATH).await;
    h.sim.set_fault(
        Service::Users,
        Fault {
            chunked: true,
            ..Fault::default()
        },
    );
    let raw = raw_get(&h, Service::Users, PATH, Duration::from_secs(2)).await;
    assert_eq!(raw.header("transfer-encoding"), Some("chunked"));
    assert!(raw.body.ends_with(b"0\r\n\r\n"), "terminated");
    assert_eq!(healthy_body(&h, Service::Users, PATH).await, full);
}

#[tokio::test]
async fn a_fault_rate_faults_that_share_of_requests_and_spares_the_rest() {
    let h = start().await;
    h.sim.set_fault(
        Service::Users,
        Fault {
            error_rate: 1.0,
            error_status: 503,
            fault_rate: 0.5,
            ..Fault::default()
        },
    );
    let mut faulted = 0;
    for _ in 0..200 {
        let status = h.send(&h.http).await.expect("answer").status();
        assert!(status == 200 || status == 503, "{status}");
        faulted += u32::from(status == 503);
    }
    assert!((50..=150).contains(&faulted), "{faulted} of 200");

    h.sim.set_fault(
        Service::Users,
        Fault {
            hang: true,
            fault_rate: 0.0,
            ..Fault::default()
        },
    );
    for _ in 0..20 {
        assert_eq!(
            h.send(&h.http).await.expect("answer").status(),
            200,
            "rate 0 spares all"
        );
    }
}
