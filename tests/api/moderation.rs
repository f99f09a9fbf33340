//! Moderation: roles, mutes, bans, kicks, message deletion and who may see moderation data.

use serde_json::{json, Value};

use crate::helpers::*;

const MUTE: &str = "mutation($r: ID!, $u: ID!, $d: Int) { muteMember(roomId: $r, userId: $u, durationSeconds: $d) { role muted mutedUntil user { id } } }";
const BAN: &str = "mutation($r: ID!, $u: ID!, $why: String) { banUser(roomId: $r, userId: $u, reason: $why) { user { id } bannedBy { id } reason } }";
const BANS: &str =
    "query($id: ID!) { room(id: $id) { bans { user { id } bannedBy { id } reason createdAt } } }";
const MEMBERS: &str =
    "query($r: ID!) { roomMembers(roomId: $r) { role muted mutedUntil user { id } } }";
const MESSAGES: &str = "query($r: ID!) { messages(roomId: $r) { nodes { id body } } }";
const DELETE_MESSAGE: &str = "mutation($m: ID!) { deleteMessage(messageId: $m) }";
const REQUEST: &str = "mutation($r: ID!) { requestToJoin(roomId: $r) { user { id } } }";

async fn mute(app: &TestApp, who: &Session, room: &str, user: &str, seconds: Option<i64>) -> Gql {
    app.post(
        Some(&who.token),
        MUTE,
        json!({"r": room, "u": user, "d": seconds}),
    )
    .await
}

async fn ban(app: &TestApp, who: &Session, room: &str, user: &str, reason: Option<&str>) -> Gql {
    app.post(
        Some(&who.token),
        BAN,
        json!({"r": room, "u": user, "why": reason}),
    )
    .await
}

async fn bans(app: &TestApp, who: &Session, room: &str) -> Gql {
    app.post(Some(&who.token), BANS, json!({"id": room})).await
}

/// The member entry of `user` in the room, as seen by `who`.
async fn member(app: &TestApp, who: &Session, room: &str, user: &str) -> Value {
    let r = app
        .post(Some(&who.token), MEMBERS, json!({"r": room}))
        .await;
    r.ok()["roomMembers"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"]["id"] == user)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn member_count(app: &TestApp, room: &str) -> Value {
    let r = app
        .post(
            None,
            "query($id: ID!) { room(id: $id) { memberCount } }",
            json!({"id": room}),
        )
        .await;
    r.ok()["room"]["memberCount"].clone()
}

async fn messages(app: &TestApp, who: &Session, room: &str) -> Gql {
    app.post(Some(&who.token), MESSAGES, json!({"r": room}))
        .await
}

async fn bodies(app: &TestApp, who: &Session, room: &str) -> Vec<String> {
    strings(
        &messages(app, who, room).await.ok()["messages"]["nodes"],
        "body",
    )
}

async fn delete_message(app: &TestApp, who: &Session, id: &str) -> Gql {
    app.post(Some(&who.token), DELETE_MESSAGE, json!({"m": id}))
        .await
}

/// Sends a message and returns its id.
async fn post_message(app: &TestApp, who: &Session, room: &str, body: &str) -> String {
    app.send(who, room, body).await.ok()["sendMessage"]["id"]
        .as_str()
        .expect("message id")
        .to_owned()
}

/// Every member-targeted moderation action `who` can attempt on `target`, with its result.
async fn act_on(
    app: &TestApp,
    who: &Session,
    room: &str,
    target: &str,
) -> Vec<(&'static str, Gql)> {
    vec![
        ("muteMember", mute(app, who, room, target, None).await),
        (
            "unmuteMember",
            app.act(who, "unmuteMember", room, target).await,
        ),
        (
            "removeMember",
            app.act(who, "removeMember", room, target).await,
        ),
        ("banUser", ban(app, who, room, target, None).await),
    ]
}

// ------------------------------------------------------------------ roles

#[tokio::test]
async fn the_owner_promotes_and_demotes_members() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;

    // Act
    let promoted = app.set_role(&c.owner, &c.room, &c.member.id, "ADMIN").await;
    let as_admin = member(&app, &c.owner, &c.room, &c.member.id).await;
    let demoted = app
        .set_role(&c.owner, &c.room, &c.member.id, "MEMBER")
        .await;
    let as_member = member(&app, &c.owner, &c.room, &c.member.id).await;

    // Assert
    assert_eq!(promoted.ok()["setMemberRole"]["role"], "ADMIN");
    assert_eq!(as_admin["role"], "ADMIN");
    assert_eq!(demoted.ok()["setMemberRole"]["role"], "MEMBER");
    assert_eq!(as_member["role"], "MEMBER");
}

