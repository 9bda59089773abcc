//! [`Principal`]: who a verified bearer token speaks for.
//!
//! This module owns only the value; verifying a token is
//! [`Verifier`](super::Verifier)'s job and getting one out of a request is
//! the extractors' ([`Auth`](super::Auth), [`MaybeAuth`](super::MaybeAuth)).

use std::sync::Arc;

/// The authenticated caller, built only from a token whose signature and
/// claims passed every check (docs/api.md#authentication).
///
/// Middleware that verified a token itself (the rate limiter keys on `sub`)
/// may put a `Principal` in the request extensions; the extractors then
/// trust it instead of verifying again. Only code that verified a token may
/// insert one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The token's `sub` claim: a non-empty string naming the user.
    /// Shared, so cloning a `Principal` per request costs a reference count.
    pub sub: Arc<str>,
}
