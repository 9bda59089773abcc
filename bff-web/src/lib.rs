//! bff-web: the API browsers call. Rich payloads, CORS, and a longer
//! deadline than mobile (1500 ms by default), because a desktop page shows
//! more at once and is less sensitive to a few hundred milliseconds. Each
//! endpoint is one file under [`routes`]; the machinery (upstream calls,
//! fan-out, auth, errors, start-up) comes from `bff-shared`.

pub mod cors;
pub mod routes;

use std::time::Duration;

use axum::Router;
use bff_shared::backends::{self, Bff};
use bff_shared::config::{ConfigError, Settings};
use bff_shared::endpoints::{checkout, order};
use bff_shared::platform::Platform;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The binary's defaults: 127.0.0.1:8082 (next to mobile's 8081, so the
/// demo runs both) and a 1500 ms deadline (docs/api.md#deadlines).
/// Our eight upstreams are declared, each at its simulator port.
pub fn defaults() -> Settings {
    let mut settings = Settings::defaults(([127, 0, 0, 1], 8082).into(), Duration::from_millis(1500));
    backends::declare(&mut settings);
    settings
}

/// The document's title, description and tags; the operations come from
/// the handlers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "bff-web",
        description = "The Backend-for-Frontend that browsers call: rich payloads for large screens, a \
            longer deadline (1500 ms by default, `BFF_DEADLINE_MS`), and CORS for the origins in \
            `BFF_CORS_ORIGINS` (preflights answered for `GET` and `POST` with `Authorization`, `Content-Type`, \
            `Idempotency-Key` and `X-Request-Id`; `X-Request-Id` and `X-Partial-Response` exposed). Each \
            composite answer carries `meta` (request id, partiality, staleness).",
    ),
    tags(
        (name = "dashboard", description = "The signed-in user's page: profile, orders with their products, \
            notifications, recommendations."),
        (name = "products", description = "Product pages, public (a token is optional)."),
        (name = "orders", description = "The caller's orders, passed through from the orders service."),
        (name = "checkout", description = "Placing an order, idempotently."),
    )
)]
struct ApiDoc;

/// The API routes, each registered together with its OpenAPI operation
/// so that the two cannot drift apart.
fn api() -> OpenApiRouter<Bff> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::dashboard::dashboard))
        .routes(routes!(routes::product::product))
        .routes(routes!(order::get_order))
        .routes(routes!(checkout::checkout))
}

/// The OpenAPI document `/openapi.json` serves (and `openapi/web.json`
/// holds).
pub fn openapi() -> OpenApi {
    bff_shared::openapi::document(api().into_openapi())
}

/// The whole router: API routes, operations routes, `/openapi.json`,
/// `/docs` and middleware, with CORS when `BFF_CORS_ORIGINS` names any
/// origin. A function of the state alone, so the binary, the demo and the
/// tests serve the same thing. Our typed calls are built over the
/// platform's upstreams.
pub fn app(platform: Platform) -> Result<Router, ConfigError> {
    let cors = cors::layer(&platform.settings.cors_origins);
    let state = Bff::new(platform.clone())?;
    Ok(bff_shared::stack::finish_with(api().with_state(state), &platform, cors))
}
