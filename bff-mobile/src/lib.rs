//! bff-mobile: the API mobile apps call. Small payloads, a tight deadline
//! (500 ms by default). Each endpoint is one file under [`routes`]; the
//! machinery (upstream calls, fan-out, auth, errors, start-up) comes from
//! `bff-shared`.

pub mod routes;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bff_shared::config::Settings;
use bff_shared::platform::Platform;

/// The binary's defaults: 127.0.0.1:8081, 500 ms deadline.
pub fn defaults() -> Settings {
    Settings::defaults(([127, 0, 0, 1], 8081).into(), Duration::from_millis(500))
}

/// The whole router: API routes, operations routes and middleware.
pub fn app(platform: Platform) -> Router {
    let api = Router::new()
        .route("/v1/home", get(routes::home::home))
        .route("/v1/products/{id}", get(routes::product::product))
        .route("/v1/orders/{id}", get(bff_shared::endpoints::order::get_order))
        .route("/v1/checkout", post(bff_shared::endpoints::checkout::checkout))
        .with_state(platform.clone());
    bff_shared::stack::finish(api, &platform)
}
