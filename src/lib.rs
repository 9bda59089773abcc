//! The `bff-stack` package: the upstream simulator, the wiring that runs
//! it together with the BFFs for the demo and the end-to-end tests, and
//! the committed OpenAPI documents.

pub mod demo;
pub mod openapi;
pub mod simulator;
pub mod wiring;
