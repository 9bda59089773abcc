//! Reusable machinery for Backend-for-Frontend services.
pub mod config;
pub mod error;
pub mod request_id;
