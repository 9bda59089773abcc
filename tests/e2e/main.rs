//! End-to-end tests: the real BFF routers served on loopback port 0,
//! against the upstream simulator on loopback, driven over real HTTP.

mod support;

mod mobile_auth;
mod mobile_errors;
mod mobile_home;
mod mobile_orders;
mod mobile_product;
mod resilience;
