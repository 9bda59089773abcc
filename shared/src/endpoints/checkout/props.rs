//! Property tests of checkout's body: arbitrary bytes, arbitrary JSON and
//! near-valid bodies give a valid [`CheckoutRequest`] or a 422 (415 for
//! another media type), never a panic or another error; near-valid bodies
//! are judged exactly as a reference reading of docs/api.md#checkout-and-idempotency says.
//! Fixed seed and small case counts (see `backends::props::config`).

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};

use super::request::is_json;
use super::*;
use crate::backends::is_valid_id;
use crate::backends::props::{config, json_keyed};

/// A parse result is a request that keeps every promise of the type, or
/// a 422 whose detail names no parser position.
fn well_formed(result: &Result<CheckoutRequest, ApiError>) -> Result<(), TestCaseError> {
    match result {
        Ok(request) => {
            prop_assert!((1..=MAX_LINES).contains(&request.lines.len()));
            let mut ids: Vec<&str> = request.lines.iter().map(|l| l.product_id.as_str()).collect();
            prop_assert!(ids.iter().all(|id| is_valid_id(id)));
            prop_assert!(
                request
                    .lines
                    .iter()
                    .all(|l| (1..=MAX_QUANTITY).contains(&u64::from(l.quantity)))
            );
            ids.sort_unstable();
            ids.dedup();
            prop_assert_eq!(ids.len(), request.lines.len(), "distinct products");
        }
        Err(ApiError::Unprocessable(detail)) => {
            prop_assert!(!detail.is_empty());
            prop_assert!(!detail.contains(" at line "), "{}", detail);
        }
        Err(other) => prop_assert!(false, "only 422 is documented for a body, got {:?}", other),
    }
    Ok(())
}

/// Arbitrary JSON whose keys are often the ones a checkout body has.
fn json_value() -> impl Strategy<Value = Value> {
    json_keyed(prop_oneof!["lines", "product_id", "quantity", "[a-z]{1,6}"])
}

/// A product id: mostly well-formed, sometimes not, sometimes not a string.
fn product_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => (1u32..200).prop_map(|n| Value::from(format!("p-{n}"))),
        1 => "[A-Za-z0-9._:/ %-]{0,66}".prop_map(Value::from),
        1 => json_value(),
    ]
}

/// A quantity: mostly an integer near the bounds, sometimes a float, a
/// string, a huge number or anything else.
fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => (-3i64..=103).prop_map(Value::from),
        1 => prop::sample::select(vec![json!(1.0), json!(2.5), json!("3"), json!(u64::MAX), json!(i64::MIN), Value::Null]),
        1 => json_value(),
    ]
}

/// A line: both fields (now and then one missing or an extra one).
fn line() -> impl Strategy<Value = Value> {
    (product_id(), quantity(), 0u8..40).prop_map(|(id, quantity, shape)| match shape {
        0 => json!({ "product_id": id }),
        1 => json!({ "quantity": quantity }),
        2 => json!({ "product_id": id, "quantity": quantity, "note": "x" }),
        3 => id,
        _ => json!({ "product_id": id, "quantity": quantity }),
    })
}

/// A body: `{"lines": [...]}` of a few lines (up to 55 now and then), or
/// a variation on it.
fn body() -> impl Strategy<Value = Value> {
    let lines = prop_oneof![
        4 => prop::collection::vec(line(), 1..4),
        1 => prop::collection::vec(line(), 0..56),
    ];
    (lines, 0u8..16, json_value()).prop_map(|(lines, shape, other)| match shape {
        0 => json!({ "lines": lines, "coupon": "FREE" }),
        1 => json!({ "lines": other }),
        2 => json!({}),
        3 => Value::from(lines),
        _ => json!({ "lines": lines }),
    })
}

