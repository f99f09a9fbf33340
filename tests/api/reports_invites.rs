//! Reports, the moderation log and invite links: who may report a message and who may list
//! and decide reports, what deciding does (to history and live feeds); that every action of a
//! moderator writes exactly one log entry and nothing else writes any; and invite links'
//! limits, lifetimes, refusals and races.

use std::sync::Arc;

use roomcast::domain::clock::ManualClock;
use serde_json::{json, Value};

use crate::helpers::*;

const REPORT_FIELDS: &str = "id roomId reason status createdAt resolvedAt \
     reporter { id } resolvedBy { id } message { id body author { id } }";
const MESSAGES: &str = "query($r: ID!) { messages(roomId: $r) { nodes { id body } } }";
const DELETE_MESSAGE: &str = "mutation($m: ID!) { deleteMessage(messageId: $m) }";
const LEAVE: &str = "mutation($r: ID!) { leaveRoom(roomId: $r) }";
const REQUEST: &str = "mutation($r: ID!) { requestToJoin(roomId: $r) { user { id } } }";
const MUTE: &str = "mutation($r: ID!, $u: ID!, $d: Int) { muteMember(roomId: $r, userId: $u, durationSeconds: $d) { muted } }";
const BAN: &str = "mutation($r: ID!, $u: ID!, $why: String, $d: Int, $purge: Int) { banUser(roomId: $r, userId: $u, reason: $why, durationSeconds: $d, deleteMessagesSeconds: $purge) { user { id } } }";
const UPDATE: &str =
    "mutation($r: ID!, $i: UpdateRoomInput!) { updateRoom(roomId: $r, input: $i) { id } }";
const TERMS: &str =
    "mutation($r: ID!, $t: [String!]!) { setBlockedTerms(roomId: $r, terms: $t) { id } }";
const LOG: &str =
    "query($r: ID!, $f: Int, $a: String) { room(id: $r) { moderationLog(first: $f, after: $a) { \
     pageInfo { hasNextPage hasPreviousPage endCursor } \
     nodes { id action reason createdAt actor { id } target { id } } } } }";
const CREATE_INVITE: &str = "mutation($r: ID!, $max: Int, $ttl: Int) { createInvite(roomId: $r, maxUses: $max, expiresInSeconds: $ttl) { \
     code maxUses uses expiresAt createdAt createdBy { id } room { id } } }";
const PREVIEW: &str =
    "query($c: String!) { invite(code: $c) { roomId name topic type memberCount } }";
const JOIN_BY_INVITE: &str =
    "mutation($c: String!) { joinByInvite(code: $c) { role user { id } } }";
const REVOKE: &str = "mutation($c: String!) { revokeInvite(code: $c) }";
const INVITES: &str =
    "query($r: ID!) { room(id: $r) { invites { code maxUses uses expiresAt createdBy { id } } } }";
const MEMBER_COUNT: &str = "query($r: ID!) { room(id: $r) { memberCount } }";
/// Room events with what these tests look at in each.
const EVENTS: &str = "subscription($r: ID!) { roomEvents(roomId: $r) { __typename \
     ... on MessageReported { report { id reason status reporter { id } message { id } } } \
     ... on ReportDecided { report { id status resolvedBy { id } } } \
     ... on MessageDeleted { messageId } \
     ... on MemberJoined { member { user { id } } } \
     ... on MemberLeft { user { id } } \
     ... on MemberUnmuted { member { user { id } muted } } \
     ... on MemberUnbanned { user { id } } } }";

// ------------------------------------------------------------------ helpers

/// Sends a message and returns its id.
async fn post_message(app: &TestApp, who: &Session, room: &str, body: &str) -> String {
    app.send(who, room, body).await.ok()["sendMessage"]["id"]
        .as_str()
        .expect("message id")
        .to_owned()
}

async fn bodies(app: &TestApp, who: &Session, room: &str) -> Vec<String> {
    let r = app
        .post(Some(&who.token), MESSAGES, json!({"r": room}))
        .await;
    strings(&r.ok()["messages"]["nodes"], "body")
}

async fn delete_message(app: &TestApp, who: &Session, id: &str) -> Gql {
    app.post(Some(&who.token), DELETE_MESSAGE, json!({"m": id}))
        .await
}

async fn report(app: &TestApp, who: Option<&Session>, message: &str, reason: &str) -> Gql {
    app.post(
        who.map(|w| w.token.as_str()),
        &format!(
            "mutation($m: ID!, $why: String!) {{ reportMessage(messageId: $m, reason: $why) {{ {REPORT_FIELDS} }} }}"
        ),
        json!({"m": message, "why": reason}),
    )
    .await
}

/// Reports `message` as `who` and returns the report's id.
async fn report_id(app: &TestApp, who: &Session, message: &str, reason: &str) -> String {
    report(app, Some(who), message, reason).await.ok()["reportMessage"]["id"]
        .as_str()
        .expect("report id")
        .to_owned()
}

async fn resolve(app: &TestApp, who: &Session, report: &str, delete: bool) -> Gql {
    app.post(
        Some(&who.token),
        &format!(
            "mutation($id: ID!, $del: Boolean!) {{ resolveReport(reportId: $id, deleteMessage: $del) {{ {REPORT_FIELDS} }} }}"
        ),
        json!({"id": report, "del": delete}),
    )
    .await
}

async fn dismiss(app: &TestApp, who: &Session, report: &str) -> Gql {
    app.post(
        Some(&who.token),
        &format!("mutation($id: ID!) {{ dismissReport(reportId: $id) {{ {REPORT_FIELDS} }} }}"),
        json!({"id": report}),
    )
    .await
}

/// `room.reports(status, first, after)` as `who`.
async fn reports_page(
    app: &TestApp,
    who: &Session,
    room: &str,
    status: Option<&str>,
    first: Option<i64>,
    after: Option<&str>,
) -> Gql {
    app.post(
        Some(&who.token),
        &format!(
            "query($r: ID!, $s: ReportStatus, $f: Int, $a: String) {{ room(id: $r) {{ \
               reports(status: $s, first: $f, after: $a) {{ \
                 pageInfo {{ hasNextPage hasPreviousPage endCursor }} nodes {{ {REPORT_FIELDS} }} }} }} }}"
        ),
        json!({"r": room, "s": status, "f": first, "a": after}),
    )
    .await
}

/// The reports of the room in `status` (all of them: up to 20, one page), as an admin sees
/// them.
async fn reports_in(app: &TestApp, admin: &Session, room: &str, status: &str) -> Vec<Value> {
    let r = reports_page(app, admin, room, Some(status), Some(20), None).await;
    assert_eq!(
        r.ok()["room"]["reports"]["pageInfo"]["hasNextPage"],
        false,
        "the reports fit a page"
    );
    r.ok()["room"]["reports"]["nodes"]
        .as_array()
        .expect("reports")
        .clone()
}

/// The `extensions.field` of the first error.
fn field(r: &Gql) -> Value {
    r.0["errors"][0]["extensions"]["field"].clone()
}

async fn ban(
    app: &TestApp,
    who: &Session,
    room: &str,
    user: &str,
    reason: Option<&str>,
    seconds: Option<i64>,
    purge: Option<i64>,
) -> Gql {
    app.post(
        Some(&who.token),
        BAN,
        json!({"r": room, "u": user, "why": reason, "d": seconds, "purge": purge}),
    )
    .await
}

async fn create_invite(
    app: &TestApp,
    who: &Session,
    room: &str,
    max_uses: Option<i64>,
    ttl: Option<i64>,
) -> Gql {
    app.post(
        Some(&who.token),
        CREATE_INVITE,
        json!({"r": room, "max": max_uses, "ttl": ttl}),
    )
    .await
}

/// Creates an invite as `who` and returns its code.
async fn invite_code(
    app: &TestApp,
    who: &Session,
    room: &str,
    max_uses: Option<i64>,
    ttl: Option<i64>,
) -> String {
    create_invite(app, who, room, max_uses, ttl).await.ok()["createInvite"]["code"]
        .as_str()
        .expect("code")
        .to_owned()
}

async fn join_by_invite(app: &TestApp, who: Option<&Session>, code: &str) -> Gql {
    app.post(
        who.map(|w| w.token.as_str()),
        JOIN_BY_INVITE,
        json!({"c": code}),
    )
    .await
}

async fn preview(app: &TestApp, who: Option<&Session>, code: &str) -> Gql {
    app.post(who.map(|w| w.token.as_str()), PREVIEW, json!({"c": code}))
        .await
}

async fn revoke(app: &TestApp, who: &Session, code: &str) -> Gql {
    app.post(Some(&who.token), REVOKE, json!({"c": code})).await
}

