//! Minted development tokens pass the verifier they are meant for.

use std::time::Duration;

use super::*;
use crate::auth::{MintError, mint_hs256};
use crate::error::ApiError;

#[tokio::test]
async fn a_minted_token_is_accepted_by_an_hs256_verifier_with_the_same_secret() {
    let token = mint_hs256(SECRET, "u-1", Duration::from_secs(600)).expect("minted");
    let principal = hs_verifier(None, None).await.verify(&token).await.expect("accepted");
    assert_eq!(&*principal.sub, "u-1");
}

#[tokio::test]
async fn a_minted_token_carries_sub_iat_and_exp() {
    let token = mint_hs256(SECRET, "u-1", Duration::from_secs(600)).expect("minted");
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token)
        .expect("decodable")
        .claims;
    assert_eq!(claims["sub"], "u-1");
    let (iat, exp) = (
        claims["iat"].as_u64().expect("iat"),
        claims["exp"].as_u64().expect("exp"),
    );
    assert_eq!(exp - iat, 600);
    assert!(iat.abs_diff(now()) <= 2);
}

#[tokio::test]
async fn a_minted_token_with_a_zero_ttl_expires() {
    let token = mint_hs256(SECRET, "u-1", Duration::ZERO).expect("minted");
    // Inside the 5 s leeway it still passes; the claim itself says "now".
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token)
        .expect("decodable")
        .claims;
    assert_eq!(claims["exp"], claims["iat"]);
    let stale = hs256(SECRET, &serde_json::json!({ "sub": "u-1", "exp": now() - 10 }));
    assert_eq!(
        hs_verifier(None, None).await.verify(&stale).await,
        Err(ApiError::TokenExpired)
    );
}

#[test]
fn minting_with_an_empty_secret_or_sub_fails() {
    assert!(matches!(
        mint_hs256("", "u-1", Duration::from_secs(1)),
        Err(MintError::EmptySecret)
    ));
    assert!(matches!(
        mint_hs256(SECRET, "", Duration::from_secs(1)),
        Err(MintError::EmptySubject)
    ));
}
