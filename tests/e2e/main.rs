//! End-to-end tests: the real BFF routers served on loopback port 0,
//! against the upstream simulator on loopback, driven over real HTTP.

mod fake_upstream;
mod raw;
mod support;

mod attempts;
mod cache;
mod checkout;
mod drain;

mod edge;
mod example;
mod grafana;
mod ids;
mod metrics;
mod mobile_auth;
mod mobile_errors;
mod mobile_home;
mod mobile_orders;
mod mobile_product;
mod openapi;
mod passthrough;
mod rate_limit;
mod redis_mode;
mod redis_stall;
mod resilience;
mod retries;
mod status;
mod traces;
mod trusted_proxies;
mod upstream_bodies;
mod web_cors;
mod web_dashboard;
mod web_product;
