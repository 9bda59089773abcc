//! The extractors as a client sees them: status, problem code and
//! `WWW-Authenticate` from a real router driven with `oneshot`.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::FromRequestParts;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;
use crate::auth::{Auth, MaybeAuth, Principal};

async fn required(Auth(principal): Auth) -> String {
    principal.sub.to_string()
}

async fn optional(MaybeAuth(principal): MaybeAuth) -> String {
    principal.map_or_else(|| "anonymous".to_owned(), |p| p.sub.to_string())
}

async fn app() -> Router {
    let verifier = Arc::new(hs_verifier(None, None).await);
    Router::new()
        .route("/required", get(required))
        .route("/optional", get(optional))
        .with_state(verifier)
}

/// Status, body text, problem `code` (if JSON) and `WWW-Authenticate`.
async fn call(
    app: Router,
    path: &str,
    authorization: Option<&str>,
) -> (StatusCode, String, Option<String>, Option<String>) {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = to_bytes(response.into_body(), usize::MAX).await.expect("body");
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned));
    (status, text, code, challenge)
}

#[tokio::test]
async fn a_required_route_without_a_token_is_unauthorized() {
    for authorization in [None, Some("Basic dXNlcjpwYXNz")] {
        let (status, _, code, challenge) = call(app().await, "/required", authorization).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(code.as_deref(), Some("unauthorized"));
        assert!(challenge.expect("WWW-Authenticate").starts_with("Bearer"));
    }
}

#[tokio::test]
async fn an_optional_route_without_a_token_is_anonymous() {
    let (status, body, _, _) = call(app().await, "/optional", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
}

#[tokio::test]
async fn a_bad_token_is_invalid_token_on_required_and_optional_routes() {
    for path in ["/required", "/optional"] {
        for authorization in [
            "Bearer not-a-jwt",
            "Bearer ",
            &format!("Bearer {}", hs256("wrong-secret", &good_claims("u-1"))),
        ] {
            let (status, _, code, challenge) = call(app().await, path, Some(authorization)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {authorization}");
            assert_eq!(code.as_deref(), Some("invalid_token"), "{path} {authorization}");
            assert!(challenge.expect("WWW-Authenticate").contains("invalid_token"));
        }
    }
}

#[tokio::test]
async fn an_expired_token_is_token_expired_on_required_and_optional_routes() {
    let token = hs256(SECRET, &json!({ "sub": "u-1", "exp": now() - 60 }));
    for path in ["/required", "/optional"] {
        let (status, _, code, _) = call(app().await, path, Some(&format!("Bearer {token}"))).await;
        assert_eq!(
            (status, code.as_deref()),
            (StatusCode::UNAUTHORIZED, Some("token_expired")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_valid_token_yields_its_sub_on_required_and_optional_routes() {
    let authorization = format!("Bearer {}", hs256(SECRET, &good_claims("u-7")));
    for path in ["/required", "/optional"] {
        let (status, body, _, _) = call(app().await, path, Some(&authorization)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "u-7"), "{path}");
    }
}

#[tokio::test]
async fn a_principal_already_in_the_extensions_is_used_without_verifying_again() {
    let principal = Principal {
        sub: "from-middleware".into(),
    };
    let app = app().await.layer(Extension(principal));
    // The header is not even a token: had it been verified, this would be a 401.
    let (status, body, _, _) = call(app, "/required", Some("Bearer not-a-jwt")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "from-middleware"));
}

#[tokio::test]
async fn the_verified_principal_is_cached_in_the_request_extensions() {
    let state = Arc::new(hs_verifier(None, None).await);
    let request = Request::get("/")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", hs256(SECRET, &good_claims("u-1"))),
        )
        .body(())
        .expect("request");
    let (mut parts, ()) = request.into_parts();
    let Auth(first) = Auth::from_request_parts(&mut parts, &state).await.expect("verified");
    assert_eq!(parts.extensions.get::<Principal>(), Some(&first));
    let MaybeAuth(second) = MaybeAuth::from_request_parts(&mut parts, &state).await.expect("cached");
    assert_eq!(second, Some(first));
}
