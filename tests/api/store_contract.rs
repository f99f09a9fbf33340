//! The `Store` contract: every method of the trait, run against whichever backend the
//! suite runs on (`scripts/test` runs it on SQLite and again on PostgreSQL with
//! `ROOMCAST_TEST_BACKEND=postgres`), so the two implementations cannot drift apart
//! unnoticed. Talks to the store directly, as the domain does.

use std::sync::Arc;

use chrono::Duration;
use roomcast::domain::model::UpdateRoom;
use roomcast::domain::model::{now, Role, RoomType, Timestamp, User};
use roomcast::domain::model::{
    Membership, ModerationAction, ModerationEntry, Report, ReportStatus,
};
use roomcast::domain::ports::{
    Audit, CatchUp, History, Mute, NewBan, NewJoinRequest, NewMember, NewMessage, RoomQuery,
    TimedMute,
};
use roomcast::domain::ports::{NewInvite, NewReport, RecordPage, ReportDecision, TimedBan};
use roomcast::domain::values::{InviteCode, RecordCursor, ReportId};
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

// --- moderation tools: slow mode, timed bans, purges, the log, reports and invites

/// A log entry of `action` by `actor` in `room` at `at`, about `target`, saying `reason`.
fn audit_of(
    room: RoomId,
    actor: &User,
    action: ModerationAction,
    target: Option<&User>,
    reason: Option<&str>,
    at: Timestamp,
) -> Audit {
    Audit {
        room,
        action,
        actor: actor.id,
        target: target.map(|t| t.id),
        reason: reason.map(str::to_owned),
        at,
    }
}

/// One log entry as (action, actor, target, reason).
type LogRow = (ModerationAction, UserId, Option<UserId>, Option<String>);

fn row(
    action: ModerationAction,
    actor: &User,
    target: Option<&User>,
    reason: Option<&str>,
) -> LogRow {
    (
        action,
        actor.id,
        target.map(|t| t.id),
        reason.map(str::to_owned),
    )
}

fn page(after: Option<RecordCursor>, limit: u32) -> RecordPage {
    RecordPage { after, limit }
}

fn message_at(room: RoomId, author: &User, body: &str, at: Timestamp) -> NewMessage {
    NewMessage {
        at,
        ..message(room, author, body)
    }
}

fn report_of(room: RoomId, message: MessageId, reporter: &User, reason: &str) -> NewReport {
    NewReport {
        id: ReportId::new(),
        room,
        message,
        reporter: reporter.id,
        reason: reason.to_owned(),
        at: now(),
    }
}

fn decision(id: ReportId, status: ReportStatus, by: &User, delete_message: bool) -> ReportDecision {
    ReportDecision {
        id,
        status,
        by: by.id,
        at: now(),
        delete_message,
    }
}

fn invite_of(
    room: RoomId,
    by: &User,
    max_uses: Option<i64>,
    expires_at: Option<Timestamp>,
    at: Timestamp,
) -> NewInvite {
    NewInvite {
        code: InviteCode::generate(),
        room,
        by: by.id,
        max_uses,
        expires_at,
        at,
        limit: 100,
    }
}

fn invited(room: RoomId, user: &User, code: &InviteCode, at: Timestamp) -> NewMember {
    NewMember {
        invite: Some(code.clone()),
        ..member(room, user, at)
    }
}

fn cursor_of(entry: &ModerationEntry) -> RecordCursor {
    RecordCursor {
        created_at: entry.created_at,
        id: entry.id.0,
    }
}

/// The entries written to the room's log since `seen` of them were are exactly `rows`
/// (newest first).
async fn check_log(f: &Fixture, room: RoomId, step: &str, rows: Vec<LogRow>, seen: &mut usize) {
    let log = f.log(room).await;
    let new = log.len() - *seen;
    assert_eq!(log[..new], rows[..], "{step}");
    *seen = log.len();
}

impl Fixture {
    /// The room's whole log (up to 100 entries), newest first.
    async fn log(&self, room: RoomId) -> Vec<LogRow> {
        self.store
            .moderation_log(room, page(None, 100))
            .await
            .expect("moderation log")
            .into_iter()
            .map(|e| (e.action, e.actor.id, e.target.map(|t| t.id), e.reason))
            .collect()
    }

    async fn uses(&self, code: &InviteCode) -> i64 {
        self.store
            .invite(code.clone())
            .await
            .expect("read invite")
            .expect("invite")
            .uses
    }
}

