//! The domain's one error type. Every rule of rooms that refuses something says so with a
//! variant here; the GraphQL layer maps each variant to exactly one `extensions.code`.

use thiserror::Error;

use super::ports::{Conflict, Entity, StoreError};
pub use crate::error_code::ErrorCode;

/// Why a domain operation was refused.
#[derive(Debug, Error)]
pub enum DomainError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    BadInput {
        message: String,
        /// The input field at fault, when there is one (lets clients place the message).
        field: Option<&'static str>,
    },
    #[error("{0}")]
    Conflict(String),
    /// A conflict caused by one input field's value (a taken username): clients can show
    /// it next to that field.
    #[error("{message}")]
    ConflictOn {
        message: String,
        field: &'static str,
    },
    #[error("room is full ({0} members)")]
    RoomFull(i64),
    #[error("you are banned from this room")]
    Banned,
    /// A moderator took the viewer's access away while they were reading: banned (BANNED)
    /// or removed (FORBIDDEN). Says who and why, so a client ending a feed need not wait
    /// for the event that announced it.
    #[error("{message}")]
    Ejected {
        banned: bool,
        message: String,
        by: crate::domain::model::User,
        reason: Option<String>,
        /// When a timed ban ends.
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A member's message contains one of the room's blocked terms; it was stored nowhere.
    #[error("your message contains a term this room does not allow")]
    BlockedContent,
    #[error("you are muted in this room")]
    Muted {
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    #[error("{message}")]
    RateLimited {
        message: String,
        /// Whole seconds until a retry can succeed (at least 1), when known.
        retry_after_seconds: Option<u64>,
    },
    /// The server is at a limit it protects itself with (e.g. concurrent password hashes);
    /// retrying shortly may succeed.
    #[error("{0}")]
    Overloaded(String),
    /// The database cannot be reached or timed out; retrying later may succeed.
    #[error("storage is unavailable; try again shortly")]
    Unavailable(#[source] anyhow::Error),
    /// Something broke inside the server. The cause is logged; clients see a generic message.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl DomainError {
    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            DomainError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            DomainError::Forbidden(_) => ErrorCode::Forbidden,
            DomainError::NotFound(_) => ErrorCode::NotFound,
            DomainError::BadInput { .. } => ErrorCode::BadUserInput,
            DomainError::Conflict(_) | DomainError::ConflictOn { .. } => ErrorCode::Conflict,
            DomainError::RoomFull(_) => ErrorCode::RoomFull,
            DomainError::Banned | DomainError::Ejected { banned: true, .. } => ErrorCode::Banned,
            DomainError::Ejected { banned: false, .. } => ErrorCode::Forbidden,
            DomainError::BlockedContent => ErrorCode::BlockedContent,
            DomainError::Muted { .. } => ErrorCode::Muted,
            DomainError::RateLimited { .. } => ErrorCode::RateLimited,
            DomainError::Unavailable(_) | DomainError::Overloaded(_) => {
                ErrorCode::ServiceUnavailable
            }
            DomainError::Internal(_) => ErrorCode::InternalServerError,
        }
    }

    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        DomainError::BadInput {
            message: message.into(),
            field: Some(field),
        }
    }

    /// Over a rate: `what` happened too often; a retry works after `wait`.
    pub fn rate_limited(what: &str, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        DomainError::RateLimited {
            message: format!("{what}: too many; try again in {secs} s"),
            retry_after_seconds: Some(secs),
        }
    }

    pub fn username_taken() -> Self {
        DomainError::ConflictOn {
            message: "username is taken".into(),
            field: "username",
        }
    }

    pub fn room_not_found() -> Self {
        DomainError::NotFound("room not found".into())
    }

    /// BANNED, saying who banned the viewer, why and until when.
    pub fn banned_by(ban: &crate::domain::model::Ban) -> Self {
        DomainError::Ejected {
            banned: true,
            message: format!("{} banned you from this room", ban.banned_by.username),
            by: ban.banned_by.clone(),
            reason: ban.reason.clone(),
            until: ban.expires_at,
        }
    }

    /// Unknown, revoked, expired and used-up invite codes all get this one answer.
    pub fn invite_not_found() -> Self {
        DomainError::NotFound(
            "this invite link is not valid (it may have expired or been used up)".into(),
        )
    }

    pub fn unauthenticated() -> Self {
        DomainError::Unauthenticated("sign in first: this needs a user".into())
    }
}

/// Storage names what happened; the words users read are chosen here.
impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(Conflict::UsernameTaken) => DomainError::username_taken(),
            StoreError::Conflict(kind) => DomainError::Conflict(
                match kind {
                    Conflict::UsernameTaken => "username is taken",
                    Conflict::AlreadyMember => "already a member of this room",
                    Conflict::AlreadyBanned => "user is already banned",
                    Conflict::JoinRequestPending => "you already asked to join this room",
                    Conflict::ReportOpen => "you have already reported this message",
                    Conflict::ReportDecided => "this report was already resolved or dismissed",
                    Conflict::TooManyInvites => {
                        "this room has as many working invite links as it may: revoke one first"
                    }
                    Conflict::Duplicate => "this already exists",
                }
                .into(),
            ),
            StoreError::RoomFull(n) => DomainError::RoomFull(n),
            StoreError::Banned => DomainError::Banned,
            StoreError::NotFound(what) => DomainError::NotFound(
                match what {
                    Entity::Room => "room not found",
                    Entity::Membership => "not a member of this room",
                    Entity::Ban => "no such ban",
                    Entity::JoinRequest => "no pending join request",
                    Entity::Report => "report not found",
                    Entity::Message => "message not found",
                    Entity::Invite => {
                        return DomainError::invite_not_found();
                    }
                }
                .into(),
            ),
            StoreError::Unavailable(e) => DomainError::Unavailable(e),
            StoreError::Other(e) => DomainError::Internal(e),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
