//! Deadline-bound fan-out with partial results, reported through typed
//! outcomes.
//!
//! A handler runs its upstream calls concurrently (`tokio::join!` for calls
//! of different types, [`futures::future::join_all`] for lists), each
//! wrapped by a [`Fanout`] that bounds it by the request deadline and turns
//! its result into a [`Section`]: fresh value, stale value, or degraded
//! with a reason. A required section gives a [`Required`] value or the
//! client error its failure means. Dependent calls are written inside the
//! branch that produces their input, so they start the moment that input
//! arrives: a composite's latency is its critical path. Shaping the
//! client's response is left to the handler.
//!
//! `meta`, `X-Partial-Response` and `Server-Timing` are computed from the
//! outcomes: once the sections are in, the handler hands them to
//! [`Fanout::summary`] and renders the [`Summary`] with [`Composite`].
//!
//! The trade-off, against a collector that each section writes into as it
//! ends: the handler lists its outcomes once more, nested parts
//! (`recommendations.price`) and a section's second stage included, and a
//! section left out of that list would be missing from `meta` (each
//! endpoint's end-to-end tests fail every section to catch that). In
//! exchange nothing is kept on the side: `Fanout` records nothing, a
//! section's type says what happened to it, the order of `meta.degraded`
//! is the order of the list rather than of completion, and rules such as
//! "503 when every first-stage call failed" read the same values the
//! answer is shaped from. Each section carries its name and the time it
//! ended, which is all `Server-Timing` needs. Staleness comes from the
//! fragment cache in its type too ([`crate::cache::Cached`], taken by the
//! `*_cached` methods), so no task-local carries it.

mod etag;
mod meta;
mod response;
mod section;
mod summary;

pub use meta::{Degraded, Meta};
pub use response::{Composite, DegradedReport};
pub use section::{Outcome, Reported, Required, Section};
pub use summary::Summary;

use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

use crate::cache::Cached;
use crate::context::{Deadline, RequestCtx};
use crate::error::ApiError;
use crate::upstream::UpstreamError;

/// Runs the sections of one composite request under its deadline.
///
/// ```
/// use std::time::Duration;
/// use bff_shared::cache::Cached;
/// use bff_shared::context::{Deadline, RequestCtx};
/// use bff_shared::fanout::{Fanout, Section};
/// use bff_shared::upstream::{DegradedReason, UpstreamError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let ctx = RequestCtx::detached("req-1", Deadline::after(Duration::from_millis(100)));
/// let fan = Fanout::new(&ctx);
/// let (name, orders, ids) = tokio::join!(
///     fan.required("user", async { Ok::<_, UpstreamError>("Ada") }),
///     fan.optional("orders", async { Err::<Vec<u32>, _>(UpstreamError::Timeout) }),
///     fan.optional("picks", async { Ok::<_, UpstreamError>(vec!["p-1"]) }),
/// );
/// let name = name.expect("the user answered");
/// assert_eq!(*name, "Ada");
/// assert_eq!(orders.reason(), Some(DegradedReason::Timeout));
/// // A second stage starts from its first stage's value, or is degraded
/// // with it; here it is served stale by the fragment cache.
/// let cards: Section<usize> = match ids.as_input() {
///     Ok(ids) => fan.optional_cached("picks", async { Ok(Cached { value: ids.len(), stale: true }) }).await,
///     Err(no_cards) => no_cards,
/// };
/// assert!(cards.is_stale());
/// // "Every first-stage call failed" reads the outcomes themselves.
/// assert!(![orders.is_degraded(), ids.is_degraded()].iter().all(|failed| *failed));
///
/// let summary = fan.summary(&[&name, &orders, &cards]);
/// let meta = summary.meta();
/// assert!(meta.partial);
/// assert_eq!((meta.degraded[0].section.as_str(), meta.degraded[0].reason), ("orders", DegradedReason::Timeout));
/// assert_eq!(meta.stale, ["picks"]);
/// // A section that never answers is cut at the deadline.
/// let late = fan.optional("late", std::future::pending::<Result<u8, UpstreamError>>()).await;
/// assert_eq!(late.reason(), Some(DegradedReason::Timeout));
/// # }
/// ```
#[derive(Debug)]
pub struct Fanout {
    request_id: String,
    deadline: Deadline,
    started: Instant,
}

