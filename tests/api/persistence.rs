//! Restarting on the same SQLite file loses nothing: users, tokens, rooms, roles, bans,
//! mutes, join requests and history, and sequence numbers continue where they stopped.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_restart_on_the_same_database_loses_nothing() {
    // Arrange: a room with every kind of state in it.
    let db = fresh_db().await;
    let app = spawn_on(&db, |_| {}).await;
    let owner = app.register(&uname("owner")).await;
    let admin = app.register(&uname("admin")).await;
    let muted = app.register(&uname("muted")).await;
    let banned = app.register(&uname("banned")).await;
    let asker = app.register(&uname("asker")).await;
    let room = app.create_room(&owner, "durable", "RESTRICTED").await;
    for u in [&admin, &muted, &banned] {
        app.act(&owner, "addMember", &room, &u.id).await.ok();
    }
    app.post(
        Some(&owner.token),
        "mutation($r: ID!, $u: ID!) { setMemberRole(roomId: $r, userId: $u, role: ADMIN) { role } }",
        json!({"r": room, "u": admin.id}),
    )
    .await
    .ok();
    app.act(&owner, "muteMember", &room, &muted.id).await.ok();
    app.post(
        Some(&owner.token),
        "mutation($r: ID!, $u: ID!) { banUser(roomId: $r, userId: $u, reason: \"spam\") { reason } }",
        json!({"r": room, "u": banned.id}),
    )
    .await
    .ok();
    app.post(
        Some(&asker.token),
        "mutation($r: ID!) { requestToJoin(roomId: $r, message: \"please\") { message } }",
        json!({"r": room}),
    )
    .await
    .ok();
    for n in 1..=3 {
        app.send(&admin, &room, &format!("before restart {n}"))
            .await
            .ok();
    }
    let private = app.create_room(&owner, "hidden", "PRIVATE").await;

    // Act: stop, then start again on the same file.
    let db = app.stop().await;
    let app = spawn_on(&db, |_| {}).await;

    // Assert: the old token still works, and so does the password.
    let viewer = app
        .post(Some(&owner.token), "{ viewer { username } }", json!({}))
        .await;
    assert_eq!(viewer.ok()["viewer"]["username"], owner.username.as_str());
    let login = app
        .post(
            None,
            "mutation($u: String!) { login(username: $u, password: \"password123\") { user { id } } }",
            json!({"u": admin.username}),
        )
        .await;
    assert_eq!(login.ok()["login"]["user"]["id"], admin.id.as_str());

    let r = app
        .post(
            Some(&owner.token),
            "query($r: ID!) { room(id: $r) { name type memberCount viewerRole \
               members { user { username } role muted } \
               bans { user { username } reason bannedBy { username } } \
               joinRequests { user { username } message } \
               messages(last: 10) { nodes { seq body } } } }",
            json!({"r": room}),
        )
        .await;
    let room_data = &r.ok()["room"];
    assert_eq!(room_data["type"], "RESTRICTED");
    assert_eq!(room_data["memberCount"], 3);
    assert_eq!(room_data["viewerRole"], "OWNER");
    let members = room_data["members"].as_array().cloned().unwrap_or_default();
    let role_of = |name: &str| {
        members
            .iter()
            .find(|m| m["user"]["username"] == name)
            .map(|m| {
                (
                    m["role"].as_str().unwrap_or("").to_owned(),
                    m["muted"].as_bool().unwrap_or(false),
                )
            })
    };
    assert_eq!(role_of(&admin.username), Some(("ADMIN".into(), false)));
    assert_eq!(role_of(&muted.username), Some(("MEMBER".into(), true)));
    assert_eq!(role_of(&banned.username), None);
    assert_eq!(
        room_data["bans"][0]["user"]["username"],
        banned.username.as_str()
    );
    assert_eq!(room_data["bans"][0]["reason"], "spam");
    assert_eq!(room_data["joinRequests"][0]["message"], "please");
    let seqs: Vec<i64> = room_data["messages"]["nodes"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["seq"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(seqs, vec![1, 2, 3]);

    // Rules still hold: the ban, the mute, the private room.
    assert_eq!(app.join(&banned, &room).await.code(), "BANNED");
    assert_eq!(app.send(&muted, &room, "let me talk").await.code(), "MUTED");
    let hidden = app
        .post(
            Some(&banned.token),
            "query($r: ID!) { room(id: $r) { id } }",
            json!({"r": private}),
        )
        .await;
    assert!(hidden.ok()["room"].is_null());

    // Sequence numbers continue.
    let next = app.send(&admin, &room, "after restart").await;
    assert_eq!(next.ok()["sendMessage"]["seq"], 4);
}

/// Group commit: many concurrent inserts across rooms get contiguous per-room sequence
/// numbers in arrival order, and a missing room fails only its own messages.
#[tokio::test]
async fn concurrent_inserts_are_grouped_without_mixing_rooms_or_failures() {
    use roomcast::domain::model::User;
    use roomcast::domain::values::{MessageId, RoomId};

    let db = fresh_db().await;
    let store = open_store(&db).await;
    let author = User {
        id: roomcast::domain::values::UserId::new(),
        username: uname("w"),
        created_at: roomcast::domain::model::now(),
    };
    store.create_user(&author, "x").await.expect("user");
    let mut rooms = Vec::new();
    for name in ["a", "b"] {
        let room = store
            .create_room(new_room(
                author.id,
                name,
                roomcast::domain::model::RoomType::Public,
                None,
                None,
            ))
            .await
            .expect("room");
        rooms.push(room.id);
    }
    let missing = RoomId::new();
    let targets: Vec<RoomId> = (0..300)
        .map(|i| [rooms[0], rooms[1], missing][i % 3])
        .collect();
    let inserts = targets.iter().map(|room| {
        let store = store.clone();
        let author = author.clone();
        let room = *room;
        async move {
            store
                .insert_message(roomcast::domain::ports::NewMessage {
                    id: MessageId::new(),
                    room,
                    author,
                    body: "hi".into(),
                    at: roomcast::domain::model::now(),
                })
                .await
        }
    });
    let results = futures_util::future::join_all(inserts).await;
    for (room, result) in targets.iter().zip(&results) {
        match result {
            Ok(m) => assert_eq!(m.room_id, *room),
            Err(e) => assert!(*room == missing, "only the missing room fails: {e:?}"),
        }
    }
    for room in &rooms {
        let mut seqs: Vec<i64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|m| m.room_id == *room)
            .map(|m| m.seq)
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=100).collect::<Vec<i64>>());
        let stored = store
            .messages_after(
                *room,
                roomcast::domain::ports::CatchUp {
                    after: 0,
                    up_to: None,
                    limit: 1000,
                },
            )
            .await
            .expect("read");
        assert_eq!(stored.len(), 100);
    }
}
