//! The drain delay on the real binary (docs/operations.md#graceful-shutdown):
//! after SIGTERM with `BFF_DRAIN_DELAY_MS`, `/readyz` answers 503 at once
//! while `/healthz` and the API are still served; then the listener closes,
//! the request in flight finishes, and the process exits 0. A second
//! SIGTERM cuts the delay short. Every wait is bounded; the only timing
//! asserted is the contract's lower bound (serving lasts the whole delay).

#[path = "../../tests/common/binary.rs"]
mod binary;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

use bff_shared::auth::mint_hs256;
use bff_shared::backends::UPSTREAMS;
use binary::{command, free_port, wait_healthy};

const BIN: &str = env!("CARGO_BIN_EXE_bff-mobile");
const SECRET: &str = "drain-test-secret-with-enough-length-0123456789";

/// Slack on top of a contract's time before a test calls it broken.
const MARGIN: Duration = Duration::from_secs(10);

/// A loopback notifications service that answers each request, an empty
/// list, after `latency`.
fn slow_notifications(latency: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                std::thread::sleep(latency);
                let body = r#"{"unread_count":0,"items":[]}"#;
                let _ = write!(
                    reader.get_mut(),
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

/// The binary's variables: every upstream on a closed port but
/// notifications, at `notifications`.
fn vars(listen: &str, delay_ms: &str, notifications: &str, closed: &str) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = UPSTREAMS
        .iter()
        .map(|(name, _)| {
            let url = if *name == "notifications" {
                notifications
            } else {
                closed
            };
            (
                format!("BFF_UPSTREAM_{}_URL", name.to_ascii_uppercase()),
                url.to_owned(),
            )
        })
        .collect();
    for (k, v) in [
        ("BFF_JWT_HS256_SECRET", SECRET),
        ("BFF_LISTEN", listen),
        ("BFF_DRAIN_DELAY_MS", delay_ms),
        ("BFF_DEADLINE_MS", "5000"),
        ("BFF_LOG_FORMAT", "json"),
    ] {
        vars.push((k.to_owned(), v.to_owned()));
    }
    vars
}

fn start(vars: &[(String, String)], port: u16) -> Child {
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut child = command(BIN, &refs).spawn().expect("binary starts");
    wait_healthy(port, &mut child);
    child
}

fn sigterm(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `GET target` with `Connection: close`: the status and body.
fn get(port: u16, target: &str, headers: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(MARGIN))?;
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: bff\r\nConnection: close\r\n{headers}\r\n"
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Polls `/readyz` until it answers 503 draining, within a second.
fn wait_draining(port: u16) {
    let started = Instant::now();
    loop {
        let (status, body) = get(port, "/readyz", "").expect("still accepting");
        if status == 503 {
            assert_eq!(body, r#"{"status":"draining"}"#);
            return;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "/readyz still ready after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for `child` to exit, at most `within`; its exit code.
fn exit_code(child: &mut Child, within: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if started.elapsed() > within {
            let _ = child.kill();
            panic!("did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn after_sigterm_readyz_is_503_at_once_the_rest_is_served_for_the_delay_and_it_exits_zero() {
    let delay = Duration::from_millis(1500);
    let port = free_port();
    let closed = format!("http://127.0.0.1:{}", free_port());
    // Slower than the delay: still in flight when the listener closes.
    let notifications = slow_notifications(Duration::from_millis(2000));
    let mut child = start(
        &vars(&format!("127.0.0.1:{port}"), "1500", &notifications, &closed),
        port,
    );
    let token = mint_hs256(SECRET, "u-1", Duration::from_secs(600)).unwrap();

    let began = Instant::now();
    sigterm(&child);
    wait_draining(port);
    let in_flight = std::thread::spawn(move || get(port, "/v1/home", &format!("Authorization: Bearer {token}\r\n")));
    assert_eq!(get(port, "/healthz", "").expect("still accepting").0, 200);
    assert_eq!(get(port, "/metrics", "").expect("still accepting").0, 200);

    let (status, body) = in_flight.join().unwrap().expect("the in-flight request is answered");
    assert_eq!(status, 200, "{body}");
    // The section of the slow upstream came through: not cut off by the drain.
    assert!(body.contains(r#""unread_notifications":0"#), "{body}");
    assert_eq!(exit_code(&mut child, MARGIN), Some(0));
    assert!(began.elapsed() >= delay, "exited after {:?}", began.elapsed());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after exit"
    );
}

#[test]
fn a_second_sigterm_cuts_a_long_drain_delay_short() {
    let port = free_port();
    let closed = format!("http://127.0.0.1:{}", free_port());
    let notifications = slow_notifications(Duration::ZERO);
    let mut child = start(
        &vars(&format!("127.0.0.1:{port}"), "60000", &notifications, &closed),
        port,
    );
    sigterm(&child);
    wait_draining(port);
    sigterm(&child);
    assert_eq!(
        exit_code(&mut child, MARGIN),
        Some(0),
        "exits well before the 60 s delay"
    );
}

#[test]
fn a_drain_delay_that_is_not_a_number_of_milliseconds_stops_start_up_naming_it() {
    for value in ["soon", "-1", "3600001"] {
        let (code, stderr) =
            binary::run_to_exit(BIN, &[("BFF_JWT_HS256_SECRET", SECRET), ("BFF_DRAIN_DELAY_MS", value)]);
        assert_eq!(code, Some(2), "{value}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{value}: {stderr}");
        assert!(stderr.contains("BFF_DRAIN_DELAY_MS"), "{value}: {stderr}");
    }
}
