//! Authentication as a mobile client meets it.

use std::time::{SystemTime, UNIX_EPOCH};

use bff_stack::simulator::Service;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use crate::support::{Bff, SECRET, spawn, spawn_with};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn sign(claims: serde_json::Value, secret: &str) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn home_without_a_token_is_401_unauthorized_with_a_bearer_challenge() {
    let stack = spawn(Bff::Mobile).await;
    let answer = stack.get("/v1/home", None, &[]).await;
    answer.assert_problem(401, "unauthorized");
    assert!(answer.header("www-authenticate").unwrap().starts_with("Bearer"));
    assert_eq!(stack.sim.count(Service::Users), 0);
}

#[tokio::test]
async fn a_badly_signed_token_is_invalid_token() {
    let stack = spawn(Bff::Mobile).await;
    let forged = sign(json!({"sub": "u-1", "exp": now() + 600}), "not-the-secret");
    stack
        .get("/v1/home", Some(&forged), &[])
        .await
        .assert_problem(401, "invalid_token");
    stack
        .get("/v1/home", Some("garbage"), &[])
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn an_expired_token_is_token_expired() {
    let stack = spawn(Bff::Mobile).await;
    let expired = sign(json!({"sub": "u-1", "exp": now() - 3600}), SECRET);
    stack
        .get("/v1/home", Some(&expired), &[])
        .await
        .assert_problem(401, "token_expired");
}

#[tokio::test]
async fn optional_auth_rejects_a_present_but_invalid_token() {
    let stack = spawn(Bff::Mobile).await;
    stack
        .get("/v1/products/p-1", Some("garbage"), &[])
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let stack = spawn_with(
        Bff::Mobile,
        &[("BFF_JWT_ISSUER", "https://id.test"), ("BFF_JWT_AUDIENCE", "mobile")],
    )
    .await;
    let good = sign(
        json!({"sub": "u-1", "exp": now() + 600, "iss": "https://id.test", "aud": "mobile"}),
        SECRET,
    );
    assert_eq!(stack.get("/v1/home", Some(&good), &[]).await.status, 200);
    let wrong = sign(
        json!({"sub": "u-1", "exp": now() + 600, "iss": "https://evil.test", "aud": "mobile"}),
        SECRET,
    );
    stack
        .get("/v1/home", Some(&wrong), &[])
        .await
        .assert_problem(401, "invalid_token");
    let missing = sign(json!({"sub": "u-1", "exp": now() + 600}), SECRET);
    stack
        .get("/v1/home", Some(&missing), &[])
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_signed_token_whose_subject_is_a_dot_segment_is_invalid_and_reaches_no_upstream() {
    let stack = spawn(Bff::Mobile).await;
    for sub in [".", ".."] {
        let token = sign(json!({"sub": sub, "exp": now() + 600}), SECRET);
        stack
            .get("/v1/home", Some(&token), &[])
            .await
            .assert_problem(401, "invalid_token");
    }
    for service in Service::ALL {
        assert_eq!(stack.sim.count(service), 0, "{service:?} was called");
    }
}
