//! The JWKS key cache: signing keys fetched from the identity provider's
//! JWKS URL, looked up by the token's `kid`.
//!
//! What it owns:
//! - turning each JWK into a key plus the one algorithm it may verify
//!   (declared by the JWK's `alg`, else implied by its key type); symmetric
//!   (`oct`) keys and encryption keys are skipped, so a JWKS can never turn
//!   a public key into an HMAC secret;
//! - refreshing on an unknown `kid`, single-flight (concurrent misses share
//!   one fetch) and at most once per [`MIN_REFRESH_INTERVAL`], so a key
//!   published under a new `kid` is accepted about a second later while a
//!   flood of made-up `kid`s costs the endpoint one request per second;
//! - refreshing in the background every `BFF_JWT_JWKS_REFRESH_SECS`
//!   (default 300), so a key *removed* from the JWKS stops being accepted
//!   within one period even if no unknown `kid` ever shows up. The task
//!   holds only a [`Weak`] reference (it ends when the verifier is
//!   dropped), goes through the same single-flight gate, and starts its
//!   next period only when a fetch has finished, so a failing or slow
//!   endpoint gets at most one background fetch per period (each bounded
//!   by a 2 s timeout), never a retry storm;
//! - keeping the old keys when a fetch fails (or yields no usable key).
//!
//! Claim checks and error mapping are [`Verifier`](super::Verifier)'s.
//!
//! Trade-off: while the endpoint fails, the last good keys stay trusted
//! (removed ones included): refusing every token because the identity
//! provider is briefly down would be the worse outage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::time::Instant;

/// Minimum time between two fetches of the JWKS.
pub(crate) const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Time limit on one fetch, connect to last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// A JWKS larger than this is refused rather than buffered.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// One usable verification key and the only algorithm it accepts.
#[derive(Debug)]
pub(crate) struct JwksKey {
    pub(crate) key: DecodingKey,
    pub(crate) alg: Algorithm,
}

/// An immutable snapshot of the fetched keys; replaced whole on refresh.
#[derive(Debug, Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<JwksKey>>,
    /// The key for tokens without `kid`: set only when the JWKS holds
    /// exactly one usable key, so such a token is never ambiguous.
    only: Option<Arc<JwksKey>>,
}

impl KeySet {
    fn find(&self, kid: Option<&str>) -> Option<Arc<JwksKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None => self.only.clone(),
        }
    }
}

/// The cache; cheap to clone (one shared inner state).
#[derive(Clone)]
pub(crate) struct Jwks {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    http: reqwest::Client,
    /// std lock: held only to clone or swap the `Arc`, never across `.await`.
    keys: RwLock<Arc<KeySet>>,
    /// Completed fetch attempts (success or not). A miss that waited for the
    /// gate compares it with the value it saw before, to learn that someone
    /// else fetched meanwhile and not fetch again.
    attempts: AtomicU64,
    /// Single-flight gate; holds when the last fetch started (rate limit).
    /// A tokio mutex because its holder awaits the fetch.
    gate: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.inner.url)
            .field("keys", &self.inner.snapshot().by_kid.len())
            .finish()
    }
}

impl Jwks {
    /// A cache for `url`, after one fetch attempt. A failed first fetch only
    /// logs a warning: the endpoint may come up after us, and the next token
    /// retries (subject to the rate limit).
    ///
    /// Then refreshes every `period` in the background (see the module docs).
    pub(crate) async fn start(url: String, http: reqwest::Client, period: Duration) -> Self {
        let jwks = Self {
            inner: Arc::new(Inner {
                url,
                http,
                keys: RwLock::new(Arc::default()),
                attempts: AtomicU64::new(0),
                gate: Arc::new(tokio::sync::Mutex::new(None)),
            }),
        };
        let mut gate = jwks.inner.gate.lock().await;
        *gate = Some(Instant::now());
        jwks.inner.refresh().await;
        drop(gate);
        tokio::spawn(refresh_every(period, Arc::downgrade(&jwks.inner)));
        jwks
    }

    /// Changes whenever a fetch completes (whether or not the keys did),
    /// so a token checked against older keys is checked again.
    pub(crate) fn generation(&self) -> u64 {
        self.inner.attempts.load(Ordering::Acquire)
    }