async fn invites(app: &TestApp, who: &Session, room: &str) -> Gql {
    app.post(Some(&who.token), INVITES, json!({"r": room}))
        .await
}

/// The invite `code` as `Room.invites` lists it to `admin` (Null when not listed).
async fn listed_invite(app: &TestApp, admin: &Session, room: &str, code: &str) -> Value {
    invites(app, admin, room).await.ok()["room"]["invites"]
        .as_array()
        .expect("invites")
        .iter()
        .find(|i| i["code"] == code)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn member_count(app: &TestApp, who: &Session, room: &str) -> i64 {
    let r = app
        .post(Some(&who.token), MEMBER_COUNT, json!({"r": room}))
        .await;
    r.ok()["room"]["memberCount"].as_i64().expect("count")
}

/// A graphql-ws connection as `who` with the room's events subscribed as "e".
async fn events_of(app: &TestApp, who: &Session, room: &str) -> WsClient {
    let mut ws = app.ws(Some(&who.token)).await;
    ws.subscribe("e", EVENTS, json!({"r": room})).await;
    ws
}

/// The next room event on `ws` (operation "e").
async fn next_event(ws: &mut WsClient) -> Value {
    ws.next_data("e").await["roomEvents"].clone()
}

/// Skips events until one of type `typename` arrives (each read bounded by `WAIT`).
async fn event_of_type(ws: &mut WsClient, typename: &str) -> Value {
    loop {
        let event = next_event(ws).await;
        if event["__typename"] == typename {
            return event;
        }
    }
}

fn typenames(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["__typename"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// One moderation log entry as (action, actor id, target id, reason).
type Line = (String, String, Option<String>, Option<String>);

fn line(action: &str, actor: &Session, target: Option<&Session>, reason: Option<&str>) -> Line {
    (
        action.to_owned(),
        actor.id.clone(),
        target.map(|t| t.id.clone()),
        reason.map(str::to_owned),
    )
}

fn line_of(entry: &Value) -> Line {
    (
        entry["action"].as_str().unwrap_or("").to_owned(),
        entry["actor"]["id"].as_str().unwrap_or("").to_owned(),
        entry["target"]["id"].as_str().map(str::to_owned),
        entry["reason"].as_str().map(str::to_owned),
    )
}

async fn log_page(
    app: &TestApp,
    who: Option<&Session>,
    room: &str,
    first: i64,
    after: Option<&str>,
) -> Gql {
    app.post(
        who.map(|w| w.token.as_str()),
        LOG,
        json!({"r": room, "f": first, "a": after}),
    )
    .await
}

/// The room's whole log (up to 100 entries), newest first.
async fn log_lines(app: &TestApp, admin: &Session, room: &str) -> Vec<Line> {
    let r = log_page(app, Some(admin), room, 100, None).await;
    let log = &r.ok()["room"]["moderationLog"];
    assert_eq!(log["pageInfo"]["hasNextPage"], false, "the log fits a page");
    log["nodes"]
        .as_array()
        .expect("entries")
        .iter()
        .map(line_of)
        .collect()
}

/// Follows a room's log: each `expect` checks the entries written since the last one.
struct LogWatch<'a> {
    app: &'a TestApp,
    admin: Session,
    room: String,
    seen: usize,
}

impl<'a> LogWatch<'a> {
    fn new(app: &'a TestApp, admin: &Session, room: &str) -> Self {
        Self {
            app,
            admin: admin.clone(),
            room: room.to_owned(),
            seen: 0,
        }
    }

    /// The entries written since the last call are exactly `want` (newest first).
    async fn expect(&mut self, step: &str, want: Vec<Line>) {
        let lines = log_lines(self.app, &self.admin, &self.room).await;
        let new = lines.len().saturating_sub(self.seen);
        assert_eq!(
            &lines[..new],
            want.as_slice(),
            "{step}: the new log entries (newest first)"
        );
        self.seen = lines.len();
    }
}

// ------------------------------------------------------------------ reports

#[tokio::test]
async fn members_and_signed_in_readers_of_a_public_room_may_report_a_message() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let reader = app.register(&uname("reader")).await;
    let message = post_message(&app, &c.owner, &c.room, "buy cheap watches").await;

    // Act
    let by_member = report(&app, Some(&c.member), &message, "  spam  ").await;
    let by_reader = report(&app, Some(&reader), &message, "advertising").await;
    let open = reports_in(&app, &c.admin, &c.room, "OPEN").await;

    // Assert
    let r = &by_member.ok()["reportMessage"];
    assert_eq!(r["status"], "OPEN");
    assert_eq!(r["reason"], "spam", "the reason is trimmed");
    assert_eq!(r["roomId"], c.room.as_str());
    assert_eq!(r["reporter"]["id"], c.member.id.as_str());
    assert_eq!(r["message"]["id"], message.as_str());
    assert_eq!(r["message"]["author"]["id"], c.owner.id.as_str());
    assert!(r["createdAt"].is_string(), "{r}");
    assert_eq!(
        (&r["resolvedBy"], &r["resolvedAt"]),
        (&Value::Null, &Value::Null)
    );
    let r = &by_reader.ok()["reportMessage"];
    assert_eq!(r["reporter"]["id"], reader.id.as_str());
    assert_eq!(
        strings(&Value::Array(open.clone()), "reason"),
        ["advertising", "spam"]
    );
}

#[tokio::test]
async fn a_report_reason_is_1_to_500_characters() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let message = post_message(&app, &c.owner, &c.room, "hello").await;

    // Act
    let empty = report(&app, Some(&c.member), &message, "").await;
    let blank = report(&app, Some(&c.member), &message, "   \n ").await;
    let too_long = report(&app, Some(&c.member), &message, &"x".repeat(501)).await;
    let longest = report(&app, Some(&c.member), &message, &"é".repeat(500)).await;

    // Assert
    for (what, r) in [("empty", &empty), ("blank", &blank), ("501", &too_long)] {
        assert_eq!(r.code(), "BAD_USER_INPUT", "{what}");
        assert_eq!(field(r), "reason", "{what}");
    }
    assert_eq!(
        longest.ok()["reportMessage"]["reason"],
        "é".repeat(500).as_str()
    );
    assert_eq!(reports_in(&app, &c.admin, &c.room, "OPEN").await.len(), 1);
}

#[tokio::test]
async fn a_second_open_report_of_a_message_conflicts_until_the_first_is_decided() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let other = app.member_of(&c.owner, &c.room, "other").await;
    let message = post_message(&app, &c.owner, &c.room, "hello").await;
    let first = report_id(&app, &c.member, &message, "one").await;

    // Act
    let again = report(&app, Some(&c.member), &message, "two").await;
    let by_other = report(&app, Some(&other), &message, "mine").await;
    dismiss(&app, &c.admin, &first).await.ok();
    let after_dismissal = report(&app, Some(&c.member), &message, "three").await;
    let third = after_dismissal.ok()["reportMessage"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let while_open = report(&app, Some(&c.member), &message, "four").await;
    resolve(&app, &c.admin, &third, false).await.ok();
    let after_resolution = report(&app, Some(&c.member), &message, "five").await;

    // Assert
    assert_eq!(again.code(), "CONFLICT");
    by_other.ok();
    assert_eq!(while_open.code(), "CONFLICT");
    after_resolution.ok();
    let open = reports_in(&app, &c.admin, &c.room, "OPEN").await;
    assert_eq!(strings(&Value::Array(open), "reason"), ["five", "mine"]);
}

