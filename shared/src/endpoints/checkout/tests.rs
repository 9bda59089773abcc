//! Checkout's pure parts: body validation, the checks on the upstream
//! answers, prices, and the headers. The whole story over HTTP is in
//! `tests/e2e/checkout.rs`.

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::json;

use super::flow::{discounted, price_lines};
use super::request::is_json;
use super::*;
use crate::backends::{Price, Stock};

fn parse(body: &serde_json::Value) -> Result<CheckoutRequest, ApiError> {
    CheckoutRequest::parse(body.to_string().as_bytes())
}

fn detail(result: Result<CheckoutRequest, ApiError>) -> String {
    match result {
        Err(ApiError::Unprocessable(detail)) => detail,
        other => panic!("expected 422 invalid_request, got {other:?}"),
    }
}

fn lines(n: usize) -> serde_json::Value {
    let lines: Vec<_> = (1..=n)
        .map(|i| json!({"product_id": format!("p-{i}"), "quantity": 1}))
        .collect();
    json!({ "lines": lines })
}

#[test]
fn a_valid_body_parses_into_lines_in_order() {
    let request =
        parse(&json!({"lines": [{"product_id": "p-2", "quantity": 3}, {"quantity": 99, "product_id": "p-1"}]}))
            .expect("valid");
    assert_eq!(
        request.lines,
        [
            CheckoutLine {
                product_id: "p-2".into(),
                quantity: 3
            },
            CheckoutLine {
                product_id: "p-1".into(),
                quantity: 99
            }
        ]
    );
    assert_eq!(parse(&lines(MAX_LINES)).expect("50 lines").lines.len(), 50);
}

#[test]
fn bodies_that_are_not_json_name_the_problem() {
    for body in [&b""[..], b"not json", b"{\"lines\": [", b"{\"lines\": []} trailing"] {
        let detail = match CheckoutRequest::parse(body) {
            Err(ApiError::Unprocessable(detail)) => detail,
            other => panic!("{body:?}: {other:?}"),
        };
        assert!(detail.contains("not valid JSON"), "{detail}");
        assert!(!detail.contains("at line"), "no parser positions: {detail}");
    }
}

#[test]
fn the_wrong_shape_is_refused_naming_the_field() {
    let cases = [
        (json!([]), "must be a JSON object"),
        (json!(null), "must be a JSON object"),
        (json!([[{"product_id": "p-1", "quantity": 1}]]), "must be a JSON object"),
        (json!({}), "missing field `lines`"),
        (json!({"lines": [], "coupon": "x"}), "unknown field `coupon`"),
        (json!({"lines": {"product_id": "p-1"}}), "lines must be an array"),
        (json!({"lines": "p-1"}), "lines must be an array"),
        (json!({"lines": [5]}), "lines[0] must be an object"),
        (json!({"lines": [["p-1", 1]]}), "lines[0] must be an object"),
        (
            json!({"lines": [{"product_id": "p-1"}]}),
            "lines[0]: missing field `quantity`",
        ),
        (
            json!({"lines": [{"product_id": "p-1", "quantity": 1, "note": "x"}]}),
            "lines[0]: unknown field `note`",
        ),
        (
            json!({"lines": [{"product_id": 7, "quantity": 1}]}),
            "lines[0].product_id must be a string",
        ),
        (
            json!({"lines": [{"product_id": null, "quantity": 1}]}),
            "lines[0].product_id must be a string",
        ),
    ];
    for (body, expected) in cases {
        let detail = detail(parse(&body));
        assert!(detail.contains(expected), "{body}: {detail}");
    }
}

#[test]
fn zero_or_more_than_fifty_lines_are_refused() {
    assert!(detail(parse(&lines(0))).contains("lines must have 1 to 50 items, got 0"));
    assert!(detail(parse(&lines(51))).contains("lines must have 1 to 50 items, got 51"));
    assert!(detail(parse(&lines(10_000))).contains("got 10000"));
}

#[test]
fn quantities_outside_1_to_99_or_not_integers_are_refused() {
    let line = |q: serde_json::Value| json!({"lines": [{"product_id": "p-1", "quantity": 1}, {"product_id": "p-2", "quantity": q}]});
    for q in [json!(0), json!(100), json!(-1), json!(i64::MIN), json!(u64::MAX)] {
        assert_eq!(
            detail(parse(&line(q.clone()))),
            "lines[1].quantity must be between 1 and 99",
            "{q}"
        );
    }
    for q in [json!(1.5), json!(2.0), json!("2"), json!(null), json!(1e30), json!([1])] {
        assert_eq!(
            detail(parse(&line(q.clone()))),
            "lines[1].quantity must be an integer between 1 and 99",
            "{q}"
        );
    }
    // Larger than any integer type: still a clean 422.
    let huge = br#"{"lines":[{"product_id":"p-1","quantity":123456789012345678901234567890}]}"#;
    assert!(matches!(CheckoutRequest::parse(huge), Err(ApiError::Unprocessable(_))));
    let beyond_f64 = br#"{"lines":[{"product_id":"p-1","quantity":1e400}]}"#;
    assert_eq!(
        detail(CheckoutRequest::parse(beyond_f64)),
        "lines[0]: number out of range"
    );
}

