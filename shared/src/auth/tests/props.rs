//! Property tests of the verifier: whatever a client puts in a token or an
//! `Authorization` header, verification never panics, answers only
//! `invalid_token` or `token_expired`, and accepts nothing but a token
//! validly signed by the configured key with the claims section 7 needs.
//! Fixed seed and small case counts (see `backends::props::config`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::auth::Principal;
use crate::backends::props::{config, json_keyed};
use crate::error::ApiError;

/// Margin around `now` for `exp` and `nbf`, well past the 5 s leeway so
/// that a case never sits on the boundary.
const CLEAR_OF_LEEWAY: i64 = 60;

/// An HS256 verifier and an ES256 one (an EC key made now: cheap, unlike
/// the shared RSA pair), with the ES256 signing key.
struct Verifiers {
    runtime: tokio::runtime::Runtime,
    hs: Verifier,
    es: Verifier,
    es_signer: EncodingKey,
    es_public_pem: String,
}

fn verifiers() -> Verifiers {
    use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let secret = p256::SecretKey::random(&mut rand::thread_rng());
    let private = secret.to_pkcs8_pem(LineEnding::LF).expect("private PEM").to_string();
    let public = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("public PEM");
    let (hs, es) = runtime.block_on(async {
        (
            hs_verifier(None, None).await,
            pem_verifier(&public).await.expect("ES256 verifier"),
        )
    });
    Verifiers {
        runtime,
        hs,
        es,
        es_signer: EncodingKey::from_ec_pem(private.as_bytes()).expect("EC signing key"),
        es_public_pem: public,
    }
}

impl Verifiers {
    fn verify(&self, verifier: &Verifier, token: &str) -> Result<Principal, ApiError> {
        self.runtime.block_on(verifier.verify(token))
    }

    /// Neither verifier accepts `token`, and both say `invalid_token`.
    fn refuse(&self, token: &str) -> Result<(), TestCaseError> {
        for verifier in [&self.hs, &self.es] {
            prop_assert_eq!(
                self.verify(verifier, token),
                Err(ApiError::InvalidToken),
                "{:.80}",
                token
            );
        }
        Ok(())
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Arbitrary JSON with short lower-case keys (claim-like names).
fn json_value() -> impl Strategy<Value = Value> {
    json_keyed("[a-z]{1,4}")
}

/// A JWT header: a known, unknown or hostile `alg`, maybe `kid` and `typ`.
fn jwt_header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        prop::sample::select(vec![
            "none", "None", "NONE", "HS256", "HS384", "HS512", "RS256", "RS512", "PS256", "ES256", "ES384", "EdDSA",
            "",
        ])
        .prop_map(Value::from),
        json_value(),
    ];
    (alg, proptest::option::of(".{0,12}"), proptest::option::of(json_value())).prop_map(|(alg, kid, typ)| {
        let mut header = json!({ "alg": alg });
        if let Some(kid) = kid {
            header["kid"] = kid.into();
        }
        if let Some(typ) = typ {
            header["typ"] = typ;
        }
        header
    })
}

/// A base64url segment: of JSON, of arbitrary bytes, or not base64 at all.
fn segment(json: impl Strategy<Value = Value>) -> impl Strategy<Value = String> {
    prop_oneof![
        json.prop_map(|v| b64(&serde_json::to_vec(&v).expect("JSON"))),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| b64(&b)),
        "[A-Za-z0-9_=+/.-]{0,40}",
    ]
}