#[tokio::test]
async fn outsiders_of_hidden_rooms_and_unknown_ids_get_the_same_not_found() {
    // Arrange
    let app = spawn_app().await;
    let private = cast(&app, "PRIVATE").await;
    let restricted = cast(&app, "RESTRICTED").await;
    let outsider = app.register(&uname("outsider")).await;
    let in_private = post_message(&app, &private.owner, &private.room, "secret").await;
    let in_restricted = post_message(&app, &restricted.owner, &restricted.room, "club").await;
    let unknown = uuid::Uuid::now_v7().to_string();

    // Act
    let hidden = report(&app, Some(&outsider), &in_private, "spam").await;
    let members_only = report(&app, Some(&outsider), &in_restricted, "spam").await;
    let no_such = report(&app, Some(&outsider), &unknown, "spam").await;
    let member = report(&app, Some(&private.member), &in_private, "spam").await;

    // Assert
    for (what, r) in [
        ("private", &hidden),
        ("restricted", &members_only),
        ("unknown", &no_such),
    ] {
        assert_eq!(r.code(), "NOT_FOUND", "{what}");
        assert_eq!(r.message(), no_such.message(), "{what}: the same answer");
    }
    member.ok();
    assert_eq!(
        reports_in(&app, &private.admin, &private.room, "OPEN")
            .await
            .len(),
        1
    );
    assert!(
        reports_in(&app, &restricted.admin, &restricted.room, "OPEN")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn anonymous_visitors_cannot_report() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let message = post_message(&app, &c.owner, &c.room, "hello").await;

    // Act
    let r = report(&app, None, &message, "spam").await;

    // Assert
    assert_eq!(r.code(), "UNAUTHENTICATED");
    assert!(reports_in(&app, &c.admin, &c.room, "OPEN").await.is_empty());
}

#[tokio::test]
async fn only_admins_list_reports() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let reader = app.register(&uname("reader")).await;
    let message = post_message(&app, &c.owner, &c.room, "hello").await;
    report_id(&app, &c.member, &message, "spam").await;

    // Act
    let by_member = reports_page(&app, &c.member, &c.room, None, None, None).await;
    let by_reader = reports_page(&app, &reader, &c.room, None, None, None).await;
    let by_admin = reports_page(&app, &c.admin, &c.room, None, None, None).await;
    let by_owner = reports_page(&app, &c.owner, &c.room, None, None, None).await;

    // Assert
    assert_eq!(by_member.code(), "FORBIDDEN");
    assert_eq!(by_reader.code(), "FORBIDDEN");
    for r in [&by_admin, &by_owner] {
        let nodes = &r.ok()["room"]["reports"]["nodes"];
        assert_eq!(strings(nodes, "reason"), ["spam"], "the default is OPEN");
    }
}

#[tokio::test]
async fn reports_list_newest_first_in_pages_and_by_status() {
    // Arrange: five reports, r1 oldest.
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        let message = post_message(&app, &c.owner, &c.room, &format!("m{n}")).await;
        ids.push(report_id(&app, &c.member, &message, &format!("r{n}")).await);
    }

    // Act
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = reports_page(
            &app,
            &c.admin,
            &c.room,
            Some("OPEN"),
            Some(2),
            after.as_deref(),
        )
        .await;
        let conn = r.ok()["room"]["reports"].clone();
        pages.push((
            strings(&conn["nodes"], "reason"),
            conn["pageInfo"]["hasNextPage"].clone(),
            conn["pageInfo"]["hasPreviousPage"].clone(),
        ));
        if conn["pageInfo"]["hasNextPage"] != true || pages.len() > 5 {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    resolve(&app, &c.admin, &ids[1], false).await.ok();
    dismiss(&app, &c.admin, &ids[3]).await.ok();
    let reasons = |v: Vec<Value>| strings(&Value::Array(v), "reason");
    let open = reasons(reports_in(&app, &c.admin, &c.room, "OPEN").await);
    let resolved = reasons(reports_in(&app, &c.admin, &c.room, "RESOLVED").await);
    let dismissed = reasons(reports_in(&app, &c.admin, &c.room, "DISMISSED").await);
    let bad_cursor = reports_page(&app, &c.admin, &c.room, None, Some(2), Some("nope")).await;
    let sized = |first: i64| {
        app.post(
            Some(&c.admin.token),
            "query($r: ID!, $f: Int) { room(id: $r) { reports(first: $f) { nodes { id } } } }",
            json!({"r": c.room, "f": first}),
        )
    };
    let too_small = sized(0).await;
    let too_large = sized(101).await;

    // Assert
    let page = |names: &[&str], next: bool, previous: bool| {
        (
            names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            json!(next),
            json!(previous),
        )
    };
    assert_eq!(
        pages,
        vec![
            page(&["r5", "r4"], true, false),
            page(&["r3", "r2"], true, true),
            page(&["r1"], false, true),
        ]
    );
    assert_eq!(open, ["r5", "r3", "r1"]);
    assert_eq!(resolved, ["r2"]);
    assert_eq!(dismissed, ["r4"]);
    assert_eq!(bad_cursor.code(), "BAD_USER_INPUT");
    assert_eq!(field(&bad_cursor), "after");
    for r in [&too_small, &too_large] {
        assert_eq!(r.code(), "BAD_USER_INPUT");
        assert_eq!(field(r), "first", "{}", r.0);
    }
}

#[tokio::test]
async fn resolving_with_delete_erases_the_message_as_delete_message_does() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let other = app.member_of(&c.owner, &c.room, "other").await;
    let message = post_message(&app, &c.member, &c.room, "offensive").await;
    post_message(&app, &c.member, &c.room, "harmless").await;
    let first = report_id(&app, &c.owner, &message, "rude").await;
    let second = report_id(&app, &other, &message, "very rude").await;
    let mut watcher = events_of(&app, &c.owner, &c.room).await;
    app.feeds_open(0, 1).await;

    // Act
    let resolved = resolve(&app, &c.admin, &first, true).await;
    resolved.ok();
    let deleted = event_of_type(&mut watcher, "MessageDeleted").await;
    let history = bodies(&app, &c.owner, &c.room).await;
    let resolved_list = reports_in(&app, &c.admin, &c.room, "RESOLVED").await;
    let still_open = reports_in(&app, &c.admin, &c.room, "OPEN").await;
    let delete_again = delete_message(&app, &c.admin, &message).await;
    let log = log_lines(&app, &c.owner, &c.room).await;

    // Assert
    let r = &resolved.ok()["resolveReport"];
    assert_eq!(r["status"], "RESOLVED");
    assert_eq!(r["message"], Value::Null, "the message is gone: {r}");
    assert_eq!(r["resolvedBy"]["id"], c.admin.id.as_str());
    assert!(r["resolvedAt"].is_string(), "{r}");
    assert_eq!(deleted["messageId"], message.as_str());
    assert_eq!(history, ["harmless"]);
    assert_eq!(resolved_list.len(), 1);
    assert_eq!(resolved_list[0]["message"], Value::Null);
    assert_eq!(still_open.len(), 1);
    assert_eq!(still_open[0]["id"], second.as_str());
    assert_eq!(
        still_open[0]["message"],
        Value::Null,
        "the other report of the message loses it too"
    );
    assert_eq!(delete_again.code(), "NOT_FOUND");
    assert_eq!(
        log[..2],
        [
            line("MESSAGE_DELETED", &c.admin, Some(&c.member), None),
            line("REPORT_RESOLVED", &c.admin, Some(&c.member), Some("rude")),
        ]
    );
}

#[tokio::test]
async fn resolving_without_delete_keeps_the_message_and_dismissing_records_who_decided() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let kept = post_message(&app, &c.member, &c.room, "borderline").await;
    let other = post_message(&app, &c.member, &c.room, "fine").await;
    let to_resolve = report_id(&app, &c.owner, &kept, "hmm").await;
    let to_dismiss = report_id(&app, &c.owner, &other, "meh").await;

    // Act
    let resolved = resolve(&app, &c.admin, &to_resolve, false).await;
    let dismissed = dismiss(&app, &c.owner, &to_dismiss).await;
    let history = bodies(&app, &c.member, &c.room).await;

    // Assert
    let r = &resolved.ok()["resolveReport"];
    assert_eq!(r["status"], "RESOLVED");
    assert_eq!(r["message"]["id"], kept.as_str());
    assert_eq!(r["resolvedBy"]["id"], c.admin.id.as_str());
    assert!(r["resolvedAt"].is_string(), "{r}");
    let d = &dismissed.ok()["dismissReport"];
    assert_eq!(d["status"], "DISMISSED");
    assert_eq!(d["message"]["id"], other.as_str());
    assert_eq!(d["resolvedBy"]["id"], c.owner.id.as_str());
    assert!(d["resolvedAt"].is_string(), "{d}");
    assert_eq!(history, ["borderline", "fine"]);
    assert!(reports_in(&app, &c.admin, &c.room, "OPEN").await.is_empty());
}

#[tokio::test]
async fn a_report_is_decided_only_once() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let message = post_message(&app, &c.member, &c.room, "hello").await;
    let resolved_first = report_id(&app, &c.owner, &message, "a").await;
    let dismissed_first = report_id(&app, &c.admin, &message, "b").await;
    resolve(&app, &c.admin, &resolved_first, false).await.ok();
    dismiss(&app, &c.admin, &dismissed_first).await.ok();

    // Act
    let attempts = [
        resolve(&app, &c.owner, &resolved_first, false).await,
        dismiss(&app, &c.owner, &resolved_first).await,
        resolve(&app, &c.owner, &dismissed_first, true).await,
        dismiss(&app, &c.owner, &dismissed_first).await,
    ];
    let unknown = dismiss(&app, &c.owner, &uuid::Uuid::now_v7().to_string()).await;

    // Assert
    for (n, r) in attempts.iter().enumerate() {
        assert_eq!(r.code(), "CONFLICT", "attempt {n}");
    }
    assert_eq!(unknown.code(), "NOT_FOUND");
    assert_eq!(bodies(&app, &c.member, &c.room).await, ["hello"]);
    let resolved = reports_in(&app, &c.admin, &c.room, "RESOLVED").await;
    assert_eq!(resolved[0]["resolvedBy"]["id"], c.admin.id.as_str());
}

