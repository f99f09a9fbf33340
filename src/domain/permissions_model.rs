//! The permission table checked against a small model, over every case there is: each kind
//! of viewer, each room type and each action with each of its parameters (what an
//! exhaustive enumeration can check, a random property test could only sample). The model
//! is the rulebook written as a table; general properties (monotone roles, private rooms
//! that do not leak, bans that stop everything) are checked on `authorize` itself.

use chrono::{Duration, Utc};

use super::model::{Membership, PostingPolicy, Role, Room, RoomAccess, RoomType, Timestamp, User};
use super::permissions::{authorize, Action};
use super::values::{RoomId, UserId};

/// The kinds of viewer a room can have. (Banned users are never members: storage keeps
/// banned XOR member inside its transactions.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Outsider,
    Banned,
    /// Banned until a time that has passed (nothing lifted the ban yet).
    BanLapsed,
    Member,
    /// A member muted until unmuted.
    Muted,
    /// A member whose timed mute has run out.
    MuteLapsed,
    Admin,
    Owner,
}

const WHO: [Who; 9] = [
    Who::Anonymous,
    Who::Outsider,
    Who::Banned,
    Who::BanLapsed,
    Who::Member,
    Who::Muted,
    Who::MuteLapsed,
    Who::Admin,
    Who::Owner,
];

const TYPES: [RoomType; 3] = [RoomType::Public, RoomType::Restricted, RoomType::Private];

impl Who {
    /// 0: not a member; 1 member; 2 admin; 3 owner.
    fn rank(self) -> u8 {
        match self {
            Who::Anonymous | Who::Outsider | Who::Banned | Who::BanLapsed => 0,
            Who::Member | Who::Muted | Who::MuteLapsed => 1,
            Who::Admin => 2,
            Who::Owner => 3,
        }
    }
}

/// Every action, with each parameter it can take: `me` is the viewer, `other` someone else.
fn actions(me: UserId, other: UserId) -> Vec<Action> {
    let mut all = vec![
        Action::ViewRoom,
        Action::ReadMessages,
        Action::ViewMembers,
        Action::Join,
        Action::RequestToJoin,
        Action::Leave,
        Action::SendMessage,
        Action::UpdateRoom,
        Action::DeleteRoom,
        Action::ViewModeration,
        Action::DecideJoinRequest,
        Action::AddMember,
        Action::Unban,
        Action::ReportMessage,
        Action::ViewReports,
        Action::DecideReport,
        Action::ViewModerationLog,
        Action::ViewBlockedTerms,
        Action::SetBlockedTerms,
        Action::ManageInvites,
        Action::JoinByInvite,
        Action::MarkRead,
    ];
    for author in [me, other] {
        all.push(Action::DeleteMessage { author });
    }
    for target in [me, other] {
        for target_role in [
            None,
            Some(Role::Member),
            Some(Role::Admin),
            Some(Role::Owner),
        ] {
            all.push(Action::ActOnMember {
                target,
                target_role,
            });
        }
        all.push(Action::TransferOwnership { target });
    }
    for target_role in [Role::Member, Role::Admin, Role::Owner] {
        all.push(Action::SetRole { target_role });
    }
    all
}

