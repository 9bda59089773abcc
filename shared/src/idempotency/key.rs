//! The `Idempotency-Key` header ([`IdempotencyKey`], an extractor that owns
//! its rejections) and the key a record is stored under ([`ScopedKey`]).
//!
//! ```
//! use axum::{Router, routing::post};
//! use bff_shared::idempotency::IdempotencyKey;
//!
//! async fn write(key: IdempotencyKey) -> String {
//!     format!("key {}", key.as_str())
//! }
//!
//! let app: Router = Router::new().route("/write", post(write));
//! ```

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};

use crate::error::ApiError;

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;

static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Whether `key` is 1 to [`MAX_KEY_LEN`] visible ASCII characters (no
/// spaces or control characters), so it can be forwarded upstream as is.
pub fn is_valid_key(key: &[u8]) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.iter().all(|b| b.is_ascii_graphic())
}

/// The request's `Idempotency-Key`, validated.
///
/// Rejects with 400 `idempotency_key_required` when the header is absent,
/// and with 400 `invalid_request` when it is empty, too long, has a
/// character outside visible ASCII, or is sent more than once.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(HeaderValue);

impl IdempotencyKey {
    /// The key as text (always visible ASCII).
    pub fn as_str(&self) -> &str {
        // Validated as visible ASCII, so this never falls back.
        self.0.to_str().unwrap_or_default()
    }

    /// The key as a header value, to forward upstream.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(&IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else {
            return Err(ApiError::IdempotencyKeyRequired);
        };
        if values.next().is_some() {
            return Err(ApiError::BadRequest("Idempotency-Key must be sent once".into()));
        }
        if !is_valid_key(value.as_bytes()) {
            return Err(ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            )));
        }
        Ok(Self(value.clone()))
    }
}

/// The key of a record: the user and their `Idempotency-Key`. Keys are
/// scoped to the user, so another user's identical key is another record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScopedKey {
    user: Arc<str>,
    key: Arc<str>,
}

impl ScopedKey {
    /// The record key of `key` sent by `user` (the token's `sub`).
    pub fn new(user: impl Into<Arc<str>>, key: impl Into<Arc<str>>) -> Self {
        Self {
            user: user.into(),
            key: key.into(),
        }
    }

    /// The user the key belongs to.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The client's `Idempotency-Key`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Approximate heap size, for bounding a store's memory.
    pub(crate) fn weight(&self) -> usize {
        self.user.len() + self.key.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    async fn extract(values: &[&[u8]]) -> Result<IdempotencyKey, ApiError> {
        let mut request = Request::builder();
        for value in values {
            request = request.header("idempotency-key", HeaderValue::from_bytes(value).expect("header value"));
        }
        let (mut parts, ()) = request.body(()).expect("request").into_parts();
        IdempotencyKey::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn a_visible_ascii_key_of_up_to_255_characters_is_accepted() {
        let long = "k".repeat(MAX_KEY_LEN);
        for key in ["a", "order-2024-01-01:retry#1", "~!@{}[]", long.as_str()] {
            assert_eq!(extract(&[key.as_bytes()]).await.expect("accepted").as_str(), key);
        }
    }

    #[tokio::test]
    async fn a_missing_key_is_idempotency_key_required() {
        assert_eq!(extract(&[]).await.unwrap_err(), ApiError::IdempotencyKeyRequired);
    }

    #[tokio::test]
    async fn empty_long_spaced_non_ascii_or_repeated_keys_are_invalid_requests() {
        let long = "k".repeat(MAX_KEY_LEN + 1);
        for bad in [
            &b""[..],
            long.as_bytes(),
            b"has space",
            b"tab\there",
            "caf\u{e9}".as_bytes(),
        ] {
            let error = extract(&[bad]).await.unwrap_err();
            assert_eq!(error.code(), "invalid_request", "{bad:?}");
            assert_eq!(error.status(), 400);
        }
        assert_eq!(extract(&[b"a", b"b"]).await.unwrap_err().code(), "invalid_request");
    }
}
