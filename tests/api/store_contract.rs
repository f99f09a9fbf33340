//! The `Store` contract: every method of the trait, run against whichever backend the
//! suite runs on (`scripts/test` runs it on SQLite and again on PostgreSQL with
//! `ROOMCAST_TEST_BACKEND=postgres`), so the two implementations cannot drift apart
//! unnoticed. Talks to the store directly, as the domain does.

use std::sync::Arc;

use chrono::Duration;
use roomcast::domain::model::ModerationAction;
use roomcast::domain::model::UpdateRoom;
use roomcast::domain::model::{now, Role, RoomType, Timestamp, User};
use roomcast::domain::ports::{
    Audit, CatchUp, History, Mute, NewBan, NewJoinRequest, NewMember, NewMessage, RoomQuery,
    TimedMute,
};
use roomcast::domain::values::{MessageId, RoomCursor, RoomId, UserId};
use roomcast::domain::values::{Note, RoomName};
use roomcast::store::{Conflict, Entity, Store, StoreError};

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
        max_users: Option<i32>,
    ) -> RoomId {
        let room = new_room(owner.id, name, room_type, Some("a topic"), max_users);
        let room = self.store.create_room(room).await.expect("create room");
        room.id
    }

    async fn join(&self, room: RoomId, user: &User) {
        self.store
            .add_member(member(room, user, now()), 10_000)
            .await
            .expect("add member");
    }
}

fn member(room: RoomId, user: &User, at: Timestamp) -> NewMember {
    NewMember {
        room,
        user: user.id,
        role: Role::Member,
        at,
        audit: None,
        invite: None,
    }
}

fn ban_of(room: RoomId, user: &User, by: &User, reason: Option<&str>) -> NewBan {
    NewBan {
        room,
        user: user.id,
        by: by.id,
        reason: note(reason),
        at: now(),
        expires_at: None,
        purge_since: None,
    }
}

/// A log entry of `action` by `actor` in `room`, now.
fn audit(room: RoomId, actor: &User, action: ModerationAction) -> Audit {
    Audit {
        room,
        action,
        actor: actor.id,
        target: None,
        reason: None,
        at: now(),
    }
}

fn request(room: RoomId, user: &User, message: Option<&str>, at: Timestamp) -> NewJoinRequest {
    NewJoinRequest {
        room,
        user: user.id,
        message: note(message),
        at,
    }
}

fn message(room: RoomId, author: &User, body: &str) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        room,
        author: author.clone(),
        body: body.to_owned(),
        at: now(),
    }
}

fn rooms_for(viewer: Option<&User>, search: Option<&str>, limit: u32) -> RoomQuery {
    RoomQuery {
        viewer: viewer.map(|u| u.id),
        search: search.map(str::to_owned),
        after: None,
        limit,
    }
}

