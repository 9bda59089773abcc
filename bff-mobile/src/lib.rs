//! bff-mobile: the API mobile apps call. Small payloads, a tight deadline
//! (500 ms by default). Each endpoint is one file under [`routes`]; the
//! machinery (upstream calls, fan-out, auth, errors, start-up) comes from
//! `bff-shared`.

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

/// The binary's defaults: 127.0.0.1:8081, 500 ms deadline, our eight
/// upstreams declared (each at its simulator port).
pub fn defaults() -> Settings {
    let mut settings = Settings::defaults(([127, 0, 0, 1], 8081).into(), Duration::from_millis(500));
    backends::declare(&mut settings);
    settings
}

/// The document's title, description and tags; the operations come from
/// the handlers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "bff-mobile",
        description = "The Backend-for-Frontend that mobile apps call: one request per screen, small \
            payloads, a tight deadline (500 ms by default, `BFF_DEADLINE_MS`). Each composite answer is shaped \
            for a small screen and carries `meta` (request id, partiality, staleness).",
    ),
    tags(
        (name = "home", description = "The home screen: user, recent orders, unread count, recommendations."),
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
        .routes(routes!(routes::home::home))
        .routes(routes!(routes::product::product))
        .routes(routes!(order::get_order))
        .routes(routes!(checkout::checkout))
}

/// The OpenAPI document `/openapi.json` serves (and `openapi/mobile.json`
/// holds).
pub fn openapi() -> OpenApi {
    bff_shared::openapi::document(api().into_openapi())
}

/// The whole router: API routes, operations routes, `/openapi.json`,
/// `/docs` and middleware, with our typed calls built over the platform's
/// upstreams.
pub fn app(platform: Platform) -> Result<Router, ConfigError> {
    let state = Bff::new(platform.clone())?;
    Ok(bff_shared::stack::finish(api().with_state(state), &platform))
}
