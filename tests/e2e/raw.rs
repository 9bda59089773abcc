//! Raw HTTP/1.1 over a `TcpStream`, for what a well-behaved client library
//! would not send (dot segments, odd encodings) or would hide (a chunked
//! body that never ends, a body shorter than its `Content-Length`).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any raw exchange may take before the test fails.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(10);

/// What came back on the socket, read until the peer closed it.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    /// Header names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Everything after the head, undecoded (chunk framing included).
    pub body: Vec<u8>,
    /// Whether the connection ended with an error (such as a reset) rather
    /// than an orderly close.
    pub aborted: bool,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the body is complete as its framing announces: every chunk
    /// and the terminating zero-size chunk for `chunked`, exactly
    /// `Content-Length` bytes otherwise.
    pub fn body_is_complete(&self) -> bool {
        if self
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            dechunk(&self.body).is_some()
        } else if let Some(length) = self.header("content-length") {
            length.parse::<usize>().ok() == Some(self.body.len())
        } else {
            // Delimited by close: only an orderly close completes it.
            !self.aborted
        }
    }

    /// The body without its chunk framing, when it is complete.
    pub fn decoded_body(&self) -> Option<Vec<u8>> {
        if self
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            dechunk(&self.body)
        } else {
            self.body_is_complete().then(|| self.body.clone())
        }
    }
}

/// Sends `GET target` with `headers` and `Connection: close`, then reads
/// the answer until the server closes the connection.
pub async fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> RawAnswer {
    try_get(addr, target, headers)
        .await
        .unwrap_or_else(|raw| panic!("GET {target}: no complete head in {:?}", String::from_utf8_lossy(&raw)))
}

/// Like [`get`], but a connection that ends before a complete head is
/// `Err` with whatever bytes came.
pub async fn try_get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Result<RawAnswer, Vec<u8>> {
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    tokio::time::timeout(EXCHANGE_LIMIT, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("request written");
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        let aborted = loop {
            match stream.read(&mut buf).await {
                Ok(0) => break false,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(_) => break true,
            }
        };
        parse(&raw, aborted)
    })
    .await
    .unwrap_or_else(|_| panic!("GET {target}: no complete exchange within {EXCHANGE_LIMIT:?}"))
}

fn parse(raw: &[u8], aborted: bool) -> Result<RawAnswer, Vec<u8>> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(raw.to_vec());
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(RawAnswer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
        aborted,
    })
}

/// Decodes a complete chunked body; `None` when it is cut short or malformed.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // No trailers from us: the last chunk is followed by CRLF.
            return rest.starts_with(b"\r\n").then_some(out);
        }
        if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[test]
fn a_chunked_body_is_complete_only_with_its_last_chunk() {
    let answer = |body: &[u8]| RawAnswer {
        status: 200,
        headers: vec![("transfer-encoding".into(), "chunked".into())],
        body: body.to_vec(),
        aborted: false,
    };
    assert_eq!(answer(b"3\r\nabc\r\n0\r\n\r\n").decoded_body(), Some(b"abc".to_vec()));
    assert!(!answer(b"3\r\nabc\r\n").body_is_complete());
    assert!(!answer(b"3\r\nab").body_is_complete());
}
