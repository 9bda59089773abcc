//! The problem+json responses of one operation, built from the
//! [`ApiError`]s it can answer.
//!
//! A handler lists its errors, each with when it happens; everything else
//! comes from the error itself, so the document cannot disagree with what
//! is rendered: one response per status, whose schema is the `Problem`
//! schema narrowed to that status and to the codes listed, one example per
//! code (the problem exactly as a client receives it), a description that
//! names each code and when, and the headers the status carries
//! (`WWW-Authenticate` on 401, `Retry-After` on 429 and on 409
//! `idempotency_key_in_progress`, `Connection: close` on 408).
//!
//! ```
//! use bff_shared::error::ApiError;
//! use bff_shared::openapi::Problems;
//!
//! let responses = Problems::new()
//!     .auth_required()
//!     .case(ApiError::UpstreamUnavailable, "the users service failed")
//!     .build();
//! assert_eq!(responses.keys().collect::<Vec<_>>(), ["401", "503"]);
//! ```

use std::collections::BTreeMap;

use axum::http::StatusCode;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, Type};

use super::headers;
use crate::error::{ApiError, PROBLEM_JSON};
use crate::extract::MALFORMED_ID;

/// The request id in every example, so the documents are the same on
/// every run.
pub const EXAMPLE_REQUEST_ID: &str = "5b0f3c2e-8d4a-4e7b-9a61-3f2c1d0e9b87";

/// The errors one operation answers, each with when it happens.
#[derive(Debug, Clone, Default)]
pub struct Problems {
    cases: Vec<(ApiError, String)>,
}

impl Problems {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The operation answers `error` when `when` (a short clause, shown
    /// next to the code).
    pub fn case(mut self, error: ApiError, when: impl Into<String>) -> Self {
        self.cases.push((error, when.into()));
        self
    }

    /// The answers when a required upstream (such as `"the catalog"`)
    /// fails ([`crate::fanout::Fanout::required`]): 404 when it does not
    /// know the resource, 503 when it fails otherwise, 504 when it does
    /// not answer by the deadline.
    pub fn required_upstream(self, upstream: &str) -> Self {
        self.case(
            crate::upstream::UpstreamError::NotFound.into_api_error(),
            format!("{upstream} does not know it"),
        )
        .case(ApiError::UpstreamUnavailable, format!("{upstream} failed"))
        .case(
            ApiError::UpstreamTimeout,
            format!("{upstream} did not answer by the deadline"),
        )
    }

    /// The 401s of a route that requires a bearer token ([`crate::auth::Auth`]).
    pub fn auth_required(self) -> Self {
        self.case(ApiError::Unauthorized, "no bearer token was sent")
            .token_refused()
    }

    /// The 401s of a route where a token is optional ([`crate::auth::MaybeAuth`]):
    /// no token is anonymous, a bad one is still refused.
    pub fn auth_optional(self) -> Self {
        self.token_refused()
    }

    fn token_refused(self) -> Self {
        self.case(
            ApiError::InvalidToken,
            "the bearer token is malformed, badly signed, not yet valid or fails a claim check",
        )
        .case(ApiError::TokenExpired, "the bearer token's `exp` has passed")
    }

    /// The 400 of a malformed `{id}` path parameter ([`crate::extract::ValidId`]).
    pub fn malformed_id(self) -> Self {
        self.case(
            ApiError::BadRequest(MALFORMED_ID.into()),
            "the `id` is not 1 to 64 letters, digits, `.`, `_`, `:` or `-`",
        )
    }

    /// The responses, keyed by status.
    pub fn build(&self) -> BTreeMap<String, RefOr<Response>> {
        let mut by_status: BTreeMap<u16, Vec<&(ApiError, String)>> = BTreeMap::new();
        for case in &self.cases {
            by_status.entry(case.0.status().as_u16()).or_default().push(case);
        }
        by_status
            .into_iter()
            .map(|(status, cases)| (status.to_string(), RefOr::T(response(status, &cases))))
            .collect()
    }
}

/// The response for one status and the cases that answer it.
fn response(status: u16, cases: &[&(ApiError, String)]) -> Response {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut codes: Vec<&'static str> = Vec::new();
    let mut description = format!("{reason}: a problem document whose `code` says why.\n");
    let mut content = ContentBuilder::new();
    for (error, when) in cases {
        description.push_str(&format!("\n- `{}`: {when}", error.code()));
        if !codes.contains(&error.code()) {
            codes.push(error.code());
            content = content.examples_from_iter([(
                error.code(),
                ExampleBuilder::new()
                    .summary(when.as_str())
                    .value(Some(example(error)))
                    .build(),
            )]);
        }
    }
    let narrowed = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([status])),
        )
        .property(
            "code",
            ObjectBuilder::new().schema_type(Type::String).enum_values(Some(codes)),
        );
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("Problem"))
        .item(narrowed);
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, content.schema(Some(schema)).build());
    if status == 401 {
        response = response.header("WWW-Authenticate", headers::www_authenticate());
    }
    if cases.iter().any(|(error, _)| has_retry_after(error)) {
        response = response.header("Retry-After", headers::retry_after());
    }
    if status == 408 {
        response = response.header("Connection", connection_close());
    }
    response.build()
}

