//! `POST /v1/checkout` (auth required): places an order, exactly once per
//! `Idempotency-Key` (docs/api.md#checkout-and-idempotency).
//!
//! The handler owns the order of things:
//! 1. input, before any upstream call: token (401), `Idempotency-Key`
//!    (400), media type (415), size (413), body (`request`, 422);
//! 2. the key's record ([`crate::idempotency`]): a completed request with
//!    the same body is replayed without calling upstream, another body
//!    under the key is 422 `idempotency_key_reused`, the same request in
//!    flight is waited for until our own deadline (then 409
//!    `idempotency_key_in_progress` with `Retry-After`). A store that
//!    cannot answer fails closed: 503, no order;
//! 3. the upstream story (`flow`) under the request deadline;
//! 4. only a 201 is recorded (`response`); any other outcome frees the
//!    key so that a retry can proceed. An order placed upstream whose
//!    answer we lost (timeout) is found again by that retry, because the
//!    key is forwarded to orders, which is idempotent by it.
//!
//! Every store call is bounded by `BFF_REDIS_TIMEOUT_MS` and the request's
//! deadline, so a Redis that is down or silent costs checkout at most that
//! bound before its 503. If recording the 201 fails (the order *is*
//! placed), the client still gets its 201, and the record is retried in
//! the background while the key stays claimed
//! ([`ClaimGuard`]): nothing is lost (the
//! client has its order) and nothing is doubled (a retry waits for the
//! record, or, if the store stays down past the lease, runs again and gets
//! the same order back from orders, idempotent by the forwarded key).
//!
//! Mount it in a BFF over our backends, whose state is [`Bff`]:
//!
//! ```
//! use axum::{Router, routing::post};
//! use bff_shared::backends::Bff;
//! use bff_shared::endpoints::checkout::checkout;
//!
//! fn api(platform: Bff) -> Router {
//!     Router::new().route("/v1/checkout", post(checkout)).with_state(platform)
//! }
//! ```

mod flow;
mod request;
mod response;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;

pub use request::{CheckoutBody, CheckoutLine, CheckoutRequest, MAX_LINES, MAX_QUANTITY};
pub use response::{CheckoutAnswer, PlacedOrder};

use crate::auth::Auth;
use crate::backends::Bff;
use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::fanout::Fanout;
use crate::idempotency::{Begin, ClaimGuard, IdempotencyKey, ScopedKey, StoreError};

/// How long a key's in-flight record outlives the owner's deadline before
/// another request may take it over: the owner has finished by then (its
/// work is bounded by the deadline) unless its process died.
const LEASE_GRACE: Duration = Duration::from_secs(1);

crate::problems!(
    /// The problems checkout answers (429 and 500 are the stack's).
    CheckoutProblems:
    case(
        ApiError::IdempotencyKeyRequired,
        "the `Idempotency-Key` header is missing",
    ),
    case(
        ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {} visible ASCII characters",
            crate::idempotency::MAX_KEY_LEN
        )),
        "the key is empty, too long, not visible ASCII or sent twice (or the body could not be read)",
    ),
    auth_required,
    case(
        ApiError::OutOfStock {
            product_ids: vec!["p-17".into()],
        },
        "a quantity exceeds what inventory has available; `product_ids` names the products",
    ),
    case(
        ApiError::IdempotencyKeyInProgress { retry_after_secs: 1 },
        "the first request with this key is still in flight and did not finish by this one's deadline",
    ),
    case(
        ApiError::RequestTimeout,
        "the body had not fully arrived by the request's deadline; the connection is closed",
    ),
    case(
        ApiError::PayloadTooLarge,
        "the body is over the limit (64 KiB by default)",
    ),
    case(
        ApiError::UnsupportedMediaType,
        "the `Content-Type` is not `application/json`",
    ),
    case(
        ApiError::Unprocessable("lines[0].quantity must be between 1 and 99".into()),
        "the body is not valid JSON of the documented shape, or names a product pricing or inventory \
         does not know (`detail` names the field or the products)",
    ),
    case(
        ApiError::IdempotencyKeyReused,
        "this user sent the key before with a different body",
    ),
    case(
        ApiError::UpstreamUnavailable,
        "pricing, inventory, orders or the idempotency store failed; no order was placed",
    ),
    case(
        ApiError::UpstreamTimeout,
        "no answer by the deadline; retry with the same key (an order placed meanwhile is found again)",
    ),
);

