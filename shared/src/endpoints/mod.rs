//! Endpoints every BFF over our backends mounts unchanged: the order
//! pass-through and checkout. Both are written against our backends set
//! (their state is [`crate::backends::Bff`]), not against the machinery.
//! Client-specific composites live in each BFF.

pub mod checkout;
pub mod order;
