//! Every endpoint answers the shapes of the upstream contract (docs/api.md,
//! "The upstream contract"), the same data every run, and the documented
//! 400s and 404s.

use serde_json::{Value, json};

use super::{Harness, start};
use crate::simulator::Service;

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn is_rfc3339_utc(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T')
}

async fn place(h: &Harness, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = h.http.post(h.url(Service::Orders, "/orders")).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_user_has_the_documented_shape_and_an_unknown_user_is_404() {
    let h = start().await;
    let user = h.ok(Service::Users, "/users/u-7").await;
    assert_eq!(
        keys(&user),
        ["avatar_url", "created_at", "email", "id", "name", "preferences", "tier"]
    );
    assert_eq!(keys(&user["preferences"]), ["currency", "language", "marketing_opt_in"]);
    assert_eq!(user["id"], "u-7");
    assert_eq!(user["preferences"]["currency"], "USD");
    assert!(is_rfc3339_utc(&user["created_at"]));
    for id in ["u-0", "u-1001", "x"] {
        assert_eq!(
            h.get(Service::Users, &format!("/users/{id}")).await,
            (404, json!({ "error": "not_found" }))
        );
    }
}

#[tokio::test]
async fn the_same_ids_give_the_same_answers_in_every_simulator() {
    let (a, b) = (start().await, start().await);
    for (service, path) in [
        (Service::Users, "/users/u-12"),
        (Service::Orders, "/orders?user_id=u-12&limit=100"),
        (Service::Catalog, "/products?ids=p-1,p-9999"),
        (Service::Pricing, "/prices?product_ids=p-1,p-9999"),
        (Service::Inventory, "/stock?product_ids=p-1,p-9999"),
        (Service::Recommendations, "/recommendations?user_id=u-12&limit=50"),
        (Service::Notifications, "/notifications?user_id=u-12"),
        (Service::Reviews, "/reviews?product_id=p-12&limit=100"),
    ] {
        assert_eq!(a.ok(service, path).await, b.ok(service, path).await, "{path}");
    }
    assert_ne!(
        a.ok(Service::Users, "/users/u-12").await,
        a.ok(Service::Users, "/users/u-13").await
    );
}

#[tokio::test]
async fn orders_are_listed_newest_first_and_paged_with_a_cursor() {
    let h = start().await;
    let mut all = Vec::new();
    let mut path = "/orders?user_id=u-3&limit=2".to_owned();
    loop {
        let page = h.ok(Service::Orders, &path).await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        all.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/orders?user_id=u-3&limit=2&cursor={cursor}"),
            None => {
                assert!(page["next_cursor"].is_null());
                break;
            }
        }
    }
    assert!((3..=25).contains(&all.len()));
    let times: Vec<&str> = all.iter().map(|o| o["created_at"].as_str().expect("time")).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first: {times:?}");
    for order in &all {
        assert_eq!(
            keys(order),
            [
                "created_at",
                "currency",
                "id",
                "lines",
                "status",
                "total_cents",
                "user_id"
            ]
        );
        assert_eq!(order["user_id"], "u-3");
        assert_eq!(order["currency"], "USD");
        assert!(["placed", "shipped", "delivered", "cancelled"].contains(&order["status"].as_str().expect("status")));
        let lines = order["lines"].as_array().expect("lines");
        assert!((1..=4).contains(&lines.len()));
        let total: u64 = lines
            .iter()
            .map(|l| l["quantity"].as_u64().expect("qty") * l["unit_price_cents"].as_u64().expect("price"))
            .sum();
        assert_eq!(order["total_cents"], total);
        for line in lines {
            assert_eq!(keys(line), ["product_id", "quantity", "unit_price_cents"]);
            let product = line["product_id"].as_str().expect("id");
            assert_eq!(h.get(Service::Catalog, &format!("/products/{product}")).await.0, 200);
        }
    }
    let all_at_once = h.ok(Service::Orders, "/orders?user_id=u-3&limit=100").await;
    assert_eq!(all_at_once["items"].as_array().expect("items"), &all);
    let default = h.ok(Service::Orders, "/orders?user_id=u-3").await;
    assert_eq!(default["items"].as_array().expect("items").len(), all.len().min(10));
    assert_eq!(h.get(Service::Orders, "/orders?user_id=u-5000").await.0, 404);
}

#[tokio::test]
async fn an_order_is_only_found_by_its_owner() {
    let h = start().await;
    let get = |user: Option<&'static str>| {
        let mut request = h.http.get(h.url(Service::Orders, "/orders/o-4-1"));
        if let Some(user) = user {
            request = request.header("X-User-Id", user);
        }
        async move { request.send().await.expect("answer").status().as_u16() }
    };
    assert_eq!(get(Some("u-4")).await, 200);
    assert_eq!(get(Some("u-5")).await, 404);
    assert_eq!(get(None).await, 404);
    let missing = h
        .http
        .get(h.url(Service::Orders, "/orders/o-4-999"))
        .header("X-User-Id", "u-4")
        .send()
        .await
        .expect("answer");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.expect("json"),
        json!({ "error": "not_found" })
    );
}

