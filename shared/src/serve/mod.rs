//! Serving and start-up: [`serve`] for tests and embedders, and
//! [`run_main`] for a BFF binary's thin `main`.
//!
//! Connections are served by hyper-util's `auto` builder (HTTP/1.1 with
//! keep-alive, or h2c), one task each, at most `BFF_MAX_CONNECTIONS` at once
//! (`serve/accept.rs`). Each connection has a clock that enforces the
//! slow-client rules of docs/architecture.md#serving (`serve/clock.rs`,
//! `serve/connection.rs`): the first request head within
//! `BFF_HEADER_TIMEOUT_MS` of opening, each later head within that time of
//! its first byte, and an idle keep-alive connection closed after
//! `BFF_IDLE_TIMEOUT_MS`. (A request body that has not arrived by the
//! request's deadline is [`crate::context`]'s: 408.)
//!
//! Why not hyper's own `http1().header_read_timeout`: hyper 1.x starts that
//! timer as soon as it waits for a head, and on a keep-alive connection it
//! waits for the next head the moment the previous answer is written
//! (`proto/h1/conn.rs`: `poll_read_head` arms it, and `State::idle` wakes
//! the read to do so). Idle connections would then be closed after the
//! header timeout (10 s) rather than the idle timeout (60 s). It also never
//! runs while hyper-util's `auto` builder is still reading the first bytes
//! to tell HTTP/1.1 from HTTP/2, so a connection that sends nothing, or a
//! few bytes of the HTTP/2 preface, would be held forever; and hyper's
//! graceful close waits for a head that is still arriving. One clock per
//! connection covers all of these with one rule set. The trade-off: it
//! costs a short uncontended lock per socket read and per request, and a
//! pipelined request whose head is still incomplete when the answers before
//! it end is bounded by the idle timeout rather than the header timeout.
//!
//! Shutdown (SIGTERM or SIGINT) marks the app as draining (`/readyz` answers
//! 503) at once; then, after `BFF_DRAIN_DELAY_MS` (0 by default) during
//! which every route is still served and connections still accepted, it
//! stops accepting, closes idle connections and those whose head is still
//! arriving, lets in-flight requests finish, then returns, with no extra
//! grace period. The delay is for load balancers, which only see a replica
//! going away by polling `/readyz` (`serve/accept.rs`). A second signal
//! during the delay ends it early: an operator pressing Ctrl-C twice, or an
//! orchestrator that wants the replica gone now, should not have to wait.

mod accept;
mod clock;
mod connection;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::{self, ConfigError, EdgeSettings, Settings, vars};
use crate::ops::Readiness;
use crate::platform::Platform;
use crate::telemetry;

/// Serves `app` on `listener` with the connection rules of `edge` until
/// `shutdown` resolves, then drains: `readiness` turns to draining at once;
/// after `edge.drain_delay` (during which everything is still served, new
/// connections included) no connection is accepted any more, in-flight
/// requests finish and every connection closes. Each request carries
/// `ConnectInfo<SocketAddr>` (the peer address) in its extensions.
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// use bff_shared::config::EdgeSettings;
/// use bff_shared::ops::Readiness;
/// use bff_shared::serve;
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// serve::serve(listener, app, &EdgeSettings::default(), Readiness::default(), serve::shutdown_signal()).await
/// # }
/// ```
pub async fn serve(
    listener: TcpListener,
    app: Router,
    edge: &EdgeSettings,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_until(listener, app, edge, readiness, shutdown, std::future::pending()).await
}

/// [`serve`], with the drain delay ended early when `cut_short` resolves.
/// `cut_short` is first polled once `shutdown` has resolved, so a future
/// that registers for a signal when first polled (such as
/// [`shutdown_signal`]) sees only a *second* signal.
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
    edge: &EdgeSettings,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
    cut_short: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    accept::run(listener, app, edge, readiness, shutdown, cut_short).await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT delivered after its first poll (it
/// registers for them then).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The async runtime for the cores this process may use: tokio's
/// work-stealing scheduler on several, its single-threaded one on one (a
/// BFF pinned to a core, a container limited to one CPU), where stealing
/// has nobody to steal from and only adds cost per task wake-up
/// (docs/benchmarks.md).
fn runtime_builder() -> tokio::runtime::Builder {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

/// Binds `addr`, with an error that names `BFF_LISTEN`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ConfigError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| ConfigError::new(vars::LISTEN, format!("cannot listen on {addr}: {e}")))
}

/// Keeps histogram buffers drained so an unscraped `/metrics` does not grow.
pub fn spawn_metrics_upkeep(platform: &Platform) {
    let metrics = platform.metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            metrics.run_upkeep();
        }
    });
}

