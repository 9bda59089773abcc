//! Extractors that own their rejections, so malformed input is a 400
//! problem rather than the framework's plain-text error.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::backends::is_valid_id;
use crate::error::ApiError;

#[cfg(test)]
mod props;

/// The `detail` of the 400 that refuses a malformed id.
pub const MALFORMED_ID: &str =
    "malformed id: expected 1 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit";

/// A resource id from the path's single parameter, checked by
/// [`is_valid_id`] before it goes anywhere near an upstream URL.
#[derive(Debug, Clone)]
pub struct ValidId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ValidId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state).await?;
        if is_valid_id(&id) {
            Ok(Self(id))
        } else {
            Err(ApiError::BadRequest(MALFORMED_ID.into()))
        }
    }
}
