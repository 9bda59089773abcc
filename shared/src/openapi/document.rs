//! What the stack adds to every BFF's document: the responses and headers
//! its layers give every API operation, the operations endpoints, the
//! bearer security scheme and a shared description of the conventions.
//!
//! It mirrors [`crate::stack::finish_with`]: whatever a layer there does to
//! every API route (rate limiting, the panic guard, request ids) is written
//! here once instead of on every handler.

use std::collections::BTreeMap;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;

use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Components, OpenApi, RefOr, Required, Response, Type};
use utoipa::{PartialSchema, ToSchema};

use super::headers::{ANSWER_EXTENSION, Answer};
use super::{Problems, docs, headers};
use crate::error::{ApiError, Problem};

/// The name of the HTTP bearer (JWT) security scheme operations refer to.
pub const SECURITY_SCHEME: &str = "bearer";

/// The tag of the operations endpoints (`/healthz`, `/readyz`, `/metrics`,
/// `/status.json`, `/status`, `/openapi.json`, `/docs`).
pub const OPERATIONS_TAG: &str = "operations";

const CONVENTIONS: &str = "\n\n## Conventions\n\n\
- **Errors** are `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`, a stable \
snake_case `code` and the `request_id`; each operation lists its statuses and codes. An unknown path is 404 \
`not_found`; a method a path does not support is 405 `method_not_allowed` with an `Allow` header.\n\
- **Partial answers**: a section whose upstream failed is `null` and listed in `meta.degraded` with its \
`reason`; the answer is still 200, with `meta.partial: true` and `X-Partial-Response: true`.\n\
- **Authentication**: `Authorization: Bearer <JWT>`. Operations marked with the lock require it; the product \
pages accept it optionally (no token is anonymous, a bad one is 401).\n\
- **Rate limiting** per client key (the token's `sub`, else the client address): a bucket of \
`BFF_RATE_LIMIT_BURST` requests refilled at `BFF_RATE_LIMIT_RPS`. Every API response carries `RateLimit-Limit`, \
`RateLimit-Remaining` and `RateLimit-Reset`; a refused request is 429 `rate_limited` with `Retry-After`. \
The operations endpoints are not limited.\n\
- **Request ids**: every response has `X-Request-Id` (yours if sane, else a new UUID).\n\
- Responses are compressed (gzip, br) when the client accepts it.";

/// The whole document of a BFF whose API operations are `api` (as
/// collected by its `OpenApiRouter`): `api` plus the stack's responses and
/// headers on every API operation, the operations endpoints, the bearer
/// security scheme and the `Problem` schema.
pub fn document(api: OpenApi) -> OpenApi {
    let mut doc = api;
    let shared = Problems::new()
        .case(
            ApiError::RateLimited { retry_after_secs: 1 },
            "the client key (the token's `sub`, else the client address) has used its budget",
        )
        .case(
            ApiError::Internal,
            "a bug on our side; the cause is logged, never shown",
        )
        .build();
    let schemas = doc.components.as_ref().map(|c| c.schemas.clone()).unwrap_or_default();
    for operation in operations(&mut doc) {
        for response in operation.responses.responses.values_mut() {
            if let RefOr::T(response) = response {
                expand_answer(response, &schemas);
            }
        }
        for (status, response) in &shared {
            operation
                .responses
                .responses
                .entry(status.clone())
                .or_insert_with(|| response.clone());
        }
        for response in operation.responses.responses.values_mut() {
            if let RefOr::T(response) = response {
                for (name, header) in headers::rate_limit() {
                    response.headers.entry(name.to_owned()).or_insert(header);
                }
            }
        }
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(request_id_parameter());
    }

    doc.merge(crate::ops::openapi());
    doc.merge(docs::openapi());
    for operation in operations(&mut doc) {
        for response in operation.responses.responses.values_mut() {
            if let RefOr::T(response) = response {
                response
                    .headers
                    .entry(headers::X_REQUEST_ID.to_owned())
                    .or_insert_with(headers::x_request_id);
            }
        }
    }

    let components = doc.components.get_or_insert_with(Components::new);
    let mut problem_schemas = vec![(Problem::name().into_owned(), Problem::schema())];
    Problem::schemas(&mut problem_schemas);
    for (name, schema) in problem_schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    components.security_schemes.insert(SECURITY_SCHEME.to_owned(), bearer());
    let tags = doc.tags.get_or_insert_with(Vec::new);
    if !tags.iter().any(|t| t.name == OPERATIONS_TAG) {
        tags.push(
            TagBuilder::new()
                .name(OPERATIONS_TAG)
                .description(Some(
                    "Liveness, readiness, metrics, the status page and this documentation. No auth, not rate limited.",
                ))
                .build(),
        );
    }
    let description = doc.info.description.get_or_insert_with(String::new);
    if !description.contains(CONVENTIONS) {
        description.push_str(CONVENTIONS);
    }
    doc
}

/// Replaces the [`ANSWER_EXTENSION`] a handler put on its success response
/// with the headers of that [`Answer`], whose sections are the properties of
/// the response's body schema other than `meta`.
fn expand_answer(response: &mut Response, schemas: &BTreeMap<String, RefOr<Schema>>) {
    let Some(extensions) = response.extensions.as_mut() else {
        return;
    };
    let Some(value) = extensions.remove(ANSWER_EXTENSION) else {
        return;
    };
    let answer = value.as_str().and_then(Answer::from_name);
    let Some(answer) = answer else {
        panic!("`{ANSWER_EXTENSION}` is \"personal\" or \"public\", not {value}");
    };
    if extensions.is_empty() {
        response.extensions = None;
    }
    let sections: Vec<String> = response
        .content
        .values()
        .filter_map(|content| match &content.schema {
            Some(RefOr::Ref(r)) => r.ref_location.rsplit('/').next(),
            _ => None,
        })
        .filter_map(|name| match schemas.get(name) {
            Some(RefOr::T(Schema::Object(object))) => Some(object),
            _ => None,
        })
        .flat_map(|object| object.properties.keys().cloned())
        .filter(|name| name != "meta")
        .collect();
    for (name, header) in answer.headers(&sections) {
        response.headers.entry(name.to_owned()).or_insert(header);
    }
}

