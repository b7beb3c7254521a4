//! `metav1.Condition` bookkeeping: setting a condition keeps its `lastTransitionTime` unless
//! its status changes, and `Ready` summarises the others.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// A condition's content, before timestamps and generation are added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
    /// How the Event of a change to it is published.
    pub severity: Severity,
}

/// An Event's type: `Warning` when the condition needs someone (a spec to fix, Azure's
/// refusal, a permission), `Normal` for progress and waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Normal,
    Warning,
}

impl Observed {
    pub fn ready(type_: &'static str, reason: &str, message: impl Into<String>) -> Observed {
        Observed {
            type_,
            status: true,
            reason: reason.into(),
            message: message.into(),
            severity: Severity::Normal,
        }
    }

    /// Not there yet: in progress, or waiting for something that comes by itself.
    pub fn not_ready(type_: &'static str, reason: &str, message: impl Into<String>) -> Observed {
        Observed {
            type_,
            status: false,
            reason: reason.into(),
            message: message.into(),
            severity: Severity::Normal,
        }
    }

    /// Not there, and it will not get there until someone acts (a Warning Event).
    pub fn failing(type_: &'static str, reason: &str, message: impl Into<String>) -> Observed {
        Observed {
            severity: Severity::Warning,
            ..Observed::not_ready(type_, reason, message)
        }
    }
}

/// `observed` as conditions, keeping each one's `lastTransitionTime` from `previous` when
/// its status did not change.
pub fn merge(
    previous: &[Condition],
    observed: &[Observed],
    generation: Option<i64>,
    now: jiff::Timestamp,
) -> Vec<Condition> {
    observed
        .iter()
        .map(|o| {
            let status = if o.status { "True" } else { "False" };
            let since = previous
                .iter()
                .find(|p| p.type_ == o.type_ && p.status == status)
                .map_or_else(|| Time(now), |p| p.last_transition_time.clone());
            Condition {
                type_: o.type_.to_owned(),
                status: status.to_owned(),
                reason: o.reason.clone(),
                message: o.message.clone(),
                observed_generation: generation,
                last_transition_time: since,
            }
        })
        .collect()
}

/// The conditions whose status or reason differ from `previous` (these get an Event).
pub fn changed<'a>(previous: &[Condition], observed: &'a [Observed]) -> Vec<&'a Observed> {
    observed
        .iter()
        .filter(|o| {
            let status = if o.status { "True" } else { "False" };
            !previous
                .iter()
                .any(|p| p.type_ == o.type_ && p.status == status && p.reason == o.reason)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let t0 = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let t1 = jiff::Timestamp::from_second(1_800_000_600).unwrap();
        let first = merge(
            &[],
            &[Observed::not_ready("VaultReady", "Creating", "creating")],
            Some(1),
            t0,
        );
        let same = merge(
            &first,
            &[Observed::not_ready("VaultReady", "Provisioning", "still")],
            Some(2),
            t1,
        );
        assert_eq!(same[0].last_transition_time.0, t0);
        assert_eq!(same[0].observed_generation, Some(2));
        let flipped = merge(
            &same,
            &[Observed::ready("VaultReady", "Ready", "done")],
            Some(2),
            t1,
        );
        assert_eq!(flipped[0].last_transition_time.0, t1);
        assert_eq!(
            changed(&same, &[Observed::ready("VaultReady", "Ready", "done")]).len(),
            1
        );
        assert!(
            changed(
                &flipped,
                &[Observed::ready("VaultReady", "Ready", "other message")]
            )
            .is_empty()
        );
    }
}
