//! The access log of the real bff-mobile binary (docs/operations.md#access-log):
//! with `BFF_LOG_FORMAT=json`, one JSON line per request on stdout with the
//! documented fields, and never a token, query string or header value.
//! Its upstreams are a small HTTP server on loopback in this test.

#[path = "../../tests/common/binary.rs"]
mod binary;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use binary::{assert_sigterm_exits_zero, command, free_port, wait_healthy};

const BIN: &str = env!("CARGO_BIN_EXE_bff-mobile");
const SECRET: &str = "access-log-test-secret-with-enough-length-0123";
const QUERY_SECRET: &str = "query-value-7f3a9c";
const HEADER_SECRET: &str = "header-value-51be02";

/// What the fake catalog, pricing and inventory answer: product `p-2`'s
/// price fails, so its page is partial.
fn answer(path: &str) -> (u16, String) {
    let id = if path.contains("p-2") { "p-2" } else { "p-1" };
    if path.starts_with("/products/") {
        let body = format!(
            r#"{{"id":"{id}","name":"Lamp","description":"A lamp","category":"home","image_urls":[],"attributes":{{}},"related_ids":[]}}"#
        );
        (200, body)
    } else if path.starts_with("/prices") {
        if id == "p-2" {
            (503, "{}".to_owned())
        } else {
            (
                200,
                format!(
                    r#"{{"items":[{{"product_id":"{id}","currency":"EUR","amount_cents":1999,"discount_pct":0}}]}}"#
                ),
            )
        }
    } else if path.starts_with("/stock") {
        (
            200,
            format!(r#"{{"items":[{{"product_id":"{id}","available":3,"warehouses":[]}}]}}"#),
        )
    } else {
        (404, "{}".to_owned())
    }
}

/// Serves [`answer`] on a loopback port, one request per connection, on
/// a thread that ends with the test process.
fn fake_upstreams() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve_one(stream));
        }
    });
    url
}

fn serve_one(stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = first.split(' ').nth(1).unwrap_or("/").to_owned();
    let (status, body) = answer(&path);
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A GET over a raw socket; the status code.
fn get(port: u16, path: &str, token: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nX-Custom: {HEADER_SECRET}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
fn each_request_is_one_json_access_line_without_tokens_queries_or_header_values() {
    let upstreams = fake_upstreams();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = command(
        BIN,
        &[
            ("BFF_LISTEN", &listen),
            ("BFF_JWT_HS256_SECRET", SECRET),
            ("BFF_LOG_FORMAT", "json"),
            ("BFF_UPSTREAM_CATALOG_URL", &upstreams),
            ("BFF_UPSTREAM_PRICING_URL", &upstreams),
            ("BFF_UPSTREAM_INVENTORY_URL", &upstreams),
        ],
    )
    .spawn()
    .expect("binary starts");
    wait_healthy(port, &mut child);
    let token = bff_shared::auth::mint_hs256(SECRET, "u-42", Duration::from_secs(600)).unwrap();
    let full = get(port, &format!("/v1/products/p-1?note={QUERY_SECRET}"), &token);
    let partial = get(port, &format!("/v1/products/p-2?note={QUERY_SECRET}"), &token);
    let missing = get(port, &format!("/nowhere?note={QUERY_SECRET}"), &token);
    assert_eq!((full, partial, missing), (200, 200, 404));
    assert_sigterm_exits_zero(&mut child);
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();

    for secret in [token.as_str(), QUERY_SECRET, HEADER_SECRET, "Bearer"] {
        assert!(!stdout.contains(secret), "{secret:?} in stdout:\n{stdout}");
    }
    let access: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("every stdout line is JSON"))
        .filter(|line| line["kind"] == "access" && line["route"] != "/healthz")
        .collect();
    assert_eq!(access.len(), 3, "one line per request:\n{stdout}");
    for line in &access {
        assert_eq!(line["method"], "GET");
        assert_eq!(line["client"], "127.0.0.1");
        assert!(line["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
        assert_eq!(line["trace_id"].as_str().map(str::len), Some(32), "{line}");
        assert!(line["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{line}");
    }
    let (full, partial, missing) = (&access[0], &access[1], &access[2]);
    assert_eq!(full["route"], "/v1/products/{id}");
    assert_eq!(full["status"], 200);
    assert_eq!(full["partial"], false);
    assert_eq!(full["degraded"], serde_json::json!([]));
    assert_eq!(partial["route"], "/v1/products/{id}");
    assert_eq!(partial["partial"], true);
    assert_eq!(partial["degraded"], serde_json::json!(["price:upstream_error"]));
    assert_eq!(missing["route"], "unmatched");
    assert_eq!(missing["status"], 404);
    assert_ne!(full["trace_id"], partial["trace_id"]);
}
