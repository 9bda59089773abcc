//! Reusable machinery for Backend-for-Frontend services.
//!
//! Machinery (knows nothing of any particular backend or client):
//! - [`config`]: defaults, TOML file, `BFF_*` variables, validation;
//! - [`upstream`]: the pooled client, per-upstream policy, breaker, bulkhead;
//! - [`fanout`]: deadline-bound concurrent sections with partial results;
//! - [`auth`]: JWT verification and the `Auth` / `MaybeAuth` extractors;
//! - [`error`]: the client-facing error type and its problem+json rendering;
//! - [`context`], [`request_id`], [`extract`]: per-request plumbing;
//! - [`telemetry`], [`ops`], [`stack`], [`serve`], [`platform`]: metrics,
//!   logs, operations endpoints, the middleware stack, start-up.
//!
//! Our concrete backends: [`backends`] (typed calls and DTOs) and
//! [`endpoints`] (the order pass-through, mounted by every BFF).

pub mod auth;
pub mod backends;
pub mod cache;
pub mod config;
pub mod context;
pub mod endpoints;
pub mod error;
pub mod extract;
pub mod fanout;
pub mod idempotency;
pub mod ops;
pub mod platform;
pub mod rate_limit;
pub mod redis_conn;
pub mod request_id;
pub mod serve;
pub mod stack;
pub mod telemetry;
pub mod upstream;
