//! Endpoints every BFF over our backends mounts unchanged: the order
//! pass-through and checkout. Client-specific composites live in each BFF.

pub mod checkout;
pub mod order;
