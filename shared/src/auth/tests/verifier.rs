//! The verifier with fixed keys: algorithms, signatures, claims, headers,
//! and start-up errors for bad PEM files.

use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

use super::*;
use crate::config::vars;
use crate::error::ApiError;

#[tokio::test]
async fn a_valid_hs256_token_is_accepted() {
    let verifier = hs_verifier(None, None).await;
    let principal = verifier
        .verify(&hs256(SECRET, &good_claims("u-1")))
        .await
        .expect("accepted");
    assert_eq!(&*principal.sub, "u-1");
}

#[tokio::test]
async fn a_valid_rs256_token_is_accepted() {
    let verifier = pem_verifier(&keys().rsa_public).await.expect("RSA verifier");
    let token = sign(Algorithm::RS256, &rsa_signer(), None, &good_claims("u-rsa"));
    assert_eq!(&*verifier.verify(&token).await.expect("accepted").sub, "u-rsa");
}

#[tokio::test]
async fn a_valid_es256_token_is_accepted() {
    let verifier = pem_verifier(&keys().ec_public).await.expect("EC verifier");
    let token = sign(Algorithm::ES256, &ec_signer(), None, &good_claims("u-ec"));
    assert_eq!(&*verifier.verify(&token).await.expect("accepted").sub, "u-ec");
}

#[tokio::test]
async fn an_alg_none_token_is_invalid() {
    let token = unsigned(&json!({ "alg": "none", "typ": "JWT" }), &good_claims("u-1"));
    let without_signature = format!("{}.", token.rsplit_once('.').expect("three parts").0);
    let hs = hs_verifier(None, None).await;
    let rs = pem_verifier(&keys().rsa_public).await.expect("RSA verifier");
    for t in [&token, &without_signature] {
        assert_eq!(hs.verify(t).await, Err(ApiError::InvalidToken));
        assert_eq!(rs.verify(t).await, Err(ApiError::InvalidToken));
    }
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_rsa_public_key_is_invalid_for_an_rs256_verifier() {
    let verifier = pem_verifier(&keys().rsa_public).await.expect("RSA verifier");
    let forged = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(keys().rsa_public.as_bytes()),
        None,
        &good_claims("attacker"),
    );
    assert_eq!(verifier.verify(&forged).await, Err(ApiError::InvalidToken));
}

#[tokio::test]
async fn a_token_signed_for_another_algorithm_family_is_invalid() {
    let rs = pem_verifier(&keys().rsa_public).await.expect("RSA verifier");
    let es = pem_verifier(&keys().ec_public).await.expect("EC verifier");
    let es_token = sign(Algorithm::ES256, &ec_signer(), None, &good_claims("u-1"));
    let rs_token = sign(Algorithm::RS256, &rsa_signer(), None, &good_claims("u-1"));
    assert_eq!(rs.verify(&es_token).await, Err(ApiError::InvalidToken));
    assert_eq!(es.verify(&rs_token).await, Err(ApiError::InvalidToken));
    let hs = hs_verifier(None, None).await;
    assert_eq!(hs.verify(&rs_token).await, Err(ApiError::InvalidToken));
}

#[tokio::test]
async fn a_token_with_a_bad_signature_is_invalid() {
    let hs = hs_verifier(None, None).await;
    assert_eq!(
        hs.verify(&hs256("another-secret", &good_claims("u-1"))).await,
        Err(ApiError::InvalidToken)
    );

    // The RS256 signature of one payload on another payload.
    let rs = pem_verifier(&keys().rsa_public).await.expect("RSA verifier");
    let genuine = sign(Algorithm::RS256, &rsa_signer(), None, &good_claims("u-1"));
    let other = sign(Algorithm::RS256, &rsa_signer(), None, &good_claims("u-2"));
    let (head, _) = genuine.rsplit_once('.').expect("three parts");
    let (_, foreign_signature) = other.rsplit_once('.').expect("three parts");
    assert_eq!(
        rs.verify(&format!("{head}.{foreign_signature}")).await,
        Err(ApiError::InvalidToken)
    );

    let es = pem_verifier(&keys().ec_public).await.expect("EC verifier");
    let stranger = EncodingKey::from_ec_pem(other_ec_private().as_bytes()).expect("EC key");
    assert_eq!(
        es.verify(&sign(Algorithm::ES256, &stranger, None, &good_claims("u-1")))
            .await,
        Err(ApiError::InvalidToken)
    );
}

#[tokio::test]
async fn a_malformed_token_is_invalid() {
    let verifier = hs_verifier(None, None).await;
    for token in ["", "abc", "a.b.c", "a.b", "....", &"x".repeat(20_000)] {
        assert_eq!(verifier.verify(token).await, Err(ApiError::InvalidToken), "{token:.20}");
    }
}

#[tokio::test]
async fn an_expired_token_is_token_expired() {
    let verifier = hs_verifier(None, None).await;
    let token = hs256(SECRET, &json!({ "sub": "u-1", "exp": now() - 60 }));
    assert_eq!(verifier.verify(&token).await, Err(ApiError::TokenExpired));
}

