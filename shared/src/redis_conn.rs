//! One multiplexed Redis connection shared by the rate limiter and the
//! idempotency store: every call bounded, (re)connection off the request
//! path (docs/operations.md#when-redis-is-down-or-hangs, "Redis").
//!
//! What it owns:
//! - the bound of each call ([`SharedRedis::call`]): the smaller of
//!   `BFF_REDIS_TIMEOUT_MS` and what remains of the request's deadline,
//!   covering the wait for a connection *and* the command, so a Redis that is
//!   down and one that accepts connections but never answers cost a request
//!   the same: at most that bound;
//! - dialling: one dial at a time, in a spawned task (a request never pays
//!   for a slow TCP or handshake beyond its bound, and a caller that gives
//!   up does not cancel the dial), at most once per [`RECONNECT_EVERY`]
//!   whatever the outcome, so a dead or hung Redis is not hammered and the
//!   service recovers on its own about a second after Redis returns;
//! - dropping the connection after an I/O error or a call that got its full
//!   `BFF_REDIS_TIMEOUT_MS` without an answer (a hung Redis), so the next
//!   call dials again. A call cut short by the *client's* deadline says
//!   nothing about Redis and keeps the connection.
//!
//! While Redis is known to be unreachable (the last dial failed, or the
//! connection was just dropped after a failure), calls fail at once instead
//! of waiting for the dial in progress: with a hung Redis every request is
//! answered without delay. Only while nothing bad is known (at start-up) does
//! a call wait for a dial, within its bound. What a failed call means (fail
//! open, fail closed) is the caller's decision.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisResult};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{ConfigError, vars};

/// The least time between two dials, successful or not.
pub const RECONNECT_EVERY: Duration = Duration::from_secs(1);
/// A dial (TCP plus the client's handshake) that has not finished by then
/// has failed. Equal to [`RECONNECT_EVERY`], so at most one dial is ever
/// in flight.
const CONNECT_TIMEOUT: Duration = RECONNECT_EVERY;

/// Why a Redis call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("redis unavailable: {reason}")]
pub struct RedisDown {
    reason: String,
    out_of_time: bool,
}

impl RedisDown {
    /// A failure for `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            out_of_time: false,
        }
    }

    fn out_of_time(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            out_of_time: true,
        }
    }

    /// Whether the call failed only because the request's deadline ran out
    /// (it was bounded by the deadline, not by `BFF_REDIS_TIMEOUT_MS`):
    /// Redis may be fine.
    pub fn ran_out_of_deadline(&self) -> bool {
        self.out_of_time
    }
}

/// A lazily (re)connected, shared Redis connection. Cheap to share as
/// `Arc<SharedRedis>`.
pub struct SharedRedis {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// `BFF_REDIS_TIMEOUT_MS`: the longest any call may take.
    timeout: Duration,
    /// std lock: held only to read or swap fields, never across `.await`.
    state: Mutex<State>,
}

