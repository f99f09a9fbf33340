//! The one place that decides whether a user may do something to a room.
//!
//! Every mutation, every room-scoped query field and every live subscription loads a
//! [`RoomAccess`] (room + the viewer's membership + whether they are banned) and asks
//! [`authorize`]. Live feeds additionally ask [`feed_verdict`] about each event, so a ban, a
//! kick or a deletion ends them with the same reasoning. Nothing else in the code compares roles.

use super::error::{DomainError, DomainResult};
use super::model::{PostingPolicy, Role, RoomAccess, RoomEvent, RoomType, Timestamp};
use super::values::UserId;

/// What a user is trying to do to a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the room's name, topic, type and member count.
    ViewRoom,
    /// Read history, subscribe to messages and events.
    ReadMessages,
    /// See who the members are.
    ViewMembers,
    Join,
    RequestToJoin,
    Leave,
    SendMessage,
    DeleteMessage {
        author: UserId,
    },
    UpdateRoom,
    DeleteRoom,
    /// See bans and pending join requests.
    ViewModeration,
    DecideJoinRequest,
    AddMember,
    Unban,
    /// Remove, mute, unmute or ban someone; `target_role` is None when they are not a member.
    ActOnMember {
        target: UserId,
        target_role: Option<Role>,
    },
    SetRole {
        target_role: Role,
    },
    TransferOwnership {
        target: UserId,
    },
    /// Report a message to the room's moderators (whoever may read it).
    ReportMessage,
    ViewReports,
    /// Resolve or dismiss a report.
    DecideReport,
    ViewModerationLog,
    ViewBlockedTerms,
    SetBlockedTerms,
    /// Create, list and revoke invite links.
    ManageInvites,
    /// Join with a valid invite code: any room type, without approval. (Whether the code is
    /// valid is checked before: an invalid one is NOT_FOUND for everyone.)
    JoinByInvite,
    /// Move one's own read marker (members).
    MarkRead,
}

impl Action {
    fn needs_user(self) -> bool {
        !matches!(self, Action::ViewRoom)
    }
}

fn forbidden(msg: &str) -> DomainError {
    DomainError::Forbidden(msg.to_owned())
}

fn require_role(role: Option<Role>, at_least: Role) -> DomainResult<()> {
    match role {
        Some(r) if r >= at_least => Ok(()),
        Some(_) => Err(forbidden(match at_least {
            Role::Owner => "only the room owner may do this",
            _ => "only room admins may do this",
        })),
        None => Err(forbidden("you are not a member of this room")),
    }
}

