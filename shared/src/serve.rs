//! Serving and start-up: `serve(listener, router, shutdown)` for tests and
//! embedders, and [`run_main`] for a BFF binary's thin `main`.
//!
//! Shutdown (SIGTERM or SIGINT) marks the app as draining, stops accepting,
//! lets in-flight requests finish, then returns, with no extra grace period.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::{self, ConfigError, Settings, vars};
use crate::ops::Readiness;
use crate::platform::Platform;
use crate::telemetry;

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // No Nagle on client connections: answers are written whole and must
    // not wait for the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            readiness.start_draining();
        })
        .await
}

/// Resolves on SIGTERM or SIGINT.
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

/// What a BFF binary tells [`run_main`] about itself.
pub struct Binary {
    /// The binary's name, for `--help` and logs.
    pub name: &'static str,
    /// One line on what it serves.
    pub about: &'static str,
    /// Its defaults (listen address, deadline).
    pub defaults: fn() -> Settings,
    /// Builds its router from the platform.
    pub app: fn(Platform) -> Router,
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
    let settings = match config::load((binary.defaults)(), config_file.as_deref(), &config::process_env()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{}: {e}", binary.name);
            return ExitCode::from(2);
        }
    };
    telemetry::init_logs(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
        let app = (binary.app)(platform);
        match serve(listener, app, readiness, shutdown_signal()).await {
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
                    "{name}: {about}\n\nUsage: {name} [--config FILE]\n\nSettings come from defaults, then the TOML file given by --config or BFF_CONFIG, then BFF_* environment variables (see the README).",
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
