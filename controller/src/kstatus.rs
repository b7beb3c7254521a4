//! The conditions kstatus reads (kubernetes-sigs/cli-utils `pkg/kstatus`, whose README's "CRD
//! Status Convention" Flux's health checks and cli-utils follow): `Reconciling` True while the
//! controller works toward the spec, `Stalled` True when the object cannot progress until a
//! person acts, both False otherwise. With `status.observedGeneration` current, kstatus reads
//! `InProgress`, `Failed` and `Current` from them.
//!
//! Waiting for a person's decision is neither: a plan waiting for approval or its window, a
//! machine whose test VM waits to be validated or whose cutover waits for approval, is where
//! its spec says it should be until someone changes the spec or annotates it. It reads
//! `Current` (both False, the reason saying what it waits for), so a GitOps sync that waits
//! for health does not hang for days on a plan nobody has approved yet, and nothing reads it
//! as failing. docs/gitops.md says so.

use cutover_api::conditions::{READY, RECONCILING, STALLED, reason};
use cutover_api::machine::{MachinePhase, ReplicatedMachineStatus};
use cutover_api::plan::{MigrationPlanStatus, PlanPhase};
use cutover_api::vault::{RecoveryVaultStatus, VaultPhase};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::conditions::{self, Observed};

/// Where an object stands for kstatus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The controller is working toward the spec.
    Reconciling,
    /// Nothing moves until a person acts (fixes the spec, retries, unblocks a deletion).
    Stalled,
    /// Where the spec wants it, or waiting for a person's decision the spec leaves open.
    Settled,
}

/// Reasons of `Ready` that need a person whatever the phase.
const NEEDS_A_PERSON: &[&str] = &[
    reason::INVALID_SPEC,
    "CredentialsUnavailable",
    "DeletionBlocked",
    "SourceMachineNotFound",
];

/// Reasons of a machine's `Ready` that wait for a person's decision, not for the controller.
const AWAITING_A_DECISION: &[&str] = &[
    "WaitingForCutover",
    "WaitingForValidation",
    "WaitingForTestFailover",
];

fn ready(conditions: &[Condition]) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == READY)
}

fn needs_a_person(ready: Option<&Condition>) -> bool {
    // Ineligible for replication (`machine::eligibility`): the spec or the source must change.
    ready.is_some_and(|r| {
        r.status == "False"
            && (NEEDS_A_PERSON.contains(&r.reason.as_str())
                || crate::machine::eligibility::REASONS.contains(&r.reason.as_str()))
    })
}

pub fn of_vault(status: &RecoveryVaultStatus) -> Progress {
    if status.phase == Some(VaultPhase::Failed) || needs_a_person(ready(&status.conditions)) {
        Progress::Stalled
    } else if status.phase == Some(VaultPhase::Ready) {
        Progress::Settled
    } else {
        Progress::Reconciling
    }
}

pub fn of_machine(status: &ReplicatedMachineStatus) -> Progress {
    let ready = ready(&status.conditions);
    let reason = ready.map(|r| r.reason.as_str()).unwrap_or_default();
    if status.phase == Some(MachinePhase::Failed) || needs_a_person(ready) {
        Progress::Stalled
    } else if reason == "Deleting" {
        Progress::Reconciling
    } else if status.phase == Some(MachinePhase::Completed) || AWAITING_A_DECISION.contains(&reason)
    {
        Progress::Settled
    } else {
        Progress::Reconciling
    }
}

pub fn of_plan(status: &MigrationPlanStatus) -> Progress {
    match status.phase {
        _ if needs_a_person(ready(&status.conditions)) => Progress::Stalled,
        // A quota increase or another size is someone's to make.
        Some(PlanPhase::Failed | PlanPhase::AwaitingCapacity) => Progress::Stalled,
        Some(PlanPhase::Completed | PlanPhase::AwaitingApproval | PlanPhase::AwaitingWindow) => {
            Progress::Settled
        }
        _ => Progress::Reconciling,
    }
}

