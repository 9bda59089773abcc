//! W3C trace context (docs/operations.md#traces): reading a client's
//! `traceparent`, minting trace and span ids, and writing the
//! `traceparent` each upstream attempt carries.
//!
//! This runs on every request and every attempt whether or not spans are
//! exported, so it is kept cheap: ids come from a per-thread xorshift
//! generator seeded once from the OS-keyed hasher (ids need to be unique
//! and unguessable enough to not collide, not secret), and a header is
//! formatted into a fixed 55-byte buffer.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::otel::Traces;

/// The header carrying the trace and parent span ids.
pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The vendor-specific trace state, passed on as it came.
pub static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// A 16-byte trace id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id, never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

/// The trace a request belongs to and the span that stands for it here.
#[derive(Debug, Clone)]
pub struct TraceContext {
    /// The client's trace id, or a new one.
    pub trace_id: TraceId,
    /// The span the client sent as parent, when it sent a valid one.
    pub remote_parent: Option<SpanId>,
    /// This request's own (server) span: the parent of every attempt.
    pub span_id: SpanId,
    /// The trace flags (`01` sampled); a new trace is sampled.
    pub flags: u8,
    /// The client's `tracestate`, passed on unchanged.
    pub state: Option<HeaderValue>,
}

impl TraceContext {
    /// The context of a request with `headers`: the client's trace when its
    /// `traceparent` is valid, else a new sampled trace; a new span id
    /// either way.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let parsed = headers.get(&TRACEPARENT).and_then(|v| parse_traceparent(v.as_bytes()));
        match parsed {
            Some(parent) => Self {
                trace_id: parent.trace_id,
                remote_parent: Some(parent.span_id),
                span_id: SpanId::random(),
                flags: parent.flags,
                // A tracestate belongs to its traceparent: passed on only
                // with a valid one, and only if it is one header value.
                state: single(headers, &TRACESTATE).cloned(),
            },
            None => Self {
                trace_id: TraceId::random(),
                remote_parent: None,
                span_id: SpanId::random(),
                flags: 0x01,
                state: None,
            },
        }
    }

    /// A new trace, for calls made outside a client request.
    pub fn detached() -> Self {
        Self::from_headers(&HeaderMap::new())
    }

    /// The `traceparent` of an upstream attempt whose span id is `span`.
    pub fn traceparent(&self, span: SpanId) -> HeaderValue {
        let mut out = [0u8; 55];
        out[..3].copy_from_slice(b"00-");
        hex_into(&self.trace_id.0, &mut out[3..35]);
        out[35] = b'-';
        hex_into(&span.0, &mut out[36..52]);
        out[52] = b'-';
        hex_into(&[self.flags], &mut out[53..55]);
        // Lower-case hex and dashes only: always a valid header value.
        HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The trace id in lower-case hex, as the access log writes it.
    pub fn trace_id_hex(&self) -> String {
        self.trace_id_hex_str(&mut [0; 32]).to_owned()
    }

    /// [`Self::trace_id_hex`] written into `buf`, without allocating.
    pub fn trace_id_hex_str<'b>(&self, buf: &'b mut [u8; 32]) -> &'b str {
        hex_into(&self.trace_id.0, buf);
        // Lower-case hex digits only: always UTF-8.
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

/// A request's trace context and where its spans go: in the request's
/// extensions (set by the access-log layer) and in every
/// [`crate::context::RequestCtx`] made from it.
#[derive(Debug, Clone)]
pub struct RequestTrace {
    /// The trace and the request's span.
    pub context: TraceContext,
    /// The exporter (off unless an OTLP endpoint is set).
    pub traces: Traces,
}

impl RequestTrace {
    /// A new trace with no exporter, for calls made outside a request.
    pub fn detached() -> Self {
        Self {
            context: TraceContext::detached(),
            traces: Traces::default(),
        }
    }
}

fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// What a valid `traceparent` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traceparent {
    /// The trace id.
    pub trace_id: TraceId,
    /// The sender's span id.
    pub span_id: SpanId,
    /// The trace flags.
    pub flags: u8,
}

/// Parses a version-00 `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, lower
/// case, ids not all zeros). Anything else, including version `ff` and
/// versions above 00 this code does not know, is `None`: the request then
/// starts a new trace.
pub fn parse_traceparent(value: &[u8]) -> Option<Traceparent> {
    if value.len() != 55 || &value[..3] != b"00-" || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let mut trace = [0u8; 16];
    let mut span = [0u8; 8];
    let mut flags = [0u8; 1];
    unhex_into(&value[3..35], &mut trace)?;
    unhex_into(&value[36..52], &mut span)?;
    unhex_into(&value[53..55], &mut flags)?;
    if trace == [0; 16] || span == [0; 8] {
        return None;
    }
    Some(Traceparent {
        trace_id: TraceId(trace),
        span_id: SpanId(span),
        flags: flags[0],
    })
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
}

fn unhex_into(hex: &[u8], out: &mut [u8]) -> Option<()> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(())
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    // `RandomState` is keyed from the OS once per process and varies per
    // instance; mixing in the thread makes each thread's stream distinct.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    std::hash::Hash::hash(&std::thread::current().id(), &mut hasher);
    hasher.finish() | 1
}

/// The next 64 random bits (xorshift64*), never zero.
fn next_u64() -> u64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

impl TraceId {
    /// A new random trace id.
    pub fn random() -> Self {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&next_u64().to_be_bytes());
        id[8..].copy_from_slice(&next_u64().to_be_bytes());
        Self(id)
    }
}

impl SpanId {
    /// A new random span id.
    pub fn random() -> Self {
        loop {
            let x = next_u64();
            if x != 0 {
                return Self(x.to_be_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_valid_traceparent_is_read_and_written_back_the_same() {
        let parsed = parse_traceparent(VALID.as_bytes()).expect("valid");
        assert_eq!(parsed.flags, 1);
        let mut headers = HeaderMap::new();
        headers.insert(&TRACEPARENT, HeaderValue::from_static(VALID));
        let ctx = TraceContext::from_headers(&headers);
        assert_eq!(ctx.trace_id, parsed.trace_id);
        assert_eq!(ctx.traceparent(parsed.span_id), VALID);
        assert_eq!(ctx.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        for bad in [
            "",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",
            "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        ] {
            assert_eq!(parse_traceparent(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn without_a_valid_parent_a_new_sampled_trace_starts_and_tracestate_is_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert(&TRACEPARENT, HeaderValue::from_static("garbage"));
        headers.insert(&TRACESTATE, HeaderValue::from_static("k=v"));
        let a = TraceContext::from_headers(&headers);
        let b = TraceContext::from_headers(&headers);
        assert_ne!(a.trace_id, b.trace_id);
        assert_eq!(a.flags, 1);
        assert!(a.state.is_none() && a.remote_parent.is_none());
        let header = a.traceparent(SpanId::random());
        assert!(parse_traceparent(header.as_bytes()).is_some(), "{header:?}");
    }

    #[test]
    fn span_ids_do_not_repeat() {
        let ids: std::collections::HashSet<_> = (0..10_000).map(|_| SpanId::random()).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
