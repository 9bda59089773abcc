//! One client connection: the hyper connection (HTTP/1.1 or h2c) with its
//! [`Clock`] fed by the socket and the router, and the task that enforces
//! the clock's verdicts and the server's drain.
//!
//! Three small adapters feed the clock: [`TrackedIo`] (bytes arrived),
//! [`ConnService`] (a head is complete: a request starts) and
//! [`TrackedBody`] (its answer has been sent or abandoned). [`drive`] polls
//! the connection and, after every poll, asks the clock what is due: a head
//! that took too long drops the connection (hyper's own graceful close would
//! wait for the head); an idle connection is closed gracefully.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, Version};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::Service;

use super::clock::{Clock, DropReason, Verdict};

/// The socket, reporting arrived bytes to the clock.
pub(super) struct TrackedIo<T> {
    inner: T,
    clock: Arc<Clock>,
}

impl<T> TrackedIo<T> {
    pub(super) fn new(inner: T, clock: Arc<Clock>) -> Self {
        Self { inner, clock }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.bytes_read(Instant::now);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The router as one connection's hyper service: stamps the peer address
/// (`ConnectInfo<SocketAddr>`, read by the rate limiter) and tells the
/// clock when a request starts and when its answer is done.
#[derive(Clone)]
pub(super) struct ConnService {
    app: Router,
    peer: SocketAddr,
    clock: Arc<Clock>,
}

impl ConnService {
    pub(super) fn new(app: Router, peer: SocketAddr, clock: Arc<Clock>) -> Self {
        Self { app, peer, clock }
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ConnFuture;

    fn call(&self, mut request: Request<Incoming>) -> ConnFuture {
        self.clock.request_started(request.version() == Version::HTTP_2);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        ConnFuture {
            guard: Some(InFlight(self.clock.clone())),
            // `Router` is always ready; cloning it is one reference count.
            inner: self.app.clone().call(request),
        }
    }
}

/// The router's future; its answer's body takes over the in-flight mark.
pub(super) struct ConnFuture {
    inner: <Router as Service<Request<Incoming>>>::Future,
    guard: Option<InFlight>,
}

impl Future for ConnFuture {
    type Output = Result<Response<TrackedBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match Pin::new(&mut self.inner).poll(cx) {
            Poll::Ready(Ok(response)) => response,
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => return Poll::Pending,
        };
        let guard = self.guard.take();
        Poll::Ready(Ok(response.map(|inner| TrackedBody { inner, _guard: guard })))
    }
}

/// Marks one request in flight until dropped: with its future if the
/// connection goes before the answer, else with the answer's body once
/// hyper has sent it.
struct InFlight(Arc<Clock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished(Instant::now());
    }
}

/// An answer's body, holding its request's in-flight mark.
pub(super) struct TrackedBody {
    inner: axum::body::Body,
    _guard: Option<InFlight>,
}

impl HttpBody for TrackedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How a connection ended.
#[derive(Debug)]
pub(super) enum Ended<E> {
    /// hyper finished it (the client closed, or it closed after a graceful
    /// close or a `Connection: close` answer), possibly with an error.
    Closed(Result<(), E>),
    /// We dropped it.
    Dropped(DropReason),
}

/// A hyper connection that can be asked to close gracefully.
pub(super) trait GracefulConn: Future {
    /// hyper's graceful close: finish in-flight requests, accept no more.
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, E, B> GracefulConn for hyper_util::server::conn::auto::Connection<'_, I, S, E>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
    S::Future: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: HttpBody + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    E: hyper_util::server::conn::auto::HttpServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper_util::server::conn::auto::Connection::graceful_shutdown(self);
    }
}

/// Serves `conn` until it ends, enforcing `clock` and closing gracefully
/// once `drain` changes (the server is shutting down).
pub(super) async fn drive<C, E>(conn: C, clock: &Clock, mut drain: watch::Receiver<()>) -> Ended<E>
where
    C: GracefulConn<Output = Result<(), E>>,
{
    let mut conn = pin!(conn);
    let mut timer = pin!(tokio::time::sleep_until(Instant::now()));
    let mut armed: Option<Instant> = None;
    let mut draining = false;
    let mut drained = pin!(drain.changed());
    poll_fn(|cx| {
        clock.register(cx.waker());
        if !draining && drained.as_mut().poll(cx).is_ready() {
            draining = true;
            clock.start_draining(Instant::now());
            conn.as_mut().graceful_shutdown();
        }
        loop {
            // Poll the connection first: it feeds the clock.
            if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                return Poll::Ready(Ended::Closed(result));
            }
            let now = Instant::now();
            match clock.verdict(now) {
                Verdict::WaitUntil(None) => return Poll::Pending,
                Verdict::WaitUntil(Some(at)) => {
                    // The timer is moved only to an earlier instant. A later
                    // one (the usual case: each request pushes the deadline
                    // out) waits for the armed timer to fire, then re-arms:
                    // a busy keep-alive connection touches the runtime's
                    // timer about once per header timeout, not twice per
                    // request.
                    if armed.is_none_or(|armed| at < armed) {
                        timer.as_mut().reset(at);
                        armed = Some(at);
                    }
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    armed = None;
                }
                Verdict::CloseGracefully => {
                    clock.asked_to_close(now);
                    conn.as_mut().graceful_shutdown();
                }
                Verdict::Drop(reason) => return Poll::Ready(Ended::Dropped(reason)),
            }
        }
    })
    .await
}
