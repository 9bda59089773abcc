//! The RFC 9457 problem document and its serialisation.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::request_id;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An `application/problem+json` body (RFC 9457) plus our `code` and `request_id`.
// `deny_unknown_fields` only tells the OpenAPI schema the shape is exact.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
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
    /// The stable snake_case machine code.
    pub code: String,
    /// The id of the request, as in the `X-Request-Id` header.
    pub request_id: String,
    /// For `out_of_stock`: the products that are short.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub product_ids: Option<Vec<String>>,
}

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
