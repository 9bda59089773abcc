//! The security headers of docs/api.md#response-headers that are not a problem
//! document's own (`Cache-Control: no-store` on every problem is rendered
//! with it, in [`crate::error::ApiError`]).
//!
//! - [`nosniff`]: `X-Content-Type-Options: nosniff` on every response, so a
//!   browser never reads a JSON or problem body as HTML or script; the stack
//!   sets it outermost ([`crate::stack`]).
//! - [`page_csp`]: the `Content-Security-Policy` of the pages a browser
//!   renders (`/docs` and its assets; the status page reuses it):
//!   [`PAGE_CSP`].

use axum::http::HeaderValue;
use axum::http::header::{CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of every HTML page we serve. Everything comes from our own
/// origin (no CDN, no font service, no analytics: the pages work offline),
/// and no other site may frame them (clickjacking).
///
/// - scripts only from our own files: no inline script, no `eval`;
/// - styles from our files plus inline styles (`'unsafe-inline'`): Swagger
///   UI sets `style` attributes as it renders (without it the browser
///   refuses them), and a self-contained page keeps its CSS in a `<style>`
///   element; styles cannot run code;
/// - images from our files and `data:` URIs (Swagger UI's stylesheet draws
///   its arrows and icons from `data:` images);
/// - no fonts: system fonts only;
/// - `connect-src 'self'`: the page fetches `/openapi.json`, and "try it
///   out" calls this API, from the same origin;
/// - `base-uri 'self'`: the docs page carries `<base href="/docs/">`;
/// - `form-action 'self'`, `frame-ancestors 'none'`, everything else
///   (`default-src`) refused.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'self'; \
frame-ancestors 'none'";

/// Sets `X-Content-Type-Options: nosniff` on every response it wraps.
pub fn nosniff() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"))
}

/// Sets [`PAGE_CSP`] on every response it wraps (a page and its assets).
pub fn page_csp() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_forbids_framing_and_names_no_other_origin() {
        let directives: Vec<&str> = PAGE_CSP.split(';').map(str::trim).collect();
        assert!(directives.contains(&"frame-ancestors 'none'"));
        assert!(directives.contains(&"default-src 'none'"));
        for directive in directives {
            for source in directive.split_whitespace().skip(1) {
                assert!(
                    ["'self'", "'none'", "'unsafe-inline'", "data:"].contains(&source),
                    "{directive} allows {source}"
                );
            }
        }
    }
}
