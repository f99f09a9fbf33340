//! The storage seam. The domain talks to a `dyn Store`; SQLite (embedded default) and
//! PostgreSQL implement it. Implementations own their SQL and migrations and must make each
//! method atomic: a capacity check and its insert, a ban and its membership removal, a
//! message's sequence number and its row are each one transaction.

pub mod detached;
pub mod postgres;
mod sql;
pub mod sqlite;

pub use crate::domain::ports::{Conflict, Entity, NewRoom, Store, StoreError, StoreResult};
