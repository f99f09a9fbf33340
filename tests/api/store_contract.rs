//! The `Store` contract: every method of the trait, run against whichever backend the
//! suite runs on (`scripts/test` runs it on SQLite and again on PostgreSQL with
//! `ROOMCAST_TEST_BACKEND=postgres`), so the two implementations cannot drift apart
//! unnoticed. Talks to the store directly, as the domain does.

use std::sync::Arc;

use chrono::Duration;
use roomcast::domain::model::{now, Role, RoomType, Timestamp, User};
use roomcast::domain::values::{MessageId, RoomCursor, RoomId, UserId};
use roomcast::store::{Conflict, Entity, NewRoom, RoomPatch, Store, StoreError};

use crate::helpers::*;

struct Fixture {
    store: Arc<dyn Store>,
    // Keeps the database (and its directory) alive.
    _db: TestDb,
}

async fn fixture() -> Fixture {
    let db = fresh_db().await;
    Fixture {
        store: open_store(&db).await,
        _db: db,
    }
}

impl Fixture {
    async fn user(&self, prefix: &str) -> User {
        let user = User {
            id: UserId::new(),
            username: uname(prefix),
            created_at: now(),
        };
        self.store
            .create_user(&user, "$argon2id$not-a-real-hash")
            .await
            .expect("create user");
        user
    }

    async fn room(&self, owner: &User, name: &str, room_type: RoomType) -> RoomId {
        self.room_with(owner, name, room_type, None).await
    }

    async fn room_with(
        &self,
        owner: &User,
        name: &str,
        room_type: RoomType,
        max_users: Option<i64>,
    ) -> RoomId {
        let room = self
            .store
            .create_room(NewRoom {
                id: RoomId::new(),
                name: name.to_owned(),
                topic: Some("a topic".into()),
                room_type,
                max_users,
                owner: owner.id,
                created_at: now(),
            })
            .await
            .expect("create room");
        room.id
    }

    async fn join(&self, room: RoomId, user: &User) {
        self.store
            .add_member(room, user.id, Role::Member, 10_000, now())
            .await
            .expect("add member");
    }
}