#[tokio::test]
async fn claim_post_admits_one_post_per_interval_and_member() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (poster, outsider) = (f.user("poster").await, f.user("outsider").await);
    let id = f.room(&owner, "slow", RoomType::Public).await;
    f.join(id, &poster).await;
    let t0 = now();
    let every = Duration::seconds(60);
    let secs = Duration::seconds;
    let claim = |user: UserId, at: Timestamp| f.store.claim_post(id, user, at, every);

    assert_eq!(claim(poster.id, t0).await.unwrap(), None, "the first post");
    assert_eq!(claim(poster.id, t0 + secs(59)).await.unwrap(), Some(t0));
    // A refused claim does not move the last post: the interval counts from t0.
    assert_eq!(claim(poster.id, t0 + secs(60)).await.unwrap(), None);
    assert_eq!(
        claim(poster.id, t0 + secs(61)).await.unwrap(),
        Some(t0 + secs(60))
    );
    assert_eq!(
        claim(owner.id, t0 + secs(1)).await.unwrap(),
        None,
        "each member has their own interval"
    );
    let at = t0 + secs(600);
    assert_eq!(
        claim(outsider.id, at).await.unwrap(),
        Some(at),
        "no membership: nothing to claim"
    );

    // Claims racing for the same moment: exactly one wins.
    let at = t0 + secs(3600);
    let racers: Vec<_> = (0..10)
        .map(|_| {
            let store = f.store.clone();
            let user = poster.id;
            tokio::spawn(async move { store.claim_post(id, user, at, every).await })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        match r.await.unwrap().unwrap() {
            None => won += 1,
            Some(last) => assert_eq!(last, at),
        }
    }
    assert_eq!(won, 1, "one of the racing claims");
}

#[tokio::test]
async fn timed_bans_are_listed_and_lifted_once_without_a_log_entry() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (timed, forever) = (f.user("timed").await, f.user("forever").await);
    let id = f.room(&owner, "bans", RoomType::Public).await;
    f.join(id, &timed).await;
    let until = now() + Duration::minutes(10);
    let ban = f
        .store
        .ban(NewBan {
            expires_at: Some(until),
            ..ban_of(id, &timed, &owner, None)
        })
        .await
        .unwrap()
        .ban;
    assert_eq!(ban.expires_at, Some(until));
    f.store
        .ban(ban_of(id, &forever, &owner, None))
        .await
        .unwrap();
    let timed_ban = TimedBan {
        room: id,
        user: timed.id,
        until,
    };
    assert_eq!(f.store.timed_bans().await.unwrap(), vec![timed_ban]);

    // A ban that was replaced meanwhile (another `until`) is not lifted.
    let stale = TimedBan {
        until: until - Duration::minutes(1),
        ..timed_ban
    };
    assert!(!f.store.lift_ban(stale).await.unwrap());
    assert!(f.store.lift_ban(timed_ban).await.unwrap());
    assert!(!f.store.lift_ban(timed_ban).await.unwrap(), "only once");
    assert!(f.store.timed_bans().await.unwrap().is_empty());
    let left: Vec<_> = f
        .store
        .bans(id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.user.id)
        .collect();
    assert_eq!(left, vec![forever.id]);
    f.join(id, &timed).await;
    assert_eq!(
        f.log(id).await,
        vec![
            row(ModerationAction::MemberBanned, &owner, Some(&forever), None),
            row(ModerationAction::MemberBanned, &owner, Some(&timed), None),
        ],
        "lifting by itself is no one's action"
    );
}

#[tokio::test]
async fn a_ban_with_a_purge_erases_the_users_recent_messages_in_the_room() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (spammer, bystander) = (f.user("spammer").await, f.user("bystander").await);
    let id = f.room(&owner, "purged", RoomType::Public).await;
    let elsewhere = f.room(&owner, "elsewhere", RoomType::Public).await;
    f.join(id, &spammer).await;
    f.join(id, &bystander).await;
    let t0 = now();
    let mins = Duration::minutes;
    let insert = |room, who: &User, body: &str, at| {
        let m = message_at(room, who, body, at);
        let store = f.store.clone();
        async move { store.insert_message(m).await.unwrap() }
    };
    let old = insert(id, &spammer, "old", t0 - mins(120)).await;
    let recent1 = insert(id, &spammer, "recent 1", t0 - mins(30)).await;
    let recent2 = insert(id, &spammer, "recent 2", t0 - mins(10)).await;
    let theirs = insert(id, &bystander, "theirs", t0 - mins(10)).await;
    let other_room = insert(elsewhere, &spammer, "elsewhere", t0 - mins(10)).await;

    let outcome = f
        .store
        .ban(NewBan {
            at: t0,
            purge_since: Some(t0 - mins(60)),
            ..ban_of(id, &spammer, &owner, Some("spam"))
        })
        .await
        .unwrap();

    assert_eq!(outcome.purged, vec![recent1.id, recent2.id], "oldest first");
    assert_eq!(outcome.ban.user, spammer);
    for gone in [recent1.id, recent2.id] {
        assert!(f.store.message(gone).await.unwrap().is_none());
    }
    for kept in [old.id, theirs.id, other_room.id] {
        assert!(f.store.message(kept).await.unwrap().is_some());
    }
    assert_eq!(
        f.log(id).await,
        vec![
            row(
                ModerationAction::MessagesPurged,
                &owner,
                Some(&spammer),
                Some("2 messages")
            ),
            row(
                ModerationAction::MemberBanned,
                &owner,
                Some(&spammer),
                Some("spam")
            ),
        ]
    );

    // A purge that finds nothing erases nothing and logs only the ban.
    let quiet = f.user("quiet").await;
    f.join(id, &quiet).await;
    let outcome = f
        .store
        .ban(NewBan {
            purge_since: Some(t0 - mins(60)),
            ..ban_of(id, &quiet, &owner, None)
        })
        .await
        .unwrap();
    assert!(outcome.purged.is_empty());
    let log = f.log(id).await;
    assert_eq!(
        log[0],
        row(ModerationAction::MemberBanned, &owner, Some(&quiet), None)
    );
    assert_eq!(log.len(), 3);
}