#[tokio::test]
async fn an_expired_token_with_a_bad_signature_is_invalid_not_expired() {
    let verifier = hs_verifier(None, None).await;
    let token = hs256("another-secret", &json!({ "sub": "u-1", "exp": now() - 60 }));
    assert_eq!(verifier.verify(&token).await, Err(ApiError::InvalidToken));
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_is_accepted() {
    let verifier = hs_verifier(None, None).await;
    let token = hs256(SECRET, &json!({ "sub": "u-1", "exp": now() - 2 }));
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_token_not_yet_valid_is_invalid() {
    let verifier = hs_verifier(None, None).await;
    let token = hs256(SECRET, &json!({ "sub": "u-1", "exp": now() + 600, "nbf": now() + 120 }));
    assert_eq!(verifier.verify(&token).await, Err(ApiError::InvalidToken));
    let recent = hs256(SECRET, &json!({ "sub": "u-1", "exp": now() + 600, "nbf": now() - 1 }));
    assert!(verifier.verify(&recent).await.is_ok());
}

#[tokio::test]
async fn a_token_without_a_usable_sub_is_invalid() {
    let verifier = hs_verifier(None, None).await;
    for claims in [
        json!({ "exp": now() + 600 }),
        json!({ "sub": "", "exp": now() + 600 }),
        json!({ "sub": 42, "exp": now() + 600 }),
        json!({ "sub": null, "exp": now() + 600 }),
    ] {
        assert_eq!(
            verifier.verify(&hs256(SECRET, &claims)).await,
            Err(ApiError::InvalidToken),
            "{claims}"
        );
    }
}

#[tokio::test]
async fn a_token_without_a_usable_exp_is_invalid() {
    let verifier = hs_verifier(None, None).await;
    for claims in [json!({ "sub": "u-1" }), json!({ "sub": "u-1", "exp": "tomorrow" })] {
        assert_eq!(
            verifier.verify(&hs256(SECRET, &claims)).await,
            Err(ApiError::InvalidToken),
            "{claims}"
        );
    }
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let verifier = hs_verifier(Some("https://id.example"), Some("bff")).await;
    let with = |iss: Option<&str>, aud: Option<&str>| {
        let mut claims = good_claims("u-1");
        if let Some(iss) = iss {
            claims["iss"] = json!(iss);
        }
        if let Some(aud) = aud {
            claims["aud"] = json!(aud);
        }
        hs256(SECRET, &claims)
    };
    assert!(
        verifier
            .verify(&with(Some("https://id.example"), Some("bff")))
            .await
            .is_ok()
    );
    for (iss, aud) in [
        (Some("https://evil.example"), Some("bff")),
        (Some("https://id.example"), Some("other-app")),
        (None, Some("bff")),
        (Some("https://id.example"), None),
    ] {
        assert_eq!(
            verifier.verify(&with(iss, aud)).await,
            Err(ApiError::InvalidToken),
            "iss {iss:?}, aud {aud:?}"
        );
    }
    // An audience list containing ours is fine.
    let mut claims = good_claims("u-1");
    claims["iss"] = json!("https://id.example");
    claims["aud"] = json!(["other-app", "bff"]);
    assert!(verifier.verify(&hs256(SECRET, &claims)).await.is_ok());
}

#[tokio::test]
async fn issuer_and_audience_are_ignored_when_not_configured() {
    let verifier = hs_verifier(None, None).await;
    let mut claims = good_claims("u-1");
    claims["iss"] = json!("https://anyone.example");
    claims["aud"] = json!(["whatever"]);
    assert!(verifier.verify(&hs256(SECRET, &claims)).await.is_ok());
}

fn auth(value: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
    headers
}

#[tokio::test]
async fn headers_without_a_bearer_token_are_anonymous() {
    let verifier = hs_verifier(None, None).await;
    assert_eq!(verifier.from_headers(&HeaderMap::new()).await, Ok(None));
    assert_eq!(verifier.from_headers(&auth("Basic dXNlcjpwYXNz")).await, Ok(None));
    assert_eq!(verifier.from_headers(&auth("Bearerish abc")).await, Ok(None));
}

#[tokio::test]
async fn a_bearer_header_with_an_empty_or_bad_token_is_invalid() {
    let verifier = hs_verifier(None, None).await;
    for value in ["Bearer", "Bearer ", "bearer    ", "Bearer not-a-jwt"] {
        assert_eq!(
            verifier.from_headers(&auth(value)).await,
            Err(ApiError::InvalidToken),
            "{value:?}"
        );
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let verifier = hs_verifier(None, None).await;
    let token = hs256(SECRET, &good_claims("u-1"));
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("{scheme} {token}")).expect("header"),
        );
        let principal = verifier
            .from_headers(&headers)
            .await
            .expect("accepted")
            .expect("present");
        assert_eq!(&*principal.sub, "u-1");
    }
}

#[tokio::test]
async fn an_unusable_public_key_file_is_a_config_error_naming_the_variable() {
    let missing = JwtSettings {
        public_key_file: Some("/nonexistent/bff-test-key.pem".into()),
        ..JwtSettings::default()
    };
    let mut errors = vec![
        Verifier::from_settings(&missing, http())
            .await
            .expect_err("missing file"),
    ];
    for pem in [
        "not a pem at all",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        keys().rsa_private.as_str(),
        keys().ec_private.as_str(),
    ] {
        errors.push(pem_verifier(pem).await.expect_err("unusable PEM"));
    }
    for error in errors {
        assert_eq!(error.variable, vars::JWT_PUBLIC_KEY_FILE, "{error}");
    }
}

#[tokio::test]
async fn an_empty_hs256_secret_is_a_config_error() {
    let settings = JwtSettings {
        hs256_secret: Some(String::new()),
        ..JwtSettings::default()
    };
    let error = Verifier::from_settings(&settings, http())
        .await
        .expect_err("empty secret");
    assert_eq!(error.variable, vars::JWT_HS256_SECRET);
}
