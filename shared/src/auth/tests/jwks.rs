//! The verifier with a JWKS URL, against a real local JWKS endpoint (real
//! sockets and the real clock, so the rate-limit waits are real).

use std::time::Duration;

use futures::future::join_all;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tokio::time::{Instant, sleep};

use super::*;
use crate::auth::jwks::MIN_REFRESH_INTERVAL;
use crate::error::ApiError;

fn random_kid() -> String {
    use rand::Rng as _;
    format!("kid-{:016x}", rand::thread_rng().r#gen::<u64>())
}

#[tokio::test]
async fn a_token_signed_by_a_published_key_is_accepted() {
    let server = JwksServer::start(vec![
        jwk(&rsa_signer(), Algorithm::RS256, "rsa-1"),
        jwk(&ec_signer(), Algorithm::ES256, "ec-1"),
    ])
    .await;
    let verifier = server.verifier().await;
    let rs = sign(Algorithm::RS256, &rsa_signer(), Some("rsa-1"), &good_claims("u-rsa"));
    let es = sign(Algorithm::ES256, &ec_signer(), Some("ec-1"), &good_claims("u-ec"));
    assert_eq!(&*verifier.verify(&rs).await.expect("RS256 accepted").sub, "u-rsa");
    assert_eq!(&*verifier.verify(&es).await.expect("ES256 accepted").sub, "u-ec");
    assert_eq!(server.hits(), 1, "known kids need no refresh");
}

#[tokio::test]
async fn a_key_without_alg_verifies_the_algorithm_its_type_implies() {
    let mut key = jwk(&ec_signer(), Algorithm::ES256, "ec-1");
    key.common.key_algorithm = None;
    let server = JwksServer::start(vec![key]).await;
    let verifier = server.verifier().await;
    let token = sign(Algorithm::ES256, &ec_signer(), Some("ec-1"), &good_claims("u-1"));
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_token_whose_alg_differs_from_its_key_is_invalid() {
    let server = JwksServer::start(vec![jwk(&rsa_signer(), Algorithm::RS256, "rsa-1")]).await;
    let verifier = server.verifier().await;
    let confused = sign(
        Algorithm::HS256,
        &jsonwebtoken::EncodingKey::from_secret(keys().rsa_public.as_bytes()),
        Some("rsa-1"),
        &good_claims("attacker"),
    );
    assert_eq!(verifier.verify(&confused).await, Err(ApiError::InvalidToken));
    let none = unsigned(&json!({ "alg": "none", "kid": "rsa-1" }), &good_claims("attacker"));
    assert_eq!(verifier.verify(&none).await, Err(ApiError::InvalidToken));
}

#[tokio::test]
async fn a_symmetric_key_in_the_jwks_is_never_used() {
    let server = JwksServer::start(vec![jwk(&rsa_signer(), Algorithm::RS256, "rsa-1")]).await;
    server.publish(json!({ "kty": "oct", "kid": "hmac", "alg": "HS256", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ" }));
    let verifier = server.verifier().await;
    let token = sign(
        Algorithm::HS256,
        &jsonwebtoken::EncodingKey::from_secret(b"secret-secret-secret"),
        Some("hmac"),
        &good_claims("attacker"),
    );
    assert_eq!(verifier.verify(&token).await, Err(ApiError::InvalidToken));
}

#[tokio::test]
async fn a_token_without_kid_is_accepted_only_when_the_set_has_one_key() {
    let token = sign(Algorithm::ES256, &ec_signer(), None, &good_claims("u-1"));

    let one = JwksServer::start(vec![jwk(&ec_signer(), Algorithm::ES256, "ec-1")]).await;
    assert!(one.verifier().await.verify(&token).await.is_ok());

    let two = JwksServer::start(vec![
        jwk(&ec_signer(), Algorithm::ES256, "ec-1"),
        jwk(&rsa_signer(), Algorithm::RS256, "rsa-1"),
    ])
    .await;
    assert_eq!(two.verifier().await.verify(&token).await, Err(ApiError::InvalidToken));
}

#[tokio::test]
async fn a_key_published_under_a_new_kid_after_start_is_accepted_within_five_seconds() {
    let server = JwksServer::start(vec![jwk(&rsa_signer(), Algorithm::RS256, "old")]).await;
    let verifier = server.verifier().await;
    let token = sign(Algorithm::ES256, &ec_signer(), Some("new"), &good_claims("u-1"));
    assert_eq!(
        verifier.verify(&token).await,
        Err(ApiError::InvalidToken),
        "not published yet"
    );

    server.publish(serde_json::to_value(jwk(&ec_signer(), Algorithm::ES256, "new")).expect("json"));
    let published = Instant::now();
    let accepted = loop {
        if verifier.verify(&token).await.is_ok() {
            break Some(published.elapsed());
        }
        if published.elapsed() > Duration::from_secs(5) {
            break None;
        }
        sleep(Duration::from_millis(100)).await;
    };
    let after = accepted.expect("the new key is accepted within 5 s");
    assert!(
        after <= MIN_REFRESH_INTERVAL + Duration::from_millis(500),
        "accepted after {after:?}"
    );
    let old = sign(Algorithm::RS256, &rsa_signer(), Some("old"), &good_claims("u-2"));
    assert!(verifier.verify(&old).await.is_ok(), "the old key still works");
}

#[tokio::test]
async fn concurrent_tokens_with_unknown_kids_share_one_fetch() {
    let server = JwksServer::start(vec![jwk(&rsa_signer(), Algorithm::RS256, "rsa-1")]).await;
    let verifier = server.verifier().await;
    sleep(MIN_REFRESH_INTERVAL).await; // so that a refresh is allowed
    let tokens: Vec<String> = (0..100)
        .map(|_| unsigned(&json!({ "alg": "RS256", "kid": random_kid() }), &good_claims("u-1")))
        .collect();
    let results = join_all(tokens.iter().map(|t| verifier.verify(t))).await;
    assert!(results.iter().all(|r| *r == Err(ApiError::InvalidToken)));
    let refreshes = server.hits() - 1;
    assert!((1..=2).contains(&refreshes), "{refreshes} fetches for 100 unknown kids");
}

#[tokio::test]
async fn a_slow_endpoint_is_fetched_once_for_concurrent_unknown_kids() {
    let server = JwksServer::start(vec![jwk(&rsa_signer(), Algorithm::RS256, "rsa-1")]).await;
    let verifier = server.verifier().await;
    // Slower than the rate-limit interval: waiters must not refetch in turn
    // once the first fetch returns.
    server.set_delay(MIN_REFRESH_INTERVAL + Duration::from_millis(300));
    sleep(MIN_REFRESH_INTERVAL).await;
    let tokens: Vec<String> = (0..100)
        .map(|_| unsigned(&json!({ "alg": "RS256", "kid": random_kid() }), &good_claims("u-1")))
        .collect();
    let results = join_all(tokens.iter().map(|t| verifier.verify(t))).await;
    assert!(results.iter().all(|r| *r == Err(ApiError::InvalidToken)));
    assert_eq!(server.hits() - 1, 1, "one fetch for 100 concurrent unknown kids");
}

#[tokio::test]
async fn a_stream_of_unknown_kids_fetches_at_most_once_per_second() {
    let server = JwksServer::start(vec![jwk(&rsa_signer(), Algorithm::RS256, "rsa-1")]).await;
    let verifier = server.verifier().await;
    let started = Instant::now();
    for _ in 0..100 {
        let token = unsigned(&json!({ "alg": "RS256", "kid": random_kid() }), &good_claims("u-1"));
        assert_eq!(verifier.verify(&token).await, Err(ApiError::InvalidToken));
    }
    let allowed = 1 + started.elapsed().as_secs() as usize;
    let refreshes = server.hits() - 1;
    assert!(
        refreshes <= allowed.max(2),
        "{refreshes} fetches in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_endpoint_down_at_start_up_does_not_fail_start_up_and_is_fetched_later() {
    let server = JwksServer::start(vec![jwk(&rsa_signer(), Algorithm::RS256, "rsa-1")]).await;
    server.set_down(true);
    let verifier = server.verifier().await;
    let token = sign(Algorithm::RS256, &rsa_signer(), Some("rsa-1"), &good_claims("u-1"));
    assert_eq!(
        verifier.verify(&token).await,
        Err(ApiError::InvalidToken),
        "no keys yet"
    );

    server.set_down(false);
    sleep(MIN_REFRESH_INTERVAL).await;
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn an_unreachable_endpoint_does_not_fail_start_up() {
    // A port that was just free: connecting is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    drop(listener);
    let settings = JwtSettings {
        jwks_url: Some(url),
        ..JwtSettings::default()
    };
    let verifier = Verifier::from_settings(&settings, http())
        .await
        .expect("start-up succeeds");
    let token = sign(Algorithm::RS256, &rsa_signer(), Some("rsa-1"), &good_claims("u-1"));
    assert_eq!(verifier.verify(&token).await, Err(ApiError::InvalidToken));
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_old_keys() {
    let server = JwksServer::start(vec![jwk(&rsa_signer(), Algorithm::RS256, "rsa-1")]).await;
    let verifier = server.verifier().await;
    server.set_down(true);
    sleep(MIN_REFRESH_INTERVAL).await;
    let unknown = unsigned(&json!({ "alg": "RS256", "kid": "unknown" }), &good_claims("u-1"));
    assert_eq!(verifier.verify(&unknown).await, Err(ApiError::InvalidToken));
    assert_eq!(server.hits(), 2, "the unknown kid triggered a (failed) refresh");
    let known = sign(Algorithm::RS256, &rsa_signer(), Some("rsa-1"), &good_claims("u-1"));
    assert!(verifier.verify(&known).await.is_ok());
}

#[tokio::test]
async fn an_expired_jwks_token_is_token_expired() {
    let server = JwksServer::start(vec![jwk(&ec_signer(), Algorithm::ES256, "ec-1")]).await;
    let verifier = server.verifier().await;
    let token = sign(
        Algorithm::ES256,
        &ec_signer(),
        Some("ec-1"),
        &json!({ "sub": "u-1", "exp": now() - 60 }),
    );
    assert_eq!(verifier.verify(&token).await, Err(ApiError::TokenExpired));
}

#[tokio::test]
async fn a_key_removed_from_the_set_is_rejected_after_one_refresh_period_and_the_others_still_work() {
    let period = Duration::from_secs(1);
    let server = JwksServer::start(vec![
        jwk(&rsa_signer(), Algorithm::RS256, "leaving"),
        jwk(&ec_signer(), Algorithm::ES256, "staying"),
    ])
    .await;
    let verifier = server.verifier_refreshing_every(period).await;
    let leaving = sign(Algorithm::RS256, &rsa_signer(), Some("leaving"), &good_claims("u-1"));
    let staying = sign(Algorithm::ES256, &ec_signer(), Some("staying"), &good_claims("u-2"));
    assert!(verifier.verify(&leaving).await.is_ok(), "published at start");

    server.remove("leaving");
    // One period, plus a margin for the fetch itself.
    sleep(period + Duration::from_millis(500)).await;
    assert_eq!(verifier.verify(&leaving).await, Err(ApiError::InvalidToken));
    assert!(
        verifier.verify(&staying).await.is_ok(),
        "a key still published keeps working"
    );
}

#[tokio::test]
async fn a_failing_endpoint_is_fetched_once_per_period_and_its_last_keys_are_kept() {
    let period = Duration::from_secs(1);
    let server = JwksServer::start(vec![jwk(&ec_signer(), Algorithm::ES256, "ec-1")]).await;
    let verifier = server.verifier_refreshing_every(period).await;
    server.set_down(true);
    let started = Instant::now();
    sleep(Duration::from_millis(3500)).await;
    let background = server.hits() - 1;
    let periods = (started.elapsed().as_millis() / period.as_millis()) as usize;
    assert!(
        (1..=periods).contains(&background),
        "{background} background fetches in {periods} periods"
    );
    let token = sign(Algorithm::ES256, &ec_signer(), Some("ec-1"), &good_claims("u-1"));
    assert!(verifier.verify(&token).await.is_ok(), "the last good keys are kept");
}

#[tokio::test]
async fn the_background_refresh_ends_when_the_verifier_is_dropped() {
    let period = Duration::from_secs(1);
    let server = JwksServer::start(vec![jwk(&ec_signer(), Algorithm::ES256, "ec-1")]).await;
    let verifier = server.verifier_refreshing_every(period).await;
    sleep(period + Duration::from_millis(300)).await;
    assert!(server.hits() >= 2, "refreshed in the background while alive");
    drop(verifier);
    let after_drop = server.hits();
    sleep(period * 2 + Duration::from_millis(300)).await;
    assert!(
        server.hits() <= after_drop + 1,
        "still fetching after the drop: {} then {}",
        after_drop,
        server.hits()
    );
}
