//! One multiplexed Redis connection shared by the rate limiter and the
//! idempotency store, with bounded waits and reconnection.
//!
//! Every command has a short response timeout so a hung Redis costs a
//! request at most that long. After a failure the connection is dropped and
//! re-established on a later command, at most once per
//! [`RECONNECT_EVERY`], so the service recovers on its own within seconds
//! of Redis returning, without a restart, and a dead Redis is not hammered.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};
use tokio::time::Instant;

use crate::config::{ConfigError, vars};

/// How often a broken connection is retried.
pub const RECONNECT_EVERY: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// Why Redis could not answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("redis unavailable: {0}")]
pub struct RedisDown(pub String);

/// A lazily (re)connected Redis connection.
pub struct SharedRedis {
    client: Client,
    state: Mutex<State>,
    connecting: tokio::sync::Mutex<()>,
}

struct State {
    connection: Option<MultiplexedConnection>,
    last_attempt: Option<Instant>,
}

impl std::fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedRedis")
    }
}

impl SharedRedis {
    /// A handle for `url`; does not connect yet (a Redis that is down at
    /// start-up is handled like one that goes down later).
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let client = Client::open(url)
            .map_err(|_| ConfigError::new(vars::REDIS_URL, "invalid value: not a usable redis:// URL"))?;
        Ok(Self {
            client,
            state: Mutex::new(State {
                connection: None,
                last_attempt: None,
            }),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    /// A connection, connecting if needed and allowed.
    pub async fn connection(&self) -> Result<MultiplexedConnection, RedisDown> {
        if let Some(connection) = self.lock().connection.clone() {
            return Ok(connection);
        }
        let _single_flight = self.connecting.lock().await;
        {
            let mut state = self.lock();
            if let Some(connection) = state.connection.clone() {
                return Ok(connection);
            }
            if state.last_attempt.is_some_and(|at| at.elapsed() < RECONNECT_EVERY) {
                return Err(RedisDown("reconnect back-off".into()));
            }
            state.last_attempt = Some(Instant::now());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        match self.client.get_multiplexed_async_connection_with_config(&config).await {
            Ok(connection) => {
                tracing::info!("connected to redis");
                self.lock().connection = Some(connection.clone());
                Ok(connection)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot connect to redis");
                Err(RedisDown(e.to_string()))
            }
        }
    }

    /// Reports a failed command: the connection is dropped so the next
    /// command reconnects (after the back-off).
    pub fn failed(&self, error: &redis::RedisError) -> RedisDown {
        if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() || error.is_connection_refusal() {
            let mut state = self.lock();
            state.connection = None;
        }
        RedisDown(error.to_string())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
