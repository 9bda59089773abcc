//! Upstream failures typed by cause, and the one place they map to a
//! degraded reason or a client error.

use serde::Serialize;

use crate::error::ApiError;

/// Why an upstream call produced no usable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No answer within the call's timeout or the request's deadline.
    #[error("timed out")]
    Timeout,
    /// The upstream's breaker is open (or half-open with its probe out).
    #[error("circuit open")]
    CircuitOpen,
    /// The upstream's in-flight cap was full; the call was not sent.
    #[error("in-flight cap reached")]
    Overloaded,
    /// The upstream answered 404.
    #[error("not found")]
    NotFound,
    /// The upstream answered another non-2xx status.
    #[error("status {0}")]
    Status(u16),
    /// The connection failed or was reset.
    #[error("transport failure")]
    Transport,
    /// The body was not JSON of the expected shape.
    #[error("bad response")]
    BadResponse,
}

/// The reason a section is degraded, as clients see it in `meta.degraded`:
/// `timeout` (no answer by the deadline), `circuit_open` (the upstream's
/// breaker is open), `overloaded` (its in-flight cap was full, so the call
/// was not sent), `upstream_error` (a non-2xx status other than 404, or a
/// failed or reset connection), `bad_response` (not JSON of the expected
/// shape), `not_found` (a 404, for optional parts only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DegradedReason {
    /// The upstream did not answer by the deadline.
    Timeout,
    /// The upstream's circuit breaker is open.
    CircuitOpen,
    /// The upstream's in-flight cap was full, so the call was not sent.
    Overloaded,
    /// A non-2xx status other than 404, or a failed or reset connection.
    UpstreamError,
    /// The answer was not JSON of the expected shape.
    BadResponse,
    /// The upstream answered 404 (optional parts only).
    NotFound,
}

impl DegradedReason {
    /// The snake_case name, as serialised and as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::CircuitOpen => "circuit_open",
            Self::Overloaded => "overloaded",
            Self::UpstreamError => "upstream_error",
            Self::BadResponse => "bad_response",
            Self::NotFound => "not_found",
        }
    }
}

impl UpstreamError {
    /// The reason an optional section reports for this failure.
    pub fn reason(self) -> DegradedReason {
        match self {
            Self::Timeout => DegradedReason::Timeout,
            Self::CircuitOpen => DegradedReason::CircuitOpen,
            Self::Overloaded => DegradedReason::Overloaded,
            Self::NotFound => DegradedReason::NotFound,
            Self::Status(_) | Self::Transport => DegradedReason::UpstreamError,
            Self::BadResponse => DegradedReason::BadResponse,
        }
    }

    /// Whether this failure counts against the breaker (docs/operations.md#circuit-breakers:
    /// timeout, connection error, 5xx, 429, bad response). A 404 or other 4xx
    /// is an answer and resets the count.
    pub fn trips_breaker(self) -> bool {
        match self {
            Self::Timeout | Self::Transport | Self::BadResponse => true,
            Self::Status(status) => status >= 500 || status == 429,
            Self::NotFound | Self::CircuitOpen | Self::Overloaded => false,
        }
    }

    /// The client error when a *required* upstream fails this way.
    pub fn into_api_error(self) -> ApiError {
        match self {
            Self::NotFound => ApiError::NotFound("the requested resource does not exist".into()),
            Self::Timeout => ApiError::UpstreamTimeout,
            _ => ApiError::UpstreamUnavailable,
        }
    }
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        e.into_api_error()
    }
}
