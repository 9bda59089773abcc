//! The connection edge (docs/architecture.md#serving), driven the way slow or
//! hostile clients drive it: raw TCP sockets that send half a head, trickle
//! bytes, sit idle or hold connections open. Also the security headers and
//! graceful shutdown. Every wait is bounded; the only timings asserted are
//! the contract's own, with generous margins.

use std::time::Duration;

use bff_stack::simulator::{Fault, Service};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::support::{Bff, Stack, spawn, spawn_with, token};

/// Slack on top of a contract's timeout before a test calls it broken.
const MARGIN: Duration = Duration::from_secs(3);

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: bff\r\n\r\n";

async fn connect(stack: &Stack) -> TcpStream {
    let stream = TcpStream::connect(stack.bff.addr).await.expect("connects");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// One HTTP/1.1 answer read off a raw socket.
struct RawAnswer {
    status: u16,
    head: String,
    body: String,
}

impl RawAnswer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Reads one answer with a `Content-Length` body, or `None` if nothing
/// (or not a whole answer) came within `within`.
async fn read_answer(stream: &mut TcpStream, within: Duration) -> Option<RawAnswer> {
    let until = Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let status = head.split_whitespace().nth(1)?.parse().ok()?;
            let mut answer = RawAnswer {
                status,
                head,
                body: String::new(),
            };
            let length: usize = answer
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = timeout(until.saturating_duration_since(Instant::now()), stream.read(&mut chunk))
                    .await
                    .ok()?
                    .ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            answer.body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
            return Some(answer);
        }
        let n = timeout(until.saturating_duration_since(Instant::now()), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends `request` and reads its answer.
async fn exchange(stream: &mut TcpStream, request: &str) -> RawAnswer {
    stream.write_all(request.as_bytes()).await.expect("request sent");
    read_answer(stream, MARGIN).await.expect("an answer")
}

/// Waits up to `within` for the server to close `stream`; returns whether
/// it did and whatever it sent first.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> (bool, Vec<u8>) {
    let until = Instant::now() + within;
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match timeout(until.saturating_duration_since(Instant::now()), stream.read(&mut chunk)).await {
            Err(_) => return (false, received),
            Ok(Ok(0)) | Ok(Err(_)) => return (true, received),
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn half_a_request_head_is_closed_after_the_header_timeout_and_not_served() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_HEADER_TIMEOUT_MS", "300")]).await;
    let mut stream = connect(&stack).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: bff\r\n")
        .await
        .expect("half a head sent");
    let (closed, received) = closed_within(&mut stream, Duration::from_millis(300) + MARGIN).await;
    assert!(closed, "the connection is still open");
    assert!(received.is_empty(), "answered: {}", String::from_utf8_lossy(&received));
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_HEADER_TIMEOUT_MS", "300")]).await;
    let mut stream = connect(&stack).await;
    let (closed, _) = closed_within(&mut stream, Duration::from_millis(300) + MARGIN).await;
    assert!(closed, "a silent connection is still open");
}

#[tokio::test]
async fn a_head_trickled_byte_by_byte_within_the_header_timeout_is_served() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_HEADER_TIMEOUT_MS", "3000")]).await;
    let mut stream = connect(&stack).await;
    // 35 bytes, 10 ms apart: well inside the header timeout, but every
    // byte in its own segment.
    for byte in HEALTHZ.as_bytes() {
        stream.write_all(&[*byte]).await.expect("byte sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = read_answer(&mut stream, MARGIN).await.expect("an answer");
    assert_eq!(answer.status, 200, "{}", answer.head);
}

#[tokio::test]
async fn a_keep_alive_connection_idle_past_the_idle_timeout_is_closed() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_HEADER_TIMEOUT_MS", "300"), ("BFF_IDLE_TIMEOUT_MS", "1000")],
    )
    .await;
    let mut stream = connect(&stack).await;
    assert_eq!(exchange(&mut stream, HEALTHZ).await.status, 200);
    let (closed, received) = closed_within(&mut stream, Duration::from_millis(1000) + MARGIN).await;
    assert!(closed, "the idle connection is still open");
    assert!(
        received.is_empty(),
        "sent after idling: {}",
        String::from_utf8_lossy(&received)
    );
}

#[tokio::test]
async fn a_keep_alive_connection_idle_longer_than_the_header_timeout_is_still_usable() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_HEADER_TIMEOUT_MS", "300"), ("BFF_IDLE_TIMEOUT_MS", "5000")],
    )
    .await;
    let mut stream = connect(&stack).await;
    assert_eq!(exchange(&mut stream, HEALTHZ).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(exchange(&mut stream, HEALTHZ).await.status, 200);
}

/// An HTTP/2 frame: 24-bit length, type, flags, stream id, payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    frame.extend_from_slice(&[kind, flags]);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

const H2_DATA: u8 = 0;
const H2_SETTINGS: u8 = 4;
const H2_PING: u8 = 6;
const H2_GOAWAY: u8 = 7;
const H2_END_STREAM: u8 = 1;
const H2_ACK: u8 = 1;

