//! Rendering a composite answer with its headers, and the
//! [`DegradedReport`] it leaves for the layers outside (the access log,
//! the degraded-sections metric).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::etag;
use super::{Degraded, Summary};
use crate::error::ApiError;

static X_PARTIAL_RESPONSE: HeaderName = HeaderName::from_static("x-partial-response");
static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// The degraded sections of a composite answer, in the response's
/// extensions, so that the access log and metrics see exactly what the
/// client's `meta.degraded` says. Only partial answers carry one.
#[derive(Debug, Clone, PartialEq)]
pub struct DegradedReport(pub Vec<Degraded>);

/// A composite answer ready to send: JSON body, `X-Partial-Response` when
/// partial, `Server-Timing`, and `Cache-Control: private, no-store` when it
/// holds personal data.
#[derive(Debug)]
pub struct Composite {
    body: Vec<u8>,
    partial: bool,
    server_timing: String,
    personal: bool,
    etag: Option<HeaderValue>,
    not_modified: bool,
    /// The degraded sections, when partial.
    degraded: Vec<Degraded>,
}

impl Composite {
    /// Serialises `body` (which embeds `summary.meta()`).
    pub fn new<T: Serialize>(summary: &Summary, body: &T, personal: bool) -> Result<Self, ApiError> {
        // Composite answers are a few KiB: start there rather than grow
        // from nothing, copying at every doubling.
        let mut out = Vec::with_capacity(4096);
        serde_json::to_writer(&mut out, body).map_err(|e| {
            tracing::error!(error = %e, "cannot serialise a composite answer");
            ApiError::Internal
        })?;
        Ok(Self {
            body: out,
            partial: summary.is_partial(),
            server_timing: summary.server_timing(),
            personal,
            etag: None,
            not_modified: false,
            degraded: if summary.is_partial() {
                summary.meta().degraded
            } else {
                Vec::new()
            },
        })
    }

    /// A public (not personal) answer with a weak `ETag`, or a body-less
    /// 304 when `if_none_match` already names it. Partial answers get no
    /// tag: a degraded answer is not worth revalidating against.
    pub fn public<T: Serialize>(
        summary: &Summary,
        body: &T,
        if_none_match: Option<&HeaderValue>,
    ) -> Result<Self, ApiError> {
        let mut composite = Self::new(summary, body, false)?;
        if !composite.partial {
            let tag = etag::weak_etag(&composite.body, &summary.request_id);
            composite.not_modified = if_none_match.is_some_and(|inm| etag::matches(inm, &tag));
            composite.etag = Some(tag);
        }
        Ok(composite)
    }
}

impl IntoResponse for Composite {
    fn into_response(self) -> Response {
        let mut response = if self.not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            self.body.into_response()
        };
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
        if let Some(tag) = self.etag {
            headers.insert(header::ETAG, tag);
            // Shared caches may keep it but must revalidate each time.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        if self.not_modified {
            headers.remove(header::CONTENT_TYPE);
        }
        if !self.degraded.is_empty() {
            response.extensions_mut().insert(DegradedReport(self.degraded));
        }
        response
    }
}
