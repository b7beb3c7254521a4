//! The controller's errors. Each variant names an Event reason and a metric label, and says
//! how long to wait before trying again.

use std::time::Duration;

use crate::azure::{ArmError, ErrorClass};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("Azure: {0}")]
    Arm(#[from] ArmError),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// The spec breaks a rule; nothing is written to Azure until it changes.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// The credentials a vault names cannot be read or used.
    #[error("credentials: {0}")]
    Credentials(String),
    /// Deletion is refused for now (live machines still use the vault).
    #[error("deletion blocked: {0}")]
    DeletionBlocked(String),
    /// Teardown is under way; not a failure.
    #[error("teardown in progress: {0}")]
    TeardownInProgress(String),
}

impl Error {
    /// The Event reason and metric label of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubernetesApiError",
            Error::Arm(error) => match error.class() {
                ErrorClass::Transient => "AzureTransientError",
                ErrorClass::Throttled => "AzureThrottled",
                ErrorClass::NotFound => "AzureNotFound",
                ErrorClass::Conflict => "AzureConflict",
                ErrorClass::User => "AzureRejected",
                ErrorClass::Authentication => "AzureAuthenticationFailed",
            },
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.reason(),
                _ => "FinalizerError",
            },
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::Credentials(_) => "CredentialsError",
            Error::DeletionBlocked(_) => "DeletionBlocked",
            Error::TeardownInProgress(_) => "TeardownInProgress",
        }
    }

    /// `None` to wait for a spec change; otherwise the earliest sensible retry, before backoff.
    pub fn retry_after(&self, poll: Duration) -> Option<Duration> {
        match self {
            Error::InvalidSpec(_) => None,
            Error::Arm(error) if error.class() == ErrorClass::Throttled => {
                Some(error.retry_after().unwrap_or(Duration::from_secs(30)))
            }
            Error::Arm(error) if error.class() == ErrorClass::Conflict => {
                Some(Duration::from_secs(15).max(poll))
            }
            Error::TeardownInProgress(_) => Some(poll),
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.retry_after(poll),
                _ => Some(poll),
            },
            _ => Some(poll),
        }
    }

    /// Whether this error is worth a Warning Event (teardown progress is not).
    pub fn is_warning(&self) -> bool {
        match self {
            Error::TeardownInProgress(_) => false,
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.is_warning(),
                _ => true,
            },
            _ => true,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
