//! Who is online in which room, as one node knows it: a pure book, kept apart from its async
//! shell (`rooms::presence`) so its rules are tested with made-up times.
//!
//! A user is online in a room while they hold a `roomMessages` or `roomEvents` feed of it on
//! any node. Each node counts its own feeds (`opened`, `closed`); when a user's last feed on
//! this node closes they stay online for a grace period (`lapse` ends it), so a reload does
//! not flicker. Nodes tell each other about their own seats: a change as it happens (`heard`)
//! and, every beat, the whole list (`beat`), which also proves the node alive. A node not
//! heard from for a while is taken to be dead and its seats are dropped (`sweep`): presence
//! never depends on a clean shutdown.
//!
//! Every node applies the same notes to its own book, so each one works out the same
//! changes and tells its own readers; changes are never themselves published.

use std::collections::{HashMap, HashSet};

use super::model::{Timestamp, User};
use super::values::{RoomId, UserId};

pub type NodeId = uuid::Uuid;
pub type Seat = (RoomId, UserId);

/// A user came online in a room, or went offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub room: RoomId,
    pub user: User,
    pub online: bool,
}

/// What a local open or lapse means: a change readers see, and what the other nodes must
/// be told (this node started, `true`, or stopped holding the user's seat).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub change: Option<Change>,
    pub tell_others: Option<(User, bool)>,
}

#[derive(Debug)]
struct Local {
    feeds: u32,
    /// When the feeds are all closed: the end of the grace period.
    leaving: Option<Timestamp>,
    user: User,
}

#[derive(Debug)]
struct Node<I> {
    heard: I,
    seats: HashMap<Seat, User>,
}

/// `I` is the instant nodes are last heard at (a monotonic clock in the shell).
#[derive(Debug)]
pub struct PresenceBook<I> {
    local: HashMap<Seat, Local>,
    nodes: HashMap<NodeId, Node<I>>,
    /// How many holders (this node, other nodes) each online seat has.
    holders: HashMap<Seat, u32>,
    by_room: HashMap<RoomId, HashSet<UserId>>,
}

impl<I> Default for PresenceBook<I> {
    fn default() -> Self {
        Self {
            local: HashMap::new(),
            nodes: HashMap::new(),
            holders: HashMap::new(),
            by_room: HashMap::new(),
        }
    }
}

impl<I: Copy + Ord> PresenceBook<I> {
    fn hold(&mut self, room: RoomId, user: &User) -> Option<Change> {
        let n = self.holders.entry((room, user.id)).or_insert(0);
        *n += 1;
        (*n == 1).then(|| {
            self.by_room.entry(room).or_default().insert(user.id);
            Change {
                room,
                user: user.clone(),
                online: true,
            }
        })
    }

    fn release(&mut self, room: RoomId, user: &User) -> Option<Change> {
        let seat = (room, user.id);
        let n = self.holders.get_mut(&seat)?;
        *n -= 1;
        if *n > 0 {
            return None;
        }
        self.holders.remove(&seat);
        if let Some(users) = self.by_room.get_mut(&room) {
            users.remove(&user.id);
            if users.is_empty() {
                self.by_room.remove(&room);
            }
        }
        Some(Change {
            room,
            user: user.clone(),
            online: false,
        })
    }

    /// A feed of `room` opened on this node for `user`.
    pub fn opened(&mut self, room: RoomId, user: &User) -> Outcome {
        if let Some(local) = self.local.get_mut(&(room, user.id)) {
            local.feeds += 1;
            local.leaving = None;
            return Outcome::default();
        }
        self.local.insert(
            (room, user.id),
            Local {
                feeds: 1,
                leaving: None,
                user: user.clone(),
            },
        );
        Outcome {
            change: self.hold(room, user),
            tell_others: Some((user.clone(), true)),
        }
    }

    /// A feed closed; when it was the user's last on this node, their grace period runs to
    /// `until` and this returns true (the shell then calls `lapse` at that time).
    pub fn closed(&mut self, room: RoomId, user: UserId, until: Timestamp) -> bool {
        match self.local.get_mut(&(room, user)) {
            Some(local) if local.feeds > 0 => {
                local.feeds -= 1;
                if local.feeds == 0 {
                    local.leaving = Some(until);
                    return true;
                }
                false
            }
            _ => false,
        }
    }

