//! The `bff-stack` package: the upstream simulator, and the wiring that
//! runs it together with the BFFs for the demo and the end-to-end tests.

pub mod demo;
pub mod simulator;
pub mod wiring;