#[tokio::test]
async fn the_moderation_log_pages_newest_first() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let id = f.room(&owner, "logged", RoomType::Public).await;
    let other = f.room(&owner, "other", RoomType::Public).await;
    let t0 = now();
    let topic = |n: i64| UpdateRoom {
        topic: Some(Some(
            roomcast::domain::values::Topic::parse(&format!("t{n}"))
                .unwrap()
                .expect("topic"),
        )),
        ..UpdateRoom::default()
    };
    for n in 1..=5 {
        let at = t0 + Duration::seconds(n);
        let reason = format!("{n}");
        let entry = audit_of(
            id,
            &owner,
            ModerationAction::RoomUpdated,
            None,
            Some(&reason),
            at,
        );
        f.store.update_room(id, topic(n), entry).await.unwrap();
    }
    // Two entries at the same moment: the one written later is the newer.
    let same = t0 + Duration::seconds(6);
    for reason in ["6a", "6b"] {
        let entry = audit_of(
            id,
            &owner,
            ModerationAction::RoomUpdated,
            None,
            Some(reason),
            same,
        );
        f.store.update_room(id, topic(6), entry).await.unwrap();
    }
    let entry = audit_of(
        other,
        &owner,
        ModerationAction::RoomUpdated,
        None,
        Some("elsewhere"),
        same,
    );
    f.store.update_room(other, topic(7), entry).await.unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let got = f.store.moderation_log(id, page(after, 2)).await.unwrap();
        if got.is_empty() {
            break;
        }
        assert!(got.iter().all(|e| e.room_id == id));
        after = got.last().map(cursor_of);
        seen.extend(got.into_iter().map(|e| (e.reason, e.created_at)));
        assert!(seen.len() <= 7, "paging does not end: {seen:?}");
    }
    let reasons: Vec<_> = seen
        .iter()
        .map(|(r, _)| r.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(reasons, ["6b", "6a", "5", "4", "3", "2", "1"]);
    assert_eq!(seen[0].1, same);
    assert_eq!(seen[6].1, t0 + Duration::seconds(1));
    // A page of one across the tie.
    let newest = f.store.moderation_log(id, page(None, 1)).await.unwrap();
    let next = f
        .store
        .moderation_log(id, page(Some(cursor_of(&newest[0])), 1))
        .await
        .unwrap();
    assert_eq!(next[0].reason.as_deref(), Some("6a"));
}

