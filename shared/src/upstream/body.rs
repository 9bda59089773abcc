//! Upstream bodies, bounded (docs/api.md#order-pass-through): a JSON answer
//! is read up to the configured cap, and a pass-through body is a stream
//! that fails, rather than ends, when its upstream fails, stalls past the
//! deadline or grows past the cap.
//!
//! An answer refused for its size is dropped unread: hyper then closes its
//! connection instead of returning it to the pool (a body cut short cannot
//! be followed by another response on the same connection), so nothing of
//! it is read past what had already arrived. What the failures mean for
//! the client is left to [`super::Upstream`] and the handlers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyDataStream, BodyExt};
use hyper::body::{Body as _, Incoming};
use tokio::time::{Instant, Sleep};

use super::client::UpstreamResponse;
use super::error::UpstreamError;

/// Whether `headers` declare an `application/json` body (parameters such
/// as `charset` allowed, any case).
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The body length the response declares (`Content-Length`), if any.
fn declared_length(response: &UpstreamResponse) -> Option<u64> {
    response.body().size_hint().exact()
}

/// Whether the response declares a length over `cap`.
fn declared_over(response: &UpstreamResponse, cap: usize) -> bool {
    declared_length(response).is_some_and(|length| length > cap as u64)
}

/// Reads the whole body when it is at most `cap` bytes. Larger (declared
/// or streamed) is `BadResponse`; a connection that fails mid-body is
/// `Transport`.
pub(super) async fn read_capped(response: UpstreamResponse, cap: usize) -> Result<Bytes, UpstreamError> {
    if declared_over(&response, cap) {
        return Err(UpstreamError::BadResponse);
    }
    let mut body = response.into_body();
    // Most answers arrive as one chunk: keep it without copying.
    let mut chunks: Vec<Bytes> = Vec::with_capacity(1);
    let mut length = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.map_err(|_| UpstreamError::Transport)?.into_data() else {
            continue; // trailers
        };
        length += chunk.len();
        if length > cap {
            return Err(UpstreamError::BadResponse);
        }
        chunks.push(chunk);
    }
    Ok(if chunks.len() == 1 {
        chunks.swap_remove(0)
    } else {
        Bytes::from(chunks.concat())
    })
}

/// A 2xx `application/json` answer whose body has not been read yet, for
/// passing on unchanged.
#[derive(Debug)]
pub struct StreamedJson {
    /// The upstream's status, a 2xx.
    pub status: StatusCode,
    /// Its `Content-Type`, an `application/json` with any parameters.
    pub content_type: HeaderValue,
    /// Its declared `Content-Length`, when it declared one (never over the cap).
    pub content_length: Option<u64>,
    /// The body, bounded.
    pub body: BoundedBody,
}

impl StreamedJson {
    /// Checks a 2xx answer: a type other than `application/json`, or a
    /// declared length over `cap`, is `BadResponse` (and the response is
    /// dropped unread).
    pub(super) fn accept(
        upstream: &'static str,
        response: UpstreamResponse,
        deadline: Instant,
        cap: usize,
    ) -> Result<Self, UpstreamError> {
        if !is_json(response.headers()) || declared_over(&response, cap) {
            return Err(UpstreamError::BadResponse);
        }
        let Some(content_type) = response.headers().get(header::CONTENT_TYPE).cloned() else {
            return Err(UpstreamError::BadResponse);
        };
        Ok(Self {
            status: response.status(),
            content_type,
            content_length: declared_length(&response),
            body: BoundedBody {
                upstream,
                inner: BodyDataStream::new(response.into_body()),
                deadline,
                timer: None,
                left: cap,
                finished: false,
            },
        })
    }
}

/// Why a pass-through body ended in an error. Never shown to a client: the
/// error makes the server abort the client's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The upstream connection failed or was reset mid-body.
    #[error("the upstream body failed")]
    Failed,
    /// No more of the body arrived by the request's deadline.
    #[error("the upstream body stalled past the deadline")]
    Stalled,
    /// The body grew past `BFF_UPSTREAM_MAX_BODY_BYTES`.
    #[error("the upstream body exceeded the size cap")]
    TooLarge,
}

/// The body of a [`StreamedJson`]: the upstream's chunks as they arrive,
/// then its end, or one [`BodyError`] and nothing more.
///
/// An error is what makes the HTTP server abort the client's connection
/// (a chunked body is left unterminated, a `Content-Length` body short), so
/// a client can never take half an answer for a whole one. Ending cleanly
/// instead would send a complete-looking 200.
pub struct BoundedBody {
    upstream: &'static str,
    inner: BodyDataStream<Incoming>,
    deadline: Instant,
    /// Armed only the first time the body has to wait: a body that is
    /// already there (most are, with the head) costs no timer.
    timer: Option<Pin<Box<Sleep>>>,
    /// Bytes still allowed under the cap.
    left: usize,
    finished: bool,
}

impl std::fmt::Debug for BoundedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedBody")
            .field("upstream", &self.upstream)
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl Stream for BoundedBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        let error = match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => match this.left.checked_sub(chunk.len()) {
                Some(left) => {
                    this.left = left;
                    return Poll::Ready(Some(Ok(chunk)));
                }
                None => BodyError::TooLarge,
            },
            Poll::Ready(Some(Err(_))) => BodyError::Failed,
            Poll::Ready(None) => {
                this.finished = true;
                return Poll::Ready(None);
            }
            // Waiting for the upstream: only as long as the deadline allows.
            Poll::Pending => {
                let deadline = this.deadline;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => BodyError::Stalled,
                    Poll::Pending => return Poll::Pending,
                }
            }
        };
        this.finished = true;
        tracing::debug!(upstream = this.upstream, error = %error, "pass-through body aborted");
        Poll::Ready(Some(Err(error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_application_json_with_any_parameters_is_json() {
        for json in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            " application/json ",
        ] {
            assert!(is_json(&content_type(json)), "{json}");
        }
        for other in [
            "text/html",
            "text/plain; charset=utf-8",
            "application/jsonx",
            "application/problem+json",
            "application/x-json",
            "",
        ] {
            assert!(!is_json(&content_type(other)), "{other}");
        }
        assert!(!is_json(&HeaderMap::new()), "no type at all");
    }
}
