//! Store reads kept in memory until the bus says they may have changed.
//!
//! Every `sendMessage` reads two things that rarely change: the caller's session and their
//! access to the room. Both change only by something every node hears about on the bus (a
//! revocation, a room event), so a node may keep what it read until such news arrives.
//!
//! A `Recent` holds a receiver of that news, subscribed before any read it keeps, and drains
//! it before every answer: news that arrived drops what it may have changed, and a receiver
//! that lagged (news was lost) or was closed (the bus was reset) drops everything. A read
//! that raced with news is not kept: `get` hands out a ticket, and `keep` refuses a value
//! whose ticket is older than the last thing forgotten. The node that makes a change forgets
//! at once (`forget`), without waiting for its own news to come back from the bus; other
//! nodes forget when it reaches them, as their live feeds end then.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::TryRecvError;

/// What a piece of news makes a cache forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forget<K> {
    Nothing,
    One(K),
    All,
}

/// Proof that a value was read after everything forgotten so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

type Subscribe<E> = Arc<dyn Fn() -> broadcast::Receiver<E> + Send + Sync>;

pub struct Recent<K, V, E> {
    state: Mutex<State<K, V, E>>,
    subscribe: Subscribe<E>,
    forget: fn(&E) -> Forget<K>,
    capacity: usize,
}

struct State<K, V, E> {
    news: broadcast::Receiver<E>,
    values: HashMap<K, V>,
    /// Bumped by everything forgotten; tickets older than it are refused.
    epoch: u64,
    /// Answered from since the last `take_used`.
    used: bool,
}

impl<K, V, E> State<K, V, E>
where
    K: Eq + Hash,
    E: Clone,
{
    fn forget_all(&mut self) {
        self.values.clear();
        self.epoch += 1;
    }

    fn forget_one(&mut self, key: &K) {
        self.values.remove(key);
        self.epoch += 1;
    }

    /// Applies the news that arrived since the last look.
    fn catch_up(&mut self, subscribe: &Subscribe<E>, forget: fn(&E) -> Forget<K>) {
        loop {
            match self.news.try_recv() {
                Ok(news) => match forget(&news) {
                    Forget::Nothing => {}
                    Forget::One(key) => self.forget_one(&key),
                    Forget::All => self.forget_all(),
                },
                Err(TryRecvError::Empty) => return,
                // Some news was lost: anything may have changed.
                Err(TryRecvError::Lagged(_)) => self.forget_all(),
                Err(TryRecvError::Closed) => {
                    self.forget_all();
                    self.news = subscribe();
                    return;
                }
            }
        }
    }
}

