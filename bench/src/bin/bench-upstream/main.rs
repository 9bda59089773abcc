//! `bench-upstream`: a lean fake of the upstreams (docs/api.md#the-upstream-contract) that
//! bff-mobile's home and pass-through use, plus `GET /fan/{i}` for the
//! synthetic fan-out, all on one port with path routing (the BFF under test
//! gets every `BFF_UPSTREAM_<NAME>_URL` pointing here).
//!
//! It exists because the simulator does far more per request (faults,
//! per-service counters, generated data): on the load core it would compete
//! with wrk. Here every answer is a lookup or a join of pieces built at
//! start-up ([`data`]), after a fixed `--latency-ms` (a tokio sleep; 0
//! answers at once), on a current-thread runtime: `bench/run` pins it to
//! the load core and checks its CPU per request.
//!
//! `GET /__calls` answers how many requests it has answered (itself not
//! counted), as plain text, so the benchmark can report upstream calls per
//! BFF answer.
//!
//! ```sh
//! bench-upstream --listen 127.0.0.1:9300 --latency-ms 10
//! curl -s 127.0.0.1:9300/users/u-1
//! ```

mod data;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bff_bench::args::flag;
use bytes::Bytes;
use data::{Data, PRODUCTS, USERS};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What every connection shares.
struct Fake {
    data: Data,
    latency: Duration,
    calls: AtomicU64,
}

fn main() -> ExitCode {
    let (listen, latency_ms) = match (
        flag("--listen", "BENCH_UPSTREAM_LISTEN", "127.0.0.1:9300".to_owned()),
        flag("--latency-ms", "BENCH_UPSTREAM_LATENCY_MS", 0u64),
    ) {
        (Ok(listen), Ok(latency)) => (listen, latency),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("bench-upstream: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fake = Arc::new(Fake {
        data: Data::build(),
        latency: Duration::from_millis(latency_ms),
        calls: AtomicU64::new(0),
    });
    // One thread: it shares the load core with wrk.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    bff_bench::http1::run("bench-upstream", runtime, &listen, move |request| {
        answer(fake.clone(), request)
    })
}

