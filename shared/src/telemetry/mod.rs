//! Telemetry: structured logs (tracing) and Prometheus metrics.
//!
//! Metrics use a recorder owned by each app rather than the process-global
//! one, so two BFFs in one process (the `bff-stack` demo, the tests) keep
//! separate counts. Log set-up is process-wide and done once by `main`.

mod logs;
mod metrics;

pub use self::logs::init_logs;
pub use self::metrics::{CacheResult, Metrics, UpstreamMetrics};
