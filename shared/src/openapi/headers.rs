//! Response headers the stack sets on many operations, documented once:
//! those of every response (`X-Request-Id`, `RateLimit-*`), of some
//! problems (`Retry-After`, `WWW-Authenticate`), and the sets of a
//! composite answer ([`Answer`]), which a handler names on its success
//! response instead of repeating them.

use utoipa::openapi::Type;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::schema::ObjectBuilder;

/// `X-Request-Id`, on every response.
pub(crate) const X_REQUEST_ID: &str = "X-Request-Id";

fn header(schema_type: Type, description: &str) -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(schema_type))
        .description(Some(description))
        .build()
}

/// The request id of every response (docs/api.md#response-headers).
pub(crate) fn x_request_id() -> Header {
    header(
        Type::String,
        "The request's id: the client's `X-Request-Id` when it sent a sane one (1 to 128 letters, digits, \
         `.`, `_`, `:` or `-`), else a new UUID. Problem documents and `meta` repeat it.",
    )
}

/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`, on
/// every response of a rate-limited route while rate limiting is on.
pub(crate) fn rate_limit() -> [(&'static str, Header); 3] {
    [
        (
            "RateLimit-Limit",
            header(
                Type::Integer,
                "The client key's bucket size (`BFF_RATE_LIMIT_BURST`). Absent when rate limiting is off.",
            ),
        ),
        (
            "RateLimit-Remaining",
            header(Type::Integer, "Requests the client key may still send at once."),
        ),
        (
            "RateLimit-Reset",
            header(Type::Integer, "Whole seconds until the bucket is full again."),
        ),
    ]
}

/// `Retry-After` on 429 and on 409 `idempotency_key_in_progress`.
pub(crate) fn retry_after() -> Header {
    header(Type::Integer, "Whole seconds to wait before retrying; at least 1.")
}

/// `WWW-Authenticate` on every 401 (RFC 6750).
pub(crate) fn www_authenticate() -> Header {
    header(
        Type::String,
        "`Bearer realm=\"bff\"`, with `error=\"invalid_token\"` and an `error_description` when a token was \
         sent and refused.",
    )
}

/// The vendor extension a handler puts on its success response to name its
/// header set, `extensions(("x-bff-answer" = json!("personal")))`;
/// [`super::document`] replaces it with the headers of that [`Answer`].
pub const ANSWER_EXTENSION: &str = "x-bff-answer";

/// The kinds of composite answer, each with its response headers. The
/// `Server-Timing` entries are the top-level sections: the body schema's
/// properties other than `meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `"personal"`: a signed-in user's screen, never cached
    /// (`Cache-Control: private, no-store`).
    Personal,
    /// `"public"`: the same for everyone; a complete answer carries a weak
    /// `ETag` and `Cache-Control: no-cache` (revalidate with
    /// `If-None-Match`).
    Public,
}

impl Answer {
    /// The kind named by the extension's value.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "personal" => Some(Self::Personal),
            "public" => Some(Self::Public),
            _ => None,
        }
    }

    /// The headers of this kind of answer whose sections are `sections`.
    pub fn headers(self, sections: &[String]) -> Vec<(&'static str, Header)> {
        let listed = sections.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
        let mut headers = match self {
            Self::Personal => vec![(
                "Cache-Control",
                header(Type::String, "`private, no-store`: the answer is personal"),
            )],
            Self::Public => vec![
                (
                    "ETag",
                    header(Type::String, "Weak tag of the page (complete answers only)"),
                ),
                (
                    "Cache-Control",
                    header(Type::String, "`no-cache` with an `ETag`: caches must revalidate"),
                ),
            ],
        };
        headers.push((
            "Server-Timing",
            header(
                Type::String,
                &format!("One entry per section (`<section>;dur=<ms>`): {listed}"),
            ),
        ));
        headers.push((
            "X-Partial-Response",
            header(
                Type::String,
                "`true` when `meta.degraded` is not empty; absent otherwise",
            ),
        ));
        headers
    }
}
