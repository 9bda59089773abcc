//! Entity tags for public composite answers, so clients and caches can
//! revalidate with `If-None-Match` and get a body-less 304.
//!
//! The tag covers the answer minus its `meta.request_id` (which differs on
//! every request), so two requests that see the same data get the same tag.
//! It is weak (`W/`): equal content, not necessarily equal bytes once
//! compressed.

use axum::http::HeaderValue;
use sha2::{Digest, Sha256};

/// The weak ETag of `body`, ignoring the `"request_id":"<id>"` member.
pub fn weak_etag(body: &[u8], request_id: &str) -> HeaderValue {
    let marker = format!("\"request_id\":\"{request_id}\"");
    let mut hasher = Sha256::new();
    match find(body, marker.as_bytes()) {
        Some(at) => {
            hasher.update(&body[..at]);
            hasher.update(&body[at + marker.len()..]);
        }
        None => hasher.update(body),
    }
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("W/\"{hex}\"")).unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""))
}

/// Whether `If-None-Match` names `etag` (weak comparison, lists and `*`).
pub fn matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(header) = if_none_match.to_str() else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default().trim_start_matches("W/");
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_ignores_the_request_id() {
        let a = weak_etag(br#"{"x":1,"meta":{"request_id":"aaa","partial":false}}"#, "aaa");
        let b = weak_etag(br#"{"x":1,"meta":{"request_id":"bbb","partial":false}}"#, "bbb");
        let c = weak_etag(br#"{"x":2,"meta":{"request_id":"bbb","partial":false}}"#, "bbb");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.to_str().unwrap().starts_with("W/\""));
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let tag = HeaderValue::from_static("W/\"abc\"");
        assert!(matches(&HeaderValue::from_static("\"abc\""), &tag));
        assert!(matches(&HeaderValue::from_static("\"x\", W/\"abc\""), &tag));
        assert!(matches(&HeaderValue::from_static("*"), &tag));
        assert!(!matches(&HeaderValue::from_static("\"abd\""), &tag));
    }
}
