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
    /// `error.details[]`: Site Recovery puts its own error there (its code, the possible causes
    /// and the recommended action), under ARM's generic code.
    pub details: Vec<ErrorDetail>,
}

/// One entry of `error.details[]` as Site Recovery fills it (azure-rest-api-specs issue 12759
/// shows `code`, `message`, `possibleCauses`, `recommendedAction`).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub possible_causes: Option<String>,
    #[serde(default)]
    pub recommended_action: Option<String>,
}

/// 409s that are not another operation in progress but a fact that lasts until someone acts:
/// classified by ARM's code before the status, as Azure Service Operator does
/// (`errorclassification.classifyCloudError`: code first, the HTTP status only for a code it
/// does not know). A write to an unregistered namespace; a storage account name taken in
/// Azure or by another resource group of the subscription; a resource group or resource that
/// exists in another region.
pub const PERMANENT_CONFLICTS: &[&str] = &[
    "MissingSubscriptionRegistration",
    "StorageAccountAlreadyTaken",
    "StorageAccountInAnotherResourceGroup",
    "InvalidResourceGroupLocation",
    "InvalidResourceLocation",
];

/// Site Recovery's code, in `details[0]`, for a GET of an object that does not exist in a vault
/// that has none of its kind: a 400 that means 404 (azure-rest-api-specs issue 12759;
/// terraform-provider-azurerm's `wasBadRequestWithNotExist` treats it as absent).
pub const NOT_REGISTERED_WITH_SRS: &str = "SubscriptionIdNotRegisteredWithSrs";

impl std::fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} {}: {}",
            self.method, self.resource, self.status, self.code, self.message
        )?;
        for detail in &self.details {
            let text = |t: &Option<String>| t.clone().filter(|t| !t.is_empty());
            if let Some(code) = text(&detail.code).filter(|c| *c != self.code) {
                write!(f, " [{code}")?;
                if let Some(message) = text(&detail.message).filter(|m| *m != self.message) {
                    write!(f, ": {message}")?;
                }
                write!(f, "]")?;
            }
            if let Some(causes) = text(&detail.possible_causes) {
                write!(f, " Possible causes: {causes}")?;
            }
            if let Some(action) = text(&detail.recommended_action) {
                write!(f, " Recommended action: {action}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// ARM answered with an error body.
    #[error("{0}")]
    Response(Box<ErrorResponse>),
    /// The request never got an answer, or azure_core refused it (including credentials).
    #[error("{}", with_causes(.0))]
    Transport(#[from] azure_core::Error),
    /// ARM's answer did not have the expected shape.
    #[error("{resource}: unexpected response: {message}")]
    Decode { resource: String, message: String },
}

/// An error with what caused it: azure_core wraps Entra's answer (`AADSTS70021: No matching
/// federated identity record...`) in its retry policy's "will not be retried", which alone says
/// nothing a person can act on.
fn with_causes(error: &azure_core::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut next: Option<&dyn std::error::Error> = Some(error);
    while let Some(error) = next {
        let message = error.to_string();
        if !messages.iter().any(|m| m.contains(&message)) {
            messages.push(message);
        }
        next = error.source();
    }
    messages.join(": ")
}

impl ArmError {
    pub fn class(&self) -> ErrorClass {
        match self {
            ArmError::Response(response) => match response.status {
                429 => ErrorClass::Throttled,
                404 => ErrorClass::NotFound,
                // Not another operation in progress: these last until the spec (or the
                // subscription) changes.
                409 if PERMANENT_CONFLICTS.contains(&response.code.as_str()) => ErrorClass::User,
                400 if response.details.first().and_then(|d| d.code.as_deref())
                    == Some(NOT_REGISTERED_WITH_SRS) =>
                {
                    ErrorClass::NotFound
                }
                409 => ErrorClass::Conflict,
                // A read-modify-write lost a race: read again on the next pass.
                412 => ErrorClass::Transient,
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
            details: Vec::new(),
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

    #[test]
    fn a_400_that_site_recovery_means_as_absent_is_not_found_and_details_are_kept() {
        // The body of azure-rest-api-specs issue 12759 (a GET of a fabric that does not exist).
        let body: serde_json::Value = serde_json::json!({"error": {"code": "BadRequest",
            "message": "The resource with ID 2195638768288125375 isn't registered with the service.",
            "details": [{"activityId": "689647ac-7f72-7f8b-e344-93183a09e18a",
                "code": "SubscriptionIdNotRegisteredWithSrs",
                "message": "The resource with ID 2195638768288125375 isn't registered with the service.",
                "possibleCauses": "The operation failed due to an internal error.",
                "recommendedAction": "Retry the last action. If the issue persists, contact Support."}]}});
        let details: Vec<ErrorDetail> =
            serde_json::from_value(body["error"]["details"].clone()).unwrap();
        let error = ArmError::Response(Box::new(ErrorResponse {
            code: "BadRequest".into(),
            message: body["error"]["message"].as_str().unwrap().into(),
            details,
            ..match response(400) {
                ArmError::Response(r) => *r,
                _ => unreachable!(),
            }
        }));
        assert_eq!(error.class(), ErrorClass::NotFound);
        assert_eq!(
            error.to_string(),
            "GET Microsoft.Storage/storageAccounts: 400 BadRequest: The resource with ID 2195638768288125375 isn't registered with the service. [SubscriptionIdNotRegisteredWithSrs] Possible causes: The operation failed due to an internal error. Recommended action: Retry the last action. If the issue persists, contact Support."
        );
        assert_eq!(
            response(400).class(),
            ErrorClass::User,
            "other 400s stay the user's"
        );
        let unregistered = ArmError::Response(Box::new(ErrorResponse {
            code: "MissingSubscriptionRegistration".into(),
            ..match response(409) {
                ArmError::Response(r) => *r,
                _ => unreachable!(),
            }
        }));
        assert_eq!(
            unregistered.class(),
            ErrorClass::User,
            "waits for a person, not a retry"
        );
    }

    #[test]
    fn a_409_is_classified_by_its_code_before_its_status() {
        let conflict = |code: &str| {
            ArmError::Response(Box::new(ErrorResponse {
                code: code.into(),
                ..match response(409) {
                    ArmError::Response(r) => *r,
                    _ => unreachable!(),
                }
            }))
            .class()
        };
        for permanent in PERMANENT_CONFLICTS {
            assert_eq!(conflict(permanent), ErrorClass::User, "{permanent}");
        }
        for in_progress in ["AnotherOperationInProgress", "Conflict", "SomethingNew"] {
            assert_eq!(conflict(in_progress), ErrorClass::Conflict, "{in_progress}");
        }
    }
}