#[tokio::test]
async fn admins_and_members_cannot_set_roles() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;

    // Act
    let admin_promotes = app.set_role(&c.admin, &c.room, &c.member.id, "ADMIN").await;
    let admin_demotes_self = app.set_role(&c.admin, &c.room, &c.admin.id, "MEMBER").await;
    let member_promotes_self = app
        .set_role(&c.member, &c.room, &c.member.id, "ADMIN")
        .await;

    // Assert
    assert_eq!(admin_promotes.code(), "FORBIDDEN");
    assert_eq!(admin_demotes_self.code(), "FORBIDDEN");
    assert_eq!(member_promotes_self.code(), "FORBIDDEN");
    assert_eq!(
        member(&app, &c.owner, &c.room, &c.member.id).await["role"],
        "MEMBER"
    );
}

#[tokio::test]
async fn set_member_role_to_owner_is_bad_input_and_the_owners_role_is_fixed() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;

    // Act
    // The code answers BAD_USER_INPUT (use transferOwnership) when the owner asks for OWNER.
    let to_owner = app.set_role(&c.owner, &c.room, &c.member.id, "OWNER").await;
    let demote_owner = app.set_role(&c.owner, &c.room, &c.owner.id, "ADMIN").await;
    let admin_to_owner = app.set_role(&c.admin, &c.room, &c.member.id, "OWNER").await;

    // Assert
    assert_eq!(to_owner.code(), "BAD_USER_INPUT");
    assert_eq!(demote_owner.code(), "FORBIDDEN");
    assert_eq!(admin_to_owner.code(), "FORBIDDEN");
    assert_eq!(
        member(&app, &c.owner, &c.room, &c.member.id).await["role"],
        "MEMBER"
    );
    assert_eq!(
        member(&app, &c.owner, &c.room, &c.owner.id).await["role"],
        "OWNER"
    );
}

#[tokio::test]
async fn admins_moderate_members() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    let newcomer = app.register(&uname("new")).await;

    // Act
    let added = app.act(&c.admin, "addMember", &c.room, &newcomer.id).await;
    let muted = mute(&app, &c.admin, &c.room, &c.member.id, None).await;
    let unmuted = app
        .act(&c.admin, "unmuteMember", &c.room, &c.member.id)
        .await;
    let removed = app
        .act(&c.admin, "removeMember", &c.room, &c.member.id)
        .await;
    let banned = ban(&app, &c.admin, &c.room, &newcomer.id, Some("spam")).await;
    let unbanned = app.act(&c.admin, "unbanUser", &c.room, &newcomer.id).await;

    // Assert
    assert_eq!(added.ok()["addMember"]["role"], "MEMBER");
    assert_eq!(muted.ok()["muteMember"]["muted"], true);
    assert_eq!(unmuted.ok()["unmuteMember"]["muted"], false);
    assert_eq!(removed.ok()["removeMember"], true);
    assert_eq!(
        banned.ok()["banUser"]["bannedBy"]["id"],
        c.admin.id.as_str()
    );
    assert_eq!(unbanned.ok()["unbanUser"], true);
    let left = app
        .post(Some(&c.owner.token), MEMBERS, json!({"r": c.room}))
        .await;
    assert_eq!(
        left.ok()["roomMembers"].as_array().map(Vec::len),
        Some(2),
        "owner and admin remain"
    );
}

