//! Rendering a composite answer with its headers.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Fanout;
use crate::error::ApiError;

static X_PARTIAL_RESPONSE: HeaderName = HeaderName::from_static("x-partial-response");
static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// A composite answer ready to send: JSON body, `X-Partial-Response` when
/// partial, `Server-Timing`, and `Cache-Control: private, no-store` when it
/// holds personal data.
#[derive(Debug)]
pub struct Composite {
    body: Vec<u8>,
    partial: bool,
    server_timing: String,
    personal: bool,
}

impl Composite {
    /// Serialises `body` (which embeds `fanout.meta()`) for `fanout`.
    pub fn new<T: Serialize>(fanout: &Fanout, body: &T, personal: bool) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(body).map_err(|e| {
            tracing::error!(error = %e, "cannot serialise a composite answer");
            ApiError::Internal
        })?;
        Ok(Self { body, partial: fanout.is_partial(), server_timing: fanout.server_timing(), personal })
    }
}

impl IntoResponse for Composite {
    fn into_response(self) -> Response {
        let mut response = self.body.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.partial {
            headers.insert(X_PARTIAL_RESPONSE.clone(), HeaderValue::from_static("true"));
        }
        if !self.server_timing.is_empty()
            && let Ok(timing) = HeaderValue::from_str(&self.server_timing)
        {
            headers.insert(SERVER_TIMING.clone(), timing);
        }
        if self.personal {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        }
        response
    }
}