/// Places an order.
///
/// Places an order from pricing's current (discounted) prices, if every
/// product is known and in stock. Idempotent: the same `Idempotency-Key`
/// with the same body from the same user replays the first 201 without
/// placing another order (the replay carries `Idempotent-Replayed: true`).
/// Only a 201 is recorded: after any failure the key may be retried.
#[utoipa::path(
    post,
    path = "/v1/checkout",
    tag = "checkout",
    operation_id = "checkout",
    params(
        ("Idempotency-Key" = String, Header,
            description = "Client-chosen key, 1 to 255 visible ASCII characters, unique per intended order; \
                scoped to the user. Records are kept 24 hours by default.",
            min_length = 1, max_length = 255, pattern = r"^[!-~]+$",
            example = "checkout-7d3f6a")
    ),
    request_body(content = CheckoutRequest, content_type = "application/json",
        example = json!({"lines": [{"product_id": "p-1", "quantity": 2}]})),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The order was placed (or this is the replay of the request that placed it)",
            body = CheckoutAnswer,
            headers(
                ("Cache-Control" = String, description = "`private, no-store`"),
                ("Server-Timing" = String, description = "One entry per step (`prices`, `stock`, `order`), \
                    on the answer that placed the order"),
                ("Idempotent-Replayed" = String, description = "`true` on a replay of the first answer"),
            ),
            example = json!({"order": {"id": "o-new-1", "status": "placed", "total_cents": 36598,
                "currency": "USD"}, "meta": {"request_id": "5b0f3c2e-8d4a-4e7b-9a61-3f2c1d0e9b87",
                "partial": false, "degraded": [], "stale": []}})),
        CheckoutProblems,
    )
)]
pub async fn checkout(
    State(platform): State<Bff>,
    Auth(principal): Auth,
    ctx: RequestCtx,
    key: IdempotencyKey,
    CheckoutBody(request): CheckoutBody,
) -> Result<Response, ApiError> {
    let ctx = ctx.for_user(&principal.sub)?;
    let scoped = ScopedKey::new(principal.sub.clone(), key.as_str());
    let fingerprint = request.fingerprint();
    let store = &platform.idempotency;
    let lease = ctx.deadline.remaining() + LEASE_GRACE;

    let begun = store.begin(&scoped, &fingerprint, lease, ctx.deadline.instant()).await;
    let claim = match begun.map_err(store_failed)? {
        Begin::Owner(claim) => claim,
        Begin::Replay(answer) => return Ok(response::replay(&answer)),
        Begin::Mismatch => return Err(ApiError::IdempotencyKeyReused),
        Begin::InProgress { retry_after } => {
            return Err(ApiError::IdempotencyKeyInProgress {
                retry_after_secs: whole_seconds(retry_after),
            });
        }
    };
    // From here every way out (an error, a dropped future) frees the key,
    // except a completed 201.
    let guard = ClaimGuard::new(store.clone(), scoped, claim);

    let fan = Fanout::new(&ctx);
    let placed = flow::place(&platform.backends, &ctx, &fan, key.header_value(), &request).await;
    match placed.and_then(|(order, summary)| response::created(&summary, order)) {
        Ok((stored, response)) => {
            if let Err(e) = guard.complete(&stored, ctx.deadline.instant()).await {
                // The order exists: say so. Recording goes on in the
                // background (see the module docs).
                tracing::warn!(error = %e, "could not record a checkout answer yet; retrying in the background");
            }
            Ok(response)
        }
        Err(error) => {
            if let Err(e) = guard.abandon(ctx.deadline.instant()).await {
                tracing::warn!(error = %e, "could not free an idempotency key; its lease will");
            }
            Err(error)
        }
    }
}

/// Fail closed: without its record a write could happen twice.
fn store_failed(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "idempotency store unavailable; checkout refused");
    ApiError::UpstreamUnavailable
}

/// `Retry-After` seconds: rounded up, at least 1.
fn whole_seconds(duration: Duration) -> u64 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    secs.max(1)
}
