//! `minimal-bff`: the yardstick of docs/benchmarks.md (its performance
//! targets are ratios against it). A hand-written `GET /v1/home` on bare hyper 1
//! (server), hyper-util's pooled client, jsonwebtoken and serde, with the
//! exact shape of the mobile home (docs/api.md#mobile-home) and its headers (`Content-Type`, `X-Request-Id`,
//! `Cache-Control: private, no-store`, `Server-Timing`,
//! `X-Content-Type-Options: nosniff`) and the same six upstream calls as
//! bff-mobile, but no breaker, cache, metrics, logs, rate limit or deadline:
//! the physical limit of this machine for that work, written the plain
//! efficient way (no hand-rolled HTTP or JSON).
//!
//! One current-thread runtime by default: `bench/run` pins it to one core
//! anyway, and there a single thread does not pay for work stealing or
//! cross-thread wake-ups (`--workers N` runs a multi-thread runtime of N
//! workers instead, to check that choice; docs/benchmarks.md has the
//! comparison). `GET /healthz` answers 200 for readiness.
//!
//! `GET /v1/orders/{id}` is the floor of a pass-through on the same stack:
//! the upstream's `/orders/{id}` answer passed on (read whole), with no
//! auth, logs or metrics, like the nginx it is measured beside.
//!
//! ```sh
//! minimal-bff --listen 127.0.0.1:9400 --upstream http://127.0.0.1:9300 --secret dev-secret
//! ```

mod home;
mod upstream;

use std::process::ExitCode;
use std::sync::Arc;

use bff_bench::args::flag;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use upstream::{CallCtx, Upstreams};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// What every request shares.
struct Minimal {
    upstreams: Upstreams,
    key: DecodingKey,
    validation: Validation,
}

/// The claims home needs (`exp` is checked by `Validation`).
#[derive(Deserialize)]
struct Claims {
    sub: String,
}

fn main() -> ExitCode {
    let settings = (
        flag("--listen", "BENCH_MINIMAL_LISTEN", "127.0.0.1:9400".to_owned()),
        flag(
            "--upstream",
            "BENCH_MINIMAL_UPSTREAM",
            "http://127.0.0.1:9300".to_owned(),
        ),
        flag("--secret", "BFF_JWT_HS256_SECRET", String::new()),
        flag("--workers", "BENCH_MINIMAL_WORKERS", 0usize),
    );
    let (listen, upstream, secret, workers) = match settings {
        (Ok(l), Ok(u), Ok(s), Ok(w)) if !s.is_empty() => (l, u, s, w),
        (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
            eprintln!("minimal-bff: {e}");
            return ExitCode::FAILURE;
        }
        _ => {
            eprintln!("minimal-bff: --secret (BFF_JWT_HS256_SECRET) is required");
            return ExitCode::FAILURE;
        }
    };
    // The BFF's rules: HS256 only, `exp` and `sub` required, 5 s leeway.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let minimal = Arc::new(Minimal {
        upstreams: Upstreams::new(&upstream),
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
    });
    let runtime = match workers {
        0 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    bff_bench::http1::run("minimal-bff", runtime, &listen, move |request| {
        answer(minimal.clone(), request)
    })
}

async fn answer(minimal: Arc<Minimal>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|id| sane_request_id(id.as_bytes()))
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a header value"));
    let mut response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/v1/home") => home(&minimal, &request, &request_id).await,
        (&Method::GET, "/healthz") => Response::new(Full::new(Bytes::from_static(b"ok"))),
        (&Method::GET, path) if path.starts_with("/v1/orders/") => pass_through(&minimal, &request, &request_id).await,
        _ => problem(StatusCode::NOT_FOUND, "not_found"),
    };
    response.headers_mut().insert(X_REQUEST_ID.clone(), request_id);
    response
}

async fn pass_through(
    minimal: &Minimal,
    request: &Request<Incoming>,
    request_id: &HeaderValue,
) -> Response<Full<Bytes>> {
    let path = &request.uri().path()["/v1".len()..];
    let user = request.headers().get("x-user-id").cloned();
    match minimal.upstreams.forward(path, user, request_id).await {
        Ok((status, content_type, body)) => {
            let mut response = Response::new(Full::new(body));
            *response.status_mut() = status;
            if let Some(content_type) = content_type {
                response.headers_mut().insert(CONTENT_TYPE, content_type);
            }
            response
        }
        Err(_) => problem(StatusCode::BAD_GATEWAY, "upstream_unavailable"),
    }
}

async fn home(minimal: &Minimal, request: &Request<Incoming>, request_id: &HeaderValue) -> Response<Full<Bytes>> {
    let Some(token) = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized");
    };
    let claims = match jsonwebtoken::decode::<Claims>(token, &minimal.key, &minimal.validation) {
        Ok(data) => data.claims,
        Err(_) => return problem(StatusCode::UNAUTHORIZED, "invalid_token"),
    };
    let Ok(user) = HeaderValue::from_str(&claims.sub) else {
        return problem(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    let ctx = CallCtx {
        request_id: request_id.clone(),
        user,
        trace_id: uuid::Uuid::new_v4().simple().to_string(),
    };
    let id = request_id.to_str().unwrap_or_default().to_owned();
    let (body, timing) = match home::home(&minimal.upstreams, &ctx, &claims.sub, id).await {
        Ok(answer) => answer,
        Err(_) => return problem(StatusCode::BAD_GATEWAY, "upstream_unavailable"),
    };
    let body = match serde_json::to_vec(&body) {
        Ok(body) => body,
        Err(_) => return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(timing) = HeaderValue::from_str(&timing) {
        headers.insert(SERVER_TIMING.clone(), timing);
    }
    response
}

/// A problem+json answer with its stable code.
fn problem(status: StatusCode, code: &'static str) -> Response<Full<Bytes>> {
    let body = format!(
        r#"{{"type":"about:blank","status":{},"code":"{code}"}}"#,
        status.as_u16()
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Section 8: 1 to 128 letters, digits, `.`, `_`, `:` or `-`.
fn sane_request_id(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}