struct State {
    /// The live connection and its number, so a failure reported on an old
    /// connection does not drop a newer one.
    live: Option<(u64, MultiplexedConnection)>,
    dials: u64,
    /// Set while a dial runs; turns `true` when it ends (either way).
    dialing: Option<watch::Receiver<bool>>,
    last_dial: Option<Instant>,
    /// False once a dial failed or a connection was dropped after a failure,
    /// until a dial succeeds: calls meanwhile do not wait for dials.
    trusted: bool,
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRedis")
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl SharedRedis {
    /// A handle for `url` whose calls take at most `timeout`
    /// (`BFF_REDIS_TIMEOUT_MS`); does not connect yet (see
    /// [`connect_in_background`](Self::connect_in_background)): a Redis that
    /// is down at start-up is handled like one that goes down later.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, ConfigError> {
        let client = Client::open(url)
            .map_err(|_| ConfigError::new(vars::REDIS_URL, "invalid value: not a usable redis:// URL"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                timeout,
                state: Mutex::new(State {
                    live: None,
                    dials: 0,
                    dialing: None,
                    last_dial: None,
                    trusted: true,
                }),
            }),
        })
    }

    /// The bound on every call (`BFF_REDIS_TIMEOUT_MS`).
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Starts dialling now (at start-up), so that the first requests find
    /// the connection ready. Needs a tokio runtime.
    pub fn connect_in_background(&self) {
        let mut state = self.inner.lock();
        if state.live.is_none() && state.dialing.is_none() {
            self.inner.dial(&mut state);
        }
    }

    /// Runs `command` on the connection, within the smaller of
    /// [`timeout`](Self::timeout) and what remains until `deadline` (the
    /// request's deadline, if the call serves one). The wait for a
    /// connection counts against the same bound.
    ///
    /// ```no_run
    /// # async fn example(redis: &bff_shared::redis_conn::SharedRedis) -> Result<(), bff_shared::redis_conn::RedisDown> {
    /// let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
    /// let pong: String = redis
    ///     .call(Some(deadline), |mut c| async move { redis::cmd("PING").query_async(&mut c).await })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn call<T, F, Fut>(&self, deadline: Option<Instant>, command: F) -> Result<T, RedisDown>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let now = Instant::now();
        let left = deadline.map_or(self.inner.timeout, |d| d.saturating_duration_since(now));
        let by_deadline = left < self.inner.timeout;
        let budget = left.min(self.inner.timeout);
        if budget.is_zero() {
            return Err(RedisDown::out_of_time("no time left before the deadline"));
        }
        let until = now + budget;
        let (id, connection) = self.connection(until, by_deadline).await?;
        match tokio::time::timeout_at(until, command(connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
                    self.inner.forget(id);
                }
                Err(RedisDown::new(e.to_string()))
            }
            Err(_) if by_deadline => Err(RedisDown::out_of_time("the request's deadline passed")),
            Err(_) => {
                // A full Redis timeout without an answer: Redis is hung or
                // the connection is dead. Dial again rather than queue more
                // commands behind a silent socket.
                self.inner.forget(id);
                Err(RedisDown::new(format!("no answer within {} ms", budget.as_millis())))
            }
        }
    }

    /// The live connection, or a dial's result if one is worth waiting for
    /// (until `until`), else an error at once.
    async fn connection(&self, until: Instant, by_deadline: bool) -> Result<(u64, MultiplexedConnection), RedisDown> {
        let mut dialing = {
            let mut state = self.inner.lock();
            if let Some((id, connection)) = &state.live {
                return Ok((*id, connection.clone()));
            }
            let dialing = match &state.dialing {
                Some(dialing) => dialing.clone(),
                None if state.last_dial.is_some_and(|at| at.elapsed() < RECONNECT_EVERY) => {
                    return Err(RedisDown::new("not connected (next dial within a second)"));
                }
                None => self.inner.dial(&mut state),
            };
            if !state.trusted {
                return Err(RedisDown::new("not connected (dialling in the background)"));
            }
            dialing
        };
        if tokio::time::timeout_at(until, dialing.wait_for(|done| *done))
            .await
            .is_err()
        {
            return Err(if by_deadline {
                RedisDown::out_of_time("the request's deadline passed while connecting")
            } else {
                RedisDown::new("not connected within the Redis timeout")
            });
        }
        let state = self.inner.lock();
        match &state.live {
            Some((id, connection)) => Ok((*id, connection.clone())),
            None => Err(RedisDown::new("cannot connect")),
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere between two field
        // writes; every field is valid on its own.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a dial in its own task (the caller holds the state lock).
    fn dial(self: &Arc<Self>, state: &mut State) -> watch::Receiver<bool> {
        let (done, dialing) = watch::channel(false);
        state.dialing = Some(dialing.clone());
        state.last_dial = Some(Instant::now());
        let inner = self.clone();
        tokio::spawn(async move {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(inner.timeout));
            let dialled = tokio::time::timeout(
                CONNECT_TIMEOUT,
                inner.client.get_multiplexed_async_connection_with_config(&config),
            )
            .await;
            let mut state = inner.lock();
            state.dialing = None;
            match dialled {
                Ok(Ok(connection)) => {
                    state.dials += 1;
                    state.live = Some((state.dials, connection));
                    state.trusted = true;
                    tracing::info!("connected to redis");
                }
                failed => {
                    let error = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => format!("no connection within {} ms", CONNECT_TIMEOUT.as_millis()),
                    };
                    // Once per outage at warn; the retries every second at debug.
                    if state.trusted {
                        tracing::warn!(%error, "cannot connect to redis; retrying at most once per second");
                    } else {
                        tracing::debug!(%error, "cannot connect to redis");
                    }
                    state.trusted = false;
                }
            }
            drop(state);
            let _ = done.send(true);
        });
        dialing
    }

    /// Drops connection `id` (if still the live one) after a failure.
    fn forget(&self, id: u64) {
        let mut state = self.lock();
        if state.live.as_ref().is_some_and(|(live, _)| *live == id) {
            state.live = None;
            state.trusted = false;
            tracing::debug!("dropped the redis connection after a failed call");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP server that accepts and reads but never answers.
    async fn silent_redis() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut sink = tokio::io::sink();
                    let _ = tokio::io::copy(&mut socket, &mut sink).await;
                });
            }
        });
        format!("redis://{addr}")
    }

    async fn ping(redis: &SharedRedis, deadline: Option<Instant>) -> Result<String, RedisDown> {
        redis
            .call(
                deadline,
                |mut c| async move { redis::cmd("PING").query_async(&mut c).await },
            )
            .await
    }

    #[tokio::test]
    async fn every_call_to_a_silent_redis_fails_within_the_redis_timeout() {
        let bound = Duration::from_millis(50);
        let redis = SharedRedis::new(&silent_redis().await, bound).expect("url");
        for _ in 0..20 {
            let started = Instant::now();
            assert!(ping(&redis, None).await.is_err());
            let took = started.elapsed();
            // The old way (a dial on the request's time) took 500 ms or more.
            assert!(took < bound + Duration::from_millis(200), "a call took {took:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_call_is_bounded_by_the_deadline_when_it_is_nearer_and_says_so() {
        let redis = SharedRedis::new(&silent_redis().await, Duration::from_secs(5)).expect("url");
        let started = Instant::now();
        let error = ping(&redis, Some(started + Duration::from_millis(30)))
            .await
            .expect_err("no answer");
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "took {:?}",
            started.elapsed()
        );
        assert!(error.ran_out_of_deadline(), "{error}");
        let passed = ping(&redis, Some(Instant::now())).await.expect_err("no time");
        assert!(passed.ran_out_of_deadline());
    }

    #[tokio::test]
    async fn a_refusing_redis_is_dialled_at_most_once_per_second() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let redis = SharedRedis::new(&format!("redis://127.0.0.1:{port}"), Duration::from_millis(50)).expect("url");
        assert!(ping(&redis, None).await.is_err());
        assert!(ping(&redis, None).await.is_err());
        let dialled = redis.inner.lock().last_dial.expect("dialled once");
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(500) {
            assert!(ping(&redis, None).await.is_err());
        }
        assert_eq!(
            redis.inner.lock().last_dial,
            Some(dialled),
            "no second dial within a second"
        );
    }
}