/// Claims: `sub` of any type or missing, `exp` and `nbf` well before or
/// after now or missing, and arbitrary extra claims.
fn claims() -> impl Strategy<Value = Value> {
    let offset = prop_oneof![-1_000_000i64..-CLEAR_OF_LEEWAY, CLEAR_OF_LEEWAY..1_000_000i64];
    let sub = prop_oneof![
        3 => ".{0,16}".prop_map(Value::from),
        1 => json_value(),
    ];
    (
        proptest::option::weighted(0.85, sub),
        proptest::option::weighted(0.9, offset.clone()),
        proptest::option::weighted(0.3, offset),
        prop::collection::btree_map("[a-z]{1,5}", json_value(), 0..3),
    )
        .prop_map(|(sub, exp, nbf, extra)| {
            let now = now() as i64;
            let mut claims: serde_json::Map<String, Value> = extra.into_iter().collect();
            for name in ["sub", "exp", "nbf", "iss", "aud"] {
                claims.remove(name);
            }
            if let Some(sub) = sub {
                claims.insert("sub".into(), sub);
            }
            if let Some(exp) = exp {
                claims.insert("exp".into(), (now + exp).into());
            }
            if let Some(nbf) = nbf {
                claims.insert("nbf".into(), (now + nbf).into());
            }
            Value::Object(claims)
        })
}

/// What section 7 says a correctly signed token with `claims` gets.
fn expected(claims: &Value) -> Expected {
    let now = now() as i64;
    let past = |name: &str| claims[name].as_i64().is_some_and(|t| t < now);
    let sub = claims["sub"].as_str().filter(|s| !s.is_empty());
    match sub {
        Some(sub)
            if claims["exp"].as_i64().is_some_and(|exp| exp > now) && (claims["nbf"].is_null() || past("nbf")) =>
        {
            Expected::Accepted(sub.to_owned())
        }
        Some(_) if past("exp") && claims["nbf"].is_null() => Expected::Expired,
        // Which of two claim errors the library reports first is its own
        // business; either way it is one of the two documented errors.
        _ if past("exp") && claims.get("sub").is_some() => Expected::RefusedOrExpired,
        _ => Expected::Refused,
    }
}

#[derive(Debug)]
enum Expected {
    Accepted(String),
    Expired,
    RefusedOrExpired,
    Refused,
}

fn check(result: Result<Principal, ApiError>, expected: &Expected, claims: &Value) -> Result<(), TestCaseError> {
    match (expected, result) {
        (Expected::Accepted(sub), Ok(principal)) => prop_assert_eq!(&*principal.sub, sub.as_str()),
        (Expected::Expired, Err(ApiError::TokenExpired)) => {}
        (Expected::RefusedOrExpired, Err(ApiError::TokenExpired | ApiError::InvalidToken)) => {}
        (Expected::Refused, Err(ApiError::InvalidToken)) => {}
        (expected, result) => prop_assert!(false, "{claims}: expected {expected:?}, got {result:?}"),
    }
    Ok(())
}

#[test]
fn arbitrary_strings_are_invalid_tokens() {
    let v = verifiers();
    let tokens = prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_.-]{0,300}",
        "([A-Za-z0-9_-]{0,40}\\.){0,4}[A-Za-z0-9_-]{0,40}",
    ];
    proptest::test_runner::TestRunner::new(config(256))
        .run(&tokens, |token| v.refuse(&token))
        .expect("no string is a token");
}

#[test]
fn tokens_of_arbitrary_base64url_segments_and_algorithms_are_invalid() {
    let v = verifiers();
    let parts = (
        segment(jwt_header()),
        segment(claims()),
        prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| b64(&b)),
        0usize..3,
    );
    proptest::test_runner::TestRunner::new(config(256))
        .run(&parts, |(header, payload, signature, shape)| {
            let token = match shape {
                0 => format!("{header}.{payload}.{signature}"),
                1 => format!("{header}.{payload}."),
                _ => format!("{header}.{payload}"),
            };
            v.refuse(&token)
        })
        .expect("no forged token passes");
}

#[test]
fn huge_tokens_are_invalid_without_being_parsed() {
    let v = verifiers();
    let genuine = hs256(SECRET, &good_claims("u-1"));
    let huge = (8 * 1024 - genuine.len()..64 * 1024, any::<u8>());
    proptest::test_runner::TestRunner::new(config(16))
        .run(&huge, |(padding, fill)| {
            // A genuine token grown past the limit by a long claim: still refused.
            let mut claims = good_claims("u-1");
            claims["pad"] = Value::from("x".repeat(padding));
            v.refuse(&hs256(SECRET, &claims))?;
            v.refuse(&char::from(fill % 94 + 33).to_string().repeat(padding + 8 * 1024))
        })
        .expect("no huge token passes");
}