#[tokio::test]
async fn admins_may_not_act_on_admins_or_the_owner() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let other_admin = app.admin_of(&c.owner, &c.room, "admin2").await;

    // Act
    let on_admin = act_on(&app, &c.admin, &c.room, &other_admin.id).await;
    let on_owner = act_on(&app, &c.admin, &c.room, &c.owner.id).await;
    let demote_admin = app
        .set_role(&c.admin, &c.room, &other_admin.id, "MEMBER")
        .await;

    // Assert
    for (what, r) in on_admin.iter().chain(on_owner.iter()) {
        assert_eq!(r.code(), "FORBIDDEN", "{what}: {}", r.0);
    }
    assert_eq!(demote_admin.code(), "FORBIDDEN");
    assert_eq!(
        member(&app, &c.owner, &c.room, &other_admin.id).await["role"],
        "ADMIN"
    );
    assert_eq!(
        member(&app, &c.owner, &c.room, &other_admin.id).await["muted"],
        false
    );
    assert_eq!(member_count(&app, &c.room).await, 4);
}

#[tokio::test]
async fn the_owner_may_act_on_admins() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let other_admin = app.admin_of(&c.owner, &c.room, "admin2").await;

    // Act
    let muted = mute(&app, &c.owner, &c.room, &c.admin.id, None).await;
    let unmuted = app
        .act(&c.owner, "unmuteMember", &c.room, &c.admin.id)
        .await;
    let removed = app
        .act(&c.owner, "removeMember", &c.room, &c.admin.id)
        .await;
    let banned = ban(&app, &c.owner, &c.room, &other_admin.id, None).await;

    // Assert
    assert_eq!(muted.ok()["muteMember"]["muted"], true);
    assert_eq!(muted.ok()["muteMember"]["role"], "ADMIN");
    assert_eq!(unmuted.ok()["unmuteMember"]["muted"], false);
    assert_eq!(removed.ok()["removeMember"], true);
    assert_eq!(
        banned.ok()["banUser"]["user"]["id"],
        other_admin.id.as_str()
    );
    assert_eq!(
        member_count(&app, &c.room).await,
        2,
        "owner and member remain"
    );
}

#[tokio::test]
async fn no_one_may_act_on_the_owner() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;

    // Act
    let by_owner = act_on(&app, &c.owner, &c.room, &c.owner.id).await;
    let by_admin = act_on(&app, &c.admin, &c.room, &c.owner.id).await;
    let by_member = act_on(&app, &c.member, &c.room, &c.owner.id).await;

    // Assert
    for (what, r) in by_owner.iter().chain(&by_admin).chain(&by_member) {
        assert_eq!(r.code(), "FORBIDDEN", "{what}: {}", r.0);
    }
    let owner = member(&app, &c.owner, &c.room, &c.owner.id).await;
    assert_eq!(
        (&owner["role"], &owner["muted"]),
        (&json!("OWNER"), &json!(false))
    );
}

#[tokio::test]
async fn members_may_not_moderate() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let peer = app.member_of(&c.owner, &c.room, "peer").await;
    let outsider = app.register(&uname("out")).await;
    let banned = app.register(&uname("banned")).await;
    ban(&app, &c.owner, &c.room, &banned.id, None).await.ok();

    // Act
    let mut attempts = act_on(&app, &c.member, &c.room, &peer.id).await;
    attempts.push((
        "addMember",
        app.act(&c.member, "addMember", &c.room, &outsider.id).await,
    ));
    attempts.push((
        "unbanUser",
        app.act(&c.member, "unbanUser", &c.room, &banned.id).await,
    ));
    attempts.push((
        "setMemberRole",
        app.set_role(&c.member, &c.room, &peer.id, "ADMIN").await,
    ));
    attempts.push((
        "transferOwnership",
        app.act(&c.member, "transferOwnership", &c.room, &peer.id)
            .await,
    ));

    // Assert
    for (what, r) in &attempts {
        assert_eq!(r.code(), "FORBIDDEN", "{what}: {}", r.0);
    }
    assert_eq!(member_count(&app, &c.room).await, 4);
}

