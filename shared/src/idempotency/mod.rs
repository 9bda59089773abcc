//! Idempotent writes: the record of a request made under an
//! `Idempotency-Key`, so that a client that retries gets the first answer
//! again instead of a second effect (docs/api.md#checkout-and-idempotency).
//!
//! This module owns the life cycle of a record and the contract every
//! store keeps ([`IdempotencyStore`]); [`MemoryStore`] is the in-process
//! store. What a request *is* (its [`Fingerprint`]) and which answers are
//! worth recording are the endpoint's business, not this module's.
//!
//! A record is keyed by user and key ([`ScopedKey`]), so two users who send
//! the same key have two records. Its life:
//!
//! ```text
//! begin ─┬─► Owner(claim) ── do the work ─┬─► complete(answer)  later begins replay it
//!        │                                └─► abandon            the key is free again
//!        ├─► Replay(answer)        completed before with the same fingerprint
//!        ├─► Mismatch              used before (or now) with another fingerprint
//!        └─► InProgress            another request holds it past our wait
//! ```
//!
//! A `begin` that finds the same request in flight waits (up to its own
//! deadline) for that request's outcome: the answer if it completes, the
//! ownership if it abandons. An owner that vanishes without either (a
//! crashed replica) loses the key when its lease runs out.
//!
//! ```
//! use std::time::Duration;
//! use bff_shared::idempotency::{Begin, Fingerprint, IdempotencyStore, MemoryStore, ScopedKey, StoredAnswer};
//!
//! # tokio_test_block_on(async {
//! let store = MemoryStore::new(Duration::from_secs(3600), 1 << 20);
//! let key = ScopedKey::new("u-1", "key-1");
//! let request = Fingerprint::of(b"the canonical request");
//! let wait_until = tokio::time::Instant::now() + Duration::from_millis(100);
//!
//! let Begin::Owner(claim) = store.begin(&key, &request, Duration::from_secs(1), wait_until).await? else {
//!     unreachable!("a fresh key is ours");
//! };
//! let answer = StoredAnswer { status: 201, body: "{\"order\":{}}".into() };
//! store.complete(&key, &claim, &answer).await?;
//!
//! // A retry of the same request replays the answer.
//! let again = store.begin(&key, &request, Duration::from_secs(1), wait_until).await?;
//! assert!(matches!(again, Begin::Replay(a) if a == answer));
//! # Ok::<(), bff_shared::idempotency::StoreError>(())
//! # }).unwrap();
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
//! # }
//! ```

mod guard;
mod key;
mod memory;
mod redis;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

pub use guard::ClaimGuard;
pub use key::{IdempotencyKey, MAX_KEY_LEN, ScopedKey, is_valid_key};
pub use memory::MemoryStore;
pub use redis::RedisStore;

/// A digest of the canonical form of a request: two requests with the same
/// fingerprint are the same request, whatever their formatting.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The SHA-256 of `canonical`, the request's canonical form (the
    /// endpoint defines it; it should name the endpoint, so that one key
    /// cannot collide across endpoints).
    pub fn of(canonical: &[u8]) -> Self {
        Self(Sha256::digest(canonical).into())
    }

    /// A fingerprint read back from a store.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest, for storing.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first 8 bytes tell records apart in logs; the rest is noise.
        write!(f, "Fingerprint(")?;
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "…)")
    }
}

/// The answer recorded for a completed request, replayed byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswer {
    /// The HTTP status (checkout records only its 201).
    pub status: u16,
    /// The body, exactly as first sent.
    pub body: Bytes,
}

/// The proof that one request owns a key: only its holder may complete or
/// abandon the record, so an owner whose lease ran out cannot overwrite the
/// work of the request that took the key over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    token: u128,
    fingerprint: Fingerprint,
}

impl Claim {
    /// A new claim with a random token, for the request with `fingerprint`.
    pub fn new(fingerprint: Fingerprint) -> Self {
        Self {
            token: uuid::Uuid::new_v4().as_u128(),
            fingerprint,
        }
    }

    /// A claim read back from a store.
    pub fn from_parts(token: u128, fingerprint: Fingerprint) -> Self {
        Self { token, fingerprint }
    }

    /// The owner's random token.
    pub fn token(&self) -> u128 {
        self.token
    }

    /// The fingerprint of the request that owns the key.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }
}

/// What [`IdempotencyStore::begin`] found.
#[derive(Debug)]
pub enum Begin {
    /// The key was free (or its owner's lease ran out): the caller owns it
    /// now, does the work, then completes or abandons the record.
    Owner(Claim),
    /// The same request completed before: send this answer again.
    Replay(StoredAnswer),
    /// The key was used for a different request (completed or in flight).
    Mismatch,
    /// The same request is still in flight and did not finish by the
    /// caller's `wait_until`.
    InProgress {
        /// How long the owner's lease still runs: a sensible `Retry-After`.
        retry_after: Duration,
    },
}

/// The store could not be reached or answered nonsense. Callers fail
/// closed: no record, no write (checkout answers 503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("idempotency store failed: {0}")]
pub struct StoreError(pub String);

/// Where idempotency records live: process memory ([`MemoryStore`]) or a
/// store shared by replicas (Redis).
///
/// Object safe, so a [`Platform`](crate::platform::Platform) holds an
/// `Arc<dyn IdempotencyStore>`; the methods return boxed futures instead of
/// using `async fn` for that reason. Every operation on one key must be
/// atomic with respect to the others on that key (a Redis store: `SET NX`
/// plus scripts comparing the claim's token). No implementation may hold a
/// lock across an `.await`.
pub trait IdempotencyStore: Send + Sync + fmt::Debug {
    /// Claims `key` for the request with `fingerprint`, or reports why not.
    ///
    /// On a free key (or one whose owner's lease has run out) it records the
    /// request as in flight, owned by the returned [`Claim`] for `lease`.
    /// If the same request is in flight, it waits until that one completes
    /// (→ `Replay`), abandons (→ the key is claimed again), or `wait_until`
    /// passes (→ `InProgress`). It returns by `wait_until` plus the store's
    /// own I/O time.
    fn begin<'a>(
        &'a self,
        key: &'a ScopedKey,
        fingerprint: &'a Fingerprint,
        lease: Duration,
        wait_until: Instant,
    ) -> BoxFuture<'a, Result<Begin, StoreError>>;

    /// Records `answer` for the request `claim` owns and wakes its waiters.
    /// The record then lives for the store's TTL. If another request has
    /// taken the key over meanwhile, its record is left alone.
    fn complete<'a>(
        &'a self,
        key: &'a ScopedKey,
        claim: &'a Claim,
        answer: &'a StoredAnswer,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Frees the key `claim` owns (the attempt failed, nothing to replay)
    /// and wakes its waiters, one of which then owns it.
    fn abandon<'a>(&'a self, key: &'a ScopedKey, claim: &'a Claim) -> BoxFuture<'a, Result<(), StoreError>>;
}
