//! The problem+json responses of one operation, built from the
//! [`ApiError`]s it can answer.
//!
//! A handler lists its errors, each with when it happens; everything else
//! comes from the error itself, so the document cannot disagree with what
//! is rendered: one response per status whose schema is the one `Problem`
//! schema (a plain `$ref`, so a generated client has one problem class,
//! not one per status and operation), a description that names each code
//! and when, one example per code (the problem exactly as a client receives
//! it), the codes again as `x-problem-codes` for tools, and the headers the
//! status carries (`WWW-Authenticate` on 401, `Retry-After` on 429 and on
//! 409 `idempotency_key_in_progress`, `Connection: close` on 408).
//!
//! An endpoint declares its list with [`problems!`](crate::problems):
//!
//! ```
//! use bff_shared::error::ApiError;
//! use utoipa::IntoResponses;
//!
//! bff_shared::problems!(HomeProblems: auth_required,
//!     case(ApiError::UpstreamUnavailable, "the users service failed"));
//!
//! let responses = HomeProblems::responses();
//! assert_eq!(responses.keys().collect::<Vec<_>>(), ["401", "503"]);
//! ```

use std::collections::BTreeMap;

use axum::http::StatusCode;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, Type};

use super::headers;
use crate::error::{ApiError, PROBLEM_JSON};
use crate::extract::MALFORMED_ID;

/// The request id in every example, so the documents are the same on
/// every run.
pub const EXAMPLE_REQUEST_ID: &str = "5b0f3c2e-8d4a-4e7b-9a61-3f2c1d0e9b87";

/// The name of the vendor extension on each problem response listing the
/// codes it can carry (the description and examples say when).
pub const PROBLEM_CODES_EXTENSION: &str = "x-problem-codes";

/// Declares a unit struct implementing [`utoipa::IntoResponses`] with the
/// problem responses of one operation, for its `#[utoipa::path]`
/// `responses(...)` list: each item is a [`Problems`] method (`auth_required`,
/// `auth_optional`, `malformed_id`, `required_upstream("the catalog")`,
/// `case(error, "when")`), applied in order. 429 and 500 are the stack's
/// ([`crate::openapi::document`]) and need no mention.
///
/// ```
/// use bff_shared::error::ApiError;
///
/// bff_shared::problems!(
///     /// The problems of `GET /v1/products/{id}`.
///     ProductProblems: malformed_id, auth_optional, required_upstream("the catalog"),
///         case(ApiError::UpstreamTimeout, "the catalog is slow"));
/// ```
#[macro_export]
macro_rules! problems {
    ($(#[$meta:meta])* $vis:vis $name:ident: $($method:ident $(( $($arg:expr),* $(,)? ))?),+ $(,)?) => {
        $(#[$meta])*
        $vis struct $name;

        impl ::utoipa::IntoResponses for $name {
            fn responses() -> $crate::openapi::Responses {
                $crate::openapi::Problems::new()
                    $(.$method($($($arg),*)?))+
                    .build()
            }
        }
    };
}

/// Responses keyed by status, as [`utoipa::IntoResponses`] returns them.
pub type Responses = BTreeMap<String, RefOr<Response>>;

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
    pub fn build(&self) -> Responses {
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
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            content.schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .extensions(Some(
            ExtensionsBuilder::new()
                .add(PROBLEM_CODES_EXTENSION, serde_json::json!(codes))
                .build(),
        ));
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

    fn as_json(responses: &Responses) -> serde_json::Value {
        serde_json::to_value(responses).expect("serialisable")
    }

    #[test]
    fn one_response_per_status_referring_to_the_one_problem_schema_and_listing_its_codes() {
        let responses = as_json(
            &Problems::new()
                .auth_required()
                .malformed_id()
                .case(ApiError::IdempotencyKeyRequired, "no key")
                .build(),
        );
        let content = &responses["400"]["content"][PROBLEM_JSON];
        assert_eq!(
            content["schema"],
            json!({"$ref": "#/components/schemas/Problem"}),
            "a plain $ref, not narrowed per status"
        );
        assert_eq!(
            responses["400"][PROBLEM_CODES_EXTENSION],
            json!(["invalid_request", "idempotency_key_required"])
        );
        let description = responses["400"]["description"].as_str().unwrap();
        assert!(
            description.contains("- `idempotency_key_required`: no key"),
            "{description}"
        );
        assert_eq!(
            responses["401"][PROBLEM_CODES_EXTENSION],
            json!(["unauthorized", "invalid_token", "token_expired"])
        );
        let examples = responses["401"]["content"][PROBLEM_JSON]["examples"]
            .as_object()
            .unwrap();
        assert_eq!(
            examples.keys().collect::<Vec<_>>(),
            ["invalid_token", "token_expired", "unauthorized"]
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

    crate::problems!(MacroProblems: auth_optional, malformed_id, required_upstream("the catalog"));

    #[test]
    fn the_macro_declares_the_same_responses_as_the_builder() {
        use utoipa::IntoResponses;
        assert_eq!(
            as_json(&MacroProblems::responses()),
            as_json(
                &Problems::new()
                    .auth_optional()
                    .malformed_id()
                    .required_upstream("the catalog")
                    .build()
            )
        );
    }

    #[test]
    fn a_request_timeout_is_documented_as_closing_the_connection() {
        let responses = as_json(&Problems::new().case(ApiError::RequestTimeout, "late body").build());
        let content = &responses["408"]["content"][PROBLEM_JSON];
        assert_eq!(content["schema"]["$ref"], "#/components/schemas/Problem");
        assert_eq!(responses["408"][PROBLEM_CODES_EXTENSION], json!(["request_timeout"]));
        assert_eq!(
            responses["408"]["headers"]["Connection"]["schema"]["enum"],
            json!(["close"])
        );
    }
}