#[tokio::test]
async fn reports_are_made_once_while_open_listed_by_status_and_decided_once() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (author, a, b) = (f.user("author").await, f.user("a").await, f.user("b").await);
    let id = f.room(&owner, "reported", RoomType::Public).await;
    let msg = f
        .store
        .insert_message(message(id, &author, "bad"))
        .await
        .unwrap();

    let r1 = f
        .store
        .create_report(report_of(id, msg.id, &a, "spam"))
        .await
        .unwrap();
    assert_eq!(
        (
            r1.room_id,
            r1.message.clone(),
            r1.reporter.clone(),
            r1.reason.as_str(),
            r1.status,
            r1.resolved_by.clone(),
            r1.resolved_at
        ),
        (
            id,
            Some(msg.clone()),
            a.clone(),
            "spam",
            ReportStatus::Open,
            None,
            None
        )
    );
    assert_eq!(
        conflict(
            f.store
                .create_report(report_of(id, msg.id, &a, "again"))
                .await
        ),
        Conflict::ReportOpen
    );
    let r2 = f
        .store
        .create_report(report_of(id, msg.id, &b, "rude"))
        .await
        .unwrap();
    assert_eq!(f.store.report(r1.id).await.unwrap(), Some(r1.clone()));
    assert_eq!(f.store.report(ReportId::new()).await.unwrap(), None);
    let ids = |rs: Vec<Report>| rs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let open = f
        .store
        .reports(id, ReportStatus::Open, page(None, 10))
        .await
        .unwrap();
    assert_eq!(ids(open), vec![r2.id, r1.id], "newest first");
    let after_r2 = RecordCursor {
        created_at: r2.created_at,
        id: r2.id.0,
    };
    let rest = f
        .store
        .reports(id, ReportStatus::Open, page(Some(after_r2), 10))
        .await
        .unwrap();
    assert_eq!(ids(rest), vec![r1.id]);

    // Dismissed: the message stays; a second decision is refused; the reporter may report again.
    let t = now();
    let dismissed = f
        .store
        .decide_report(ReportDecision {
            at: t,
            ..decision(r1.id, ReportStatus::Dismissed, &owner, false)
        })
        .await
        .unwrap();
    assert_eq!(dismissed.deleted, None);
    let d = &dismissed.report;
    assert_eq!(
        (
            d.status,
            d.resolved_by.clone(),
            d.resolved_at,
            d.message.clone()
        ),
        (
            ReportStatus::Dismissed,
            Some(owner.clone()),
            Some(t),
            Some(msg.clone())
        )
    );
    for status in [ReportStatus::Resolved, ReportStatus::Dismissed] {
        assert_eq!(
            conflict(
                f.store
                    .decide_report(decision(r1.id, status, &owner, true))
                    .await
            ),
            Conflict::ReportDecided
        );
    }
    assert!(f.store.message(msg.id).await.unwrap().is_some());
    assert!(matches!(
        f.store
            .decide_report(decision(
                ReportId::new(),
                ReportStatus::Resolved,
                &owner,
                false
            ))
            .await,
        Err(StoreError::NotFound(Entity::Report))
    ));
    let r3 = f
        .store
        .create_report(report_of(id, msg.id, &a, "still spam"))
        .await
        .unwrap();

    // Resolved with the message erased: gone, and gone from every report of it.
    let resolved = f
        .store
        .decide_report(decision(r2.id, ReportStatus::Resolved, &owner, true))
        .await
        .unwrap();
    assert_eq!(resolved.deleted, Some(msg.id));
    assert_eq!(resolved.report.status, ReportStatus::Resolved);
    assert_eq!(resolved.report.message, None);
    assert!(f.store.message(msg.id).await.unwrap().is_none());
    assert_eq!(
        f.store.report(r3.id).await.unwrap().expect("r3").message,
        None
    );
    let by_status = |status| f.store.reports(id, status, page(None, 10));
    assert_eq!(
        ids(by_status(ReportStatus::Open).await.unwrap()),
        vec![r3.id]
    );
    assert_eq!(
        ids(by_status(ReportStatus::Resolved).await.unwrap()),
        vec![r2.id]
    );
    assert_eq!(
        ids(by_status(ReportStatus::Dismissed).await.unwrap()),
        vec![r1.id]
    );
    // A report of an erased message is decided, with nothing left to erase.
    let last = f
        .store
        .decide_report(decision(r3.id, ReportStatus::Resolved, &owner, true))
        .await
        .unwrap();
    assert_eq!((last.deleted, last.report.message), (None, None));

    assert_eq!(
        f.log(id).await[1..],
        [
            row(
                ModerationAction::MessageDeleted,
                &owner,
                Some(&author),
                None
            ),
            row(
                ModerationAction::ReportResolved,
                &owner,
                Some(&author),
                Some("rude")
            ),
            row(
                ModerationAction::ReportDismissed,
                &owner,
                Some(&author),
                Some("spam")
            ),
        ]
    );
    // The decision on the report whose message was already erased (its target, the
    // author, is not asserted: the report no longer knows them).
    let newest = &f.log(id).await[0];
    assert_eq!(
        (newest.0, newest.1, newest.3.as_deref()),
        (
            ModerationAction::ReportResolved,
            owner.id,
            Some("still spam")
        )
    );
}

#[tokio::test]
async fn erasing_ones_own_reported_message_is_no_deletion_entry() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let reporter = f.user("reporter").await;
    let id = f.room(&owner, "own", RoomType::Public).await;
    let msg = f
        .store
        .insert_message(message(id, &owner, "mine"))
        .await
        .unwrap();
    let r = f
        .store
        .create_report(report_of(id, msg.id, &reporter, "hm"))
        .await
        .unwrap();
    let decided = f
        .store
        .decide_report(decision(r.id, ReportStatus::Resolved, &owner, true))
        .await
        .unwrap();
    assert_eq!(decided.deleted, Some(msg.id));
    assert_eq!(
        f.log(id).await,
        vec![row(
            ModerationAction::ReportResolved,
            &owner,
            Some(&owner),
            Some("hm")
        )]
    );
}

