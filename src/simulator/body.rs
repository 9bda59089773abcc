//! The body faults: an answer sent chunked, cut off half-way (`truncate`)
//! or stalled half-way (`stall_body`). The status and headers go out as the
//! answer had them (with the full `Content-Length` unless chunked); only the
//! body misbehaves, as when an upstream dies or freezes mid-answer. Deciding
//! whether a request is faulted is `inject.rs`'s job.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use http::{HeaderValue, header};

use super::fault::Fault;
use super::listener::ConnHandle;
use super::port::Port;

/// Answers are built in memory by the services; this bounds what is read
/// back to reshape one (far above any answer they give).
const MAX_ANSWER_BYTES: usize = 16 << 20;
/// How long a cut body waits after its first half before the reset, so
/// that hyper has flushed that half to the socket (a reset discards what is
/// still unsent).
const FLUSH_PAUSE: Duration = Duration::from_millis(10);

/// Reshapes `response` as `fault` says. `conn` is the connection to reset
/// for `truncate` (when served without it, the body still ends in an error,
/// which makes hyper close the connection).
pub(crate) async fn shape(port: Arc<Port>, fault: &Fault, conn: Option<ConnHandle>, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ANSWER_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => Bytes::new(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    if !fault.chunked {
        // A stream body has no known length, so hyper would send it chunked;
        // the header makes it announce the whole answer's length instead.
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    }
    let half = bytes.slice(..bytes.len() / 2);
    let body: BoxStream<'static, io::Result<Bytes>> = if fault.truncate {
        let cut = async move {
            let _ = port.sleep(FLUSH_PAUSE).await;
            if let Some(conn) = conn {
                // SO_LINGER 0: the close that follows the error is a TCP RST.
                conn.abort();
            }
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "body cut off by the simulator",
            ))
        };
        stream::once(async { Ok(half) }).chain(stream::once(cut)).boxed()
    } else if fault.stall_body {
        let stall = async move {
            // Hyper drops this stream when the client closes the connection.
            port.until_shutdown().await;
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "simulator shutting down",
            ))
        };
        stream::once(async { Ok(half) }).chain(stream::once(stall)).boxed()
    } else {
        stream::once(async { Ok(bytes) }).boxed()
    };
    Response::from_parts(parts, Body::from_stream(body))
}
