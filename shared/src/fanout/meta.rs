//! The `meta` object every composite answer carries (docs/api.md#the-meta-object).

use serde::Serialize;

use crate::upstream::DegradedReason;

/// Request id, partiality and staleness of a composite answer.
// `deny_unknown_fields` only tells the OpenAPI schema the shape is exact.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "request_id": "5b0f3c2e-8d4a-4e7b-9a61-3f2c1d0e9b87",
    "partial": true,
    "degraded": [{"section": "recent_orders", "reason": "timeout"},
        {"section": "recommendations.price", "reason": "circuit_open"}],
    "stale": ["product"],
}))]
pub struct Meta {
    /// The request id, as in `X-Request-Id`.
    pub request_id: String,
    /// True exactly when `degraded` is not empty.
    pub partial: bool,
    /// Sections (or dotted nested parts) that could not be filled, and why.
    pub degraded: Vec<Degraded>,
    /// Sections served from the cache past their TTL because the upstream failed.
    pub stale: Vec<String>,
}

/// One degraded section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Degraded {
    /// The section's name, or `<section>.<field>` for a nested part.
    pub section: String,
    /// Why it is missing.
    pub reason: DegradedReason,
}