fn note(text: Option<&str>) -> Option<Note> {
    Note::parse("note", text).expect("a valid note")
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
            UpdateRoom {
                name: Some(RoomName::parse("renamed").unwrap()),
                topic: Some(None),
                room_type: Some(RoomType::Private),
                max_users: Some(None),
                ..UpdateRoom::default()
            },
            audit(id, &owner, ModerationAction::RoomUpdated),
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
    let same = f
        .store
        .update_room(
            id,
            UpdateRoom::default(),
            audit(id, &owner, ModerationAction::RoomUpdated),
        )
        .await
        .unwrap();
    assert_eq!(same, patched);
    assert!(matches!(
        f.store
            .update_room(
                RoomId::new(),
                UpdateRoom::default(),
                audit(id, &owner, ModerationAction::RoomUpdated)
            )
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
        .ban(ban_of(id, &banned, &owner, None))
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
            .list_rooms(rooms_for(Some(&outsider), None, 10))
            .await
            .unwrap(),
    );
    assert_eq!(seen, ["alpha public", "beta restricted", "delta public"]);
    let seen = names(f.store.list_rooms(rooms_for(None, None, 10)).await.unwrap());
    assert_eq!(seen, ["alpha public", "beta restricted", "delta public"]);
    let seen = names(
        f.store
            .list_rooms(rooms_for(Some(&insider), None, 10))
            .await
            .unwrap(),
    );
    assert_eq!(seen.len(), 4);
    let seen = names(
        f.store
            .list_rooms(rooms_for(Some(&owner), Some("PUBLIC"), 10))
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
        .list_rooms(rooms_for(Some(&insider), None, 2))
        .await
        .unwrap();
    let last = first.last().expect("a room");
    let cursor = RoomCursor {
        created_at: last.created_at,
        id: last.id,
    };
    let rest = names(
        f.store
            .list_rooms(RoomQuery {
                after: Some(cursor),
                ..rooms_for(Some(&insider), None, 10)
            })
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
    let m = f.store.add_member(member(id, &a, at), 2).await.unwrap();
    assert_eq!(
        (m.user.clone(), m.role, m.joined_at, m.muted),
        (a.clone(), Role::Member, at, false)
    );
    assert_eq!(
        conflict(f.store.add_member(member(id, &a, at), 3).await),
        Conflict::AlreadyMember
    );
    assert!(matches!(
        f.store.add_member(member(id, &b, at), 2).await,
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

    assert!(f.store.remove_member(id, a.id, None).await.unwrap());
    assert!(!f.store.remove_member(id, a.id, None).await.unwrap());
    f.store.add_member(member(id, &b, at), 2).await.unwrap();
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
    let by = |action| audit(id, &owner, action);
    let m = f
        .store
        .set_role(id, heir.id, Role::Admin, by(ModerationAction::RoleChanged))
        .await
        .unwrap();
    assert_eq!(m.role, Role::Admin);
    assert!(matches!(
        f.store
            .set_role(
                id,
                UserId::new(),
                Role::Admin,
                by(ModerationAction::RoleChanged)
            )
            .await,
        Err(StoreError::NotFound(Entity::Membership))
    ));
    let room = f
        .store
        .transfer_ownership(id, heir.id, by(ModerationAction::OwnershipTransferred))
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

/// Two transfers racing, many times: the room always ends with exactly one owner, one of
/// the two named, and it is `rooms.owner_id` too.
#[tokio::test]
async fn racing_transfers_leave_exactly_one_owner() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (x, y) = (f.user("x").await, f.user("y").await);
    let id = f.room(&owner, "throne", RoomType::Public).await;
    f.join(id, &x).await;
    f.join(id, &y).await;
    for _ in 0..20 {
        let (s1, s2) = (f.store.clone(), f.store.clone());
        let (to_x, to_y) = (x.id, y.id);
        let (ax, ay) = (
            audit(id, &owner, ModerationAction::OwnershipTransferred),
            audit(id, &owner, ModerationAction::OwnershipTransferred),
        );
        let a = tokio::spawn(async move { s1.transfer_ownership(id, to_x, ax).await });
        let b = tokio::spawn(async move { s2.transfer_ownership(id, to_y, ay).await });
        let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
        let owners: Vec<_> = f
            .store
            .members(id)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .map(|m| m.user.id)
            .collect();
        let room = f.store.room(id).await.unwrap().expect("room");
        assert_eq!(owners, vec![room.owner.id], "one owner, the room's");
        assert!(
            [a.owner.id, b.owner.id].contains(&room.owner.id),
            "the owner is one of the two named"
        );
    }
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
    let m = f
        .store
        .set_mute(
            id,
            a.id,
            Mute::On { until: Some(until) },
            audit(id, &owner, ModerationAction::MemberMuted),
        )
        .await
        .unwrap();
    assert_eq!((m.muted, m.muted_until), (true, Some(until)));
    f.store
        .set_mute(
            id,
            b.id,
            Mute::On { until: None },
            audit(id, &owner, ModerationAction::MemberMuted),
        )
        .await
        .unwrap();
    // Only timed mutes wait for an expiry.
    assert_eq!(
        f.store.timed_mutes().await.unwrap(),
        vec![TimedMute {
            room: id,
            user: a.id,
            until
        }]
    );

    // Lifting a mute that was replaced meanwhile does nothing.
    assert!(f
        .store
        .lift_mute(TimedMute {
            room: id,
            user: a.id,
            until: until - Duration::minutes(1),
        })
        .await
        .unwrap()
        .is_none());
    let timed = TimedMute {
        room: id,
        user: a.id,
        until,
    };
    let lifted = f.store.lift_mute(timed).await.unwrap().expect("lifted");
    assert_eq!((lifted.muted, lifted.muted_until), (false, None));
    assert!(
        f.store.lift_mute(timed).await.unwrap().is_none(),
        "only once"
    );
    assert!(f.store.timed_mutes().await.unwrap().is_empty());
    let m = f
        .store
        .set_mute(
            id,
            b.id,
            Mute::Off,
            audit(id, &owner, ModerationAction::MemberUnmuted),
        )
        .await
        .unwrap();
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
        .create_join_request(request(id, &asker, Some("hi"), now()))
        .await
        .unwrap();

    let ban = f
        .store
        .ban(ban_of(id, &member, &owner, Some("spam")))
        .await
        .unwrap()
        .ban;
    assert_eq!(
        (
            ban.user.clone(),
            ban.banned_by.clone(),
            ban.reason.as_deref()
        ),
        (member.clone(), owner.clone(), Some("spam"))
    );
    f.store.ban(ban_of(id, &asker, &owner, None)).await.unwrap();
    assert!(f.store.membership(id, member.id).await.unwrap().is_none());
    assert!(f.store.join_request(id, asker.id).await.unwrap().is_none());
    assert_eq!(
        conflict(f.store.ban(ban_of(id, &member, &owner, None)).await),
        Conflict::AlreadyBanned
    );
    assert_eq!(f.store.bans(id).await.unwrap().len(), 2);
    // Banned users can neither be added nor ask to join.
    assert!(matches!(
        f.store
            .add_member(self::member(id, &member, now()), 100)
            .await,
        Err(StoreError::Banned)
    ));
    assert!(matches!(
        f.store
            .create_join_request(request(id, &member, None, now()))
            .await,
        Err(StoreError::Banned)
    ));

    let unban = || audit(id, &owner, ModerationAction::MemberUnbanned);
    assert!(f.store.unban(id, member.id, unban()).await.unwrap());
    assert!(!f.store.unban(id, member.id, unban()).await.unwrap());
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
        .create_join_request(request(id, &a, Some("let me in"), at))
        .await
        .unwrap();
    assert_eq!(
        (r.user.clone(), r.message.as_deref(), r.created_at),
        (a.clone(), Some("let me in"), at)
    );
    assert_eq!(
        conflict(f.store.create_join_request(request(id, &a, None, at)).await),
        Conflict::JoinRequestPending
    );
    f.store
        .create_join_request(request(id, &b, None, at))
        .await
        .unwrap();
    assert_eq!(f.store.join_requests(id).await.unwrap().len(), 2);
    assert_eq!(f.store.join_request(id, a.id).await.unwrap(), Some(r));

    assert!(f.store.delete_join_request(id, b.id, None).await.unwrap());
    assert!(!f.store.delete_join_request(id, b.id, None).await.unwrap());
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
        let (join, ban) = (member(id, &user, now()), ban_of(id, &user, &owner, None));
        let join = tokio::spawn(async move { s1.add_member(join, 10_000).await });
        let ban = tokio::spawn(async move { s2.ban(ban).await });
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
            .insert_message(message(id, &owner, &format!("m{n}")))
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
        .insert_message(message(other, &owner, "x"))
        .await
        .unwrap();
    assert_eq!(o.seq, 1, "each room counts its own");
    assert_eq!(f.store.room(id).await.unwrap().expect("room").last_seq, 5);

    let bodies = |ms: Vec<roomcast::domain::model::Message>| {
        ms.into_iter().map(|m| m.body).collect::<Vec<_>>()
    };
    assert_eq!(
        bodies(
            f.store
                .messages_before(
                    id,
                    History {
                        before: None,
                        limit: 2
                    }
                )
                .await
                .unwrap()
        ),
        ["m5", "m4"],
        "newest first"
    );
    assert_eq!(
        bodies(
            f.store
                .messages_before(
                    id,
                    History {
                        before: Some(4),
                        limit: 10
                    }
                )
                .await
                .unwrap()
        ),
        ["m3", "m2", "m1"]
    );
    assert_eq!(
        bodies(
            f.store
                .messages_after(
                    id,
                    CatchUp {
                        after: 1,
                        up_to: None,
                        limit: 2
                    }
                )
                .await
                .unwrap()
        ),
        ["m2", "m3"],
        "oldest first"
    );
    assert_eq!(
        bodies(
            f.store
                .messages_after(
                    id,
                    CatchUp {
                        after: 1,
                        up_to: Some(4),
                        limit: 10
                    }
                )
                .await
                .unwrap()
        ),
        ["m2", "m3", "m4"]
    );

    let third = f.store.message(ids[2]).await.unwrap().expect("message");
    assert_eq!((third.seq, third.room_id), (3, id));
    assert!(f.store.delete_message(ids[2], None).await.unwrap());
    assert!(!f.store.delete_message(ids[2], None).await.unwrap());
    assert!(f.store.message(ids[2]).await.unwrap().is_none());
    assert_eq!(
        bodies(
            f.store
                .messages_after(
                    id,
                    CatchUp {
                        after: 0,
                        up_to: None,
                        limit: 10
                    }
                )
                .await
                .unwrap()
        ),
        ["m1", "m2", "m4", "m5"]
    );
    // A deleted message's seq is never reused.
    let next = f
        .store
        .insert_message(message(id, &owner, "m6"))
        .await
        .unwrap();
    assert_eq!(next.seq, 6);
}