#[tokio::test]
async fn invites_are_created_read_listed_and_revoked_once() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let id = f.room(&owner, "invites", RoomType::Private).await;
    let other = f.room(&owner, "other", RoomType::Private).await;
    let t0 = now();
    let secs = Duration::seconds;
    let first = f
        .store
        .create_invite(invite_of(id, &owner, Some(2), Some(t0 + secs(3600)), t0))
        .await
        .unwrap();
    assert_eq!(
        (
            first.room_id,
            first.created_by.clone(),
            first.max_uses,
            first.uses,
            first.expires_at,
            first.revoked,
            first.created_at
        ),
        (
            id,
            owner.clone(),
            Some(2),
            0,
            Some(t0 + secs(3600)),
            false,
            t0
        )
    );
    let unlimited = f
        .store
        .create_invite(invite_of(id, &owner, None, None, t0 + secs(1)))
        .await
        .unwrap();
    let short = f
        .store
        .create_invite(invite_of(
            id,
            &owner,
            None,
            Some(t0 + secs(10)),
            t0 + secs(2),
        ))
        .await
        .unwrap();
    f.store
        .create_invite(invite_of(other, &owner, None, None, t0))
        .await
        .unwrap();
    assert_eq!(
        f.store.invite(first.code.clone()).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(f.store.invite(InviteCode::generate()).await.unwrap(), None);
    let codes = |is: Vec<roomcast::domain::model::Invite>| {
        is.into_iter().map(|i| i.code).collect::<Vec<_>>()
    };
    assert_eq!(
        codes(f.store.invites(id, t0 + secs(5)).await.unwrap()),
        vec![
            short.code.clone(),
            unlimited.code.clone(),
            first.code.clone()
        ],
        "newest first"
    );
    assert_eq!(
        codes(f.store.invites(id, t0 + secs(10)).await.unwrap()),
        vec![unlimited.code.clone(), first.code.clone()],
        "expired at `now`: left out"
    );

    let revoke = |room| {
        let at = t0 + secs(3);
        audit_of(
            room,
            &owner,
            ModerationAction::InviteRevoked,
            None,
            None,
            at,
        )
    };
    assert!(
        !f.store
            .revoke_invite(unlimited.code.clone(), revoke(other))
            .await
            .unwrap(),
        "only in its own room"
    );
    assert!(f
        .store
        .revoke_invite(unlimited.code.clone(), revoke(id))
        .await
        .unwrap());
    assert!(!f
        .store
        .revoke_invite(unlimited.code.clone(), revoke(id))
        .await
        .unwrap());
    assert!(
        f.store
            .invite(unlimited.code.clone())
            .await
            .unwrap()
            .expect("still readable")
            .revoked
    );
    assert_eq!(
        codes(f.store.invites(id, t0 + secs(5)).await.unwrap()),
        vec![short.code.clone(), first.code.clone()]
    );
    assert_eq!(
        f.log(id).await,
        vec![
            row(ModerationAction::InviteRevoked, &owner, None, None),
            row(ModerationAction::InviteCreated, &owner, None, None),
            row(ModerationAction::InviteCreated, &owner, None, None),
            row(ModerationAction::InviteCreated, &owner, None, None),
        ]
    );
}