fn conflict(r: Result<impl std::fmt::Debug, StoreError>) -> Conflict {
    match r {
        Err(StoreError::Conflict(kind)) => kind,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

// --- users and sessions

#[tokio::test]
async fn users_are_found_by_id_and_by_name_regardless_of_case() {
    let f = fixture().await;
    let alice = f.user("Alice").await;
    assert_eq!(
        f.store.user_by_id(alice.id).await.unwrap(),
        Some(alice.clone())
    );
    let upper = alice.username.to_uppercase();
    assert_eq!(
        f.store.user_by_username(&upper).await.unwrap(),
        Some(alice.clone())
    );
    let (found, hash) = f
        .store
        .user_credentials(&upper)
        .await
        .unwrap()
        .expect("creds");
    assert_eq!(
        (found, hash.as_str()),
        (alice.clone(), "$argon2id$not-a-real-hash")
    );
    assert_eq!(f.store.user_by_id(UserId::new()).await.unwrap(), None);
    assert_eq!(
        f.store.user_by_username("nobody-at-all").await.unwrap(),
        None
    );

    let twin = User {
        id: UserId::new(),
        username: alice.username.to_lowercase(),
        created_at: now(),
    };
    assert_eq!(
        conflict(f.store.create_user(&twin, "h").await),
        Conflict::UsernameTaken
    );
}

#[tokio::test]
async fn sessions_record_their_times_uses_and_revocation() {
    let f = fixture().await;
    let alice = f.user("alice").await;
    let token = b"a token hash, 32 bytes long.....".to_vec();
    let t0 = now();
    f.store.create_session(&token, alice.id, t0).await.unwrap();
    let (user, times) = f.store.session(&token).await.unwrap().expect("session");
    assert_eq!(user, alice);
    assert_eq!((times.created_at, times.last_used_at), (t0, t0));

    let later = t0 + Duration::hours(2);
    f.store.touch_session(&token, later).await.unwrap();
    // A touch never moves the last use back (nodes may touch out of order).
    f.store
        .touch_session(&token, t0 + Duration::hours(1))
        .await
        .unwrap();
    let (_, times) = f.store.session(&token).await.unwrap().expect("session");
    assert_eq!((times.created_at, times.last_used_at), (t0, later));

    f.store.revoke_session(&token, later).await.unwrap();
    assert!(f.store.session(&token).await.unwrap().is_none());
    assert!(f.store.session(b"unknown").await.unwrap().is_none());
}

// --- rooms

#[tokio::test]
async fn rooms_are_created_read_updated_and_deleted() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let id = f
        .room_with(&owner, "general", RoomType::Public, Some(5))
        .await;

    let room = f.store.room(id).await.unwrap().expect("room");
    assert_eq!(
        (
            room.name.as_str(),
            room.topic.as_deref(),
            room.room_type,
            room.max_users
        ),
        ("general", Some("a topic"), RoomType::Public, Some(5))
    );
    assert_eq!((room.member_count, room.last_seq), (1, 0));
    assert_eq!(room.owner, owner);
    let creator = f
        .store
        .membership(id, owner.id)
        .await
        .unwrap()
        .expect("owner");
    assert_eq!(creator.role, Role::Owner);

    let patched = f
        .store
        .update_room(
            id,
            RoomPatch {
                name: Some("renamed".into()),
                topic: Some(None),
                room_type: Some(RoomType::Private),
                max_users: Some(None),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            patched.name.as_str(),
            patched.topic.clone(),
            patched.room_type,
            patched.max_users
        ),
        ("renamed", None, RoomType::Private, None)
    );
    // An empty patch changes nothing.
    let same = f.store.update_room(id, RoomPatch::default()).await.unwrap();
    assert_eq!(same, patched);
    assert!(matches!(
        f.store
            .update_room(RoomId::new(), RoomPatch::default())
            .await,
        Err(StoreError::NotFound(Entity::Room))
    ));

    assert!(f.store.delete_room(id).await.unwrap());
    assert!(!f.store.delete_room(id).await.unwrap());
    assert!(f.store.room(id).await.unwrap().is_none());
    assert!(f.store.membership(id, owner.id).await.unwrap().is_none());
}

#[tokio::test]
async fn room_access_reads_room_membership_and_ban_in_one() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (member, banned, outsider) = (f.user("m").await, f.user("b").await, f.user("o").await);
    let id = f.room(&owner, "access", RoomType::Restricted).await;
    f.join(id, &member).await;
    f.store
        .ban(id, banned.id, owner.id, None, now())
        .await
        .unwrap();

    let a = f
        .store
        .room_access(id, Some(member.id))
        .await
        .unwrap()
        .expect("room");
    assert_eq!(
        (a.membership.map(|m| m.role), a.banned),
        (Some(Role::Member), false)
    );
    let a = f
        .store
        .room_access(id, Some(banned.id))
        .await
        .unwrap()
        .expect("room");
    assert_eq!((a.membership.is_none(), a.banned), (true, true));
    let a = f
        .store
        .room_access(id, Some(outsider.id))
        .await
        .unwrap()
        .expect("room");
    assert_eq!((a.membership.is_none(), a.banned), (true, false));
    let a = f.store.room_access(id, None).await.unwrap().expect("room");
    assert_eq!(
        (a.membership.is_none(), a.banned, a.room.member_count),
        (true, false, 2)
    );
    assert!(f
        .store
        .room_access(RoomId::new(), Some(member.id))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn the_room_list_pages_searches_and_hides_private_rooms_from_outsiders() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let insider = f.user("insider").await;
    let outsider = f.user("outsider").await;
    let mut ids = Vec::new();
    for (name, t) in [
        ("alpha public", RoomType::Public),
        ("beta restricted", RoomType::Restricted),
        ("gamma private", RoomType::Private),
        ("delta public", RoomType::Public),
    ] {
        ids.push(f.room(&owner, name, t).await);
    }
    f.join(ids[2], &insider).await;
    let names = |rooms: Vec<roomcast::domain::model::Room>| {
        rooms.into_iter().map(|r| r.name).collect::<Vec<_>>()
    };

    let seen = names(
        f.store
            .list_rooms(Some(outsider.id), None, None, 10)
            .await
            .unwrap(),
    );
    assert_eq!(seen, ["alpha public", "beta restricted", "delta public"]);
    let seen = names(f.store.list_rooms(None, None, None, 10).await.unwrap());
    assert_eq!(seen, ["alpha public", "beta restricted", "delta public"]);
    let seen = names(
        f.store
            .list_rooms(Some(insider.id), None, None, 10)
            .await
            .unwrap(),
    );
    assert_eq!(seen.len(), 4);
    let seen = names(
        f.store
            .list_rooms(Some(owner.id), Some("PUBLIC"), None, 10)
            .await
            .unwrap(),
    );
    assert_eq!(
        seen,
        ["alpha public", "delta public"],
        "search ignores case"
    );

    // Pages follow creation order, after a cursor.
    let first = f
        .store
        .list_rooms(Some(insider.id), None, None, 2)
        .await
        .unwrap();
    let last = first.last().expect("a room");
    let cursor = RoomCursor {
        created_at: last.created_at,
        id: last.id,
    };
    let rest = names(
        f.store
            .list_rooms(Some(insider.id), None, Some(&cursor), 10)
            .await
            .unwrap(),
    );
    assert_eq!(names(first), ["alpha public", "beta restricted"]);
    assert_eq!(rest, ["gamma private", "delta public"]);
}

// --- membership

#[tokio::test]
async fn members_join_up_to_capacity_once_each_and_leave() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (a, b) = (f.user("a").await, f.user("b").await);
    let id = f
        .room_with(&owner, "small", RoomType::Public, Some(2))
        .await;
    let at = now();
    let m = f
        .store
        .add_member(id, a.id, Role::Member, 2, at)
        .await
        .unwrap();
    assert_eq!(
        (m.user.clone(), m.role, m.joined_at, m.muted),
        (a.clone(), Role::Member, at, false)
    );
    assert_eq!(
        conflict(f.store.add_member(id, a.id, Role::Member, 3, at).await),
        Conflict::AlreadyMember
    );
    assert!(matches!(
        f.store.add_member(id, b.id, Role::Member, 2, at).await,
        Err(StoreError::RoomFull(2))
    ));
    let mut names: Vec<_> = f
        .store
        .members(id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user.id)
        .collect();
    names.sort();
    let mut want = vec![owner.id, a.id];
    want.sort();
    assert_eq!(names, want);

    assert!(f.store.remove_member(id, a.id).await.unwrap());
    assert!(!f.store.remove_member(id, a.id).await.unwrap());
    f.store
        .add_member(id, b.id, Role::Member, 2, at)
        .await
        .unwrap();
    assert_eq!(
        f.store.room(id).await.unwrap().expect("room").member_count,
        2
    );
}

