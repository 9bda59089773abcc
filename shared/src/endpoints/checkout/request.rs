//! Checkout's body: its media type, its parsing and validation into a
//! [`CheckoutRequest`], and the request's canonical form for idempotency.
//!
//! Everything here runs before any upstream is called. Every refusal is a
//! client error with a `detail` that names the field (`lines[3].quantity
//! must be between 1 and 99`): 415 for another media type, 413 over the
//! body limit (axum's `DefaultBodyLimit`, set by the stack), 408 for a body
//! still arriving at the request's deadline, 422 for the rest. Unknown fields are refused rather than ignored: a client that
//! misspells `quantity` should hear about it, not get one unit.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::backends::is_valid_id;
use crate::error::ApiError;
use crate::idempotency::Fingerprint;

/// Most lines one checkout may have.
pub const MAX_LINES: usize = 50;
/// Largest quantity of one line.
pub const MAX_QUANTITY: u64 = 99;

/// The body of `POST /v1/checkout`, validated: 1 to 50 lines, distinct
/// well-formed product ids, quantities 1 to 99.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// What to order, one line per product.
    #[schema(min_items = 1, max_items = 50)]
    pub lines: Vec<CheckoutLine>,
}

/// One line of a checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutLine {
    /// Product id; each product at most once per checkout.
    #[schema(
        example = "p-1",
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]*$"
    )]
    pub product_id: String,
    /// Units to order.
    #[schema(example = 2, minimum = 1, maximum = 99)]
    pub quantity: u32,
}

/// The raw shape, before the checks that need field paths.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "CheckoutRequest")]
struct RawBody<'a> {
    #[serde(borrow)]
    lines: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "CheckoutLine")]
struct RawLine {
    product_id: Value,
    quantity: Value,
}

impl CheckoutRequest {
    /// Parses and validates a body; the error names the first bad field.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        // serde would also read a struct from an array (`[[...]]`): only an
        // object is the documented shape.
        if !starts_an_object(body) {
            return Err(match serde_json::from_slice::<IgnoredAny>(body) {
                Ok(_) => invalid("the body must be a JSON object {\"lines\": [...]}".into()),
                Err(e) => invalid(format!("the body is not valid JSON: {}", without_position(&e))),
            });
        }
        let raw: RawBody = serde_json::from_slice(body).map_err(|e| {
            if e.is_data() {
                invalid(format!(
                    "the body must be {{\"lines\": [...]}}: {}",
                    without_position(&e)
                ))
            } else {
                invalid(format!("the body is not valid JSON: {}", without_position(&e)))
            }
        })?;
        let items: Vec<&RawValue> = serde_json::from_str(raw.lines.get())
            .map_err(|_| invalid(format!("lines must be an array of 1 to {MAX_LINES} lines")))?;
        if items.is_empty() || items.len() > MAX_LINES {
            return Err(invalid(format!(
                "lines must have 1 to {MAX_LINES} items, got {}",
                items.len()
            )));
        }
        let mut lines = Vec::with_capacity(items.len());
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let line = parse_line(i, item)?;
            if let Some(first) = seen.insert(line.product_id.clone(), i) {
                return Err(invalid(format!(
                    "lines[{i}].product_id repeats lines[{first}]: put each product on one line"
                )));
            }
            lines.push(line);
        }
        Ok(Self { lines })
    }

    /// The product ids, in line order.
    pub fn product_ids(&self) -> Vec<String> {
        self.lines.iter().map(|line| line.product_id.clone()).collect()
    }

    /// The fingerprint of the parsed request, so formatting, field order
    /// and whitespace do not make a retry a different request. Line order
    /// does: it is the order of the placed order's lines.
    pub fn fingerprint(&self) -> Fingerprint {
        // Product ids cannot contain ' ' or '\n' (`is_valid_id`), so this
        // form is unambiguous; the prefix keeps it apart from other endpoints.
        let mut canonical = String::with_capacity(32 + self.lines.len() * 16);
        canonical.push_str("POST /v1/checkout\n");
        for line in &self.lines {
            canonical.push_str(&line.product_id);
            canonical.push(' ');
            canonical.push_str(&line.quantity.to_string());
            canonical.push('\n');
        }
        Fingerprint::of(canonical.as_bytes())
    }
}

fn parse_line(i: usize, item: &RawValue) -> Result<CheckoutLine, ApiError> {
    if !starts_an_object(item.get().as_bytes()) {
        return Err(invalid(format!(
            "lines[{i}] must be an object with product_id and quantity"
        )));
    }
    let raw: RawLine =
        serde_json::from_str(item.get()).map_err(|e| invalid(format!("lines[{i}]: {}", without_position(&e))))?;
    let product_id = match raw.product_id {
        Value::String(id) if is_valid_id(&id) => id,
        Value::String(_) => {
            return Err(invalid(format!(
                "lines[{i}].product_id must be 1 to 64 letters, digits, '.', '_', ':' or '-'"
            )));
        }
        _ => return Err(invalid(format!("lines[{i}].product_id must be a string"))),
    };
    let quantity = match &raw.quantity {
        Value::Number(n) if n.is_u64() || n.is_i64() => match n.as_u64() {
            Some(q) if (1..=MAX_QUANTITY).contains(&q) => q as u32,
            _ => {
                return Err(invalid(format!(
                    "lines[{i}].quantity must be between 1 and {MAX_QUANTITY}"
                )));
            }
        },
        _ => {
            return Err(invalid(format!(
                "lines[{i}].quantity must be an integer between 1 and {MAX_QUANTITY}"
            )));
        }
    };
    Ok(CheckoutLine { product_id, quantity })
}

fn starts_an_object(json: &[u8]) -> bool {
    json.trim_ascii_start().first() == Some(&b'{')
}

fn invalid(detail: String) -> ApiError {
    ApiError::Unprocessable(detail)
}

/// serde_json's message without " at line 1 column 17": the position is
/// noise to a client that sent one line of JSON.
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// Whether the request says its body is JSON: `application/json`, any
/// case, parameters such as `charset` allowed. Nothing else (not even
/// `application/*+json`): the contract names one media type.
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Extractor: the validated checkout body (415, 413, 408 or 422 otherwise).
#[derive(Debug, Clone)]
pub struct CheckoutBody(pub CheckoutRequest);

impl<S: Send + Sync> FromRequest<S> for CheckoutBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        // 413 over the limit, 408 past the deadline (see `ApiError`'s
        // `From<BytesRejection>`).
        let body = Bytes::from_request(request, state).await.map_err(ApiError::from)?;
        CheckoutRequest::parse(&body).map(Self)
    }
}