#[tokio::test]
async fn outsiders_cannot_probe_private_membership_through_set_member_role() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    let outsider = app.register(&uname("out")).await;
    let stranger = app.register(&uname("stranger")).await;

    // Act
    let on_member = app
        .set_role(&outsider, &c.room, &c.member.id, "ADMIN")
        .await;
    let on_stranger = app
        .set_role(&outsider, &c.room, &stranger.id, "ADMIN")
        .await;

    // Assert
    assert_eq!(on_member.code(), "NOT_FOUND");
    assert_eq!(on_stranger.code(), "NOT_FOUND");
    assert_eq!(
        on_member.message(),
        on_stranger.message(),
        "the answer must not reveal who is a member"
    );
}

// ------------------------------------------------------------------ mutes

#[tokio::test]
async fn a_muted_member_reads_but_cannot_send_until_unmuted() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    app.send(&c.owner, &c.room, "rules").await.ok();

    // Act
    let muted = mute(&app, &c.admin, &c.room, &c.member.id, None).await;
    let entry = member(&app, &c.owner, &c.room, &c.member.id).await;
    let read = bodies(&app, &c.member, &c.room).await;
    let send_while_muted = app.send(&c.member, &c.room, "let me talk").await;
    app.act(&c.admin, "unmuteMember", &c.room, &c.member.id)
        .await
        .ok();
    let send_after = app.send(&c.member, &c.room, "thanks").await;

    // Assert
    let muted = &muted.ok()["muteMember"];
    assert_eq!(
        (&muted["muted"], &muted["mutedUntil"]),
        (&json!(true), &Value::Null)
    );
    assert_eq!(
        (&entry["muted"], &entry["mutedUntil"]),
        (&json!(true), &Value::Null)
    );
    assert_eq!(read, vec!["rules"]);
    assert_eq!(send_while_muted.code(), "MUTED");
    assert_eq!(send_after.ok()["sendMessage"]["body"], "thanks");
    assert_eq!(
        member(&app, &c.owner, &c.room, &c.member.id).await["muted"],
        false
    );
}

#[tokio::test]
async fn a_timed_mute_lifts_by_itself() {
    // Arrange: a server on a manual clock (time moves only when the test moves it).
    let clock = roomcast::domain::clock::ManualClock::new();
    let app = spawn_with_clock(std::sync::Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PUBLIC").await;

    // Act
    let muted = mute(&app, &c.admin, &c.room, &c.member.id, Some(600)).await;
    let entry = member(&app, &c.owner, &c.room, &c.member.id).await;
    clock.advance(chrono::Duration::seconds(599));
    let first_try = app.send(&c.member, &c.room, "too soon").await;
    clock.advance(chrono::Duration::seconds(1));
    let sent = app.send(&c.member, &c.room, "free again").await;

    // Assert
    let muted = &muted.ok()["muteMember"];
    assert_eq!(muted["muted"], true);
    assert!(muted["mutedUntil"].is_string(), "{muted}");
    assert_eq!(
        (&entry["muted"], &entry["mutedUntil"]),
        (&json!(true), &muted["mutedUntil"])
    );
    assert_eq!(first_try.code(), "MUTED");
    assert_eq!(sent.ok()["sendMessage"]["body"], "free again");
    let after = member(&app, &c.owner, &c.room, &c.member.id).await;
    assert_eq!(
        (&after["muted"], &after["mutedUntil"]),
        (&json!(false), &Value::Null)
    );
}

#[tokio::test]
async fn mute_duration_must_be_positive() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;

    // Act / Assert
    for bad in [0, -1, -3600] {
        let r = mute(&app, &c.admin, &c.room, &c.member.id, Some(bad)).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "durationSeconds: {bad}");
    }
    assert_eq!(
        member(&app, &c.owner, &c.room, &c.member.id).await["muted"],
        false
    );
}

// ------------------------------------------------------------------ bans

