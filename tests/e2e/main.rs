//! End-to-end tests: the real BFF routers served on loopback port 0,
//! against the upstream simulator on loopback, driven over real HTTP.

mod support;

mod cache;
mod checkout;
mod edge;
mod mobile_auth;
mod mobile_errors;
mod mobile_home;
mod mobile_orders;
mod mobile_product;
mod openapi;
mod rate_limit;
mod redis_mode;
mod resilience;
mod web_cors;
mod web_dashboard;
mod web_product;
