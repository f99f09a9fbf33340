//! The fan-out seam. After the store has accepted a message or a change, the domain publishes
//! it on the `Bus`; live feeds subscribe per room. The in-process implementation uses bounded
//! `tokio::sync::broadcast` channels; a Redis implementation carries the same items between
//! nodes. A bus may drop or reorder items (lag, reconnects): feeds repair that from the store
//! using message sequence numbers, so the bus never has to be reliable.

pub mod local;
pub mod redis;

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::model::{Message, Revocation, RoomEvent};
use crate::domain::values::RoomId;

pub trait Bus: Send + Sync + 'static {
    fn publish_message(&self, message: Arc<Message>);
    fn publish_event(&self, event: Arc<RoomEvent>);
    fn subscribe_messages(&self, room: RoomId) -> broadcast::Receiver<Arc<Message>>;
    fn subscribe_events(&self, room: RoomId) -> broadcast::Receiver<Arc<RoomEvent>>;
    /// Tells every node that a credential is no longer valid.
    fn publish_revocation(&self, revocation: Arc<Revocation>);
    /// Revocations from any node. A receiver that lags or is closed (the bus was reset)
    /// has missed some: its owner must re-check its credential in the store.
    fn subscribe_revocations(&self) -> broadcast::Receiver<Arc<Revocation>>;
}
