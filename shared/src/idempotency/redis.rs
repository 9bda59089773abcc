//! The Redis store: one record per user and key, shared by every replica.
//!
//! Each operation is one Lua script, so check-and-set on a key is atomic
//! across replicas. An in-flight record's lease is the Redis key's own
//! expiry: an owner that vanishes (a crashed replica) frees the key when it
//! runs out. Redis has no cheap "wake me when this key changes", so a
//! duplicate waiting for an in-flight request polls every [`POLL`]. Any
//! Redis failure is a [`StoreError`]: checkout fails closed.
//!
//! Every call is bounded by `BFF_REDIS_TIMEOUT_MS` ([`SharedRedis::call`]);
//! `begin`'s also by its `wait_until` (the request's deadline), so a Redis
//! that never answers costs checkout that bound, not its deadline. A poll
//! that runs out of deadline while waiting for an in-flight duplicate
//! reports [`Begin::InProgress`], as if it had found the record unchanged.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use redis::{Script, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::{Begin, Claim, Fingerprint, IdempotencyStore, ScopedKey, StoreError, StoredAnswer};
use crate::redis_conn::{RedisDown, SharedRedis};

/// How often a waiting duplicate looks at an in-flight record again.
const POLL: Duration = Duration::from_millis(25);

/// KEYS[1] record. ARGV: fingerprint, token, lease ms.
/// Returns {"owner"} | {"replay", status, body} | {"mismatch"} | {"wait", pttl}.
const BEGIN: &str = r#"
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'state', 'inflight', 'fp', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'owner'}
end
local fp = redis.call('HGET', KEYS[1], 'fp')
if fp ~= ARGV[1] then return {'mismatch'} end
if state == 'done' then
  return {'replay', redis.call('HGET', KEYS[1], 'status'), redis.call('HGET', KEYS[1], 'body')}
end
return {'wait', redis.call('PTTL', KEYS[1])}
"#;

/// KEYS[1] record. ARGV: fingerprint, token, status, body, ttl ms.
/// Completes only the caller's own claim, or a key nobody holds any more.
const COMPLETE: &str = r#"
local state = redis.call('HGET', KEYS[1], 'state')
if state and (state ~= 'inflight' or redis.call('HGET', KEYS[1], 'token') ~= ARGV[2]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'done', 'fp', ARGV[1], 'status', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"#;

/// KEYS[1] record. ARGV: token. Frees the key if the caller still owns it.
const ABANDON: &str = r#"
if redis.call('HGET', KEYS[1], 'state') == 'inflight' and redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Idempotency records in Redis.
pub struct RedisStore {
    redis: Arc<SharedRedis>,
    ttl: Duration,
    begin: Script,
    complete: Script,
    abandon: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("ttl", &self.ttl).finish()
    }
}

enum Found {
    Begin(Begin),
    Wait(Duration),
}

impl RedisStore {
    /// A store over `redis` whose completed records live for `ttl`.
    pub fn new(redis: Arc<SharedRedis>, ttl: Duration) -> Self {
        Self {
            redis,
            ttl: ttl.max(Duration::from_secs(1)),
            begin: Script::new(BEGIN),
            complete: Script::new(COMPLETE),
            abandon: Script::new(ABANDON),
        }
    }

    /// The Redis key: a digest, so no user or key text reaches Redis
    /// key space (no delimiter games, bounded length).
    fn record_key(key: &ScopedKey) -> String {
        let mut hasher = Sha256::new();
        hasher.update(key.user().as_bytes());
        hasher.update([0]);
        hasher.update(key.key().as_bytes());
        let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("bff:idem:{hex}")
    }

    /// Runs `script` on `key` within the Redis timeout and `deadline`.
    async fn invoke(
        &self,
        script: &Script,
        key: &str,
        args: &[Vec<u8>],
        deadline: Option<Instant>,
    ) -> Result<Value, RedisDown> {
        self.redis
            .call(deadline, |mut connection| async move {
                let mut invocation = script.key(key);
                for arg in args {
                    invocation.arg(arg.as_slice());
                }
                invocation.invoke_async(&mut connection).await
            })
            .await
    }

