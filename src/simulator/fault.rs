//! [`Fault`]: how a service misbehaves. This file owns the fault's fields,
//! their validation and the `key=value` syntax used by flags; applying a
//! fault to a request is `inject.rs`'s job, cutting or stalling a body is
//! `body.rs`'s, closing a port is `listener.rs`'s.

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// The misbehaviour of one service, applied to a share (`fault_rate`, all
/// by default) of the requests it receives.
///
/// The default is a healthy service. Effects combine in this order: `down`
/// (reset at once; a port state, so `fault_rate` does not apply to it), then
/// the draw of `fault_rate` (a request it spares is served healthy), then
/// `latency_ms` + jitter, `hang`, `reset`, `error_rate`, `malformed`; last,
/// the answer that goes out (the service's own, an injected error or a
/// malformed body) is shaped by `chunked`, then `truncate` or `stall_body`.
/// Unknown fields are rejected when parsed from JSON so that a typo in a
/// control call does not pass silently.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fault {
    /// Milliseconds added before answering. Default 0.
    pub latency_ms: u64,
    /// A uniform extra delay in `0..=jitter_ms` milliseconds. Default 0.
    pub jitter_ms: u64,
    /// Probability (0.0 to 1.0) of answering `error_status` instead. Default 0.
    pub error_rate: f64,
    /// The status of injected errors; 0 (the default) means 500.
    pub error_status: u16,
    /// Never answer: hold the request until the client gives up. Default false.
    pub hang: bool,
    /// Answer 200 `application/json` with a body that is not valid JSON. Default false.
    pub malformed: bool,
    /// Close the connection abruptly (TCP RST) without any response. Default false.
    pub reset: bool,
    /// The port refuses new connections and resets kept-alive ones on their
    /// next request, until cleared. Default false.
    pub down: bool,
    /// Send the answer's real status and headers (its full `Content-Length`,
    /// unless `chunked`), then only the first half of its body, then reset
    /// the connection: the client sees an incomplete message. Default false.
    pub truncate: bool,
    /// Send the answer's real status and headers, then the first half of
    /// its body, then nothing more until the client gives up (or the
    /// simulator shuts down, which resets it). Default false.
    pub stall_body: bool,
    /// Send the answer with `Transfer-Encoding: chunked` instead of a
    /// `Content-Length`, so a `truncate` or `stall_body` cut falls in a
    /// chunked body (no terminating chunk ever comes). Default false.
    pub chunked: bool,
    /// Probability (0.0 to 1.0) that the fault applies to a given request
    /// at all; a request it spares is served healthy. Lets one service be
    /// faulty on a share of its calls. Default 1.0 (every request).
    pub fault_rate: f64,
}

impl Default for Fault {
    /// A healthy service: no effect, `fault_rate` 1.
    fn default() -> Self {
        Fault {
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            error_status: 0,
            hang: false,
            malformed: false,
            reset: false,
            down: false,
            truncate: false,
            stall_body: false,
            chunked: false,
            fault_rate: 1.0,
        }
    }
}

impl Fault {
    /// Every request answers `status` (a healthy service otherwise).
    pub fn always(status: u16) -> Self {
        Fault {
            error_rate: 1.0,
            error_status: status,
            ..Fault::default()
        }
    }

    /// The status injected errors carry: `error_status`, or 500 when it is 0
    /// or not a status a server can send (below 200 or above 599).
    pub fn status(&self) -> StatusCode {
        match self.error_status {
            200..=599 => StatusCode::from_u16(self.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the service behaves healthy under this fault: no effect at
    /// all, or none that a request can meet (`fault_rate` 0 and not `down`).
    pub fn is_healthy(&self) -> bool {
        let default = Fault::default();
        Fault {
            fault_rate: default.fault_rate,
            ..self.clone()
        } == default
            || (self.fault_rate == 0.0 && !self.down)
    }

    /// Whether a request's answer is reshaped (chunked, cut or stalled).
    pub(crate) fn shapes_body(&self) -> bool {
        self.chunked || self.truncate || self.stall_body
    }

    /// Checks the values a user can get wrong: `error_rate` and
    /// `fault_rate` in 0..=1, `error_status` 0 or 200..=599, and not both
    /// `truncate` and `stall_body`. The message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!("error_rate must be between 0 and 1, got {}", self.error_rate));
        }
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(format!("fault_rate must be between 0 and 1, got {}", self.fault_rate));
        }
        if self.truncate && self.stall_body {
            return Err("truncate and stall_body exclude each other: a body is either cut or stalled".into());
        }
        if self.error_status != 0 && !(200..=599).contains(&self.error_status) {
            return Err(format!(
                "error_status must be 0 or an HTTP status from 200 to 599, got {}",
                self.error_status
            ));
        }
        Ok(())
    }