/// Builds a BFF's router (and whatever state of its own, such as typed
/// calls over its upstreams) from the platform; an error is a start-up
/// error.
pub type AppFn = fn(Platform) -> Result<Router, ConfigError>;

/// What a BFF binary tells [`run_main`] about itself.
pub struct Binary {
    /// The binary's name, for `--help` and logs.
    pub name: &'static str,
    /// One line on what it serves.
    pub about: &'static str,
    /// Its defaults (listen address, deadline, declared upstreams).
    pub defaults: fn() -> Settings,
    /// Builds its router from the platform.
    pub app: AppFn,
}

/// A BFF binary's whole `main`: parse `--config`, load settings, start
/// logs, serve until a signal. Every start-up failure is one line on stderr
/// and exit code 2 (1 for a failure while serving).
pub fn run_main(binary: Binary) -> ExitCode {
    let config_file = match parse_args(&binary) {
        Ok(Some(file)) => file,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{}: {message}", binary.name);
            return ExitCode::from(2);
        }
    };
    let mut settings = match config::load((binary.defaults)(), config_file.as_deref(), &config::process_env()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{}: {e}", binary.name);
            return ExitCode::from(2);
        }
    };
    // Flushes queued log lines when `main` returns.
    let _logs = telemetry::init_logs(settings.log_format);
    if settings.traces.service_name.is_none() {
        settings.traces.service_name = Some(binary.name.to_owned());
    }
    let runtime = match runtime_builder().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{}: cannot start the async runtime: {e}", binary.name);
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let listen = settings.listen;
        let platform = match Platform::new(settings).await {
            Ok(platform) => platform,
            Err(e) => {
                eprintln!("{}: {e}", binary.name);
                return ExitCode::from(2);
            }
        };
        let listener = match bind(listen).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("{}: {e}", binary.name);
                return ExitCode::from(2);
            }
        };
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(name = binary.name, listen = %local, "serving");
        spawn_metrics_upkeep(&platform);
        let readiness = platform.readiness.clone();
        let traces = platform.traces.clone();
        let edge = platform.settings.edge.clone();
        let app = match (binary.app)(platform) {
            Ok(app) => app,
            Err(e) => {
                eprintln!("{}: {e}", binary.name);
                return ExitCode::from(2);
            }
        };
        // The second signal, if any, ends the drain delay early.
        let served = serve_until(listener, app, &edge, readiness, shutdown_signal(), shutdown_signal()).await;
        // Spans still queued are sent, within a bound.
        traces.shutdown().await;
        match served {
            Ok(()) => {
                tracing::info!(name = binary.name, "stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: server error: {e}", binary.name);
                ExitCode::from(1)
            }
        }
    })
}

/// `Ok(Some(file))` to run, `Ok(None)` after printing help or version.
fn parse_args(binary: &Binary) -> Result<Option<Option<PathBuf>>, String> {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!(
                    "{name}: {about}\n\nUsage: {name} [--config FILE]\n\nSettings come from defaults, then the TOML file given by --config or BFF_CONFIG, then BFF_* environment variables (see docs/configuration.md).",
                    name = binary.name,
                    about = binary.about
                );
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("{} {}", binary.name, env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--config" => {
                file = Some(PathBuf::from(args.next().ok_or("--config needs a file path")?));
            }
            other => {
                if let Some(path) = other.strip_prefix("--config=") {
                    file = Some(PathBuf::from(path));
                } else {
                    return Err(format!("unknown argument {other:?}; try --help"));
                }
            }
        }
    }
    Ok(Some(file))
}
