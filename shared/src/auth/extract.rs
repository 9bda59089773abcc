//! axum extractors for bearer authentication: [`Auth`] (required) and
//! [`MaybeAuth`] (optional).
//!
//! They own the request-level policy of docs/api.md#authentication — no token is
//! `unauthorized` on a required route and anonymous on an optional one; a
//! present but bad token is always a 401 — and the per-request cache: the
//! verified [`Principal`] is stored in the request extensions, and one
//! already there (put by a middleware that verified the token, such as the
//! rate limiter) is used as is, so a token is verified once per request.
//! Verification itself is [`Verifier`]'s.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use bff_shared::auth::{Auth, Verifier};
//!
//! async fn me(Auth(principal): Auth) -> String {
//!     principal.sub.to_string()
//! }
//!
//! fn app(verifier: Arc<Verifier>) -> Router {
//!     Router::new().route("/me", get(me)).with_state(verifier)
//! }
//! ```

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

use super::{Principal, Verifier};
use crate::error::ApiError;

/// The caller of a route that requires a bearer token.
///
/// Rejects with [`ApiError::Unauthorized`] when there is no bearer token,
/// and with [`ApiError::InvalidToken`] / [`ApiError::TokenExpired`] when
/// the token fails verification.
#[derive(Clone, Debug)]
pub struct Auth(pub Principal);

/// The caller of a route where a bearer token is optional: `None` when the
/// request has none, an error (as for [`Auth`]) when it has a bad one.
#[derive(Clone, Debug)]
pub struct MaybeAuth(pub Option<Principal>);

impl<S> FromRequestParts<S> for Auth
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        principal(parts, state).await?.map(Auth).ok_or(ApiError::Unauthorized)
    }
}

impl<S> FromRequestParts<S> for MaybeAuth
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        principal(parts, state).await.map(MaybeAuth)
    }
}

/// The request's principal: from the extensions if someone verified it
/// already, else verified now and cached there.
async fn principal<S>(parts: &mut Parts, state: &S) -> Result<Option<Principal>, ApiError>
where
    Arc<Verifier>: FromRef<S>,
{
    if let Some(principal) = parts.extensions.get::<Principal>() {
        return Ok(Some(principal.clone()));
    }
    let verifier = Arc::<Verifier>::from_ref(state);
    let principal = verifier.from_headers(&parts.headers).await?;
    if let Some(principal) = &principal {
        parts.extensions.insert(principal.clone());
    }
    Ok(principal)
}