/// Section 5 read independently: what `body` should parse into.
fn reference(body: &Value) -> Option<Vec<CheckoutLine>> {
    let object = body.as_object()?;
    if object.len() != 1 {
        return None;
    }
    let lines = object.get("lines")?.as_array()?;
    if !(1..=MAX_LINES).contains(&lines.len()) {
        return None;
    }
    let mut parsed: Vec<CheckoutLine> = Vec::with_capacity(lines.len());
    for line in lines {
        let line = line.as_object()?;
        if line.len() != 2 {
            return None;
        }
        let id = line.get("product_id")?.as_str().filter(|id| is_valid_id(id))?;
        let quantity = line
            .get("quantity")?
            .as_u64()
            .filter(|q| (1..=MAX_QUANTITY).contains(q))?;
        if parsed.iter().any(|l| l.product_id == id) {
            return None;
        }
        parsed.push(CheckoutLine {
            product_id: id.to_owned(),
            quantity: quantity as u32,
        });
    }
    Some(parsed)
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    proptest::option::weighted(
        0.9,
        prop_oneof![
            prop::sample::select(vec![
                "application/json",
                "application/json; charset=utf-8",
                "Application/JSON ;charset=UTF-8",
                "application/problem+json",
                "application/jsonx",
                "text/plain",
                "application/x-www-form-urlencoded",
                "",
            ])
            .prop_map(str::to_owned),
            "[ -~]{0,30}",
        ],
    )
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_are_a_valid_request_or_a_422(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        well_formed(&CheckoutRequest::parse(&bytes))?;
    }

    #[test]
    fn arbitrary_json_is_a_valid_request_or_a_422(value in json_value()) {
        well_formed(&CheckoutRequest::parse(value.to_string().as_bytes()))?;
    }

    #[test]
    fn near_valid_bodies_parse_exactly_as_section_5_says(body in body()) {
        let compact = CheckoutRequest::parse(body.to_string().as_bytes());
        well_formed(&compact)?;
        match reference(&body) {
            Some(lines) => {
                let request = compact.map_err(|e| TestCaseError::fail(format!("{body}: {e:?}")))?;
                prop_assert_eq!(&request.lines, &lines);
                // Formatting does not make a retry another request.
                let pretty = serde_json::to_string_pretty(&body).expect("JSON");
                let again = CheckoutRequest::parse(pretty.as_bytes()).expect("same body, pretty");
                prop_assert_eq!(again.fingerprint(), request.fingerprint());
            }
            None => prop_assert!(compact.is_err(), "{} parsed: {:?}", body, compact),
        }
    }
}

#[test]
fn the_extractor_answers_415_for_another_media_type_and_judges_json_bodies_by_parse() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let cases = (
        content_type(),
        prop_oneof![
            body().prop_map(|b| b.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..64)
        ],
    );
    proptest::test_runner::TestRunner::new(config(256))
        .run(&cases, |(content_type, bytes)| {
            let mut request = Request::builder().method("POST").uri("/v1/checkout");
            if let Some(content_type) = &content_type {
                request = request.header(CONTENT_TYPE, content_type);
            }
            let request = request.body(Body::from(bytes.clone())).expect("request");
            let json = is_json(request.headers());
            let extracted = runtime.block_on(CheckoutBody::from_request(request, &()));
            if json {
                prop_assert_eq!(extracted.map(|b| b.0), CheckoutRequest::parse(&bytes));
            } else {
                prop_assert_eq!(extracted.map(|b| b.0), Err(ApiError::UnsupportedMediaType));
            }
            Ok(())
        })
        .expect("media type first, then the body");
}

#[test]
fn near_valid_bodies_are_often_valid_so_the_reference_is_exercised_both_ways() {
    let mut runner = proptest::test_runner::TestRunner::new(config(512));
    let mut valid = 0;
    for _ in 0..512 {
        let body = body().new_tree(&mut runner).expect("a body").current();
        valid += usize::from(reference(&body).is_some());
    }
    assert!(
        (100..=450).contains(&valid),
        "{valid} of 512 near-valid bodies are valid"
    );
}
