//! The RFC 9457 problem document and its serialisation.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::request_id;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An `application/problem+json` body (RFC 9457) plus our `code` and `request_id`.
///
/// Every error response of every operation documents this one schema, so a
/// generated client has one problem class and switches on `code`. The
/// schema allows members it does not list: RFC 9457 lets a problem type
/// carry extension members, and a client must ignore those it does not
/// know.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type; stable per `code`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short human summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A human explanation specific to this occurrence; never internal error text.
    pub detail: String,
    /// The stable snake_case machine code; each operation's responses list
    /// the codes it can answer.
    #[schema(value_type = ProblemCode)]
    pub code: String,
    /// The id of the request, as in the `X-Request-Id` header.
    pub request_id: String,
    /// For `out_of_stock`: the products that are short.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub product_ids: Option<Vec<String>>,
}

/// Every `code` a problem can carry, one entry per [`crate::error::ApiError`]
/// code (a unit test keeps the two in step).
pub const PROBLEM_CODES: [&str; 17] = [
    "unauthorized",
    "invalid_token",
    "token_expired",
    "not_found",
    "invalid_request",
    "payload_too_large",
    "unsupported_media_type",
    "rate_limited",
    "out_of_stock",
    "idempotency_key_required",
    "idempotency_key_reused",
    "idempotency_key_in_progress",
    "method_not_allowed",
    "request_timeout",
    "upstream_unavailable",
    "upstream_timeout",
    "internal",
];

/// The OpenAPI schema of `code`: one named enum of every code, so a
/// generated client has one enum to switch on.
pub struct ProblemCode;

impl utoipa::PartialSchema for ProblemCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some(
                "The stable snake_case machine code of a problem. Clients switch on it; each response \
                 documents the codes it can carry. New codes may be added: treat an unknown one like its \
                 status.",
            ))
            .enum_values(Some(PROBLEM_CODES))
            .into()
    }
}

impl utoipa::ToSchema for ProblemCode {}

impl Problem {
    /// A problem for `status` and `code`; the request id comes from the
    /// request being served (see [`request_id::current`]).
    pub fn new(status: StatusCode, code: &str, detail: String) -> Self {
        Self {
            kind: format!("urn:bff:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            request_id: request_id::current().unwrap_or_default(),
            product_ids: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::PROBLEM_CODES;
    use crate::error::ApiError;

    /// One error per variant; the match makes a new variant a compile error
    /// here until it is listed.
    fn every_error() -> Vec<ApiError> {
        let all = [
            ApiError::Unauthorized,
            ApiError::InvalidToken,
            ApiError::TokenExpired,
            ApiError::NotFound(String::new()),
            ApiError::BadRequest(String::new()),
            ApiError::Unprocessable(String::new()),
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::RateLimited { retry_after_secs: 1 },
            ApiError::OutOfStock { product_ids: vec![] },
            ApiError::IdempotencyKeyRequired,
            ApiError::IdempotencyKeyReused,
            ApiError::IdempotencyKeyInProgress { retry_after_secs: 1 },
            ApiError::RequestTimeout,
            ApiError::MethodNotAllowed,
            ApiError::UpstreamUnavailable,
            ApiError::UpstreamTimeout,
            ApiError::Internal,
        ];
        for error in &all {
            match error {
                ApiError::Unauthorized
                | ApiError::InvalidToken
                | ApiError::TokenExpired
                | ApiError::NotFound(_)
                | ApiError::BadRequest(_)
                | ApiError::Unprocessable(_)
                | ApiError::PayloadTooLarge
                | ApiError::UnsupportedMediaType
                | ApiError::RateLimited { .. }
                | ApiError::OutOfStock { .. }
                | ApiError::IdempotencyKeyRequired
                | ApiError::IdempotencyKeyReused
                | ApiError::IdempotencyKeyInProgress { .. }
                | ApiError::RequestTimeout
                | ApiError::MethodNotAllowed
                | ApiError::UpstreamUnavailable
                | ApiError::UpstreamTimeout
                | ApiError::Internal => {}
            }
        }
        all.into()
    }

    #[test]
    fn the_problem_code_enum_lists_every_code_an_error_renders_and_no_other() {
        let mut rendered: Vec<&str> = every_error().iter().map(ApiError::code).collect();
        rendered.sort_unstable();
        rendered.dedup();
        let mut listed = PROBLEM_CODES.to_vec();
        listed.sort_unstable();
        assert_eq!(rendered, listed);
    }
}