/// May `viewer` (None: anonymous) perform `action` on the room described by `access`?
pub fn authorize(
    viewer: Option<UserId>,
    access: &RoomAccess,
    action: Action,
    now: Timestamp,
) -> DomainResult<()> {
    let room_type = access.room.room_type;
    let role = access.membership.as_ref().map(|m| m.role);

    if viewer.is_none() {
        if action.needs_user() {
            return Err(DomainError::unauthenticated());
        }
        // Anonymous visitors see the listed rooms only.
        return if room_type == RoomType::Private {
            Err(DomainError::room_not_found())
        } else {
            Ok(())
        };
    }
    let viewer = viewer.unwrap_or_default();

    if action == Action::ViewRoom {
        return if room_type == RoomType::Private && role.is_none() {
            Err(DomainError::room_not_found())
        } else {
            Ok(())
        };
    }
    if access.is_banned_at(now) {
        return Err(DomainError::Banned);
    }
    if action == Action::JoinByInvite {
        // The invite is what lets an outsider into a private or restricted room.
        return match role {
            Some(_) => Err(DomainError::Conflict(
                "you are already a member of this room".into(),
            )),
            None => Ok(()),
        };
    }
    if room_type == RoomType::Private && role.is_none() {
        return Err(DomainError::room_not_found());
    }

    match action {
        Action::ViewRoom => Ok(()),
        Action::ReadMessages | Action::ViewMembers | Action::ReportMessage => {
            match (room_type, role) {
                (RoomType::Public, _) | (_, Some(_)) => Ok(()),
                _ => Err(forbidden("only members may read this room")),
            }
        }
        Action::Join => match (room_type, role) {
            (_, Some(_)) => Err(DomainError::Conflict(
                "you are already a member of this room".into(),
            )),
            (RoomType::Public, None) => Ok(()),
            _ => Err(forbidden(
                "this room needs an admin's approval to join: use requestToJoin",
            )),
        },
        Action::RequestToJoin => match (room_type, role) {
            (_, Some(_)) => Err(DomainError::Conflict(
                "you are already a member of this room".into(),
            )),
            (RoomType::Restricted, None) => Ok(()),
            _ => Err(DomainError::bad_input(
                "roomId",
                "this room is public: use joinRoom",
            )),
        },
        Action::Leave => match role {
            None => Err(DomainError::NotFound(
                "you are not a member of this room".into(),
            )),
            Some(Role::Owner) => Err(DomainError::Conflict(
                "the owner cannot leave: transfer ownership first".into(),
            )),
            Some(_) => Ok(()),
        },
        Action::SendMessage => {
            let Some(membership) = &access.membership else {
                return Err(forbidden("join the room to send messages"));
            };
            if membership.is_muted_at(now) {
                return Err(DomainError::Muted {
                    until: membership.muted_until,
                });
            }
            if access.room.posting_policy == PostingPolicy::Admins && membership.role < Role::Admin
            {
                return Err(forbidden(
                    "only admins can post in this room (it is an announcement room)",
                ));
            }
            Ok(())
        }
        Action::DeleteMessage { author } => {
            if author == viewer {
                Ok(())
            } else {
                require_role(role, Role::Admin)
            }
        }
        Action::UpdateRoom
        | Action::DeleteRoom
        | Action::ViewModeration
        | Action::DecideJoinRequest
        | Action::AddMember
        | Action::Unban
        | Action::ViewReports
        | Action::DecideReport
        | Action::ViewModerationLog
        | Action::ViewBlockedTerms
        | Action::SetBlockedTerms
        | Action::ManageInvites => require_role(role, Role::Admin),
        Action::JoinByInvite => Ok(()),
        Action::MarkRead => match role {
            Some(_) => Ok(()),
            None => Err(forbidden("join the room to keep your place in it")),
        },
        Action::ActOnMember {
            target,
            target_role,
        } => {
            require_role(role, Role::Admin)?;
            if target == viewer {
                return Err(forbidden("you cannot do this to yourself"));
            }
            match target_role {
                Some(Role::Owner) => Err(forbidden("no one may act on the room owner")),
                Some(Role::Admin) if role != Some(Role::Owner) => {
                    Err(forbidden("admins may not act on other admins"))
                }
                _ => Ok(()),
            }
        }
        Action::SetRole { target_role } => {
            require_role(role, Role::Owner)?;
            if target_role == Role::Owner {
                return Err(forbidden(
                    "the owner's role cannot be changed: use transferOwnership",
                ));
            }
            Ok(())
        }
        Action::TransferOwnership { target } => {
            require_role(role, Role::Owner)?;
            if target == viewer {
                return Err(DomainError::bad_input(
                    "userId",
                    "you already own this room",
                ));
            }
            Ok(())
        }
    }
}

/// How long the viewer must wait between two messages in this room: slow mode holds
/// MEMBERs; the owner and admins are exempt. None: no wait.
pub fn slow_mode_interval(access: &RoomAccess) -> Option<chrono::Duration> {
    let role = access.membership.as_ref().map(|m| m.role)?;
    (access.room.slow_mode_seconds > 0 && role == Role::Member)
        .then(|| chrono::Duration::seconds(access.room.slow_mode_seconds))
}