#[tokio::test]
async fn an_invite_admits_within_its_uses_and_lifetime_and_only_while_not_revoked() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let users: Vec<User> = {
        let mut v = Vec::new();
        for n in 0..8 {
            v.push(f.user(&format!("u{n}")).await);
        }
        v
    };
    let id = f.room(&owner, "door", RoomType::Restricted).await;
    let other = f.room(&owner, "other door", RoomType::Restricted).await;
    let t0 = now();
    let secs = Duration::seconds;
    let not_usable = |r: Result<Membership, StoreError>| {
        assert!(
            matches!(r, Err(StoreError::NotFound(Entity::Invite))),
            "expected NotFound(Invite), got {r:?}"
        )
    };

    // Two uses, counted.
    let two = f
        .store
        .create_invite(invite_of(id, &owner, Some(2), None, t0))
        .await
        .unwrap();
    let m = f
        .store
        .add_member(invited(id, &users[0], &two.code, t0), 100)
        .await
        .unwrap();
    assert_eq!((m.user.id, m.role), (users[0].id, Role::Member));
    assert_eq!(f.uses(&two.code).await, 1);
    f.store
        .add_member(invited(id, &users[1], &two.code, t0), 100)
        .await
        .unwrap();
    assert_eq!(f.uses(&two.code).await, 2);
    not_usable(
        f.store
            .add_member(invited(id, &users[2], &two.code, t0), 100)
            .await,
    );
    assert_eq!(f.uses(&two.code).await, 2);
    assert!(f.store.membership(id, users[2].id).await.unwrap().is_none());

    // Expiry: admits until (not at) its time.
    let timed = f
        .store
        .create_invite(invite_of(id, &owner, None, Some(t0 + secs(60)), t0))
        .await
        .unwrap();
    f.store
        .add_member(invited(id, &users[2], &timed.code, t0 + secs(59)), 100)
        .await
        .unwrap();
    not_usable(
        f.store
            .add_member(invited(id, &users[3], &timed.code, t0 + secs(60)), 100)
            .await,
    );

    // Revoked, and another room's code.
    let revoked = f
        .store
        .create_invite(invite_of(id, &owner, None, None, t0))
        .await
        .unwrap();
    let audit = audit_of(id, &owner, ModerationAction::InviteRevoked, None, None, t0);
    assert!(f
        .store
        .revoke_invite(revoked.code.clone(), audit)
        .await
        .unwrap());
    not_usable(
        f.store
            .add_member(invited(id, &users[3], &revoked.code, t0), 100)
            .await,
    );
    let foreign = f
        .store
        .create_invite(invite_of(other, &owner, None, None, t0))
        .await
        .unwrap();
    not_usable(
        f.store
            .add_member(invited(id, &users[3], &foreign.code, t0), 100)
            .await,
    );
    assert!(f.store.membership(id, users[3].id).await.unwrap().is_none());

    // A join refused for another reason does not use the code up.
    let open = f
        .store
        .create_invite(invite_of(id, &owner, Some(10), None, t0))
        .await
        .unwrap();
    assert_eq!(
        conflict(
            f.store
                .add_member(invited(id, &users[0], &open.code, t0), 100)
                .await
        ),
        Conflict::AlreadyMember
    );
    f.store
        .ban(ban_of(id, &users[4], &owner, None))
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .add_member(invited(id, &users[4], &open.code, t0), 100)
            .await,
        Err(StoreError::Banned)
    ));
    let count = f.store.room(id).await.unwrap().expect("room").member_count;
    assert!(matches!(
        f.store
            .add_member(invited(id, &users[5], &open.code, t0), count)
            .await,
        Err(StoreError::RoomFull(_))
    ));
    assert_eq!(f.uses(&open.code).await, 0);
    f.store
        .add_member(invited(id, &users[5], &open.code, t0), 100)
        .await
        .unwrap();
    assert_eq!(f.uses(&open.code).await, 1);

    // Racing joins with the last uses: exactly as many as are left get in.
    let last = f
        .store
        .create_invite(invite_of(other, &owner, Some(1), None, t0))
        .await
        .unwrap();
    let racers: Vec<_> = users[5..8]
        .iter()
        .map(|u| {
            let (store, join) = (f.store.clone(), invited(other, u, &last.code, t0));
            tokio::spawn(async move { store.add_member(join, 100).await })
        })
        .collect();
    let mut admitted = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => admitted += 1,
            Err(e) => assert!(matches!(e, StoreError::NotFound(Entity::Invite)), "{e:?}"),
        }
    }
    assert_eq!((admitted, f.uses(&last.code).await), (1, 1));
    // A join by invite is no moderator's action.
    assert!(f
        .log(id)
        .await
        .iter()
        .all(|(action, ..)| *action != ModerationAction::MemberAdded));
}