#[tokio::test]
async fn placing_an_order_is_idempotent_per_key_and_the_order_is_then_listed_first() {
    let h = start().await;
    let body = json!({
        "user_id": "u-9",
        "currency": "USD",
        "lines": [
            { "product_id": "p-10", "quantity": 2, "unit_price_cents": 1999 },
            { "product_id": "p-11", "quantity": 1, "unit_price_cents": 500 }
        ]
    });
    let (status, order) = place(&h, Some("key-1"), &body).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "placed");
    assert_eq!(order["total_cents"], 2 * 1999 + 500);
    assert_eq!(order["user_id"], "u-9");
    assert!(is_rfc3339_utc(&order["created_at"]));
    assert_eq!(
        place(&h, Some("key-1"), &body).await,
        (201, order.clone()),
        "same key, same order"
    );
    let (_, other) = place(&h, Some("key-2"), &body).await;
    assert_ne!(other["id"], order["id"], "a new key is a new order");
    let placed: Vec<(String, String, String)> = h
        .sim
        .placed_orders()
        .into_iter()
        .map(|p| (p.user_id, p.idempotency_key, p.order_id))
        .collect();
    let id_of = |order: &Value| order["id"].as_str().expect("id").to_owned();
    assert_eq!(
        placed,
        [
            ("u-9".to_owned(), "key-1".to_owned(), id_of(&order)),
            ("u-9".to_owned(), "key-2".to_owned(), id_of(&other)),
        ],
        "one placed order per key, with its key"
    );

    let id = order["id"].as_str().expect("id");
    let fetched = h
        .http
        .get(h.url(Service::Orders, &format!("/orders/{id}")))
        .header("X-User-Id", "u-9")
        .send()
        .await
        .expect("answer");
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.json::<Value>().await.expect("json"), order);
    let list = h.ok(Service::Orders, "/orders?user_id=u-9&limit=3").await;
    assert_eq!(list["items"][0], other);
    assert_eq!(list["items"][1], order);
    assert_eq!(
        list["items"][2]["id"].as_str().map(|id| id.starts_with("o-9-")),
        Some(true)
    );
}

#[tokio::test]
async fn an_order_without_a_key_or_with_a_bad_body_is_400() {
    let h = start().await;
    let good = json!({ "user_id": "u-1", "currency": "USD", "lines": [{ "product_id": "p-1", "quantity": 1, "unit_price_cents": 100 }] });
    assert_eq!(
        place(&h, None, &good).await,
        (400, json!({ "error": "idempotency_key_required" }))
    );
    for bad in [
        json!({ "currency": "USD", "lines": [] }),
        json!({ "user_id": "u-1", "currency": "USD", "lines": [] }),
        json!({ "user_id": "u-1", "currency": "dollars", "lines": good["lines"] }),
        json!({ "user_id": "u-1", "currency": "USD", "lines": [{ "product_id": "p-0", "quantity": 1, "unit_price_cents": 1 }] }),
        json!({ "user_id": "u-1", "currency": "USD", "lines": [{ "product_id": "p-1", "quantity": 0, "unit_price_cents": 1 }] }),
        json!({ "user_id": "u-1", "currency": "USD", "lines": [{ "product_id": "p-1", "quantity": 1, "unit_price_cents": -1 }] }),
    ] {
        let (status, answer) = place(&h, Some("k"), &bad).await;
        assert_eq!((status, &answer["error"]), (400, &json!("invalid_request")), "{bad}");
    }
}

#[tokio::test]
async fn products_come_one_or_many_without_unknown_ids_and_at_most_100_at_a_time() {
    let h = start().await;
    let product = h.ok(Service::Catalog, "/products/p-42").await;
    assert_eq!(
        keys(&product),
        [
            "attributes",
            "category",
            "description",
            "id",
            "image_urls",
            "name",
            "related_ids"
        ]
    );
    assert!((1..=3).contains(&product["image_urls"].as_array().expect("images").len()));
    assert!(product["related_ids"].as_array().expect("related").len() <= 12);
    assert_eq!(h.get(Service::Catalog, "/products/p-10001").await.0, 404);

    let list = h.ok(Service::Catalog, "/products?ids=p-42,p-0,nope,p-7").await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["p-42", "p-7"]);
    assert_eq!(list["items"][0], product);

    let hundred: Vec<String> = (1..=100).map(|n| format!("p-{n}")).collect();
    let full = h
        .ok(Service::Catalog, &format!("/products?ids={}", hundred.join(",")))
        .await;
    assert_eq!(full["items"].as_array().expect("items").len(), 100);
    let too_many = h
        .get(Service::Catalog, &format!("/products?ids={},p-101", hundred.join(",")))
        .await;
    assert_eq!((too_many.0, &too_many.1["error"]), (400, &json!("invalid_request")));
    assert_eq!(h.get(Service::Catalog, "/products").await.0, 400);
}