#[tokio::test]
async fn members_cannot_decide_reports() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let outsider = app.register(&uname("outsider")).await;
    let message = post_message(&app, &c.owner, &c.room, "hello").await;
    let id = report_id(&app, &c.member, &message, "spam").await;

    // Act
    let member_resolves = resolve(&app, &c.member, &id, true).await;
    let member_dismisses = dismiss(&app, &c.member, &id).await;
    let outsider_dismisses = dismiss(&app, &outsider, &id).await;

    // Assert
    assert_eq!(member_resolves.code(), "FORBIDDEN");
    assert_eq!(member_dismisses.code(), "FORBIDDEN");
    assert_eq!(outsider_dismisses.code(), "FORBIDDEN");
    let open = reports_in(&app, &c.admin, &c.room, "OPEN").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["resolvedBy"], Value::Null);
    assert_eq!(bodies(&app, &c.member, &c.room).await, ["hello"]);
}

/// One reporter racing themselves: one open report, the rest CONFLICT.
#[tokio::test]
async fn racing_reports_of_one_message_by_one_user_make_one_report() {
    // Arrange
    let app = Arc::new(spawn_app().await);
    let c = cast(&app, "PUBLIC").await;
    let message = post_message(&app, &c.owner, &c.room, "hello").await;

    // Act
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let (app, who, message) = (app.clone(), c.member.clone(), message.clone());
            tokio::spawn(async move { report(&app, Some(&who), &message, &format!("r{n}")).await })
        })
        .collect();
    let mut codes = Vec::new();
    for task in tasks {
        let r = task.await.expect("task");
        codes.push(match r.0.get("errors") {
            Some(e) if !e.is_null() => r.code(),
            _ => "OK".to_owned(),
        });
    }

    // Assert
    codes.sort();
    let mut want = vec!["CONFLICT".to_owned(); 9];
    want.push("OK".to_owned());
    assert_eq!(codes, want);
    assert_eq!(reports_in(&app, &c.admin, &c.room, "OPEN").await.len(), 1);
}

/// Two admins deciding one report at once: one decision, one CONFLICT, one log entry.
#[tokio::test]
async fn racing_decisions_on_one_report_decide_it_once() {
    let app = Arc::new(spawn_app().await);
    let c = cast(&app, "PUBLIC").await;
    for round in 0..5 {
        // Arrange
        let message = post_message(&app, &c.member, &c.room, &format!("m{round}")).await;
        let id = report_id(&app, &c.member, &message, &format!("r{round}")).await;

        // Act
        let resolving = {
            let (app, who, id) = (app.clone(), c.owner.clone(), id.clone());
            tokio::spawn(async move { resolve(&app, &who, &id, true).await })
        };
        let dismissing = {
            let (app, who, id) = (app.clone(), c.admin.clone(), id.clone());
            tokio::spawn(async move { dismiss(&app, &who, &id).await })
        };
        let (resolving, dismissing) = (
            resolving.await.expect("task"),
            dismissing.await.expect("task"),
        );

        // Assert
        let resolved = resolving.0.get("errors").is_none_or(|e| e.is_null());
        let dismissed = dismissing.0.get("errors").is_none_or(|e| e.is_null());
        assert!(resolved != dismissed, "round {round}: exactly one decides");
        let loser = if resolved { &dismissing } else { &resolving };
        assert_eq!(loser.code(), "CONFLICT", "round {round}");
        let decisions: Vec<_> = log_lines(&app, &c.owner, &c.room)
            .await
            .into_iter()
            .filter(|(action, _, _, reason)| {
                action.starts_with("REPORT_") && reason.as_deref() == Some(&format!("r{round}"))
            })
            .collect();
        assert_eq!(decisions.len(), 1, "round {round}: {decisions:?}");
        let history = bodies(&app, &c.member, &c.room).await;
        assert_eq!(
            history.contains(&format!("m{round}")),
            dismissed,
            "round {round}: erased only when resolved"
        );
    }
}

#[tokio::test]
async fn reports_and_decisions_reach_admins_feeds_only() {
    // Arrange: an admin, the reporting member and a reader who is no member, all watching.
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let reader = app.register(&uname("reader")).await;
    let message = post_message(&app, &c.owner, &c.room, "hello").await;
    let mut admin = events_of(&app, &c.admin, &c.room).await;
    let mut member = events_of(&app, &c.member, &c.room).await;
    let mut outsider = events_of(&app, &reader, &c.room).await;
    app.feeds_open(0, 3).await;

    // Act
    let id = report_id(&app, &c.member, &message, "spam").await;
    dismiss(&app, &c.owner, &id).await.ok();
    // Something everyone sees, after the report and its decision.
    delete_message(&app, &c.owner, &message).await.ok();
    let admin_saw = vec![
        next_event(&mut admin).await,
        next_event(&mut admin).await,
        next_event(&mut admin).await,
    ];
    let member_saw = next_event(&mut member).await;
    let outsider_saw = next_event(&mut outsider).await;

    // Assert
    assert_eq!(
        typenames(&admin_saw),
        ["MessageReported", "ReportDecided", "MessageDeleted"]
    );
    let reported = &admin_saw[0]["report"];
    assert_eq!(reported["id"], id.as_str());
    assert_eq!(reported["reason"], "spam");
    assert_eq!(reported["status"], "OPEN");
    assert_eq!(reported["reporter"]["id"], c.member.id.as_str());
    assert_eq!(reported["message"]["id"], message.as_str());
    let decided = &admin_saw[1]["report"];
    assert_eq!(decided["status"], "DISMISSED");
    assert_eq!(decided["resolvedBy"]["id"], c.owner.id.as_str());
    assert_eq!(
        member_saw["__typename"], "MessageDeleted",
        "the reporter, a member, sees neither the report nor its decision"
    );
    assert_eq!(outsider_saw["__typename"], "MessageDeleted");
}

/// Leaving a PUBLIC room keeps a live events feed open (anyone signed in may read it), but
/// the reader is no admin any more: reports are not theirs to see. (The owner, still an
/// admin, watches too: the report was delivered.)
#[tokio::test]
async fn an_admin_who_leaves_a_public_room_no_longer_sees_reports_on_a_live_feed() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let message = post_message(&app, &c.owner, &c.room, "hello").await;
    let mut former = events_of(&app, &c.admin, &c.room).await;
    let mut owner = events_of(&app, &c.owner, &c.room).await;
    app.feeds_open(0, 2).await;
    app.post(Some(&c.admin.token), LEAVE, json!({"r": c.room}))
        .await
        .ok();

    // Act
    report_id(&app, &c.member, &message, "spam").await;
    let newcomer = app.register(&uname("newcomer")).await;
    app.join(&newcomer, &c.room).await.ok();
    let former_saw = vec![next_event(&mut former).await, next_event(&mut former).await];
    let owner_saw = vec![
        next_event(&mut owner).await,
        next_event(&mut owner).await,
        next_event(&mut owner).await,
    ];
    let list = reports_page(&app, &c.admin, &c.room, None, None, None).await;

    // Assert
    assert_eq!(
        typenames(&owner_saw),
        ["MemberLeft", "MessageReported", "MemberJoined"]
    );
    assert_eq!(list.code(), "FORBIDDEN");
    assert_eq!(
        typenames(&former_saw),
        ["MemberLeft", "MemberJoined"],
        "no MessageReported after leaving: {former_saw:?}"
    );
}

/// A demoted admin's live feed follows the new role: reports are for admins.
#[tokio::test]
async fn a_demoted_admin_no_longer_sees_reports_on_a_live_feed() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let message = post_message(&app, &c.owner, &c.room, "hello").await;
    let mut demoted = events_of(&app, &c.admin, &c.room).await;
    let mut owner = events_of(&app, &c.owner, &c.room).await;
    app.feeds_open(0, 2).await;
    app.set_role(&c.owner, &c.room, &c.admin.id, "MEMBER")
        .await
        .ok();

    // Act
    report_id(&app, &c.member, &message, "spam").await;
    let newcomer = app.register(&uname("newcomer")).await;
    app.join(&newcomer, &c.room).await.ok();
    let demoted_saw = vec![
        next_event(&mut demoted).await,
        next_event(&mut demoted).await,
    ];
    let owner_saw = vec![
        next_event(&mut owner).await,
        next_event(&mut owner).await,
        next_event(&mut owner).await,
    ];

    // Assert
    assert_eq!(
        typenames(&owner_saw),
        ["MemberRoleChanged", "MessageReported", "MemberJoined"]
    );
    assert_eq!(
        typenames(&demoted_saw),
        ["MemberRoleChanged", "MemberJoined"],
        "no MessageReported after the demotion: {demoted_saw:?}"
    );
}

