//! The OpenAPI 3.1 documents of a BFF (docs/api.md#operations-endpoints), generated
//! from the code.
//!
//! Each handler documents its own operation with `#[utoipa::path]`: path,
//! parameters, success bodies and headers, and the problems only it can
//! answer, declared in a few lines with [`problems!`](crate::problems). A
//! composite answer names its header set (`Cache-Control`,
//! `Server-Timing`, `X-Partial-Response`, and `ETag` when public) with
//! `extensions(("x-bff-answer" = json!("personal" | "public")))` on its
//! success response instead of repeating it ([`Answer`]). A BFF registers its routes with
//! [`utoipa_axum::router::OpenApiRouter`] and `routes!`, so a route and its
//! operation are one registration and cannot drift apart; the same router
//! gives [`crate::stack::finish`] the axum routes and the document.
//!
//! This module owns what every document shares:
//! - [`document`]: what the stack adds to a BFF's API operations (the
//!   bearer security scheme, 429 and 500, the `X-Request-Id` and
//!   `RateLimit-*` headers) and the operations endpoints;
//! - [`Problems`]: problem+json responses built from [`crate::error::ApiError`]
//!   itself, so statuses, codes, headers and examples are the rendered ones;
//! - `headers`: response headers the stack sets on many operations, and the
//!   header sets of composite answers ([`Answer`]);
//! - `docs`: `GET /openapi.json` and `GET /docs` (Swagger UI embedded in
//!   the binary: no CDN, works offline).
//!
//! ```
//! use axum::Json;
//! use bff_shared::openapi;
//! use utoipa_axum::{router::OpenApiRouter, routes};
//!
//! /// Says hello.
//! #[utoipa::path(get, path = "/v1/hello", tag = "hello", operation_id = "getHello",
//!     responses((status = 200, description = "A greeting", body = String)))]
//! async fn hello() -> Json<&'static str> {
//!     Json("hello")
//! }
//!
//! let api: OpenApiRouter = OpenApiRouter::new().routes(routes!(hello));
//! let doc = openapi::document(api.into_openapi());
//! let json = openapi::to_json(&doc);
//! assert!(json.contains("\"getHello\"") && json.contains("\"/healthz\""));
//! // The stack's own responses are on every API operation.
//! let hello = doc.paths.paths["/v1/hello"].get.as_ref().unwrap();
//! assert!(hello.responses.responses.contains_key("429"));
//! ```

mod docs;
mod document;
mod headers;
mod problems;

pub use document::{OPERATIONS_TAG, SECURITY_SCHEME, document};
pub use headers::{ANSWER_EXTENSION, Answer};
pub use problems::{EXAMPLE_REQUEST_ID, PROBLEM_CODES_EXTENSION, Problems, Responses};

pub(crate) use docs::routes as docs_routes;

use utoipa::openapi::OpenApi;

/// The document as committed and served: pretty-printed JSON with a final
/// newline. Maps are ordered by key, so the text is the same on every run.
pub fn to_json(doc: &OpenApi) -> String {
    // Only maps with non-string keys fail to serialise; the document has none.
    let mut json = doc.to_pretty_json().expect("an OpenAPI document serialises to JSON");
    json.push('\n');
    json
}
