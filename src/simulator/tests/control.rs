//! The control API round trip, the counters and recorded requests, and shutdown.

use serde_json::{Value, json};

use super::{Harness, start, start_with};
use crate::simulator::{Fault, Service, SimulatorConfig};

async fn with_control() -> (Harness, String) {
    let h = start_with(SimulatorConfig {
        control_port: Some(0),
        ..SimulatorConfig::ephemeral()
    })
    .await;
    let control = h.sim.control_url().expect("control API");
    (h, control)
}

#[tokio::test]
async fn the_control_api_lists_services_and_sets_and_clears_faults() {
    let (h, control) = with_control().await;
    h.ok(Service::Orders, "/orders?user_id=u-1").await;

    let services: Value = h
        .http
        .get(format!("{control}/services"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    let services = services.as_array().expect("list");
    assert_eq!(services.len(), 8);
    assert_eq!(services[1]["name"], "orders");
    assert_eq!(services[1]["url"], h.sim.url(Service::Orders));
    assert_eq!(services[1]["requests"], 1);
    assert_eq!(
        services[1]["fault"],
        serde_json::to_value(Fault::default()).expect("json")
    );

    // A partial fault without a JSON content type, as a bare `curl -d` sends it.
    let put = h
        .http
        .put(format!("{control}/faults/orders"))
        .body(r#"{"error_rate": 1, "error_status": 503}"#)
        .send()
        .await
        .expect("answer");
    assert_eq!(put.status(), 200);
    let stored: Value = put.json().await.expect("json");
    assert_eq!(
        (
            stored["error_rate"].as_f64(),
            &stored["error_status"],
            &stored["latency_ms"]
        ),
        (Some(1.0), &json!(503), &json!(0))
    );
    assert_eq!(h.sim.fault(Service::Orders).error_status, 503);
    assert_eq!(h.get(Service::Orders, "/orders?user_id=u-1").await.0, 503);

    let delete = h
        .http
        .delete(format!("{control}/faults/orders"))
        .send()
        .await
        .expect("answer");
    assert_eq!(delete.status(), 204);
    assert_eq!(h.get(Service::Orders, "/orders?user_id=u-1").await.0, 200);

    h.sim.set_fault(
        Service::Users,
        Fault {
            down: true,
            ..Fault::default()
        },
    );
    h.sim.set_fault(
        Service::Reviews,
        Fault {
            latency_ms: 5,
            ..Fault::default()
        },
    );
    assert_eq!(
        h.http
            .delete(format!("{control}/faults"))
            .send()
            .await
            .expect("answer")
            .status(),
        204
    );
    assert!(Service::ALL.into_iter().all(|s| h.sim.fault(s).is_healthy()));
    assert_eq!(
        h.get(Service::Users, "/users/u-1").await.0,
        200,
        "a port that was down is open again"
    );
}

#[tokio::test]
async fn the_control_api_shows_and_resets_what_each_service_received() {
    let (h, control) = with_control().await;
    h.http
        .get(h.url(Service::Reviews, "/reviews?product_id=p-1&limit=1"))
        .header("X-Request-Id", "req-1")
        .header("X-User-Id", "u-1")
        .send()
        .await
        .expect("answer");
    let recorded: Value = h
        .http
        .get(format!("{control}/requests/reviews"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(recorded[0]["method"], "GET");
    assert_eq!(recorded[0]["path_and_query"], "/reviews?product_id=p-1&limit=1");
    assert!(
        recorded[0]["headers"]
            .as_array()
            .expect("headers")
            .contains(&json!(["x-request-id", "req-1"]))
    );

    let reset = h
        .http
        .post(format!("{control}/counters/reset"))
        .send()
        .await
        .expect("answer");
    assert_eq!(reset.status(), 204);
    assert_eq!(h.sim.count(Service::Reviews), 0);
    assert!(h.sim.requests(Service::Reviews).is_empty());
}

#[tokio::test]
async fn the_control_api_answers_404_to_unknown_services_and_400_to_bad_faults() {
    let (h, control) = with_control().await;
    for (method, path) in [
        (reqwest::Method::PUT, "/faults/payments"),
        (reqwest::Method::DELETE, "/faults/payments"),
        (reqwest::Method::GET, "/requests/payments"),
        (reqwest::Method::GET, "/nothing"),
    ] {
        let answer = h
            .http
            .request(method, format!("{control}{path}"))
            .body("{}")
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 404, "{path}");
        assert_eq!(
            answer.json::<Value>().await.expect("json"),
            json!({ "error": "not_found" })
        );
    }
    for bad in [
        r#"{"error_rate": 2}"#,
        r#"{"latency": 5}"#,
        r#"{"error_status": 42}"#,
        "not json",
    ] {
        let answer = h
            .http
            .put(format!("{control}/faults/users"))
            .body(bad)
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 400, "{bad}");
    }
    assert!(
        h.sim.fault(Service::Users).is_healthy(),
        "a rejected fault changes nothing"
    );
}

#[tokio::test]
async fn requests_are_counted_and_recorded_with_lower_case_headers_and_body() {
    let h = start().await;
    let body =
        r#"{"user_id":"u-2","currency":"USD","lines":[{"product_id":"p-2","quantity":1,"unit_price_cents":10}]}"#;
    h.http
        .post(h.url(Service::Orders, "/orders"))
        .header("Idempotency-Key", "abc")
        .header("X-Request-Timeout-Ms", "250")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("answer");
    h.ok(Service::Orders, "/orders?user_id=u-2&limit=1").await;
    assert_eq!(h.sim.count(Service::Orders), 2);
    assert_eq!(h.sim.count(Service::Users), 0);
    let recorded = h.sim.requests(Service::Orders);
    assert_eq!(recorded.len(), 2);
    let post = &recorded[0];
    assert_eq!(
        (post.method.as_str(), post.path_and_query.as_str()),
        ("POST", "/orders")
    );
    assert_eq!(post.header("idempotency-key"), Some("abc"));
    assert_eq!(post.header("x-request-timeout-ms"), Some("250"));
    assert!(post.headers.iter().all(|(name, _)| *name == name.to_lowercase()));
    assert_eq!(post.body, body);
    assert!(post.answered_at_ms.is_some_and(|at| at >= post.received_at_ms));
    assert!(recorded[1].received_at_ms >= post.received_at_ms);

    h.sim.reset_counters();
    assert_eq!(h.sim.count(Service::Orders), 0);
    assert!(h.sim.requests(Service::Orders).is_empty());
}

#[tokio::test]
async fn shutdown_closes_every_port_and_ends_held_requests() {
    let (h, control) = with_control().await;
    h.sim.set_fault(
        Service::Reviews,
        Fault {
            hang: true,
            ..Fault::default()
        },
    );
    let held = tokio::spawn({
        let request = h.http.get(h.url(Service::Reviews, "/reviews?product_id=p-1"));
        async move { request.send().await }
    });
    while h.sim.count(Service::Reviews) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let urls: Vec<String> = Service::ALL.into_iter().map(|s| h.sim.url(s)).collect();
    let started = std::time::Instant::now();
    h.sim.clone().shutdown().await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "a hanging request does not hold shutdown"
    );
    let _ = held.await;
    let fresh = super::client().build().expect("client");
    for url in urls.iter().chain([&control]) {
        let error = fresh.get(url).send().await.expect_err("closed");
        assert!(error.is_connect(), "{url}: {error:?}");
    }
}
