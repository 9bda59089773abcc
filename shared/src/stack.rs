//! The middleware stack every BFF wraps its routes in, built in one place,
//! outermost layer first, and the routes it adds: operations, the OpenAPI
//! document and its docs page.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::response::Response;
use tower::ServiceBuilder;
use tower_http::cors::CorsLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::around::{Around, AroundLayer};
use crate::error;
use crate::fanout::DegradedReport;
use crate::platform::Platform;
use crate::telemetry::access_log::AccessLog;
use crate::telemetry::{InFlight, Metrics};
use crate::{context, openapi, ops, request_id, security_headers};

/// Adds the operations routes, `/openapi.json` and `/docs`, the
/// problem+json fallbacks and the common layers to a BFF's API routes.
///
/// `api` holds the routes together with their OpenAPI operations (each
/// registered with `utoipa_axum::routes!`); the document served is
/// [`openapi::document`] of them, the same a BFF's `openapi()` returns.
pub fn finish(api: OpenApiRouter, platform: &Platform) -> Router {
    finish_with(api, platform, None)
}

/// [`finish`] with an optional CORS layer, for a BFF that browsers call.
/// The layer sits just inside the request id, outside everything else, so
/// that a preflight `OPTIONS` is answered before routing (never by a
/// route's 405) and without auth, rate limiting or metrics, and so that
/// every other response a browser reads (problem documents, 404s of
/// unknown routes, panics turned into 500) carries the CORS headers.
pub fn finish_with(api: OpenApiRouter, platform: &Platform, cors: Option<CorsLayer>) -> Router {
    let (api, doc) = api.split_for_parts();
    // Operations and documentation: no auth, not rate limited. The status
    // page names the BFF as its document does.
    let (service, version) = (doc.info.title.clone(), doc.info.version.clone());
    let ops = ops::routes(platform, service, version).merge(openapi::docs_routes(&openapi::document(doc)));
    // Rate limiting wraps the API routes only (operations are exempt), after
    // routing, so unknown routes are not charged and 429s are still counted,
    // compressed and given CORS headers by the layers below.
    let api = match &platform.rate_limit {
        Some(state) => api.route_layer(crate::rate_limit::RateLimitLayer(state.clone())),
        None => api,
    };
    let access_log = Arc::new(AccessLog::new(
        platform.traces.clone(),
        platform.trusted_proxies.clone(),
    ));
    // The common layers, outermost first, composed into one layer: the
    // router boxes and clones each layer it is given on every request, so
    // one composed layer costs one box and one clone instead of one per
    // layer (docs/benchmarks.md).
    let layers = ServiceBuilder::new()
        // `X-Content-Type-Options: nosniff`, set last on the way out, so
        // that every response carries it, whichever layer produced it
        // (fallbacks, 429, CORS preflights, a panic's 500, 408).
        .layer(security_headers::nosniff())
        // The request id, so every response and log line has one.
        .layer(request_id::RequestIdLayer)
        // Trace context and the access log (telemetry/access_log.rs): just
        // inside the request id, which its line and span carry, and outside
        // everything else, so it sees each request's final status and time.
        .layer(AroundLayer(access_log))
        // CORS, when configured: see above for why it sits here.
        .option_layer(cors)
        // Metrics see the final status of everything below, by route template.
        .layer(AroundLayer(Track(platform.metrics.clone())))
        // A panic anywhere below becomes a 500 `internal` problem, never a
        // dropped connection or a stack trace.
        .layer(crate::catch_panic::CatchPanicLayer)
        // Compress whatever the handlers produced, errors included, for
        // the clients that ask.
        .layer(crate::compress::CompressionLayer)
        // The deadline starts when the request reaches us, before auth.
        .layer(context::layer(platform.settings.deadline))
        // Innermost: the body limit, read by the JSON extractor, which
        // turns an over-long body into 413 `payload_too_large`.
        .layer(DefaultBodyLimit::max(platform.settings.max_body_bytes));
    api.merge(ops)
        .fallback(error::fallback_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(layers)
}

/// Metrics of every request, by route template: `bff_http_requests_total`,
/// its duration, `bff_http_requests_in_flight` and, for composite answers,
/// `bff_degraded_sections_total`.
#[derive(Clone)]
struct Track(Arc<Metrics>);

/// What [`Track`] keeps while the request runs.
struct Tracked {
    route: Option<MatchedPath>,
    started: Instant,
    /// Up while the request runs, down when dropped, even if the request
    /// is abandoned.
    _in_flight: InFlight,
}

impl Around for Track {
    type Carry = Tracked;

    fn before(&self, request: &mut Request) -> Tracked {
        Tracked {
            route: request.extensions().get::<MatchedPath>().cloned(),
            started: Instant::now(),
            _in_flight: self.0.request_in_flight(),
        }
    }

    fn after(&self, tracked: Tracked, response: &mut Response) {
        let metrics = &self.0;
        let route = tracked.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        drop(tracked._in_flight);
        metrics.http_request(route, response.status().as_u16(), tracked.started.elapsed());
        // Each section a composite answer left out, as its answer reports them.
        if let Some(report) = response.extensions().get::<DegradedReport>() {
            for degraded in &report.0 {
                metrics.degraded_section(route, &degraded.section, degraded.reason);
            }
        }
    }
}
