//! [`ClaimGuard`]: makes sure an owned key is always completed or freed.
//!
//! A handler's future can be dropped at any `.await` (the client hung up,
//! the server is shutting down). Without the guard its key would stay in
//! flight until the lease ran out, and every retry meanwhile would wait and
//! then get 409. Dropped without an outcome, the guard abandons the claim
//! on a spawned task (the store's calls are async, `Drop` is not).

use std::sync::Arc;

use super::{Claim, IdempotencyStore, ScopedKey, StoreError, StoredAnswer};

/// An owned key that is abandoned unless it is completed.
#[derive(Debug)]
pub struct ClaimGuard {
    store: Arc<dyn IdempotencyStore>,
    key: ScopedKey,
    /// `None` once the record was completed or abandoned.
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

    /// Records `answer`. If the store fails, the claim stays armed and is
    /// abandoned when the guard drops, so a retry is not locked out.
    pub async fn complete(mut self, answer: &StoredAnswer) -> Result<(), StoreError> {
        let Some(claim) = &self.claim else { return Ok(()) };
        self.store.complete(&self.key, claim, answer).await?;
        self.claim = None;
        Ok(())
    }

    /// Frees the key now (the attempt failed and recorded nothing).
    pub async fn abandon(mut self) -> Result<(), StoreError> {
        let Some(claim) = &self.claim else { return Ok(()) };
        self.store.abandon(&self.key, claim).await?;
        self.claim = None;
        Ok(())
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
