//! Ids in paths, attacked the way a client with a raw socket would: dot
//! segments and their encodings, encoded slashes and spaces, ids that do
//! not start with a letter or digit. None may reach an upstream
//! (docs/api.md#ids-in-paths). Raw sockets because an HTTP library resolves `..` before
//! sending.

use bff_stack::simulator::Service;

use crate::raw::{self, RawAnswer};
use crate::support::{Bff, Stack, spawn, token};

/// Ids the router hands to the handler, which must refuse them with 400.
const MALFORMED: &[&str] = &[
    "/v1/orders/..",
    "/v1/orders/.",
    "/v1/orders/%2e%2e",
    "/v1/orders/%2E%2E",
    "/v1/orders/%2e",
    "/v1/orders/.%2e",
    "/v1/orders/%2e.",
    "/v1/orders/%2F",
    "/v1/orders/a%2Fb",
    "/v1/orders/..%2F..%2Fusers%2Fu-2",
    "/v1/orders/%2e%2e%2fusers",
    "/v1/orders/%20",
    "/v1/orders/o-1-1%20",
    "/v1/orders/-x",
    "/v1/orders/o-1-1%00",
    "/v1/orders/o-1-1%3Fuser_id=u-2",
    "/v1/orders/o-1-1%23x",
    "/v1/products/..",
    "/v1/products/%2e%2e",
    "/v1/products/%2e",
    "/v1/products/%2F",
    "/v1/products/p-1%2F..%2F..%2Fprices",
];

/// Targets that are another path altogether: no route serves them (404),
/// or the id is refused (400); either way nothing goes upstream.
const OTHER_PATHS: &[&str] = &[
    "/v1/orders/",
    "/v1/orders/../x",
    "/v1/orders/./o-1-1",
    "/v1/orders/o-1-1/..",
    "/v1/orders/../../users/u-2",
    "/v1/products/",
    "/v1/products/../orders/o-1-1",
];

fn assert_problem(answer: &RawAnswer, statuses: &[u16], code: Option<&str>, target: &str) {
    assert!(
        statuses.contains(&answer.status),
        "{target}: status {} ({})",
        answer.status,
        answer.text()
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{target}: {}",
        answer.text()
    );
    let body: serde_json::Value =
        serde_json::from_slice(&answer.body).unwrap_or_else(|e| panic!("{target}: not JSON ({e}): {}", answer.text()));
    if let Some(code) = code {
        assert_eq!(body["code"], code, "{target}: {}", answer.text());
    }
}

async fn attack(stack: &Stack) {
    let bearer = format!("Bearer {}", token("u-1"));
    let auth = [("Authorization", bearer.as_str())];
    for target in MALFORMED {
        let answer = raw::get(stack.bff.addr, target, &auth).await;
        assert_problem(&answer, &[400], Some("invalid_request"), target);
    }
    for target in OTHER_PATHS {
        let answer = raw::get(stack.bff.addr, target, &auth).await;
        assert_problem(&answer, &[400, 404], None, target);
    }
    for service in Service::ALL {
        assert_eq!(
            stack.sim.count(service),
            0,
            "{} received {:?}",
            service.name(),
            stack
                .sim
                .requests(service)
                .iter()
                .map(|r| &r.path_and_query)
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn no_malformed_or_dotted_id_reaches_an_upstream_of_bff_mobile() {
    attack(&spawn(Bff::Mobile).await).await;
}

#[tokio::test]
async fn no_malformed_or_dotted_id_reaches_an_upstream_of_bff_web() {
    attack(&spawn(Bff::Web).await).await;
}

#[tokio::test]
async fn a_well_formed_id_sent_raw_does_reach_the_orders_service() {
    // The control: the same raw request with a good id is served, so the
    // refusals above are about the ids, not about the raw client.
    let stack = spawn(Bff::Mobile).await;
    let bearer = format!("Bearer {}", token("u-1"));
    let answer = raw::get(stack.bff.addr, "/v1/orders/o-1-1", &[("Authorization", &bearer)]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let paths: Vec<String> = stack
        .sim
        .requests(Service::Orders)
        .into_iter()
        .map(|r| r.path_and_query)
        .collect();
    assert_eq!(paths, ["/orders/o-1-1"]);
}
