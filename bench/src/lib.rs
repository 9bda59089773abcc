//! The benchmark's own pieces (docs/benchmarks.md): what the three binaries
//! share. `bench-upstream` is the fake of the upstreams, `minimal-bff` the
//! yardstick (docs/benchmarks.md#the-yardsticks), `fanout-bff` the synthetic composite on
//! `bff-shared`; `bench/run` drives them. Nothing here is part of the
//! product: it is never deployed and has no public API.

pub mod args;
pub mod http1;
