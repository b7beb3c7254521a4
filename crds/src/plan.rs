//! MigrationPlan: a set of machines, in waves, moved to Azure behind a cutover gate.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::JobTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    AZURE_NAME_PATTERN, DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN, DeletionPolicy,
    LocalObjectReference, RESOURCE_GROUP_PATTERN, ResourceId, Tags, is_default,
};
use crate::machine::{
    AvailabilityZone, DiskType, LicenseType, MachinePhase, MachineTarget, OsType,
    ReplicatedMachineSpec, SourceMachine, VM_SIZE_PATTERN,
};

/// The most machines one plan may hold; larger migrations are split into plans.
pub const MAX_MACHINES_PER_PLAN: usize = 1000;

/// A migration: which machines, in which order, tested how, and when they may cut over.
#[allow(
    clippy::duplicated_attributes,
    reason = "each printcolumn(...) repeats keys such as type_ = \"string\"; they are not duplicates"
)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "cutover.dev",
    version = "v1alpha1",
    kind = "MigrationPlan",
    namespaced,
    status = "MigrationPlanStatus",
    shortname = "mplan",
    category = "cutover",
    doc = "A set of machines organised in waves, with target defaults, the test-failover rule and the cutover gate. Completed once every machine is cut over and committed.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Wave", type_ = "string", json_path = ".status.currentWave"),
    printcolumn(
        name = "Machines",
        type_ = "integer",
        json_path = ".status.machines.total"
    ),
    printcolumn(
        name = "Protected",
        type_ = "integer",
        json_path = ".status.machines.protected",
        description = "Machines replicating with initial replication done"
    ),
    printcolumn(
        name = "Completed",
        type_ = "integer",
        json_path = ".status.machines.completed"
    ),
    printcolumn(
        name = "Failed",
        type_ = "integer",
        json_path = ".status.machines.failed"
    ),
    printcolumn(
        name = "Progress",
        type_ = "integer",
        json_path = ".status.progressPercent",
        description = "Overall progress, percent"
    ),
    printcolumn(
        name = "Approved",
        type_ = "boolean",
        json_path = ".spec.cutover.approved",
        priority = 1
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MigrationPlanSpec {
    /// The RecoveryVault (same namespace) every machine of the plan replicates through.
    pub vault_ref: LocalObjectReference,
    /// The machines: inline templates (ReplicatedMachines the plan creates and owns), a label
    /// selector over existing ReplicatedMachines, or both.
    pub machines: PlanMachines,
    /// Ordered groups of machines. A wave cuts over only after the previous one is Completed.
    /// Empty means one wave of every machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub waves: Vec<Wave>,
    /// Target settings applied to every machine that does not set them itself.
    #[serde(default)]
    pub defaults: TargetDefaults,
    /// Whether and how machines are test-failed-over before cutover.
    #[serde(default)]
    pub test_failover: TestFailoverPolicy,
    /// The gate in front of the real failover.
    #[serde(default)]
    pub cutover: CutoverGate,
    /// What finishing a machine's migration means.
    #[serde(default)]
    pub completion: Completion,
    /// What deleting the plan does to the machines it created (and to their Azure replication).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Kubernetes Jobs run for each machine at steps of its cutover: before it fails over,
    /// after it failed over and before it commits (smoke tests), and after it committed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub hooks: Vec<Hook>,
    /// The ServiceAccount (same namespace) the hooks' Jobs run as; the namespace's `default`
    /// when absent. A hook's template may not name another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub service_account_name: Option<String>,
}

/// A Job run once for each machine (of the waves and machines it names) at one step.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hook {
    /// Unique in the plan; part of each Job's name.
    #[schemars(regex(pattern = DNS_LABEL_PATTERN), length(max = 20))]
    pub name: String,
    pub step: HookStep,
    /// Only the machines of these waves; every wave when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(regex(pattern = DNS_LABEL_PATTERN)))]
    pub waves: Vec<String>,
    /// Only these machines; every machine (of `waves`) when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(regex(pattern = DNS_LABEL_PATTERN)))]
    pub machines: Vec<String>,
    /// The next step waits for the Job to succeed: a failed `preCutover` hook keeps the machine
    /// from failing over, a failed `postFailover` hook holds it failed over before commit, a
    /// failed `postCommit` hook fails the plan. Otherwise the next step waits only for the Job
    /// to finish, and a failure is reported.
    #[serde(default, skip_serializing_if = "is_default")]
    pub must_succeed: bool,
    /// Seconds the Job may run (its `activeDeadlineSeconds`, 1800 when absent); past it, the
    /// attempt has failed.
    #[serde(
        default = "default_hook_timeout",
        skip_serializing_if = "is_default_hook_timeout"
    )]
    #[schemars(range(min = 1, max = 86400))]
    pub timeout_seconds: i64,
    /// Further Jobs started after a failed one, each a new attempt with its own name.
    #[serde(default, skip_serializing_if = "is_default")]
    #[schemars(range(min = 0, max = 10))]
    pub retries: i32,
    /// The Job. cutover adds the machine's facts to every container's environment
    /// (`CUTOVER_PLAN`, `CUTOVER_WAVE`, `CUTOVER_MACHINE`, `CUTOVER_STEP`, `CUTOVER_HOOK`,
    /// `CUTOVER_ATTEMPT`, `CUTOVER_SOURCE_NAME`, `CUTOVER_TARGET_RESOURCE_GROUP`,
    /// `CUTOVER_TARGET_VM_NAME`, and once known `CUTOVER_TARGET_VM_ID` and
    /// `CUTOVER_PRIVATE_IP`), and sets its ServiceAccount and deadline.
    pub job_template: JobTemplate,
}

