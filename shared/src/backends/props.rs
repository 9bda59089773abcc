//! Property tests of the backends' edges: [`is_valid_id`] against a
//! reference definition; ids percent-encoded into upstream paths and
//! queries (sent over loopback to a server that records the request
//! target, so the URL the HTTP client really sends is what is checked);
//! and every DTO decoded from arbitrary bytes and arbitrary JSON.
//!
//! Case counts are small and the seed fixed, so a run is quick and the
//! same in CI and on a laptop. The loopback fixtures are shared with the
//! other property tests that need an upstream (`extract::props`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::dto::{Items, Recommendations};
use super::*;
use crate::config::{Settings, UpstreamSettings};
use crate::context::{Deadline, RequestCtx};
use crate::platform::Platform;

/// The HS256 secret of [`platform`]'s verifier.
pub(crate) const SECRET: &str = "property-test-secret-0123456789-abcdef";

/// `cases` cases from a fixed seed, no regression files.
pub(crate) fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x0b1d_5eed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A loopback upstream that records the request target of every call and
/// answers `404 {}` (an answer, so breakers never open).
pub(crate) struct RecordingUpstream {
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl RecordingUpstream {
    pub async fn start() -> Self {
        async fn record(State(seen): State<Arc<Mutex<Vec<String>>>>, request: Request) -> (StatusCode, &'static str) {
            let target = request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().path().to_owned(), |pq| pq.as_str().to_owned());
            seen.lock().expect("seen").push(target);
            (StatusCode::NOT_FOUND, "{}")
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = axum::Router::new().fallback(record).with_state(seen.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, seen }
    }

    /// The targets recorded since the last call.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().expect("seen"))
    }
}

/// Our BFF state whose eight upstreams are `upstream`, with rate limiting
/// off (property tests send many requests as one user) and an HS256 key.
pub(crate) async fn platform(upstream: &RecordingUpstream) -> Bff {
    let mut settings = Settings::defaults(([127, 0, 0, 1], 0).into(), Duration::from_millis(2000));
    settings.jwt.hs256_secret = Some(SECRET.into());
    settings.rate_limit.rps = 0;
    for (name, _) in UPSTREAMS {
        settings
            .upstreams
            .insert(name.to_owned(), UpstreamSettings::new(upstream.url.clone()));
    }
    Bff::new(Platform::new(settings).await.expect("platform")).expect("our upstreams are declared")
}

/// A runtime for driving async code from inside a proptest case.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The id rule of docs/api.md#ids-in-paths, written independently of `is_valid_id`.
fn reference_is_valid_id(id: &str) -> bool {
    let chars: Vec<char> = id.chars().collect();
    let allowed = |c: char| c.is_ascii_alphanumeric() || ['.', '_', ':', '-'].contains(&c);
    (1..=64).contains(&chars.len()) && chars[0].is_ascii_alphanumeric() && chars.iter().all(|c| allowed(*c))
}

/// Strings near the id rule's edges: its alphabet plus characters that
/// break it, around the length limit.
fn id_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._:-]{0,70}",
        "[A-Za-z0-9._:/ %?#&=ü\u{0}\n-]{0,70}",
        "[.]{1,3}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn is_valid_id_agrees_with_the_reference_definition(id in id_like()) {
        prop_assert_eq!(is_valid_id(&id), reference_is_valid_id(&id), "{:?}", id);
    }
}

/// Characters that would change an upstream URL's structure if an id put
/// them there raw.
const STRUCTURAL: [char; 6] = ['&', '=', '#', '?', '/', ' '];

fn decode(encoded: &str) -> String {
    urlencoding::decode(encoded).expect("UTF-8").into_owned()
}