    /// The grace period of a seat may be over at `now`: if no feed reopened meanwhile, this
    /// node stops holding it.
    pub fn lapse(&mut self, room: RoomId, user: UserId, now: Timestamp) -> Outcome {
        let due = self
            .local
            .get(&(room, user))
            .is_some_and(|l| l.feeds == 0 && l.leaving.is_some_and(|at| at <= now));
        if !due {
            return Outcome::default();
        }
        let Some(local) = self.local.remove(&(room, user)) else {
            return Outcome::default();
        };
        Outcome {
            change: self.release(room, &local.user),
            tell_others: Some((local.user, false)),
        }
    }

    /// Another node says it started (`online`) or stopped holding a seat.
    pub fn heard(
        &mut self,
        node: NodeId,
        room: RoomId,
        user: &User,
        online: bool,
        at: I,
    ) -> Option<Change> {
        let entry = self.nodes.entry(node).or_insert_with(|| Node {
            heard: at,
            seats: HashMap::new(),
        });
        entry.heard = entry.heard.max(at);
        if online {
            if entry.seats.insert((room, user.id), user.clone()).is_none() {
                return self.hold(room, user);
            }
            None
        } else if entry.seats.remove(&(room, user.id)).is_some() {
            self.release(room, user)
        } else {
            None
        }
    }

    /// Another node's whole list of seats (its beat): replaces what it said before.
    pub fn beat(
        &mut self,
        node: NodeId,
        seats: impl IntoIterator<Item = (RoomId, User)>,
        at: I,
    ) -> Vec<Change> {
        let fresh: HashMap<Seat, User> = seats.into_iter().map(|(r, u)| ((r, u.id), u)).collect();
        let old = match self.nodes.get_mut(&node) {
            Some(n) => {
                n.heard = n.heard.max(at);
                std::mem::take(&mut n.seats)
            }
            None => HashMap::new(),
        };
        let mut changes = Vec::new();
        for ((room, id), user) in &old {
            if !fresh.contains_key(&(*room, *id)) {
                changes.extend(self.release(*room, user));
            }
        }
        for ((room, id), user) in &fresh {
            if !old.contains_key(&(*room, *id)) {
                changes.extend(self.hold(*room, user));
            }
        }
        self.nodes.insert(
            node,
            Node {
                heard: at,
                seats: fresh,
            },
        );
        changes
    }