/// Every audited method writes its entry (with the audit's actor, target and reason) in
/// the same call; calls without an audit, and calls that change nothing, write none.
#[tokio::test]
async fn each_audited_method_writes_its_log_entry() {
    use roomcast::domain::terms::BlockedTerms;
    use ModerationAction as A;
    let f = fixture().await;
    let owner = f.user("owner").await;
    let (m1, m2, m3, asker) = (
        f.user("m1").await,
        f.user("m2").await,
        f.user("m3").await,
        f.user("asker").await,
    );
    let id = f.room(&owner, "audited", RoomType::Restricted).await;
    let by = |action, target: Option<&User>, reason: Option<&str>| {
        audit_of(id, &owner, action, target, reason, now())
    };
    let mut seen = 0;

    // With an audit: written.
    let audit = by(A::MemberAdded, Some(&m1), None);
    f.store
        .add_member(
            NewMember {
                audit: Some(audit),
                ..member(id, &m1, now())
            },
            100,
        )
        .await
        .unwrap();
    check_log(
        &f,
        id,
        "add_member",
        vec![row(A::MemberAdded, &owner, Some(&m1), None)],
        &mut seen,
    )
    .await;
    for who in [&m2, &m3] {
        f.join(id, who).await;
    }
    check_log(&f, id, "add_member without an audit", vec![], &mut seen).await;
    f.store
        .set_role(
            id,
            m1.id,
            Role::Admin,
            by(A::RoleChanged, Some(&m1), Some("ADMIN")),
        )
        .await
        .unwrap();
    check_log(
        &f,
        id,
        "set_role",
        vec![row(A::RoleChanged, &owner, Some(&m1), Some("ADMIN"))],
        &mut seen,
    )
    .await;
    f.store
        .set_mute(
            id,
            m2.id,
            Mute::On { until: None },
            by(A::MemberMuted, Some(&m2), None),
        )
        .await
        .unwrap();
    f.store
        .set_mute(id, m2.id, Mute::Off, by(A::MemberUnmuted, Some(&m2), None))
        .await
        .unwrap();
    check_log(
        &f,
        id,
        "set_mute",
        vec![
            row(A::MemberUnmuted, &owner, Some(&m2), None),
            row(A::MemberMuted, &owner, Some(&m2), None),
        ],
        &mut seen,
    )
    .await;
    assert!(f
        .store
        .remove_member(id, m2.id, Some(by(A::MemberRemoved, Some(&m2), None)))
        .await
        .unwrap());
    assert!(!f
        .store
        .remove_member(id, m2.id, Some(by(A::MemberRemoved, Some(&m2), None)))
        .await
        .unwrap());
    check_log(
        &f,
        id,
        "remove_member (twice)",
        vec![row(A::MemberRemoved, &owner, Some(&m2), None)],
        &mut seen,
    )
    .await;
    assert!(f.store.remove_member(id, m3.id, None).await.unwrap());
    check_log(
        &f,
        id,
        "remove_member without an audit (leaving)",
        vec![],
        &mut seen,
    )
    .await;
    f.store
        .ban(ban_of(id, &m2, &owner, Some("why")))
        .await
        .unwrap();
    check_log(
        &f,
        id,
        "ban",
        vec![row(A::MemberBanned, &owner, Some(&m2), Some("why"))],
        &mut seen,
    )
    .await;
    assert!(f
        .store
        .unban(id, m2.id, by(A::MemberUnbanned, Some(&m2), None))
        .await
        .unwrap());
    assert!(!f
        .store
        .unban(id, m2.id, by(A::MemberUnbanned, Some(&m2), None))
        .await
        .unwrap());
    check_log(
        &f,
        id,
        "unban (twice)",
        vec![row(A::MemberUnbanned, &owner, Some(&m2), None)],
        &mut seen,
    )
    .await;
    for who in [&asker, &m3] {
        f.store
            .create_join_request(request(id, who, None, now()))
            .await
            .unwrap();
    }
    assert!(f
        .store
        .delete_join_request(
            id,
            asker.id,
            Some(by(A::JoinRequestRejected, Some(&asker), None))
        )
        .await
        .unwrap());
    assert!(f.store.delete_join_request(id, m3.id, None).await.unwrap());
    check_log(
        &f,
        id,
        "delete_join_request",
        vec![row(A::JoinRequestRejected, &owner, Some(&asker), None)],
        &mut seen,
    )
    .await;
    let theirs = f
        .store
        .insert_message(message(id, &m1, "theirs"))
        .await
        .unwrap();
    let own = f
        .store
        .insert_message(message(id, &m1, "own"))
        .await
        .unwrap();
    assert!(f
        .store
        .delete_message(theirs.id, Some(by(A::MessageDeleted, Some(&m1), None)))
        .await
        .unwrap());
    assert!(!f
        .store
        .delete_message(theirs.id, Some(by(A::MessageDeleted, Some(&m1), None)))
        .await
        .unwrap());
    assert!(f.store.delete_message(own.id, None).await.unwrap());
    check_log(
        &f,
        id,
        "delete_message",
        vec![row(A::MessageDeleted, &owner, Some(&m1), None)],
        &mut seen,
    )
    .await;
    f.store
        .update_room(
            id,
            UpdateRoom {
                room_type: Some(RoomType::Public),
                ..UpdateRoom::default()
            },
            by(A::RoomUpdated, None, Some("type public")),
        )
        .await
        .unwrap();
    let terms = BlockedTerms::parse(&["foo".to_owned()]).expect("terms");
    f.store
        .set_blocked_terms(id, terms, by(A::BlockedTermsChanged, None, Some("1 terms")))
        .await
        .unwrap();
    check_log(
        &f,
        id,
        "update_room, set_blocked_terms",
        vec![
            row(A::BlockedTermsChanged, &owner, None, Some("1 terms")),
            row(A::RoomUpdated, &owner, None, Some("type public")),
        ],
        &mut seen,
    )
    .await;
    let invite = f
        .store
        .create_invite(invite_of(id, &owner, None, None, now()))
        .await
        .unwrap();
    assert!(f
        .store
        .revoke_invite(invite.code.clone(), by(A::InviteRevoked, None, None))
        .await
        .unwrap());
    check_log(
        &f,
        id,
        "create_invite, revoke_invite",
        vec![
            row(A::InviteRevoked, &owner, None, None),
            row(A::InviteCreated, &owner, None, None),
        ],
        &mut seen,
    )
    .await;
    f.store
        .transfer_ownership(id, m1.id, by(A::OwnershipTransferred, Some(&m1), None))
        .await
        .unwrap();
    check_log(
        &f,
        id,
        "transfer_ownership",
        vec![row(A::OwnershipTransferred, &owner, Some(&m1), None)],
        &mut seen,
    )
    .await;
    // Each entry keeps the time its audit gave.
    let at = now() + Duration::hours(1);
    f.store
        .update_room(
            id,
            UpdateRoom::default(),
            audit_of(id, &owner, A::RoomUpdated, None, None, at),
        )
        .await
        .unwrap();
    let newest = f.store.moderation_log(id, page(None, 1)).await.unwrap();
    assert_eq!(
        (
            newest[0].created_at,
            newest[0].room_id,
            newest[0].actor.clone()
        ),
        (at, id, owner.clone())
    );
}