impl<K, V, E> Recent<K, V, E>
where
    K: Eq + Hash,
    V: Clone,
    E: Clone,
{
    /// Keeps at most `capacity` values (0: keeps none). `subscribe` gives a receiver of the
    /// news; it is called now and again whenever the receiver is closed.
    pub fn new(
        subscribe: impl Fn() -> broadcast::Receiver<E> + Send + Sync + 'static,
        forget: fn(&E) -> Forget<K>,
        capacity: usize,
    ) -> Self {
        let subscribe: Subscribe<E> = Arc::new(subscribe);
        Self {
            state: Mutex::new(State {
                news: subscribe(),
                values: HashMap::new(),
                epoch: 0,
                used: false,
            }),
            subscribe,
            forget,
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K, V, E>> {
        // Every update leaves the state consistent, so a poisoned lock is still usable.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.catch_up(&self.subscribe, self.forget);
        state
    }

    /// The value kept for `key`, or a ticket to keep the one about to be read.
    pub fn get(&self, key: &K) -> Result<V, Ticket> {
        let mut state = self.lock();
        state.used = true;
        match state.values.get(key) {
            Some(value) => Ok(value.clone()),
            None => Err(Ticket(state.epoch)),
        }
    }

    /// Keeps a value read with `ticket`, unless something was forgotten since.
    pub fn keep(&self, key: K, value: V, ticket: Ticket) {
        let mut state = self.lock();
        if ticket.0 != state.epoch || self.capacity == 0 {
            return;
        }
        if state.values.len() >= self.capacity && !state.values.contains_key(&key) {
            // Full: start over rather than track which value is oldest.
            state.values.clear();
        }
        state.values.insert(key, value);
    }

    /// Forgets `key` (the caller has just changed it).
    pub fn forget(&self, key: &K) {
        self.lock().forget_one(key);
    }

    /// Forgets everything (the caller has just changed something all values depend on).
    pub fn forget_all(&self) {
        self.lock().forget_all();
    }

    /// Whether anything was looked up since the last call (for pruning idle caches).
    pub fn take_used(&self) -> bool {
        std::mem::take(&mut self.lock().used)
    }

    pub fn len(&self) -> usize {
        self.lock().values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug)]
    enum News {
        Changed(u32),
        Everything,
        Unrelated,
    }

    fn forget(news: &News) -> Forget<u32> {
        match news {
            News::Changed(k) => Forget::One(*k),
            News::Everything => Forget::All,
            News::Unrelated => Forget::Nothing,
        }
    }

    fn cache(tx: &broadcast::Sender<News>, capacity: usize) -> Recent<u32, &'static str, News> {
        let tx = tx.clone();
        Recent::new(move || tx.subscribe(), forget, capacity)
    }

    fn kept(c: &Recent<u32, &'static str, News>, key: u32, value: &'static str) {
        let ticket = c.get(&key).expect_err("not kept yet");
        c.keep(key, value, ticket);
    }

    #[test]
    fn a_value_is_answered_until_news_about_it_arrives() {
        let (tx, _) = broadcast::channel(16);
        let c = cache(&tx, 10);
        kept(&c, 1, "one");
        kept(&c, 2, "two");
        assert_eq!(c.get(&1), Ok("one"));

        tx.send(News::Unrelated).expect("sent");
        assert_eq!(c.get(&1), Ok("one"));
        tx.send(News::Changed(1)).expect("sent");
        assert!(c.get(&1).is_err());
        assert_eq!(c.get(&2), Ok("two"));
        tx.send(News::Everything).expect("sent");
        assert!(c.get(&2).is_err());
    }

    #[test]
    fn a_read_that_raced_with_news_is_not_kept() {
        let (tx, _) = broadcast::channel(16);
        let c = cache(&tx, 10);
        let ticket = c.get(&1).expect_err("empty");
        // The store is read here; meanwhile the value changes and the news goes out.
        tx.send(News::Changed(1)).expect("sent");
        c.keep(1, "stale", ticket);
        assert!(c.get(&1).is_err());

        let ticket = c.get(&1).expect_err("empty");
        c.forget(&7);
        c.keep(1, "maybe stale", ticket);
        assert!(
            c.get(&1).is_err(),
            "anything forgotten refuses older tickets"
        );
    }

    #[test]
    fn lost_news_and_a_reset_bus_forget_everything() {
        let (tx, _) = broadcast::channel(2);
        let c = cache(&tx, 10);
        kept(&c, 1, "one");
        for _ in 0..5 {
            tx.send(News::Unrelated).expect("sent");
        }
        assert!(c.get(&1).is_err(), "lagged");
        drop(c);

        let (tx2, _) = broadcast::channel::<News>(2);
        let current = Arc::new(Mutex::new(tx.clone()));
        let source = current.clone();
        let c = Recent::new(move || source.lock().expect("lock").subscribe(), forget, 10);
        kept(&c, 1, "one");
        // The bus is replaced: the old sender goes away and its receivers close.
        *current.lock().expect("lock") = tx2.clone();
        drop(tx);
        assert!(c.get(&1).is_err(), "closed");
        kept(&c, 1, "one again");
        tx2.send(News::Changed(1))
            .expect("the new bus is listened to");
        assert!(c.get(&1).is_err());
    }

    #[test]
    fn it_never_holds_more_than_its_capacity() {
        let (tx, _) = broadcast::channel(2);
        let c = cache(&tx, 3);
        for k in 0..10 {
            kept(&c, k, "v");
            assert!(c.len() <= 3);
        }
        let off = cache(&tx, 0);
        kept(&off, 1, "v");
        assert!(off.is_empty());
    }
}
