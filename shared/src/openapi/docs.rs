//! `GET /openapi.json` and `GET /docs`: the document and Swagger UI, both
//! served from the binary. Swagger UI's files are embedded at build time
//! from the vendored copy (`utoipa-swagger-ui`'s `vendored` feature), so
//! neither the build nor the page needs the internet: the page loads only
//! its own files and `/openapi.json`.
//!
//! The page opens with every tag expanded and every operation listed,
//! operation ids shown, and no call to an online validator. It is served
//! with [`crate::security_headers::PAGE_CSP`]: Swagger UI needs nothing
//! beyond it (no inline script, no other origin).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::Config;

use super::{OPERATIONS_TAG, to_json};
use crate::error::ApiError;
use crate::security_headers;

#[derive(Clone)]
struct DocsState {
    /// The document, serialised once.
    json: Bytes,
    /// The page, with its assets' URLs anchored under `/docs/`.
    page: Bytes,
    /// Swagger UI's configuration (rendered into `swagger-initializer.js`).
    config: Arc<Config<'static>>,
}

fn router() -> OpenApiRouter<DocsState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
}

/// The documentation of the two routes, for [`super::document`].
pub(super) fn openapi() -> OpenApi {
    router().into_openapi()
}

/// The routes, serving `doc`.
pub(crate) fn routes<S>(doc: &OpenApi) -> Router<S> {
    // `list`: every tag expanded, every operation listed when the page
    // opens (docs/api.md#operations-endpoints); `validator_url("none")`: no badge that
    // calls swagger.io's online validator; operation ids shown, since
    // clients generate code from them.
    let config = Config::new(["/openapi.json"])
        .doc_expansion("list")
        .display_operation_id(true)
        .validator_url("none")
        .try_it_out_enabled(true)
        .persist_authorization(false);
    let config = Arc::new(config);
    let state = DocsState {
        json: Bytes::from(to_json(doc)),
        page: Bytes::from(page(&config, &doc.info.title)),
        config,
    };
    let (router, _) = router().split_for_parts();
    // The page policy on the page, its assets and the document (harmless
    // there): everything from this origin, no framing.
    router
        .route("/docs/", get(docs_page))
        .route("/docs/{*file}", get(asset))
        .layer(security_headers::page_csp())
        .with_state(state)
}

/// Swagger UI's `index.html` with a `<base>` so that its relative asset
/// URLs resolve under `/docs/` whether the page is `/docs` or `/docs/`,
/// and the API's title as the page's.
fn page(config: &Arc<Config<'static>>, title: &str) -> String {
    let Some(index) = utoipa_swagger_ui::serve("index.html", config.clone()).ok().flatten() else {
        tracing::error!("Swagger UI's index.html is missing from the build");
        return String::new();
    };
    String::from_utf8_lossy(&index.bytes)
        .replacen("<head>", "<head>\n    <base href=\"/docs/\" />", 1)
        .replacen(
            "<title>Swagger UI</title>",
            &format!("<title>{title}: API documentation</title>"),
            1,
        )
}

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = OPERATIONS_TAG,
    operation_id = "getOpenApi",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json",
        body = Object))
)]
async fn openapi_json(State(state): State<DocsState>) -> Response {
    with_type(state.json, "application/json")
}

/// This API's documentation page (Swagger UI).
///
/// Served from the binary itself: it works with no internet access.
#[utoipa::path(
    get,
    path = "/docs",
    tag = OPERATIONS_TAG,
    operation_id = "getDocs",
    responses((status = 200, description = "The Swagger UI page; it loads its assets from `/docs/` and the \
        document from `/openapi.json`", content_type = "text/html", body = String))
)]
async fn docs_page(State(state): State<DocsState>) -> Response {
    with_type(state.page, "text/html; charset=utf-8")
}

/// Swagger UI's files.
async fn asset(State(state): State<DocsState>, Path(file): Path<String>) -> Result<Response, ApiError> {
    match utoipa_swagger_ui::serve(&file, state.config.clone()) {
        Ok(Some(file)) => {
            let mut response = file.bytes.into_owned().into_response();
            if let Ok(value) = HeaderValue::from_str(&file.content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            Ok(response)
        }
        Ok(None) => Err(ApiError::NotFound("no such file".into())),
        Err(e) => {
            tracing::error!(error = %e, file, "cannot render a Swagger UI file");
            Err(ApiError::Internal)
        }
    }
}

fn with_type(body: Bytes, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
