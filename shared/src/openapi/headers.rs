//! Response headers the stack sets on many operations, documented once.
//! Headers of one endpoint's own answer (`ETag`, `Server-Timing`, …) are
//! documented on its handler.

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

/// The request id of every response (DESIGN.md section 8).
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
