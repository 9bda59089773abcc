//! A whole BFF in one file, as another team would write it on `bff-shared`:
//! `GET /v1/me` (token required) over `users` (required: its failure fails
//! the request) and `notifications` (optional: its failure is a `null`
//! section listed in `meta.degraded`). The stack adds the operations
//! endpoints, `/openapi.json`, `/docs`, problem+json errors, request ids,
//! rate limiting and graceful shutdown. Against the simulator
//! (`cargo run -- simulate` in another terminal):
//!
//! ```sh
//! BFF_JWT_HS256_SECRET=dev-secret cargo run -p bff-shared --example mini_bff
//! TOKEN=$(cargo run -q -- token --secret dev-secret --sub u-7)
//! curl -s -H "Authorization: Bearer $TOKEN" localhost:8090/v1/me
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use bff_shared::auth::{Auth, Verifier};
use bff_shared::config::{self, Settings};
use bff_shared::context::RequestCtx;
use bff_shared::error::ApiError;
use bff_shared::fanout::{Composite, Fanout, Meta};
use bff_shared::openapi::Problems;
use bff_shared::platform::Platform;
use bff_shared::upstream::{Upstream, Upstreams};
use bff_shared::{serve, stack};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The state: the shared platform plus our two upstreams.
#[derive(Clone)]
struct App {
    platform: Platform,
    users: Arc<Upstream>,
    notifications: Arc<Upstream>,
}

/// `Auth` finds the token verifier in the state through this.
impl FromRef<App> for Arc<Verifier> {
    fn from_ref(app: &App) -> Self {
        app.platform.verifier.clone()
    }
}

/// What we read from the upstreams; the fields they add are ignored.
#[derive(Deserialize)]
struct User {
    name: String,
}
#[derive(Deserialize)]
struct Unread {
    unread_count: u64,
}

/// The answer: a name, an unread count (null when notifications failed) and `meta`.
#[derive(Serialize, utoipa::ToSchema)]
struct Me {
    name: String,
    #[schema(required = true)]
    unread: Option<u64>,
    meta: Meta,
}

struct MeProblems;

impl utoipa::IntoResponses for MeProblems {
    fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        Problems::new()
            .auth_required()
            .required_upstream("the users service")
            .build()
    }
}

/// The caller's name and unread notifications.
#[utoipa::path(get, path = "/v1/me", tag = "me", operation_id = "getMe", security(("bearer" = [])),
    responses((status = 200, description = "Name and unread count, possibly partial", body = Me), MeProblems))]
async fn me(State(app): State<App>, Auth(caller): Auth, ctx: RequestCtx) -> Result<Composite, ApiError> {
    let ctx = ctx.for_user(&caller.sub)?;
    let fan = Fanout::new(&ctx);
    let sub = urlencoding::encode(&caller.sub);
    let (user_path, unread_path) = (
        format!("/users/{sub}"),
        format!("/notifications?user_id={sub}&unread_only=true&limit=1"),
    );
    // Both calls at once, each bounded by the request's deadline.
    let (user, unread) = tokio::join!(
        fan.required("name", app.users.get_json::<User>(&ctx, &user_path)),
        fan.optional("unread", app.notifications.get_json::<Unread>(&ctx, &unread_path)),
    );
    let user = user?;
    let summary = fan.summary(&[&user, &unread]);
    let body = Me {
        name: user.into_inner().name,
        unread: unread.into_option().map(|n| n.unread_count),
        meta: summary.meta(),
    };
    Composite::new(&summary, &body, true)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let defaults = Settings::defaults(([127, 0, 0, 1], 8090).into(), Duration::from_millis(500));
    let settings = config::load(defaults, None, &config::process_env())?;
    bff_shared::telemetry::init_logs(settings.log_format);
    let listener = serve::bind(settings.listen).await?;
    let platform = Platform::new(settings).await?;
    // Each upstream with its URL and policy from the settings
    // (`BFF_UPSTREAM_<NAME>_URL`, …), sharing the platform's pooled client.
    let upstreams = Upstreams::new(&platform.settings, platform.http.clone(), &platform.metrics)?;
    let (users, notifications) = (upstreams.get("users")?, upstreams.get("notifications")?);
    let app = App {
        platform: platform.clone(),
        users,
        notifications,
    };
    // The route and its OpenAPI operation are registered together.
    let api = OpenApiRouter::new().routes(routes!(me)).with_state(app);
    let router = stack::finish(api, &platform);
    tracing::info!(listen = %platform.settings.listen, "mini BFF serving; docs at /docs");
    let (edge, readiness) = (&platform.settings.edge, platform.readiness.clone());
    serve::serve(listener, router, edge, readiness, serve::shutdown_signal()).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = run().await {
        eprintln!("mini_bff: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
