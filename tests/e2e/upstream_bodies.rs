//! JSON answers are read up to `BFF_UPSTREAM_MAX_BODY_BYTES`
//! (docs/api.md#order-pass-through): a larger one is `bad_response`, whether it declares its
//! length or streams chunked, and its connection is dropped rather than
//! read to the end and reused.

use crate::fake_upstream::{Ending, FakeUpstream, Framing, Script};
use crate::support::{Bff, Stack, spawn_with};

/// Large enough that the BFF cannot have it all buffered when it gives up.
const LARGE: usize = 1024 * 1024;

/// A notifications answer of about `size` bytes: valid, only large.
fn notifications(size: usize) -> Vec<u8> {
    let head = r#"{"unread_count":2,"items":[],"padding":""#;
    let mut body = head.as_bytes().to_vec();
    body.resize(size.saturating_sub(2).max(head.len()), b'x');
    body.extend_from_slice(b"\"}");
    body
}

async fn home_with_notifications_from(fake: &FakeUpstream, cap: usize) -> Stack {
    let cap = cap.to_string();
    spawn_with(
        Bff::Mobile,
        &[
            ("BFF_UPSTREAM_NOTIFICATIONS_URL", fake.url.as_str()),
            ("BFF_UPSTREAM_MAX_BODY_BYTES", cap.as_str()),
        ],
    )
    .await
}

fn fake(framing: Framing) -> Script {
    Script {
        content_type: "application/json",
        body: notifications(LARGE),
        framing,
        ending: Ending::Complete,
    }
}

#[tokio::test]
async fn an_answer_over_the_cap_is_a_bad_response_and_its_connection_is_not_reused() {
    for framing in [Framing::Length, Framing::Chunked] {
        let fake = FakeUpstream::start(fake(framing)).await;
        let stack = home_with_notifications_from(&fake, 64 * 1024).await;
        for _ in 0..2 {
            let answer = stack.get_as_u1("/v1/home").await;
            answer.assert_degraded(&[("unread_notifications", "bad_response")]);
            assert!(answer.json()["unread_notifications"].is_null());
        }
        assert_eq!(fake.targets().len(), 2, "{framing:?}");
        assert_eq!(
            fake.connections(),
            2,
            "{framing:?}: the second call needed a new connection"
        );
        let metrics = stack.bff.platform.metrics.render();
        assert!(
            metrics.contains("bff_upstream_requests_total{upstream=\"notifications\",outcome=\"bad_response\"} 2"),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn the_same_answer_under_the_cap_is_read_and_its_connection_reused() {
    // The control: only the cap differs from the test above.
    for framing in [Framing::Length, Framing::Chunked] {
        let fake = FakeUpstream::start(fake(framing)).await;
        let stack = home_with_notifications_from(&fake, 2 * LARGE).await;
        for _ in 0..2 {
            let answer = stack.get_as_u1("/v1/home").await;
            answer.assert_degraded(&[]);
            assert_eq!(answer.json()["unread_notifications"], 2);
        }
        assert_eq!(fake.connections(), 1, "{framing:?}: one pooled connection");
    }
}
