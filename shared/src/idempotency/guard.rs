//! [`ClaimGuard`]: makes sure an owned key is always completed or freed.
//!
//! A handler's future can be dropped at any `.await` (the client hung up,
//! the server is shutting down). Without the guard its key would stay in
//! flight until the lease ran out, and every retry meanwhile would wait and
//! then get 409. Dropped without an outcome, the guard abandons the claim
//! on a spawned task (the store's calls are async, `Drop` is not).
//!
//! Recording an answer happens after the work is done (for checkout: the
//! order is placed), so it must not be lost to a passing store failure, nor
//! hold the answer past the request's deadline. [`ClaimGuard::complete`]
//! tries once within the deadline; if that fails it keeps trying on a
//! spawned task ([`RECORD_ATTEMPTS`] times, [`RECORD_RETRY_EVERY`] apart)
//! and never abandons the claim: meanwhile a retry of the same request
//! waits for the record (or gets 409 `idempotency_key_in_progress`) rather
//! than doing the work again. If every attempt fails, the lease frees the
//! key; a retry then does the work again, which is why checkout forwards
//! the key to orders, idempotent by it (the retry gets the same order).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Claim, IdempotencyStore, ScopedKey, StoreError, StoredAnswer};

/// How many times, in all, a completed request's answer is offered to the
/// store in the background after the in-request attempt failed.
pub(crate) const RECORD_ATTEMPTS: u32 = 10;
/// The pause between two background attempts: with [`RECORD_ATTEMPTS`],
/// the record survives a store outage of about five seconds.
pub(crate) const RECORD_RETRY_EVERY: Duration = Duration::from_millis(500);

/// An owned key that is abandoned unless it is completed.
#[derive(Debug)]
pub struct ClaimGuard {
    store: Arc<dyn IdempotencyStore>,
    key: ScopedKey,
    /// `None` once the record was completed, abandoned or handed to a task.
    claim: Option<Claim>,
}

impl ClaimGuard {
    /// Guards `claim` on `key` in `store`.
    pub fn new(store: Arc<dyn IdempotencyStore>, key: ScopedKey, claim: Claim) -> Self {
        Self {
            store,
            key,
            claim: Some(claim),
        }
    }

    /// Records `answer`, waiting for the store at most until `deadline`.
    ///
    /// On failure (or no answer by then) the error is returned at once and
    /// recording goes on in the background (see the module docs); the key
    /// is not freed.
    pub async fn complete(mut self, answer: &StoredAnswer, deadline: Instant) -> Result<(), StoreError> {
        let Some(claim) = self.claim.take() else { return Ok(()) };
        let error = match tokio::time::timeout_at(deadline, self.store.complete(&self.key, &claim, answer)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => StoreError("no answer from the store by the deadline".into()),
        };
        let (store, key, answer) = (self.store.clone(), self.key.clone(), answer.clone());
        tokio::spawn(async move {
            for _ in 0..RECORD_ATTEMPTS {
                tokio::time::sleep(RECORD_RETRY_EVERY).await;
                match store.complete(&key, &claim, &answer).await {
                    Ok(()) => {
                        tracing::info!("recorded an idempotent answer on a later attempt");
                        return;
                    }
                    Err(e) => tracing::debug!(error = %e, "recording an idempotent answer failed again"),
                }
            }
            tracing::error!(
                "gave up recording an idempotent answer; a retry with its key will redo the work once its lease ends"
            );
        });
        Err(error)
    }

    /// Frees the key (the attempt failed and recorded nothing), waiting for
    /// the store at most until `deadline`; past it, or if the store fails,
    /// the guard's drop tries once more in the background, then the lease.
    pub async fn abandon(mut self, deadline: Instant) -> Result<(), StoreError> {
        let Some(claim) = &self.claim else { return Ok(()) };
        match tokio::time::timeout_at(deadline, self.store.abandon(&self.key, claim)).await {
            Ok(Ok(())) => {
                self.claim = None;
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError("no answer from the store by the deadline".into())),
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let Some(claim) = self.claim.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (shutting down): the lease frees the key.
            return;
        };
        let store = self.store.clone();
        let key = self.key.clone();
        runtime.spawn(async move {
            if let Err(e) = store.abandon(&key, &claim).await {
                tracing::warn!(error = %e, "could not free an idempotency key; its lease will");
            }
        });
    }
}
