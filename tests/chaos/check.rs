//! What a client may see under faults (docs/api.md, "Partial answers" and "Errors"),
//! as one function per kind of endpoint: an answer either fits the
//! contract for its input, or is a violation with a one-line reason.

use bff_shared::backends::Order;
use bff_stack::simulator::MALFORMED_BODY;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Reasons a section may be degraded with (section 4).
const REASONS: [&str; 6] = [
    "timeout",
    "circuit_open",
    "overloaded",
    "upstream_error",
    "bad_response",
    "not_found",
];

/// One answer as a client received it.
pub struct Observed {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body, or why reading it failed.
    pub body: Result<bytes::Bytes, String>,
}

/// An answer that fits the contract.
#[derive(Debug, PartialEq, Eq)]
pub enum Fit {
    /// 200 with nothing degraded (or a pass-through 200 that parsed whole).
    Full,
    /// 200 with `meta.partial`.
    Partial,
    /// 201 with this order id.
    Created(String),
    /// A 200 pass-through whose body read failed: the allowed abort.
    Aborted,
    /// A 200 pass-through of the simulator's whole `malformed` answer, byte
    /// for byte: complete, so not a cut body.
    PassedOn,
    /// A problem+json with this code.
    Problem(String),
}

/// What a request asked for, so the judge knows which answers fit.
#[derive(Clone, Debug)]
pub enum Asked {
    /// `/v1/home` or `/v1/dashboard`: all sections optional.
    Screen,
    /// `/v1/products/{id}`; `known` when the catalog has it.
    Product { known: bool },
    /// `/v1/orders/{id}`; `owned` when it is the caller's order.
    Order { id: String, owned: bool },
    /// `POST /v1/checkout`.
    Checkout,
}

impl Asked {
    pub fn label(&self) -> &'static str {
        match self {
            Asked::Screen => "screen",
            Asked::Product { .. } => "product",
            Asked::Order { .. } => "order",
            Asked::Checkout => "checkout",
        }
    }
}

/// Whether `observed` fits what `asked` allows.
pub fn judge(asked: &Asked, observed: &Observed) -> Result<Fit, String> {
    let body = match (&observed.body, asked, observed.status) {
        (Ok(body), _, _) => body,
        (Err(_), Asked::Order { .. }, 200) => return Ok(Fit::Aborted),
        (Err(e), _, status) => return Err(format!("{status} whose body read failed: {e}")),
    };
    match (asked, observed.status) {
        (Asked::Screen | Asked::Product { .. }, 200) => composite(observed, body),
        // The pass-through streams a 2xx unchanged (section 4): an upstream
        // that answered a complete but invalid body is passed on as it was.
        (Asked::Order { .. }, 200) if body.as_ref() == MALFORMED_BODY.as_bytes() => Ok(Fit::PassedOn),
        (Asked::Order { id, .. }, 200) => {
            let order: Order = serde_json::from_slice(body).map_err(|e| {
                format!(
                    "a complete-looking 200 that is not a whole Order ({e}): {}",
                    lossy(body)
                )
            })?;
            if order.id != *id {
                return Err(format!("asked for order {id}, got {}", order.id));
            }
            Ok(Fit::Full)
        }
        (Asked::Checkout, 201) => {
            let json: Value =
                serde_json::from_slice(body).map_err(|e| format!("201 that is not JSON ({e}): {}", lossy(body)))?;
            let id = json["order"]["id"]
                .as_str()
                .ok_or_else(|| format!("201 without order.id: {json}"))?;
            if json["meta"]["partial"] != false {
                return Err(format!("a write is never partial: {json}"));
            }
            Ok(Fit::Created(id.to_owned()))
        }
        (_, status) => problem(asked, observed, status, body),
    }
}

fn composite(observed: &Observed, body: &[u8]) -> Result<Fit, String> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| format!("200 that is not JSON ({e}): {}", lossy(body)))?;
    let meta = &json["meta"];
    let degraded = meta["degraded"]
        .as_array()
        .ok_or_else(|| format!("200 without meta.degraded: {json}"))?;
    let partial = meta["partial"]
        .as_bool()
        .ok_or_else(|| format!("200 without meta.partial: {json}"))?;
    if partial == degraded.is_empty() {
        return Err(format!("meta.partial {partial} with degraded {degraded:?}"));
    }
    for entry in degraded {
        let reason = entry["reason"].as_str().unwrap_or_default();
        if !REASONS.contains(&reason) || !entry["section"].is_string() {
            return Err(format!("degraded entry outside the contract: {entry}"));
        }
    }
    let header = observed.headers.get("x-partial-response").and_then(|v| v.to_str().ok());
    match (partial, header) {
        (true, Some("true")) => Ok(Fit::Partial),
        (false, None) => Ok(Fit::Full),
        (partial, header) => Err(format!("meta.partial {partial} with X-Partial-Response {header:?}")),
    }
}

fn problem(asked: &Asked, observed: &Observed, status: u16, body: &[u8]) -> Result<Fit, String> {
    let content_type = observed.headers.get("content-type").and_then(|v| v.to_str().ok());
    if content_type != Some("application/problem+json") {
        return Err(format!("{status} with content type {content_type:?}: {}", lossy(body)));
    }
    let json: Value = serde_json::from_slice(body).map_err(|e| format!("{status} problem not JSON ({e})"))?;
    let code = json["code"].as_str().unwrap_or_default().to_owned();
    if json["status"] != status || !json["request_id"].is_string() {
        return Err(format!("malformed problem: {json}"));
    }
    let retry_after = observed.headers.contains_key("retry-after");
    let allowed = match (status, code.as_str()) {
        (503, "upstream_unavailable") | (504, "upstream_timeout") => true,
        (429, "rate_limited") => retry_after,
        (404, "not_found") => matches!(
            asked,
            Asked::Product { known: false } | Asked::Order { owned: false, .. }
        ),
        (409, "idempotency_key_in_progress") => matches!(asked, Asked::Checkout) && retry_after,
        _ => false,
    };
    if allowed {
        Ok(Fit::Problem(code))
    } else {
        Err(format!(
            "{status} {code} is not an answer the contract allows for {asked:?}: {json}"
        ))
    }
}

fn lossy(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(300).collect()
}
