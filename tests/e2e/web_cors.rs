//! CORS on bff-web (docs/api.md#cors-bff-web): preflights and actual requests
//! from allowed and other origins.

use bff_stack::simulator::Service;
use reqwest::Method;

use crate::support::{Answer, Bff, Stack, spawn, spawn_with, token};

const ALLOWED: &str = "https://shop.example";
const OTHER: &str = "https://evil.example";
const CORS_ENV: &[(&str, &str)] = &[("BFF_CORS_ORIGINS", "https://shop.example, http://localhost:3000")];

async fn send(stack: &Stack, method: Method, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = stack.http.request(method, stack.url(path));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.expect("request sent");
    let answer = Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    };
    stack.assert_no_upstream_address(&answer);
    answer
}

async fn preflight(stack: &Stack, path: &str, origin: &str, method: &str, headers: &str) -> Answer {
    send(
        stack,
        Method::OPTIONS,
        path,
        &[
            ("origin", origin),
            ("access-control-request-method", method),
            ("access-control-request-headers", headers),
        ],
    )
    .await
}

/// The comma-separated values of `name`, lower-cased.
fn list(answer: &Answer, name: &str) -> Vec<String> {
    answer
        .header(name)
        .unwrap_or_default()
        .split(',')
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

fn assert_allowed_preflight(answer: &Answer, origin: &str) {
    assert!(
        matches!(answer.status, 200 | 204),
        "status {}: {}",
        answer.status,
        answer.text
    );
    assert_eq!(answer.header("access-control-allow-origin"), Some(origin));
    let methods = list(answer, "access-control-allow-methods");
    assert!(
        methods.contains(&"get".to_owned()) && methods.contains(&"post".to_owned()),
        "{methods:?}"
    );
    let headers = list(answer, "access-control-allow-headers");
    for name in ["authorization", "content-type", "idempotency-key", "x-request-id"] {
        assert!(headers.contains(&name.to_owned()), "{name} not in {headers:?}");
    }
    assert!(
        !headers.contains(&"*".to_owned()),
        "a wildcard does not cover Authorization"
    );
    let max_age: u64 = answer
        .header("access-control-max-age")
        .expect("max-age")
        .parse()
        .expect("seconds");
    assert!(max_age > 0);
    assert!(
        list(answer, "vary").contains(&"origin".to_owned()),
        "caches must key on the origin"
    );
    assert!(
        answer.header("x-request-id").is_some(),
        "preflights have a request id too"
    );
}

#[tokio::test]
async fn a_preflight_for_the_dashboard_from_an_allowed_origin_is_answered_with_that_origin() {
    let stack = spawn_with(Bff::Web, CORS_ENV).await;
    let answer = preflight(&stack, "/v1/dashboard", ALLOWED, "GET", "authorization,x-request-id").await;
    assert_allowed_preflight(&answer, ALLOWED);
    assert_eq!(stack.sim.count(Service::Users), 0, "a preflight calls no upstream");

    let answer = preflight(&stack, "/v1/dashboard", "http://localhost:3000", "GET", "authorization").await;
    assert_allowed_preflight(&answer, "http://localhost:3000");
}

#[tokio::test]
async fn a_preflight_for_checkout_is_answered_by_cors_not_by_the_405_fallback() {
    let stack = spawn_with(Bff::Web, CORS_ENV).await;
    let answer = preflight(
        &stack,
        "/v1/checkout",
        ALLOWED,
        "POST",
        "authorization,content-type,idempotency-key",
    )
    .await;
    assert_allowed_preflight(&answer, ALLOWED);
    assert_ne!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_allow_origin() {
    let stack = spawn_with(Bff::Web, CORS_ENV).await;
    for path in ["/v1/dashboard", "/v1/checkout", "/v1/products/p-1"] {
        let answer = preflight(&stack, path, OTHER, "GET", "authorization").await;
        assert_eq!(answer.header("access-control-allow-origin"), None, "{path}");
    }
    let answer = preflight(
        &stack,
        "/v1/dashboard",
        "https://shop.example.evil.example",
        "GET",
        "authorization",
    )
    .await;
    assert_eq!(answer.header("access-control-allow-origin"), None, "no prefix matching");
}

#[tokio::test]
async fn an_actual_request_from_an_allowed_origin_exposes_the_request_id_and_partial_headers() {
    let stack = spawn_with(Bff::Web, CORS_ENV).await;
    let bearer = format!("Bearer {}", token("u-1"));
    let answer = send(
        &stack,
        Method::GET,
        "/v1/dashboard",
        &[("origin", ALLOWED), ("authorization", &bearer)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("access-control-allow-origin"), Some(ALLOWED));
    let exposed = list(&answer, "access-control-expose-headers");
    assert!(exposed.contains(&"x-request-id".to_owned()), "{exposed:?}");
    assert!(exposed.contains(&"x-partial-response".to_owned()), "{exposed:?}");
    assert!(answer.header("x-request-id").is_some());
}

#[tokio::test]
async fn errors_and_unknown_routes_carry_cors_headers_for_an_allowed_origin() {
    let stack = spawn_with(Bff::Web, CORS_ENV).await;
    let unauthorized = send(&stack, Method::GET, "/v1/dashboard", &[("origin", ALLOWED)]).await;
    unauthorized.assert_problem(401, "unauthorized");
    let unknown_product = send(&stack, Method::GET, "/v1/products/p-999999", &[("origin", ALLOWED)]).await;
    unknown_product.assert_problem(404, "not_found");
    let unknown_route = send(&stack, Method::GET, "/v1/nothing-here", &[("origin", ALLOWED)]).await;
    unknown_route.assert_problem(404, "not_found");
    for answer in [&unauthorized, &unknown_product, &unknown_route] {
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some(ALLOWED),
            "{}",
            answer.text
        );
        assert!(list(answer, "access-control-expose-headers").contains(&"x-request-id".to_owned()));
    }
}

#[tokio::test]
async fn an_actual_request_from_another_origin_gets_no_allow_origin() {
    let stack = spawn_with(Bff::Web, CORS_ENV).await;
    let answer = send(&stack, Method::GET, "/v1/products/p-1", &[("origin", OTHER)]).await;
    assert_eq!(answer.status, 200, "the server answers; the browser withholds it");
    assert_eq!(answer.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn without_configured_origins_no_origin_is_allowed() {
    let stack = spawn(Bff::Web).await;
    let answer = preflight(&stack, "/v1/dashboard", ALLOWED, "GET", "authorization").await;
    assert_eq!(answer.header("access-control-allow-origin"), None);
    answer.assert_problem(405, "method_not_allowed");
    let answer = send(&stack, Method::GET, "/v1/products/p-1", &[("origin", ALLOWED)]).await;
    assert_eq!(answer.header("access-control-allow-origin"), None);
}