// ------------------------------------------------------------------ the moderation log

#[tokio::test]
async fn only_admins_read_the_moderation_log() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let reader = app.register(&uname("reader")).await;

    // Act
    let by_member = log_page(&app, Some(&c.member), &c.room, 10, None).await;
    let by_reader = log_page(&app, Some(&reader), &c.room, 10, None).await;
    let anonymous = log_page(&app, None, &c.room, 10, None).await;
    let by_admin = log_page(&app, Some(&c.admin), &c.room, 10, None).await;
    let by_owner = log_page(&app, Some(&c.owner), &c.room, 10, None).await;

    // Assert
    assert_eq!(by_member.code(), "FORBIDDEN");
    assert_eq!(by_reader.code(), "FORBIDDEN");
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    // The cast's setup: the admin added and promoted, the member added.
    for r in [&by_admin, &by_owner] {
        let nodes = r.ok()["room"]["moderationLog"]["nodes"].clone();
        assert_eq!(
            strings(&nodes, "action"),
            ["MEMBER_ADDED", "ROLE_CHANGED", "MEMBER_ADDED"]
        );
    }
}

/// Every kind of action, one after another, each followed by a look at what it added to
/// the log: exactly its entries, with actor, target and reason; actions that are not a
/// moderator's (asking to join, joining, leaving, reporting, deleting one's own message,
/// joining by invite) add none.
#[tokio::test]
async fn every_moderators_action_writes_one_log_entry() {
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let room = app.create_room(&owner, "audited", "RESTRICTED").await;
    let [admin, m1, m2, m3, asker, refused, purged, walker, invitee] = [
        "admin", "m1", "m2", "m3", "asker", "refused", "purged", "walker", "invitee",
    ]
    .map(uname);
    let mut users = Vec::new();
    for name in [
        &admin, &m1, &m2, &m3, &asker, &refused, &purged, &walker, &invitee,
    ] {
        users.push(app.register(name).await);
    }
    let [admin, m1, m2, m3, asker, refused, purged, walker, invitee] =
        <[Session; 9]>::try_from(users).expect("nine users");
    let mut log = LogWatch::new(&app, &owner, &room);
    log.expect("a new room", vec![]).await;

    app.act(&owner, "addMember", &room, &admin.id).await.ok();
    log.expect(
        "addMember",
        vec![line("MEMBER_ADDED", &owner, Some(&admin), None)],
    )
    .await;
    app.set_role(&owner, &room, &admin.id, "ADMIN").await.ok();
    log.expect(
        "setMemberRole",
        vec![line("ROLE_CHANGED", &owner, Some(&admin), Some("ADMIN"))],
    )
    .await;
    for m in [&m1, &m2, &m3, &purged] {
        app.act(&admin, "addMember", &room, &m.id).await.ok();
        log.expect(
            "addMember",
            vec![line("MEMBER_ADDED", &admin, Some(m), None)],
        )
        .await;
    }

    app.act(&admin, "removeMember", &room, &m1.id).await.ok();
    log.expect(
        "removeMember",
        vec![line("MEMBER_REMOVED", &admin, Some(&m1), None)],
    )
    .await;
    ban(&app, &admin, &room, &m2.id, Some("spam"), None, None)
        .await
        .ok();
    log.expect(
        "banUser",
        vec![line("MEMBER_BANNED", &admin, Some(&m2), Some("spam"))],
    )
    .await;
    app.act(&admin, "unbanUser", &room, &m2.id).await.ok();
    log.expect(
        "unbanUser",
        vec![line("MEMBER_UNBANNED", &admin, Some(&m2), None)],
    )
    .await;
    for (seconds, reason) in [(Some(600), Some("for 600 s")), (None, None)] {
        app.post(
            Some(&admin.token),
            MUTE,
            json!({"r": room, "u": m3.id, "d": seconds}),
        )
        .await
        .ok();
        log.expect(
            "muteMember",
            vec![line("MEMBER_MUTED", &admin, Some(&m3), reason)],
        )
        .await;
    }
    app.act(&admin, "unmuteMember", &room, &m3.id).await.ok();
    log.expect(
        "unmuteMember",
        vec![line("MEMBER_UNMUTED", &admin, Some(&m3), None)],
    )
    .await;

    for who in [&asker, &refused] {
        app.post(Some(&who.token), REQUEST, json!({"r": room}))
            .await
            .ok();
    }
    log.expect("requestToJoin", vec![]).await;
    app.act(&admin, "approveJoinRequest", &room, &asker.id)
        .await
        .ok();
    log.expect(
        "approveJoinRequest",
        vec![line("JOIN_REQUEST_APPROVED", &admin, Some(&asker), None)],
    )
    .await;
    app.act(&admin, "rejectJoinRequest", &room, &refused.id)
        .await
        .ok();
    log.expect(
        "rejectJoinRequest",
        vec![line("JOIN_REQUEST_REJECTED", &admin, Some(&refused), None)],
    )
    .await;

    let own = post_message(&app, &m3, &room, "oops").await;
    delete_message(&app, &m3, &own).await.ok();
    log.expect("an author deleting their own message", vec![])
        .await;
    let theirs = post_message(&app, &m3, &room, "rude").await;
    delete_message(&app, &admin, &theirs).await.ok();
    log.expect(
        "deleteMessage by an admin",
        vec![line("MESSAGE_DELETED", &admin, Some(&m3), None)],
    )
    .await;

    for body in ["spam 1", "spam 2"] {
        post_message(&app, &purged, &room, body).await;
    }
    ban(&app, &admin, &room, &purged.id, None, None, Some(3600))
        .await
        .ok();
    log.expect(
        "banUser with a purge",
        vec![
            line("MESSAGES_PURGED", &admin, Some(&purged), Some("2 messages")),
            line("MEMBER_BANNED", &admin, Some(&purged), None),
        ],
    )
    .await;
    ban(&app, &admin, &room, &m1.id, None, None, Some(3600))
        .await
        .ok();
    log.expect(
        "banUser with a purge that erased nothing",
        vec![line("MEMBER_BANNED", &admin, Some(&m1), None)],
    )
    .await;

    app.post(
        Some(&admin.token),
        UPDATE,
        json!({"r": room, "i": {"topic": "now open", "type": "PUBLIC"}}),
    )
    .await
    .ok();
    log.expect(
        "updateRoom",
        vec![line(
            "ROOM_UPDATED",
            &admin,
            None,
            Some("topic, type public"),
        )],
    )
    .await;
    app.join(&walker, &room).await.ok();
    app.post(Some(&walker.token), LEAVE, json!({"r": room}))
        .await
        .ok();
    log.expect("joining and leaving by oneself", vec![]).await;
    app.post(
        Some(&admin.token),
        TERMS,
        json!({"r": room, "t": ["foo", "bar"]}),
    )
    .await
    .ok();
    log.expect(
        "setBlockedTerms",
        vec![line("BLOCKED_TERMS_CHANGED", &admin, None, Some("2 terms"))],
    )
    .await;

    let reported = post_message(&app, &m3, &room, "borderline").await;
    let first = report_id(&app, &asker, &reported, "rude").await;
    log.expect("reportMessage", vec![]).await;
    resolve(&app, &admin, &first, false).await.ok();
    log.expect(
        "resolveReport",
        vec![line("REPORT_RESOLVED", &admin, Some(&m3), Some("rude"))],
    )
    .await;
    let second = report_id(&app, &asker, &reported, "still rude").await;
    resolve(&app, &admin, &second, true).await.ok();
    log.expect(
        "resolveReport deleting the message",
        vec![
            line("MESSAGE_DELETED", &admin, Some(&m3), None),
            line("REPORT_RESOLVED", &admin, Some(&m3), Some("still rude")),
        ],
    )
    .await;
    let admins_own = post_message(&app, &admin, &room, "my own").await;
    let third = report_id(&app, &asker, &admins_own, "self").await;
    resolve(&app, &admin, &third, true).await.ok();
    log.expect(
        "resolveReport deleting the resolver's own message",
        vec![line("REPORT_RESOLVED", &admin, Some(&admin), Some("self"))],
    )
    .await;
    let dismissed = post_message(&app, &m3, &room, "fine").await;
    let fourth = report_id(&app, &asker, &dismissed, "meh").await;
    dismiss(&app, &admin, &fourth).await.ok();
    log.expect(
        "dismissReport",
        vec![line("REPORT_DISMISSED", &admin, Some(&m3), Some("meh"))],
    )
    .await;

    let code = invite_code(&app, &admin, &room, Some(5), None).await;
    log.expect(
        "createInvite",
        vec![line("INVITE_CREATED", &admin, None, None)],
    )
    .await;
    join_by_invite(&app, Some(&invitee), &code).await.ok();
    log.expect("joinByInvite", vec![]).await;
    revoke(&app, &admin, &code).await.ok();
    log.expect(
        "revokeInvite",
        vec![line("INVITE_REVOKED", &admin, None, None)],
    )
    .await;

    app.act(&owner, "transferOwnership", &room, &admin.id)
        .await
        .ok();
    log.expect(
        "transferOwnership",
        vec![line("OWNERSHIP_TRANSFERRED", &owner, Some(&admin), None)],
    )
    .await;
}

