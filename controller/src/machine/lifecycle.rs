//! A machine's lifecycle as one pure function: from what ASR reports (the protected item, the
//! job cutover follows), what the plan allows (the gate) and what status remembers, decide the
//! phase and at most one action. No I/O here: the reconciler observes, calls [`decide`],
//! performs the action it returns and writes status.
//!
//! Safety rules, enforced here and nowhere else:
//! - an action is chosen only when the item's `allowedOperations` lists it and no job is in
//!   flight (neither the one status records nor the item's `currentScenario.jobId`);
//! - a job found in flight that status does not record (the controller crashed between the
//!   POST and the status write) is adopted, not repeated;
//! - a failed job puts the machine in `Failed` until a retry is asked for.

use cutover_api::MachinePhase;
use cutover_api::machine::ReplicatedMachineStatus;
use cutover_api::plan::{CommitPolicy, HookRun, HookStep, MigrationPlanSpec, Releases};

pub use crate::azure::models::NicTarget;

/// ASR's job states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    NotStarted,
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
    Suspended,
    Other,
}

impl JobState {
    pub fn parse(state: &str) -> JobState {
        match state {
            "NotStarted" => JobState::NotStarted,
            "InProgress" => JobState::InProgress,
            "Succeeded" => JobState::Succeeded,
            "Failed" => JobState::Failed,
            "Cancelled" | "Canceled" => JobState::Cancelled,
            "Suspended" => JobState::Suspended,
            _ => JobState::Other,
        }
    }

    pub fn running(self) -> bool {
        matches!(
            self,
            JobState::NotStarted | JobState::InProgress | JobState::Suspended | JobState::Other
        )
    }
}

/// The job cutover follows, as ASR reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    /// ASR's `scenarioName` (`EnableDr`, `TestFailover`…).
    pub scenario: String,
    pub state: JobState,
    /// `serviceErrorDetails` of a failed job, as one message.
    pub error: Option<String>,
}

/// The protected item, as ASR reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub protection_state: String,
    pub allowed_operations: Vec<String>,
    /// `currentScenario.jobId`, when a job runs on the item.
    pub current_job: Option<String>,
    pub active_location: String,
    /// Initial replication, 0-100.
    pub replication_progress: Option<i32>,
    /// ASR's `lastSuccessfulTestFailoverTime` is set.
    pub tested: bool,
    /// Where ASR will put the failed-over VM's primary NIC; none while it reports no NICs.
    pub nic: Option<NicTarget>,
}

impl Item {
    fn allows(&self, operation: &str) -> bool {
        self.allowed_operations
            .iter()
            .any(|o| o.eq_ignore_ascii_case(operation))
    }
}

/// Whether the source machine was found among the protectable items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Found,
    /// The source has not registered, or not listed its machines yet.
    NotListedYet,
    /// The source lists its machines, and this one is not among them.
    Missing,
    /// Found, but it cannot become the VM the spec asks for (`eligibility`): never enabled.
    Ineligible {
        reason: &'static str,
        message: String,
    },
}

/// What the plan (or the lack of one) lets the machine do now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gate {
    /// Start replicating (the machine's wave may wait for an earlier one).
    pub replicate: bool,
    /// A test failover must pass before cutover.
    pub test_required: bool,
    /// The plan lets this machine run its test failover now.
    pub test_allowed: bool,
    /// Clean the test VM up without waiting for a person.
    pub auto_cleanup: bool,
    /// Someone validated the test VM (`cutover.dev/test-validated=true`).
    pub test_validated: bool,
    /// The test failover's VM exists in Azure and runs.
    pub test_vm_up: bool,
    /// The cutover gate is open for this machine (approved, in the window, under the limit).
    pub cutover_allowed: bool,
    /// Commit once failed over (the plan commits automatically, or a person asked to).
    pub commit_allowed: bool,
    /// Why commit waits when a hook holds it: the reason and message to show.
    pub commit_hold: Option<(&'static str, String)>,
    /// Shut the source down and fail over with its last changes, where the provider can.
    pub planned: bool,
    /// After commit, stop replication keeping the VM (`MigrationComplete`).
    pub stop_replication: bool,
    /// A retry was asked for (`cutover.dev/retry`) after a failure.
    pub retry: bool,
    /// A person asked to back out of the failover (`cutover.dev/back-out`): cancel it where
    /// ASR offers that, and fail over no more while the annotation stays.
    pub back_out: bool,
    /// The address `spec.target.staticIp` gives the failed-over VM's primary NIC: ASR must
    /// have it before any failover, test or not, starts.
    pub static_ip: Option<String>,
}

/// What status remembers between passes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub phase: Option<MachinePhase>,
    /// The job cutover started and follows.
    pub job: Option<String>,
    /// Protection was enabled once (so a vanished item means removal, not a fresh start).
    pub protected_once: bool,
    /// The migration was completed (replication stopped, VM kept).
    pub completed: bool,
    /// Why the machine failed (the reason and message it said then), while it is Failed.
    pub failure: Option<(String, String)>,
    /// How many updates of the target settings ASR accepted for this machine.
    pub target_updates: usize,
}

/// The one action a pass may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    EnableProtection,
    TestFailover,
    TestFailoverCleanup,
    PlannedFailover,
    /// From the latest recovery point; `shutdown_source` is the plan's wish to shut the source
    /// down first, which InMageRcm's input carries (`performShutdown`).
    UnplannedFailover {
        shutdown_source: bool,
    },
    Commit,
    /// Back out of a failover not yet committed (`failoverCancel`).
    CancelFailover,
    /// Disable protection with `MigrationComplete`: stops replication, keeps the VM.
    CompleteMigration,
    /// Change the item's target settings in place (`ReplicationProtectedItems_Update`, a
    /// PATCH): the primary NIC's static address. No `allowedOperations` entry names it.
    UpdateTarget,
}

impl Action {
    /// The `allowedOperations` entry that permits it.
    pub fn operation(self) -> &'static str {
        match self {
            Action::EnableProtection => "EnableProtection",
            Action::TestFailover => "TestFailover",
            Action::TestFailoverCleanup => "TestFailoverCleanup",
            Action::PlannedFailover => "PlannedFailover",
            Action::UnplannedFailover { .. } => "UnplannedFailover",
            Action::Commit => "Commit",
            Action::CancelFailover => "CancelFailover",
            Action::CompleteMigration => "DisableProtection",
            Action::UpdateTarget => "UpdateTarget",
        }
    }

    /// The phase a machine is in while this action's job runs.
    pub fn phase(self) -> MachinePhase {
        match self {
            Action::EnableProtection => MachinePhase::EnablingProtection,
            Action::TestFailover => MachinePhase::TestFailover,
            Action::TestFailoverCleanup => MachinePhase::TestFailoverCleanup,
            Action::PlannedFailover | Action::UnplannedFailover { .. } => MachinePhase::FailingOver,
            // Failed over until the cancel has run.
            Action::CancelFailover => MachinePhase::FailedOver,
            Action::Commit | Action::CompleteMigration => MachinePhase::Committing,
            Action::UpdateTarget => MachinePhase::Protected,
        }
    }
}

