//! `meta`, `X-Partial-Response` and `Server-Timing` of one composite
//! answer, computed from the outcomes its handler hands over (the rules
//! are on [`Summary`]).

use std::time::Duration;

use super::meta::{Degraded, Meta};
use super::section::{Outcome, Reported};

/// The partiality, staleness and timing of one composite answer.
///
/// The rules, in one place:
/// - `meta.degraded` lists the degraded outcomes in the order the handler
///   lists them, each name once (the first reason wins: a section's second
///   stage degraded because its first stage was is one entry, not two);
/// - `meta.stale` lists the names of stale outcomes, each once;
/// - `partial` (and `X-Partial-Response: true`) exactly when `degraded` is
///   not empty;
/// - `Server-Timing` has one entry per top-level section, in the order
///   listed, with the time its last piece ended: a dotted nested part
///   (`orders.product`) is not an entry of its own but extends its
///   section's time, so the entry is the section's critical path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub(super) request_id: String,
    degraded: Vec<Degraded>,
    stale: Vec<String>,
    timings: Vec<(&'static str, Duration)>,
}

impl Summary {
    pub(super) fn new(request_id: String, outcomes: &[&dyn Reported]) -> Self {
        let mut summary = Self {
            request_id,
            degraded: Vec::new(),
            stale: Vec::new(),
            timings: Vec::new(),
        };
        for section in outcomes.iter().filter_map(|o| o.report()) {
            let name = section.name();
            match section.outcome() {
                Outcome::Degraded(reason) => {
                    if !summary.degraded.iter().any(|d| d.section == name) {
                        summary.degraded.push(Degraded {
                            section: name.to_owned(),
                            reason: *reason,
                        });
                    }
                }
                Outcome::Stale(()) => {
                    if !summary.stale.iter().any(|s| s == name) {
                        summary.stale.push(name.to_owned());
                    }
                }
                Outcome::Fresh(()) => {}
            }
            let top = name.split('.').next().unwrap_or(name);
            match summary.timings.iter_mut().find(|(section, _)| *section == top) {
                Some((_, ended)) => *ended = (*ended).max(section.ended()),
                None => summary.timings.push((top, section.ended())),
            }
        }
        summary
    }

    /// The `meta` object of the answer.
    pub fn meta(&self) -> Meta {
        Meta {
            request_id: self.request_id.clone(),
            partial: self.is_partial(),
            degraded: self.degraded.clone(),
            stale: self.stale.clone(),
        }
    }

    /// Whether any section is degraded.
    pub fn is_partial(&self) -> bool {
        !self.degraded.is_empty()
    }

    /// The `Server-Timing` value: one entry per top-level section.
    pub fn server_timing(&self) -> String {
        let mut out = String::with_capacity(self.timings.len() * 24);
        for (i, (section, ended)) in self.timings.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(section);
            out.push_str(";dur=");
            out.push_str(&format!("{:.1}", ended.as_secs_f64() * 1000.0));
        }
        out
    }
}