#[tokio::test]
async fn joining_leaving_and_timed_lifts_write_no_log_entry() {
    // Arrange: a server on a manual clock.
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let owner = app.register(&uname("owner")).await;
    let room = app.create_room(&owner, "open", "PUBLIC").await;
    let user = app.register(&uname("user")).await;
    let mut watcher = events_of(&app, &owner, &room).await;
    app.feeds_open(0, 1).await;

    // Act
    app.join(&user, &room).await.ok();
    app.post(Some(&user.token), LEAVE, json!({"r": room}))
        .await
        .ok();
    app.join(&user, &room).await.ok();
    let after_joining = log_lines(&app, &owner, &room).await;
    app.post(
        Some(&owner.token),
        MUTE,
        json!({"r": room, "u": user.id, "d": 60}),
    )
    .await
    .ok();
    clock.advance(chrono::Duration::seconds(60));
    let unmuted = event_of_type(&mut watcher, "MemberUnmuted").await;
    let after_mute = log_lines(&app, &owner, &room).await;
    ban(&app, &owner, &room, &user.id, None, Some(60), None)
        .await
        .ok();
    clock.advance(chrono::Duration::seconds(60));
    let unbanned = event_of_type(&mut watcher, "MemberUnbanned").await;
    let after_ban = log_lines(&app, &owner, &room).await;
    let rejoined = app.join(&user, &room).await;

    // Assert
    assert!(after_joining.is_empty(), "{after_joining:?}");
    assert_eq!(unmuted["member"]["user"]["id"], user.id.as_str());
    assert_eq!(
        after_mute,
        [line("MEMBER_MUTED", &owner, Some(&user), Some("for 60 s"))]
    );
    assert_eq!(unbanned["user"]["id"], user.id.as_str());
    assert_eq!(
        after_ban,
        [
            line("MEMBER_BANNED", &owner, Some(&user), None),
            line("MEMBER_MUTED", &owner, Some(&user), Some("for 60 s")),
        ]
    );
    rejoined.ok();
    assert_eq!(log_lines(&app, &owner, &room).await, after_ban);
}

#[tokio::test]
async fn the_moderation_log_pages_newest_first() {
    // Arrange: seven entries, "1 terms" the oldest.
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let room = app.create_room(&owner, "paged", "PUBLIC").await;
    for n in 1..=7 {
        let terms: Vec<String> = (1..=n).map(|k| format!("t{k}")).collect();
        app.post(Some(&owner.token), TERMS, json!({"r": room, "t": terms}))
            .await
            .ok();
    }

    // Act
    let mut pages = Vec::new();
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = log_page(&app, Some(&owner), &room, 3, after.as_deref()).await;
        let conn = r.ok()["room"]["moderationLog"].clone();
        ids.extend(strings(&conn["nodes"], "id"));
        pages.push((
            strings(&conn["nodes"], "reason"),
            conn["pageInfo"]["hasNextPage"].clone(),
        ));
        if conn["pageInfo"]["hasNextPage"] != true || pages.len() > 7 {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let whole = log_page(&app, Some(&owner), &room, 7, None).await;

    // Assert
    let page = |reasons: &[&str], next: bool| {
        (
            reasons.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            json!(next),
        )
    };
    assert_eq!(
        pages,
        vec![
            page(&["7 terms", "6 terms", "5 terms"], true),
            page(&["4 terms", "3 terms", "2 terms"], true),
            page(&["1 terms"], false),
        ]
    );
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7, "no entry twice: {ids:?}");
    let whole = &whole.ok()["room"]["moderationLog"];
    assert_eq!(whole["pageInfo"]["hasNextPage"], false);
    assert_eq!(strings(&whole["nodes"], "id"), ids);
}

// ------------------------------------------------------------------ invites

#[tokio::test]
async fn only_admins_create_invites_in_every_room_type() {
    let app = spawn_app().await;
    let outsider = app.register(&uname("outsider")).await;
    for room_type in ["PUBLIC", "RESTRICTED", "PRIVATE"] {
        // Arrange
        let c = cast(&app, room_type).await;

        // Act
        let by_admin = create_invite(&app, &c.admin, &c.room, Some(3), Some(3600)).await;
        let by_owner = create_invite(&app, &c.owner, &c.room, None, None).await;
        let by_member = create_invite(&app, &c.member, &c.room, None, None).await;
        let by_outsider = create_invite(&app, &outsider, &c.room, None, None).await;

        // Assert
        let i = &by_admin.ok()["createInvite"];
        assert_eq!(i["maxUses"], 3, "{room_type}");
        assert_eq!(i["uses"], 0, "{room_type}");
        assert!(i["expiresAt"].is_string(), "{room_type}: {i}");
        assert!(i["createdAt"].is_string(), "{room_type}: {i}");
        assert_eq!(i["createdBy"]["id"], c.admin.id.as_str(), "{room_type}");
        assert_eq!(i["room"]["id"], c.room.as_str(), "{room_type}");
        let i = &by_owner.ok()["createInvite"];
        assert_eq!(
            (&i["maxUses"], &i["expiresAt"]),
            (&Value::Null, &Value::Null)
        );
        assert_eq!(by_member.code(), "FORBIDDEN", "{room_type}");
        let outsider_code = if room_type == "PRIVATE" {
            "NOT_FOUND"
        } else {
            "FORBIDDEN"
        };
        assert_eq!(by_outsider.code(), outsider_code, "{room_type}");
        let listed = invites(&app, &c.owner, &c.room).await;
        assert_eq!(
            listed.ok()["room"]["invites"].as_array().map(Vec::len),
            Some(2),
            "{room_type}"
        );
    }
}

#[tokio::test]
async fn invite_limits_are_checked_with_the_field_named() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;

    // Act
    let mut refused = Vec::new();
    for (max, ttl, field_named) in [
        (Some(0), None, "maxUses"),
        (Some(-1), None, "maxUses"),
        (Some(10_001), None, "maxUses"),
        (None, Some(59), "expiresInSeconds"),
        (None, Some(0), "expiresInSeconds"),
        (None, Some(2_592_001), "expiresInSeconds"),
    ] {
        let r = create_invite(&app, &c.admin, &c.room, max, ttl).await;
        refused.push((max, ttl, field_named, r));
    }
    let smallest = create_invite(&app, &c.admin, &c.room, Some(1), Some(60)).await;
    let largest = create_invite(&app, &c.admin, &c.room, Some(10_000), Some(2_592_000)).await;

    // Assert
    for (max, ttl, field_named, r) in &refused {
        assert_eq!(r.code(), "BAD_USER_INPUT", "maxUses {max:?}, ttl {ttl:?}");
        assert_eq!(field(r), *field_named, "maxUses {max:?}, ttl {ttl:?}");
    }
    assert_eq!(smallest.ok()["createInvite"]["maxUses"], 1);
    assert_eq!(largest.ok()["createInvite"]["maxUses"], 10_000);
    let listed = invites(&app, &c.admin, &c.room).await;
    assert_eq!(
        listed.ok()["room"]["invites"].as_array().map(Vec::len),
        Some(2),
        "only the valid ones were created"
    );
}

#[tokio::test]
async fn invite_codes_are_long_unique_and_url_safe() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;

    // Act
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(invite_code(&app, &c.admin, &c.room, None, None).await);
    }

    // Assert
    for code in &codes {
        // base64url: 6 bits a character, so 22 characters carry at least 128 bits.
        assert!(code.len() >= 22, "{code} is too short for 128 random bits");
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{code} is not URL-safe"
        );
    }
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), codes.len(), "{codes:?}");
}