#[tokio::test]
async fn a_ban_removes_membership_and_blocks_the_room() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    app.send(&c.owner, &c.room, "hello").await.ok();

    // Act
    let banned = ban(&app, &c.admin, &c.room, &c.member.id, Some("spamming")).await;
    let count = member_count(&app, &c.room).await;
    let blocked = [
        ("joinRoom", app.join(&c.member, &c.room).await),
        ("messages", messages(&app, &c.member, &c.room).await),
        (
            "sendMessage",
            app.send(&c.member, &c.room, "let me back").await,
        ),
    ];

    // Assert
    let banned = &banned.ok()["banUser"];
    assert_eq!(banned["user"]["id"], c.member.id.as_str());
    assert_eq!(banned["reason"], "spamming");
    assert_eq!(count, 2);
    assert_eq!(
        member(&app, &c.owner, &c.room, &c.member.id).await,
        Value::Null
    );
    for (what, r) in blocked {
        assert_eq!(r.code(), "BANNED", "{what}: {}", r.0);
    }
}

#[tokio::test]
async fn a_ban_blocks_join_requests() {
    // Arrange
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let bob = app.register(&uname("bob")).await;
    let room = app.create_room(&owner, "club", "RESTRICTED").await;
    ban(&app, &owner, &room, &bob.id, None).await.ok();

    // Act
    let r = app
        .post(Some(&bob.token), REQUEST, json!({"r": room}))
        .await;

    // Assert
    assert_eq!(r.code(), "BANNED");
}

#[tokio::test]
async fn bans_are_listed_to_admins_only() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let troll = app.member_of(&c.owner, &c.room, "troll").await;
    ban(&app, &c.admin, &c.room, &troll.id, Some("trolling"))
        .await
        .ok();

    // Act
    let by_owner = bans(&app, &c.owner, &c.room).await;
    let by_admin = bans(&app, &c.admin, &c.room).await;
    let by_member = bans(&app, &c.member, &c.room).await;

    // Assert
    for r in [&by_owner, &by_admin] {
        let list = &r.ok()["room"]["bans"];
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
        assert_eq!(list[0]["user"]["id"], troll.id.as_str());
        assert_eq!(list[0]["bannedBy"]["id"], c.admin.id.as_str());
        assert_eq!(list[0]["reason"], "trolling");
        assert!(list[0]["createdAt"].is_string());
    }
    assert_eq!(by_member.code(), "FORBIDDEN");
}

#[tokio::test]
async fn an_unbanned_user_may_rejoin() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    ban(&app, &c.admin, &c.room, &c.member.id, None).await.ok();

    // Act
    let unbanned = app.act(&c.admin, "unbanUser", &c.room, &c.member.id).await;
    let rejoined = app.join(&c.member, &c.room).await;

    // Assert
    assert_eq!(unbanned.ok()["unbanUser"], true);
    assert_eq!(rejoined.ok()["joinRoom"]["role"], "MEMBER");
    assert_eq!(
        bans(&app, &c.owner, &c.room).await.ok()["room"]["bans"],
        json!([])
    );
    app.send(&c.member, &c.room, "back").await.ok();
    assert_eq!(member_count(&app, &c.room).await, 3);
}

#[tokio::test]
async fn banning_twice_conflicts_and_unbanning_a_non_banned_user_is_not_found() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    ban(&app, &c.admin, &c.room, &c.member.id, None).await.ok();

    // Act
    let again = ban(&app, &c.owner, &c.room, &c.member.id, Some("again")).await;
    let unban_admin = app.act(&c.owner, "unbanUser", &c.room, &c.admin.id).await;

    // Assert
    assert_eq!(again.code(), "CONFLICT");
    assert_eq!(unban_admin.code(), "NOT_FOUND");
}

#[tokio::test]
async fn adding_a_banned_user_conflicts() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    ban(&app, &c.admin, &c.room, &c.member.id, None).await.ok();

    // Act
    let r = app.act(&c.admin, "addMember", &c.room, &c.member.id).await;

    // Assert
    assert_eq!(r.code(), "CONFLICT");
    assert_eq!(
        member(&app, &c.owner, &c.room, &c.member.id).await,
        Value::Null
    );
}

// ------------------------------------------------------------------ kicks