/// The rulebook as a table: the code `who` gets for `action` in a room of `room_type`.
fn model(who: Who, room_type: RoomType, action: Action, me: UserId) -> &'static str {
    let private = room_type == RoomType::Private;
    let member = who.rank() >= 1;
    let admin = who.rank() >= 2;
    let owner = who == Who::Owner;
    let ok_if = |allowed: bool, otherwise: &'static str| if allowed { "OK" } else { otherwise };
    // Seeing that a room exists: anyone, except that a private room exists only for members.
    if action == Action::ViewRoom {
        return ok_if(!private || member, "NOT_FOUND");
    }
    if who == Who::Anonymous {
        return "UNAUTHENTICATED";
    }
    if who == Who::Banned {
        return "BANNED";
    }
    // An invite opens any room to a non-member.
    if action == Action::JoinByInvite {
        return ok_if(!member, "CONFLICT");
    }
    if private && !member {
        return "NOT_FOUND";
    }
    match action {
        Action::ViewRoom => unreachable!("decided above"),
        Action::ReadMessages | Action::ViewMembers | Action::ReportMessage => {
            ok_if(member || room_type == RoomType::Public, "FORBIDDEN")
        }
        Action::Join if member => "CONFLICT",
        Action::Join => ok_if(room_type == RoomType::Public, "FORBIDDEN"),
        Action::RequestToJoin if member => "CONFLICT",
        Action::RequestToJoin => ok_if(room_type == RoomType::Restricted, "BAD_USER_INPUT"),
        Action::Leave if !member => "NOT_FOUND",
        Action::Leave => ok_if(!owner, "CONFLICT"),
        Action::SendMessage if !member => "FORBIDDEN",
        Action::SendMessage => ok_if(who != Who::Muted, "MUTED"),
        Action::DeleteMessage { author } => ok_if(author == me || admin, "FORBIDDEN"),
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
        | Action::ManageInvites => ok_if(admin, "FORBIDDEN"),
        Action::JoinByInvite => unreachable!("decided above"),
        Action::MarkRead => ok_if(member, "FORBIDDEN"),
        Action::ActOnMember {
            target,
            target_role,
        } => ok_if(
            admin
                && target != me
                && target_role != Some(Role::Owner)
                && (target_role != Some(Role::Admin) || owner),
            "FORBIDDEN",
        ),
        Action::SetRole { target_role } => ok_if(owner && target_role != Role::Owner, "FORBIDDEN"),
        Action::TransferOwnership { .. } if !owner => "FORBIDDEN",
        Action::TransferOwnership { target } => ok_if(target != me, "BAD_USER_INPUT"),
    }
}

fn user(id: UserId) -> User {
    User {
        id,
        username: "u".into(),
        created_at: Utc::now(),
    }
}

fn access(who: Who, room_type: RoomType, me: UserId, now: Timestamp) -> RoomAccess {
    let id = RoomId::new();
    let role = match who {
        Who::Anonymous | Who::Outsider | Who::Banned | Who::BanLapsed => None,
        Who::Member | Who::Muted | Who::MuteLapsed => Some(Role::Member),
        Who::Admin => Some(Role::Admin),
        Who::Owner => Some(Role::Owner),
    };
    let owner = if who == Who::Owner {
        user(me)
    } else {
        user(UserId::new())
    };
    RoomAccess {
        room: Room {
            id,
            name: "r".into(),
            topic: None,
            room_type,
            max_users: None,
            member_count: 1,
            owner,
            created_at: now,
            last_seq: 0,
            slow_mode_seconds: 0,
            posting_policy: PostingPolicy::Members,
            blocked_terms: Default::default(),
        },
        membership: role.map(|role| Membership {
            user: user(me),
            room_id: id,
            role,
            joined_at: now,
            muted: matches!(who, Who::Muted | Who::MuteLapsed),
            muted_until: (who == Who::MuteLapsed).then(|| now - Duration::seconds(1)),
            last_read_seq: 0,
        }),
        banned: matches!(who, Who::Banned | Who::BanLapsed),
        ban_expires_at: (who == Who::BanLapsed).then(|| now - Duration::seconds(1)),
    }
}

struct Case {
    who: Who,
    room_type: RoomType,
    action: Action,
    got: &'static str,
}

/// `authorize`'s answer for every case.
fn every_case() -> (Vec<Case>, UserId, UserId) {
    let me = UserId::new();
    let other = UserId::new();
    let now = Utc::now();
    let mut cases = Vec::new();
    for who in WHO {
        for room_type in TYPES {
            let access = access(who, room_type, me, now);
            let viewer = (who != Who::Anonymous).then_some(me);
            for action in actions(me, other) {
                let got = match authorize(viewer, &access, action, now) {
                    Ok(()) => "OK",
                    Err(e) => e.code().as_str(),
                };
                cases.push(Case {
                    who,
                    room_type,
                    action,
                    got,
                });
            }
        }
    }
    (cases, me, other)
}