/// How soon to look again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Something runs in Azure: poll.
    Soon,
    /// Waiting on a person or the plan (gate, validation, registration): look now and then.
    Later,
    /// Nothing will change until the spec, an annotation or the plan's releases do: each wakes
    /// the machine (its own watch, and the watch of its plan).
    OnChange,
}

/// The outcome of one decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub phase: MachinePhase,
    pub action: Option<Action>,
    /// Adopt this job as the one to follow (found in flight on the item).
    pub follow: Option<String>,
    /// Forget the followed job (it finished).
    pub forget_job: bool,
    pub reason: &'static str,
    pub message: String,
    pub next: Next,
}

impl Decision {
    fn wait(
        phase: MachinePhase,
        reason: &'static str,
        message: impl Into<String>,
        next: Next,
    ) -> Decision {
        Decision {
            phase,
            action: None,
            follow: None,
            forget_job: false,
            reason,
            message: message.into(),
            next,
        }
    }

    fn act(action: Action, reason: &'static str, message: impl Into<String>) -> Decision {
        Decision {
            phase: action.phase(),
            action: Some(action),
            follow: None,
            forget_job: false,
            reason,
            message: message.into(),
            next: Next::Soon,
        }
    }
}

/// Updates of the target settings that may be asked for before one that ASR does not apply
/// fails the machine (one per change of the spec is expected).
const MAX_TARGET_UPDATES: usize = 3;

/// The phase a running job of ASR's `scenario` puts a machine in; for a scenario name no
/// source gives (commit, disable, an update of the item's settings), the phase the machine
/// said when it started the job.
fn phase_of_scenario(scenario: &str, started_in: Option<MachinePhase>) -> MachinePhase {
    match scenario {
        "EnableDr" | "EnableProtection" => MachinePhase::EnablingProtection,
        "TestFailover" => MachinePhase::TestFailover,
        "TestFailoverCleanup" => MachinePhase::TestFailoverCleanup,
        "PlannedFailover" | "UnplannedFailover" | "Failover" => MachinePhase::FailingOver,
        // The job of `failoverCancel` (ReplicationRecoveryPlans_FailoverCancel's example).
        "CancelFailover" => MachinePhase::FailedOver,
        _ => started_in.unwrap_or(MachinePhase::Committing),
    }
}

/// Decides the phase and the next action of a machine.
pub fn decide(
    memory: &Memory,
    source: &Source,
    item: Option<&Item>,
    job: Option<&Job>,
    gate: &Gate,
) -> Decision {
    use MachinePhase as P;

    if memory.phase == Some(P::Failed) && !gate.retry {
        // Later passes keep saying why it failed: ASR's error is what a person acts on.
        return match &memory.failure {
            Some((reason, message)) => Decision::wait(
                P::Failed,
                if reason == "JobFailed" {
                    "JobFailed"
                } else {
                    "Failed"
                },
                message.clone(),
                Next::OnChange,
            ),
            None => Decision::wait(
                P::Failed,
                "Failed",
                "the machine failed; annotate it cutover.dev/retry=true to try again",
                Next::OnChange,
            ),
        };
    }
    if memory.completed {
        return Decision::wait(
            P::Completed,
            "Completed",
            "migrated: the VM runs in Azure and replication is stopped",
            Next::OnChange,
        );
    }

    // The job cutover follows decides first: running means wait, failed means Failed.
    let mut forget_job = false;
    if let Some(job) = job {
        if job.state.running() {
            return Decision::wait(
                phase_of_scenario(&job.scenario, memory.phase),
                "JobRunning",
                format!("ASR job {} ({}) is running", job.id, job.scenario),
                Next::Soon,
            );
        }
        if matches!(job.state, JobState::Failed | JobState::Cancelled) && !gate.retry {
            let error = job
                .error
                .clone()
                .unwrap_or_else(|| format!("the job ended {:?}", job.state));
            return Decision::wait(
                P::Failed,
                "JobFailed",
                format!("ASR job {} ({}) failed: {error}", job.id, job.scenario),
                Next::OnChange,
            );
        }
        forget_job = true;
    }

    let Some(item) = item else {
        if memory.protected_once && memory.phase == Some(P::Committing) {
            let mut done = Decision::wait(
                P::Completed,
                "Completed",
                "migrated: the VM runs in Azure and replication is stopped",
                Next::OnChange,
            );
            done.forget_job = forget_job;
            return done;
        }
        let mut decision = match source {
            // Enabled before but not listed yet (a list is a moment old): never enable twice.
            _ if memory.protected_once && !gate.retry => Decision::wait(
                memory.phase.unwrap_or(P::EnablingProtection),
                "WaitingForItem",
                "protection was enabled; waiting for ASR to list the item",
                Next::Soon,
            ),
            Source::Missing => Decision::wait(
                P::Pending,
                "SourceMachineNotFound",
                "the source does not list this machine: check spec.source.name",
                Next::Later,
            ),
            Source::Ineligible { reason, message } => Decision::wait(
                P::Pending,
                reason,
                format!("not eligible for replication: {message}"),
                Next::Later,
            ),
            Source::NotListedYet => Decision::wait(
                P::Pending,
                "WaitingForSource",
                "the source has not listed its machines yet",
                Next::Later,
            ),
            // The plan's release of the wave wakes the machine (its watch of the plan).
            Source::Found if !gate.replicate => Decision::wait(
                P::Pending,
                "WaitingForWave",
                "the plan starts this machine's wave later",
                Next::OnChange,
            ),
            Source::Found => Decision::act(
                Action::EnableProtection,
                "EnablingProtection",
                "enabling replication",
            ),
        };
        decision.forget_job = forget_job;
        return decision;
    };

    // ASR says a job runs on the item: never act. One status does not know (the controller
    // stopped between the POST and the status write) is adopted, not repeated.
    if let Some(running) = &item.current_job {
        let mut decision = Decision::wait(
            memory.phase.unwrap_or(P::Protected),
            "JobRunning",
            format!("ASR job {running} is running on the item"),
            Next::Soon,
        );
        decision.follow = job
            .is_none_or(|j| !j.id.eq_ignore_ascii_case(running))
            .then(|| running.clone());
        decision.forget_job = forget_job && decision.follow.is_some();
        return decision;
    }

    let mut decision = decide_with_item(item, gate, memory);
    decision.forget_job = forget_job;
    decision
}

