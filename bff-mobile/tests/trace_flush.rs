//! Graceful shutdown sends the spans still queued (docs/operations.md#traces):
//! with a batch delay far longer than the test, the only export that can
//! reach the collector is the one made on SIGTERM.

#[path = "../../tests/common/binary.rs"]
mod binary;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use binary::{assert_sigterm_exits_zero, command, free_port, wait_healthy};

const BIN: &str = env!("CARGO_BIN_EXE_bff-mobile");

/// A loopback listener that reports the request line and content type of
/// each request it gets, and answers 200 with an empty body.
fn collector() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut content_type = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line == "\r\n" => break,
                    Ok(_) => {
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-type:") {
                            content_type = v.trim().to_owned();
                        }
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let mut stream = reader.into_inner();
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tx.send((first.trim().to_owned(), content_type));
        }
    });
    (url, rx)
}

#[test]
fn spans_still_queued_at_sigterm_are_sent_before_the_process_exits() {
    let (url, exports) = collector();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = command(
        BIN,
        &[
            ("BFF_LISTEN", &listen),
            ("BFF_JWT_HS256_SECRET", "trace-flush-test-secret-with-enough-length"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &url),
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
        ],
    )
    .spawn()
    .expect("binary starts");
    wait_healthy(port, &mut child);
    assert!(
        exports.recv_timeout(Duration::from_millis(300)).is_err(),
        "nothing is sent before the batch delay or shutdown"
    );
    assert_sigterm_exits_zero(&mut child);
    let (line, content_type) = exports
        .recv_timeout(Duration::from_secs(5))
        .expect("the queued spans were sent on shutdown");
    assert_eq!(line, "POST /v1/traces HTTP/1.1");
    assert_eq!(content_type, "application/x-protobuf");
}
