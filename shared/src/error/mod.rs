//! The one client-facing error type and its RFC 9457 rendering.
//!
//! Every failure a client can see goes through [`ApiError`]: it carries a
//! stable machine `code` (docs/api.md#errors), the HTTP status, and a
//! client-safe `detail`. Internal causes (upstream addresses, library error
//! text) are logged where they happen and never reach this type's body.
//! Rendering to `application/problem+json` happens in exactly one place,
//! [`ApiError::into_response`].

mod problem;
mod rejection;

pub use problem::{PROBLEM_CODES, PROBLEM_JSON, Problem, ProblemCode};
pub use rejection::{fallback_not_found, method_not_allowed};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A failure to report to the client, typed by its stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 401: no bearer token on a route that requires one.
    #[error("authentication is required")]
    Unauthorized,
    /// 401: the token is malformed, badly signed, or fails a claim check.
    #[error("the bearer token is invalid")]
    InvalidToken,
    /// 401: the token's `exp` is in the past.
    #[error("the bearer token has expired")]
    TokenExpired,
    /// 404: unknown route or unknown resource.
    #[error("{0}")]
    NotFound(String),
    /// 400: malformed id, query or header.
    #[error("{0}")]
    BadRequest(String),
    /// 422: a well-formed request whose content cannot be processed
    /// (bad body, unknown product).
    #[error("{0}")]
    Unprocessable(String),
    /// 413: the body is larger than the configured limit.
    #[error("the request body is larger than the allowed limit")]
    PayloadTooLarge,
    /// 415: a body whose `Content-Type` is not `application/json`.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// 429: the client key has used its budget.
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds until a request would be admitted (at least 1).
        retry_after_secs: u64,
    },
    /// 409: some products cannot be supplied in the requested quantity.
    #[error("some products are out of stock")]
    OutOfStock {
        /// The product ids that are short.
        product_ids: Vec<String>,
    },
    /// 400: a write without `Idempotency-Key`.
    #[error("the Idempotency-Key header is required")]
    IdempotencyKeyRequired,
    /// 422: the key was used before with a different body.
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyKeyReused,
    /// 409: the first request with this key is still being processed.
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyKeyInProgress {
        /// Whole seconds after which a retry is sensible (at least 1).
        retry_after_secs: u64,
    },
    /// 408: the request body had not fully arrived by the request's
    /// deadline; the answer closes the connection (`Connection: close`).
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// 405: the route exists but not with this method.
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    /// 503: a required upstream failed or refused the call.
    #[error("a required service is unavailable")]
    UpstreamUnavailable,
    /// 504: a required upstream did not answer within the deadline.
    #[error("a required service did not answer in time")]
    UpstreamTimeout,
    /// 500: a bug on our side; the cause is logged, never shown.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The stable snake_case code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) | Self::Unprocessable(_) => "invalid_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::OutOfStock { .. } => "out_of_stock",
            Self::IdempotencyKeyRequired => "idempotency_key_required",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInProgress { .. } => "idempotency_key_in_progress",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::InvalidToken | Self::TokenExpired => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) | Self::IdempotencyKeyRequired => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::OutOfStock { .. } | Self::IdempotencyKeyInProgress { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UpstreamUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document for this error, with the current request's id.
    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        let mut problem = Problem::new(status, self.code(), self.to_string());
        if let Self::OutOfStock { product_ids } = self {
            problem.product_ids = Some(product_ids.clone());
        }
        problem
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.to_problem().into_response();
        let headers = response.headers_mut();
        // A problem describes one request: no cache may keep it and serve
        // it again (docs/api.md#response-headers).
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match &self {
            Self::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"bff\""),
                );
            }
            Self::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"bff\", error=\"invalid_token\", error_description=\"the token is invalid\"",
                    ),
                );
            }
            Self::TokenExpired => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"bff\", error=\"invalid_token\", error_description=\"the token has expired\"",
                    ),
                );
            }
            Self::RateLimited { retry_after_secs } | Self::IdempotencyKeyInProgress { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from((*retry_after_secs).max(1)));
            }
            Self::RequestTimeout => {
                // The rest of the body may still be on its way: the
                // connection cannot carry another request, so hyper closes
                // it after this answer.
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_marked_not_to_be_stored() {
        for error in [
            ApiError::Unauthorized,
            ApiError::NotFound("no such route".into()),
            ApiError::RateLimited { retry_after_secs: 1 },
            ApiError::Internal,
        ] {
            let response = error.into_response();
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
            assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        }
    }

    #[test]
    fn a_request_timeout_is_408_and_closes_the_connection() {
        let error = ApiError::RequestTimeout;
        assert_eq!(
            (error.status(), error.code()),
            (StatusCode::REQUEST_TIMEOUT, "request_timeout")
        );
        let response = error.into_response();
        assert_eq!(response.headers()[header::CONNECTION], "close");
        assert!(
            ApiError::Unauthorized
                .into_response()
                .headers()
                .get(header::CONNECTION)
                .is_none()
        );
    }
}