/// A `batch/v1` JobTemplateSpec, as a CronJob's `jobTemplate`. Kept as JSON here and in the
/// schema: the full Pod schema would make the CRD over half a megabyte, beyond what
/// `kubectl apply` can annotate, and a template the Job API would refuse must not make the
/// whole plan unreadable. [`JobTemplate::parse`] reads it; validation refuses one that does not
/// parse.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(transparent)]
pub struct JobTemplate(pub serde_json::Value);

impl JobTemplate {
    /// The template as the Job API's type.
    pub fn parse(&self) -> Result<JobTemplateSpec, serde_json::Error> {
        serde_json::from_value(self.0.clone())
    }
}

impl JsonSchema for JobTemplate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JobTemplate".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
            "description": "A batch/v1 JobTemplateSpec (metadata and spec), as a CronJob's jobTemplate."
        })
    }
}

fn default_hook_timeout() -> i64 {
    1800
}

fn is_default_hook_timeout(seconds: &i64) -> bool {
    *seconds == default_hook_timeout()
}

impl Hook {
    /// Whether the hook runs for machine `machine` of wave `wave`.
    pub fn applies_to(&self, machine: &str, wave: &str) -> bool {
        (self.waves.is_empty() || self.waves.iter().any(|w| w == wave))
            && (self.machines.is_empty() || self.machines.iter().any(|m| m == machine))
    }
}

/// When a hook runs for a machine.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
pub enum HookStep {
    /// The machine is ready and released to cut over: it fails over once the hook has run.
    PreCutover,
    /// The machine has failed over: it commits once the hook has run (the smoke test).
    PostFailover,
    /// The machine has committed and completed; the plan completes once the hook has run.
    PostCommit,
}

impl HookStep {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStep::PreCutover => "PreCutover",
            HookStep::PostFailover => "PostFailover",
            HookStep::PostCommit => "PostCommit",
        }
    }
}

/// Where a plan's machines come from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanMachines {
    /// Machines the plan creates as ReplicatedMachines named after each template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub templates: Vec<MachineTemplate>,
    /// Existing ReplicatedMachines (same namespace) the plan adopts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// A machine the plan creates: a ReplicatedMachine spec without the vault, which is the plan's.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineTemplate {
    /// Name of the ReplicatedMachine to create.
    #[schemars(regex(pattern = DNS_LABEL_PATTERN))]
    pub name: String,
    /// Labels of the ReplicatedMachine.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub source: SourceMachine,
    pub os_type: OsType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 256)))]
    pub include_disks: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub target: MachineTarget,
}

impl MachineTemplate {
    /// The ReplicatedMachine spec this template stands for, with the plan's defaults applied.
    pub fn machine_spec(&self, plan: &MigrationPlanSpec) -> ReplicatedMachineSpec {
        ReplicatedMachineSpec {
            vault_ref: plan.vault_ref.clone(),
            source: self.source.clone(),
            os_type: self.os_type,
            include_disks: self.include_disks.clone(),
            target: plan.defaults.apply(&self.target),
            deletion_policy: plan.deletion_policy,
        }
    }
}

/// An ordered group of machines.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    #[schemars(regex(pattern = DNS_LABEL_PATTERN))]
    pub name: String,
    /// Names of the wave's ReplicatedMachines (templates or selected machines).
    #[schemars(length(min = 1, max = 1000), inner(regex(pattern = DNS_LABEL_PATTERN)))]
    pub machines: Vec<String>,
    /// When the wave's machines start replicating (`Immediately` when absent).
    #[serde(default, skip_serializing_if = "is_default")]
    pub start_replication: StartReplication,
}