#[tokio::test]
async fn a_kicked_member_is_removed_and_may_rejoin_a_public_room() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;

    // Act
    let removed = app
        .act(&c.admin, "removeMember", &c.room, &c.member.id)
        .await;
    let count = member_count(&app, &c.room).await;
    let send_after_kick = app.send(&c.member, &c.room, "hey").await;
    let rejoined = app.join(&c.member, &c.room).await;

    // Assert
    assert_eq!(removed.ok()["removeMember"], true);
    assert_eq!(count, 2);
    assert_eq!(send_after_kick.code(), "FORBIDDEN");
    assert_eq!(rejoined.ok()["joinRoom"]["role"], "MEMBER");
    assert_eq!(member_count(&app, &c.room).await, 3);
}

#[tokio::test]
async fn removing_a_non_member_is_not_found() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let outsider = app.register(&uname("out")).await;

    // Act
    let r = app
        .act(&c.admin, "removeMember", &c.room, &outsider.id)
        .await;

    // Assert
    assert_eq!(r.code(), "NOT_FOUND");
}

// ------------------------------------------------------------------ message deletion

#[tokio::test]
async fn authors_delete_their_own_messages_and_it_leaves_history() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let keep = post_message(&app, &c.member, &c.room, "keep me").await;
    let gone = post_message(&app, &c.member, &c.room, "oops").await;

    // Act
    let deleted = delete_message(&app, &c.member, &gone).await;
    let twice = delete_message(&app, &c.member, &gone).await;

    // Assert
    assert_eq!(deleted.ok()["deleteMessage"], gone.as_str());
    assert_eq!(twice.code(), "NOT_FOUND");
    let history = messages(&app, &c.owner, &c.room).await;
    assert_eq!(
        strings(&history.ok()["messages"]["nodes"], "id"),
        vec![keep]
    );
}

#[tokio::test]
async fn members_may_not_delete_others_messages_but_admins_may() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let peer = app.member_of(&c.owner, &c.room, "peer").await;
    let by_peer = post_message(&app, &peer, &c.room, "peer says").await;
    let by_owner = post_message(&app, &c.owner, &c.room, "owner says").await;

    // Act
    let member_deletes = delete_message(&app, &c.member, &by_peer).await;
    let admin_deletes_member = delete_message(&app, &c.admin, &by_peer).await;
    let admin_deletes_owner = delete_message(&app, &c.admin, &by_owner).await;

    // Assert
    assert_eq!(member_deletes.code(), "FORBIDDEN");
    admin_deletes_member.ok();
    admin_deletes_owner.ok();
    assert!(bodies(&app, &c.member, &c.room).await.is_empty());
}

#[tokio::test]
async fn deleting_a_message_of_a_private_room_you_are_not_in_is_not_found() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    let outsider = app.register(&uname("out")).await;
    let id = post_message(&app, &c.member, &c.room, "in here").await;

    // Act
    let r = delete_message(&app, &outsider, &id).await;

    // Assert
    assert_eq!(r.code(), "NOT_FOUND");
    assert_eq!(bodies(&app, &c.owner, &c.room).await, vec!["in here"]);
}

// ------------------------------------------------------------------ join requests

#[tokio::test]
async fn join_requests_are_listed_to_admins_only() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "RESTRICTED").await;
    let applicant = app.register(&uname("app")).await;
    app.post(Some(&applicant.token), REQUEST, json!({"r": c.room}))
        .await
        .ok();
    let q = "query($id: ID!) { room(id: $id) { joinRequests { user { id } } } }";

    // Act
    let by_admin = app
        .post(Some(&c.admin.token), q, json!({"id": c.room}))
        .await;
    let by_member = app
        .post(Some(&c.member.token), q, json!({"id": c.room}))
        .await;
    let by_applicant = app
        .post(Some(&applicant.token), q, json!({"id": c.room}))
        .await;

    // Assert
    let list = &by_admin.ok()["room"]["joinRequests"];
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["user"]["id"], applicant.id.as_str());
    assert_eq!(by_member.code(), "FORBIDDEN");
    assert_eq!(by_applicant.code(), "FORBIDDEN");
}
