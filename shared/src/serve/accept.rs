//! The accept loop: at most `BFF_MAX_CONNECTIONS` connections at once, one
//! task per connection, and the drain on shutdown.
//!
//! A connection slot (a semaphore permit) is taken *before* `accept()`, so
//! that when every slot is in use further connections are not accepted at
//! all: they wait in the kernel's listen backlog (and, when that is full,
//! are refused by it) instead of costing a file descriptor and a task each.
//! The permit lives as long as the connection's task.
//!
//! Shutdown starts with the drain delay (`BFF_DRAIN_DELAY_MS`, 0 by
//! default): readiness turns to draining at once, so `/readyz` answers 503,
//! while the loop goes on accepting and every connection is served as
//! before. A load balancer only learns that a replica is going away by
//! polling `/readyz`; it must see the 503, and stop sending new requests,
//! before the listener closes and connections start being refused. A second
//! shutdown signal ends the delay early (see [`super::serve_until`]).
//!
//! Graceful shutdown is a `watch` channel every connection task holds a
//! receiver of: once the delay is over the loop stops accepting (the
//! listener is closed), sends on it (each connection closes gracefully, see
//! [`super::connection::drive`]) and waits until every receiver is gone. hyper-util's `GracefulShutdown` does the
//! same, but only watches hyper's own connection types (its trait is
//! sealed), and our connections need the drain signal themselves to drop
//! one whose head is still arriving.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
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
/// With a drain delay in `edge`, readiness turns to draining at once but
/// connections are still accepted (and all of them served) until the delay
/// ends or `cut_short` resolves; `cut_short` is first polled once
/// `shutdown` has resolved.
pub(super) async fn run(
    listener: TcpListener,
    app: Router,
    edge: &EdgeSettings,
    readiness: Readiness,
    shutdown: impl Future<Output = ()>,
    cut_short: impl Future<Output = ()>,
) {
    let (drain_tx, drain_rx) = watch::channel(());
    let acceptor = Acceptor {
        listener,
        slots: Arc::new(Semaphore::new(edge.max_connections.clamp(1, Semaphore::MAX_PERMITS))),
        app,
        builder: Arc::new(builder()),
        header_timeout: edge.header_timeout,
        idle_timeout: edge.idle_timeout,
        drain: drain_rx,
    };
    acceptor.accept_until(shutdown).await;
    if edge.drain_delay.is_zero() {
        readiness.start_draining();
    } else {
        let mut cut_short = std::pin::pin!(cut_short);
        // Polled once before readiness turns, so that a future which
        // registers for a signal when first polled sees every signal sent
        // after `/readyz` has answered 503.
        let cut = std::future::poll_fn(|cx| Poll::Ready(cut_short.as_mut().poll(cx).is_ready())).await;
        readiness.start_draining();
        tracing::info!(
            drain_delay_ms = u64::try_from(edge.drain_delay.as_millis()).unwrap_or(u64::MAX),
            "shutting down: /readyz answers 503; still serving until the drain delay ends"
        );
        if !cut {
            acceptor
                .accept_until(async {
                    tokio::select! {
                        () = tokio::time::sleep(edge.drain_delay) => {},
                        () = cut_short => tracing::info!("drain delay cut short"),
                    }
                })
                .await;
        }
    }
    // Closes the listener (further connections are refused) and drops the
    // loop's own receiver, so only connection tasks hold one.
    drop(acceptor);
    let _ = drain_tx.send(());
    tracing::debug!(connections = drain_tx.receiver_count(), "draining connections");
    drain_tx.closed().await;
}

/// The listener and everything a connection task is started with.
struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    header_timeout: Duration,
    idle_timeout: Duration,
    drain: watch::Receiver<()>,
}

impl Acceptor {
    /// Accepts connections, each served by a task of its own, until `until`
    /// resolves.
    async fn accept_until(&self, until: impl Future<Output = ()>) {
        let mut until = std::pin::pin!(until);
        loop {
            let permit = tokio::select! {
                biased;
                () = &mut until => return,
                permit = self.slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    // The semaphore is never closed.
                    Err(_) => return,
                },
            };
            let (tcp, peer) = tokio::select! {
                biased;
                () = &mut until => return,
                accepted = self.listener.accept() => match accepted {
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
                app: self.app.clone(),
                builder: self.builder.clone(),
                header_timeout: self.header_timeout,
                idle_timeout: self.idle_timeout,
                drain: self.drain.clone(),
                _permit: permit,
            };
            tokio::spawn(conn.serve());
        }
    }
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