#[tokio::test]
async fn roles_change_and_ownership_moves() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let heir = f.user("heir").await;
    let id = f.room(&owner, "crown", RoomType::Public).await;
    f.join(id, &heir).await;
    let m = f.store.set_role(id, heir.id, Role::Admin).await.unwrap();
    assert_eq!(m.role, Role::Admin);
    assert!(matches!(
        f.store.set_role(id, UserId::new(), Role::Admin).await,
        Err(StoreError::NotFound(Entity::Membership))
    ));
    let room = f
        .store
        .transfer_ownership(id, owner.id, heir.id)
        .await
        .unwrap();
    assert_eq!(room.owner, heir);
    let roles = (
        f.store
            .membership(id, owner.id)
            .await
            .unwrap()
            .map(|m| m.role),
        f.store
            .membership(id, heir.id)
            .await
            .unwrap()
            .map(|m| m.role),
    );
    assert_eq!(roles, (Some(Role::Admin), Some(Role::Owner)));
}

#[tokio::test]
async fn mutes_are_set_listed_and_lifted_once() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (a, b) = (f.user("a").await, f.user("b").await);
    let id = f.room(&owner, "quiet", RoomType::Public).await;
    f.join(id, &a).await;
    f.join(id, &b).await;
    let until: Timestamp = now() + Duration::minutes(5);
    let m = f.store.set_mute(id, a.id, true, Some(until)).await.unwrap();
    assert_eq!((m.muted, m.muted_until), (true, Some(until)));
    f.store.set_mute(id, b.id, true, None).await.unwrap();
    // Only timed mutes wait for an expiry.
    assert_eq!(
        f.store.timed_mutes().await.unwrap(),
        vec![(id, a.id, until)]
    );

    // Lifting a mute that was replaced meanwhile does nothing.
    assert!(f
        .store
        .lift_mute(id, a.id, until - Duration::minutes(1))
        .await
        .unwrap()
        .is_none());
    let lifted = f
        .store
        .lift_mute(id, a.id, until)
        .await
        .unwrap()
        .expect("lifted");
    assert_eq!((lifted.muted, lifted.muted_until), (false, None));
    assert!(
        f.store.lift_mute(id, a.id, until).await.unwrap().is_none(),
        "only once"
    );
    assert!(f.store.timed_mutes().await.unwrap().is_empty());
    let m = f.store.set_mute(id, b.id, false, None).await.unwrap();
    assert!(!m.muted);
}

