//! Calling upstream services: one pooled client, and per upstream a base
//! URL, a timeout policy, an in-flight cap (bulkhead) and a circuit breaker.
//!
//! Every call carries `X-Request-Id`, `X-User-Id` (when authenticated) and
//! `X-Request-Timeout-Ms`, and nothing else from the client request. Each
//! attempt is counted once in `bff_upstream_requests_total{upstream,outcome}`
//! (`ok`, a degraded reason, or `cancelled` when it was dropped unfinished
//! while the request still had time). Bodies are read, or passed on, up to
//! `BFF_UPSTREAM_MAX_BODY_BYTES`. Retries and hedges, when configured, go
//! through the same checks and draw on a per-upstream budget
//! (the rules are in `retry.rs`).
//! Deciding what a failure means for the client (degraded section or error
//! status) is left to [`crate::fanout`] and the handlers.

mod attempt;
mod body;
mod breaker;
mod call;
mod client;
mod error;
mod registry;
mod retry;

pub use body::{BodyError, BoundedBody, StreamedJson};
pub use breaker::{Breaker, BreakerState, Ticket, Verdict};
pub use call::Upstream;
pub use client::{RequestBody, UpstreamClient, build_client};
pub use error::{DegradedReason, UpstreamError};
pub use registry::Upstreams;