#[tokio::test]
async fn prices_and_stock_answer_known_ids_in_the_documented_shape() {
    let h = start().await;
    let prices = h.ok(Service::Pricing, "/prices?product_ids=p-3,p-99999,p-4").await;
    let items = prices["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    for price in items {
        assert_eq!(keys(price), ["amount_cents", "currency", "discount_pct", "product_id"]);
        assert_eq!(price["currency"], "USD");
        assert!(price["amount_cents"].as_u64().expect("amount") > 0);
        assert!(price["discount_pct"].as_u64().expect("pct") <= 30);
    }
    let stock = h.ok(Service::Inventory, "/stock?product_ids=p-3,p-4,bad").await;
    let items = stock["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    for s in items {
        assert_eq!(keys(s), ["available", "product_id", "warehouses"]);
        let sum: u64 = s["warehouses"]
            .as_array()
            .expect("warehouses")
            .iter()
            .map(|w| {
                assert_eq!(keys(w), ["available", "id"]);
                w["available"].as_u64().expect("n")
            })
            .sum();
        assert_eq!(s["available"], sum);
    }
    assert_eq!(h.get(Service::Pricing, "/prices").await.0, 400);
}

#[tokio::test]
async fn recommendations_notifications_and_reviews_honour_limit() {
    let h = start().await;
    let recs = h
        .ok(Service::Recommendations, "/recommendations?user_id=u-2&limit=5")
        .await;
    assert_eq!(keys(&recs), ["product_ids"]);
    assert_eq!(recs["product_ids"].as_array().expect("ids").len(), 5);
    let many = h
        .ok(Service::Recommendations, "/recommendations?user_id=u-2&limit=100")
        .await;
    let many = many["product_ids"].as_array().expect("ids");
    assert!((12..=50).contains(&many.len()));
    assert_eq!(&many[..5], recs["product_ids"].as_array().expect("ids").as_slice());

    let all = h
        .ok(Service::Notifications, "/notifications?user_id=u-2&limit=100")
        .await;
    assert_eq!(keys(&all), ["items", "unread_count"]);
    let unread = all["unread_count"].as_u64().expect("count");
    assert!(unread >= 1);
    for n in all["items"].as_array().expect("items") {
        assert_eq!(keys(n), ["body", "created_at", "id", "read", "title"]);
        assert!(is_rfc3339_utc(&n["created_at"]));
    }
    let only_unread = h
        .ok(
            Service::Notifications,
            "/notifications?user_id=u-2&unread_only=true&limit=100",
        )
        .await;
    let items = only_unread["items"].as_array().expect("items");
    assert_eq!(items.len() as u64, unread);
    assert!(items.iter().all(|n| n["read"] == false));
    let one = h.ok(Service::Notifications, "/notifications?user_id=u-2&limit=1").await;
    assert_eq!(
        (one["items"].as_array().expect("items").len(), &one["unread_count"]),
        (1, &json!(unread))
    );

    let reviews = h.ok(Service::Reviews, "/reviews?product_id=p-8&limit=2").await;
    assert_eq!(keys(&reviews), ["average_rating", "count", "items"]);
    let average = reviews["average_rating"].as_f64().expect("f64");
    assert!((1.0..=5.0).contains(&average));
    let items = reviews["items"].as_array().expect("items");
    assert_eq!(items.len() as u64, reviews["count"].as_u64().expect("count").min(2));
    for r in items {
        assert_eq!(keys(r), ["author", "body", "created_at", "id", "rating", "title"]);
    }
    assert_eq!(h.get(Service::Reviews, "/reviews?product_id=p-0").await.0, 404);
}

#[tokio::test]
async fn bad_queries_are_400_and_unknown_paths_are_404() {
    let h = start().await;
    for (service, path) in [
        (Service::Orders, "/orders"),
        (Service::Orders, "/orders?user_id=u-1&limit=ten"),
        (Service::Orders, "/orders?user_id=u-1&cursor=abc"),
        (Service::Recommendations, "/recommendations?user_id=u-1&limit=-1"),
        (Service::Notifications, "/notifications?user_id=u-1&unread_only=maybe"),
        (Service::Reviews, "/reviews"),
    ] {
        let (status, body) = h.get(service, path).await;
        assert_eq!((status, &body["error"]), (400, &json!("invalid_request")), "{path}");
    }
    assert_eq!(
        h.get(Service::Users, "/nothing/here").await,
        (404, json!({ "error": "not_found" }))
    );
    assert_eq!(
        h.get(Service::Pricing, "/users/u-1").await.0,
        404,
        "each service serves only its own routes"
    );
    let capped = h
        .ok(Service::Recommendations, "/recommendations?user_id=u-1&limit=1000")
        .await;
    assert!(capped["product_ids"].as_array().expect("ids").len() <= 100);
}
