//! The domain's one error type. Every rule of rooms that refuses something says so with a
//! variant here; the GraphQL layer maps each variant to exactly one `extensions.code`.

use thiserror::Error;

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
    #[error("room is full ({0} members)")]
    RoomFull(i64),
    #[error("you are banned from this room")]
    Banned,
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
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Unauthenticated(_) => "UNAUTHENTICATED",
            DomainError::Forbidden(_) => "FORBIDDEN",
            DomainError::NotFound(_) => "NOT_FOUND",
            DomainError::BadInput { .. } => "BAD_USER_INPUT",
            DomainError::Conflict(_) => "CONFLICT",
            DomainError::RoomFull(_) => "ROOM_FULL",
            DomainError::Banned => "BANNED",
            DomainError::Muted { .. } => "MUTED",
            DomainError::RateLimited { .. } => "RATE_LIMITED",
            DomainError::Unavailable(_) | DomainError::Overloaded(_) => "SERVICE_UNAVAILABLE",
            DomainError::Internal(_) => "INTERNAL_SERVER_ERROR",
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

    pub fn room_not_found() -> Self {
        DomainError::NotFound("room not found".into())
    }

    pub fn unauthenticated() -> Self {
        DomainError::Unauthenticated("sign in first: this needs a user".into())
    }
}

impl From<crate::store::StoreError> for DomainError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::Conflict(what) => DomainError::Conflict(what),
            StoreError::RoomFull(n) => DomainError::RoomFull(n),
            StoreError::Banned => DomainError::Banned,
            StoreError::NotFound(what) => DomainError::NotFound(what),
            StoreError::Unavailable(e) => DomainError::Unavailable(e),
            StoreError::Other(e) => DomainError::Internal(e),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
