//! `GET /v1/orders/{id}` when the orders service misbehaves after its
//! status line (docs/api.md#order-pass-through): the client must see an
//! incomplete message, never a complete-looking 200 with half an order; a
//! 2xx that is not JSON, or declares a body over the cap, is 503.

use std::time::{Duration, Instant};

use crate::fake_upstream::{Ending, FakeUpstream, Framing, Script};
use crate::raw::{self, RawAnswer};
use crate::support::{Bff, Stack, spawn_with, token};

const DEADLINE_MS: u64 = 1000;

/// Bound on any one exchange of these tests.
const LIMIT: Duration = Duration::from_secs(10);

const ORDER: &str = r#"{"id":"o-1-1","user_id":"u-1","status":"delivered","created_at":"2024-01-04T22:34:23Z","total_cents":140394,"currency":"USD","lines":[{"product_id":"p-4513","quantity":3,"unit_price_cents":18299},{"product_id":"p-4650","quantity":3,"unit_price_cents":28499}]}"#;

fn script(content_type: &'static str, framing: Framing, ending: Ending) -> Script {
    Script {
        content_type,
        body: ORDER.as_bytes().to_vec(),
        framing,
        ending,
    }
}

/// A bff-mobile whose orders service is `fake`.
async fn stack_in_front_of(fake: &FakeUpstream, extra: &[(&str, &str)]) -> Stack {
    let deadline = DEADLINE_MS.to_string();
    let mut env = vec![
        ("BFF_UPSTREAM_ORDERS_URL", fake.url.as_str()),
        ("BFF_DEADLINE_MS", deadline.as_str()),
    ];
    env.extend_from_slice(extra);
    spawn_with(Bff::Mobile, &env).await
}

async fn raw_order(stack: &Stack) -> Result<RawAnswer, Vec<u8>> {
    let bearer = format!("Bearer {}", token("u-1"));
    raw::try_get(stack.bff.addr, "/v1/orders/o-1-1", &[("Authorization", &bearer)]).await
}

/// The 200 went out with the first half of the order, then the message
/// broke off: the client can tell it is incomplete.
fn assert_broken_off(answer: &RawAnswer, framing: Framing) {
    assert_eq!(answer.status, 200, "the status went out before the body broke");
    assert!(
        !answer.body_is_complete(),
        "{framing:?}: a complete-looking message: {:?} {}",
        answer.headers,
        answer.text()
    );
    match framing {
        Framing::Length => {
            assert_eq!(answer.header("content-length"), Some(ORDER.len().to_string().as_str()));
            assert!(answer.body.len() < ORDER.len());
        }
        Framing::Chunked => {
            assert_eq!(answer.header("transfer-encoding"), Some("chunked"));
            assert_eq!(answer.header("content-length"), None);
        }
    }
}

/// The same request through reqwest, as an app would make it: the status
/// arrives, reading the body fails.
async fn assert_body_read_fails(stack: &Stack) {
    let response = stack
        .http
        .get(stack.url("/v1/orders/o-1-1"))
        .bearer_auth(token("u-1"))
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await;
    assert!(body.is_err(), "the body read as complete: {body:?}");
}

#[tokio::test]
async fn a_body_cut_off_by_a_close_or_a_reset_is_never_a_complete_200() {
    for framing in [Framing::Length, Framing::Chunked] {
        for ending in [Ending::Close, Ending::Reset] {
            let fake = FakeUpstream::start(script("application/json", framing, ending)).await;
            let stack = stack_in_front_of(&fake, &[]).await;
            let answer = tokio::time::timeout(LIMIT, raw_order(&stack))
                .await
                .expect("bounded")
                .unwrap_or_else(|raw| panic!("{framing:?}/{ending:?}: no head: {raw:?}"));
            assert_broken_off(&answer, framing);
            tokio::time::timeout(LIMIT, assert_body_read_fails(&stack))
                .await
                .expect("bounded");
            assert_eq!(fake.targets(), ["/orders/o-1-1", "/orders/o-1-1"]);
        }
    }
}

