//! Bearer-token authentication (docs/api.md#authentication).
//!
//! - [`Verifier`] checks a JWT against the configured key (HS256 secret,
//!   RS256/ES256 PEM, or JWKS) and the claim rules, yielding a [`Principal`];
//! - `jwks` caches JWKS keys by `kid`, refreshed in the background every
//!   `BFF_JWT_JWKS_REFRESH_SECS` and on an unknown `kid` (rate-limited,
//!   single-flight);
//! - `remembered` keeps tokens that passed, until their `exp` (at most a
//!   minute, and only while the key set stays the same);
//! - [`Auth`] and [`MaybeAuth`] are the axum extractors routes use;
//! - [`mint_hs256`] signs development tokens.
//!
//! Rendering the 401s is [`ApiError`](crate::error::ApiError)'s; using `sub`
//! as the rate-limit key is the rate limiter's.

mod extract;
mod jwks;
mod mint;
mod principal;
mod remembered;
mod verifier;

#[cfg(test)]
mod tests;

pub use extract::{Auth, MaybeAuth};
pub use mint::{MintError, mint_hs256};
pub use principal::Principal;
pub use verifier::Verifier;
