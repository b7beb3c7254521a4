//! ARM's answers that are not success, classified so a reconciler knows what to do: retry
//! soon, wait for `Retry-After`, treat as gone, wait for the other operation, or report the
//! user's mistake and wait for a spec change.

use std::time::Duration;

/// What a reconciler should do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Network trouble or a 5xx: retry with backoff.
    Transient,
    /// 429: wait for `Retry-After`.
    Throttled,
    /// 404: the resource is not there.
    NotFound,
    /// 409: another operation is in progress; requeue, do not hammer.
    Conflict,
    /// 400/403/422: the request is wrong or not permitted; report it and wait for a change.
    User,
    /// 401, or a credential that cannot get a token.
    Authentication,
}

/// ARM's error answer: status, code, message, and what to correlate it with.
#[derive(Debug)]
pub struct ErrorResponse {
    pub method: String,
    /// The resource type the request was for (`Microsoft.Storage/storageAccounts`).
    pub resource: String,
    pub status: u16,
    pub code: String,
    pub message: String,
    pub target: Option<String>,
    pub retry_after: Option<Duration>,
    pub request_id: Option<String>,
}

impl std::fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} {}: {}",
            self.method, self.resource, self.status, self.code, self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// ARM answered with an error body.
    #[error("{0}")]
    Response(Box<ErrorResponse>),
    /// The request never got an answer, or azure_core refused it (including credentials).
    #[error("{0}")]
    Transport(#[from] azure_core::Error),
    /// ARM's answer did not have the expected shape.
    #[error("{resource}: unexpected response: {message}")]
    Decode { resource: String, message: String },
}

impl ArmError {
    pub fn class(&self) -> ErrorClass {
        match self {
            ArmError::Response(response) => match response.status {
                429 => ErrorClass::Throttled,
                404 => ErrorClass::NotFound,
                409 => ErrorClass::Conflict,
                401 => ErrorClass::Authentication,
                408 => ErrorClass::Transient,
                status if status >= 500 => ErrorClass::Transient,
                _ => ErrorClass::User,
            },
            ArmError::Transport(error) => match error.kind() {
                azure_core::error::ErrorKind::Credential => ErrorClass::Authentication,
                _ => ErrorClass::Transient,
            },
            ArmError::Decode { .. } => ErrorClass::Transient,
        }
    }

    /// ARM's error code, when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ArmError::Response(response) => Some(&response.code),
            _ => None,
        }
    }

    /// How long ARM asked to wait, for throttling and 503s.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ArmError::Response(response) => response.retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> ArmError {
        ArmError::Response(Box::new(ErrorResponse {
            method: "GET".into(),
            resource: "Microsoft.Storage/storageAccounts".into(),
            status,
            code: "Code".into(),
            message: "message".into(),
            target: None,
            retry_after: None,
            request_id: None,
        }))
    }

    #[test]
    fn statuses_map_to_what_a_reconciler_does() {
        let classes: Vec<ErrorClass> = [400, 401, 403, 404, 408, 409, 429, 500, 503]
            .into_iter()
            .map(|s| response(s).class())
            .collect();
        use ErrorClass::*;
        assert_eq!(
            classes,
            [
                User,
                Authentication,
                User,
                NotFound,
                Transient,
                Conflict,
                Throttled,
                Transient,
                Transient
            ]
        );
    }
}