fn decide_with_item(item: &Item, gate: &Gate, memory: &Memory) -> Decision {
    use MachinePhase as P;
    let progress = item.replication_progress.unwrap_or(0);

    if item.active_location.eq_ignore_ascii_case("Recovery") {
        // Backing out comes before any commit: a commit cannot be undone.
        if gate.back_out && item.allows("Commit") {
            return if item.allows("CancelFailover") {
                Decision::act(
                    Action::CancelFailover,
                    "BackingOut",
                    "backing out: cancelling the failover (cutover.dev/back-out)",
                )
            } else {
                Decision::wait(
                    P::FailedOver,
                    "BackOutNotOffered",
                    format!(
                        "cutover.dev/back-out asks to back out, but ASR offers no cancel \
                         failover for this machine now (it allows {}): it stays failed over, \
                         not committed; remove the annotation to commit",
                        item.allowed_operations.join(", ")
                    ),
                    Next::OnChange,
                )
            };
        }
        if item.allows("Commit") {
            return if gate.commit_allowed {
                Decision::act(Action::Commit, "Committing", "failed over: committing")
            } else if let Some((reason, message)) = &gate.commit_hold {
                Decision::wait(P::FailedOver, reason, message.clone(), Next::OnChange)
            } else {
                Decision::wait(
                    P::FailedOver,
                    "WaitingForCommit",
                    "failed over and held before commit (spec.cutover.commit: Manual): \
                     annotate cutover.dev/commit=true to commit",
                    Next::OnChange,
                )
            };
        }
        if item.allows("DisableProtection") || item.allows("CompleteMigration") {
            return if gate.stop_replication {
                Decision::act(
                    Action::CompleteMigration,
                    "CompletingMigration",
                    "committed: stopping replication, keeping the VM",
                )
            } else {
                Decision::wait(
                    P::Completed,
                    "Completed",
                    "committed; replication left running as the plan asks",
                    Next::OnChange,
                )
            };
        }
        return Decision::wait(
            P::FailedOver,
            "WaitingForAsr",
            format!("failed over; ASR allows {:?}", item.allowed_operations),
            Next::Soon,
        );
    }

    if item.allows("TestFailoverCleanup") {
        return if !gate.test_vm_up {
            Decision::wait(
                P::TestFailoverSucceeded,
                "VerifyingTestVm",
                "the test failover finished: checking its VM runs in Azure",
                Next::Soon,
            )
        } else if gate.auto_cleanup || gate.test_validated {
            Decision::act(
                Action::TestFailoverCleanup,
                "CleaningUpTest",
                "the test VM is up: cleaning up the test failover",
            )
        } else {
            Decision::wait(
                P::TestFailoverSucceeded,
                "WaitingForValidation",
                "the test VM is up: annotate cutover.dev/test-validated=true to clean it up",
                Next::Later,
            )
        };
    }

    let replicating = item.allows("TestFailover")
        || item.allows("PlannedFailover")
        || item.allows("UnplannedFailover");
    if !replicating {
        return Decision::wait(
            P::InitialReplication,
            "InitialReplication",
            format!("initial replication {progress}%"),
            Next::Soon,
        );
    }

    // Before any failover: a VM created without the address the spec names is wrong, and the
    // address cannot be given to it by ASR afterwards.
    if let Some(want) = &gate.static_ip {
        match &item.nic {
            None => {
                return Decision::wait(
                    P::Protected,
                    "WaitingForNicDetails",
                    format!(
                        "replicating; ASR reports no primary network interface for this machine yet, \
                         and spec.target.staticIp ({want}) must be set on it before any failover"
                    ),
                    Next::Later,
                );
            }
            // ASR took the update and, read after its job ended, still has another address:
            // asking again and again would be a loop of writes, so a person looks.
            Some(nic)
                if nic.static_ip.as_deref() != Some(want.as_str())
                    && memory.target_updates >= MAX_TARGET_UPDATES
                    && !gate.retry =>
            {
                return Decision::wait(
                    P::Failed,
                    "TargetNotApplied",
                    format!(
                        "ASR accepted {} updates of the failed-over VM's address and still has {}, \
                         not spec.target.staticIp ({want}): check the item in the portal, then \
                         annotate cutover.dev/retry=true",
                        memory.target_updates,
                        nic.static_ip.as_deref().unwrap_or("a dynamic address")
                    ),
                    Next::OnChange,
                );
            }
            Some(nic) if nic.static_ip.as_deref() != Some(want.as_str()) => {
                return Decision::act(
                    Action::UpdateTarget,
                    "UpdatingTarget",
                    format!(
                        "setting the failed-over VM's static address {want} (spec.target.staticIp; \
                         ASR has {})",
                        nic.static_ip.as_deref().unwrap_or("a dynamic address")
                    ),
                );
            }
            Some(_) => {}
        }
    }

    let tested = item.tested || !gate.test_required;
    if !tested {
        return if gate.test_allowed && item.allows("TestFailover") {
            Decision::act(
                Action::TestFailover,
                "TestingFailover",
                "starting the test failover into the isolated network",
            )
        } else {
            Decision::wait(
                P::Protected,
                "WaitingForTestFailover",
                "replicating; the test failover waits for the plan",
                Next::Later,
            )
        };
    }
    if gate.back_out {
        return Decision::wait(
            P::ReadyForCutover,
            "BackedOut",
            "held before failover by cutover.dev/back-out (a failover backed out stays so): \
             remove the annotation to cut over",
            Next::OnChange,
        );
    }
    if !gate.cutover_allowed {
        return Decision::wait(
            P::ReadyForCutover,
            "WaitingForCutover",
            "ready for cutover: waiting for approval, the window, or a free slot",
            Next::Later,
        );
    }
    if gate.planned && item.allows("PlannedFailover") {
        Decision::act(
            Action::PlannedFailover,
            "FailingOver",
            "shutting the source down and failing over (planned)",
        )
    } else if item.allows("UnplannedFailover") {
        Decision::act(
            Action::UnplannedFailover {
                shutdown_source: gate.planned,
            },
            "FailingOver",
            if gate.planned {
                "shutting the source down and failing over from the latest recovery point"
            } else {
                "failing over from the latest recovery point"
            },
        )
    } else {
        Decision::wait(
            P::ReadyForCutover,
            "WaitingForAsr",
            format!(
                "ready for cutover; ASR allows {:?}",
                item.allowed_operations
            ),
            Next::Soon,
        )
    }
}

/// What a machine's plan says of it: the plan's spec and what it has released.
#[derive(Clone, Copy, Debug)]
pub struct PlanView<'a> {
    pub spec: &'a MigrationPlanSpec,
    pub released: &'a Releases,
    /// The hook runs the plan recorded.
    pub hooks: &'a [HookRun],
}

/// What a person asked for with the machine's annotations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    /// `cutover.dev/test-validated=true`.
    pub test_validated: bool,
    /// `cutover.dev/retry=true`.
    pub retry: bool,
    /// `cutover.dev/commit=true`.
    pub commit: bool,
    /// `cutover.dev/back-out=true`.
    pub back_out: bool,
}

