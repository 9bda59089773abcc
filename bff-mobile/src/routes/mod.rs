//! One module per endpoint, each owning its upstreams, its client-shaped
//! types and its shaping code.

pub mod home;
pub mod product;