#[test]
fn malformed_and_duplicate_product_ids_are_refused() {
    for id in ["", "p 1", "p/1", "../x", &"p".repeat(65), "p-1\n"] {
        let body = json!({"lines": [{"product_id": id, "quantity": 1}]});
        assert_eq!(
            detail(parse(&body)),
            "lines[0].product_id must be 1 to 64 letters, digits, '.', '_', ':' or '-'",
            "{id:?}"
        );
    }
    let body = json!({"lines": [{"product_id": "p-1", "quantity": 1}, {"product_id": "p-2", "quantity": 1}, {"product_id": "p-1", "quantity": 2}]});
    assert!(detail(parse(&body)).starts_with("lines[2].product_id repeats lines[0]"));
}

#[test]
fn a_duplicate_json_key_is_refused_not_silently_resolved() {
    let body = br#"{"lines":[{"product_id":"p-1","quantity":1}],"lines":[{"product_id":"p-2","quantity":1}]}"#;
    assert!(detail(CheckoutRequest::parse(body)).contains("duplicate field `lines`"));
    let body = br#"{"lines":[{"product_id":"p-1","quantity":1,"quantity":2}]}"#;
    assert!(detail(CheckoutRequest::parse(body)).contains("lines[0]: duplicate field `quantity`"));
}

