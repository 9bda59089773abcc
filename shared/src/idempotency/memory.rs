//! [`MemoryStore`]: idempotency records in process memory, for a single
//! replica (several replicas need a shared store, or a retry that reaches
//! another replica would not find the record).
//!
//! Records live in a moka cache bounded by bytes and by the TTL, so a flood
//! of keys cannot exhaust memory. The price of the bound: a record evicted
//! early is forgotten, and a retry with its key goes upstream again. That
//! is safe for checkout because the key is forwarded and orders is itself
//! idempotent by it; only the `idempotency_key_reused` check is lost for it.
//!
//! Every change to a key is one `and_compute_with` call, which moka runs
//! under a per-key lock and never across our own `.await`: the decision is
//! made synchronously inside the closure. Waiters of an in-flight record
//! subscribe to its `watch` channel inside that same call, so a completion
//! that follows cannot be missed.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use moka::Entry;
use moka::future::Cache;
use moka::ops::compute::Op;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Begin, Claim, Fingerprint, IdempotencyStore, ScopedKey, StoreError, StoredAnswer};

/// Bytes charged to every record on top of its key and body (the slot, the
/// cache's own bookkeeping), so that records with tiny bodies still count.
const RECORD_OVERHEAD: usize = 160;

/// A waiter whose owner's channel vanished (the record was evicted) looks
/// again after this long rather than spinning.
const REPOLL: Duration = Duration::from_millis(5);

/// Idempotency records in process memory.
pub struct MemoryStore {
    cache: Cache<ScopedKey, Slot>,
}

/// One key's record.
#[derive(Clone)]
enum Slot {
    InFlight(Arc<InFlight>),
    Done(Arc<Done>),
}

/// A request that owns its key and has not finished.
struct InFlight {
    claim: Claim,
    /// When a `begin` may take the key over from a vanished owner.
    lease_until: Instant,
    /// Pinged when the owner completes or abandons; waiters hold receivers.
    finished: watch::Sender<()>,
}

/// A completed request and its answer.
struct Done {
    fingerprint: Fingerprint,
    answer: StoredAnswer,
}

/// What `begin` decided under the key's lock.
enum Decision {
    Owner,
    Replay(StoredAnswer),
    Mismatch,
    Wait {
        finished: watch::Receiver<()>,
        lease_until: Instant,
    },
}