    async fn try_begin(
        &self,
        record: &str,
        claim: &Claim,
        lease: Duration,
        deadline: Instant,
    ) -> Result<Result<Found, StoreError>, RedisDown> {
        let args = [
            hex(claim.fingerprint().as_bytes()).into_bytes(),
            claim.token().to_string().into_bytes(),
            lease.as_millis().max(1).to_string().into_bytes(),
        ];
        let reply = self.invoke(&self.begin, record, &args, Some(deadline)).await?;
        Ok(Self::read_begin(reply, claim))
    }

    fn read_begin(reply: Value, claim: &Claim) -> Result<Found, StoreError> {
        let Value::Array(items) = reply else {
            return Err(StoreError("unexpected reply to begin".into()));
        };
        match items.as_slice() {
            [tag] if is(tag, "owner") => Ok(Found::Begin(Begin::Owner(claim.clone()))),
            [tag] if is(tag, "mismatch") => Ok(Found::Begin(Begin::Mismatch)),
            [tag, status, body] if is(tag, "replay") => {
                let status = text(status)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| StoreError("bad status".into()))?;
                let body = bytes(body).ok_or_else(|| StoreError("bad body".into()))?;
                Ok(Found::Begin(Begin::Replay(StoredAnswer { status, body })))
            }
            [tag, Value::Int(pttl)] if is(tag, "wait") => {
                Ok(Found::Wait(Duration::from_millis(u64::try_from(*pttl).unwrap_or(0))))
            }
            _ => Err(StoreError("unexpected reply to begin".into())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bytes(value: &Value) -> Option<Bytes> {
    match value {
        Value::BulkString(data) => Some(Bytes::copy_from_slice(data)),
        Value::SimpleString(s) => Some(Bytes::copy_from_slice(s.as_bytes())),
        _ => None,
    }
}

fn text(value: &Value) -> Option<String> {
    bytes(value).and_then(|b| String::from_utf8(b.to_vec()).ok())
}

fn is(value: &Value, tag: &str) -> bool {
    text(value).as_deref() == Some(tag)
}

impl IdempotencyStore for RedisStore {
    fn begin<'a>(
        &'a self,
        key: &'a ScopedKey,
        fingerprint: &'a Fingerprint,
        lease: Duration,
        wait_until: Instant,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        Box::pin(async move {
            let record = Self::record_key(key);
            let claim = Claim::new(*fingerprint);
            // The lease left on the in-flight record we last saw, and when.
            let mut seen: Option<(Duration, Instant)> = None;
            let in_progress = |(lease_left, at): (Duration, Instant)| Begin::InProgress {
                retry_after: lease_left.saturating_sub(at.elapsed()),
            };
            loop {
                match self.try_begin(&record, &claim, lease, wait_until).await {
                    Ok(found) => match found? {
                        Found::Begin(begin) => return Ok(begin),
                        Found::Wait(lease_left) => {
                            let last = (lease_left, Instant::now());
                            if Instant::now() < wait_until {
                                tokio::time::sleep(POLL.min(wait_until.saturating_duration_since(Instant::now())))
                                    .await;
                            }
                            if Instant::now() >= wait_until {
                                return Ok(in_progress(last));
                            }
                            seen = Some(last);
                        }
                    },
                    Err(down) => match seen {
                        // Our time ran out during a poll of a record in flight.
                        Some(last) if down.ran_out_of_deadline() => return Ok(in_progress(last)),
                        _ => return Err(StoreError(down.to_string())),
                    },
                }
            }
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a ScopedKey,
        claim: &'a Claim,
        answer: &'a StoredAnswer,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let args = [
                hex(claim.fingerprint().as_bytes()).into_bytes(),
                claim.token().to_string().into_bytes(),
                answer.status.to_string().into_bytes(),
                answer.body.to_vec(),
                self.ttl.as_millis().to_string().into_bytes(),
            ];
            self.invoke(&self.complete, &Self::record_key(key), &args, None)
                .await
                .map(|_| ())
                .map_err(|e| StoreError(e.to_string()))
        })
    }

    fn abandon<'a>(&'a self, key: &'a ScopedKey, claim: &'a Claim) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let args = [claim.token().to_string().into_bytes()];
            self.invoke(&self.abandon, &Self::record_key(key), &args, None)
                .await
                .map(|_| ())
                .map_err(|e| StoreError(e.to_string()))
        })
    }
}