/// `Connection: close` on 408: the rest of the body may still be on its
/// way, so the connection carries no further request.
fn connection_close() -> Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["close"])),
        )
        .description(Some("`close`: the connection is closed after this answer."))
        .build()
}

fn has_retry_after(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::RateLimited { .. } | ApiError::IdempotencyKeyInProgress { .. }
    )
}

/// The problem as a client receives it, with the example request id.
fn example(error: &ApiError) -> serde_json::Value {
    let mut problem = error.to_problem();
    problem.request_id = EXAMPLE_REQUEST_ID.to_owned();
    serde_json::to_value(problem).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn as_json(responses: &BTreeMap<String, RefOr<Response>>) -> serde_json::Value {
        serde_json::to_value(responses).expect("serialisable")
    }

    #[test]
    fn one_response_per_status_narrowed_to_the_codes_listed() {
        let responses = as_json(
            &Problems::new()
                .auth_required()
                .malformed_id()
                .case(ApiError::IdempotencyKeyRequired, "no key")
                .build(),
        );
        let content = &responses["400"]["content"][PROBLEM_JSON];
        let narrowed = &content["schema"]["allOf"][1]["properties"];
        assert_eq!(narrowed["status"]["enum"], json!([400]));
        assert_eq!(
            narrowed["code"]["enum"],
            json!(["invalid_request", "idempotency_key_required"])
        );
        assert_eq!(content["schema"]["allOf"][0]["$ref"], "#/components/schemas/Problem");
        assert_eq!(
            responses["401"]["content"][PROBLEM_JSON]["schema"]["allOf"][1]["properties"]["code"]["enum"],
            json!(["unauthorized", "invalid_token", "token_expired"])
        );
        assert!(responses["401"]["headers"]["WWW-Authenticate"].is_object());
        assert!(responses["400"]["headers"].get("WWW-Authenticate").is_none());
    }

    #[test]
    fn examples_are_the_problems_as_rendered() {
        let responses = as_json(
            &Problems::new()
                .case(
                    ApiError::OutOfStock {
                        product_ids: vec!["p-7".into()],
                    },
                    "short",
                )
                .build(),
        );
        let example = &responses["409"]["content"][PROBLEM_JSON]["examples"]["out_of_stock"];
        assert_eq!(example["summary"], "short");
        assert_eq!(
            example["value"],
            json!({
                "type": "urn:bff:problem:out_of_stock",
                "title": "Conflict",
                "status": 409,
                "detail": "some products are out of stock",
                "code": "out_of_stock",
                "request_id": EXAMPLE_REQUEST_ID,
                "product_ids": ["p-7"],
            })
        );
        assert!(responses["409"]["headers"].get("Retry-After").is_none());
    }

    #[test]
    fn retry_after_is_documented_where_it_is_sent() {
        let responses = as_json(
            &Problems::new()
                .case(ApiError::IdempotencyKeyInProgress { retry_after_secs: 1 }, "busy")
                .case(ApiError::RateLimited { retry_after_secs: 1 }, "too many")
                .build(),
        );
        assert!(responses["409"]["headers"]["Retry-After"].is_object());
        assert!(responses["429"]["headers"]["Retry-After"].is_object());
    }

    #[test]
    fn a_request_timeout_is_documented_as_closing_the_connection() {
        let responses = as_json(&Problems::new().case(ApiError::RequestTimeout, "late body").build());
        let content = &responses["408"]["content"][PROBLEM_JSON];
        assert_eq!(
            content["schema"]["allOf"][1]["properties"]["code"]["enum"],
            json!(["request_timeout"])
        );
        assert_eq!(
            responses["408"]["headers"]["Connection"]["schema"]["enum"],
            json!(["close"])
        );
    }
}
