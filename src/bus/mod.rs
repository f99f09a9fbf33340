//! The fan-out seam. After the store has accepted a message or a change, the domain publishes
//! it on the `Bus`; live feeds subscribe per room. The in-process implementation uses bounded
//! `tokio::sync::broadcast` channels; a Redis implementation carries the same items between
//! nodes. A bus may drop or reorder items (lag, reconnects): feeds repair that from the store
//! using message sequence numbers, so the bus never has to be reliable.

pub mod local;
pub mod redis;

pub use crate::domain::ports::Bus;
