//! Telemetry: structured logs (tracing), Prometheus metrics, and the
//! rolling 60-second window per upstream behind the status page.
//!
//! Metrics use a recorder owned by each app rather than the process-global
//! one, so two BFFs in one process (the `bff-stack` demo, the tests) keep
//! separate counts. Log set-up is process-wide and done once by `main`.

mod logs;
mod metrics;
mod window;

pub use self::logs::init_logs;
pub use self::metrics::{CacheResult, InFlight, Metrics, UpstreamMetrics};
pub use self::window::{RollingWindow, WindowSummary};