/// Reads HTTP/2 frames, acknowledging pings (the server's graceful close
/// waits for one), until `until` says stop (`Some(true)`) or the server closes the
/// connection (`Some(false)`); `None` when `within` passes first.
async fn h2_frames_until(
    stream: &mut TcpStream,
    within: Duration,
    mut until: impl FnMut(u8, u8, u32) -> bool,
) -> Option<bool> {
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while buf.len() >= 9 {
            let length = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
            if buf.len() < 9 + length {
                break;
            }
            let (kind, flags) = (buf[3], buf[4]);
            let id = u32::from_be_bytes([buf[5] & 0x7f, buf[6], buf[7], buf[8]]);
            let payload = buf[9..9 + length].to_vec();
            buf.drain(..9 + length);
            if kind == H2_PING && flags & H2_ACK == 0 {
                let _ = stream.write_all(&h2_frame(H2_PING, H2_ACK, 0, &payload)).await;
            }
            if until(kind, flags, id) {
                return Some(true);
            }
        }
        match timeout(
            deadline.saturating_duration_since(Instant::now()),
            stream.read(&mut chunk),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(false),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn an_http2_connection_idle_past_the_idle_timeout_is_sent_goaway_and_closed() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_HEADER_TIMEOUT_MS", "300"), ("BFF_IDLE_TIMEOUT_MS", "1000")],
    )
    .await;
    let mut stream = connect(&stack).await;
    // Prior knowledge (h2c): the preface, empty settings, then
    // `GET /healthz` in HPACK (indexed `:method GET`, `:scheme http`,
    // literal `:path` and `:authority`). Nothing is sent after the request
    // (not even a settings acknowledgement) until the server speaks: the
    // idle timer must start when the answer ends, not on the client's
    // next byte.
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend(h2_frame(H2_SETTINGS, 0, 0, &[]));
    let mut headers = vec![0x82, 0x86, 0x44, 8];
    headers.extend_from_slice(b"/healthz");
    headers.extend_from_slice(&[0x41, 3]);
    headers.extend_from_slice(b"bff");
    hello.extend(h2_frame(1, 0x4 | H2_END_STREAM, 1, &headers));
    stream.write_all(&hello).await.expect("request sent");
    let answered = h2_frames_until(&mut stream, MARGIN, |kind, flags, id| {
        id == 1 && kind == H2_DATA && flags & H2_END_STREAM != 0
    })
    .await;
    assert_eq!(answered, Some(true), "no complete answer on stream 1");
    // Pings and window updates are not requests: idling goes on, past the
    // header timeout, until the idle timeout.
    let mut goaway = false;
    let closed = h2_frames_until(&mut stream, Duration::from_millis(1000) + MARGIN, |kind, _, _| {
        goaway |= kind == H2_GOAWAY;
        false
    })
    .await;
    assert_eq!(closed, Some(false), "the idle HTTP/2 connection is still open");
    assert!(goaway, "closed without GOAWAY");
}

#[tokio::test]
async fn a_second_head_that_does_not_complete_within_the_header_timeout_is_closed() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_HEADER_TIMEOUT_MS", "300"), ("BFF_IDLE_TIMEOUT_MS", "30000")],
    )
    .await;
    let mut stream = connect(&stack).await;
    assert_eq!(exchange(&mut stream, HEALTHZ).await.status, 200);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .expect("half a head sent");
    // Well before the idle timeout: it is the header timeout that closes it.
    let (closed, received) = closed_within(&mut stream, Duration::from_millis(300) + MARGIN).await;
    assert!(closed, "the connection is still open");
    assert!(received.is_empty(), "answered: {}", String::from_utf8_lossy(&received));
}

#[tokio::test]
async fn a_checkout_body_still_arriving_at_the_deadline_is_408_and_the_connection_closed() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_DEADLINE_MS", "300")]).await;
    let mut stream = connect(&stack).await;
    let head = format!(
        "POST /v1/checkout HTTP/1.1\r\nHost: bff\r\nAuthorization: Bearer {}\r\nIdempotency-Key: slow-body-1\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n",
        token("u-1")
    );
    stream.write_all(head.as_bytes()).await.expect("head sent");
    stream
        .write_all(br#"{"lines":[{"product_"#)
        .await
        .expect("20 bytes of the body sent");
    let answer = read_answer(&mut stream, Duration::from_millis(300) + MARGIN)
        .await
        .expect("an answer");
    assert_eq!(answer.status, 408, "{}", answer.head);
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(answer.header("connection").as_deref(), Some("close"));
    assert_eq!(answer.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(answer.json()["code"], "request_timeout");
    assert_eq!(answer.json()["status"], 408);
    let (closed, _) = closed_within(&mut stream, MARGIN).await;
    assert!(closed, "the connection is still open after the 408");
    for service in Service::ALL {
        assert_eq!(stack.sim.count(service), 0, "{} was called", service.name());
    }
}

#[tokio::test]
async fn connections_over_the_cap_are_served_only_once_one_closes() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_MAX_CONNECTIONS", "2")]).await;
    let mut first = connect(&stack).await;
    let mut second = connect(&stack).await;
    assert_eq!(exchange(&mut first, HEALTHZ).await.status, 200);
    assert_eq!(exchange(&mut second, HEALTHZ).await.status, 200);
    // The third connection sits in the listen backlog: it connects, but
    // its request is not read.
    let mut third = connect(&stack).await;
    third.write_all(HEALTHZ.as_bytes()).await.expect("request sent");
    assert!(
        read_answer(&mut third, Duration::from_millis(700)).await.is_none(),
        "a third connection was served while two were open"
    );
    drop(first);
    let answer = read_answer(&mut third, MARGIN)
        .await
        .expect("served once a slot is free");
    assert_eq!(answer.status, 200);
    // The second is still served as before.
    assert_eq!(exchange(&mut second, HEALTHZ).await.status, 200);
}