impl Gate {
    /// The gate of machine `name`: its plan decides replication by wave, the test rule and
    /// cutover; alone, a machine replicates and waits, because cutting over is a plan's decision.
    pub fn of(plan: Option<PlanView<'_>>, name: &str, asked: Asked, test_vm_up: bool) -> Gate {
        match plan {
            Some(PlanView {
                spec,
                released,
                hooks,
            }) => {
                let replicate = released.replicate.iter().any(|m| m == name);
                let wave = crate::plan::orchestrate::wave_of(spec, name);
                let after_failover =
                    crate::plan::hooks::outcome(spec, hooks, name, &wave, HookStep::PostFailover);
                let commit_hold = match after_failover {
                    crate::plan::hooks::Outcome::Passed => None,
                    crate::plan::hooks::Outcome::Waiting(why) => Some((
                        "WaitingForHook",
                        format!("failed over; commit waits for its hooks: {why}"),
                    )),
                    crate::plan::hooks::Outcome::Blocked(why) => Some((
                        "HookFailed",
                        format!(
                            "failed over and held before commit: {why}; annotate \
                             cutover.dev/retry=true to run the hook again, or \
                             cutover.dev/commit=true to commit anyway"
                        ),
                    )),
                };
                Gate {
                    replicate,
                    test_required: spec.test_failover.required,
                    test_allowed: released.test.iter().any(|m| m == name),
                    auto_cleanup: spec.test_failover.auto_cleanup,
                    test_validated: asked.test_validated,
                    test_vm_up,
                    cutover_allowed: released.cutover.iter().any(|m| m == name),
                    commit_allowed: asked.commit
                        || (spec.cutover.commit == CommitPolicy::Automatic
                            && commit_hold.is_none()),
                    commit_hold,
                    planned: spec.cutover.shutdown_source,
                    stop_replication: spec.completion.stop_replication,
                    retry: asked.retry,
                    back_out: asked.back_out,
                    static_ip: None,
                }
            }
            None => Gate {
                replicate: true,
                test_required: false,
                test_allowed: false,
                auto_cleanup: true,
                test_validated: asked.test_validated,
                test_vm_up,
                cutover_allowed: false,
                commit_allowed: true,
                commit_hold: None,
                planned: true,
                stop_replication: true,
                retry: asked.retry,
                back_out: asked.back_out,
                static_ip: None,
            },
        }
    }
}

impl Memory {
    /// What the machine's status remembers.
    pub fn of(status: &ReplicatedMachineStatus) -> Memory {
        Memory {
            phase: status.phase,
            job: status.current_job.as_ref().map(|j| j.id.clone()),
            // Protection was enabled if status says so, or says which item it is.
            protected_once: status.bound.is_some() || status.protected_item_id.is_some(),
            completed: status.completed_at.is_some(),
            failure: (status.phase == Some(MachinePhase::Failed))
                .then(|| {
                    status
                        .conditions
                        .iter()
                        .find(|c| c.type_ == cutover_api::conditions::READY)
                        .map(|c| (c.reason.clone(), c.message.clone()))
                })
                .flatten(),
            target_updates: status
                .actions
                .iter()
                .filter(|a| a.action == Action::UpdateTarget.operation())
                .count(),
        }
    }
}

/// What status records beside the phase, decided with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Records {
    /// Bind the machine to its vault and source.
    pub bind: bool,
    /// Remove the retry annotation.
    pub clear_retry: bool,
    /// Stamp `completedAt`.
    pub stamp_completed: bool,
}

/// The records of a pass that decided `decision`, with or without a protected item seen.
pub fn records(
    status: &ReplicatedMachineStatus,
    item_seen: bool,
    gate: &Gate,
    decision: &Decision,
) -> Records {
    Records {
        // An item seen is protection enabled, even if the status write after the enable was
        // lost: from now on a vanished item means removal, never a reason to enable again.
        bind: item_seen && status.bound.is_none(),
        // A retry is acted on once: the annotation goes, so a later failure does not loop. The
        // pass removes it after writing the status that shows the machine moving on, so nobody
        // sees it gone while the machine still says Failed. (Not on a machine that is not
        // Failed: there the annotation asks a plan to re-run a failed hook.)
        clear_retry: gate.retry
            && status.phase == Some(MachinePhase::Failed)
            && decision.phase != MachinePhase::Failed,
        stamp_completed: decision.phase == MachinePhase::Completed && status.completed_at.is_none(),
    }
}

/// An action this controller started on a machine, remembered until the machine's status, as
/// the cache shows it, records the action's job. A pass reads the machine from the reflector
/// store, and the watch event of the status written after a POST can arrive after the next
/// pass began (a plan's release wakes all its machines at once): that pass, seeing neither the
/// job in status nor, in an item list older than the POST, a job on the item, would ask again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub job_id: String,
    pub at: std::time::Instant,
    /// Whether the status recording it was written (the API server answered).
    pub written: bool,
}

/// What a pass makes of an action it started, against the status it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recording {
    /// The status shows the job (or nothing was started): the pass goes on.
    Recorded,
    /// The status was written but the cache does not show it yet: the pass does nothing.
    InFlight,
    /// The status write failed (or the cache never caught up): the pass goes on, from an
    /// item list read after the action, so ASR's job on the item is adopted, never repeated.
    Lost(std::time::Instant),
}

/// Whether `status` records `started`, `patience` being how long a written status may take to
/// reach the cache.
pub fn recording(
    status: &ReplicatedMachineStatus,
    started: Option<&Started>,
    now: std::time::Instant,
    patience: std::time::Duration,
) -> Recording {
    let Some(started) = started else {
        return Recording::Recorded;
    };
    let shows = |id: Option<&str>| id.is_some_and(|id| id.eq_ignore_ascii_case(&started.job_id));
    if status.actions.iter().any(|a| shows(a.job_id.as_deref()))
        || shows(status.current_job.as_ref().map(|j| j.id.as_str()))
    {
        Recording::Recorded
    } else if started.written && now.saturating_duration_since(started.at) < patience {
        Recording::InFlight
    } else {
        Recording::Lost(started.at)
    }
}

/// Whether a machine is settled: it waits for a person or a plan (or is done), with no job in
/// flight. Its pass may read a vault's item list a few polls old: the list is shared by every
/// machine of the vault, and settled machines' resyncs, spread over time, would otherwise fetch
/// it again for each few of them. A job that ends asks for a fresh list whatever the age.
pub fn settled(memory: &Memory) -> bool {
    use MachinePhase as P;
    memory.job.is_none()
        && matches!(
            memory.phase,
            Some(P::ReadyForCutover | P::TestFailoverSucceeded | P::Completed | P::Failed)
        )
}