/// Whether the room's blocked terms apply to the viewer's messages: they hold MEMBERs; the
/// owner and admins are exempt.
pub fn blocked_terms_apply(access: &RoomAccess) -> bool {
    access.membership.as_ref().map(|m| m.role) == Some(Role::Member)
        && !access.room.blocked_terms.is_empty()
}

/// Slow mode's refusal: the last post was at `last`, the wait is `interval`; the retry is
/// due in whole seconds, at least 1.
pub fn slow_mode_refusal(
    last: Timestamp,
    interval: chrono::Duration,
    now: Timestamp,
) -> DomainError {
    let wait = (last + interval - now).to_std().unwrap_or_default();
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    DomainError::RateLimited {
        message: format!("slow mode is on in this room: you can post again in {secs} s"),
        retry_after_seconds: Some(secs),
    }
}

/// Must a live feed of `viewer` on a room end because of `event`? Returns the error the
/// subscriber receives as its last item. Events that may change access in other ways
/// (a room's type changing) are re-checked with [`authorize`] by the feed.
pub fn feed_verdict(viewer: UserId, room_type: RoomType, event: &RoomEvent) -> Option<DomainError> {
    match event {
        RoomEvent::RoomDeleted { .. } => {
            Some(DomainError::NotFound("this room was deleted".into()))
        }
        RoomEvent::MemberBanned(ban) if ban.user.id == viewer => Some(DomainError::banned_by(ban)),
        RoomEvent::MemberRemoved {
            user, by, reason, ..
        } if user.id == viewer => Some(DomainError::Ejected {
            banned: false,
            message: format!("{} removed you from this room", by.username),
            by: by.clone(),
            reason: reason.clone(),
            until: None,
        }),
        RoomEvent::MemberLeft { user, .. }
            if user.id == viewer && room_type != RoomType::Public =>
        {
            Some(DomainError::Forbidden("you left this room".into()))
        }
        _ => None,
    }
}

