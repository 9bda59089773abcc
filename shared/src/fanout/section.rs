//! What one section of a composite came to, in its type: a fresh value, a
//! stale value (served from the fragment cache past its TTL), or nothing,
//! degraded for a reason. Shaping code reads values from it; `meta`,
//! `X-Partial-Response` and `Server-Timing` are computed from it
//! ([`super::Summary`]).

use std::time::Duration;

use crate::upstream::DegradedReason;

/// How a section ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<T> {
    /// The upstream answered (or the cache held it within its TTL).
    Fresh(T),
    /// The upstream failed and the cache served the value past its TTL
    /// (listed in `meta.stale`).
    Stale(T),
    /// No value (listed in `meta.degraded`).
    Degraded(DegradedReason),
}

/// The named, timed outcome of an optional section (or of a dotted nested
/// part such as `recommendations.price`), as [`super::Fanout::optional`]
/// returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section<T> {
    name: &'static str,
    /// When it ended, counted from the start of the fan-out.
    ended: Duration,
    outcome: Outcome<T>,
}

impl<T> Section<T> {
    pub(super) fn new(name: &'static str, ended: Duration, outcome: Outcome<T>) -> Self {
        Self { name, ended, outcome }
    }

    /// The name clients see in `meta` and `Server-Timing`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// When the section ended, counted from the start of the fan-out.
    pub fn ended(&self) -> Duration {
        self.ended
    }

    /// How it ended.
    pub fn outcome(&self) -> &Outcome<T> {
        &self.outcome
    }

    /// How it ended, by value.
    pub fn into_outcome(self) -> Outcome<T> {
        self.outcome
    }

    /// The value, fresh or stale.
    pub fn value(&self) -> Option<&T> {
        match &self.outcome {
            Outcome::Fresh(value) | Outcome::Stale(value) => Some(value),
            Outcome::Degraded(_) => None,
        }
    }

    /// The value, fresh or stale, by value: what a nullable field holds.
    pub fn into_option(self) -> Option<T> {
        match self.outcome {
            Outcome::Fresh(value) | Outcome::Stale(value) => Some(value),
            Outcome::Degraded(_) => None,
        }
    }

    /// Whether it has no value.
    pub fn is_degraded(&self) -> bool {
        matches!(self.outcome, Outcome::Degraded(_))
    }

    /// Whether its value was served stale.
    pub fn is_stale(&self) -> bool {
        matches!(self.outcome, Outcome::Stale(_))
    }

    /// Why it has no value, if it has none.
    pub fn reason(&self) -> Option<DegradedReason> {
        match self.outcome {
            Outcome::Degraded(reason) => Some(reason),
            _ => None,
        }
    }

    /// The same section with its value shaped by `f` (staleness, name and
    /// time kept; a degraded section stays degraded and `f` is not called).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Section<U> {
        let outcome = match self.outcome {
            Outcome::Fresh(value) => Outcome::Fresh(f(value)),
            Outcome::Stale(value) => Outcome::Stale(f(value)),
            Outcome::Degraded(reason) => Outcome::Degraded(reason),
        };
        Section::new(self.name, self.ended, outcome)
    }

    /// The value as the input of a dependent stage, or, when this section
    /// is degraded, the dependent stage's outcome: degraded for the same
    /// reason, under the same name. For a section built in two stages
    /// (recommended ids, then their cards):
    ///
    /// ```text
    /// let ids = match ids.as_input() {
    ///     Ok(ids) => ids,
    ///     Err(no_cards) => return no_cards,
    /// };
    /// ```
    ///
    /// (`Fanout`'s example runs it.)
    pub fn as_input<U>(&self) -> Result<&T, Section<U>> {
        match &self.outcome {
            Outcome::Fresh(value) | Outcome::Stale(value) => Ok(value),
            Outcome::Degraded(reason) => Err(Section::new(self.name, self.ended, Outcome::Degraded(*reason))),
        }
    }

    /// The outcome without the value: what `meta` and `Server-Timing` need.
    pub fn without_value(&self) -> Section<()> {
        let outcome = match self.outcome {
            Outcome::Fresh(_) => Outcome::Fresh(()),
            Outcome::Stale(_) => Outcome::Stale(()),
            Outcome::Degraded(reason) => Outcome::Degraded(reason),
        };
        Section::new(self.name, self.ended, outcome)
    }
}

/// The value of a required section, as [`super::Fanout::required`] returns
/// it: a required section that failed is a client error instead, so there
/// is always a value, fresh or stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required<T> {
    section: Section<()>,
    value: T,
}

impl<T> Required<T> {
    pub(super) fn new(name: &'static str, ended: Duration, value: T, stale: bool) -> Self {
        let outcome = if stale { Outcome::Stale(()) } else { Outcome::Fresh(()) };
        Self {
            section: Section::new(name, ended, outcome),
            value,
        }
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Whether the value was served stale.
    pub fn is_stale(&self) -> bool {
        self.section.is_stale()
    }
}

impl<T> std::ops::Deref for Required<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// Anything whose outcome goes into `meta` and `Server-Timing`: a
/// [`Section`], a [`Required`] value, or an `Option` of either for a part
/// that may not have run (a second stage whose input never arrived).
pub trait Reported {
    /// The outcome without the value, or `None` for a part that never ran.
    fn report(&self) -> Option<Section<()>>;
}

impl<T> Reported for Section<T> {
    fn report(&self) -> Option<Section<()>> {
        Some(self.without_value())
    }
}

impl<T> Reported for Required<T> {
    fn report(&self) -> Option<Section<()>> {
        Some(self.section)
    }
}

impl<R: Reported> Reported for Option<R> {
    fn report(&self) -> Option<Section<()>> {
        self.as_ref().and_then(Reported::report)
    }
}
