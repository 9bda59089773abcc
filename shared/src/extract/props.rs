//! Property test of [`ValidId`](super::ValidId) in a real router: the
//! shared stack and the order pass-through, over a loopback upstream that
//! records every call. Whatever a client puts in the id's path segment
//! (any byte, percent-encoded or not), the answer is never a 500, an id
//! that breaks the rule is a 400 that reaches no upstream, and a valid id
//! reaches the upstream as exactly one encoded path segment.

use std::cell::Cell;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::mint_hs256;
use crate::backends::is_valid_id;
use crate::backends::props::{RecordingUpstream, SECRET, config, platform, runtime};
use crate::endpoints::order::{__path_get_order, get_order};

/// One piece of a path segment: a character a client may send raw, or any
/// byte percent-encoded (either case of hex digits).
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z0-9]".prop_map(|s: String| s),
        2 => "[-._~!$&'()*+,;=:@]".prop_map(|s: String| s),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(b, upper)| if upper { format!("%{b:02X}") } else { format!("%{b:02x}") }),
        1 => prop::sample::select(vec!["%2e", "%2E%2e", "..", ".", "%2F", "%00", "%20", "%C3%BC"]).prop_map(str::to_owned),
    ]
}

#[test]
fn any_id_segment_is_a_400_that_reaches_no_upstream_or_one_encoded_upstream_segment_never_a_500() {
    let rt = runtime();
    let (upstream, app) = rt.block_on(async {
        let upstream = RecordingUpstream::start().await;
        let platform = platform(&upstream).await;
        let api = OpenApiRouter::new()
            .routes(routes!(get_order))
            .with_state(platform.clone());
        (upstream, crate::stack::finish(api, &platform.platform))
    });
    let token = mint_hs256(SECRET, "u-1", std::time::Duration::from_secs(600)).expect("token");
    let segments = prop::collection::vec(piece(), 1..12).prop_map(|pieces| pieces.concat());
    // Both outcomes must be common, or the property says little.
    let (valid, refused) = (Cell::new(0), Cell::new(0));
    proptest::test_runner::TestRunner::new(config(256))
        .run(&segments, |segment| {
            let request = Request::get(format!("/v1/orders/{segment}"))
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("a valid request target");
            let response = rt.block_on(app.clone().oneshot(request)).expect("infallible");
            let status = response.status();
            let seen = upstream.take();
            prop_assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{}", segment);
            prop_assert_eq!(
                response.headers().get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{}",
                segment
            );
            let decoded = urlencoding::decode_binary(segment.as_bytes()).into_owned();
            match String::from_utf8(decoded).ok().filter(|id| is_valid_id(id)) {
                Some(id) => {
                    // The recording upstream answers 404: passed on as 404.
                    prop_assert_eq!(status, StatusCode::NOT_FOUND, "{}", segment);
                    prop_assert_eq!(
                        seen,
                        vec![format!("/orders/{}", urlencoding::encode(&id))],
                        "{}",
                        segment
                    );
                    valid.set(valid.get() + 1);
                }
                None => {
                    prop_assert_eq!(status, StatusCode::BAD_REQUEST, "{}", segment);
                    prop_assert!(seen.is_empty(), "{} reached the upstream: {:?}", segment, seen);
                    refused.set(refused.get() + 1);
                }
            }
            Ok(())
        })
        .expect("ids are checked before any upstream call");
    assert!(
        valid.get() >= 30 && refused.get() >= 30,
        "{valid:?} valid, {refused:?} refused"
    );
}