/// May a reader with `role` (None: not a member) see `event` on the events feed? Join
/// requests are for admins; bans (with their reason and who banned) for members, as
/// `Room.bans` is not for outsiders. (The banned user sees their own ban: it ends their
/// feed, see `feed_verdict`.)
pub fn may_see_event(role: Option<Role>, event: &RoomEvent) -> bool {
    match event {
        RoomEvent::JoinRequested(_)
        | RoomEvent::MessageReported(_)
        | RoomEvent::ReportDecided(_) => role.is_some_and(|r| r >= Role::Admin),
        RoomEvent::MemberBanned(_) => role.is_some(),
        // A quiet refresh is for other nodes' typing books only.
        RoomEvent::TypingChanged { announced, .. } => *announced,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{Membership, Room, User};
    use crate::domain::values::RoomId;
    use chrono::Utc;

    fn user() -> User {
        User {
            id: UserId::new(),
            username: "u".into(),
            created_at: Utc::now(),
        }
    }

    fn access(room_type: RoomType, role: Option<Role>, banned: bool, viewer: &User) -> RoomAccess {
        let room_id = RoomId::new();
        RoomAccess {
            room: Room {
                id: room_id,
                name: "r".into(),
                topic: None,
                room_type,
                max_users: None,
                member_count: 1,
                owner: user(),
                created_at: Utc::now(),
                last_seq: 0,
                slow_mode_seconds: 0,
                posting_policy: PostingPolicy::Members,
                blocked_terms: Default::default(),
            },
            membership: role.map(|role| Membership {
                user: viewer.clone(),
                room_id,
                role,
                joined_at: Utc::now(),
                muted: false,
                muted_until: None,
                last_read_seq: 0,
            }),
            banned,
            ban_expires_at: None,
        }
    }

    fn code(r: DomainResult<()>) -> &'static str {
        match r {
            Ok(()) => "OK",
            Err(e) => e.code().as_str(),
        }
    }

    #[test]
    fn room_types_decide_visibility_and_reading() {
        let v = user();
        let now = Utc::now();
        let check = |t, role, a| code(authorize(Some(v.id), &access(t, role, false, &v), a, now));
        use Action::*;
        // What a signed-in outsider gets, in a public, a restricted and a private room.
        let outsider = [
            (ViewRoom, ["OK", "OK", "NOT_FOUND"]),
            (ReadMessages, ["OK", "FORBIDDEN", "NOT_FOUND"]),
            (Join, ["OK", "FORBIDDEN", "NOT_FOUND"]),
            (RequestToJoin, ["BAD_USER_INPUT", "OK", "NOT_FOUND"]),
            (SendMessage, ["FORBIDDEN", "FORBIDDEN", "NOT_FOUND"]),
        ];
        let types = [RoomType::Public, RoomType::Restricted, RoomType::Private];
        for (action, wants) in outsider {
            for (room_type, want) in types.into_iter().zip(wants) {
                let got = check(room_type, None, action);
                assert_eq!(got, want, "outsider, {room_type:?} room, {action:?}");
            }
        }
        let member = Some(Role::Member);
        assert_eq!(check(RoomType::Private, member, ReadMessages), "OK");
        assert_eq!(check(RoomType::Public, member, Join), "CONFLICT");
    }

    #[test]
    fn anonymous_sees_listed_rooms_only() {
        let v = user();
        let now = Utc::now();
        let a = access(RoomType::Public, None, false, &v);
        assert_eq!(code(authorize(None, &a, Action::ViewRoom, now)), "OK");
        assert_eq!(
            code(authorize(None, &a, Action::ReadMessages, now)),
            "UNAUTHENTICATED"
        );
        let p = access(RoomType::Private, None, false, &v);
        assert_eq!(
            code(authorize(None, &p, Action::ViewRoom, now)),
            "NOT_FOUND"
        );
    }

    #[test]
    fn bans_block_everything_but_the_listing() {
        let v = user();
        let now = Utc::now();
        let cases = [
            (RoomType::Public, Action::ViewRoom, "OK"),
            (RoomType::Public, Action::ReadMessages, "BANNED"),
            (RoomType::Public, Action::Join, "BANNED"),
            (RoomType::Restricted, Action::RequestToJoin, "BANNED"),
        ];
        for (room_type, action, want) in cases {
            let banned = access(room_type, None, true, &v);
            let got = code(authorize(Some(v.id), &banned, action, now));
            assert_eq!(got, want, "banned, {room_type:?} room, {action:?}");
        }
    }

    #[test]
    fn roles_decide_moderation() {
        let v = user();
        let other = UserId::new();
        let now = Utc::now();
        let check = |role, a| {
            code(authorize(
                Some(v.id),
                &access(RoomType::Public, Some(role), false, &v),
                a,
                now,
            ))
        };
        let on = |target_role| Action::ActOnMember {
            target: other,
            target_role,
        };
        let set = |target_role| Action::SetRole { target_role };
        let myself = Action::ActOnMember {
            target: v.id,
            target_role: Some(Role::Owner),
        };
        use Action::*;
        use Role::*;
        let cases = [
            (Member, on(Some(Member)), "FORBIDDEN"),
            (Admin, on(Some(Member)), "OK"),
            (Admin, on(None), "OK"),
            (Admin, on(Some(Admin)), "FORBIDDEN"),
            (Admin, on(Some(Owner)), "FORBIDDEN"),
            (Owner, on(Some(Admin)), "OK"),
            (Owner, myself, "FORBIDDEN"),
            (Admin, set(Member), "FORBIDDEN"),
            (Owner, set(Admin), "OK"),
            (Owner, set(Owner), "FORBIDDEN"),
            (Admin, TransferOwnership { target: other }, "FORBIDDEN"),
            (Owner, TransferOwnership { target: other }, "OK"),
            (Admin, DeleteRoom, "OK"),
            (Member, DeleteRoom, "FORBIDDEN"),
            (Member, UpdateRoom, "FORBIDDEN"),
            (Owner, Leave, "CONFLICT"),
            (Member, Leave, "OK"),
            (Member, DeleteMessage { author: v.id }, "OK"),
            (Member, DeleteMessage { author: other }, "FORBIDDEN"),
            (Admin, DeleteMessage { author: other }, "OK"),
        ];
        for (role, action, want) in cases {
            assert_eq!(check(role, action), want, "{role:?} doing {action:?}");
        }
    }

    #[test]
    fn mutes_block_sending_until_they_expire() {
        let v = user();
        let now = Utc::now();
        let mut a = access(RoomType::Public, Some(Role::Member), false, &v);
        if let Some(m) = a.membership.as_mut() {
            m.muted = true;
            m.muted_until = Some(now + chrono::Duration::seconds(5));
        }
        assert_eq!(
            code(authorize(Some(v.id), &a, Action::SendMessage, now)),
            "MUTED"
        );
        let later = now + chrono::Duration::seconds(6);
        assert_eq!(
            code(authorize(Some(v.id), &a, Action::SendMessage, later)),
            "OK"
        );
    }

    #[test]
    fn announcement_rooms_let_only_admins_post() {
        let v = user();
        let now = Utc::now();
        for (role, want) in [
            (Role::Member, "FORBIDDEN"),
            (Role::Admin, "OK"),
            (Role::Owner, "OK"),
        ] {
            let mut a = access(RoomType::Public, Some(role), false, &v);
            a.room.posting_policy = PostingPolicy::Admins;
            let got = code(authorize(Some(v.id), &a, Action::SendMessage, now));
            assert_eq!(got, want, "{role:?} in an announcement room");
            a.room.posting_policy = PostingPolicy::Members;
            let got = code(authorize(Some(v.id), &a, Action::SendMessage, now));
            assert_eq!(got, "OK", "{role:?} in an ordinary room");
        }
    }

    #[test]
    fn slow_mode_and_blocked_terms_hold_members_only() {
        let v = user();
        for (role, held) in [
            (Some(Role::Member), true),
            (Some(Role::Admin), false),
            (Some(Role::Owner), false),
            (None, false),
        ] {
            let mut a = access(RoomType::Public, role, false, &v);
            assert_eq!(slow_mode_interval(&a), None, "off by default");
            assert!(!blocked_terms_apply(&a), "no terms, no filter");
            a.room.slow_mode_seconds = 30;
            a.room.blocked_terms =
                crate::domain::terms::BlockedTerms::from_stored(vec!["x".into()]);
            assert_eq!(
                slow_mode_interval(&a),
                held.then(|| chrono::Duration::seconds(30)),
                "{role:?}"
            );
            assert_eq!(blocked_terms_apply(&a), held, "{role:?}");
        }
    }

    #[test]
    fn slow_mode_refusals_say_when_to_retry_in_whole_seconds() {
        let now = Utc::now();
        let interval = chrono::Duration::seconds(30);
        let retry = |last| match slow_mode_refusal(last, interval, now) {
            DomainError::RateLimited {
                retry_after_seconds,
                ..
            } => retry_after_seconds,
            other => panic!("{other:?}"),
        };
        assert_eq!(retry(now), Some(30));
        assert_eq!(retry(now - chrono::Duration::milliseconds(29_500)), Some(1));
        assert_eq!(retry(now - chrono::Duration::seconds(10)), Some(20));
        // Never 0, even at the edge.
        assert_eq!(retry(now - interval), Some(1));
    }

    #[test]
    fn a_timed_ban_stops_counting_when_its_time_is_up() {
        let v = user();
        let now = Utc::now();
        let mut a = access(RoomType::Public, None, true, &v);
        a.ban_expires_at = Some(now + chrono::Duration::seconds(60));
        assert_eq!(code(authorize(Some(v.id), &a, Action::Join, now)), "BANNED");
        let later = now + chrono::Duration::seconds(60);
        assert_eq!(code(authorize(Some(v.id), &a, Action::Join, later)), "OK");
    }

    #[test]
    fn invites_admit_outsiders_to_any_room_but_not_the_banned() {
        let v = user();
        let now = Utc::now();
        for room_type in [RoomType::Public, RoomType::Restricted, RoomType::Private] {
            let check = |role, banned| {
                let a = access(room_type, role, banned, &v);
                code(authorize(Some(v.id), &a, Action::JoinByInvite, now))
            };
            assert_eq!(check(None, false), "OK", "{room_type:?}");
            assert_eq!(check(None, true), "BANNED", "{room_type:?}");
            assert_eq!(
                check(Some(Role::Member), false),
                "CONFLICT",
                "{room_type:?}"
            );
            let anonymous = access(room_type, None, false, &v);
            assert_eq!(
                code(authorize(None, &anonymous, Action::JoinByInvite, now)),
                "UNAUTHENTICATED"
            );
        }
    }

    #[test]
    fn reports_and_the_moderation_tools_by_role() {
        let v = user();
        let now = Utc::now();
        use Action::*;
        let tools = [
            ViewReports,
            DecideReport,
            ViewModerationLog,
            ViewBlockedTerms,
            SetBlockedTerms,
            ManageInvites,
        ];
        for room_type in [RoomType::Public, RoomType::Restricted, RoomType::Private] {
            let check = |role, a| {
                code(authorize(
                    Some(v.id),
                    &access(room_type, role, false, &v),
                    a,
                    now,
                ))
            };
            for tool in tools {
                assert_eq!(check(Some(Role::Member), tool), "FORBIDDEN", "{tool:?}");
                assert_eq!(check(Some(Role::Admin), tool), "OK", "{tool:?}");
                assert_eq!(check(Some(Role::Owner), tool), "OK", "{tool:?}");
            }
            assert_eq!(check(Some(Role::Member), ReportMessage), "OK");
            let outsider = check(None, ReportMessage);
            let want = match room_type {
                RoomType::Public => "OK",
                RoomType::Restricted => "FORBIDDEN",
                RoomType::Private => "NOT_FOUND",
            };
            assert_eq!(
                outsider, want,
                "an outsider reporting in a {room_type:?} room"
            );
        }
    }

    #[test]
    fn admins_see_reports_as_they_see_join_requests() {
        let report = RoomEvent::MessageReported(crate::domain::model::Report {
            id: crate::domain::values::ReportId::new(),
            room_id: RoomId::new(),
            message: None,
            reporter: user(),
            reason: "spam".into(),
            status: crate::domain::model::ReportStatus::Open,
            created_at: Utc::now(),
            resolved_by: None,
            resolved_at: None,
        });
        assert!(!may_see_event(None, &report));
        assert!(!may_see_event(Some(Role::Member), &report));
        assert!(may_see_event(Some(Role::Admin), &report));
        assert!(may_see_event(Some(Role::Owner), &report));
    }

    #[test]
    fn feeds_end_on_ban_kick_leave_and_delete() {
        let v = user();
        let room_id = RoomId::new();
        let ev = RoomEvent::MemberRemoved {
            room_id,
            user: v.clone(),
            by: user(),
            reason: None,
        };
        assert_eq!(
            feed_verdict(v.id, RoomType::Public, &ev).map(|e| e.code().as_str()),
            Some("FORBIDDEN")
        );
        let left = RoomEvent::MemberLeft {
            room_id,
            user: v.clone(),
        };
        assert!(feed_verdict(v.id, RoomType::Public, &left).is_none());
        assert!(feed_verdict(v.id, RoomType::Restricted, &left).is_some());
        let del = RoomEvent::RoomDeleted { room_id };
        assert_eq!(
            feed_verdict(v.id, RoomType::Public, &del).map(|e| e.code().as_str()),
            Some("NOT_FOUND")
        );
        let other_left = RoomEvent::MemberLeft {
            room_id,
            user: user(),
        };
        assert!(feed_verdict(v.id, RoomType::Private, &other_left).is_none());
    }
}
