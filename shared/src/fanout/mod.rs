//! Deadline-bound fan-out with partial results.
//!
//! A handler runs its upstream calls concurrently (`tokio::join!` for calls
//! of different types, [`futures::future::join_all`] for lists), each
//! wrapped by a [`Fanout`] that bounds it by the request deadline and turns
//! its failure into a degraded section instead of failing the request.
//! Dependent calls are written inside the branch that produces their input,
//! so they start the moment that input arrives: a composite's latency is its
//! critical path. Shaping the client's response is left to the handler;
//! this module owns `meta`, `Server-Timing` and `X-Partial-Response`.

mod etag;
mod meta;
mod response;

pub use meta::{Degraded, Meta};
pub use response::Composite;

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::context::{Deadline, RequestCtx};
use crate::error::ApiError;
use crate::upstream::{DegradedReason, UpstreamError};

/// Collects the outcome of every section of one composite request.
///
/// ```
/// use std::time::Duration;
/// use bff_shared::context::{Deadline, RequestCtx};
/// use bff_shared::fanout::Fanout;
/// use bff_shared::upstream::{DegradedReason, UpstreamError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let ctx = RequestCtx::detached("req-1", Deadline::after(Duration::from_millis(100)));
/// let fan = Fanout::new(&ctx);
/// let (name, orders) = tokio::join!(
///     fan.required("user", async { Ok::<_, UpstreamError>("Ada") }),
///     fan.optional("orders", async { Err::<Vec<u32>, _>(UpstreamError::Timeout) }),
/// );
/// assert_eq!(name.unwrap(), "Ada");
/// assert_eq!(orders, None);
/// let meta = fan.meta();
/// assert!(meta.partial);
/// assert_eq!((meta.degraded[0].section.as_str(), meta.degraded[0].reason), ("orders", DegradedReason::Timeout));
/// // A section that never answers is cut at the deadline.
/// let late = fan.optional("late", std::future::pending::<Result<u8, UpstreamError>>()).await;
/// assert_eq!(late, None);
/// # }
/// ```
#[derive(Debug)]
pub struct Fanout {
    request_id: String,
    deadline: Deadline,
    started: Instant,
    record: Mutex<Record>,
}

#[derive(Debug, Default)]
struct Record {
    degraded: Vec<Degraded>,
    stale: Vec<String>,
    timings: Vec<(&'static str, Duration)>,
}

impl Fanout {
    /// A fan-out under the request's deadline.
    pub fn new(ctx: &RequestCtx) -> Self {
        Self {
            request_id: ctx.request_id.to_string(),
            deadline: ctx.deadline,
            started: Instant::now(),
            record: Mutex::new(Record::default()),
        }
    }

    /// Runs an optional section (or a dotted nested part such as
    /// `recommendations.price`): its value, or `None` with the reason
    /// recorded in `meta.degraded`. Top-level sections are timed for
    /// `Server-Timing`.
    pub async fn optional<T>(
        &self,
        section: &'static str,
        call: impl Future<Output = Result<T, UpstreamError>>,
    ) -> Option<T> {
        match self.bounded(section, call).await {
            Ok(value) => Some(value),
            Err(e) => {
                self.degrade(section, e.reason());
                None
            }
        }
    }

    /// Runs a required section: its value, or the client error its failure
    /// means (404 `not_found`, 504 `upstream_timeout`, else 503).
    pub async fn required<T>(
        &self,
        section: &'static str,
        call: impl Future<Output = Result<T, UpstreamError>>,
    ) -> Result<T, ApiError> {
        self.bounded(section, call).await.map_err(UpstreamError::into_api_error)
    }

    async fn bounded<T>(
        &self,
        section: &'static str,
        call: impl Future<Output = Result<T, UpstreamError>>,
    ) -> Result<T, UpstreamError> {
        // Upstream calls already stop at the deadline; this is the backstop
        // for anything else a section awaits.
        // Boxed: composites nest sections inside sections, and unboxed the
        // combined future grows with every level (debug builds overflow a
        // 2 MiB stack); one small allocation per section keeps it flat.
        let call = Box::pin(call);
        let (result, stale) = crate::cache::observe_stale(tokio::time::timeout_at(self.deadline.instant(), call)).await;
        let result = result.unwrap_or(Err(UpstreamError::Timeout));
        if stale && result.is_ok() {
            self.stale(section);
        }
        if !section.contains('.') {
            self.lock().timings.push((section, self.started.elapsed()));
        }
        result
    }

    /// Records `section` as degraded for `reason` (for failures a handler
    /// detects itself, such as a part whose input is missing).
    pub fn degrade(&self, section: &str, reason: DegradedReason) {
        let mut record = self.lock();
        if !record.degraded.iter().any(|d| d.section == section) {
            record.degraded.push(Degraded {
                section: section.to_owned(),
                reason,
            });
        }
    }

    /// Records that `section` was served from the cache past its TTL.
    pub fn stale(&self, section: &str) {
        let mut record = self.lock();
        if !record.stale.iter().any(|s| s == section) {
            record.stale.push(section.to_owned());
        }
    }

    /// The `meta` object of the answer so far.
    pub fn meta(&self) -> Meta {
        let record = self.lock();
        Meta {
            request_id: self.request_id.clone(),
            partial: !record.degraded.is_empty(),
            degraded: record.degraded.clone(),
            stale: record.stale.clone(),
        }
    }

    /// The `Server-Timing` value: one entry per top-level section.
    pub fn server_timing(&self) -> String {
        let record = self.lock();
        let mut out = String::with_capacity(record.timings.len() * 24);
        for (i, (section, elapsed)) in record.timings.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(section);
            out.push_str(";dur=");
            out.push_str(&format!("{:.1}", elapsed.as_secs_f64() * 1000.0));
        }
        out
    }

    /// Whether any section has been degraded so far.
    pub fn is_partial(&self) -> bool {
        !self.lock().degraded.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
