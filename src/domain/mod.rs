//! The domain: rules of rooms, identity, permissions and validated values. It knows nothing
//! of GraphQL, HTTP or SQL; it talks to storage and fan-out through the `Store` and `Bus`
//! traits it owns (`ports`).

pub mod activity;
pub mod clock;
pub mod error;
pub mod expiry;
pub mod hashing;
pub mod identity;
pub mod model;
pub mod permissions;
#[cfg(test)]
mod permissions_model;
pub mod ports;
pub mod presence;
pub mod recent;
pub mod rooms;
pub mod session;
pub mod terms;
pub mod throttle;
pub mod typing;
pub mod values;
