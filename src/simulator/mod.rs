//! The upstream simulator: the eight fake backends of the upstream contract
//! (docs/api.md, "The upstream contract") on their own ports, with
//! deterministic data, per-service faults and request recording (how to use
//! it: docs/operations.md, "The simulator").
//!
//! It exists for the demo, the end-to-end tests and the benchmarks. Each
//! file owns one concern: `services/` what the backends answer, `data` the
//! deterministic generation, `fault`, `inject` and `body` how a service
//! misbehaves, `record` what it received, `listener` ports that can go down
//! and come back, `server` start and stop, `control` the run-time JSON API,
//! `cli` the `simulate` subcommand.
//!
//! ```no_run
//! use bff_stack::simulator::{Fault, Service, Simulator, SimulatorConfig};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = Simulator::start(SimulatorConfig::ephemeral()).await?;
//! let users = sim.url(Service::Users); // GET {users}/users/u-1
//! sim.set_fault(Service::Orders, Fault { latency_ms: 50, ..Fault::default() });
//! assert_eq!(sim.count(Service::Orders), 0);
//! sim.shutdown().await;
//! # let _ = users;
//! # Ok(())
//! # }
//! ```

mod body;
mod cli;
mod control;
mod data;
mod fault;
mod inject;
mod listener;
mod port;
mod record;
mod server;
mod service;
mod services;
mod sync;

#[cfg(test)]
mod tests;

pub use cli::{SimulateArgs, run};
pub use fault::Fault;
pub use inject::MALFORMED_BODY;
pub use record::RecordedRequest;
pub use server::{Simulator, SimulatorConfig};
pub use service::Service;
pub use services::PlacedOrder;