/// Every operation of every path.
fn operations(doc: &mut OpenApi) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .filter_map(Option::as_mut)
    })
}

fn request_id_parameter() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(headers::X_REQUEST_ID)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "An id to trace the request by; kept when it is 1 to 128 letters, digits, `.`, `_`, `:` or `-`, \
             else replaced by a new UUID.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .example(Some(serde_json::json!("app-5f2c9d81")))
        .build()
}

fn bearer() -> SecurityScheme {
    let mut http = Http::new(HttpAuthScheme::Bearer);
    http.bearer_format = Some("JWT".to_owned());
    http.description = Some(
        "A JWT signed with the configured key (HS256 secret, RS256/ES256 public key, or a JWKS); `exp` and `sub` \
         are required, `iss` and `aud` are checked when configured. `cargo run -- token --secret S --sub u-1` \
         mints a development token."
            .to_owned(),
    );
    SecurityScheme::Http(http)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;

    use super::*;

    /// An API operation.
    #[utoipa::path(get, path = "/v1/thing", tag = "things", operation_id = "getThing",
        responses((status = 200, description = "A thing", body = String)))]
    async fn thing() -> &'static str {
        "thing"
    }

    /// A composite answer: two sections and `meta`.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    struct Screen {
        left: Option<u8>,
        right: Option<u8>,
        meta: u8,
    }

    /// A public composite answer.
    #[utoipa::path(get, path = "/v1/screen", tag = "things", operation_id = "getScreen",
        responses((status = 200, description = "A screen", body = Screen,
            extensions(("x-bff-answer" = json!("public"))))))]
    async fn screen() -> &'static str {
        "screen"
    }

    fn doc() -> Value {
        let api: OpenApiRouter = OpenApiRouter::new().routes(routes!(thing)).routes(routes!(screen));
        serde_json::to_value(document(api.into_openapi())).expect("serialisable")
    }

    #[test]
    fn api_operations_get_the_stacks_responses_headers_and_request_id_parameter() {
        let doc = doc();
        let operation = &doc["paths"]["/v1/thing"]["get"];
        for status in ["200", "429", "500"] {
            let headers = &operation["responses"][status]["headers"];
            for name in [
                "X-Request-Id",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ] {
                assert!(headers[name].is_object(), "{status} lacks {name}: {operation}");
            }
        }
        assert!(operation["responses"]["429"]["headers"]["Retry-After"].is_object());
        assert_eq!(operation["parameters"][0]["name"], "X-Request-Id");
        assert_eq!(operation["parameters"][0]["in"], "header");
    }

    #[test]
    fn a_response_naming_its_answer_kind_gets_that_header_set_timing_its_sections() {
        let doc = doc();
        let ok = &doc["paths"]["/v1/screen"]["get"]["responses"]["200"];
        assert!(ok.get(ANSWER_EXTENSION).is_none(), "the marker is replaced: {ok}");
        let headers = &ok["headers"];
        for name in ["ETag", "Cache-Control", "Server-Timing", "X-Partial-Response"] {
            assert!(headers[name].is_object(), "{name} missing: {headers}");
        }
        assert_eq!(
            headers["Server-Timing"]["description"],
            "One entry per section (`<section>;dur=<ms>`): `left`, `right`"
        );
        let plain = &doc["paths"]["/v1/thing"]["get"]["responses"]["200"]["headers"];
        assert!(plain.get("Server-Timing").is_none(), "{plain}");
    }

    #[test]
    fn operations_endpoints_are_documented_without_rate_limiting() {
        let doc = doc();
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"] {
            let operation = &doc["paths"][path]["get"];
            assert_eq!(operation["tags"], json!([OPERATIONS_TAG]), "{path}");
            assert!(
                operation["responses"].get("429").is_none(),
                "{path} is not rate limited"
            );
            let ok = &operation["responses"]["200"]["headers"];
            assert!(ok["X-Request-Id"].is_object(), "{path}");
            assert!(ok.get("RateLimit-Limit").is_none(), "{path}");
            assert!(operation.get("security").is_none(), "{path} needs no token");
        }
        assert_eq!(doc["tags"].as_array().unwrap().last().unwrap()["name"], OPERATIONS_TAG);
    }

    #[test]
    fn the_bearer_scheme_and_the_problem_schema_are_components() {
        let doc = doc();
        assert_eq!(
            doc["components"]["securitySchemes"][SECURITY_SCHEME]["scheme"],
            "bearer"
        );
        assert_eq!(
            doc["components"]["securitySchemes"][SECURITY_SCHEME]["bearerFormat"],
            "JWT"
        );
        let problem = &doc["components"]["schemas"]["Problem"];
        assert!(
            problem.get("additionalProperties").is_none(),
            "extension members are allowed"
        );
        assert_eq!(
            problem["properties"]["code"]["$ref"],
            "#/components/schemas/ProblemCode"
        );
        let codes = doc["components"]["schemas"]["ProblemCode"]["enum"].as_array().unwrap();
        assert_eq!(codes.len(), crate::error::PROBLEM_CODES.len());
        assert!(doc["info"]["description"].as_str().unwrap().contains("## Conventions"));
    }
}
