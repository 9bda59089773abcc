//! Reusable machinery for Backend-for-Frontend services.
//!
//! A BFF built on this crate is a set of explicit handlers: each says which
//! upstreams it calls, which ones are required, and how the client's answer
//! is shaped. The crate supplies everything around them: one pooled
//! upstream client with per-upstream policy and breakers, deadline-bound
//! fan-out with partial results, JWT extractors, problem+json errors, rate
//! limiting, caching, idempotent writes, metrics, the OpenAPI document and
//! its docs page, start-up and graceful shutdown.
//!
//! # Modules
//!
//! Machinery (knows nothing of any particular backend or client):
//! - [`config`]: defaults, TOML file, `BFF_*` variables, validation;
//! - [`upstream`]: the pooled client, per-upstream policy, breaker, bulkhead;
//! - [`fanout`]: deadline-bound concurrent sections with partial results,
//!   `meta`, `Server-Timing` and `X-Partial-Response`;
//! - [`cache`]: the fragment cache (coalesced misses, stale-if-error);
//! - [`auth`]: JWT verification and the `Auth` / `MaybeAuth` extractors;
//! - [`rate_limit`]: per-client token buckets, in memory or in Redis;
//!   [`client_addr`]: the client's address behind trusted proxies;
//! - [`idempotency`]: `Idempotency-Key` records for writes, in memory or in
//!   Redis; [`redis_conn`]: the shared Redis connection;
//! - [`error`]: the client-facing error type and its problem+json rendering;
//! - [`openapi`]: the parts of a BFF's OpenAPI document every BFF shares,
//!   `/openapi.json` and the `/docs` page;
//! - [`context`], [`request_id`], [`extract`]: per-request plumbing;
//! - [`security_headers`]: `nosniff` and the pages' `Content-Security-Policy`;
//! - [`telemetry`], [`ops`], [`stack`], [`serve`], [`platform`]: metrics,
//!   logs, operations endpoints, the middleware stack, start-up and the
//!   connection edge (connection cap, header and idle timeouts).
//!
//! Our concrete backends: [`backends`] (our eight upstreams as one declared
//! set, their typed calls and DTOs, and [`backends::Bff`], the state of our
//! BFFs) and [`endpoints`] (the order pass-through and checkout, mounted by
//! both of our BFFs). Another team declares its own upstreams instead and
//! keeps the rest.
//!
//! # Example
//!
//! A BFF that declares two upstreams of its own (`accounts` required,
//! `orders` optional; each configured by `BFF_UPSTREAM_<NAME>_URL`,
//! `_TIMEOUT_MS`, `_MAX_IN_FLIGHT`, `_RETRIES`, each with its own breaker,
//! in-flight cap and metrics series) and one composite endpoint over them,
//! registered with its OpenAPI operation, in a finished router:
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::body::Body;
//! use axum::extract::{FromRef, State};
//! use axum::http::Request;
//! use bff_shared::auth::{Auth, Verifier};
//! use bff_shared::context::RequestCtx;
//! use bff_shared::error::ApiError;
//! use bff_shared::fanout::{Composite, Fanout, Meta};
//! use bff_shared::platform::Platform;
//! use bff_shared::upstream::Upstream;
//! use tower::ServiceExt;
//! use utoipa_axum::{router::OpenApiRouter, routes};
//!
//! /// The machinery plus this BFF's own upstreams.
//! #[derive(Clone)]
//! struct App {
//!     platform: Platform,
//!     accounts: Arc<Upstream>,
//!     orders: Arc<Upstream>,
//! }
//!
//! /// `Auth` finds the token verifier in the state through this.
//! impl FromRef<App> for Arc<Verifier> {
//!     fn from_ref(app: &App) -> Self {
//!         app.platform.verifier.clone()
//!     }
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct Account {
//!     name: String,
//! }
//!
//! #[derive(serde::Serialize, utoipa::ToSchema)]
//! struct Profile {
//!     name: String,
//!     /// Null when the orders service failed (listed in `meta.degraded`).
//!     order_count: Option<usize>,
//!     meta: Meta,
//! }
//!
//! /// The caller's profile.
//! #[utoipa::path(get, path = "/v1/profile", tag = "profile", operation_id = "getProfile",
//!     security(("bearer" = [])), responses((status = 200, description = "The profile", body = Profile)))]
//! async fn profile(State(app): State<App>, Auth(caller): Auth, ctx: RequestCtx) -> Result<Composite, ApiError> {
//!     let ctx = ctx.for_user(&caller.sub)?;
//!     let fan = Fanout::new(&ctx);
//!     let sub = urlencoding::encode(&caller.sub);
//!     let (account_path, orders_path) = (format!("/accounts/{sub}"), format!("/orders?user_id={sub}"));
//!     let (account, orders) = tokio::join!(
//!         fan.required("name", app.accounts.get_json::<Account>(&ctx, &account_path)),
//!         fan.optional("order_count", app.orders.get_json::<Vec<serde_json::Value>>(&ctx, &orders_path)),
//!     );
//!     let account = account?;
//!     let summary = fan.summary(&[&account, &orders]);
//!     let order_count = orders.into_option().map(|o| o.len());
//!     let body = Profile { name: account.into_inner().name, order_count, meta: summary.meta() };
//!     Composite::new(&summary, &body, true)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mut settings = bff_shared::config::Settings::defaults(
//!     ([127, 0, 0, 1], 8090).into(),
//!     std::time::Duration::from_millis(500),
//! );
//! settings
//!     .declare_upstream("accounts", Some("http://127.0.0.1:9101"))
//!     .declare_upstream("orders", Some("http://127.0.0.1:9102"));
//! settings.jwt.hs256_secret = Some("a development secret, 32 bytes!!".into());
//! // (A binary would `config::load(settings, None, &config::process_env())`
//! // here, so `BFF_UPSTREAM_ACCOUNTS_URL` and the rest apply.)
//! let platform = Platform::new(settings).await.expect("valid settings");
//! let app = App {
//!     accounts: platform.upstreams.get("accounts").expect("declared"),
//!     orders: platform.upstreams.get("orders").expect("declared"),
//!     platform: platform.clone(),
//! };
//! let api = OpenApiRouter::new().routes(routes!(profile)).with_state(app);
//! // Adds /healthz, /readyz, /metrics, /openapi.json, /docs and the layers.
//! let app = bff_shared::stack::finish(api, &platform);
//!
//! // No token: a 401 problem, before any upstream is called.
//! let request = Request::get("/v1/profile").body(Body::empty()).unwrap();
//! let response = app.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! // The document lists the operation.
//! let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
//! let body = axum::body::to_bytes(app.oneshot(request).await.unwrap().into_body(), 1 << 20).await.unwrap();
//! assert!(String::from_utf8_lossy(&body).contains("\"getProfile\""));
//! # }
//! ```
//!
//! `examples/profile_inbox.rs` is a whole runnable BFF of the same kind
//! over two upstreams of its own (see its header for how to run it against
//! the simulator).

mod around;
pub mod auth;
pub mod backends;
pub mod cache;
mod catch_panic;
pub mod client_addr;
mod compress;
pub mod config;
pub mod context;
pub mod endpoints;
pub mod error;
pub mod extract;
pub mod fanout;
pub mod idempotency;
pub mod openapi;
pub mod ops;
pub mod platform;
pub mod rate_limit;
pub mod redis_conn;
pub mod request_id;
pub mod security_headers;
pub mod serve;
pub mod stack;
pub mod telemetry;
pub mod upstream;
