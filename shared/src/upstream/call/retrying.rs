//! A call's attempts beyond its first: the retry loops of a GET and a POST,
//! a GET's hedge, and the checks each extra attempt passes (time left,
//! breaker, cap, budget). The rules themselves (which failures, how long
//! to wait, the budget) are [`crate::upstream::retry`]'s.

use std::future::Future;
use std::time::Duration;

use http::Method;

use super::{Admitted, Outgoing, Tried, Upstream, UpstreamResponse};
use crate::context::RequestCtx;
use crate::upstream::error::UpstreamError;
use crate::upstream::retry;

/// An attempt beyond a call's first.
#[derive(Clone, Copy)]
enum Extra {
    Retry,
    Hedge,
}

impl Upstream {
    /// A GET with its retries and hedges. With neither configured it is
    /// exactly one attempt and the budget is not touched.
    pub(super) async fn get<T, F, Fut>(&self, ctx: &RequestCtx, path: &str, read: F) -> Result<T, UpstreamError>
    where
        F: Fn(UpstreamResponse) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let outgoing = Outgoing {
            method: Method::GET,
            path,
            body: None,
            headers: &[],
        };
        if !self.retry.active() {
            return self.call(ctx, outgoing, &read).await.result;
        }
        // Boxed: a hedged attempt holds two sends, and unboxed that would
        // make every call's future (retries off too) four times the size
        // of one attempt, copied whole at every move.
        Box::pin(self.get_with_retries(ctx, outgoing, read)).await
    }

    /// [`Self::get`] when retries or hedging are configured.
    async fn get_with_retries<T, F, Fut>(
        &self,
        ctx: &RequestCtx,
        outgoing: Outgoing<'_>,
        read: F,
    ) -> Result<T, UpstreamError>
    where
        F: Fn(UpstreamResponse) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        self.retry.deposit();
        let lead = match self.admit(ctx) {
            Ok(admitted) => self.send(ctx, outgoing.clone(), admitted, &read),
            Err(e) => {
                self.metrics.attempt(Err(e.reason()));
                return Err(e);
            }
        };
        let mut tried = self.hedged(ctx, &outgoing, &read, lead).await;
        for retry in 0..self.retry.retries {
            match &tried.result {
                Err(e) if retry::get_may_retry(*e) => {}
                _ => break,
            }
            let Some(admitted) = self.before_retry(ctx, retry, tried.elapsed).await else {
                break;
            };
            let lead = self.send(ctx, outgoing.clone(), admitted, &read);
            tried = self.hedged(ctx, &outgoing, &read, lead).await;
        }
        tried.result
    }

    /// Runs `lead`; if hedging is on and it has not finished after the
    /// hedge delay, sends the same GET once more (budget, breaker and cap
    /// permitting). The first success wins and the other attempt is
    /// dropped, which its guard counts as `cancelled`. A failure that a
    /// retry could mend (or a timeout of the lead alone) waits for the
    /// other attempt; any other result is final.
    async fn hedged<T, F, Fut>(
        &self,
        ctx: &RequestCtx,
        outgoing: &Outgoing<'_>,
        read: &F,
        lead: impl Future<Output = Tried<T>>,
    ) -> Tried<T>
    where
        F: Fn(UpstreamResponse) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let Some(delay) = self.retry.hedge else {
            return lead.await;
        };
        tokio::pin!(lead);
        tokio::select! {
            tried = &mut lead => return tried,
            () = tokio::time::sleep(delay) => {}
        }
        let Some(admitted) = self.admit_extra(ctx, Extra::Hedge) else {
            return lead.await;
        };
        let hedge = self.send(ctx, outgoing.clone(), admitted, read);
        tokio::pin!(hedge);
        let wait_for_other = |tried: &Tried<T>| match &tried.result {
            Ok(_) => false,
            Err(e) => *e == UpstreamError::Timeout || retry::get_may_retry(*e),
        };
        tokio::select! {
            tried = &mut lead => if wait_for_other(&tried) { hedge.await } else { tried },
            tried = &mut hedge => if wait_for_other(&tried) { lead.await } else { tried },
        }
    }

    /// Whether a retry after waiting `wait` still has time for another
    /// attempt before the deadline (see [`super::retry`] for the estimate).
    pub(super) fn fits(&self, ctx: &RequestCtx, wait: Duration, failed: Duration) -> bool {
        let expected = self.retry.expected_attempt(failed);
        let expected = self.timeout.map_or(expected, |own| expected.min(own));
        wait.saturating_add(expected) < ctx.deadline.remaining()
    }

    /// The wait before retry number `retry` (from 0), when the deadline
    /// covers it plus a usual attempt (the failed one took `elapsed`); then
    /// the retry's admission. `None`: no retry.
    async fn before_retry(&self, ctx: &RequestCtx, retry: u32, elapsed: Duration) -> Option<Admitted<'_>> {
        let wait = self.retry.backoff(retry);
        if !self.fits(ctx, wait, elapsed) {
            return None;
        }
        tokio::time::sleep(wait).await;
        self.admit_extra(ctx, Extra::Retry)
    }

    /// Admission of a retry or hedge: time left, the breaker, the cap and
    /// the budget. One refused is not sent and not counted as an attempt;
    /// the call's failure (or its first attempt) stands.
    fn admit_extra(&self, ctx: &RequestCtx, extra: Extra) -> Option<Admitted<'_>> {
        let admitted = self.admit(ctx).ok()?;
        if !self.retry.withdraw() {
            tracing::debug!(upstream = self.name, request_id = %ctx.request_id, "retry budget spent");
            return None;
        }
        match extra {
            Extra::Retry => self.metrics.retry(),
            Extra::Hedge => self.metrics.hedge(),
        }
        Some(admitted)
    }

    /// A POST with its retries: only after a connection that failed before
    /// the request was written, each with the same headers.
    pub(super) async fn post<T, F, Fut>(
        &self,
        ctx: &RequestCtx,
        outgoing: Outgoing<'_>,
        read: &F,
    ) -> Result<T, UpstreamError>
    where
        F: Fn(UpstreamResponse) -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        if self.retry.retries == 0 {
            return self.call(ctx, outgoing, read).await.result;
        }
        self.retry.deposit();
        let mut tried = self.call(ctx, outgoing.clone(), read).await;
        for retry in 0..self.retry.retries {
            if !(tried.unsent && tried.result.as_ref().is_err_and(|e| *e == UpstreamError::Transport)) {
                break;
            }
            let Some(admitted) = self.before_retry(ctx, retry, tried.elapsed).await else {
                break;
            };
            tried = self.send(ctx, outgoing.clone(), admitted, read).await;
        }
        tried.result
    }
}
