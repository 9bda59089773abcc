//! Telemetry: structured logs (tracing), the access log, trace context and
//! span export, Prometheus metrics, and the rolling 60-second window per
//! upstream behind the status page.
//!
//! Metrics use a recorder owned by each app rather than the process-global
//! one, so two BFFs in one process (the `bff-stack` demo, the tests) keep
//! separate counts. Log set-up is process-wide and done once by `main`.

pub mod access_log;
mod logs;
mod metrics;
pub mod otel;
pub mod trace;
mod window;

pub use self::logs::{LogGuard, init_logs};
pub use self::metrics::{CacheResult, InFlight, Metrics, UpstreamMetrics};
pub use self::otel::Traces;
pub use self::trace::{RequestTrace, TraceContext};
pub use self::window::{RollingWindow, WindowSummary};
