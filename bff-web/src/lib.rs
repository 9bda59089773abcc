//! bff-web: the API browsers call. Rich payloads, CORS, and a longer
//! deadline than mobile (1500 ms by default), because a desktop page shows
//! more at once and is less sensitive to a few hundred milliseconds. Each
//! endpoint is one file under [`routes`]; the machinery (upstream calls,
//! fan-out, auth, errors, start-up) comes from `bff-shared`.

pub mod cors;
pub mod routes;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bff_shared::config::Settings;
use bff_shared::platform::Platform;

/// The binary's defaults: 127.0.0.1:8082 (next to mobile's 8081, so the
/// demo runs both) and a 1500 ms deadline (DESIGN.md section 4).
pub fn defaults() -> Settings {
    Settings::defaults(([127, 0, 0, 1], 8082).into(), Duration::from_millis(1500))
}

/// The whole router: API routes, operations routes and middleware, with
/// CORS when `BFF_CORS_ORIGINS` names any origin. A function of the state
/// alone, so the binary, the demo and the tests serve the same thing.
pub fn app(platform: Platform) -> Router {
    let api = Router::new()
        .route("/v1/dashboard", get(routes::dashboard::dashboard))
        .route("/v1/products/{id}", get(routes::product::product))
        .route("/v1/orders/{id}", get(bff_shared::endpoints::order::get_order))
        .route("/v1/checkout", post(bff_shared::endpoints::checkout::checkout))
        .with_state(platform.clone());
    let cors = cors::layer(&platform.settings.cors_origins);
    bff_shared::stack::finish_with(api, &platform, cors)
}
