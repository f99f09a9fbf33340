//! Benchmark harness for roomcast: a graphql-transport-ws load generator, a minimal baseline
//! WebSocket broadcast server that is the ceiling roomcast is compared against, and the driver
//! that starts servers, runs scenarios and reports medians and ratios.
//!
//! Everything is in this library so that the `bench` driver can re-execute itself as the
//! generator or the baseline (`bench loadgen ...`, `bench baseline ...`): `cargo run --bin bench`
//! then needs no other binary to be built. The `loadgen` and `baseline` binaries are thin
//! wrappers over the same entry points.

pub mod baseline;
pub mod driver;
pub mod http1;
pub mod loadgen;
pub mod plot;
pub mod proto;
pub mod rawsub;
pub mod sys;
pub mod wsclient;
