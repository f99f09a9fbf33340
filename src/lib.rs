//! roomcast: a real-time chat-room server with a GraphQL API.
//!
//! Layers, top to bottom: `http` (HTTP and graphql-ws transport) -> `graphql` (schema and
//! resolvers) -> `domain` (rules of rooms, permissions, identity) -> `store` (SQLite) and
//! `bus` (fan-out). Each layer only calls the one below it.

pub mod bus;
pub mod config;
pub mod domain;
pub mod error_code;
pub mod graphql;
pub mod http;
mod on_wake;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::App;
