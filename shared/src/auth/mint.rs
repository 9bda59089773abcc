//! Minting HS256 tokens for the dev `token` command, the demo and tests.
//!
//! Production tokens come from an identity provider; this module exists so
//! a developer can call a BFF configured with `BFF_JWT_HS256_SECRET` without
//! one. It sets exactly the claims the verifier requires (`sub`, `exp`) plus
//! `iat`, and nothing else: no `iss` or `aud`, so it is no use against a
//! verifier that requires them.
//!
//! ```
//! use std::time::Duration;
//! let token = bff_shared::auth::mint_hs256("a-long-dev-secret", "u-1", Duration::from_secs(600)).unwrap();
//! assert_eq!(token.split('.').count(), 3);
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The secret is empty; every verifier would accept forgeries.
    #[error("the HS256 secret must not be empty")]
    EmptySecret,
    /// The subject is empty; the verifier rejects such tokens.
    #[error("the subject (sub) must not be empty")]
    EmptySubject,
    /// Signing failed inside the JWT library.
    #[error("cannot sign the token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
}

/// Signs an HS256 token for `sub` that expires `ttl` from now, with the
/// claims `sub`, `iat` and `exp`.
///
/// Fails only on an empty `secret` or `sub` (or if the JWT library cannot
/// sign, which does not happen for HMAC in practice).
pub fn mint_hs256(secret: &str, sub: &str, ttl: Duration) -> Result<String, MintError> {
    if secret.is_empty() {
        return Err(MintError::EmptySecret);
    }
    if sub.is_empty() {
        return Err(MintError::EmptySubject);
    }
    // A clock before 1970 is a broken host; 0 still yields a usable `exp`
    // relative to what the verifier (on the same host) believes.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let claims = Claims {
        sub,
        iat: now,
        exp: now.saturating_add(ttl.as_secs()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(MintError::Sign)
}
