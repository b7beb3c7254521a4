//! ReplicatedMachine: one source machine on its way to Azure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    AZURE_NAME_PATTERN, DeletionPolicy, GUID_PATTERN, IPV4_PATTERN, LocalObjectReference,
    RESOURCE_GROUP_PATTERN, ResourceId, Tags,
};

/// Azure VM names: 1-64 letters, digits, `._-`, starting with a letter or digit, not ending in
/// `.` or `-`. `validate()` holds them to ASR's narrower rule, 1-63 letters, digits and hyphens
/// (the support matrices' "VM name" row). A failed-over VM boots its replicated OS disk with no
/// `osProfile`, so Windows' 15-character computer-name limit does not apply to it.
pub const VM_NAME_PATTERN: &str = r"^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,62}[a-zA-Z0-9_])?$";
/// Azure VM sizes (`Standard_D4s_v5`).
pub const VM_SIZE_PATTERN: &str = r"^(Standard|Basic)_[A-Za-z0-9_-]{1,60}$";

/// One source machine, replicated by ASR and migrated to an Azure VM.
#[allow(
    clippy::duplicated_attributes,
    reason = "each printcolumn(...) repeats keys such as type_ = \"string\"; they are not duplicates"
)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "cutover.dev",
    version = "v1alpha1",
    kind = "ReplicatedMachine",
    namespaced,
    status = "ReplicatedMachineStatus",
    shortname = "rmachine",
    category = "cutover",
    doc = "One source machine: where to find it, what it becomes in Azure, and where it is in replicate, test failover, cutover and commit.",
    printcolumn(name = "Source", type_ = "string", json_path = ".spec.source.name"),
    printcolumn(name = "Plan", type_ = "string", json_path = ".status.plan"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Progress",
        type_ = "integer",
        json_path = ".status.replication.progressPercent",
        description = "Initial replication, percent"
    ),
    printcolumn(
        name = "Health",
        type_ = "string",
        json_path = ".status.replication.health"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Job",
        type_ = "string",
        json_path = ".status.currentJob.name",
        priority = 1
    ),
    printcolumn(
        name = "RPO",
        type_ = "integer",
        json_path = ".status.replication.rpoSeconds",
        description = "Recovery point objective, seconds",
        priority = 1
    ),
    printcolumn(
        name = "Target VM",
        type_ = "string",
        json_path = ".status.targetVmId",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ReplicatedMachineSpec {
    /// The RecoveryVault (same namespace) whose source site holds this machine. Immutable once
    /// protection is enabled.
    pub vault_ref: LocalObjectReference,
    /// How to find the machine in the source inventory.
    pub source: SourceMachine,
    /// Operating system family of the machine.
    pub os_type: OsType,
    /// Disks to replicate, by the ID or name the source reports; empty means every disk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 256)))]
    pub include_disks: Vec<String>,
    /// What the machine becomes in Azure.
    #[serde(default)]
    pub target: MachineTarget,
    /// What deleting this object does in Azure: `Retain` leaves replication as it is, `Delete`
    /// disables protection (the migrated VM, if any, is kept).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// The machine as the source inventory knows it. The name is required; the identity field of
/// the vault's source kind, when given, must match too.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceMachine {
    /// Machine name in the source inventory (the protectable item's friendly name). Immutable
    /// once protection is enabled.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// Hyper-V VM ID (a GUID), for Hyper-V sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = GUID_PATTERN))]
    pub hyper_v_vm_id: Option<String>,
    /// What the appliance's Azure Migrate site reports the machine by, for VMware and physical
    /// sources: a VMware VM's vCenter instance UUID (`instanceUuid`), a server's BIOS GUID
    /// (`biosGuid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub discovery_id: Option<String>,
    /// EC2 instance ID, for AWS sources. Azure Migrate's server site does not report it, so an
    /// AWS machine is found by its name; the ID is kept for people and checked for its form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^i-([0-9a-f]{8}|[0-9a-f]{17})$"))]
    pub aws_instance_id: Option<String>,
    /// Resource ID of the source VM, for Azure-region sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_vm_id: Option<ResourceId>,
    /// Display name of the appliance's run-as account that pushes the Mobility agent to the
    /// machine, for VMware, physical and AWS sources (Az PowerShell's `-CredentialsToAccessVm`).
    /// Without it, the account the site discovered the machine with, if it reports one;
    /// otherwise the agent must be installed already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub run_as_account: Option<String>,
    /// Protection container (VMM cloud or Hyper-V host) to look in; all of the vault's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub container: Option<String>,
}

impl SourceMachine {
    /// The source-kind identity fields that are set, by their spec names.
    pub fn identity_fields(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        if self.hyper_v_vm_id.is_some() {
            set.push("hyperVVmId");
        }
        if self.discovery_id.is_some() {
            set.push("discoveryId");
        }
        if self.aws_instance_id.is_some() {
            set.push("awsInstanceId");
        }
        if self.azure_vm_id.is_some() {
            set.push("azureVmId");
        }
        set
    }
}

/// Operating system family.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum OsType {
    Windows,
    Linux,
}