#[tokio::test]
async fn an_invite_preview_shows_the_room_to_anyone_signed_in() {
    // Arrange
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let room = app
        .create_room_with(
            &owner,
            json!({"name": "hideout", "type": "PRIVATE", "topic": "members only"}),
        )
        .await;
    let outsider = app.register(&uname("outsider")).await;
    let code = invite_code(&app, &owner, &room, None, None).await;

    // Act
    let seen = preview(&app, Some(&outsider), &code).await;
    let anonymous = preview(&app, None, &code).await;
    let room_itself = app
        .post(
            Some(&outsider.token),
            "query($id: ID!) { room(id: $id) { id } }",
            json!({"id": room}),
        )
        .await;

    // Assert
    assert_eq!(
        seen.ok()["invite"],
        json!({"roomId": room, "name": "hideout", "topic": "members only", "type": "PRIVATE", "memberCount": 1})
    );
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    assert_eq!(
        room_itself.ok()["room"],
        Value::Null,
        "the preview opens nothing else"
    );
}

#[tokio::test]
async fn join_by_invite_admits_to_private_and_restricted_rooms_without_approval() {
    let app = spawn_app().await;
    let mut watchers = Vec::new();
    for room_type in ["PRIVATE", "RESTRICTED"] {
        // Arrange
        let c = cast(&app, room_type).await;
        post_message(&app, &c.owner, &c.room, "welcome").await;
        let guest = app.register(&uname("guest")).await;
        let code = invite_code(&app, &c.admin, &c.room, None, None).await;
        let before = app
            .post(Some(&guest.token), MESSAGES, json!({"r": c.room}))
            .await;
        watchers.push(events_of(&app, &c.admin, &c.room).await);
        app.feeds_open(0, watchers.len() as u64).await;

        // Act
        let joined = join_by_invite(&app, Some(&guest), &code).await;
        let announced = match watchers.last_mut() {
            Some(ws) => next_event(ws).await,
            None => Value::Null,
        };

        // Assert
        let want_before = if room_type == "PRIVATE" {
            "NOT_FOUND"
        } else {
            "FORBIDDEN"
        };
        assert_eq!(before.code(), want_before, "{room_type}");
        let m = &joined.ok()["joinByInvite"];
        assert_eq!(m["role"], "MEMBER", "{room_type}");
        assert_eq!(m["user"]["id"], guest.id.as_str(), "{room_type}");
        assert_eq!(announced["__typename"], "MemberJoined", "{room_type}");
        assert_eq!(
            announced["member"]["user"]["id"],
            guest.id.as_str(),
            "{room_type}"
        );
        assert_eq!(
            bodies(&app, &guest, &c.room).await,
            ["welcome"],
            "{room_type}"
        );
        assert_eq!(member_count(&app, &guest, &c.room).await, 4, "{room_type}");
        assert_eq!(
            listed_invite(&app, &c.admin, &c.room, &code).await["uses"],
            1,
            "{room_type}"
        );
        let requests = app
            .post(
                Some(&c.admin.token),
                "query($r: ID!) { room(id: $r) { joinRequests { user { id } } } }",
                json!({"r": c.room}),
            )
            .await;
        assert_eq!(
            requests.ok()["room"]["joinRequests"],
            json!([]),
            "{room_type}: no approval involved"
        );
    }
}

#[tokio::test]
async fn a_pending_join_request_is_cleared_by_joining_with_an_invite() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "RESTRICTED").await;
    let asker = app.register(&uname("asker")).await;
    app.post(Some(&asker.token), REQUEST, json!({"r": c.room}))
        .await
        .ok();
    let code = invite_code(&app, &c.admin, &c.room, None, None).await;

    // Act
    let joined = join_by_invite(&app, Some(&asker), &code).await;
    let requests = app
        .post(
            Some(&c.admin.token),
            "query($r: ID!) { room(id: $r) { joinRequests { user { id } } } }",
            json!({"r": c.room}),
        )
        .await;

    // Assert
    assert_eq!(joined.ok()["joinByInvite"]["role"], "MEMBER");
    assert_eq!(requests.ok()["room"]["joinRequests"], json!([]));
}

#[tokio::test]
async fn an_invite_admits_at_most_max_uses_people() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    let (first, second) = (
        app.register(&uname("first")).await,
        app.register(&uname("second")).await,
    );
    let code = invite_code(&app, &c.admin, &c.room, Some(1), None).await;

    // Act
    let admitted = join_by_invite(&app, Some(&first), &code).await;
    let refused = join_by_invite(&app, Some(&second), &code).await;
    let used_up = preview(&app, Some(&second), &code).await;

    // Assert
    admitted.ok();
    assert_eq!(refused.code(), "NOT_FOUND");
    assert_eq!(used_up.ok()["invite"], Value::Null);
    assert_eq!(member_count(&app, &c.owner, &c.room).await, 4);
    let listed = listed_invite(&app, &c.admin, &c.room, &code).await;
    assert_eq!(
        (&listed["uses"], &listed["maxUses"]),
        (&json!(1), &json!(1)),
        "a used-up invite is still listed, with its uses"
    );
}

#[tokio::test]
async fn an_invite_stops_working_when_it_expires() {
    // Arrange: a server on a manual clock.
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PRIVATE").await;
    let (early, late) = (
        app.register(&uname("early")).await,
        app.register(&uname("late")).await,
    );
    let code = invite_code(&app, &c.admin, &c.room, None, Some(3600)).await;

    // Act
    clock.advance(chrono::Duration::seconds(3599));
    let in_time = join_by_invite(&app, Some(&early), &code).await;
    let preview_in_time = preview(&app, Some(&late), &code).await;
    clock.advance(chrono::Duration::seconds(1));
    let too_late = join_by_invite(&app, Some(&late), &code).await;
    let preview_too_late = preview(&app, Some(&late), &code).await;
    let listed = invites(&app, &c.admin, &c.room).await;

    // Assert
    in_time.ok();
    assert_eq!(preview_in_time.ok()["invite"]["roomId"], c.room.as_str());
    assert_eq!(too_late.code(), "NOT_FOUND");
    assert_eq!(preview_too_late.ok()["invite"], Value::Null);
    assert_eq!(
        listed.ok()["room"]["invites"],
        json!([]),
        "expired: not listed"
    );
}

#[tokio::test]
async fn a_revoked_invite_admits_no_one() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    let guest = app.register(&uname("guest")).await;
    let code = invite_code(&app, &c.admin, &c.room, None, None).await;

    // Act
    let by_member = revoke(&app, &c.member, &code).await;
    let by_outsider = revoke(&app, &guest, &code).await;
    let revoked = revoke(&app, &c.owner, &code).await;
    let again = revoke(&app, &c.owner, &code).await;
    let joined = join_by_invite(&app, Some(&guest), &code).await;
    let seen = preview(&app, Some(&guest), &code).await;
    let listed = invites(&app, &c.admin, &c.room).await;

    // Assert
    assert_eq!(by_member.code(), "FORBIDDEN");
    assert_eq!(by_outsider.code(), "NOT_FOUND");
    assert_eq!(revoked.ok()["revokeInvite"], true);
    assert_eq!(again.code(), "NOT_FOUND");
    assert_eq!(joined.code(), "NOT_FOUND");
    assert_eq!(seen.ok()["invite"], Value::Null);
    assert_eq!(listed.ok()["room"]["invites"], json!([]));
    assert_eq!(member_count(&app, &c.owner, &c.room).await, 3);
}

/// Unknown, malformed, revoked, used-up and expired codes: one NOT_FOUND with one message,
/// and a null preview, so a code's history cannot be probed.
#[tokio::test]
async fn every_code_that_does_not_work_is_the_same_not_found() {
    // Arrange
    let clock = ManualClock::new();
    let app = spawn_with_clock(Arc::new(clock.clone()), |_| {}).await;
    let c = cast(&app, "PRIVATE").await;
    let guest = app.register(&uname("guest")).await;
    let revoked = invite_code(&app, &c.admin, &c.room, None, None).await;
    revoke(&app, &c.admin, &revoked).await.ok();
    let used_up = invite_code(&app, &c.admin, &c.room, Some(1), None).await;
    let first = app.register(&uname("first")).await;
    join_by_invite(&app, Some(&first), &used_up).await.ok();
    let expired = invite_code(&app, &c.admin, &c.room, None, Some(60)).await;
    clock.advance(chrono::Duration::seconds(61));
    let codes = [
        ("unknown", "A".repeat(32)),
        ("garbage", "not a code!".to_owned()),
        ("empty", String::new()),
        ("too long", "B".repeat(200)),
        ("revoked", revoked),
        ("used up", used_up),
        ("expired", expired),
    ];

    // Act
    let mut answers = Vec::new();
    for (what, code) in &codes {
        let joined = join_by_invite(&app, Some(&guest), code).await;
        let seen = preview(&app, Some(&guest), code).await;
        answers.push((what, joined, seen));
    }

    // Assert
    let message = answers[0].1.message();
    assert!(!message.is_empty());
    for (what, joined, seen) in &answers {
        assert_eq!(joined.code(), "NOT_FOUND", "{what}");
        assert_eq!(joined.message(), message, "{what}: the same message");
        assert_eq!(seen.ok()["invite"], Value::Null, "{what}");
    }
    assert_eq!(member_count(&app, &c.owner, &c.room).await, 4);
}