/// A machine alone that is ready for cutover says how to cut it over.
pub fn alone(mut decision: Decision) -> Decision {
    if decision.phase == MachinePhase::ReadyForCutover && decision.reason == "WaitingForCutover" {
        decision.message =
            "ready for cutover: add the machine to a MigrationPlan to cut it over".into();
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use MachinePhase as P;

    #[test]
    fn a_machine_alone_replicates_and_waits_and_a_planned_one_does_what_its_plan_released() {
        let spec: MigrationPlanSpec = serde_json::from_value(serde_json::json!({
            "vaultRef": {"name": "v"}, "machines": {"templates": []},
            "testFailover": {"required": true, "autoCleanup": false},
            "cutover": {"approved": true, "shutdownSource": false}
        }))
        .unwrap();
        let released = Releases {
            replicate: vec!["web".into(), "db".into()],
            test: vec!["web".into()],
            cutover: vec!["web".into()],
        };
        let plan = Some(PlanView {
            spec: &spec,
            released: &released,
            hooks: &[],
        });
        let asked = Asked {
            test_validated: true,
            retry: false,
            commit: false,
            back_out: false,
        };
        let alone = Gate::of(None, "web", asked, false);
        assert!(alone.replicate && !alone.test_allowed && !alone.cutover_allowed);
        assert!(alone.test_validated, "annotations count alone too");
        let web = Gate::of(plan, "web", asked, true);
        assert!(web.replicate && web.test_allowed && web.cutover_allowed && web.test_vm_up);
        assert!(web.test_required && !web.auto_cleanup && !web.planned);
        let db = Gate::of(plan, "db", Asked::default(), false);
        assert!(
            db.replicate && !db.test_allowed && !db.cutover_allowed,
            "released to replicate, not to test (the preflight holds it) or cut over"
        );
        let later = Gate::of(plan, "app", Asked::default(), false);
        assert!(
            !later.replicate && !later.test_allowed,
            "a later wave waits"
        );
        assert!(
            web.commit_allowed,
            "commit is automatic unless the plan says Manual"
        );

        let manual: MigrationPlanSpec = serde_json::from_value(serde_json::json!({
            "vaultRef": {"name": "v"}, "machines": {"templates": []},
            "cutover": {"approved": true, "commit": "Manual"}
        }))
        .unwrap();
        let plan = Some(PlanView {
            spec: &manual,
            released: &released,
            hooks: &[],
        });
        assert!(!Gate::of(plan, "web", Asked::default(), true).commit_allowed);
        let asked = Asked {
            commit: true,
            ..Asked::default()
        };
        assert!(
            Gate::of(plan, "web", asked, true).commit_allowed,
            "a person committed it"
        );
    }

    #[test]
    fn commit_waits_for_the_smoke_test_and_a_failed_one_holds_it() {
        let spec: MigrationPlanSpec = serde_json::from_value(serde_json::json!({
            "vaultRef": {"name": "v"}, "machines": {"templates": []},
            "cutover": {"approved": true},
            "hooks": [{"name": "smoke", "step": "PostFailover", "mustSucceed": true,
                       "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "t", "image": "i"}]}}}}}]
        }))
        .unwrap();
        let released = Releases::default();
        use cutover_api::plan::HookState;
        let run = |state| HookRun {
            machine: "web".into(),
            hook: "smoke".into(),
            step: HookStep::PostFailover,
            attempt: 1,
            job: "p-web-smoke-1".into(),
            state,
            message: "BackoffLimitExceeded".into(),
        };
        let gate = |runs: &[HookRun], asked| {
            Gate::of(
                Some(PlanView {
                    spec: &spec,
                    released: &released,
                    hooks: runs,
                }),
                "web",
                asked,
                false,
            )
        };
        let not_started = gate(&[], Asked::default());
        assert!(!not_started.commit_allowed);
        assert_eq!(not_started.commit_hold.unwrap().0, "WaitingForHook");
        let running = gate(&[run(HookState::Running)], Asked::default());
        assert_eq!(running.commit_hold.unwrap().0, "WaitingForHook");
        let passed = gate(&[run(HookState::Succeeded)], Asked::default());
        assert!(passed.commit_allowed && passed.commit_hold.is_none());
        let failed = gate(&[run(HookState::Failed)], Asked::default());
        assert!(!failed.commit_allowed);
        let (reason, message) = failed.commit_hold.clone().unwrap();
        assert_eq!(reason, "HookFailed");
        assert!(
            message.contains("p-web-smoke-1") && message.contains("BackoffLimitExceeded"),
            "{message}"
        );
        let item = Item {
            active_location: "Recovery".into(),
            allowed_operations: vec!["Commit".into()],
            ..Item::default()
        };
        let held = decide(
            &Memory::default(),
            &Source::Found,
            Some(&item),
            None,
            &failed,
        );
        assert_eq!(
            (held.phase, held.reason, held.action),
            (MachinePhase::FailedOver, "HookFailed", None)
        );
        let overridden = gate(
            &[run(HookState::Failed)],
            Asked {
                commit: true,
                ..Asked::default()
            },
        );
        assert!(overridden.commit_allowed, "a person commits anyway");
    }

    #[test]
    fn status_remembers_the_binding_the_job_and_why_it_failed() {
        let status: ReplicatedMachineStatus = serde_json::from_value(serde_json::json!({
            "phase": "Failed",
            "protectedItemId": "/items/web",
            "currentJob": {"id": "/jobs/1", "name": "TestFailover", "state": "Failed"},
            "conditions": [{"type": "Ready", "status": "False", "reason": "JobFailed", "message": "ASR said no",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}]
        }))
        .unwrap();
        let memory = Memory::of(&status);
        assert_eq!(memory.phase, Some(P::Failed));
        assert_eq!(memory.job.as_deref(), Some("/jobs/1"));
        assert!(memory.protected_once, "an item ID is protection enabled");
        assert_eq!(
            memory.failure,
            Some(("JobFailed".into(), "ASR said no".into()))
        );
        assert_eq!(
            Memory::of(&ReplicatedMachineStatus::default()),
            Memory::default()
        );
    }

    #[test]
    fn only_a_machine_waiting_with_no_job_is_settled() {
        let memory = |phase, job: Option<&str>| Memory {
            phase: Some(phase),
            job: job.map(str::to_owned),
            ..Default::default()
        };
        for (phase, job, settled_) in [
            (P::ReadyForCutover, None, true),
            (P::TestFailoverSucceeded, None, true),
            (P::Completed, None, true),
            (P::Failed, None, true),
            (P::ReadyForCutover, Some("/jobs/1"), false),
            (P::InitialReplication, None, false),
            (P::EnablingProtection, Some("/jobs/1"), false),
            (P::FailingOver, None, false),
            (P::Pending, None, false),
        ] {
            assert_eq!(settled(&memory(phase, job)), settled_, "{phase:?} {job:?}");
        }
        assert!(!settled(&Memory::default()), "a machine never seen");
    }

    #[test]
    fn a_pass_acts_only_on_a_status_that_records_the_last_action_started() {
        use cutover_api::machine::{ActionRecord, JobReference};
        use std::time::{Duration, Instant};
        let at = Instant::now();
        let patience = Duration::from_secs(60);
        let started = |written| Started {
            job_id: "/jobs/TFO-1".into(),
            at,
            written,
        };
        let recorded_action = ReplicatedMachineStatus {
            actions: vec![ActionRecord {
                action: "TestFailover".into(),
                job_id: Some("/Jobs/tfo-1".into()),
                issued_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    jiff::Timestamp::UNIX_EPOCH,
                ),
            }],
            ..Default::default()
        };
        let following = ReplicatedMachineStatus {
            current_job: Some(JobReference {
                id: "/jobs/TFO-1".into(),
                name: "Adopted".into(),
                state: "InProgress".into(),
                started_at: None,
            }),
            ..Default::default()
        };
        let before = ReplicatedMachineStatus::default();
        let soon = at + Duration::from_secs(1);
        let cases = [
            ("nothing started", &before, None, soon, Recording::Recorded),
            (
                "recorded among the actions (IDs are case-insensitive)",
                &recorded_action,
                Some(started(true)),
                soon,
                Recording::Recorded,
            ),
            (
                "followed as the current job",
                &following,
                Some(started(true)),
                soon,
                Recording::Recorded,
            ),
            (
                "written, the cache not there yet: do nothing",
                &before,
                Some(started(true)),
                soon,
                Recording::InFlight,
            ),
            (
                "written, the cache never caught up",
                &before,
                Some(started(true)),
                at + patience,
                Recording::Lost(at),
            ),
            (
                "the status write failed",
                &before,
                Some(started(false)),
                soon,
                Recording::Lost(at),
            ),
        ];
        for (case, status, started, now, expected) in cases {
            assert_eq!(
                recording(status, started.as_ref(), now, patience),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn a_pass_binds_once_clears_a_retry_once_and_stamps_completion_once() {
        let decided = |phase| Decision::wait(phase, "r", "", Next::Soon);
        let failed = ReplicatedMachineStatus {
            phase: Some(P::Failed),
            ..Default::default()
        };
        let retrying = Gate {
            retry: true,
            ..gate()
        };
        let bound = ReplicatedMachineStatus {
            bound: Some(cutover_api::machine::MachineBinding {
                vault: "v".into(),
                source_name: "web".into(),
            }),
            ..Default::default()
        };
        let done = ReplicatedMachineStatus {
            completed_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                jiff::Timestamp::UNIX_EPOCH,
            )),
            ..Default::default()
        };
        for (what, status, item_seen, gate, phase, expected) in [
            (
                "an item seen binds",
                &ReplicatedMachineStatus::default(),
                true,
                gate(),
                P::Protected,
                Records {
                    bind: true,
                    ..Default::default()
                },
            ),
            (
                "bound already",
                &bound,
                true,
                gate(),
                P::Protected,
                Records::default(),
            ),
            (
                "no item, no binding",
                &ReplicatedMachineStatus::default(),
                false,
                gate(),
                P::Pending,
                Records::default(),
            ),
            (
                "a retry that moved on",
                &failed,
                false,
                retrying.clone(),
                P::Protected,
                Records {
                    clear_retry: true,
                    ..Default::default()
                },
            ),
            (
                "a retry on a machine that is not Failed is a plan's (a hook's re-run)",
                &ReplicatedMachineStatus::default(),
                false,
                retrying.clone(),
                P::Protected,
                Records::default(),
            ),
            (
                "a retry still failing keeps its annotation",
                &failed,
                false,
                retrying,
                P::Failed,
                Records::default(),
            ),
            (
                "no retry asked",
                &failed,
                false,
                gate(),
                P::Protected,
                Records::default(),
            ),
            (
                "completed",
                &ReplicatedMachineStatus::default(),
                false,
                gate(),
                P::Completed,
                Records {
                    stamp_completed: true,
                    ..Default::default()
                },
            ),
            (
                "completed before",
                &done,
                false,
                gate(),
                P::Completed,
                Records::default(),
            ),
        ] {
            assert_eq!(
                records(status, item_seen, &gate, &decided(phase)),
                expected,
                "{what}"
            );
        }
        let waiting = Decision::wait(
            P::ReadyForCutover,
            "WaitingForCutover",
            "waiting",
            Next::OnChange,
        );
        assert!(alone(waiting).message.contains("MigrationPlan"));
    }

    fn gate() -> Gate {
        Gate {
            replicate: true,
            test_required: true,
            test_allowed: true,
            auto_cleanup: true,
            test_validated: false,
            test_vm_up: true,
            cutover_allowed: true,
            commit_allowed: true,
            commit_hold: None,
            planned: true,
            stop_replication: true,
            retry: false,
            back_out: false,
            static_ip: None,
        }
    }

    fn item(state: &str, allowed: &[&str]) -> Item {
        Item {
            id: "/items/web01".into(),
            protection_state: state.into(),
            allowed_operations: allowed.iter().map(|s| (*s).to_owned()).collect(),
            current_job: None,
            active_location: "Primary".into(),
            replication_progress: Some(100),
            tested: false,
            nic: None,
        }
    }

    fn protected() -> Item {
        item(
            "Protected",
            &[
                "TestFailover",
                "PlannedFailover",
                "UnplannedFailover",
                "DisableProtection",
            ],
        )
    }

    fn with_nic(item: Item, static_ip: Option<&str>) -> Item {
        Item {
            nic: Some(NicTarget {
                subnet: Some("data".into()),
                static_ip: static_ip.map(str::to_owned),
            }),
            ..item
        }
    }

    fn tested() -> Item {
        Item {
            tested: true,
            ..protected()
        }
    }

    fn job(scenario: &str, state: JobState) -> Job {
        Job {
            id: "/jobs/j1".into(),
            scenario: scenario.into(),
            state,
            error: (state == JobState::Failed).then(|| "70094: the network is unreachable".into()),
        }
    }

    fn memory(phase: MachinePhase) -> Memory {
        Memory {
            phase: Some(phase),
            job: None,
            protected_once: true,
            completed: false,
            failure: None,
            target_updates: 0,
        }
    }

    struct Case {
        name: &'static str,
        memory: Memory,
        source: Source,
        item: Option<Item>,
        job: Option<Job>,
        gate: Gate,
        phase: MachinePhase,
        action: Option<Action>,
        reason: &'static str,
    }

    fn case(name: &'static str) -> Case {
        Case {
            name,
            memory: Memory::default(),
            source: Source::Found,
            item: None,
            job: None,
            gate: gate(),
            phase: P::Pending,
            action: None,
            reason: "",
        }
    }

    impl Case {
        fn memory(mut self, memory: Memory) -> Self {
            self.memory = memory;
            self
        }
        fn source(mut self, source: Source) -> Self {
            self.source = source;
            self
        }
        fn item(mut self, item: Item) -> Self {
            self.item = Some(item);
            self
        }
        fn job(mut self, job: Job) -> Self {
            self.job = Some(job);
            self
        }
        fn gate(mut self, change: impl FnOnce(&mut Gate)) -> Self {
            change(&mut self.gate);
            self
        }
        fn expect(
            mut self,
            phase: MachinePhase,
            action: Option<Action>,
            reason: &'static str,
        ) -> Self {
            (self.phase, self.action, self.reason) = (phase, action, reason);
            self
        }
    }

    #[test]
    fn a_failed_machine_keeps_saying_why_it_failed() {
        let failed = decide(
            &memory(P::EnablingProtection),
            &Source::Found,
            None,
            Some(&job("EnableDr", JobState::Failed)),
            &Gate::default(),
        );
        assert_eq!((failed.phase, failed.reason), (P::Failed, "JobFailed"));
        // The next pass, with what the first wrote to status.
        let remembered = Memory {
            failure: Some((failed.reason.to_owned(), failed.message.clone())),
            ..memory(P::Failed)
        };
        let again = decide(
            &remembered,
            &Source::Found,
            Some(&protected()),
            None,
            &Gate::default(),
        );
        assert_eq!(
            (again.phase, again.reason, again.message.as_str()),
            (P::Failed, "JobFailed", failed.message.as_str())
        );
        assert!(again.message.contains("70094"), "{}", again.message);
    }

    #[test]
    fn every_observable_state_leads_to_one_decision() {
        let initial_replication = Item {
            replication_progress: Some(40),
            ..item("UnprotectedStatesBegin", &["DisableProtection"])
        };
        let test_vm_up = Item {
            tested: true,
            ..item("Protected", &["TestFailoverCleanup"])
        };
        let failed_over = Item {
            active_location: "Recovery".into(),
            ..item("PlannedFailoverCommitRequired", &["Commit", "ChangePit"])
        };
        let committed = Item {
            active_location: "Recovery".into(),
            ..item(
                "FailoverCompleted",
                &["DisableProtection", "CompleteMigration"],
            )
        };
        let cases = [
            case("a new machine enables protection").expect(
                P::EnablingProtection,
                Some(Action::EnableProtection),
                "EnablingProtection",
            ),
            case("its wave waits").gate(|g| g.replicate = false).expect(
                P::Pending,
                None,
                "WaitingForWave",
            ),
            case("the source has not listed machines")
                .source(Source::NotListedYet)
                .expect(P::Pending, None, "WaitingForSource"),
            case("the source has no such machine")
                .source(Source::Missing)
                .expect(P::Pending, None, "SourceMachineNotFound"),
            case("an ineligible machine is never enabled")
                .source(Source::Ineligible {
                    reason: "TooManyDataDisks",
                    message: "5 data disks".into(),
                })
                .expect(P::Pending, None, "TooManyDataDisks"),
            case("enable job running")
                .memory(memory(P::EnablingProtection))
                .job(job("EnableDr", JobState::InProgress))
                .expect(P::EnablingProtection, None, "JobRunning"),
            case("enabled but not listed yet: never enable twice")
                .memory(memory(P::EnablingProtection))
                .job(job("EnableDr", JobState::Succeeded))
                .expect(P::EnablingProtection, None, "WaitingForItem"),
            case("enable job failed")
                .memory(memory(P::EnablingProtection))
                .job(job("EnableDr", JobState::Failed))
                .expect(P::Failed, None, "JobFailed"),
            case("failed stays failed")
                .memory(memory(P::Failed))
                .item(protected())
                .expect(P::Failed, None, "Failed"),
            case("a retry re-enables after a failed enable")
                .memory(memory(P::Failed))
                .job(job("EnableDr", JobState::Failed))
                .gate(|g| g.retry = true)
                .expect(
                    P::EnablingProtection,
                    Some(Action::EnableProtection),
                    "EnablingProtection",
                ),
            case("initial replication")
                .memory(memory(P::EnablingProtection))
                .item(initial_replication)
                .expect(P::InitialReplication, None, "InitialReplication"),
            case("protected: test failover")
                .memory(memory(P::InitialReplication))
                .item(protected())
                .expect(
                    P::TestFailover,
                    Some(Action::TestFailover),
                    "TestingFailover",
                ),
            case("a static address ASR does not have is set before the test failover")
                .item(with_nic(protected(), None))
                .gate(|g| g.static_ip = Some("10.10.2.10".into()))
                .expect(P::Protected, Some(Action::UpdateTarget), "UpdatingTarget"),
            case("a static address ASR has otherwise is set before the failover")
                .item(with_nic(tested(), Some("10.10.2.99")))
                .gate(|g| g.static_ip = Some("10.10.2.10".into()))
                .expect(P::Protected, Some(Action::UpdateTarget), "UpdatingTarget"),
            case("a static address ASR has: the failover goes on")
                .item(with_nic(tested(), Some("10.10.2.10")))
                .gate(|g| g.static_ip = Some("10.10.2.10".into()))
                .expect(P::FailingOver, Some(Action::PlannedFailover), "FailingOver"),
            case("a static address and no NIC reported: no failover")
                .item(tested())
                .gate(|g| g.static_ip = Some("10.10.2.10".into()))
                .expect(P::Protected, None, "WaitingForNicDetails"),
            case("no static address asked: a dynamic one is left alone")
                .item(with_nic(tested(), None))
                .expect(P::FailingOver, Some(Action::PlannedFailover), "FailingOver"),
            case("not replicating yet: no update")
                .memory(memory(P::EnablingProtection))
                .item(with_nic(
                    Item {
                        replication_progress: Some(40),
                        ..item("UnprotectedStatesBegin", &["DisableProtection"])
                    },
                    None,
                ))
                .gate(|g| g.static_ip = Some("10.10.2.10".into()))
                .expect(P::InitialReplication, None, "InitialReplication"),
            case("updates ASR does not apply stop, for a person")
                .memory(Memory {
                    target_updates: 3,
                    ..memory(P::Protected)
                })
                .item(with_nic(tested(), None))
                .gate(|g| g.static_ip = Some("10.10.2.10".into()))
                .expect(P::Failed, None, "TargetNotApplied"),
            case("a retry asks once more")
                .memory(Memory {
                    target_updates: 3,
                    ..memory(P::Protected)
                })
                .item(with_nic(tested(), None))
                .gate(|g| {
                    g.static_ip = Some("10.10.2.10".into());
                    g.retry = true;
                })
                .expect(P::Protected, Some(Action::UpdateTarget), "UpdatingTarget"),
            case("an update job running keeps the phase it started in")
                .memory(memory(P::ReadyForCutover))
                .item(with_nic(tested(), None))
                .job(job("UpdateVmProperties", JobState::InProgress))
                .gate(|g| g.static_ip = Some("10.10.2.10".into()))
                .expect(P::ReadyForCutover, None, "JobRunning"),
            case("protected: the plan holds the test")
                .item(protected())
                .gate(|g| g.test_allowed = false)
                .expect(P::Protected, None, "WaitingForTestFailover"),
            case("test failover running")
                .memory(memory(P::TestFailover))
                .item(protected())
                .job(job("TestFailover", JobState::InProgress))
                .expect(P::TestFailover, None, "JobRunning"),
            case("test VM up: automatic cleanup")
                .item(test_vm_up.clone())
                .expect(
                    P::TestFailoverCleanup,
                    Some(Action::TestFailoverCleanup),
                    "CleaningUpTest",
                ),
            case("test VM not seen running: no cleanup yet")
                .item(test_vm_up.clone())
                .gate(|g| g.test_vm_up = false)
                .expect(P::TestFailoverSucceeded, None, "VerifyingTestVm"),
            case("test VM up: waits for validation")
                .item(test_vm_up.clone())
                .gate(|g| g.auto_cleanup = false)
                .expect(P::TestFailoverSucceeded, None, "WaitingForValidation"),
            case("test VM up: validated")
                .item(test_vm_up)
                .gate(|g| {
                    g.auto_cleanup = false;
                    g.test_validated = true;
                })
                .expect(
                    P::TestFailoverCleanup,
                    Some(Action::TestFailoverCleanup),
                    "CleaningUpTest",
                ),
            case("tested: waits at the gate")
                .item(tested())
                .gate(|g| g.cutover_allowed = false)
                .expect(P::ReadyForCutover, None, "WaitingForCutover"),
            case("tested: planned failover").item(tested()).expect(
                P::FailingOver,
                Some(Action::PlannedFailover),
                "FailingOver",
            ),
            case("tested: no planned failover for this provider")
                .item(Item {
                    tested: true,
                    ..item(
                        "Protected",
                        &["TestFailover", "UnplannedFailover", "DisableProtection"],
                    )
                })
                .expect(
                    P::FailingOver,
                    Some(Action::UnplannedFailover {
                        shutdown_source: true,
                    }),
                    "FailingOver",
                ),
            case("tested: no planned failover, source not shut down")
                .item(Item {
                    tested: true,
                    ..item(
                        "Protected",
                        &["TestFailover", "UnplannedFailover", "DisableProtection"],
                    )
                })
                .gate(|g| g.planned = false)
                .expect(
                    P::FailingOver,
                    Some(Action::UnplannedFailover {
                        shutdown_source: false,
                    }),
                    "FailingOver",
                ),
            case("tested: source not shut down")
                .item(tested())
                .gate(|g| g.planned = false)
                .expect(
                    P::FailingOver,
                    Some(Action::UnplannedFailover {
                        shutdown_source: false,
                    }),
                    "FailingOver",
                ),
            case("no test required: straight to cutover")
                .item(protected())
                .gate(|g| g.test_required = false)
                .expect(P::FailingOver, Some(Action::PlannedFailover), "FailingOver"),
            case("ASR allows no failover: wait, do not force it")
                .item(Item {
                    tested: true,
                    ..item("Protected", &["DisableProtection"])
                })
                .expect(P::InitialReplication, None, "InitialReplication"),
            case("failover running")
                .memory(memory(P::FailingOver))
                .item(tested())
                .job(job("PlannedFailover", JobState::InProgress))
                .expect(P::FailingOver, None, "JobRunning"),
            case("failover failed: no second failover")
                .memory(memory(P::FailingOver))
                .item(tested())
                .job(job("PlannedFailover", JobState::Failed))
                .expect(P::Failed, None, "JobFailed"),
            case("failover cancelled")
                .memory(memory(P::FailingOver))
                .item(tested())
                .job(job("PlannedFailover", JobState::Cancelled))
                .expect(P::Failed, None, "JobFailed"),
            case("failed over: commit")
                .memory(memory(P::FailingOver))
                .item(failed_over.clone())
                .expect(P::Committing, Some(Action::Commit), "Committing"),
            case("failed over: held for a person to commit")
                .memory(memory(P::FailingOver))
                .item(failed_over.clone())
                .gate(|g| g.commit_allowed = false)
                .expect(P::FailedOver, None, "WaitingForCommit"),
            case("failed over, backing out: cancel the failover where ASR offers it")
                .memory(memory(P::FailedOver))
                .item(Item {
                    allowed_operations: vec!["Commit".into(), "CancelFailover".into()],
                    ..failed_over.clone()
                })
                .gate(|g| g.back_out = true)
                .expect(P::FailedOver, Some(Action::CancelFailover), "BackingOut"),
            case("failed over, backing out where ASR offers no cancel: no commit either")
                .memory(memory(P::FailedOver))
                .item(failed_over.clone())
                .gate(|g| g.back_out = true)
                .expect(P::FailedOver, None, "BackOutNotOffered"),
            case("the cancel runs")
                .memory(memory(P::FailedOver))
                .item(failed_over.clone())
                .job(job("CancelFailover", JobState::InProgress))
                .gate(|g| g.back_out = true)
                .expect(P::FailedOver, None, "JobRunning"),
            case("backed out: back at the source, no second failover")
                .memory(memory(P::FailedOver))
                .item(tested())
                .job(job("CancelFailover", JobState::Succeeded))
                .gate(|g| g.back_out = true)
                .expect(P::ReadyForCutover, None, "BackedOut"),
            case("committed: stop replication, keep the VM")
                .memory(memory(P::Committing))
                .item(committed.clone())
                .expect(
                    P::Committing,
                    Some(Action::CompleteMigration),
                    "CompletingMigration",
                ),
            case("committed: replication left running")
                .item(committed)
                .gate(|g| g.stop_replication = false)
                .expect(P::Completed, None, "Completed"),
            case("replication stopped: the item is gone")
                .memory(memory(P::Committing))
                .job(job("DisableDr", JobState::Succeeded))
                .expect(P::Completed, None, "Completed"),
            case("completed stays completed")
                .memory(Memory {
                    completed: true,
                    ..memory(P::Completed)
                })
                .item(tested())
                .expect(P::Completed, None, "Completed"),
        ];
        let mut failures = Vec::new();
        for c in &cases {
            let decision = decide(
                &c.memory,
                &c.source,
                c.item.as_ref(),
                c.job.as_ref(),
                &c.gate,
            );
            if (decision.phase, decision.action, decision.reason) != (c.phase, c.action, c.reason) {
                failures.push(format!(
                    "{}: expected {:?} {:?} {}, got {:?} {:?} {} ({})",
                    c.name,
                    c.phase,
                    c.action,
                    c.reason,
                    decision.phase,
                    decision.action,
                    decision.reason,
                    decision.message
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_job_running_on_the_item_is_adopted_and_nothing_is_issued() {
        // The controller stopped after POSTing a failover and before writing status.
        let busy = Item {
            current_job: Some("/jobs/failover".into()),
            tested: true,
            ..item("Protected", &[])
        };
        let decision = decide(
            &memory(P::ReadyForCutover),
            &Source::Found,
            Some(&busy),
            None,
            &gate(),
        );
        assert_eq!(decision.action, None);
        assert_eq!(decision.follow.as_deref(), Some("/jobs/failover"));
        assert_eq!(decision.phase, P::ReadyForCutover);

        // The followed job finished, but the item (from an older list) still shows it running.
        let stale = Item {
            current_job: Some("/jobs/j1".into()),
            ..tested()
        };
        let decision = decide(
            &memory(P::FailingOver),
            &Source::Found,
            Some(&stale),
            Some(&job("PlannedFailover", JobState::Succeeded)),
            &gate(),
        );
        assert_eq!(
            (decision.action, decision.follow.as_deref()),
            (None, None),
            "no second failover from a stale list"
        );
    }

    #[test]
    fn no_action_is_chosen_that_asr_does_not_allow() {
        let gates = [
            gate(),
            Gate {
                planned: false,
                ..gate()
            },
            Gate {
                test_required: false,
                ..gate()
            },
            Gate {
                auto_cleanup: false,
                test_validated: true,
                ..gate()
            },
            Gate {
                static_ip: Some("10.10.2.10".into()),
                ..gate()
            },
        ];
        let operations = [
            "TestFailover",
            "TestFailoverCleanup",
            "PlannedFailover",
            "UnplannedFailover",
            "Commit",
            "DisableProtection",
            "CompleteMigration",
        ];
        // Every subset of operations, both locations, tested or not.
        for mask in 0..(1u32 << operations.len()) {
            let allowed: Vec<&str> = operations
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, o)| *o)
                .collect();
            for location in ["Primary", "Recovery"] {
                for was_tested in [false, true] {
                    let observed = with_nic(
                        Item {
                            active_location: location.into(),
                            tested: was_tested,
                            ..item("Protected", &allowed)
                        },
                        None,
                    );
                    for gate in &gates {
                        let decision = decide(
                            &memory(P::Protected),
                            &Source::Found,
                            Some(&observed),
                            None,
                            gate,
                        );
                        if let Some(action) = decision.action {
                            let permitted = observed.allows(action.operation())
                                || (action == Action::CompleteMigration
                                    && observed.allows("CompleteMigration"))
                                // An update is no operation of ASR's list: it comes only while
                                // the item replicates, before any failover.
                                || (action == Action::UpdateTarget
                                    && location == "Primary"
                                    && ["TestFailover", "PlannedFailover", "UnplannedFailover"]
                                        .iter()
                                        .any(|o| observed.allows(o)));
                            assert!(
                                permitted,
                                "{action:?} chosen with allowedOperations {allowed:?} at {location}"
                            );
                        }
                    }
                }
            }
        }
    }
}