async fn answer(fake: Arc<Fake>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() == "/__calls" {
        let calls = fake.calls.load(Ordering::Relaxed);
        return Response::new(Full::new(Bytes::from(calls.to_string())));
    }
    fake.calls.fetch_add(1, Ordering::Relaxed);
    let user = request.headers().get("x-user-id").and_then(|v| v.to_str().ok());
    let body = route(
        &fake.data,
        request.uri().path(),
        request.uri().query().unwrap_or(""),
        user,
    );
    if !fake.latency.is_zero() {
        tokio::time::sleep(fake.latency).await;
    }
    let (status, body) = match body {
        Some(body) => (StatusCode::OK, body),
        None => (StatusCode::NOT_FOUND, Bytes::from_static(br#"{"error":"not_found"}"#)),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The answer's body, or `None` for a 404.
fn route(data: &Data, path: &str, query: &str, user: Option<&str>) -> Option<Bytes> {
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
    };
    let limit = |default: usize| param("limit").and_then(|l| l.parse().ok()).unwrap_or(default);
    let user_param = || param("user_id").and_then(|u| number(u, "u-", USERS));
    let product_ids = |name: &str| -> Vec<usize> {
        param(name)
            .unwrap_or("")
            .split(',')
            .filter_map(|id| number(id, "p-", PRODUCTS))
            .take(100)
            .collect()
    };
    let (segment, rest) = match path[1.min(path.len())..].split_once('/') {
        Some((segment, rest)) => (segment, Some(rest)),
        None => (&path[1.min(path.len())..], None),
    };
    match (segment, rest) {
        ("users", Some(id)) => number(id, "u-", USERS).map(|u| data.users[u].clone()),
        ("orders", None) => {
            let orders = &data.orders[user_param()?];
            let n = limit(20).min(orders.len());
            let items: Vec<&[u8]> = orders[..n].iter().map(|o| &o[..]).collect();
            let cursor = if n < orders.len() { r#""c-next""# } else { "null" };
            Some(page(r#"{"items":["#, &items, &format!(r#"],"next_cursor":{cursor}}}"#)))
        }
        ("orders", Some(id)) => {
            let (owner, k) = id.strip_prefix("o-")?.split_once('-')?;
            let u = number_plain(owner, USERS)?;
            let k = number_plain(k, data.orders[u].len())?;
            // 404 unless X-User-Id is the order's owner (the upstream contract).
            (user == Some(&format!("u-{u}"))).then(|| data.orders[u][data.orders[u].len() - k].clone())
        }
        ("notifications", None) => {
            let unread = &data.notifications[user_param()?];
            let n = limit(10).min(unread.len());
            let items: Vec<&[u8]> = unread[..n].iter().map(|i| i.as_bytes()).collect();
            Some(page(
                &format!(r#"{{"unread_count":{},"items":["#, unread.len()),
                &items,
                "]}",
            ))
        }
        ("recommendations", None) => {
            let ids = &data.recommended[user_param()?];
            let n = limit(10).min(ids.len());
            let items: Vec<&[u8]> = ids[..n].iter().map(|i| i.as_bytes()).collect();
            Some(page(r#"{"product_ids":["#, &items, "]}"))
        }
        ("products", None) => Some(items(&data.products, &product_ids("ids"))),
        ("products", Some(id)) => number(id, "p-", PRODUCTS).map(|p| Bytes::from(data.products[p].clone())),
        ("prices", None) => Some(items(&data.prices, &product_ids("product_ids"))),
        ("stock", None) => Some(items(&data.stock, &product_ids("product_ids"))),
        ("reviews", None) => {
            number(param("product_id")?, "p-", PRODUCTS)?;
            let n = limit(10).min(data.reviews.len());
            let items: Vec<&[u8]> = data.reviews[..n].iter().map(|r| r.as_bytes()).collect();
            Some(page(r#"{"average_rating":3.9,"count":37,"items":["#, &items, "]}"))
        }
        ("fan", Some(i)) => i.parse::<usize>().ok().and_then(|i| data.fan.get(i).cloned()),
        _ => None,
    }
}

/// `{"items":[…]}` of the pieces for these numbers.
fn items(pieces: &[String], numbers: &[usize]) -> Bytes {
    let items: Vec<&[u8]> = numbers.iter().map(|&n| pieces[n].as_bytes()).collect();
    page(r#"{"items":["#, &items, "]}")
}

/// `head`, the items separated by commas, `tail`: one allocation.
fn page(head: &str, items: &[&[u8]], tail: &str) -> Bytes {
    let len = head.len() + tail.len() + items.iter().map(|i| i.len() + 1).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(head.as_bytes());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(tail.as_bytes());
    Bytes::from(out)
}

/// `n` out of `<prefix>n` when `n` is in `1..=max`.
fn number(id: &str, prefix: &str, max: usize) -> Option<usize> {
    number_plain(id.strip_prefix(prefix)?, max)
}

fn number_plain(digits: &str, max: usize) -> Option<usize> {
    if digits.starts_with('0') {
        return None;
    }
    digits.parse().ok().filter(|n| (1..=max).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: Option<Bytes>) -> serde_json::Value {
        serde_json::from_slice(&body.expect("an answer")).expect("JSON")
    }

    #[test]
    fn home_calls_get_section_2_shapes() {
        let data = Data::build();
        let user = json(route(&data, "/users/u-7", "", None));
        assert_eq!(user["id"], "u-7");
        let orders = json(route(&data, "/orders", "user_id=u-7&limit=5", None));
        assert_eq!(orders["items"].as_array().map(Vec::len), Some(5));
        assert_eq!(orders["items"][0]["id"], "o-7-20");
        let unread = json(route(
            &data,
            "/notifications",
            "user_id=u-7&unread_only=true&limit=1",
            None,
        ));
        assert_eq!(
            (
                unread["unread_count"].as_u64(),
                unread["items"].as_array().map(Vec::len)
            ),
            (Some(12), Some(1))
        );
        let recs = json(route(&data, "/recommendations", "user_id=u-7&limit=10", None));
        let ids: Vec<&str> = recs["product_ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(|id| id.as_str())
            .collect();
        assert_eq!(ids.len(), 10);
        let query = format!("ids={},p-0,x", ids.join(","));
        let products = json(route(&data, "/products", &query, None));
        assert_eq!(
            products["items"].as_array().map(Vec::len),
            Some(10),
            "unknown ids are left out"
        );
        let prices = json(route(&data, "/prices", &format!("product_ids={}", ids.join(",")), None));
        assert_eq!(prices["items"][0]["product_id"], ids[0]);
    }

    #[test]
    fn an_order_is_found_only_for_its_owner() {
        let data = Data::build();
        assert_eq!(json(route(&data, "/orders/o-3-1", "", Some("u-3")))["id"], "o-3-1");
        assert!(route(&data, "/orders/o-3-1", "", Some("u-4")).is_none());
        assert!(route(&data, "/orders/o-3-1", "", None).is_none());
        assert!(route(&data, "/orders/o-3-21", "", Some("u-3")).is_none());
    }

    #[test]
    fn unknown_paths_and_ids_are_not_found() {
        let data = Data::build();
        for (path, query) in [
            ("/users/u-0", ""),
            ("/users/u-01", ""),
            ("/nope", ""),
            ("/fan/64", ""),
            ("/", ""),
        ] {
            assert!(route(&data, path, query, None).is_none(), "{path}");
        }
        assert_eq!(json(route(&data, "/fan/3", "", None))["i"], 3);
    }
}
