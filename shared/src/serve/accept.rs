//! The accept loop: at most `BFF_MAX_CONNECTIONS` connections at once, one
//! task per connection, and the drain on shutdown.
//!
//! A connection slot (a semaphore permit) is taken *before* `accept()`, so
//! that when every slot is in use further connections are not accepted at
//! all: they wait in the kernel's listen backlog (and, when that is full,
//! are refused by it) instead of costing a file descriptor and a task each.
//! The permit lives as long as the connection's task.
//!
//! Graceful shutdown is a `watch` channel every connection task holds a
//! receiver of: on shutdown the loop stops accepting, sends on it (each
//! connection closes gracefully, see [`super::connection::drive`]) and waits
//! until every receiver is gone. hyper-util's `GracefulShutdown` does the
//! same, but only watches hyper's own connection types (its trait is
//! sealed), and our connections need the drain signal themselves to drop
//! one whose head is still arriving.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use super::clock::Clock;
use super::connection::{ConnService, Ended, TrackedIo, drive};
use crate::config::EdgeSettings;
use crate::ops::Readiness;

/// How long the loop pauses after an accept error that is not about one
/// connection (such as `EMFILE`, out of file descriptors): long enough not
/// to spin while the condition lasts, short enough to resume promptly.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Accepts until `shutdown` resolves, then drains (see the module docs).
pub(super) async fn run(
    listener: TcpListener,
    app: Router,
    edge: &EdgeSettings,
    readiness: Readiness,
    shutdown: impl Future<Output = ()>,
) {
    let builder = Arc::new(builder());
    let slots = Arc::new(Semaphore::new(edge.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
    let (drain_tx, drain_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
        let (tcp, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    on_accept_error(e).await;
                    continue;
                }
            },
        };
        let conn = Conn {
            tcp,
            peer,
            app: app.clone(),
            builder: builder.clone(),
            header_timeout: edge.header_timeout,
            idle_timeout: edge.idle_timeout,
            drain: drain_rx.clone(),
            _permit: permit,
        };
        tokio::spawn(conn.serve());
    }
    readiness.start_draining();
    drop(listener);
    drop(drain_rx);
    let _ = drain_tx.send(());
    tracing::debug!(connections = drain_tx.receiver_count(), "draining connections");
    drain_tx.closed().await;
}

/// The protocol settings shared by every connection: HTTP/1.1 with
/// keep-alive, or HTTP/2 with prior knowledge (h2c), as the client speaks.
/// hyper's own `header_read_timeout` is off: see [`super::clock`] and the
/// [`super`] module docs for why the connection's clock replaces it.
fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().header_read_timeout(None);
    builder
}

/// One accepted connection, and everything its task needs.
struct Conn {
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    header_timeout: Duration,
    idle_timeout: Duration,
    drain: watch::Receiver<()>,
    /// Its slot among `BFF_MAX_CONNECTIONS`, freed when the task ends.
    _permit: OwnedSemaphorePermit,
}

impl Conn {
    async fn serve(self) {
        // No Nagle on client connections: answers are written whole and
        // must not wait for the client's delayed ACK.
        let _ = self.tcp.set_nodelay(true);
        let clock = Arc::new(Clock::new(Instant::now(), self.header_timeout, self.idle_timeout));
        let io = TokioIo::new(TrackedIo::new(self.tcp, clock.clone()));
        let service = ConnService::new(self.app, self.peer, clock.clone());
        let conn = self.builder.serve_connection(io, service);
        match drive(conn, &clock, self.drain).await {
            Ended::Closed(Ok(())) => {}
            Ended::Closed(Err(e)) => tracing::debug!(error = %e, "client connection ended with an error"),
            Ended::Dropped(reason) => tracing::debug!(?reason, "client connection dropped"),
        }
    }
}

/// Errors about one connection (it was reset before we took it) are
/// skipped; others (out of file descriptors, out of memory) are logged and
/// waited out, never fatal: the loop goes on.
async fn on_accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection; pausing before the next accept");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}