/// The Azure VM a machine becomes. Unset fields come from the plan's defaults, then from the
/// vault (its resource group, the subnet its network mapping names, or the first subnet).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineTarget {
    /// Name of the Azure VM; the source name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = VM_NAME_PATTERN))]
    pub vm_name: Option<String>,
    /// Azure VM size (`Standard_D4s_v5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = VM_SIZE_PATTERN))]
    pub vm_size: Option<String>,
    /// Resource group of the VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = RESOURCE_GROUP_PATTERN))]
    pub resource_group: Option<String>,
    /// Subnet of the vault's target VNet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub subnet: Option<String>,
    /// Static private IPv4 address in that subnet; dynamic when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = IPV4_PATTERN))]
    pub static_ip: Option<String>,
    /// Managed disk type of the VM's disks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_type: Option<DiskType>,
    /// Availability zone of the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<AvailabilityZone>,
    /// Azure Hybrid Benefit licensing of the VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_type: Option<LicenseType>,
    /// Tags on the VM (at most 50; names up to 512 characters, values up to 256).
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
}

/// Managed disk types.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DiskType {
    #[serde(rename = "Standard_LRS")]
    StandardLrs,
    #[serde(rename = "StandardSSD_LRS")]
    StandardSsdLrs,
    #[serde(rename = "Premium_LRS")]
    PremiumLrs,
    #[serde(rename = "StandardSSD_ZRS")]
    StandardSsdZrs,
    #[serde(rename = "Premium_ZRS")]
    PremiumZrs,
}

/// Availability zones.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AvailabilityZone {
    #[serde(rename = "1")]
    One,
    #[serde(rename = "2")]
    Two,
    #[serde(rename = "3")]
    Three,
}

impl AvailabilityZone {
    /// The zone as ARM names it.
    pub fn as_str(self) -> &'static str {
        match self {
            AvailabilityZone::One => "1",
            AvailabilityZone::Two => "2",
            AvailabilityZone::Three => "3",
        }
    }
}

/// License types ASR applies to the failed-over VM.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum LicenseType {
    /// Pay for the OS with the VM.
    NoLicenseType,
    /// Azure Hybrid Benefit for Windows Server (Windows only).
    WindowsServer,
}

/// Observed state of a machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicatedMachineStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the machine is in its lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<MachinePhase>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The vault and source machine protection was enabled for; those spec fields are immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<MachineBinding>,
    /// The MigrationPlan that drives this machine, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The plan's wave this machine belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<String>,
    /// ASR protectable item the source machine was found as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protectable_item_id: Option<String>,
    /// ASR replication protected item, once protection is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_item_id: Option<String>,
    /// Replication progress and health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationStatus>,
    /// The ASR job in flight for this machine; the next pass follows it instead of acting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_job: Option<JobReference>,
    /// Every non-idempotent action issued, with its job: proof that none is issued twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionRecord>,
    /// The VM a test failover created, while it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_vm_id: Option<String>,
    /// The migrated VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_vm_id: Option<String>,
    /// The migrated VM's private address (its primary NIC's), read once it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_private_ip: Option<String>,
    /// When the migration was committed and replication stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
}

/// What a machine's protection was enabled for.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineBinding {
    pub vault: String,
    pub source_name: String,
}

/// Machine lifecycle (see DESIGN.md).
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum MachinePhase {
    Pending,
    EnablingProtection,
    InitialReplication,
    Protected,
    TestFailover,
    TestFailoverSucceeded,
    TestFailoverCleanup,
    ReadyForCutover,
    FailingOver,
    FailedOver,
    Committing,
    Completed,
    Failed,
}

impl MachinePhase {
    pub const ALL: [MachinePhase; 13] = [
        MachinePhase::Pending,
        MachinePhase::EnablingProtection,
        MachinePhase::InitialReplication,
        MachinePhase::Protected,
        MachinePhase::TestFailover,
        MachinePhase::TestFailoverSucceeded,
        MachinePhase::TestFailoverCleanup,
        MachinePhase::ReadyForCutover,
        MachinePhase::FailingOver,
        MachinePhase::FailedOver,
        MachinePhase::Committing,
        MachinePhase::Completed,
        MachinePhase::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MachinePhase::Pending => "Pending",
            MachinePhase::EnablingProtection => "EnablingProtection",
            MachinePhase::InitialReplication => "InitialReplication",
            MachinePhase::Protected => "Protected",
            MachinePhase::TestFailover => "TestFailover",
            MachinePhase::TestFailoverSucceeded => "TestFailoverSucceeded",
            MachinePhase::TestFailoverCleanup => "TestFailoverCleanup",
            MachinePhase::ReadyForCutover => "ReadyForCutover",
            MachinePhase::FailingOver => "FailingOver",
            MachinePhase::FailedOver => "FailedOver",
            MachinePhase::Committing => "Committing",
            MachinePhase::Completed => "Completed",
            MachinePhase::Failed => "Failed",
        }
    }
}

/// Replication progress and health as ASR reports them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationStatus {
    /// Initial replication progress, 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub progress_percent: Option<i32>,
    /// ASR replication health: Normal, Warning or Critical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// Current recovery point objective in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<i64>,
    /// ASR's protection state, informative only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection_state: Option<String>,
    /// Time of the latest recovery point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_recovery_point: Option<Time>,
}

/// An ASR job cutover started or follows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobReference {
    /// ARM ID of the replication job.
    pub id: String,
    /// What the job does (`TestFailover`, `PlannedFailover`, `Commit`…).
    pub name: String,
    /// ASR job state: NotStarted, InProgress, Succeeded, Failed, Cancelled, Suspended, Other.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
}

/// A non-idempotent action cutover issued.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionRecord {
    /// The ASR operation (`EnableProtection`, `TestFailover`, `PlannedFailover`…).
    pub action: String,
    /// The job ASR started for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub issued_at: Time,
}
