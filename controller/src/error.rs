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
    /// A failure already said in status, whose writer published its Event: retried like the
    /// failure, without a second Event.
    #[error("{0}")]
    Reported(Box<Error>),
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
            Error::Reported(inner) => inner.reason(),
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
            Error::Reported(inner) => inner.retry_after(poll),
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
            Error::Reported(inner) => inner.is_warning(),
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.is_warning(),
                _ => true,
            },
            _ => true,
        }
    }

    /// Whether a Warning Event is still to be published for this failure: it is worth one, and
    /// no status writer has published it already.
    pub fn needs_event(&self) -> bool {
        let reported = match self {
            Error::Reported(_) => true,
            Error::Finalizer(inner) => matches!(
                inner.as_ref(),
                kube::runtime::finalizer::Error::ApplyFailed(Error::Reported(_))
                    | kube::runtime::finalizer::Error::CleanupFailed(Error::Reported(_))
            ),
            _ => false,
        };
        self.is_warning() && !reported
    }

    /// A reported failure: said in status, with its Event, by the caller.
    pub fn reported(self) -> Error {
        match self {
            Error::Reported(_) => self,
            other => Error::Reported(Box::new(other)),
        }
    }
}

/// The outcome of a pass through kube's `finalizer`, with a deletion that has not finished
/// turned into what it is. `finalizer` keeps the finalizer only when cleanup returns an error,
/// so a teardown step under way, or a deletion waiting for its users to go, leaves cleanup as
/// one; neither is a failed reconcile (not counted in `cutover_reconcile_errors_total`, no
/// Warning Event on each pass: the status writer said it once). They look again after `poll`
/// (a step in flight) or six times that (waiting on someone else).
pub fn settle_cleanup(
    result: std::result::Result<
        kube::runtime::controller::Action,
        kube::runtime::finalizer::Error<Error>,
    >,
    poll: Duration,
) -> Result<kube::runtime::controller::Action> {
    use kube::runtime::controller::Action;
    use kube::runtime::finalizer::Error as Finalizer;
    match result {
        Ok(action) => Ok(action),
        Err(Finalizer::CleanupFailed(Error::TeardownInProgress(_))) => Ok(Action::requeue(poll)),
        Err(Finalizer::CleanupFailed(Error::DeletionBlocked(_))) => {
            Ok(Action::requeue(poll.saturating_mul(6)))
        }
        Err(other) => Err(Error::Finalizer(Box::new(other))),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::controller::Action;
    use kube::runtime::finalizer::Error as Finalizer;

    #[test]
    fn a_deletion_under_way_or_waiting_is_not_a_failed_reconcile() {
        let poll = Duration::from_secs(10);
        assert_eq!(
            settle_cleanup(
                Err(Finalizer::CleanupFailed(Error::TeardownInProgress(
                    "disabling replication".into()
                ))),
                poll
            )
            .unwrap(),
            Action::requeue(poll)
        );
        assert_eq!(
            settle_cleanup(
                Err(Finalizer::CleanupFailed(Error::DeletionBlocked(
                    "machines use it".into()
                ))),
                poll
            )
            .unwrap(),
            Action::requeue(Duration::from_secs(60))
        );
        let failed = settle_cleanup(
            Err(Finalizer::CleanupFailed(Error::InvalidSpec("x".into()))),
            poll,
        );
        assert!(matches!(failed, Err(Error::Finalizer(_))), "{failed:?}");
        assert_eq!(
            settle_cleanup(Ok(Action::await_change()), poll).unwrap(),
            Action::await_change()
        );
    }

    #[test]
    fn a_failure_the_status_writer_said_gets_no_second_event() {
        let failure = || Error::Credentials("the Secret has no clientId".into());
        assert!(failure().needs_event());
        assert!(!failure().reported().needs_event());
        assert!(
            !Error::Finalizer(Box::new(Finalizer::ApplyFailed(failure().reported()))).needs_event()
        );
        assert!(Error::Finalizer(Box::new(Finalizer::ApplyFailed(failure()))).needs_event());
        // Retried as the failure it wraps.
        let poll = Duration::from_secs(10);
        assert_eq!(failure().reported().reason(), "CredentialsError");
        assert_eq!(failure().reported().retry_after(poll), Some(poll));
        assert!(!Error::TeardownInProgress("step".into()).needs_event());
    }
}