/// When a wave starts replicating.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StartReplication {
    /// As soon as the plan is applied.
    #[default]
    Immediately,
    /// Once the previous wave is Completed (keeps replication traffic and storage bounded).
    AfterPreviousWave,
}

/// Target settings shared by the plan's machines.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetDefaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = VM_SIZE_PATTERN))]
    pub vm_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = RESOURCE_GROUP_PATTERN))]
    pub resource_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub subnet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_type: Option<DiskType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<AvailabilityZone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_type: Option<LicenseType>,
    /// Tags added to every VM; a machine's own tag of the same name wins.
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

impl TargetDefaults {
    /// `target` with every unset field taken from these defaults.
    pub fn apply(&self, target: &MachineTarget) -> MachineTarget {
        let mut tags = self.tags.clone();
        tags.extend(target.tags.clone());
        MachineTarget {
            vm_name: target.vm_name.clone(),
            vm_size: target.vm_size.clone().or_else(|| self.vm_size.clone()),
            resource_group: target
                .resource_group
                .clone()
                .or_else(|| self.resource_group.clone()),
            subnet: target.subnet.clone().or_else(|| self.subnet.clone()),
            static_ip: target.static_ip.clone(),
            disk_type: target.disk_type.or(self.disk_type),
            availability_zone: target.availability_zone.or(self.availability_zone),
            license_type: target.license_type.or(self.license_type),
            tags,
        }
    }
}

/// The test-failover rule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct TestFailoverPolicy {
    /// Every machine must pass a test failover before it may cut over.
    pub required: bool,
    /// VNet the test VMs join; the vault's isolated test network when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_id: Option<ResourceId>,
    /// Subnet of that network; its first subnet when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub subnet: Option<String>,
    /// Clean the test VM up as soon as it is verified running. When false, the machine waits in
    /// TestFailoverSucceeded until it is annotated `cutover.dev/test-validated=true`.
    pub auto_cleanup: bool,
}

impl Default for TestFailoverPolicy {
    fn default() -> Self {
        TestFailoverPolicy {
            required: true,
            network_id: None,
            subnet: None,
            auto_cleanup: true,
        }
    }
}

/// The cutover gate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct CutoverGate {
    /// Cutover may start. In GitOps, merging the change that sets this is the approval.
    pub approved: bool,
    /// Machines approved to cut over while the plan as a whole is not (a partial approval);
    /// a `cutover.dev/approved=true` annotation on a machine approves it too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(regex(pattern = DNS_LABEL_PATTERN)))]
    pub approved_machines: Vec<String>,
    /// Cutovers start only inside this window (already started ones finish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<MaintenanceWindow>,
    /// Most machines failing over or committing at once.
    #[schemars(range(min = 1, max = 100))]
    pub max_concurrent: i32,
    /// Shut the source down and fail over with its final changes (planned failover) where the
    /// source allows it; otherwise fail over from the latest recovery point (unplanned).
    pub shutdown_source: bool,
    /// Stop starting new cutovers once a machine has failed.
    pub halt_on_failure: bool,
    /// `Automatic` commits each machine as soon as it has failed over. `Manual` holds it failed
    /// over, the source untouched since the failover, until a person annotates it
    /// `cutover.dev/commit=true` (`kubectl cutover commit MACHINE`): time for smoke tests.
    #[serde(skip_serializing_if = "is_default")]
    pub commit: CommitPolicy,
}

/// Who decides that a failed-over machine commits.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum CommitPolicy {
    /// cutover, as soon as the failover finished.
    #[default]
    Automatic,
    /// A person, with `cutover.dev/commit=true` on the machine.
    Manual,
}

impl Default for CutoverGate {
    fn default() -> Self {
        CutoverGate {
            approved: false,
            approved_machines: Vec::new(),
            window: None,
            max_concurrent: 5,
            shutdown_source: true,
            halt_on_failure: false,
            commit: CommitPolicy::Automatic,
        }
    }
}

/// A maintenance window (RFC 3339 times).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindow {
    pub start: Time,
    pub end: Time,
}

/// What finishing a machine's migration means.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Completion {
    /// After commit, stop replication (`disableProtectionReason: MigrationComplete`), keeping
    /// the migrated VM.
    pub stop_replication: bool,
}

impl Default for Completion {
    fn default() -> Self {
        Completion {
            stop_replication: true,
        }
    }
}

