//! The client address behind trusted proxies (docs/operations.md#trusting-the-proxy): the
//! anonymous rate limit keys the address a trusted proxy names in
//! `X-Forwarded-For`, never one the client wrote itself. The test client
//! plays the proxy: its requests come from 127.0.0.1 with the header a
//! proxy such as nginx (`$proxy_add_x_forwarded_for`) would send.
//!
//! `/v1/home` without a token is rate limited before auth: 401 means
//! admitted, 429 refused, and no upstream is called.

use crate::support::{Bff, Stack, spawn_with};

const TIGHT: [(&str, &str); 2] = [("BFF_RATE_LIMIT_BURST", "2"), ("BFF_RATE_LIMIT_RPS", "1")];

async fn trusting_loopback() -> Stack {
    spawn_with(
        Bff::Mobile,
        &[TIGHT[0], TIGHT[1], ("BFF_TRUSTED_PROXIES", "127.0.0.1/32")],
    )
    .await
}

/// The status of an anonymous request forwarded for `xff`.
async fn status_for(stack: &Stack, xff: &str) -> u16 {
    stack.get("/v1/home", None, &[("x-forwarded-for", xff)]).await.status
}

#[tokio::test]
async fn behind_a_trusted_proxy_anonymous_clients_have_separate_buckets() {
    let stack = trusting_loopback().await;
    let first = [
        status_for(&stack, "203.0.113.1").await,
        status_for(&stack, "203.0.113.1").await,
        status_for(&stack, "203.0.113.1").await,
    ];
    assert_eq!(first, [401, 401, 429], "the burst, then limited");
    assert_eq!(
        status_for(&stack, "203.0.113.2").await,
        401,
        "another client is not locked out"
    );
}

#[tokio::test]
async fn without_trusted_proxies_the_forwarded_for_header_is_ignored() {
    let stack = spawn_with(Bff::Mobile, &TIGHT).await;
    assert_eq!(status_for(&stack, "203.0.113.1").await, 401);
    assert_eq!(status_for(&stack, "203.0.113.2").await, 401);
    assert_eq!(
        status_for(&stack, "203.0.113.3").await,
        429,
        "one bucket: the peer's address"
    );
}

#[tokio::test]
async fn ipv6_clients_share_a_bucket_per_64() {
    let stack = trusting_loopback().await;
    assert_eq!(status_for(&stack, "2001:db8:1:2::1").await, 401);
    assert_eq!(status_for(&stack, "2001:db8:1:2:ffff::7").await, 401);
    assert_eq!(
        status_for(&stack, "2001:db8:1:2::99").await,
        429,
        "the same /64, the same bucket"
    );
    assert_eq!(status_for(&stack, "2001:db8:1:3::1").await, 401, "another /64");
}

#[tokio::test]
async fn a_spoofed_leftmost_entry_does_not_let_a_client_escape_its_limit() {
    let stack = trusting_loopback().await;
    assert_eq!(status_for(&stack, "203.0.113.1").await, 401);
    assert_eq!(status_for(&stack, "203.0.113.1").await, 401);
    // The client writes its own X-Forwarded-For; the proxy appends the
    // address the request really came from.
    for spoofed in [
        "198.51.100.7, 203.0.113.1",
        "127.0.0.1, 203.0.113.1",
        "unknown, 203.0.113.1",
        "2001:db8::1,203.0.113.1",
    ] {
        assert_eq!(status_for(&stack, spoofed).await, 429, "{spoofed}");
    }
    // Two header lines count as one list, in order.
    let two_lines = stack
        .http
        .get(stack.url("/v1/home"))
        .header("x-forwarded-for", "198.51.100.8")
        .header("x-forwarded-for", "203.0.113.1")
        .send()
        .await
        .expect("sent");
    assert_eq!(two_lines.status().as_u16(), 429);
}