#[test]
fn a_token_signed_by_the_configured_key_is_judged_by_its_claims_alone() {
    let v = verifiers();
    // ES256 in a debug build is slow: 64 cases take about two seconds.
    proptest::test_runner::TestRunner::new(config(64))
        .run(&claims(), |claims| {
            let expected = expected(&claims);
            check(v.verify(&v.hs, &hs256(SECRET, &claims)), &expected, &claims)?;
            let es_token = sign(Algorithm::ES256, &v.es_signer, None, &claims);
            check(v.verify(&v.es, &es_token), &expected, &claims)
        })
        .expect("claims decide, as section 7 says");
}

#[test]
fn a_token_signed_with_another_key_or_algorithm_is_never_accepted_nor_expired() {
    let v = verifiers();
    let hs_other = EncodingKey::from_secret(b"another secret, also 32 bytes long!!");
    let hs_right = EncodingKey::from_secret(SECRET.as_bytes());
    // Alg confusion: the ES256 public key used as an HMAC secret.
    let confused = EncodingKey::from_secret(v.es_public_pem.as_bytes());
    proptest::test_runner::TestRunner::new(config(64))
        .run(&claims(), |claims| {
            for (alg, key) in [
                (Algorithm::HS256, &hs_other),
                (Algorithm::HS384, &hs_right),
                (Algorithm::HS512, &hs_right),
                (Algorithm::HS256, &confused),
            ] {
                v.refuse(&sign(alg, key, None, &claims))?;
            }
            // The right key, with a signature for other claims.
            let genuine = hs256(SECRET, &good_claims("u-1"));
            let forged = hs256(SECRET, &claims);
            let (head, _) = forged.rsplit_once('.').expect("three parts");
            let (_, signature) = genuine.rsplit_once('.').expect("three parts");
            if forged != genuine {
                v.refuse(&format!("{head}.{signature}"))?;
            }
            Ok(())
        })
        .expect("only the configured key and algorithm sign");
}

#[test]
fn any_authorization_header_is_anonymous_a_principal_or_invalid_token() {
    let v = verifiers();
    let genuine = hs256(SECRET, &good_claims("u-1"));
    let values = (
        prop::collection::vec(prop_oneof![9u8..=9, 32u8..=126, 128u8..=255], 0..120),
        "[Bb][Ee][Aa][Rr][Ee][Rr]",
        " {1,3}",
        " {0,3}",
    );
    proptest::test_runner::TestRunner::new(config(256))
        .run(&values, |(raw, scheme, before, after)| {
            let mut headers = HeaderMap::new();
            let value = HeaderValue::from_bytes(&raw).expect("visible bytes");
            headers.insert(AUTHORIZATION, value);
            let result = v.runtime.block_on(v.hs.from_headers(&headers));
            let bearer =
                raw.len() >= 6 && raw[..6].eq_ignore_ascii_case(b"bearer") && raw.get(6).is_none_or(|b| *b == b' ');
            match result {
                Ok(None) => prop_assert!(!bearer, "a Bearer header is never anonymous: {:?}", raw),
                Err(ApiError::InvalidToken) => prop_assert!(bearer),
                other => prop_assert!(false, "{:?}: {:?}", raw, other),
            }
            // Any case of the scheme, spaces around the token: the genuine one passes.
            headers.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("{scheme}{before}{genuine}{after}")).expect("header"),
            );
            let principal = v.runtime.block_on(v.hs.from_headers(&headers));
            prop_assert_eq!(
                principal.map(|p| p.map(|p| p.sub.to_string())),
                Ok(Some("u-1".to_owned()))
            );
            Ok(())
        })
        .expect("headers are judged as section 7 says");
}