#[tokio::test]
async fn read_markers_move_forward_only_and_unread_counts_others_messages_after_them() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let reader = f.user("reader").await;
    let outsider = f.user("outsider").await;
    let id = f.room(&owner, "markers", RoomType::Public).await;
    f.join(id, &reader).await;
    for body in ["a", "b", "c"] {
        f.store
            .insert_message(message(id, &owner, body))
            .await
            .unwrap();
    }
    f.store
        .insert_message(message(id, &reader, "mine"))
        .await
        .unwrap();

    assert_eq!(f.store.unread_count(id, reader.id).await.unwrap(), Some(3));
    let (m, moved) = f.store.mark_read(id, reader.id, 2).await.unwrap();
    assert_eq!((m.last_read_seq, moved), (2, true));
    let (m, moved) = f.store.mark_read(id, reader.id, 1).await.unwrap();
    assert_eq!((m.last_read_seq, moved), (2, false), "never back");
    let (_, moved) = f.store.mark_read(id, reader.id, 2).await.unwrap();
    assert!(!moved, "the same place is no move");
    assert_eq!(f.store.unread_count(id, reader.id).await.unwrap(), Some(1));
    assert_eq!(f.store.unread_count(id, outsider.id).await.unwrap(), None);
    assert!(matches!(
        f.store.mark_read(id, outsider.id, 1).await,
        Err(StoreError::NotFound(Entity::Membership))
    ));
    let kept = f
        .store
        .membership(id, reader.id)
        .await
        .unwrap()
        .expect("member");
    assert_eq!(kept.last_read_seq, 2);
}

#[tokio::test]
async fn a_users_ban_is_read_with_who_why_and_until_when() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let banned = f.user("banned").await;
    let id = f.room(&owner, "one ban", RoomType::Public).await;
    assert!(f.store.ban_of(id, banned.id).await.unwrap().is_none());
    let until = now() + Duration::hours(1);
    let mut ban = ban_of(id, &banned, &owner, Some("spam"));
    ban.expires_at = Some(until);
    f.store.ban(ban).await.unwrap();
    let read = f.store.ban_of(id, banned.id).await.unwrap().expect("ban");
    assert_eq!(
        (read.banned_by, read.reason.as_deref(), read.expires_at),
        (owner, Some("spam"), Some(until))
    );
}

#[tokio::test]
async fn a_users_rooms_come_with_their_read_state_oldest_first() {
    let f = fixture().await;
    let owner = f.user("owner").await;
    let reader = f.user("reader").await;
    let first = f.room(&owner, "first", RoomType::Public).await;
    let second = f.room(&owner, "second", RoomType::Private).await;
    f.room(&owner, "not theirs", RoomType::Public).await;
    f.join(first, &reader).await;
    f.join(second, &reader).await;
    for body in ["a", "b", "c"] {
        f.store
            .insert_message(message(first, &owner, body))
            .await
            .unwrap();
    }
    f.store
        .insert_message(message(first, &reader, "mine"))
        .await
        .unwrap();
    f.store.mark_read(first, reader.id, 1).await.unwrap();

    let all = f.store.member_rooms(reader.id, None, 10).await.unwrap();
    let seen: Vec<(RoomId, i64, i64, i64)> = all
        .iter()
        .map(|(r, s)| (r.id, r.last_seq, s.read_seq, s.unread))
        .collect();
    assert_eq!(seen, [(first, 4, 1, 2), (second, 0, 0, 0)]);
    let one = f
        .store
        .member_rooms(reader.id, Some(second), 10)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0.id, second);
    assert_eq!(
        f.store
            .member_rooms(reader.id, None, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(f
        .store
        .member_rooms(reader.id, Some(RoomId::new()), 10)
        .await
        .unwrap()
        .is_empty());
}
