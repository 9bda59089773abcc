//! A hand-written HTTP/1.1 upstream on a loopback port, for answers the
//! simulator does not give: a body cut off by a close or a reset, a body
//! that stalls forever, a body larger than the BFF reads. It answers every
//! request (keep-alive) with one scripted answer and counts connections,
//! so a test can tell whether the BFF reused one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long the fake waits after the first half of a body before it
/// closes, resets or stalls: time for the BFF to pass the status and that
/// half on, so the client sees a 200 that then breaks off.
pub const PAUSE: Duration = Duration::from_millis(200);

/// How the body is delimited.
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What happens after the first half of the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The rest follows: a healthy answer.
    Complete,
    /// An orderly close (FIN) mid-body.
    Close,
    /// A reset (RST: linger 0) mid-body.
    Reset,
    /// Nothing more, and the connection stays open.
    Stall,
}

/// The one answer the fake gives.
#[derive(Clone, Debug)]
pub struct Script {
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub framing: Framing,
    pub ending: Ending,
}

/// A running fake upstream.
pub struct FakeUpstream {
    pub url: String,
    connections: Arc<AtomicUsize>,
    targets: Arc<Mutex<Vec<String>>>,
}

impl FakeUpstream {
    /// Starts answering every request with `script`.
    pub async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("fake binds");
        let url = format!("http://{}", listener.local_addr().expect("fake address"));
        let connections = Arc::new(AtomicUsize::new(0));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let (counted, recorded) = (connections.clone(), targets.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(socket, script.clone(), recorded.clone()));
            }
        });
        Self {
            url,
            connections,
            targets,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Request targets received so far, in order.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().expect("targets").clone()
    }
}

async fn serve(mut socket: TcpStream, script: Script, targets: Arc<Mutex<Vec<String>>>) {
    loop {
        let Some(target) = read_head(&mut socket).await else {
            return;
        };
        targets.lock().expect("targets").push(target);
        let (first, rest) = script.body.split_at(script.body.len() / 2);
        let mut head = format!("HTTP/1.1 200 OK\r\nContent-Type: {}\r\n", script.content_type);
        match script.framing {
            Framing::Length => head.push_str(&format!("Content-Length: {}\r\n\r\n", script.body.len())),
            Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n\r\n"),
        }
        let mut out = head.into_bytes();
        out.extend_from_slice(&frame(script.framing, first));
        if socket.write_all(&out).await.is_err() {
            return;
        }
        if script.ending == Ending::Complete {
            let mut out = frame(script.framing, rest);
            if let Framing::Chunked = script.framing {
                out.extend_from_slice(b"0\r\n\r\n");
            }
            if socket.write_all(&out).await.is_err() {
                return;
            }
            continue;
        }
        tokio::time::sleep(PAUSE).await;
        match script.ending {
            Ending::Close => {
                let _ = socket.shutdown().await;
            }
            Ending::Reset => {
                let _ = socket2::SockRef::from(&socket).set_linger(Some(Duration::ZERO));
            }
            // Held open until the test's runtime ends.
            Ending::Stall => std::future::pending::<()>().await,
            Ending::Complete => {}
        }
        return;
    }
}

fn frame(framing: Framing, part: &[u8]) -> Vec<u8> {
    match framing {
        Framing::Length => part.to_vec(),
        Framing::Chunked if part.is_empty() => Vec::new(),
        Framing::Chunked => {
            let mut out = format!("{:x}\r\n", part.len()).into_bytes();
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
            out
        }
    }
}

/// Reads one request head (GETs carry no body); its target, or `None` when
/// the connection ends first.
async fn read_head(socket: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await.ok()? == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split(' ').nth(1).map(str::to_owned)
}
