//! A whole BFF as another team would write it on `bff-shared`, over two
//! upstreams of its own: `profiles` (required: its failure fails the
//! request) and `inbox` (optional: its failure is a `null` section listed
//! in `meta.degraded`). It declares them by name, so each has its own
//! breaker, in-flight cap and metrics series and is configured by
//! `BFF_UPSTREAM_PROFILES_*` / `BFF_UPSTREAM_INBOX_*`. The stack adds the
//! operations endpoints, `/openapi.json`, `/docs`, problem+json errors,
//! request ids, rate limiting and graceful shutdown. Against the simulator
//! (`cargo run -- simulate` in another terminal; its users and
//! notifications services stand in for profiles and inbox):
//!
//! ```sh
//! BFF_JWT_HS256_SECRET=dev-secret \
//! BFF_UPSTREAM_PROFILES_URL=http://127.0.0.1:9101 \
//! BFF_UPSTREAM_INBOX_URL=http://127.0.0.1:9107 \
//!   cargo run -p bff-shared --example profile_inbox
//! TOKEN=$(cargo run -q -- token --secret dev-secret --sub u-7)
//! curl -s -H "Authorization: Bearer $TOKEN" localhost:8090/v1/me
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use bff_shared::auth::{Auth, Verifier};
use bff_shared::config::{ConfigError, Settings};
use bff_shared::context::RequestCtx;
use bff_shared::error::ApiError;
use bff_shared::fanout::{Composite, Fanout, Meta};
use bff_shared::platform::Platform;
use bff_shared::serve::{Binary, run_main};
use bff_shared::stack;
use bff_shared::upstream::Upstream;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The state: the shared machinery plus our two upstreams.
#[derive(Clone)]
struct App {
    platform: Platform,
    profiles: Arc<Upstream>,
    inbox: Arc<Upstream>,
}

/// `Auth` finds the token verifier in the state through this.
impl FromRef<App> for Arc<Verifier> {
    fn from_ref(app: &App) -> Self {
        app.platform.verifier.clone()
    }
}

/// What we read from the upstreams; the fields they add are ignored.
#[derive(Deserialize)]
struct Profile {
    name: String,
}
#[derive(Deserialize)]
struct Unread {
    unread_count: u64,
}

/// The answer: a name, an unread count (null when the inbox failed) and `meta`.
#[derive(Serialize, utoipa::ToSchema)]
struct Me {
    name: String,
    #[schema(required = true)]
    unread: Option<u64>,
    meta: Meta,
}

bff_shared::problems!(
    /// The problems of `/v1/me` (429 and 500 are the stack's).
    MeProblems: auth_required, required_upstream("the profiles service"),
);

/// The caller's name and unread messages.
#[utoipa::path(get, path = "/v1/me", tag = "me", operation_id = "getMe", security(("bearer" = [])),
    responses((status = 200, description = "Name and unread count, possibly partial", body = Me), MeProblems))]
async fn me(State(app): State<App>, Auth(caller): Auth, ctx: RequestCtx) -> Result<Composite, ApiError> {
    let ctx = ctx.for_user(&caller.sub)?;
    let fan = Fanout::new(&ctx);
    let sub = urlencoding::encode(&caller.sub);
    let (profile_path, unread_path) = (
        format!("/users/{sub}"),
        format!("/notifications?user_id={sub}&unread_only=true&limit=1"),
    );
    // Both calls at once, each bounded by the request's deadline.
    let (profile, unread) = tokio::join!(
        fan.required("name", app.profiles.get_json::<Profile>(&ctx, &profile_path)),
        fan.optional("unread", app.inbox.get_json::<Unread>(&ctx, &unread_path)),
    );
    let profile = profile?;
    let summary = fan.summary(&[&profile, &unread]);
    let unread = unread.into_option().map(|n| n.unread_count);
    let body = Me {
        name: profile.into_inner().name,
        unread,
        meta: summary.meta(),
    };
    Composite::new(&summary, &body, true)
}

/// 127.0.0.1:8090 and a 500 ms deadline; our two upstreams have no default
/// URL, so `BFF_UPSTREAM_PROFILES_URL` and `BFF_UPSTREAM_INBOX_URL` are required.
fn defaults() -> Settings {
    let mut settings = Settings::defaults(([127, 0, 0, 1], 8090).into(), Duration::from_millis(500));
    settings
        .declare_upstream("profiles", None)
        .declare_upstream("inbox", None);
    settings
}

/// The router, over the platform's two (declared and configured) upstreams.
fn app(platform: Platform) -> Result<Router, ConfigError> {
    let state = App {
        profiles: platform.upstreams.get("profiles")?,
        inbox: platform.upstreams.get("inbox")?,
        platform: platform.clone(),
    };
    // The route and its OpenAPI operation are registered together.
    let api = OpenApiRouter::new().routes(routes!(me)).with_state(state);
    Ok(stack::finish(api, &platform))
}

fn main() -> ExitCode {
    run_main(Binary {
        name: "profile_inbox",
        about: "an example BFF over its own profiles and inbox upstreams",
        defaults,
        app,
    })
}
