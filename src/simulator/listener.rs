//! The listening side of one service port, which can be closed and opened
//! again while the server keeps running (the `down` fault).
//!
//! [`Gate`] owns the listening socket behind a lock, so closing it is
//! synchronous: once `set_open(false)` returns, new connections are refused.
//! Opening binds the same address again at once (`SO_REUSEADDR`), so a
//! client may connect as soon as `set_open(true)` returns.
//! [`GateListener`] is the axum [`Listener`] that accepts through the gate,
//! and [`ConnHandle`] lets a handler reset its own connection. HTTP itself
//! is axum's; fault decisions are `inject.rs`'s.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;

use super::sync::lock;

/// Pending connections the kernel holds per port before `accept`; large
/// enough for the benchmark's bursts of new connections.
const BACKLOG: i32 = 1024;
/// How long to wait before binding again when re-opening a port failed
/// (someone else briefly held the port).
const REBIND_PAUSE: Duration = Duration::from_millis(100);
/// How long to wait after an accept error that is not about one connection
/// (such as running out of file descriptors), as axum does.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// A port that can be closed and re-opened on the same address.
pub(crate) struct Gate {
    /// The bound address (the real port when 0 was asked for).
    addr: SocketAddr,
    /// The runtime that registers a re-opened socket, so that `set_open`
    /// works from any thread.
    runtime: Handle,
    state: Mutex<GateState>,
}

struct GateState {
    /// The listening socket while the port is open.
    listener: Option<TcpListener>,
    /// Whether the port should be open (false while `down`).
    open: bool,
    /// Set at shutdown: the port stays closed for good.
    retired: bool,
    /// The accept loop to wake when the socket changes.
    waker: Option<Waker>,
}

/// What one poll of the gate gives the accept loop.
enum Accepted {
    Connection(TcpStream, SocketAddr),
    Failed(io::Error),
    /// Should be open but is not (binding again failed): retry soon.
    NeedsRebind,
}

impl Gate {
    /// Binds `addr` and listens. Must run inside a Tokio runtime.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<Gate> {
        let runtime = Handle::try_current().map_err(io::Error::other)?;
        let std_listener = bind_std(addr)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        Ok(Gate {
            addr,
            runtime,
            state: Mutex::new(GateState {
                listener: Some(listener),
                open: true,
                retired: false,
                waker: None,
            }),
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the port (new connections are refused once this returns) or
    /// opens it again on the same address.
    pub(crate) fn set_open(&self, open: bool) {
        let mut state = lock(&self.state);
        if state.retired {
            return;
        }
        state.open = open;
        if !open {
            state.listener = None;
        } else if state.listener.is_none() {
            match self.listen() {
                Ok(listener) => state.listener = Some(listener),
                Err(e) => tracing::warn!(addr = %self.addr, error = %e, "re-opening a simulator port failed; retrying"),
            }
        }
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Closes the port for good (at shutdown).
    pub(crate) fn retire(&self) {
        let mut state = lock(&self.state);
        state.retired = true;
        state.open = false;
        state.listener = None;
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn listen(&self) -> io::Result<TcpListener> {
        let std_listener = bind_std(self.addr)?;
        let _entered = self.runtime.enter();
        TcpListener::from_std(std_listener)
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Accepted> {
        let mut state = lock(&self.state);
        match &state.listener {
            Some(listener) => match listener.poll_accept(cx) {
                Poll::Ready(Ok((stream, peer))) => return Poll::Ready(Accepted::Connection(stream, peer)),
                Poll::Ready(Err(e)) => return Poll::Ready(Accepted::Failed(e)),
                Poll::Pending => {}
            },
            None if state.open && !state.retired => return Poll::Ready(Accepted::NeedsRebind),
            None => {}
        }
        // Also wake on a change of socket: the old one's registration is gone.
        if !state.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            state.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// A non-blocking listening socket with `SO_REUSEADDR`, so a closed port can
/// be bound again while old connections linger in `TIME_WAIT`.
fn bind_std(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The axum listener of one service: accepts through its [`Gate`].
pub(crate) struct GateListener {
    gate: Arc<Gate>,
}

impl GateListener {
    pub(crate) fn new(gate: Arc<Gate>) -> Self {
        GateListener { gate }
    }
}

impl Listener for GateListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match poll_fn(|cx| self.gate.poll_accept(cx)).await {
                Accepted::Connection(stream, peer) => {
                    // Answers are small and written at once: do not let Nagle delay them.
                    let _ = stream.set_nodelay(true);
                    return (stream, peer);
                }
                Accepted::Failed(e) if is_connection_error(&e) => {}
                Accepted::Failed(e) => {
                    tracing::error!(addr = %self.gate.addr, error = %e, "simulator accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
                Accepted::NeedsRebind => {
                    tokio::time::sleep(REBIND_PAUSE).await;
                    let open = lock(&self.gate.state).open;
                    if open {
                        self.gate.set_open(true);
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.gate.addr)
    }
}

/// Errors about one connection only; the next accept may well succeed.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// A handle on the connection a request came in on, so that the `reset` and
/// `down` faults can abort it. Added to every request as
/// `ConnectInfo<ConnHandle>`.
#[derive(Clone, Debug)]
pub(crate) struct ConnHandle {
    /// A duplicate of the socket's descriptor: hyper owns the stream, but
    /// socket options and `shutdown` act on the shared socket. It is closed
    /// with the connection's service, right after hyper closes its own.
    #[cfg(unix)]
    socket: Option<Arc<std::os::fd::OwnedFd>>,
}

impl Connected<IncomingStream<'_, GateListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, GateListener>) -> Self {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let socket = stream.io().as_fd().try_clone_to_owned().ok().map(Arc::new);
            ConnHandle { socket }
        }
        #[cfg(not(unix))]
        {
            let _ = stream;
            ConnHandle {}
        }
    }
}

impl ConnHandle {
    /// Starts an abortive close: `SO_LINGER` 0 makes the socket's final
    /// close send a TCP RST instead of a FIN, and shutting down its reading
    /// side makes hyper see the end of input, give up on the request in
    /// flight (dropping its handler) and close the socket without writing
    /// anything. Returns false when the connection could not be reached.
    pub(crate) fn abort(&self) -> bool {
        self.shutdown(std::net::Shutdown::Read)
    }

    /// Ends the connection for sure, in case hyper did not notice
    /// [`ConnHandle::abort`]: nothing more can be written on it.
    pub(crate) fn sever(&self) -> bool {
        self.shutdown(std::net::Shutdown::Both)
    }

    fn shutdown(&self, how: std::net::Shutdown) -> bool {
        #[cfg(unix)]
        {
            let Some(fd) = &self.socket else { return false };
            let socket = socket2::SockRef::from(fd.as_ref());
            let _ = socket.set_linger(Some(Duration::ZERO));
            socket.shutdown(how).is_ok()
        }
        #[cfg(not(unix))]
        {
            let _ = how;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connects(addr: SocketAddr) -> bool {
        TcpStream::connect(addr).await.is_ok()
    }

    #[tokio::test]
    async fn a_closed_gate_refuses_connections_and_reopens_on_the_same_port() {
        let gate = Gate::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = gate.addr();
        assert_ne!(addr.port(), 0);
        assert!(connects(addr).await);
        gate.set_open(false);
        assert!(!connects(addr).await, "closed at once");
        gate.set_open(true);
        assert!(connects(addr).await, "open again at once");
        gate.retire();
        gate.set_open(true);
        assert!(!connects(addr).await, "a retired gate stays closed");
    }
}