impl MemoryStore {
    /// A store whose records live for `ttl` after they complete (at least
    /// one second), holding at most about `max_bytes` of keys and answers.
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .name("idempotency")
            .max_capacity(max_bytes)
            .weigher(|key: &ScopedKey, slot: &Slot| {
                let body = match slot {
                    Slot::InFlight(_) => 0,
                    Slot::Done(done) => done.answer.body.len(),
                };
                u32::try_from(key.weight() + body + RECORD_OVERHEAD).unwrap_or(u32::MAX)
            })
            .time_to_live(ttl.max(Duration::from_secs(1)))
            .build();
        Self { cache }
    }

    /// The bytes held once moka has applied its pending evictions.
    #[cfg(test)]
    pub(super) async fn settled_bytes(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.weighted_size()
    }

    async fn begin_inner(
        &self,
        key: &ScopedKey,
        fingerprint: &Fingerprint,
        lease: Duration,
        wait_until: Instant,
    ) -> Result<Begin, StoreError> {
        loop {
            let now = Instant::now();
            let claim = Claim::new(*fingerprint);
            let mut decision = None;
            self.cache
                .entry_by_ref(key)
                .and_compute_with(|current| {
                    let (op, decided) = decide(current.as_ref().map(Entry::value), &claim, now, lease);
                    decision = Some(decided);
                    std::future::ready(op)
                })
                .await;
            match decision {
                Some(Decision::Owner) => return Ok(Begin::Owner(claim)),
                Some(Decision::Replay(answer)) => return Ok(Begin::Replay(answer)),
                Some(Decision::Mismatch) => return Ok(Begin::Mismatch),
                Some(Decision::Wait {
                    mut finished,
                    lease_until,
                }) => {
                    if now >= wait_until {
                        return Ok(Begin::InProgress {
                            retry_after: lease_until.saturating_duration_since(now),
                        });
                    }
                    // Look again when the owner finishes, its lease runs
                    // out, or our own wait is over, whichever comes first.
                    tokio::select! {
                        changed = finished.changed() => {
                            if changed.is_err() {
                                tokio::time::sleep(REPOLL).await;
                            }
                        }
                        () = tokio::time::sleep_until(wait_until.min(lease_until)) => {}
                    }
                }
                None => return Err(StoreError("the cache did not run the compute step".into())),
            }
        }
    }

    /// Replaces or removes the record `claim` owns; `done` is the record to
    /// leave, `None` to free the key. Wakes the owner's waiters.
    async fn finish(&self, key: &ScopedKey, claim: &Claim, done: Option<Done>) {
        self.cache
            .entry_by_ref(key)
            .and_compute_with(|current| {
                let op = match (current.as_ref().map(Entry::value), done) {
                    (Some(Slot::InFlight(flight)), done) if flight.claim.token() == claim.token() => {
                        // Waiters re-run their compute step, which waits for
                        // this one to finish, so they see the new record.
                        flight.finished.send_replace(());
                        match done {
                            Some(done) => Op::Put(Slot::Done(Arc::new(done))),
                            None => Op::Remove,
                        }
                    }
                    // Our lease ran out and nobody took the key: the answer
                    // is still worth keeping.
                    (None, Some(done)) => Op::Put(Slot::Done(Arc::new(done))),
                    // Someone else owns or completed the key: theirs stands.
                    _ => Op::Nop,
                };
                std::future::ready(op)
            })
            .await;
    }
}

/// The decision for a `begin` that finds `current`, as of `now`.
fn decide(current: Option<&Slot>, claim: &Claim, now: Instant, lease: Duration) -> (Op<Slot>, Decision) {
    match current {
        Some(Slot::Done(done)) if done.fingerprint == *claim.fingerprint() => {
            (Op::Nop, Decision::Replay(done.answer.clone()))
        }
        Some(Slot::Done(_)) => (Op::Nop, Decision::Mismatch),
        Some(Slot::InFlight(flight)) if flight.lease_until > now => {
            if flight.claim.fingerprint() == claim.fingerprint() {
                let finished = flight.finished.subscribe();
                (
                    Op::Nop,
                    Decision::Wait {
                        finished,
                        lease_until: flight.lease_until,
                    },
                )
            } else {
                (Op::Nop, Decision::Mismatch)
            }
        }
        // Free, or held by an owner whose lease ran out: ours now.
        None | Some(Slot::InFlight(_)) => {
            let (finished, _) = watch::channel(());
            let flight = InFlight {
                claim: claim.clone(),
                lease_until: now + lease,
                finished,
            };
            (Op::Put(Slot::InFlight(Arc::new(flight))), Decision::Owner)
        }
    }
}

impl IdempotencyStore for MemoryStore {
    fn begin<'a>(
        &'a self,
        key: &'a ScopedKey,
        fingerprint: &'a Fingerprint,
        lease: Duration,
        wait_until: Instant,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        Box::pin(self.begin_inner(key, fingerprint, lease, wait_until))
    }

    fn complete<'a>(
        &'a self,
        key: &'a ScopedKey,
        claim: &'a Claim,
        answer: &'a StoredAnswer,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let done = Done {
                fingerprint: *claim.fingerprint(),
                answer: answer.clone(),
            };
            self.finish(key, claim, Some(done)).await;
            Ok(())
        })
    }

    fn abandon<'a>(&'a self, key: &'a ScopedKey, claim: &'a Claim) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.finish(key, claim, None).await;
            Ok(())
        })
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("records", &self.cache.entry_count())
            .field("bytes", &self.cache.weighted_size())
            .finish()
    }
}