    /// The key for a token's `kid` (or for a token without one), refreshing
    /// once on a miss if the rate limit allows. `None`: no such key.
    pub(crate) async fn key_for(&self, kid: Option<&str>) -> Option<Arc<JwksKey>> {
        // Read the counter before the keys: a fetch that lands in between
        // then shows up as a changed counter, never as a missed refresh.
        let seen = self.inner.attempts.load(Ordering::Acquire);
        if let Some(key) = self.inner.snapshot().find(kid) {
            return Some(key);
        }
        let mut gate = self.inner.gate.clone().lock_owned().await;
        let fetched_meanwhile = self.inner.attempts.load(Ordering::Acquire) != seen;
        let now = Instant::now();
        let allowed = gate.is_none_or(|last| now.duration_since(last) >= MIN_REFRESH_INTERVAL);
        if !fetched_meanwhile && allowed {
            *gate = Some(now);
            // The fetch runs as its own task that owns the gate, so a caller
            // that gives up (client gone) neither cancels it nor releases
            // the gate early.
            let inner = self.inner.clone();
            let fetch = tokio::spawn(async move {
                inner.refresh().await;
                drop(gate);
            });
            if let Err(e) = fetch.await {
                tracing::warn!(error = %e, "JWKS refresh task failed");
            }
        } else {
            drop(gate);
            if !fetched_meanwhile {
                tracing::debug!(kid = kid.unwrap_or("<none>"), "unknown JWKS kid; refresh rate-limited");
            }
        }
        self.inner.snapshot().find(kid)
    }
}

/// The background refresh: one fetch per `period` while the cache lives.
async fn refresh_every(period: Duration, cache: Weak<Inner>) {
    // Never faster than misses may refresh, whatever the configuration.
    let period = period.max(MIN_REFRESH_INTERVAL);
    loop {
        tokio::time::sleep(period).await;
        // Upgraded only for the fetch, so the task never keeps the cache alive.
        let Some(inner) = cache.upgrade() else { break };
        let mut gate = inner.gate.lock().await;
        *gate = Some(Instant::now());
        inner.refresh().await;
        drop(gate);
    }
}

impl Inner {
    fn snapshot(&self) -> Arc<KeySet> {
        // A poisoned lock only means a panic elsewhere mid-swap of an Arc;
        // the value is still a whole snapshot.
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// One fetch; on success the snapshot is replaced, on failure the old
    /// keys stay. Counts the attempt either way.
    async fn refresh(&self) {
        match self.fetch().await {
            Ok(set) => {
                tracing::debug!(keys = set.by_kid.len(), "JWKS refreshed");
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
            }
            Err(reason) => {
                tracing::warn!(url = %self.url, %reason, "JWKS fetch failed; keeping the previous keys")
            }
        }
        self.attempts.fetch_add(1, Ordering::Release);
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let mut response = self
            .http
            .get(&self.url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        parse_key_set(&body)
    }
}

/// Parses a JWKS document, keeping the usable keys. Keys are parsed one by
/// one so that one exotic key does not hide the others.
fn parse_key_set(body: &[u8]) -> Result<KeySet, String> {
    #[derive(serde::Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let raw: RawSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut set = KeySet::default();
    let mut usable = Vec::new();
    for value in raw.keys {
        let jwk: Jwk = match serde_json::from_value(value) {
            Ok(jwk) => jwk,
            Err(e) => {
                tracing::debug!(error = %e, "skipping an unparsable JWK");
                continue;
            }
        };
        let kid = jwk.common.key_id.clone();
        match usable_key(&jwk) {
            Ok(key) => usable.push((kid, Arc::new(key))),
            Err(why) => tracing::debug!(kid = kid.as_deref().unwrap_or("<none>"), why, "skipping a JWK"),
        }
    }
    if usable.is_empty() {
        // Most likely a broken deployment of the provider: keep what we had.
        return Err("the JWKS holds no usable signing key".into());
    }
    if let [(_, key)] = usable.as_slice() {
        set.only = Some(key.clone());
    }
    for (kid, key) in usable {
        if let Some(kid) = kid {
            set.by_kid.entry(kid).or_insert(key);
        }
    }
    Ok(set)
}

/// The key and its one algorithm, or why the JWK cannot verify our tokens.
fn usable_key(jwk: &Jwk) -> Result<JwksKey, &'static str> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return Err("not a signature key");
    }
    // What the key type allows, and what it implies when `alg` is absent.
    let (allowed, implied): (&[Algorithm], Algorithm) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (
            &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            Algorithm::RS256,
        ),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => (&[Algorithm::ES256], Algorithm::ES256),
            EllipticCurve::P384 => (&[Algorithm::ES384], Algorithm::ES384),
            _ => return Err("unsupported curve"),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            (&[Algorithm::EdDSA], Algorithm::EdDSA)
        }
        AlgorithmParameters::OctetKeyPair(_) => return Err("unsupported curve"),
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric keys are never accepted from a JWKS");
        }
    };
    let alg = match jwk.common.key_algorithm {
        None => implied,
        Some(declared) => declared_algorithm(declared).ok_or("unsupported or non-signature alg")?,
    };
    if !allowed.contains(&alg) {
        return Err("alg does not match the key type");
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "malformed key parameters")?;
    Ok(JwksKey { key, alg })
}

fn declared_algorithm(declared: KeyAlgorithm) -> Option<Algorithm> {
    Some(match declared {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        // HS* (a secret has no business in a public JWKS), encryption
        // algorithms and anything unknown.
        _ => return None,
    })
}
