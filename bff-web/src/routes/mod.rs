//! One module per endpoint, each owning its upstreams, its client-shaped
//! types and its shaping code; [`parts`] holds the few pieces both share.

pub mod dashboard;
pub mod parts;
pub mod product;