/// Observed state of a plan.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MigrationPlanStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PlanPhase>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The vault the plan started with; `spec.vaultRef` is immutable from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_vault: Option<String>,
    /// The wave that is replicating, testing or cutting over now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_wave: Option<String>,
    /// Machine counts.
    #[serde(default)]
    pub machines: MachineCounts,
    /// Overall progress, 0-100.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub progress_percent: i32,
    /// Per-wave progress, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<WaveStatus>,
    /// What the plan lets each machine do now; machines read their gate here.
    #[serde(default)]
    pub released: Releases,
    /// Machines of the current wave ready for cutover that wait for their approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub awaiting_approval: Vec<String>,
    /// Machines that failed, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_machines: Vec<MachineFailure>,
    /// Every hook started for a machine, and how it went; a hook recorded here is never
    /// started again for that machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["machine", "hook"]))]
    pub hooks: Vec<HookRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the last machine completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
}

/// Lifecycle of a plan.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PlanPhase {
    Pending,
    Replicating,
    Testing,
    AwaitingApproval,
    AwaitingWindow,
    /// The target region cannot take the wave's VMs (quota, a size not offered, a static
    /// address not usable or not free): nothing is failed over until it can.
    AwaitingCapacity,
    CuttingOver,
    Completed,
    Failed,
}

impl PlanPhase {
    pub const ALL: [PlanPhase; 9] = [
        PlanPhase::Pending,
        PlanPhase::Replicating,
        PlanPhase::Testing,
        PlanPhase::AwaitingApproval,
        PlanPhase::AwaitingWindow,
        PlanPhase::AwaitingCapacity,
        PlanPhase::CuttingOver,
        PlanPhase::Completed,
        PlanPhase::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanPhase::Pending => "Pending",
            PlanPhase::Replicating => "Replicating",
            PlanPhase::Testing => "Testing",
            PlanPhase::AwaitingApproval => "AwaitingApproval",
            PlanPhase::AwaitingWindow => "AwaitingWindow",
            PlanPhase::AwaitingCapacity => "AwaitingCapacity",
            PlanPhase::CuttingOver => "CuttingOver",
            PlanPhase::Completed => "Completed",
            PlanPhase::Failed => "Failed",
        }
    }
}

/// How many of a plan's machines are where.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineCounts {
    pub total: i32,
    /// Initial replication done (Protected or any later phase).
    pub protected: i32,
    /// Test failover passed (ReadyForCutover or any later phase).
    pub tested: i32,
    pub completed: i32,
    pub failed: i32,
    /// Machines per lifecycle phase.
    // Always written, even empty: server-side apply on Kubernetes 1.20 leaves `null` behind
    // when a manager stops writing every key of a map, which the schema then refuses.
    #[serde(default)]
    pub by_phase: BTreeMap<String, i32>,
}

impl MachineCounts {
    /// Counts of machines in the given phases.
    pub fn from_phases(phases: impl IntoIterator<Item = MachinePhase>) -> Self {
        let mut counts = MachineCounts::default();
        for phase in phases {
            counts.total += 1;
            *counts
                .by_phase
                .entry(phase.as_str().to_owned())
                .or_default() += 1;
            if phase >= MachinePhase::Protected && phase != MachinePhase::Failed {
                counts.protected += 1;
            }
            if phase >= MachinePhase::ReadyForCutover && phase != MachinePhase::Failed {
                counts.tested += 1;
            }
            match phase {
                MachinePhase::Completed => counts.completed += 1,
                MachinePhase::Failed => counts.failed += 1,
                _ => {}
            }
        }
        counts
    }
}

/// Machines (by name) the plan lets start replicating, run their test failover, and cut over.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Releases {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicate: Vec<String>,
    /// Replicated and not yet tested, once the target region can take their test VMs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cutover: Vec<String>,
}

/// Progress of one wave.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaveStatus {
    pub name: String,
    pub phase: PlanPhase,
    pub total: i32,
    pub completed: i32,
    pub failed: i32,
}

/// A machine of the plan that failed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineFailure {
    pub name: String,
    pub reason: String,
    pub message: String,
}

/// A hook started for a machine: its latest attempt and how it went.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookRun {
    pub machine: String,
    pub hook: String,
    pub step: HookStep,
    /// 1 for the first Job, one more for each retry.
    pub attempt: i32,
    /// The attempt's Job (same namespace).
    pub job: String,
    pub state: HookState,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// How a hook's latest attempt stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum HookState {
    Running,
    Succeeded,
    Failed,
}
