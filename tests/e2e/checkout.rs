//! `POST /v1/checkout` on bff-mobile: one order per idempotency key, the
//! checks before it, and what upstream failures do to it.

use std::time::Duration;

use bff_stack::simulator::{Fault, RecordedRequest, Service};
use serde_json::{Value, json};

use crate::support::{Answer, Bff, FAILURE_TEST_ENV, Stack, failure_modes, spawn, spawn_with, token};

const JSON: &str = "application/json";

/// POST `/v1/checkout` with whatever a client might send.
async fn post(
    stack: &Stack,
    user: Option<&str>,
    key: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut request = stack.http.post(stack.url("/v1/checkout")).body(body);
    if let Some(user) = user {
        request = request.bearer_auth(token(user));
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let answer = Answer { status, headers, text };
    stack.assert_no_upstream_address(&answer);
    answer
}

/// A well-formed checkout as `user` under `key`.
async fn checkout(stack: &Stack, user: &str, key: &str, body: &Value) -> Answer {
    post(stack, Some(user), Some(key), Some(JSON), body.to_string()).await
}

fn order_posts(stack: &Stack) -> Vec<RecordedRequest> {
    stack
        .sim
        .requests(Service::Orders)
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

fn counts(stack: &Stack) -> Vec<(&'static str, u64)> {
    Service::ALL.iter().map(|s| (s.name(), stack.sim.count(*s))).collect()
}

fn assert_no_upstream_calls(stack: &Stack, what: &str) {
    assert!(
        counts(stack).iter().all(|(_, n)| *n == 0),
        "{what}: upstream was called: {:?}",
        counts(stack)
    );
}

/// Products of the simulator's catalog picked by what pricing and inventory
/// say about them, so the tests do not hard-code generated data.
struct Catalog {
    prices: Vec<Value>,
    stock: Vec<Value>,
}

impl Catalog {
    async fn load(stack: &Stack) -> Self {
        let ids: Vec<String> = (1..=100).map(|n| format!("p-{n}")).collect();
        let ids = ids.join(",");
        let prices = stack
            .upstream(Service::Pricing, &format!("/prices?product_ids={ids}"), None)
            .await;
        let stock = stack
            .upstream(Service::Inventory, &format!("/stock?product_ids={ids}"), None)
            .await;
        stack.sim.reset_counters();
        Self {
            prices: prices["items"].as_array().expect("prices").clone(),
            stock: stock["items"].as_array().expect("stock").clone(),
        }
    }

    fn price(&self, id: &str) -> &Value {
        self.prices.iter().find(|p| p["product_id"] == id).expect("priced")
    }

    fn available(&self, id: &str) -> i64 {
        self.stock.iter().find(|s| s["product_id"] == id).expect("stocked")["available"]
            .as_i64()
            .expect("number")
    }

    /// A product with at least 10 units and a discount (or none).
    fn in_stock(&self, discounted: bool) -> String {
        self.prices
            .iter()
            .map(|p| p["product_id"].as_str().expect("id").to_owned())
            .find(|id| (self.price(id)["discount_pct"].as_u64() > Some(0)) == discounted && self.available(id) >= 10)
            .expect("such a product among p-1..p-100")
    }

    /// A product with none available.
    fn sold_out(&self) -> String {
        self.stock
            .iter()
            .find(|s| s["available"] == 0)
            .expect("a sold-out product")["product_id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// A product other than `other` with 1 to 98 available, so that 99 is too many.
    fn scarce(&self, other: &str) -> (String, i64) {
        let s = self
            .stock
            .iter()
            .find(|s| s["product_id"] != other && (1..99).contains(&s["available"].as_i64().unwrap_or(0)))
            .expect("scarce");
        (
            s["product_id"].as_str().expect("id").to_owned(),
            s["available"].as_i64().expect("number"),
        )
    }

    /// The discounted unit price, rounded to the nearest cent.
    fn unit_price(&self, id: &str) -> i64 {
        let price = self.price(id);
        let amount = price["amount_cents"].as_i64().expect("amount");
        let discount = price["discount_pct"].as_i64().expect("discount");
        (amount * (100 - discount) + 50) / 100
    }
}

fn body(lines: &[(&str, u32)]) -> Value {
    json!({"lines": lines.iter().map(|(id, q)| json!({"product_id": id, "quantity": q})).collect::<Vec<_>>()})
}

/// `n` distinct lines of one unit each.
fn many_lines(n: usize) -> Value {
    let lines: Vec<Value> = (1..=n)
        .map(|i| json!({"product_id": format!("p-{i}"), "quantity": 1}))
        .collect();
    json!({ "lines": lines })
}

#[tokio::test]
async fn a_checkout_places_one_order_at_the_discounted_prices() {
    let stack = spawn(Bff::Mobile).await;
    let catalog = Catalog::load(&stack).await;
    let (discounted, plain) = (catalog.in_stock(true), catalog.in_stock(false));

    let answer = checkout(&stack, "u-1", "key-1", &body(&[(&discounted, 3), (&plain, 1)])).await;

    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some(JSON));
    assert_eq!(answer.header("cache-control"), Some("private, no-store"));
    assert_eq!(answer.header("idempotent-replayed"), None);
    let json = answer.json();
    let order = json["order"].as_object().expect("order");
    let mut fields: Vec<&str> = order.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["currency", "id", "status", "total_cents"]);
    assert_eq!(json["order"]["status"], "placed");
    assert_eq!(json["order"]["currency"], "USD");
    let expected_total = 3 * catalog.unit_price(&discounted) + catalog.unit_price(&plain);
    assert_eq!(json["order"]["total_cents"], expected_total);
    assert_eq!(json["meta"]["request_id"].as_str(), answer.header("x-request-id"));
    assert_eq!(json["meta"]["partial"], false);
    assert_eq!(json["meta"]["degraded"], json!([]));
    assert_eq!(json["meta"]["stale"], json!([]));
    assert_eq!(
        json.as_object().expect("object").len(),
        2,
        "only order and meta: {json}"
    );

    let posts = order_posts(&stack);
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.path_and_query, "/orders");
    assert_eq!(post.header("idempotency-key"), Some("key-1"));
    assert_eq!(post.header("x-user-id"), Some("u-1"));
    assert_eq!(post.header("authorization"), None);
    let sent: Value = serde_json::from_str(&post.body).expect("JSON order");
    assert_eq!(
        sent,
        json!({"user_id": "u-1", "currency": "USD", "lines": [
            {"product_id": discounted, "quantity": 3, "unit_price_cents": catalog.unit_price(&discounted)},
            {"product_id": plain, "quantity": 1, "unit_price_cents": catalog.unit_price(&plain)},
        ]})
    );
    assert!(
        catalog.unit_price(&discounted) < catalog.price(&discounted)["amount_cents"].as_i64().expect("amount"),
        "the discount was applied"
    );

    // The order is the caller's, through the pass-through.
    let id = json["order"]["id"].as_str().expect("id");
    let placed = stack.get_as_u1(&format!("/v1/orders/{id}")).await;
    assert_eq!(placed.status, 200, "{}", placed.text);
    assert_eq!(placed.json()["total_cents"], expected_total);
}

#[tokio::test]
async fn checkout_calls_pricing_inventory_and_orders_and_nothing_else() {
    let stack = spawn(Bff::Mobile).await;
    let product = Catalog::load(&stack).await.in_stock(false);
    let answer = checkout(&stack, "u-1", "key-1", &body(&[(&product, 1)])).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let called: Vec<(&str, u64)> = counts(&stack).into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(called, [("orders", 1), ("pricing", 1), ("inventory", 1)]);
    let timing = answer.header("server-timing").expect("Server-Timing");
    assert!(
        !timing.contains("pricing") && timing.contains("prices"),
        "section names, not upstreams: {timing}"
    );
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_replays_the_first_answer_without_upstream_calls() {
    let stack = spawn(Bff::Mobile).await;
    let product = Catalog::load(&stack).await.in_stock(true);
    let first = checkout(&stack, "u-1", "key-1", &body(&[(&product, 2)])).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let calls = counts(&stack);

    // The same request, formatted differently, with a charset.
    let reformatted = format!("{{ \"lines\" : [ {{ \"quantity\": 2, \"product_id\": \"{product}\" }} ] }}\n");
    let retry = post(
        &stack,
        Some("u-1"),
        Some("key-1"),
        Some("application/json; charset=utf-8"),
        reformatted,
    )
    .await;

    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.text, first.text, "the first answer, byte for byte");
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(counts(&stack), calls, "no upstream call for a replay");
    assert_eq!(order_posts(&stack).len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422_idempotency_key_reused() {
    let stack = spawn(Bff::Mobile).await;
    let product = Catalog::load(&stack).await.in_stock(false);
    assert_eq!(
        checkout(&stack, "u-1", "key-1", &body(&[(&product, 1)])).await.status,
        201
    );
    let calls = counts(&stack);
    checkout(&stack, "u-1", "key-1", &body(&[(&product, 2)]))
        .await
        .assert_problem(422, "idempotency_key_reused");
    assert_eq!(counts(&stack), calls);
}

#[tokio::test]
async fn another_users_identical_key_places_a_separate_order() {
    let stack = spawn(Bff::Mobile).await;
    let product = Catalog::load(&stack).await.in_stock(false);
    let request = body(&[(&product, 1)]);
    let mine = checkout(&stack, "u-1", "shared-key", &request).await;
    let theirs = checkout(&stack, "u-2", "shared-key", &request).await;
    assert_eq!(
        (mine.status, theirs.status),
        (201, 201),
        "{} / {}",
        mine.text,
        theirs.text
    );
    assert_ne!(mine.json()["order"]["id"], theirs.json()["order"]["id"]);
    assert_eq!(theirs.header("idempotent-replayed"), None);
    let users: Vec<Option<String>> = order_posts(&stack)
        .iter()
        .map(|p| p.header("x-user-id").map(str::to_owned))
        .collect();
    assert_eq!(users, [Some("u-1".to_owned()), Some("u-2".to_owned())]);
}

#[tokio::test]
async fn token_and_idempotency_key_are_required_before_anything_else() {
    let stack = spawn(Bff::Mobile).await;
    let valid = body(&[("p-1", 1)]).to_string();

    let anonymous = post(&stack, None, Some("k"), Some(JSON), valid.clone()).await;
    anonymous.assert_problem(401, "unauthorized");
    assert!(
        anonymous
            .header("www-authenticate")
            .expect("challenge")
            .starts_with("Bearer")
    );
    post(&stack, Some("u-1"), None, Some(JSON), valid.clone())
        .await
        .assert_problem(400, "idempotency_key_required");
    // A missing key is reported before a bad body.
    post(&stack, Some("u-1"), None, Some("text/plain"), "x")
        .await
        .assert_problem(400, "idempotency_key_required");
    for bad in ["", "has space", &"k".repeat(256)] {
        let answer = post(&stack, Some("u-1"), Some(bad), Some(JSON), valid.clone()).await;
        answer.assert_problem(400, "invalid_request");
        assert!(
            answer.json()["detail"]
                .as_str()
                .expect("detail")
                .contains("Idempotency-Key"),
            "{}",
            answer.text
        );
    }
    assert_no_upstream_calls(&stack, "refused headers");
}

/// What is sent, with which media type; the status, code and a piece of
/// the `detail` expected back.
type BadBody = (
    &'static str,
    Option<&'static str>,
    String,
    u16,
    &'static str,
    &'static str,
);

#[tokio::test]
async fn bad_bodies_are_refused_with_the_field_named_and_no_upstream_call() {
    let stack = spawn(Bff::Mobile).await;
    let valid = body(&[("p-1", 1)]).to_string();
    let padded = json!({"lines": [{"product_id": "p-1", "quantity": 1}], "pad": "x".repeat(70_000)}).to_string();
    let quantity = |q: Value| json!({"lines": [{"product_id": "p-1", "quantity": q}]}).to_string();

    let cases: Vec<BadBody> = vec![
        (
            "text/plain",
            Some("text/plain"),
            valid.clone(),
            415,
            "unsupported_media_type",
            "",
        ),
        (
            "no content type",
            None,
            valid.clone(),
            415,
            "unsupported_media_type",
            "",
        ),
        (
            "form",
            Some("application/x-www-form-urlencoded"),
            "lines=1".into(),
            415,
            "unsupported_media_type",
            "",
        ),
        ("over 64 KiB", Some(JSON), padded, 413, "payload_too_large", ""),
        (
            "10,000 lines",
            Some(JSON),
            many_lines(10_000).to_string(),
            413,
            "payload_too_large",
            "",
        ),
        (
            "not JSON",
            Some(JSON),
            "lines: p-1".into(),
            422,
            "invalid_request",
            "not valid JSON",
        ),
        (
            "empty",
            Some(JSON),
            String::new(),
            422,
            "invalid_request",
            "not valid JSON",
        ),
        (
            "an array",
            Some(JSON),
            "[]".into(),
            422,
            "invalid_request",
            "JSON object",
        ),
        (
            "unknown field",
            Some(JSON),
            json!({"lines": [], "coupon": "FREE"}).to_string(),
            422,
            "invalid_request",
            "coupon",
        ),
        (
            "unknown line field",
            Some(JSON),
            json!({"lines": [{"product_id": "p-1", "quantity": 1, "price": 1}]}).to_string(),
            422,
            "invalid_request",
            "lines[0]: unknown field `price`",
        ),
        (
            "0 lines",
            Some(JSON),
            many_lines(0).to_string(),
            422,
            "invalid_request",
            "lines must have 1 to 50 items, got 0",
        ),
        (
            "51 lines",
            Some(JSON),
            many_lines(51).to_string(),
            422,
            "invalid_request",
            "lines must have 1 to 50 items, got 51",
        ),
        (
            "quantity 0",
            Some(JSON),
            quantity(json!(0)),
            422,
            "invalid_request",
            "lines[0].quantity must be between 1 and 99",
        ),
        (
            "quantity 100",
            Some(JSON),
            quantity(json!(100)),
            422,
            "invalid_request",
            "lines[0].quantity must be between 1 and 99",
        ),
        (
            "quantity -1",
            Some(JSON),
            quantity(json!(-1)),
            422,
            "invalid_request",
            "lines[0].quantity must be between 1 and 99",
        ),
        (
            "huge quantity",
            Some(JSON),
            quantity(json!(1e300)),
            422,
            "invalid_request",
            "lines[0].quantity",
        ),
        (
            "quantity as text",
            Some(JSON),
            quantity(json!("1")),
            422,
            "invalid_request",
            "lines[0].quantity",
        ),
        (
            "duplicate lines",
            Some(JSON),
            body(&[("p-1", 1), ("p-2", 1), ("p-1", 2)]).to_string(),
            422,
            "invalid_request",
            "lines[2].product_id repeats lines[0]",
        ),
        (
            "malformed product id",
            Some(JSON),
            body(&[("../users", 1)]).to_string(),
            422,
            "invalid_request",
            "lines[0].product_id",
        ),
    ];
    for (i, (what, content_type, payload, status, code, detail)) in cases.into_iter().enumerate() {
        let answer = post(&stack, Some("u-1"), Some(&format!("key-{i}")), content_type, payload).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.text);
        answer.assert_problem(status, code);
        let got = answer.json()["detail"].as_str().expect("detail").to_owned();
        assert!(got.contains(detail), "{what}: detail {got:?} lacks {detail:?}");
    }
    assert_no_upstream_calls(&stack, "bad bodies");
}

#[tokio::test]
async fn ten_thousand_lines_under_a_raised_body_limit_are_still_422() {
    let stack = spawn_with(Bff::Mobile, &[("BFF_MAX_BODY_BYTES", "1000000")]).await;
    let answer = checkout(&stack, "u-1", "key-1", &many_lines(10_000)).await;
    answer.assert_problem(422, "invalid_request");
    assert!(answer.text.contains("got 10000"), "{}", answer.text);
    assert_no_upstream_calls(&stack, "10,000 lines");
}

#[tokio::test]
async fn an_unknown_product_is_422_and_places_no_order() {
    let stack = spawn(Bff::Mobile).await;
    let product = Catalog::load(&stack).await.in_stock(false);
    let answer = checkout(&stack, "u-1", "key-1", &body(&[(&product, 1), ("p-99999", 1)])).await;
    answer.assert_problem(422, "invalid_request");
    assert!(
        answer.json()["detail"].as_str().expect("detail").contains("p-99999"),
        "{}",
        answer.text
    );
    assert!(!answer.json()["detail"].as_str().expect("detail").contains(&product));
    assert_eq!(stack.sim.count(Service::Orders), 0);
}

#[tokio::test]
async fn short_products_are_409_out_of_stock_listing_every_one() {
    let stack = spawn(Bff::Mobile).await;
    let catalog = Catalog::load(&stack).await;
    let (sold_out, plenty) = (catalog.sold_out(), catalog.in_stock(false));
    let (scarce, available) = catalog.scarce(&plenty);
    let too_many = u32::try_from(available + 1).expect("small");

    let answer = checkout(
        &stack,
        "u-1",
        "key-1",
        &body(&[(&sold_out, 1), (&plenty, 1), (&scarce, too_many)]),
    )
    .await;

    answer.assert_problem(409, "out_of_stock");
    assert_eq!(answer.json()["product_ids"], json!([sold_out, scarce]));
    assert_eq!(stack.sim.count(Service::Orders), 0);
    // Exactly what is available is fine, under a new key.
    let exact = u32::try_from(available).expect("small");
    assert_eq!(
        checkout(&stack, "u-1", "key-2", &body(&[(&scarce, exact)]))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn failing_upstreams_give_503_or_504_and_the_key_can_be_used_again() {
    let stack = spawn_with(Bff::Mobile, FAILURE_TEST_ENV).await;
    let product = Catalog::load(&stack).await.in_stock(false);
    let request = body(&[(&product, 1)]);
    for service in [Service::Pricing, Service::Inventory, Service::Orders] {
        let key = format!("key-{}", service.name());
        for (mode, fault, reason) in failure_modes() {
            stack.sim.set_fault(service, fault);
            let answer = checkout(&stack, "u-1", &key, &request).await;
            if reason == "timeout" {
                answer.assert_problem(504, "upstream_timeout");
            } else {
                answer.assert_problem(503, "upstream_unavailable");
            }
            assert!(
                !answer.text.contains("\"order\""),
                "{} {mode}: never partial: {}",
                service.name(),
                answer.text
            );
            stack.sim.clear_faults();
            if service != Service::Orders {
                assert!(
                    order_posts(&stack).is_empty(),
                    "{} {mode}: no order without prices and stock",
                    service.name()
                );
            }
        }
        // After the failures, the same key places the order; orders saw
        // that key on every attempt, so at most one order exists for it.
        let answer = checkout(&stack, "u-1", &key, &request).await;
        assert_eq!(answer.status, 201, "{} then retry: {}", service.name(), answer.text);
        assert_eq!(answer.header("idempotent-replayed"), None);
        assert!(
            order_posts(&stack)
                .iter()
                .all(|p| p.header("idempotency-key") == Some(key.as_str()))
        );
        stack.sim.reset_counters();
    }
}

#[tokio::test]
async fn two_concurrent_requests_with_one_key_place_one_order_and_get_the_same_answer() {
    let stack = spawn(Bff::Mobile).await;
    let product = Catalog::load(&stack).await.in_stock(false);
    let request = body(&[(&product, 1)]);
    // Orders is slow (well within the 500 ms deadline), so the second
    // request arrives while the first is in flight.
    stack.sim.set_fault(
        Service::Orders,
        Fault {
            latency_ms: 200,
            ..Fault::default()
        },
    );

    let (first, second) = tokio::join!(checkout(&stack, "u-1", "key-1", &request), async {
        // Start once the first has reached orders, so it owns the key.
        let started = tokio::time::Instant::now();
        while stack.sim.count(Service::Orders) == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "the first request never reached orders"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        checkout(&stack, "u-1", "key-1", &request).await
    });

    assert_eq!(
        (first.status, second.status),
        (201, 201),
        "{} / {}",
        first.text,
        second.text
    );
    assert_eq!(first.text, second.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(order_posts(&stack).len(), 1);
    assert_eq!(
        stack.sim.count(Service::Pricing),
        1,
        "the duplicate waited instead of starting over"
    );
}