#[test]
fn authorize_agrees_with_the_model_in_every_case() {
    let (cases, me, _) = every_case();
    let mut disagreements = Vec::new();
    for c in &cases {
        let want = model(c.who, c.room_type, c.action, me);
        if c.got != want {
            disagreements.push(format!(
                "{:?} in a {:?} room, {:?}: authorize says {}, the model {}",
                c.who, c.room_type, c.action, c.got, want
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
    // 9 viewers x 3 room types x 37 actions.
    assert_eq!(cases.len(), 9 * 3 * 37);
}

fn answer(cases: &[Case], who: Who, room_type: RoomType, action: Action) -> &'static str {
    cases
        .iter()
        .find(|c| c.who == who && c.room_type == room_type && c.action == action)
        .map(|c| c.got)
        .unwrap_or_else(|| panic!("no case {who:?} {room_type:?} {action:?}"))
}

#[test]
fn anonymous_and_banned_viewers_may_only_look_at_a_listed_room() {
    let (cases, ..) = every_case();
    for c in cases
        .iter()
        .filter(|c| matches!(c.who, Who::Anonymous | Who::Banned))
    {
        if c.got == "OK" {
            assert_eq!(c.action, Action::ViewRoom, "{:?} {:?}", c.who, c.room_type);
            assert_ne!(c.room_type, RoomType::Private);
        }
    }
}

#[test]
fn a_private_room_does_not_exist_for_outsiders() {
    let (cases, ..) = every_case();
    // Except to someone holding an invite: the code is what tells them of the room (and an
    // invalid code is NOT_FOUND before any of this is asked).
    for c in cases.iter().filter(|c| {
        c.room_type == RoomType::Private
            && matches!(c.who, Who::Outsider | Who::Anonymous)
            && !(c.who == Who::Outsider && c.action == Action::JoinByInvite)
    }) {
        // Anonymous callers learn only that they must sign in (as for any room).
        let expected = if c.who == Who::Anonymous && c.action != Action::ViewRoom {
            "UNAUTHENTICATED"
        } else {
            "NOT_FOUND"
        };
        assert_eq!(c.got, expected, "{:?} {:?}", c.who, c.action);
    }
}

#[test]
fn a_higher_role_may_do_whatever_a_lower_one_may() {
    let (cases, ..) = every_case();
    let ladder = [Who::Member, Who::Admin, Who::Owner];
    for c in &cases {
        // Joining and leaving are about not being / being a member, not about rank.
        if matches!(
            c.action,
            Action::Join | Action::RequestToJoin | Action::Leave | Action::JoinByInvite
        ) || c.got != "OK"
        {
            continue;
        }
        for higher in ladder.iter().filter(|w| w.rank() > c.who.rank()) {
            assert_eq!(
                answer(&cases, *higher, c.room_type, c.action),
                "OK",
                "{:?} may {:?} in a {:?} room but {:?} may not",
                c.who,
                c.action,
                c.room_type,
                higher
            );
        }
    }
}

#[test]
fn a_mute_stops_sending_only_and_a_lapsed_mute_stops_nothing() {
    let (cases, ..) = every_case();
    for c in cases.iter().filter(|c| c.who == Who::Member) {
        let muted = answer(&cases, Who::Muted, c.room_type, c.action);
        if c.action == Action::SendMessage {
            assert_eq!(muted, "MUTED");
        } else {
            assert_eq!(muted, c.got, "{:?} {:?}", c.room_type, c.action);
        }
        assert_eq!(
            answer(&cases, Who::MuteLapsed, c.room_type, c.action),
            c.got,
            "{:?} {:?}",
            c.room_type,
            c.action
        );
    }
}

#[test]
fn no_one_acts_on_the_owner_or_on_themselves() {
    let (cases, me, _) = every_case();
    for c in &cases {
        if let Action::ActOnMember {
            target,
            target_role,
        } = c.action
        {
            if target == me || target_role == Some(Role::Owner) {
                assert_ne!(c.got, "OK", "{:?} {:?} {:?}", c.who, c.room_type, c.action);
            }
            if target_role == Some(Role::Admin) && c.who != Who::Owner {
                assert_ne!(c.got, "OK", "only the owner acts on admins: {:?}", c.who);
            }
        }
    }
}

#[test]
fn every_refusal_has_a_code_clients_know() {
    let (cases, ..) = every_case();
    let known = [
        "OK",
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "BAD_USER_INPUT",
        "CONFLICT",
        "BANNED",
        "MUTED",
    ];
    for c in &cases {
        assert!(known.contains(&c.got), "{:?}: {}", c.action, c.got);
    }
}