#[test]
fn the_fingerprint_ignores_formatting_but_not_content() {
    let compact = CheckoutRequest::parse(br#"{"lines":[{"product_id":"p-1","quantity":2}]}"#).unwrap();
    let spaced =
        CheckoutRequest::parse(b" {\n \"lines\" : [ { \"quantity\" : 2 , \"product_id\" : \"p-1\" } ] }\n").unwrap();
    assert_eq!(compact.fingerprint(), spaced.fingerprint());
    let more = CheckoutRequest::parse(br#"{"lines":[{"product_id":"p-1","quantity":3}]}"#).unwrap();
    assert_ne!(compact.fingerprint(), more.fingerprint());
    let two =
        parse(&json!({"lines": [{"product_id": "p-1", "quantity": 1}, {"product_id": "p-2", "quantity": 1}]})).unwrap();
    let swapped =
        parse(&json!({"lines": [{"product_id": "p-2", "quantity": 1}, {"product_id": "p-1", "quantity": 1}]})).unwrap();
    assert_ne!(
        two.fingerprint(),
        swapped.fingerprint(),
        "line order is part of the order"
    );
}

#[test]
fn only_application_json_is_json() {
    let headers = |value: &str| {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        h
    };
    for ok in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        "application/json ; x=y",
    ] {
        assert!(is_json(&headers(ok)), "{ok}");
    }
    for bad in [
        "text/plain",
        "application/jsonx",
        "application/problem+json",
        "application/x-www-form-urlencoded",
        "",
    ] {
        assert!(!is_json(&headers(bad)), "{bad}");
    }
    assert!(!is_json(&HeaderMap::new()));
}

fn price(id: &str, amount_cents: i64, discount_pct: u32) -> Price {
    Price {
        product_id: id.into(),
        currency: "USD".into(),
        amount_cents,
        discount_pct,
    }
}

fn stock(id: &str, available: i64) -> Stock {
    Stock {
        product_id: id.into(),
        available,
        warehouses: vec![],
    }
}

fn request(lines: &[(&str, u32)]) -> CheckoutRequest {
    CheckoutRequest {
        lines: lines
            .iter()
            .map(|(id, q)| CheckoutLine {
                product_id: (*id).into(),
                quantity: *q,
            })
            .collect(),
    }
}

#[test]
fn unit_prices_are_discounted_and_rounded_to_the_nearest_cent() {
    assert_eq!(discounted(&price("p", 1999, 0)).unwrap(), 1999);
    assert_eq!(discounted(&price("p", 1999, 15)).unwrap(), 1699); // 1699.15
    assert_eq!(discounted(&price("p", 999, 5)).unwrap(), 949); // 949.05
    assert_eq!(discounted(&price("p", 1990, 25)).unwrap(), 1493); // 1492.5 rounds up
    assert_eq!(discounted(&price("p", 1, 50)).unwrap(), 1); // 0.5 rounds up
    assert_eq!(discounted(&price("p", 500, 100)).unwrap(), 0);
    assert_eq!(
        discounted(&price("p", i64::MAX, 1)).unwrap(),
        (i128::from(i64::MAX) * 99 / 100 + 1) as i64
    );
    assert_eq!(
        discounted(&price("p", -1, 0)).unwrap_err(),
        ApiError::UpstreamUnavailable
    );
    assert_eq!(
        discounted(&price("p", 100, 101)).unwrap_err(),
        ApiError::UpstreamUnavailable
    );
}

#[test]
fn lines_are_priced_in_request_order_with_pricings_currency() {
    let prices = [price("p-2", 1000, 10), price("p-1", 250, 0)];
    let stock = [stock("p-1", 5), stock("p-2", 2)];
    let (currency, lines) = price_lines(&request(&[("p-1", 5), ("p-2", 2)]), &prices, &stock).unwrap();
    assert_eq!(currency, "USD");
    let priced: Vec<_> = lines
        .iter()
        .map(|l| (l.product_id.as_str(), l.quantity, l.unit_price_cents))
        .collect();
    assert_eq!(priced, [("p-1", 5, 250), ("p-2", 2, 900)]);
}

#[test]
fn a_product_missing_from_either_answer_is_unknown() {
    let prices = [price("p-1", 100, 0), price("p-2", 100, 0)];
    let stock = [stock("p-1", 5), stock("p-3", 5)];
    let error = price_lines(&request(&[("p-1", 1), ("p-2", 1), ("p-3", 1)]), &prices, &stock).unwrap_err();
    assert_eq!(error, ApiError::Unprocessable("unknown products: p-2, p-3".into()));
}

#[test]
fn every_short_product_is_listed_as_out_of_stock() {
    let prices = [price("p-1", 100, 0), price("p-2", 100, 0), price("p-3", 100, 0)];
    let stock = [stock("p-1", 0), stock("p-2", 3), stock("p-3", 2)];
    let error = price_lines(&request(&[("p-1", 1), ("p-2", 3), ("p-3", 3)]), &prices, &stock).unwrap_err();
    assert_eq!(
        error,
        ApiError::OutOfStock {
            product_ids: vec!["p-1".into(), "p-3".into()]
        }
    );
}

#[test]
fn unknown_products_are_reported_before_stock() {
    let error = price_lines(
        &request(&[("p-1", 9), ("p-2", 1)]),
        &[price("p-1", 1, 0)],
        &[stock("p-1", 0)],
    )
    .unwrap_err();
    assert_eq!(error.code(), "invalid_request");
}

#[test]
fn mixed_currencies_cannot_be_one_order() {
    let mut eur = price("p-2", 100, 0);
    eur.currency = "EUR".into();
    let error = price_lines(
        &request(&[("p-1", 1), ("p-2", 1)]),
        &[price("p-1", 100, 0), eur],
        &[stock("p-1", 1), stock("p-2", 1)],
    )
    .unwrap_err();
    assert_eq!(error.code(), "invalid_request");
}

#[test]
fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
    assert_eq!(whole_seconds(Duration::ZERO), 1);
    assert_eq!(whole_seconds(Duration::from_millis(200)), 1);
    assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
    assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
}

#[test]
fn the_openapi_operation_documents_the_key_the_body_the_token_and_every_problem() {
    use utoipa::OpenApi;

    #[derive(OpenApi)]
    #[openapi(paths(super::checkout))]
    struct Doc;

    let doc = serde_json::to_value(Doc::openapi()).expect("serialisable");
    let operation = &doc["paths"]["/v1/checkout"]["post"];
    let key = &operation["parameters"][0];
    assert_eq!(
        (&key["name"], &key["in"], &key["required"]),
        (&json!("Idempotency-Key"), &json!("header"), &json!(true))
    );
    assert!(
        operation["requestBody"]["content"]["application/json"]["schema"].is_object(),
        "{operation}"
    );
    assert_eq!(operation["security"], json!([{"bearer": []}]));
    assert!(operation["responses"]["201"]["content"]["application/json"].is_object());
    // 429 and 500 are the stack's, added to every API operation by
    // `openapi::document`.
    for status in ["400", "401", "409", "413", "415", "422", "503", "504"] {
        assert!(
            operation["responses"][status]["content"]["application/problem+json"].is_object(),
            "{status}: {operation}"
        );
    }
    let line = &doc["components"]["schemas"]["CheckoutLine"];
    assert_eq!(
        (
            &line["properties"]["quantity"]["minimum"],
            &line["properties"]["quantity"]["maximum"]
        ),
        (&json!(1), &json!(99))
    );
}
