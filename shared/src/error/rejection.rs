//! Turns the framework's own refusals (unknown route, wrong method, bad
//! path or query, bad JSON body) into problem+json, so no plain-text or empty
//! error body ever reaches a client.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};

use super::ApiError;

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

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::BytesRejection(bytes) if bytes.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::Unprocessable(format!("invalid JSON body: {}", other.body_text())),
        }
    }
}