#[tokio::test]
async fn a_body_that_stalls_is_aborted_at_the_deadline() {
    // The contract's deadline, with a generous margin for a loaded machine.
    let bound = Duration::from_millis(DEADLINE_MS) + Duration::from_millis(1500);
    for framing in [Framing::Length, Framing::Chunked] {
        let fake = FakeUpstream::start(script("application/json", framing, Ending::Stall)).await;
        let stack = stack_in_front_of(&fake, &[]).await;
        let started = Instant::now();
        let answer = tokio::time::timeout(LIMIT, raw_order(&stack))
            .await
            .expect("bounded")
            .unwrap_or_else(|raw| panic!("{framing:?}: no head: {raw:?}"));
        assert!(
            started.elapsed() < bound,
            "{framing:?}: ended after {:?}",
            started.elapsed()
        );
        assert_broken_off(&answer, framing);
        let started = Instant::now();
        tokio::time::timeout(LIMIT, assert_body_read_fails(&stack))
            .await
            .expect("bounded");
        assert!(
            started.elapsed() < bound,
            "{framing:?}: ended after {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_whole_json_answer_is_passed_on_unchanged_in_either_framing() {
    // The control for the tests above: the same fake, finishing its body.
    for framing in [Framing::Length, Framing::Chunked] {
        let fake = FakeUpstream::start(script("Application/JSON; charset=utf-8", framing, Ending::Complete)).await;
        let stack = stack_in_front_of(&fake, &[]).await;
        let answer = raw_order(&stack).await.expect("a head");
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.decoded_body().as_deref(), Some(ORDER.as_bytes()), "{framing:?}");
        assert_eq!(answer.header("content-type"), Some("Application/JSON; charset=utf-8"));
        if let Framing::Length = framing {
            assert_eq!(answer.header("content-length"), Some(ORDER.len().to_string().as_str()));
        }
    }
}

#[tokio::test]
async fn a_2xx_that_is_not_json_is_503_and_counted_as_a_bad_response() {
    for content_type in ["text/html", "text/plain; charset=utf-8", "application/problem+json"] {
        let fake = FakeUpstream::start(script(content_type, Framing::Length, Ending::Complete)).await;
        let stack = stack_in_front_of(&fake, &[]).await;
        let answer = stack.get_as_u1("/v1/orders/o-1-1").await;
        answer.assert_problem(503, "upstream_unavailable");
        assert!(
            !answer.text.contains("delivered"),
            "no upstream body leaks: {}",
            answer.text
        );
        let metrics = stack.bff.platform.metrics.render();
        assert!(
            metrics.contains("bff_upstream_requests_total{upstream=\"orders\",outcome=\"bad_response\"} 1"),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_503_before_any_status_is_sent() {
    let fake = FakeUpstream::start(script("application/json", Framing::Length, Ending::Complete)).await;
    let cap = (ORDER.len() - 1).to_string();
    let stack = stack_in_front_of(&fake, &[("BFF_UPSTREAM_MAX_BODY_BYTES", &cap)]).await;
    stack
        .get_as_u1("/v1/orders/o-1-1")
        .await
        .assert_problem(503, "upstream_unavailable");
    let metrics = stack.bff.platform.metrics.render();
    assert!(
        metrics.contains("bff_upstream_requests_total{upstream=\"orders\",outcome=\"bad_response\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_chunked_body_that_grows_past_the_cap_is_aborted() {
    let fake = FakeUpstream::start(script("application/json", Framing::Chunked, Ending::Complete)).await;
    let cap = (ORDER.len() - 1).to_string();
    let stack = stack_in_front_of(&fake, &[("BFF_UPSTREAM_MAX_BODY_BYTES", &cap)]).await;
    match tokio::time::timeout(LIMIT, raw_order(&stack)).await.expect("bounded") {
        // The abort may come before the head was flushed: nothing at all.
        Err(raw) => assert!(raw.is_empty(), "{raw:?}"),
        Ok(answer) => {
            assert_eq!(answer.status, 200, "{}", answer.text());
            assert!(!answer.body_is_complete(), "a complete-looking 200: {}", answer.text());
        }
    }
    assert_eq!(fake.targets(), ["/orders/o-1-1"], "the fake did answer");
}

#[tokio::test]
async fn a_compressed_pass_through_that_breaks_off_is_never_complete_either() {
    // Apps send `Accept-Encoding: gzip`: the compression layer must pass
    // the body's failure on, not finish the compressed stream.
    let bearer = format!("Bearer {}", token("u-1"));
    let headers = [("Authorization", bearer.as_str()), ("Accept-Encoding", "gzip")];
    for framing in [Framing::Length, Framing::Chunked] {
        for ending in [Ending::Close, Ending::Stall] {
            let fake = FakeUpstream::start(script("application/json", framing, ending)).await;
            let stack = stack_in_front_of(&fake, &[]).await;
            let answer = tokio::time::timeout(LIMIT, raw::try_get(stack.bff.addr, "/v1/orders/o-1-1", &headers))
                .await
                .expect("bounded");
            match answer {
                Err(raw) => assert!(raw.is_empty(), "{framing:?}/{ending:?}: {raw:?}"),
                Ok(answer) => {
                    assert_eq!(answer.status, 200, "{}", answer.text());
                    assert_eq!(answer.header("content-encoding"), Some("gzip"));
                    assert!(
                        !answer.body_is_complete(),
                        "{framing:?}/{ending:?}: a complete-looking message: {:?}",
                        answer.headers
                    );
                }
            }
        }
    }
}