impl Fanout {
    /// A fan-out under the request's deadline.
    pub fn new(ctx: &RequestCtx) -> Self {
        Self {
            request_id: ctx.request_id.to_string(),
            deadline: ctx.deadline,
            started: Instant::now(),
        }
    }

    /// Runs an optional section (or a dotted nested part such as
    /// `recommendations.price`): its value, or degraded with the reason.
    pub fn optional<T>(
        &self,
        section: &'static str,
        call: impl Future<Output = Result<T, UpstreamError>>,
    ) -> impl Future<Output = Section<T>> {
        self.optional_cached(section, async { call.await.map(Cached::fresh) })
    }

    /// [`Self::optional`] for a call through the fragment cache, whose
    /// value may come stale.
    pub fn optional_cached<T>(
        &self,
        section: &'static str,
        call: impl Future<Output = Result<Cached<T>, UpstreamError>>,
    ) -> impl Future<Output = Section<T>> {
        let call = Box::pin(call);
        async move {
            let outcome = match self.bounded(call).await {
                Ok(Cached { value, stale: false }) => Outcome::Fresh(value),
                Ok(Cached { value, stale: true }) => Outcome::Stale(value),
                Err(e) => Outcome::Degraded(e.reason()),
            };
            Section::new(section, self.started.elapsed(), outcome)
        }
    }

    /// Runs a required section: its value, or the client error its failure
    /// means (404 `not_found`, 504 `upstream_timeout`, else 503).
    pub fn required<T>(
        &self,
        section: &'static str,
        call: impl Future<Output = Result<T, UpstreamError>>,
    ) -> impl Future<Output = Result<Required<T>, ApiError>> {
        self.required_cached(section, async { call.await.map(Cached::fresh) })
    }

    /// [`Self::required`] for a call through the fragment cache, whose
    /// value may come stale.
    pub fn required_cached<T>(
        &self,
        section: &'static str,
        call: impl Future<Output = Result<Cached<T>, UpstreamError>>,
    ) -> impl Future<Output = Result<Required<T>, ApiError>> {
        let call = Box::pin(call);
        async move {
            let Cached { value, stale } = self.bounded(call).await.map_err(UpstreamError::into_api_error)?;
            Ok(Required::new(section, self.started.elapsed(), value, stale))
        }
    }

    /// Upstream calls already stop at the deadline; this is the backstop
    /// for anything else a section awaits.
    ///
    /// The call comes boxed, and is boxed before any `async` wrapper holds
    /// it: a future passed by value through nested `async fn`s is stored
    /// once per level, so composites that nest sections inside sections
    /// would grow to hundreds of KiB (copied whole at every move and
    /// overflowing a debug build's stack). One small allocation per
    /// section keeps the handler's future a few pointers per section.
    async fn bounded<T, F>(&self, call: Pin<Box<F>>) -> Result<T, UpstreamError>
    where
        F: Future<Output = Result<T, UpstreamError>>,
    {
        tokio::time::timeout_at(self.deadline.instant(), call)
            .await
            .unwrap_or(Err(UpstreamError::Timeout))
    }

    /// `meta`, partiality and `Server-Timing` of the answer, from its
    /// outcomes (the rules are on [`Summary`]). List every section
    /// and nested part the answer has, top-level sections first.
    pub fn summary(&self, outcomes: &[&dyn Reported]) -> Summary {
        Summary::new(self.request_id.clone(), outcomes)
    }
}

#[cfg(test)]
mod tests;
