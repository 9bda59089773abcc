//! The drain delay (`BFF_DRAIN_DELAY_MS`, docs/operations.md#graceful-shutdown):
//! on shutdown `/readyz` answers 503 at once while every other route, kept
//! connections and new ones are still served; after the delay the listener
//! closes, in-flight requests finish and idle connections close. Every wait
//! is bounded; the only timing asserted is the contract's own lower bound
//! (the port stays open for the whole delay).

use std::net::SocketAddr;
use std::time::Duration;

use bff_stack::simulator::{Fault, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use crate::raw;
use crate::support::{Bff, Stack, spawn_with, token};

/// Slack on top of a contract's time before a test calls it broken.
const MARGIN: Duration = Duration::from_secs(5);

/// `GET target` on a kept-alive connection: the status and whether the
/// server announced it would close the connection.
async fn keep_alive_get(stream: &mut TcpStream, target: &str) -> (u16, bool) {
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: bff\r\nAuthorization: Bearer {}\r\n\r\n",
        token("u-1")
    );
    stream.write_all(request.as_bytes()).await.expect("request sent");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    timeout(MARGIN, async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("a content-length");
                if buf.len() >= end + 4 + length {
                    let status = head
                        .split_whitespace()
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .expect("status");
                    return (status, head.contains("connection: close"));
                }
            }
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed before a whole answer: {}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("an answer in time")
}

/// Polls `/readyz` on fresh connections until it answers 503 draining.
async fn readyz_turns_draining(addr: SocketAddr) {
    timeout(Duration::from_secs(1), async {
        loop {
            let answer = raw::get(addr, "/readyz", &[]).await;
            if answer.status == 503 {
                assert_eq!(answer.text(), r#"{"status":"draining"}"#);
                return;
            }
            assert_eq!(answer.status, 200, "{}", answer.text());
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("/readyz answers 503 at once");
}

/// Waits until connecting to `addr` is refused; `None` if it never is
/// within `within`.
async fn refused_within(addr: SocketAddr, within: Duration) -> Option<Instant> {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if TcpStream::connect(addr).await.is_err() {
            return Some(Instant::now());
        }
        sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Whether the server closes `stream` within `within` (after sending nothing).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    matches!(timeout(within, stream.read(&mut chunk)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn during_the_drain_delay_readyz_is_503_while_everything_else_is_served_then_the_port_closes() {
    let delay = Duration::from_millis(1500);
    let mut stack = spawn_with(Bff::Mobile, &[("BFF_DRAIN_DELAY_MS", "1500")]).await;
    let addr = stack.bff.addr;
    let mut kept = TcpStream::connect(addr).await.expect("connects");
    assert_eq!(keep_alive_get(&mut kept, "/healthz").await, (200, false));

    let began = Instant::now();
    stack.bff.start_draining();
    readyz_turns_draining(addr).await;
    assert!(stack.bff.platform.readiness.is_draining());

    // A connection kept from before, served as before (not told to close).
    for target in ["/v1/home", "/healthz", "/metrics", "/status.json"] {
        assert_eq!(keep_alive_get(&mut kept, target).await, (200, false), "{target}");
    }
    // A fresh connection is still accepted, and an API call on it answered.
    let answer = raw::get(
        addr,
        "/v1/home",
        &[("Authorization", &format!("Bearer {}", token("u-1")))],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let answer = stack.get("/healthz", None, &[]).await;
    assert_eq!(answer.status, 200);
    assert!(!stack.bff.is_finished(), "serving ended during the delay");

    let refused = refused_within(addr, delay + MARGIN)
        .await
        .expect("the port closes after the delay");
    assert!(refused - began >= delay, "refused after {:?}", refused - began);
    assert!(
        closed_within(&mut kept, MARGIN).await,
        "the idle kept connection is still open"
    );
    let Stack { bff, sim, .. } = stack;
    timeout(MARGIN, bff.shutdown()).await.expect("the drain ends");
    drop(sim);
}

#[tokio::test]
async fn a_second_signal_cuts_the_drain_delay_short_and_the_request_in_flight_still_completes() {
    let mut stack = spawn_with(Bff::Mobile, &[("BFF_DRAIN_DELAY_MS", "60000")]).await;
    stack.sim.set_fault(
        Service::Users,
        Fault {
            latency_ms: 300,
            ..Fault::default()
        },
    );
    let addr = stack.bff.addr;
    stack.bff.start_draining();
    readyz_turns_draining(addr).await;

    // Sent during the delay; its upstream answers after the delay is over.
    let mut in_flight = TcpStream::connect(addr).await.expect("accepted during the delay");
    let slow = tokio::spawn(async move {
        let answer = keep_alive_get(&mut in_flight, "/v1/home").await;
        (answer, closed_within(&mut in_flight, MARGIN).await)
    });
    sleep(Duration::from_millis(100)).await;
    stack.bff.cut_drain_short();
    refused_within(addr, MARGIN)
        .await
        .expect("the port closes well before 60 s");

    let ((status, closing), closed) = timeout(MARGIN, slow).await.expect("answered").expect("no panic");
    assert_eq!(status, 200);
    assert!(closing, "the answer after the delay does not announce the close");
    assert!(closed, "the connection stays open after its last answer");
    let Stack { bff, sim, .. } = stack;
    timeout(MARGIN, bff.shutdown()).await.expect("the drain ends");
    drop(sim);
}

#[tokio::test]
async fn an_http2_connection_is_served_through_the_drain_delay_and_closed_after_it() {
    let mut stack = spawn_with(Bff::Mobile, &[("BFF_DRAIN_DELAY_MS", "1000")]).await;
    let addr = stack.bff.addr;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let url = |path: &str| format!("http://{addr}{path}");
    let answer = h2.get(url("/healthz")).send().await.expect("served");
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);

    stack.bff.start_draining();
    readyz_turns_draining(addr).await;
    let home = h2
        .get(url("/v1/home"))
        .bearer_auth(token("u-1"))
        .send()
        .await
        .expect("served during the delay");
    assert_eq!(
        (home.status().as_u16(), home.version()),
        (200, reqwest::Version::HTTP_2)
    );
    let readyz = h2.get(url("/readyz")).send().await.expect("served during the delay");
    assert_eq!(readyz.status(), 503);

    // The client keeps its connection open and idle: the drain must not
    // wait for it (the server sends GOAWAY and closes).
    let Stack { bff, sim, .. } = stack;
    timeout(Duration::from_millis(1000) + MARGIN, bff.shutdown())
        .await
        .expect("the drain ends with an HTTP/2 connection still open");
    assert!(h2.get(url("/healthz")).send().await.is_err(), "served after the drain");
    drop(sim);
}