#[tokio::test]
async fn memberships_in_reads_only_the_users_own_among_the_rooms_given() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let me = f.user("me").await;
    let r1 = f.room(&owner, "one", RoomType::Public).await;
    let r2 = f.room(&owner, "two", RoomType::Public).await;
    let r3 = f.room(&me, "mine", RoomType::Public).await;
    f.join(r1, &me).await;
    let mut found: Vec<_> = f
        .store
        .memberships_in(me.id, &[r1, r2, r3, RoomId::new()])
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.room_id, m.role))
        .collect();
    found.sort();
    let mut want = vec![(r1, Role::Member), (r3, Role::Owner)];
    want.sort();
    assert_eq!(found, want);
    assert!(f.store.memberships_in(me.id, &[]).await.unwrap().is_empty());
}

// --- bans and join requests

#[tokio::test]
async fn a_ban_removes_the_membership_and_request_and_blocks_joining() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (member, asker) = (f.user("member").await, f.user("asker").await);
    let id = f.room(&owner, "strict", RoomType::Restricted).await;
    f.join(id, &member).await;
    f.store
        .create_join_request(id, asker.id, Some("hi".into()), now())
        .await
        .unwrap();

    let ban = f
        .store
        .ban(id, member.id, owner.id, Some("spam".into()), now())
        .await
        .unwrap();
    assert_eq!(
        (
            ban.user.clone(),
            ban.banned_by.clone(),
            ban.reason.as_deref()
        ),
        (member.clone(), owner.clone(), Some("spam"))
    );
    f.store
        .ban(id, asker.id, owner.id, None, now())
        .await
        .unwrap();
    assert!(f.store.membership(id, member.id).await.unwrap().is_none());
    assert!(f.store.join_request(id, asker.id).await.unwrap().is_none());
    assert_eq!(
        conflict(f.store.ban(id, member.id, owner.id, None, now()).await),
        Conflict::AlreadyBanned
    );
    assert_eq!(f.store.bans(id).await.unwrap().len(), 2);
    // Banned users can neither be added nor ask to join.
    assert!(matches!(
        f.store
            .add_member(id, member.id, Role::Member, 100, now())
            .await,
        Err(StoreError::Banned)
    ));
    assert!(matches!(
        f.store
            .create_join_request(id, member.id, None, now())
            .await,
        Err(StoreError::Banned)
    ));

    assert!(f.store.unban(id, member.id).await.unwrap());
    assert!(!f.store.unban(id, member.id).await.unwrap());
    f.join(id, &member).await;
}

