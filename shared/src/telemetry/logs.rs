//! Log subscriber set-up: JSON or pretty, filtered by `RUST_LOG`
//! (default `info`). Logs go to stdout so that stderr carries only the
//! one-line start-up error a supervisor shows to an operator.
//!
//! Stdout is written by `tracing-appender`'s worker thread, never by the
//! runtime's: a log line is queued (128 000 lines at most) and, if the
//! queue is full because stdout is not being read fast enough, dropped
//! rather than blocking a request. The access log shares the same writer.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The shared stdout writer and whether lines are JSON, once set up.
static STDOUT: OnceLock<(NonBlocking, bool)> = OnceLock::new();

/// Keeps the stdout writer's worker alive; dropping it flushes what is
/// queued (at the end of `main`).
pub struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

/// Installs the global log subscriber and the access log's writer. Safe to
/// call more than once: later calls (another BFF in the same process) keep
/// the first subscriber.
pub fn init_logs(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    if STDOUT.get().is_some() {
        return LogGuard(None);
    }
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .thread_name("bff-log-writer")
        // Buffered: the worker writes every line it finds queued, then
        // flushes (tracing-appender flushes each time the queue runs dry),
        // so a busy BFF writes many lines per syscall instead of one (stdout
        // alone flushes at each newline), and a quiet one still at once.
        .finish(std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()));
    if STDOUT.set((writer.clone(), json)).is_err() {
        return LogGuard(None);
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(false).try_init()
    } else {
        builder.try_init()
    };
    LogGuard(Some(guard))
}

/// The stdout writer and whether lines are JSON, when [`init_logs`] ran.
pub(super) fn stdout() -> Option<&'static (NonBlocking, bool)> {
    STDOUT.get()
}
