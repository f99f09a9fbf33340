//! Reads the server keeps in memory (a sender's access to a room, a token's session) must
//! never outlive the change that ends them: on the node that made the change at once, on
//! the others as soon as the change reaches them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;

use crate::helpers::*;

/// Sends one message and tells whether it was accepted, or its error code.
async fn post(app: &TestApp, who: &Session, room: &str) -> String {
    let r = app.send(who, room, "hi").await;
    if r.0["data"]["sendMessage"].is_object() {
        "OK".into()
    } else {
        r.code()
    }
}

#[tokio::test]
async fn a_kept_right_to_post_ends_with_every_change_that_revokes_it() {
    // Arrange: the member has posted, so their access to the room is kept.
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let room = app.create_room(&owner, "kept", "PUBLIC").await;
    let member = app.register(&uname("member")).await;
    app.join(&member, &room).await.ok();
    assert_eq!(post(&app, &member, &room).await, "OK");

    // Act and assert: each change shows in the very next sendMessage.
    let mut seen = Vec::new();
    app.post(
        Some(&owner.token),
        "mutation($r: ID!, $u: ID!) { muteMember(roomId: $r, userId: $u) { muted } }",
        json!({"r": room, "u": member.id}),
    )
    .await
    .ok();
    seen.push(("muted", post(&app, &member, &room).await));
    app.act(&owner, "unmuteMember", &room, &member.id)
        .await
        .ok();
    seen.push(("unmuted", post(&app, &member, &room).await));
    app.act(&owner, "removeMember", &room, &member.id)
        .await
        .ok();
    seen.push(("kicked", post(&app, &member, &room).await));
    app.join(&member, &room).await.ok();
    seen.push(("joined again", post(&app, &member, &room).await));
    app.post(
        Some(&member.token),
        "mutation($r: ID!) { leaveRoom(roomId: $r) }",
        json!({"r": room}),
    )
    .await
    .ok();
    seen.push(("left", post(&app, &member, &room).await));
    app.join(&member, &room).await.ok();
    assert_eq!(post(&app, &member, &room).await, "OK");
    app.act(&owner, "banUser", &room, &member.id).await.ok();
    seen.push(("banned", post(&app, &member, &room).await));
    // The owner's own kept access goes with the room.
    assert_eq!(post(&app, &owner, &room).await, "OK");
    app.post(
        Some(&owner.token),
        "mutation($r: ID!) { deleteRoom(roomId: $r) }",
        json!({"r": room}),
    )
    .await
    .ok();
    seen.push(("room deleted", post(&app, &owner, &room).await));

    assert_eq!(
        seen,
        vec![
            ("muted", "MUTED".to_owned()),
            ("unmuted", "OK".to_owned()),
            ("kicked", "FORBIDDEN".to_owned()),
            ("joined again", "OK".to_owned()),
            ("left", "FORBIDDEN".to_owned()),
            ("banned", "BANNED".to_owned()),
            ("room deleted", "NOT_FOUND".to_owned()),
        ]
    );
}

#[tokio::test]
async fn no_message_sent_after_a_ban_returns_is_accepted_however_the_two_race() {
    let app = Arc::new(spawn_app().await);
    let owner = app.register(&uname("owner")).await;
    for round in 0..20 {
        // Arrange: a member posting as fast as they can.
        let room = app
            .create_room(&owner, &format!("race {round}"), "PUBLIC")
            .await;
        let member = app.register(&uname("racer")).await;
        app.join(&member, &room).await.ok();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(Mutex::new(Vec::<(Instant, String)>::new()));
        let sender = {
            let (app, member, room, stop, sent) = (
                app.clone(),
                member.clone(),
                room.clone(),
                stop.clone(),
                sent.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let outcome = post(&app, &member, &room).await;
                    sent.lock().expect("lock").push((started, outcome));
                }
            })
        };
        let accepted = |sent: &Mutex<Vec<(Instant, String)>>, after: Option<Instant>| {
            sent.lock()
                .expect("lock")
                .iter()
                .filter(|(at, outcome)| after.is_none_or(|t| *at > t) && outcome == "OK")
                .count()
        };
        // Some get through first, so the access is kept when the ban comes.
        eventually(|| async { (accepted(&sent, None) >= 3).then_some(()) }).await;

        // Act
        app.act(&owner, "banUser", &room, &member.id).await.ok();
        let banned_at = Instant::now();
        let tried_since = |sent: &Mutex<Vec<(Instant, String)>>| {
            sent.lock()
                .expect("lock")
                .iter()
                .filter(|(at, _)| *at > banned_at)
                .count()
        };
        eventually(|| async { (tried_since(&sent) >= 3).then_some(()) }).await;
        stop.store(true, Ordering::SeqCst);
        sender.await.expect("sender task");

        // Assert
        assert_eq!(
            accepted(&sent, Some(banned_at)),
            0,
            "round {round}: messages accepted after the ban returned"
        );
        let sent = sent.lock().expect("lock");
        let last = sent.last().map(|(_, outcome)| outcome.as_str());
        assert_eq!(last, Some("BANNED"), "round {round}");
    }
}

#[tokio::test]
async fn a_token_used_before_logout_is_refused_right_after_it() {
    let app = spawn_app().await;
    let alice = app.register(&uname("alice")).await;
    let me = "{ viewer { id } }";
    assert_eq!(
        app.post(Some(&alice.token), me, json!({})).await.ok()["viewer"]["id"],
        alice.id.as_str()
    );

    app.post(Some(&alice.token), "mutation { logout }", json!({}))
        .await
        .ok();

    assert_eq!(
        app.post(Some(&alice.token), me, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
}
