//! The one list of error codes: every refusal a client can get carries one of these as
//! `extensions.code`, and `schema.graphql` exports them (`enum ErrorCode`) so generated
//! clients can switch on them. Every layer names codes through this enum; none spells one.

/// A machine-readable reason for a refusal (`extensions.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No valid session: sign in (again). Also an invalid, revoked or expired token.
    Unauthenticated,
    /// Signed in, but not allowed to do this.
    Forbidden,
    /// No such thing, or it is hidden from the viewer (a private room).
    NotFound,
    /// The request or an argument is invalid; `extensions.field` names the argument when
    /// there is one.
    BadUserInput,
    /// The change conflicts with the current state (taken name, already a member).
    Conflict,
    /// The room has reached its member limit.
    RoomFull,
    /// The viewer is banned from the room.
    Banned,
    /// The message contains one of the room's blocked terms; it was not stored.
    BlockedContent,
    /// The viewer is muted in the room; `extensions.mutedUntil` says until when, if timed.
    Muted,
    /// Too many requests, or a room's slow mode; `extensions.retryAfterSeconds` says when a
    /// retry can succeed.
    RateLimited,
    /// The server is at a limit it protects itself with or storage is unreachable: retry
    /// shortly.
    ServiceUnavailable,
    /// Something broke inside the server (logged there); the client sees a generic message.
    InternalServerError,
    /// An automatic persisted query's hash is not known here: send the document with it
    /// (the message is `PersistedQueryNotFound`, as Apollo Client and urql expect).
    PersistedQueryNotFound,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::BadUserInput,
        ErrorCode::Conflict,
        ErrorCode::RoomFull,
        ErrorCode::Banned,
        ErrorCode::BlockedContent,
        ErrorCode::Muted,
        ErrorCode::RateLimited,
        ErrorCode::ServiceUnavailable,
        ErrorCode::InternalServerError,
        ErrorCode::PersistedQueryNotFound,
    ];

    /// The code as clients read it in `extensions.code` (the GraphQL enum value's name).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RoomFull => "ROOM_FULL",
            ErrorCode::Banned => "BANNED",
            ErrorCode::BlockedContent => "BLOCKED_CONTENT",
            ErrorCode::Muted => "MUTED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::InternalServerError => "INTERNAL_SERVER_ERROR",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::resolver_utils::EnumType;

    #[test]
    fn the_wire_names_are_the_schema_enum_names_and_all_are_listed() {
        let items = ErrorCode::items();
        assert_eq!(items.len(), ErrorCode::ALL.len());
        for item in items {
            assert!(ErrorCode::ALL.contains(&item.value));
            assert_eq!(item.value.as_str(), item.name);
        }
    }
}
