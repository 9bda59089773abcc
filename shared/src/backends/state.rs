//! Our eight upstreams as one declared set, and the axum state of our BFFs
//! (bff-mobile, bff-web): the machinery ([`Platform`]) plus the typed calls
//! over our upstreams ([`Backends`]), built once per app.

use std::sync::Arc;

use axum::extract::FromRef;

use super::Backends;
use crate::auth::Verifier;
use crate::config::{ConfigError, Settings};
use crate::platform::{Platform, PlatformParts};

/// Our upstreams (docs/api.md#the-upstream-contract), each with the simulator port it
/// defaults to; `BFF_UPSTREAM_<NAME>_URL` points it elsewhere.
pub const UPSTREAMS: [(&str, u16); 8] = [
    ("users", 9101),
    ("orders", 9102),
    ("catalog", 9103),
    ("pricing", 9104),
    ("inventory", 9105),
    ("recommendations", 9106),
    ("notifications", 9107),
    ("reviews", 9108),
];

/// Declares [`UPSTREAMS`] in `settings`, each defaulting to its simulator
/// port on 127.0.0.1. Our binaries' `defaults()` call this.
pub fn declare(settings: &mut Settings) {
    for (name, port) in UPSTREAMS {
        settings.declare_upstream(name, Some(&format!("http://127.0.0.1:{port}")));
    }
}

/// The state our BFFs' handlers take: `State(platform): State<Bff>`, then
/// `platform.backends` for typed calls and `platform.settings`,
/// `platform.idempotency`, … for the machinery (through `Deref`). Cloning it
/// (axum does, once per request) is one reference-count increment.
#[derive(Clone, Debug)]
pub struct Bff(Arc<BffParts>);

/// What a [`Bff`] holds.
#[derive(Debug)]
pub struct BffParts {
    /// The machinery.
    pub platform: Platform,
    /// Typed calls to our upstreams, with their fragment caches.
    pub backends: Backends,
}

impl Bff {
    /// Builds our typed calls over `platform`'s upstreams; fails, naming
    /// the variable, when `platform` lacks one of [`UPSTREAMS`] (its
    /// settings were not made with [`declare`]).
    pub fn new(platform: Platform) -> Result<Self, ConfigError> {
        let backends = Backends::new(&platform)?;
        Ok(Self(Arc::new(BffParts { platform, backends })))
    }
}

impl std::ops::Deref for Bff {
    type Target = BffParts;

    fn deref(&self) -> &BffParts {
        &self.0
    }
}

/// So `platform.settings` and the other machinery fields read as they do
/// on a [`Platform`].
impl std::ops::Deref for BffParts {
    type Target = PlatformParts;

    fn deref(&self) -> &PlatformParts {
        &self.platform
    }
}

impl FromRef<Bff> for Arc<Verifier> {
    fn from_ref(bff: &Bff) -> Self {
        bff.platform.verifier.clone()
    }
}

impl FromRef<Bff> for Platform {
    fn from_ref(bff: &Bff) -> Self {
        bff.platform.clone()
    }
}
