//! Turns the framework's own refusals (unknown route, wrong method, bad
//! path or query, bad JSON body, a body that could not be read) into
//! problem+json, so no plain-text or empty error body ever reaches a client.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;

use super::ApiError;
use crate::context::RequestBodyTimeout;

/// The router's fallback: every unknown route is a 404 problem.
pub async fn fallback_not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The router's method-not-allowed fallback: a 405 problem.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(format!("malformed path parameter: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(format!("malformed query: {}", rejection.body_text()))
    }
}

/// A body that could not be read: 413 over the body limit, 408 when it
/// had not arrived by the request's deadline ([`crate::context`]), else 400.
impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else if RequestBodyTimeout::caused(&rejection) {
            ApiError::RequestTimeout
        } else {
            ApiError::BadRequest("the request body could not be read".into())
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(bytes) => bytes.into(),
            other => ApiError::Unprocessable(format!("invalid JSON body: {}", other.body_text())),
        }
    }
}
