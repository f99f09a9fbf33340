//! The domain: rules of rooms, identity, permissions and validated values. It knows nothing
//! of GraphQL, HTTP or SQL; it talks to storage and fan-out through the `Store` and `Bus`
//! traits.

pub mod error;
pub mod expiry;
pub mod hashing;
pub mod identity;
pub mod model;
pub mod permissions;
pub mod rooms;
pub mod throttle;
pub mod values;