/// Checks that `target` is `{path}?{query}` with exactly `params`, each
/// value free of structural characters and decoding to the expected ids
/// (a list joined by raw commas).
fn assert_query(target: &str, path: &str, params: &[(&str, &[&str])]) -> Result<(), TestCaseError> {
    let (got_path, query) = target
        .split_once('?')
        .ok_or_else(|| TestCaseError::fail(format!("no query: {target}")))?;
    prop_assert_eq!(got_path, path, "{}", target);
    let pairs: Vec<&str> = query.split('&').collect();
    prop_assert_eq!(pairs.len(), params.len(), "{}", target);
    for (pair, (name, ids)) in pairs.iter().zip(params) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| TestCaseError::fail(format!("no '=' in {pair}: {target}")))?;
        prop_assert_eq!(key, *name, "{}", target);
        prop_assert!(!value.contains(STRUCTURAL), "raw structural character in {}", target);
        let decoded: Vec<String> = value.split(',').map(decode).collect();
        prop_assert_eq!(&decoded, ids, "{}", target);
    }
    Ok(())
}

/// Checks that `target` is `{prefix}{one segment decoding to id}`.
fn assert_path(target: &str, prefix: &str, id: &str) -> Result<(), TestCaseError> {
    let segment = target
        .strip_prefix(prefix)
        .ok_or_else(|| TestCaseError::fail(format!("{target} is not under {prefix}")))?;
    prop_assert!(!segment.contains(STRUCTURAL), "raw structural character in {}", target);
    prop_assert_eq!(decode(segment), id, "{}", target);
    Ok(())
}

#[test]
fn ids_are_percent_encoded_into_upstream_paths_and_queries_whatever_they_contain() {
    let rt = runtime();
    let (upstream, platform) = rt.block_on(async {
        let upstream = RecordingUpstream::start().await;
        let platform = platform(&upstream).await;
        (upstream, platform)
    });
    let backends = &platform.backends;
    // `.` and `..` are left out: an HTTP client resolves them as dot
    // segments whatever their encoding (`%2e` too), which is why path ids
    // from clients must pass `is_valid_id` and a token's subject
    // `RequestCtx::for_user` (both refuse them) before they get here.
    let ids = (id_like(), id_like()).prop_filter("not a dot segment", |(a, _)| a != "." && a != "..");
    let mut runner = proptest::test_runner::TestRunner::new(config(48));
    runner
        .run(&ids, |(id, other)| {
            let ctx = RequestCtx::detached("props", Deadline::after(Duration::from_secs(2)));
            let pair = [id.clone(), other.clone()];
            let both: &[&str] = &[&id, &other];
            let one: &[&str] = &[&id];
            rt.block_on(async {
                let _ = backends.user::<User>(&ctx, &id).await;
                let _ = backends.orders::<OrderPage>(&ctx, &id, 5).await;
                let _ = backends.order_raw(&ctx, &id).await;
                let _ = backends.product(&ctx, &id).await;
                let _ = backends.products::<Product>(&ctx, &pair).await;
                let _ = backends.prices(&ctx, &pair).await;
                let _ = backends.prices_uncached(&ctx, &pair).await;
                let _ = backends.stock(&ctx, &pair).await;
                let _ = backends.recommendations(&ctx, &id, 10).await;
                let _ = backends.unread_notifications::<Notifications>(&ctx, &id, Some(3)).await;
                let _ = backends.reviews(&ctx, &id, 5).await;
            });
            let seen = upstream.take();
            prop_assert_eq!(seen.len(), 11, "{:?}", seen);
            assert_path(&seen[0], "/users/", &id)?;
            assert_query(&seen[1], "/orders", &[("user_id", one), ("limit", &["5"])])?;
            assert_path(&seen[2], "/orders/", &id)?;
            assert_path(&seen[3], "/products/", &id)?;
            assert_query(&seen[4], "/products", &[("ids", both)])?;
            assert_query(&seen[5], "/prices", &[("product_ids", both)])?;
            assert_query(&seen[6], "/prices", &[("product_ids", both)])?;
            assert_query(&seen[7], "/stock", &[("product_ids", both)])?;
            assert_query(&seen[8], "/recommendations", &[("user_id", one), ("limit", &["10"])])?;
            assert_query(
                &seen[9],
                "/notifications",
                &[("user_id", one), ("unread_only", &["true"]), ("limit", &["3"])],
            )?;
            assert_query(&seen[10], "/reviews", &[("product_id", one), ("limit", &["5"])])?;
            Ok(())
        })
        .expect("every id stays one encoded path segment or query value");
}