#[tokio::test]
async fn every_response_carries_nosniff() {
    let stack = spawn(Bff::Mobile).await;
    let u1 = token("u-1");
    let cases: Vec<(&str, reqwest::Method, &str, Option<&str>, u16)> = vec![
        ("a composite", reqwest::Method::GET, "/v1/home", Some(&u1), 200),
        ("an unknown route", reqwest::Method::GET, "/v1/nowhere", None, 404),
        ("a wrong method", reqwest::Method::DELETE, "/v1/home", Some(&u1), 405),
        ("a missing token", reqwest::Method::GET, "/v1/home", None, 401),
        ("metrics", reqwest::Method::GET, "/metrics", None, 200),
        ("the docs page", reqwest::Method::GET, "/docs", None, 200),
        ("a docs asset", reqwest::Method::GET, "/docs/swagger-ui.css", None, 200),
        ("the document", reqwest::Method::GET, "/openapi.json", None, 200),
    ];
    for (what, method, path, bearer, status) in cases {
        let mut request = stack.http.request(method, stack.url(path));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.expect("answered");
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_eq!(
            response
                .headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn every_problem_is_marked_no_store() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_RATE_LIMIT_BURST", "1"), ("BFF_RATE_LIMIT_RPS", "1")],
    )
    .await;
    let u1 = token("u-1");
    let unauthorized = stack.get("/v1/home", None, &[]).await;
    unauthorized.assert_problem(401, "unauthorized");
    let not_found = stack.get("/v1/nowhere", None, &[]).await;
    not_found.assert_problem(404, "not_found");
    let malformed = stack.get("/v1/orders/-bad", Some(&u1), &[]).await;
    malformed.assert_problem(400, "invalid_request");
    // u-1's single token went to the 400 above: this one is refused.
    let limited = stack.get("/v1/home", Some(&u1), &[]).await;
    limited.assert_problem(429, "rate_limited");
    for answer in [unauthorized, not_found, malformed, limited] {
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{}", answer.text);
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    }
}

#[tokio::test]
async fn the_docs_page_and_its_assets_forbid_framing_and_load_only_from_this_origin() {
    let stack = spawn(Bff::Web).await;
    for path in [
        "/docs",
        "/docs/",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let answer = stack.get(path, None, &[]).await;
        assert_eq!(answer.status, 200, "{path}");
        let policy = answer
            .header("content-security-policy")
            .unwrap_or_else(|| panic!("{path} has no Content-Security-Policy"));
        let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
        assert!(directives.contains(&"frame-ancestors 'none'"), "{path}: {policy}");
        for directive in &directives {
            for source in directive.split_whitespace().skip(1) {
                assert!(
                    ["'self'", "'none'", "'unsafe-inline'", "data:"].contains(&source),
                    "{path}: {directive} allows {source}"
                );
            }
        }
        assert!(
            directives.iter().any(|d| d.starts_with("default-src")),
            "{path}: no default-src in {policy}"
        );
    }
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_closes_idle_and_half_sent_connections() {
    let stack = spawn(Bff::Mobile).await;
    stack.sim.set_fault(
        Service::Users,
        Fault {
            latency_ms: 300,
            ..Fault::default()
        },
    );
    let mut idle = connect(&stack).await;
    assert_eq!(exchange(&mut idle, HEALTHZ).await.status, 200);
    let mut half_sent = connect(&stack).await;
    half_sent
        .write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .expect("half a head sent");
    let mut in_flight = connect(&stack).await;
    let home = format!(
        "GET /v1/home HTTP/1.1\r\nHost: bff\r\nAuthorization: Bearer {}\r\n\r\n",
        token("u-1")
    );
    in_flight.write_all(home.as_bytes()).await.expect("request sent");
    tokio::time::sleep(Duration::from_millis(100)).await;

    let addr = stack.bff.addr;
    let Stack { bff, sim, .. } = stack;
    // The header timeout (10 s by default) is not waited for.
    timeout(MARGIN, bff.shutdown()).await.expect("shutdown is prompt");

    let answer = read_answer(&mut in_flight, MARGIN)
        .await
        .expect("the in-flight request is answered");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["meta"]["partial"], false);
    assert!(
        closed_within(&mut idle, MARGIN).await.0,
        "the idle connection is still open"
    );
    assert!(
        closed_within(&mut half_sent, MARGIN).await.0,
        "the half-sent connection is still open"
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
    drop(sim);
}