#[tokio::test]
async fn a_banned_user_with_a_valid_code_is_refused_as_banned() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    ban(
        &app,
        &c.admin,
        &c.room,
        &c.member.id,
        Some("trouble"),
        None,
        None,
    )
    .await
    .ok();
    let code = invite_code(&app, &c.admin, &c.room, Some(5), None).await;

    // Act
    let r = join_by_invite(&app, Some(&c.member), &code).await;

    // Assert
    assert_eq!(r.code(), "BANNED");
    assert_eq!(
        listed_invite(&app, &c.admin, &c.room, &code).await["uses"],
        0
    );
    assert_eq!(member_count(&app, &c.owner, &c.room).await, 2);
}

#[tokio::test]
async fn a_full_room_refuses_an_invite_with_room_full() {
    // Arrange: room for two, both places taken.
    let app = spawn_app().await;
    let owner = app.register(&uname("owner")).await;
    let room = app
        .create_room_with(
            &owner,
            json!({"name": "tiny", "type": "PRIVATE", "maxUsers": 2}),
        )
        .await;
    app.member_of(&owner, &room, "member").await;
    let guest = app.register(&uname("guest")).await;
    let code = invite_code(&app, &owner, &room, Some(5), None).await;

    // Act
    let r = join_by_invite(&app, Some(&guest), &code).await;

    // Assert
    assert_eq!(r.code(), "ROOM_FULL");
    assert_eq!(listed_invite(&app, &owner, &room, &code).await["uses"], 0);
    assert_eq!(member_count(&app, &owner, &room).await, 2);
}

#[tokio::test]
async fn a_member_using_an_invite_gets_conflict() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "RESTRICTED").await;
    let code = invite_code(&app, &c.admin, &c.room, Some(5), None).await;

    // Act
    let member = join_by_invite(&app, Some(&c.member), &code).await;
    let owner = join_by_invite(&app, Some(&c.owner), &code).await;
    let anonymous = join_by_invite(&app, None, &code).await;

    // Assert
    assert_eq!(member.code(), "CONFLICT");
    assert_eq!(owner.code(), "CONFLICT");
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    assert_eq!(
        listed_invite(&app, &c.admin, &c.room, &code).await["uses"],
        0
    );
}

#[tokio::test]
async fn room_invites_lists_working_invites_with_their_uses_for_admins_only() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    let guests = [
        app.register(&uname("g1")).await,
        app.register(&uname("g2")).await,
        app.register(&uname("g3")).await,
        app.register(&uname("g4")).await,
    ];
    let limited = invite_code(&app, &c.admin, &c.room, Some(5), None).await;
    let unlimited = invite_code(&app, &c.owner, &c.room, None, Some(3600)).await;
    let revoked = invite_code(&app, &c.admin, &c.room, None, None).await;
    let single = invite_code(&app, &c.admin, &c.room, Some(1), None).await;
    revoke(&app, &c.admin, &revoked).await.ok();
    for (guest, code) in guests.iter().zip([&limited, &limited, &unlimited, &single]) {
        join_by_invite(&app, Some(guest), code).await.ok();
    }

    // Act
    let by_admin = invites(&app, &c.admin, &c.room).await;
    let by_member = invites(&app, &c.member, &c.room).await;
    let by_guest = invites(&app, &guests[0], &c.room).await;

    // Assert
    let listed = &by_admin.ok()["room"]["invites"];
    assert_eq!(
        strings(listed, "code"),
        [single, unlimited, limited],
        "newest first, the revoked one left out"
    );
    let uses: Vec<_> = listed
        .as_array()
        .expect("invites")
        .iter()
        .map(|i| (i["uses"].clone(), i["maxUses"].clone()))
        .collect();
    assert_eq!(
        uses,
        [
            (json!(1), json!(1)),
            (json!(1), Value::Null),
            (json!(2), json!(5))
        ]
    );
    assert_eq!(listed[1]["createdBy"]["id"], c.owner.id.as_str());
    assert!(listed[1]["expiresAt"].is_string());
    assert_eq!(by_member.code(), "FORBIDDEN");
    assert_eq!(by_guest.code(), "FORBIDDEN");
}

/// Twenty people use a five-use code at once, several rounds: exactly five get in each time.
#[tokio::test]
async fn concurrent_joins_never_exceed_an_invites_uses() {
    const PEOPLE: usize = 20;
    const USES: i64 = 5;
    let app = Arc::new(spawn_app().await);
    let owner = app.register(&uname("owner")).await;
    let mut people = Vec::new();
    for n in 0..PEOPLE {
        people.push(app.register(&uname(&format!("p{n}"))).await);
    }
    for round in 0..5 {
        // Arrange
        let room = app
            .create_room(&owner, &format!("round {round}"), "PRIVATE")
            .await;
        let code = invite_code(&app, &owner, &room, Some(USES), None).await;
        let start = Arc::new(tokio::sync::Barrier::new(PEOPLE));

        // Act
        let tasks: Vec<_> = people
            .iter()
            .cloned()
            .map(|who| {
                let (app, code, start) = (app.clone(), code.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    join_by_invite(&app, Some(&who), &code).await
                })
            })
            .collect();
        let mut admitted = 0;
        let mut refusals = Vec::new();
        for task in tasks {
            let r = task.await.expect("task");
            if r.0.get("errors").is_none_or(|e| e.is_null()) {
                admitted += 1;
            } else {
                refusals.push(r.code());
            }
        }

        // Assert
        assert_eq!(admitted, USES, "round {round}: admitted");
        assert!(
            refusals.iter().all(|c| c == "NOT_FOUND"),
            "round {round}: {refusals:?}"
        );
        assert_eq!(
            listed_invite(&app, &owner, &room, &code).await["uses"],
            USES,
            "round {round}"
        );
        assert_eq!(
            member_count(&app, &owner, &room).await,
            USES + 1,
            "round {round}"
        );
    }
}

/// A used-up code is still listed, so an admin can revoke it (and it leaves the list).
#[tokio::test]
async fn a_used_up_invite_can_be_revoked() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PRIVATE").await;
    let guest = app.register(&uname("guest")).await;
    let code = invite_code(&app, &c.admin, &c.room, Some(1), None).await;
    join_by_invite(&app, Some(&guest), &code).await.ok();

    // Act
    let listed_before = invites(&app, &c.admin, &c.room).await;
    let revoked = revoke(&app, &c.admin, &code).await;
    let listed_after = invites(&app, &c.admin, &c.room).await;

    // Assert
    assert_eq!(
        strings(&listed_before.ok()["room"]["invites"], "code"),
        std::slice::from_ref(&code)
    );
    assert_eq!(revoked.ok()["revokeInvite"], true);
    assert_eq!(listed_after.ok()["room"]["invites"], json!([]));
    assert_eq!(revoke(&app, &c.admin, &code).await.code(), "NOT_FOUND");
}

/// A room holds at most 100 working invites; used-up and revoked ones do not count.
#[tokio::test]
async fn a_room_holds_at_most_a_hundred_working_invites() {
    // Arrange
    let app = spawn_app().await;
    let c = cast(&app, "PUBLIC").await;
    let mut codes = Vec::new();
    for _ in 0..100 {
        codes.push(invite_code(&app, &c.admin, &c.room, None, None).await);
    }

    // Act
    let over = create_invite(&app, &c.admin, &c.room, None, None).await;
    revoke(&app, &c.admin, &codes[0]).await.ok();
    let after_revoke = create_invite(&app, &c.admin, &c.room, None, None).await;

    // Assert
    assert_eq!(over.code(), "CONFLICT");
    after_revoke.ok();
    let listed = invites(&app, &c.admin, &c.room).await;
    assert_eq!(
        listed.ok()["room"]["invites"].as_array().map(Vec::len),
        Some(100)
    );
}
