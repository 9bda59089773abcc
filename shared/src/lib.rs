//! Reusable machinery for Backend-for-Frontend services.
pub mod config;
pub mod error;
pub mod request_id;
pub mod context;
pub mod telemetry;
pub mod upstream;
pub mod fanout;