    /// Sets one field from its flag spelling: `latency_ms=10`, `hang=true`,
    /// or a bare boolean name such as `hang` for `hang=true`.
    pub fn set(&mut self, key: &str, value: Option<&str>) -> Result<(), String> {
        fn number<T: std::str::FromStr>(key: &str, value: Option<&str>, what: &str) -> Result<T, String> {
            let value = value.ok_or_else(|| format!("{key} needs a value ({what})"))?;
            value
                .trim()
                .parse()
                .map_err(|_| format!("{key}={value}: expected {what}"))
        }
        fn flag(key: &str, value: Option<&str>) -> Result<bool, String> {
            match value.map(str::trim) {
                None | Some("true") | Some("1") => Ok(true),
                Some("false") | Some("0") => Ok(false),
                Some(other) => Err(format!("{key}={other}: expected true or false")),
            }
        }
        match key.trim() {
            "latency_ms" => self.latency_ms = number(key, value, "whole milliseconds")?,
            "jitter_ms" => self.jitter_ms = number(key, value, "whole milliseconds")?,
            "error_rate" => self.error_rate = number(key, value, "a number from 0 to 1")?,
            "error_status" => self.error_status = number(key, value, "an HTTP status")?,
            "hang" => self.hang = flag(key, value)?,
            "malformed" => self.malformed = flag(key, value)?,
            "reset" => self.reset = flag(key, value)?,
            "down" => self.down = flag(key, value)?,
            "truncate" => self.truncate = flag(key, value)?,
            "stall_body" => self.stall_body = flag(key, value)?,
            "chunked" => self.chunked = flag(key, value)?,
            "fault_rate" => self.fault_rate = number(key, value, "a number from 0 to 1")?,
            other => {
                return Err(format!(
                    "unknown fault key {other:?} (expected latency_ms, jitter_ms, error_rate, \
                     error_status, hang, malformed, reset, down, truncate, stall_body, chunked \
                     or fault_rate)"
                ));
            }
        }
        self.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_or_unusable_error_status_means_500() {
        let status = |error_status| {
            Fault {
                error_status,
                ..Fault::default()
            }
            .status()
        };
        assert_eq!(status(0), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status(99), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status(503), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn partial_json_leaves_other_fields_at_their_defaults_and_typos_are_rejected() {
        let fault: Fault = serde_json::from_str(r#"{"latency_ms": 25}"#).expect("partial fault");
        assert_eq!(
            fault,
            Fault {
                latency_ms: 25,
                ..Fault::default()
            }
        );
        assert!(serde_json::from_str::<Fault>(r#"{"latency": 25}"#).is_err());
    }

    #[test]
    fn flag_syntax_sets_fields_and_names_the_bad_key() {
        let mut fault = Fault::default();
        fault.set("error_rate", Some("0.5")).expect("rate");
        fault.set("hang", None).expect("bare flag");
        fault.set("reset", Some("false")).expect("explicit flag");
        assert_eq!(
            fault,
            Fault {
                error_rate: 0.5,
                hang: true,
                ..Fault::default()
            }
        );
        assert!(
            fault
                .set("latency_ms", Some("soon"))
                .unwrap_err()
                .contains("latency_ms")
        );
        assert!(fault.set("error_rate", Some("2")).unwrap_err().contains("error_rate"));
        assert!(fault.set("colour", Some("red")).unwrap_err().contains("colour"));
    }

    #[test]
    fn body_faults_and_fault_rate_have_flag_spellings_and_are_validated() {
        let mut fault = Fault::default();
        fault.set("truncate", None).expect("bare flag");
        fault.set("chunked", Some("true")).expect("flag");
        fault.set("fault_rate", Some("0.25")).expect("rate");
        assert_eq!(
            fault,
            Fault {
                truncate: true,
                chunked: true,
                fault_rate: 0.25,
                ..Fault::default()
            }
        );
        assert!(fault.set("stall_body", None).unwrap_err().contains("stall_body"));
        let mut fault = Fault::default();
        assert!(fault.set("fault_rate", Some("1.5")).unwrap_err().contains("fault_rate"));
        assert!(
            fault
                .set("fault_rate", Some("-0.1"))
                .unwrap_err()
                .contains("fault_rate")
        );
        let parsed: Fault = serde_json::from_str(r#"{"stall_body": true, "fault_rate": 0.5}"#).expect("json");
        assert!(parsed.stall_body && parsed.fault_rate == 0.5 && !parsed.truncate);
    }

    #[test]
    fn the_default_is_healthy_with_a_fault_rate_of_one_and_a_zero_rate_spares_every_request() {
        assert_eq!(Fault::default().fault_rate, 1.0);
        assert!(Fault::default().is_healthy());
        let parsed: Fault = serde_json::from_str("{}").expect("empty fault");
        assert_eq!(parsed, Fault::default());
        let spared = Fault {
            hang: true,
            fault_rate: 0.0,
            ..Fault::default()
        };
        assert!(spared.is_healthy());
        let down = Fault {
            down: true,
            fault_rate: 0.0,
            ..Fault::default()
        };
        assert!(!down.is_healthy(), "down is a port state: fault_rate does not spare it");
        let rate_only = Fault {
            fault_rate: 0.5,
            ..Fault::default()
        };
        assert!(rate_only.is_healthy(), "a rate with nothing to apply is healthy");
        assert!(
            !Fault {
                stall_body: true,
                ..Fault::default()
            }
            .is_healthy()
        );
    }
}