    /// Drops the nodes last heard before `dead_before`, with all their seats.
    pub fn sweep(&mut self, dead_before: I) -> Vec<Change> {
        let dead: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.heard < dead_before)
            .map(|(id, _)| *id)
            .collect();
        let mut changes = Vec::new();
        for id in dead {
            if let Some(node) = self.nodes.remove(&id) {
                for ((room, _), user) in node.seats {
                    changes.extend(self.release(room, &user));
                }
            }
        }
        changes
    }

    /// The seats this node holds (its beat).
    pub fn mine(&self) -> Vec<(RoomId, User)> {
        self.local
            .iter()
            .map(|((room, _), l)| (*room, l.user.clone()))
            .collect()
    }

    pub fn is_online(&self, room: RoomId, user: UserId) -> bool {
        self.holders.contains_key(&(room, user))
    }

    pub fn online_count(&self, room: RoomId) -> usize {
        self.by_room.get(&room).map_or(0, HashSet::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn user(name: &str) -> User {
        User {
            id: UserId::new(),
            username: name.into(),
            created_at: Utc.timestamp_opt(0, 0).unwrap(),
        }
    }

    fn t(s: i64) -> Timestamp {
        Utc.timestamp_opt(1_000_000 + s, 0).unwrap()
    }

    fn online(change: &Option<Change>) -> Option<bool> {
        change.as_ref().map(|c| c.online)
    }

    #[test]
    fn the_first_feed_brings_a_user_online_and_the_last_leaves_after_the_grace() {
        let mut book = PresenceBook::<u64>::default();
        let (room, bob) = (RoomId::new(), user("bob"));
        let first = book.opened(room, &bob);
        assert_eq!(online(&first.change), Some(true));
        assert_eq!(first.tell_others, Some((bob.clone(), true)));
        // A second feed (events beside messages) changes nothing.
        assert_eq!(book.opened(room, &bob), Outcome::default());
        assert!(!book.closed(room, bob.id, t(5)));
        assert!(book.closed(room, bob.id, t(5)));
        assert!(
            book.is_online(room, bob.id),
            "online through the grace period"
        );
        assert_eq!(
            book.lapse(room, bob.id, t(4)),
            Outcome::default(),
            "not yet due"
        );
        let gone = book.lapse(room, bob.id, t(5));
        assert_eq!(online(&gone.change), Some(false));
        assert_eq!(gone.tell_others, Some((bob.clone(), false)));
        assert!(!book.is_online(room, bob.id));
        assert_eq!(book.online_count(room), 0);
        assert!(book.mine().is_empty());
    }

    #[test]
    fn a_reload_within_the_grace_period_shows_nothing() {
        let mut book = PresenceBook::<u64>::default();
        let (room, bob) = (RoomId::new(), user("bob"));
        book.opened(room, &bob);
        assert!(book.closed(room, bob.id, t(5)));
        // Reopened before the grace ran out: no change, nothing to tell.
        assert_eq!(book.opened(room, &bob), Outcome::default());
        assert_eq!(book.lapse(room, bob.id, t(5)), Outcome::default());
        assert!(book.is_online(room, bob.id));
    }

    #[test]
    fn another_nodes_seat_counts_until_it_lets_go_or_dies() {
        let mut book = PresenceBook::<u64>::default();
        let (room, bob, node) = (RoomId::new(), user("bob"), NodeId::new_v4());
        assert_eq!(online(&book.heard(node, room, &bob, true, 1)), Some(true));
        assert_eq!(book.heard(node, room, &bob, true, 2), None, "said twice");
        // Bob also opens a feed here: still one change only.
        assert_eq!(book.opened(room, &bob).change, None);
        assert_eq!(book.online_count(room), 1);
        assert!(book.closed(room, bob.id, t(0)));
        let lapsed = book.lapse(room, bob.id, t(0));
        assert_eq!(lapsed.change, None, "the other node holds");
        assert_eq!(lapsed.tell_others, Some((bob.clone(), false)));
        // The other node goes silent: swept with its seats.
        assert!(book.sweep(2).is_empty(), "heard at 2: not before 2");
        let swept = book.sweep(3);
        assert_eq!(swept.len(), 1);
        assert!(!swept[0].online);
        assert!(!book.is_online(room, bob.id));
    }

    #[test]
    fn a_beat_replaces_what_the_node_said_before() {
        let mut book = PresenceBook::<u64>::default();
        let (room, node) = (RoomId::new(), NodeId::new_v4());
        let (bob, carol, dave) = (user("bob"), user("carol"), user("dave"));
        book.heard(node, room, &bob, true, 1);
        book.heard(node, room, &carol, true, 1);
        // A lost "dave online" and a lost "carol offline" are put right by the beat.
        let changes = book.beat(node, [(room, bob.clone()), (room, dave.clone())], 2);
        let mut seen: Vec<(String, bool)> = changes
            .iter()
            .map(|c| (c.user.username.clone(), c.online))
            .collect();
        seen.sort();
        assert_eq!(seen, [("carol".into(), false), ("dave".into(), true)]);
        assert_eq!(book.online_count(room), 2);
        // The beat also proves the node alive.
        assert!(book.sweep(2).is_empty());
    }

    #[test]
    fn counts_are_per_room() {
        let mut book = PresenceBook::<u64>::default();
        let (a, b, bob) = (RoomId::new(), RoomId::new(), user("bob"));
        book.opened(a, &bob);
        assert!(book.is_online(a, bob.id));
        assert!(!book.is_online(b, bob.id));
        assert_eq!(book.online_count(a), 1);
        assert_eq!(book.online_count(b), 0);
    }
}
