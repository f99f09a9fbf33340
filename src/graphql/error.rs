//! Turning domain errors into GraphQL errors. Each `DomainError` variant becomes one
//! `extensions.code`; internal errors are logged with their cause chain and reach the client
//! only as a generic message. Use `.gql()` instead of `?` on a `DomainResult`: async-graphql's
//! blanket `From<Display>` would drop the code.

use async_graphql::{Error, ErrorExtensions, Response};

use crate::domain::error::DomainError;
use crate::error_code::ErrorCode;

pub fn to_gql(e: DomainError) -> Error {
    let code = e.code();
    let message = match &e {
        DomainError::Internal(cause) => {
            tracing::error!(error = ?cause, "internal error");
            "internal server error".to_owned()
        }
        DomainError::Unavailable(cause) => {
            tracing::warn!(error = ?cause, "storage unavailable");
            e.to_string()
        }
        other => other.to_string(),
    };
    Error::new(message).extend_with(|_, ext| {
        ext.set("code", code.as_str());
        match &e {
            DomainError::BadInput {
                field: Some(field), ..
            }
            | DomainError::ConflictOn { field, .. } => ext.set("field", *field),
            DomainError::Muted { until: Some(until) } => ext.set("mutedUntil", until.to_rfc3339()),
            DomainError::Ejected {
                by, reason, until, ..
            } => {
                let mut who = async_graphql::indexmap::IndexMap::new();
                who.insert(
                    async_graphql::Name::new("id"),
                    async_graphql::Value::from(by.id.to_string()),
                );
                who.insert(
                    async_graphql::Name::new("username"),
                    async_graphql::Value::from(by.username.clone()),
                );
                ext.set("by", async_graphql::Value::Object(who));
                ext.set("reason", reason.clone());
                if let Some(until) = until {
                    ext.set("expiresAt", until.to_rfc3339());
                }
            }
            DomainError::RateLimited {
                retry_after_seconds: Some(secs),
                ..
            } => ext.set("retryAfterSeconds", *secs),
            _ => {}
        }
    })
}

/// The body sent when a response cannot be serialised (which should never happen): written
/// by hand, so it cannot fail itself.
pub fn internal_error_json() -> String {
    format!(
        r#"{{"data":null,"errors":[{{"message":"internal server error","extensions":{{"code":"{}"}}}}]}}"#,
        ErrorCode::InternalServerError
    )
}

pub trait GqlResultExt<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResultExt<T> for Result<T, DomainError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(to_gql)
    }
}

/// Errors raised by async-graphql itself (parse, validation, limits, variable coercion)
/// carry no code; they are all problems with the request, so they get BAD_USER_INPUT.
pub fn ensure_codes(response: &mut Response) {
    for err in &mut response.errors {
        let has_code = err
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            err.extensions
                .get_or_insert_with(Default::default)
                .set("code", ErrorCode::BadUserInput.as_str());
        }
    }
}
