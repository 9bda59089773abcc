//! CORS for browsers (docs/api.md#cors-bff-web), built from `BFF_CORS_ORIGINS`.
//!
//! Only the origins listed are ever echoed in `Access-Control-Allow-Origin`;
//! there is no `*`, because a wildcard does not cover `Authorization` and
//! would let any site read answers with a user's token. Where the layer sits
//! in the stack (so preflights are answered before routing and every
//! response carries the headers) is `bff_shared::stack::finish_with`'s
//! concern.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may reuse a preflight answer: long enough to spare a
/// busy page a preflight per request, short enough that a changed origin
/// list or header set takes effect soon after a deploy (browsers cap it
/// anyway, Chromium at two hours).
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins`, or `None` when there are none: then no
/// browser page on another origin is meant to call us, and an `OPTIONS`
/// request is answered like any other unsupported method (405).
///
/// Origins are compared byte for byte with what the browser sends, and
/// browsers send scheme and host in lower case, so the configured list is
/// lower-cased to make `https://Shop.Example` match too.
pub fn layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(&origin.to_ascii_lowercase()).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            // Named one by one: a `*` here would not cover `Authorization`.
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-request-id"),
            ])
            // Without these a page could not read the request id to report
            // a problem, nor tell a partial answer from a complete one.
            .expose_headers([
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("x-partial-response"),
            ])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn preflight(origins: &[&str], origin: &str) -> axum::http::Response<Body> {
        let origins: Vec<String> = origins.iter().map(|o| (*o).to_owned()).collect();
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(layer(&origins).expect("a layer"));
        let request = Request::options("/")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .expect("request");
        app.oneshot(request).await.expect("infallible")
    }

    #[test]
    fn no_origin_means_no_cors_layer() {
        assert!(layer(&[]).is_none());
    }

    #[tokio::test]
    async fn a_configured_origin_is_echoed_even_when_configured_in_upper_case() {
        let response = preflight(&["https://Shop.Example"], "https://shop.example").await;
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://shop.example"
        );
        let allowed = response.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .expect("ascii");
        assert!(allowed.contains("authorization"), "{allowed}");
        assert_eq!(response.headers()[header::ACCESS_CONTROL_MAX_AGE], "600");
    }

    #[tokio::test]
    async fn another_origin_gets_no_allow_origin() {
        let response = preflight(&["https://shop.example"], "https://evil.example").await;
        assert!(response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }
}
