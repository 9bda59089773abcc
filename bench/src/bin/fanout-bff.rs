//! `fanout-bff`: the synthetic composite of docs/benchmarks.md ("cost grows
//! as the work grows"), built on `bff-shared` the way a platform team would
//! build any BFF (the model is `shared/examples/profile_inbox.rs`). One
//! declared upstream, `fan` (`BFF_UPSTREAM_FAN_URL`: the benchmark's fake),
//! and one route, `GET /v1/fanout/{n}` (auth required), which makes `n`
//! (1 to 32) parallel optional calls `GET /fan/{i}` through `Fanout` and
//! `Upstream` and answers `{"items": [...], "meta": {...}}`, a failed call
//! being a `null` item listed in `meta.degraded`.
//!
//! Benchmark-only: it lives in `bench/`, never in the product's API or
//! OpenAPI documents. Every other feature (auth, rate limit, metrics, access
//! log, request ids, breakers) is the stack's default.
//!
//! ```sh
//! BFF_JWT_HS256_SECRET=dev-secret BFF_UPSTREAM_FAN_URL=http://127.0.0.1:9300 \
//!   cargo run --release -p bff-bench --bin fanout-bff
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use bff_shared::auth::{Auth, Verifier};
use bff_shared::config::{ConfigError, Settings};
use bff_shared::context::RequestCtx;
use bff_shared::error::ApiError;
use bff_shared::fanout::{Composite, Fanout, Meta, Reported};
use bff_shared::platform::Platform;
use bff_shared::serve::{Binary, run_main};
use bff_shared::stack;
use bff_shared::upstream::Upstream;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The widest fan-out served.
const MAX_WIDTH: usize = 32;

/// Section names must be `'static`: one per position.
const SECTIONS: [&str; MAX_WIDTH] = [
    "fan_0", "fan_1", "fan_2", "fan_3", "fan_4", "fan_5", "fan_6", "fan_7", "fan_8", "fan_9", "fan_10", "fan_11",
    "fan_12", "fan_13", "fan_14", "fan_15", "fan_16", "fan_17", "fan_18", "fan_19", "fan_20", "fan_21", "fan_22",
    "fan_23", "fan_24", "fan_25", "fan_26", "fan_27", "fan_28", "fan_29", "fan_30", "fan_31",
];

/// The state: the shared machinery plus the one upstream.
#[derive(Clone)]
struct App {
    platform: Platform,
    fan: Arc<Upstream>,
}

impl FromRef<App> for Arc<Verifier> {
    fn from_ref(app: &App) -> Self {
        app.platform.verifier.clone()
    }
}

/// One upstream item, read and written back (a typed DTO, as a real
/// composite would have).
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
struct Item {
    i: u32,
    name: String,
    value: u64,
}

/// The answer: the items in call order (null where a call failed) and `meta`.
#[derive(Serialize, utoipa::ToSchema)]
struct Fanned {
    items: Vec<Option<Item>>,
    meta: Meta,
}

bff_shared::problems!(
    /// The problems of `/v1/fanout/{n}` (429 and 500 are the stack's).
    FanProblems: auth_required, case(ApiError::NotFound(String::new()), "n is not in 1..=32"),
);

/// `n` parallel optional upstream calls.
#[utoipa::path(get, path = "/v1/fanout/{n}", tag = "bench", operation_id = "getFanout", security(("bearer" = [])),
    params(("n" = u32, Path, description = "How many parallel calls, 1 to 32")),
    responses((status = 200, description = "The items, possibly partial", body = Fanned), FanProblems))]
async fn fanout(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(n): Path<usize>,
    ctx: RequestCtx,
) -> Result<Composite, ApiError> {
    if !(1..=MAX_WIDTH).contains(&n) {
        return Err(ApiError::NotFound("no such fan-out width".to_owned()));
    }
    let ctx = ctx.for_user(&caller.sub)?;
    let fan = Fanout::new(&ctx);
    let paths: Vec<String> = (0..n).map(|i| format!("/fan/{i}")).collect();
    let sections = futures::future::join_all(
        paths
            .iter()
            .zip(SECTIONS)
            .map(|(path, section)| fan.optional(section, app.fan.get_json::<Item>(&ctx, path))),
    )
    .await;
    let reported: Vec<&dyn Reported> = sections.iter().map(|s| s as &dyn Reported).collect();
    let summary = fan.summary(&reported);
    let body = Fanned {
        items: sections.into_iter().map(|s| s.into_option()).collect(),
        meta: summary.meta(),
    };
    Composite::new(&summary, &body, true)
}

/// 127.0.0.1:8093 and a 500 ms deadline (mobile's); `fan` has no default URL.
fn defaults() -> Settings {
    let mut settings = Settings::defaults(([127, 0, 0, 1], 8093).into(), Duration::from_millis(500));
    settings.declare_upstream("fan", None);
    settings
}

fn app(platform: Platform) -> Result<Router, ConfigError> {
    let state = App {
        fan: platform.upstreams.get("fan")?,
        platform: platform.clone(),
    };
    let api = OpenApiRouter::new().routes(routes!(fanout)).with_state(state);
    Ok(stack::finish(api, &platform))
}

fn main() -> ExitCode {
    run_main(Binary {
        name: "fanout-bff",
        about: "the benchmark's synthetic fan-out composite (not part of the product)",
        defaults,
        app,
    })
}