#[tokio::test]
async fn join_requests_are_made_once_listed_and_cleared_by_joining() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (a, b) = (f.user("a").await, f.user("b").await);
    let id = f.room(&owner, "ask", RoomType::Restricted).await;
    let at = now();
    let r = f
        .store
        .create_join_request(id, a.id, Some("let me in".into()), at)
        .await
        .unwrap();
    assert_eq!(
        (r.user.clone(), r.message.as_deref(), r.created_at),
        (a.clone(), Some("let me in"), at)
    );
    assert_eq!(
        conflict(f.store.create_join_request(id, a.id, None, at).await),
        Conflict::JoinRequestPending
    );
    f.store
        .create_join_request(id, b.id, None, at)
        .await
        .unwrap();
    assert_eq!(f.store.join_requests(id).await.unwrap().len(), 2);
    assert_eq!(f.store.join_request(id, a.id).await.unwrap(), Some(r));

    assert!(f.store.delete_join_request(id, b.id).await.unwrap());
    assert!(!f.store.delete_join_request(id, b.id).await.unwrap());
    // Joining clears the member's own request.
    f.join(id, &a).await;
    assert!(f.store.join_request(id, a.id).await.unwrap().is_none());
}

/// Ban racing join, many times: the invariant banned XOR member holds inside the database
/// (defect 4 of the hardening issue), whichever commits first.
#[tokio::test]
async fn a_ban_racing_a_join_never_leaves_a_banned_member() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let id = f.room(&owner, "race", RoomType::Public).await;
    for _ in 0..40 {
        let user = f.user("racer").await;
        let (s1, s2) = (f.store.clone(), f.store.clone());
        let (uid, oid) = (user.id, owner.id);
        let join =
            tokio::spawn(async move { s1.add_member(id, uid, Role::Member, 10_000, now()).await });
        let ban = tokio::spawn(async move { s2.ban(id, uid, oid, None, now()).await });
        let (_, _) = (join.await.unwrap(), ban.await.unwrap());
        let access = f
            .store
            .room_access(id, Some(user.id))
            .await
            .unwrap()
            .expect("room");
        assert!(
            !(access.banned && access.membership.is_some()),
            "{} is banned and a member",
            user.username
        );
        assert!(
            access.banned,
            "the ban always lands (it removes a membership that won)"
        );
    }
}

// --- messages

#[tokio::test]
async fn messages_get_consecutive_seqs_and_page_both_ways() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let id = f.room(&owner, "chat", RoomType::Public).await;
    let other = f.room(&owner, "elsewhere", RoomType::Public).await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        let m = f
            .store
            .insert_message(MessageId::new(), id, &owner, format!("m{n}"), now())
            .await
            .unwrap();
        assert_eq!(
            (m.seq, m.body.as_str(), m.author.clone()),
            (n, format!("m{n}").as_str(), owner.clone())
        );
        ids.push(m.id);
    }
    let o = f
        .store
        .insert_message(MessageId::new(), other, &owner, "x".into(), now())
        .await
        .unwrap();
    assert_eq!(o.seq, 1, "each room counts its own");
    assert_eq!(f.store.room(id).await.unwrap().expect("room").last_seq, 5);

    let bodies = |ms: Vec<roomcast::domain::model::Message>| {
        ms.into_iter().map(|m| m.body).collect::<Vec<_>>()
    };
    assert_eq!(
        bodies(f.store.messages_before(id, None, 2).await.unwrap()),
        ["m5", "m4"],
        "newest first"
    );
    assert_eq!(
        bodies(f.store.messages_before(id, Some(4), 10).await.unwrap()),
        ["m3", "m2", "m1"]
    );
    assert_eq!(
        bodies(f.store.messages_after(id, 1, None, 2).await.unwrap()),
        ["m2", "m3"],
        "oldest first"
    );
    assert_eq!(
        bodies(f.store.messages_after(id, 1, Some(4), 10).await.unwrap()),
        ["m2", "m3", "m4"]
    );

    let third = f.store.message(ids[2]).await.unwrap().expect("message");
    assert_eq!((third.seq, third.room_id), (3, id));
    assert!(f.store.delete_message(ids[2]).await.unwrap());
    assert!(!f.store.delete_message(ids[2]).await.unwrap());
    assert!(f.store.message(ids[2]).await.unwrap().is_none());
    assert_eq!(
        bodies(f.store.messages_after(id, 0, None, 10).await.unwrap()),
        ["m1", "m2", "m4", "m5"]
    );
    // A deleted message's seq is never reused.
    let next = f
        .store
        .insert_message(MessageId::new(), id, &owner, "m6".into(), now())
        .await
        .unwrap();
    assert_eq!(next.seq, 6);
}