/// Arbitrary JSON, a few levels deep, with object keys from `keys` (so a
/// test can steer some keys towards the names its parser looks for).
/// Shared by every property test that feeds JSON to a parser.
pub(crate) fn json_keyed<K>(keys: K) -> impl Strategy<Value = Value>
where
    K: Strategy<Value = String> + Clone + 'static,
{
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Arbitrary JSON with arbitrary keys.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    json_keyed(".{0,8}")
}

/// An object with (most of) `fields`, each holding arbitrary JSON, or a
/// string or number of the usual kind: wrong types land field by field.
fn object_with(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        json_value(),
        ".{0,12}".prop_map(Value::from),
        (0u64..1000).prop_map(Value::from),
        Just(Value::Array(vec![])),
    ];
    prop::collection::vec((any::<bool>(), value), fields.len()).prop_map(move |values| {
        let mut object = serde_json::Map::new();
        for (field, (present, value)) in fields.iter().zip(values) {
            if present || fields.len() == 1 {
                object.insert((*field).to_owned(), value);
            }
        }
        Value::Object(object)
    })
}

/// Decodes `bytes` as `T`; a success re-encodes to the same value (for
/// the DTOs the BFF also sends on).
fn decodes_or_refuses<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        let once = serde_json::to_value(&value).expect("serialises");
        let again: T = serde_json::from_value(once.clone()).expect("its own output decodes");
        prop_assert_eq!(serde_json::to_value(&again).expect("serialises"), once);
    }
    Ok(())
}

/// Decodes `bytes` as `T` (a DTO the BFF only reads).
fn decodes<T: DeserializeOwned>(bytes: &[u8]) {
    let _ = serde_json::from_slice::<T>(bytes);
}

/// Every DTO, from the same bytes.
fn every_dto(bytes: &[u8]) -> Result<(), TestCaseError> {
    decodes_or_refuses::<User>(bytes)?;
    decodes_or_refuses::<Preferences>(bytes)?;
    decodes_or_refuses::<OrderLine>(bytes)?;
    decodes_or_refuses::<Order>(bytes)?;
    decodes_or_refuses::<Product>(bytes)?;
    decodes_or_refuses::<Price>(bytes)?;
    decodes_or_refuses::<Stock>(bytes)?;
    decodes_or_refuses::<Warehouse>(bytes)?;
    decodes_or_refuses::<Reviews>(bytes)?;
    decodes_or_refuses::<Review>(bytes)?;
    decodes::<OrderPage>(bytes);
    decodes::<Items<Product>>(bytes);
    decodes::<Items<Price>>(bytes);
    decodes::<Items<Stock>>(bytes);
    decodes::<Recommendations>(bytes);
    decodes::<Notifications>(bytes);
    decodes::<Notification>(bytes);
    Ok(())
}

const ORDER_FIELDS: &[&str] = &[
    "id",
    "user_id",
    "status",
    "created_at",
    "total_cents",
    "currency",
    "lines",
];
const PRODUCT_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "category",
    "image_urls",
    "attributes",
    "related_ids",
];

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn every_dto_decodes_arbitrary_bytes_or_refuses_them(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        every_dto(&bytes)?;
    }

    #[test]
    fn every_dto_decodes_arbitrary_json_or_refuses_it(value in json_value()) {
        every_dto(&serde_json::to_vec(&value).expect("JSON"))?;
    }

    #[test]
    fn every_dto_decodes_objects_with_its_own_fields_of_any_type_or_refuses_them(
        order in object_with(ORDER_FIELDS),
        product in object_with(PRODUCT_FIELDS),
        line in object_with(&["product_id", "quantity", "unit_price_cents"]),
        items in object_with(&["items"]),
    ) {
        for value in [order, product, line, items] {
            every_dto(&serde_json::to_vec(&value).expect("JSON"))?;
        }
    }
}

#[test]
fn a_well_formed_order_decodes_so_the_properties_above_can_succeed() {
    let order = br#"{"id":"o-1","user_id":"u-1","status":"placed","created_at":"2024-01-01T00:00:00Z",
        "total_cents":5,"currency":"USD","lines":[{"product_id":"p-1","quantity":1,"unit_price_cents":5}],"extra":true}"#;
    assert!(serde_json::from_slice::<Order>(order).is_ok());
}