/// Sets `Reconciling` and `Stalled` in `conditions` from `progress`, with `Ready`'s reason and
/// message (what the object is doing or waits for); a condition whose status did not change
/// keeps its `lastTransitionTime` from `previous`.
pub fn settle(
    conditions: &mut Vec<Condition>,
    progress: Progress,
    previous: &[Condition],
    generation: Option<i64>,
    now: jiff::Timestamp,
) {
    let (why, message) = ready(conditions).map_or_else(
        || ("Reconciling".to_owned(), String::new()),
        |r| (r.reason.clone(), r.message.clone()),
    );
    let set = |type_, on: bool| {
        if on {
            Observed::ready(type_, &why, message.clone())
        } else {
            Observed::not_ready(type_, &why, message.clone())
        }
    };
    let observed = [
        set(RECONCILING, progress == Progress::Reconciling),
        set(STALLED, progress == Progress::Stalled),
    ];
    conditions.retain(|c| c.type_ != RECONCILING && c.type_ != STALLED);
    conditions.extend(conditions::merge(previous, &observed, generation, now));
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn ready(status: bool, reason: &str) -> Vec<Condition> {
        vec![Condition {
            type_: READY.into(),
            status: if status { "True" } else { "False" }.into(),
            reason: reason.into(),
            message: format!("{reason} message"),
            observed_generation: Some(2),
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        }]
    }

    #[test]
    fn every_machine_phase_reads_as_kstatus_expects() {
        use MachinePhase as P;
        use Progress::*;
        let cases = [
            (P::Pending, "WaitingForVault", Reconciling),
            (P::Pending, "WaitingForWave", Reconciling),
            (P::Pending, "SourceMachineNotFound", Stalled),
            (P::Pending, reason::INVALID_SPEC, Stalled),
            (P::EnablingProtection, "JobRunning", Reconciling),
            (P::InitialReplication, "InitialReplication", Reconciling),
            (P::Protected, "WaitingForTestFailover", Settled),
            (P::TestFailover, "TestingFailover", Reconciling),
            (P::TestFailoverSucceeded, "WaitingForValidation", Settled),
            (P::TestFailoverSucceeded, "VerifyingTestVm", Reconciling),
            (P::TestFailoverCleanup, "CleaningUpTest", Reconciling),
            (P::ReadyForCutover, "WaitingForCutover", Settled),
            (P::FailingOver, "FailingOver", Reconciling),
            (P::FailedOver, "FailoverCompleted", Reconciling),
            (P::Committing, "Committing", Reconciling),
            (P::Completed, "Completed", Settled),
            (P::Completed, "Deleting", Reconciling),
            (P::Completed, "DeletionBlocked", Stalled),
            (P::Failed, "JobFailed", Stalled),
        ];
        for (phase, why, expected) in cases {
            let status = ReplicatedMachineStatus {
                phase: Some(phase),
                conditions: ready(phase == P::Completed && why == "Completed", why),
                ..Default::default()
            };
            assert_eq!(of_machine(&status), expected, "{phase:?} {why}");
        }
        // Every phase is covered.
        for phase in MachinePhase::ALL {
            assert!(cases.iter().any(|(p, ..)| *p == phase), "{phase:?}");
        }
    }

    #[test]
    fn every_plan_phase_reads_as_kstatus_expects() {
        use PlanPhase as P;
        use Progress::*;
        let cases = [
            (P::Pending, "Pending", Reconciling),
            (P::Pending, reason::INVALID_SPEC, Stalled),
            (P::Replicating, "Replicating", Reconciling),
            (P::Testing, "Testing", Reconciling),
            (P::AwaitingApproval, "AwaitingApproval", Settled),
            (P::AwaitingWindow, "AwaitingWindow", Settled),
            (P::AwaitingCapacity, "InsufficientQuota", Stalled),
            (P::CuttingOver, "CuttingOver", Reconciling),
            (P::Completed, "Completed", Settled),
            (P::Failed, "MachinesFailed", Stalled),
        ];
        for (phase, why, expected) in cases {
            let status = MigrationPlanStatus {
                phase: Some(phase),
                conditions: ready(false, why),
                ..Default::default()
            };
            assert_eq!(of_plan(&status), expected, "{phase:?} {why}");
        }
        for phase in PlanPhase::ALL {
            assert!(cases.iter().any(|(p, ..)| *p == phase), "{phase:?}");
        }
    }

    #[test]
    fn every_vault_phase_reads_as_kstatus_expects() {
        use Progress::*;
        use VaultPhase as P;
        let cases = [
            (None, "", Reconciling),
            (Some(P::Pending), "Pending", Reconciling),
            (Some(P::Provisioning), "CreatingVault", Reconciling),
            (
                Some(P::WaitingForSource),
                "WaitingForRegistration",
                Reconciling,
            ),
            (Some(P::Ready), "Ready", Settled),
            (Some(P::Ready), "CredentialsUnavailable", Stalled),
            (Some(P::Failed), "NotOwned", Stalled),
            (Some(P::Failed), reason::INVALID_SPEC, Stalled),
            (Some(P::Deleting), "Deleting", Reconciling),
            (Some(P::Deleting), "DeletionBlocked", Stalled),
        ];
        for (phase, why, expected) in cases {
            let status = RecoveryVaultStatus {
                phase,
                conditions: ready(phase == Some(P::Ready) && why == "Ready", why),
                ..Default::default()
            };
            assert_eq!(of_vault(&status), expected, "{phase:?} {why}");
        }
    }

    #[test]
    fn settling_sets_both_conditions_once_and_keeps_their_transition_times() {
        let start: jiff::Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let later: jiff::Timestamp = "2026-12-02T11:00:00Z".parse().unwrap();
        let mut first = ready(false, "InitialReplication");
        settle(&mut first, Progress::Reconciling, &[], Some(2), start);
        let find = |conditions: &[Condition], type_: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == type_)
                .cloned()
                .unwrap()
        };
        assert_eq!(find(&first, RECONCILING).status, "True");
        assert_eq!(find(&first, RECONCILING).reason, "InitialReplication");
        assert_eq!(find(&first, STALLED).status, "False");
        assert_eq!(find(&first, STALLED).observed_generation, Some(2));

        // Settling again replaces them (no duplicates), and one that did not change keeps
        // the time it last changed.
        let mut second = first.clone();
        second[0].reason = "JobFailed".into();
        settle(&mut second, Progress::Stalled, &first, Some(2), later);
        assert_eq!(second.len(), 3);
        assert_eq!(find(&second, STALLED).status, "True");
        assert_eq!(find(&second, STALLED).last_transition_time.0, later);
        assert_eq!(find(&second, RECONCILING).status, "False");
        assert_eq!(find(&second, RECONCILING).last_transition_time.0, later);
        let mut third = second.clone();
        settle(
            &mut third,
            Progress::Stalled,
            &second,
            Some(2),
            later + jiff::SignedDuration::from_hours(1),
        );
        assert_eq!(find(&third, STALLED).last_transition_time.0, later);
    }
}
