//! RecoveryVault: the Azure landing zone for one source site.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    AZURE_NAME_PATTERN, AzureResource, DeletionPolicy, GUID_PATTERN, HOSTNAME_PATTERN,
    LocalObjectReference, REGION_PATTERN, RESOURCE_GROUP_PATTERN,
};

/// The Azure side of one source site: where replicated machines land and how they replicate.
#[allow(
    clippy::duplicated_attributes,
    reason = "each printcolumn(...) repeats keys such as type_ = \"string\"; they are not duplicates"
)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "cutover.dev",
    version = "v1alpha1",
    kind = "RecoveryVault",
    namespaced,
    status = "RecoveryVaultStatus",
    shortname = "rvault",
    category = "cutover",
    doc = "The Azure landing zone of one source site: Recovery Services vault, storage, network, ASR fabric, containers, policy and mappings.",
    printcolumn(name = "Region", type_ = "string", json_path = ".spec.region"),
    printcolumn(
        name = "Source",
        type_ = "string",
        json_path = ".status.sourceKind",
        description = "Kind of source site"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    printcolumn(
        name = "Vault",
        type_ = "string",
        json_path = ".status.resources.vaultId",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryVaultSpec {
    /// Azure subscription that holds the landing zone. Immutable once provisioning starts.
    #[schemars(regex(pattern = GUID_PATTERN))]
    pub subscription_id: String,
    /// Resource group of the vault, storage and network (created when missing). Immutable.
    #[schemars(regex(pattern = RESOURCE_GROUP_PATTERN))]
    pub resource_group: String,
    /// Azure region of the landing zone, as ARM spells it (`westeurope`). Immutable.
    #[schemars(regex(pattern = REGION_PATTERN))]
    pub region: String,
    /// The Recovery Services vault.
    pub vault: AzureResource<VaultProperties>,
    /// Storage accounts for replicated data (and replication logs when that is Premium).
    pub storage: StorageSpec,
    /// The network failed-over machines join, and an optional isolated network for tests.
    pub network: NetworkSpec,
    /// The source site: exactly one kind.
    pub source: SourceSite,
    /// How machines replicate: retention, snapshot frequency, replication interval.
    #[serde(default)]
    pub replication_policy: ReplicationPolicy,
    /// Source network to target subnet, for sources whose networks ASR maps (VMM, Azure region).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["sourceNetwork"]))]
    pub network_mappings: Vec<NetworkMapping>,
    /// Credentials for ARM; the controller's own identity (workload identity) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// What deleting this object does in Azure.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// Properties of a Recovery Services vault that cutover creates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultProperties {
    /// Vault name: 2-50 letters, digits and hyphens, starting with a letter.
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9-]{1,49}$"))]
    pub name: String,
    /// Vault SKU.
    #[serde(default)]
    pub sku: VaultSku,
    /// Redundancy of the vault's own backup storage (settable only before the vault holds items).
    #[serde(default)]
    pub storage_redundancy: StorageRedundancy,
}

/// Recovery Services vault SKUs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum VaultSku {
    #[default]
    Standard,
    RS0,
}

/// Vault storage redundancy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StorageRedundancy {
    #[default]
    GeoRedundant,
    LocallyRedundant,
    ZoneRedundant,
}

/// Storage accounts that hold replicated data.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Account for replicated disks (cache/target storage), in the vault's region.
    pub replication: AzureResource<StorageAccountProperties>,
    /// Standard account for replication logs; required when `replication` is Premium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<AzureResource<StorageAccountProperties>>,
    /// Cache account for Azure-to-Azure replication, in the **source** region: Site Recovery
    /// stages the source VMs' writes in it before sending them to the target region. Required
    /// for an `azureRegion` source, not used by others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<AzureResource<StorageAccountProperties>>,
}

/// Properties of a storage account that cutover creates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageAccountProperties {
    /// Account name: 3-24 lowercase letters and digits, unique across Azure.
    #[schemars(regex(pattern = r"^[a-z0-9]{3,24}$"))]
    pub name: String,
    /// Replication SKU. Geo-redundant is recommended; locally-redundant is allowed with a warning.
    #[serde(default)]
    pub sku: StorageSku,
}

/// Storage account SKUs ASR can replicate to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StorageSku {
    #[serde(rename = "Standard_LRS")]
    StandardLrs,
    #[default]
    #[serde(rename = "Standard_GRS")]
    StandardGrs,
    #[serde(rename = "Standard_RAGRS")]
    StandardRagrs,
    #[serde(rename = "Standard_ZRS")]
    StandardZrs,
    #[serde(rename = "Standard_GZRS")]
    StandardGzrs,
    #[serde(rename = "Standard_RAGZRS")]
    StandardRagzrs,
    #[serde(rename = "Premium_LRS")]
    PremiumLrs,
    #[serde(rename = "Premium_ZRS")]
    PremiumZrs,
}

impl StorageSku {
    /// The name ARM uses.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageSku::StandardLrs => "Standard_LRS",
            StorageSku::StandardGrs => "Standard_GRS",
            StorageSku::StandardRagrs => "Standard_RAGRS",
            StorageSku::StandardZrs => "Standard_ZRS",
            StorageSku::StandardGzrs => "Standard_GZRS",
            StorageSku::StandardRagzrs => "Standard_RAGZRS",
            StorageSku::PremiumLrs => "Premium_LRS",
            StorageSku::PremiumZrs => "Premium_ZRS",
        }
    }

    pub fn is_premium(self) -> bool {
        matches!(self, StorageSku::PremiumLrs | StorageSku::PremiumZrs)
    }

    /// Copies kept in one datacenter only.
    pub fn is_locally_redundant(self) -> bool {
        matches!(self, StorageSku::StandardLrs | StorageSku::PremiumLrs)
    }
}

/// Networks of the landing zone.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {
    /// The VNet that failed-over machines join, in the vault's region.
    pub target: AzureResource<VirtualNetworkProperties>,
    /// An isolated VNet for test failovers, so test VMs never meet production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<AzureResource<VirtualNetworkProperties>>,
}

/// Properties of a virtual network that cutover creates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualNetworkProperties {
    /// VNet name.
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub name: String,
    /// Address blocks of the VNet, in CIDR notation.
    #[schemars(length(min = 1), inner(regex(pattern = crate::common::CIDR_PATTERN)))]
    pub address_space: Vec<String>,
    /// Subnets; each prefix lies inside the address space and no two overlap.
    #[schemars(length(min = 1))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub subnets: Vec<Subnet>,
}

/// A subnet of a VNet that cutover creates.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub name: String,
    #[schemars(regex(pattern = crate::common::CIDR_PATTERN))]
    pub address_prefix: String,
}

/// The source site, as ASR sees it. Exactly one kind is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SourceSite {
    /// Hyper-V hosts managed by System Center VMM (2012 R2 or later); containers are VMM clouds.
    #[serde(rename = "hyperVVmm")]
    HyperVVmm(VmmSource),
    /// Hyper-V hosts without VMM: cutover creates the Hyper-V site and hosts register into it.
    #[serde(rename = "hyperVSite")]
    HyperVSite(HyperVSiteSource),
    /// VMware VMs behind an ASR replication appliance.
    Vmware(VmwareSource),
    /// Physical servers behind an ASR replication appliance.
    Physical(ApplianceSource),
    /// AWS EC2 instances, replicated as physical servers through an appliance.
    Aws(AwsSource),
    /// Azure VMs in another region (Azure to Azure).
    AzureRegion(AzureRegionSource),
}

/// The kind of a source site, as a single word for status and printer columns.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SourceKind {
    #[serde(rename = "hyperVVmm")]
    HyperVVmm,
    #[serde(rename = "hyperVSite")]
    HyperVSite,
    Vmware,
    Physical,
    Aws,
    AzureRegion,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::HyperVVmm => "hyperVVmm",
            SourceKind::HyperVSite => "hyperVSite",
            SourceKind::Vmware => "vmware",
            SourceKind::Physical => "physical",
            SourceKind::Aws => "aws",
            SourceKind::AzureRegion => "azureRegion",
        }
    }

    /// The ASR replication provider (`instanceType`) that serves this kind.
    pub fn provider(self) -> &'static str {
        match self {
            SourceKind::HyperVVmm | SourceKind::HyperVSite => "HyperVReplicaAzure",
            SourceKind::Vmware | SourceKind::Physical | SourceKind::Aws => "InMageRcm",
            SourceKind::AzureRegion => "A2A",
        }
    }

    pub fn is_hyper_v(self) -> bool {
        matches!(self, SourceKind::HyperVVmm | SourceKind::HyperVSite)
    }

    /// Whether ASR has network mappings for this kind (VMM networks, A2A VNets).
    pub fn has_network_mappings(self) -> bool {
        matches!(self, SourceKind::HyperVVmm | SourceKind::AzureRegion)
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SourceSite {
    pub fn kind(&self) -> SourceKind {
        match self {
            SourceSite::HyperVVmm(_) => SourceKind::HyperVVmm,
            SourceSite::HyperVSite(_) => SourceKind::HyperVSite,
            SourceSite::Vmware(_) => SourceKind::Vmware,
            SourceSite::Physical(_) => SourceKind::Physical,
            SourceSite::Aws(_) => SourceKind::Aws,
            SourceSite::AzureRegion(_) => SourceKind::AzureRegion,
        }
    }
}

/// A System Center VMM server and the clouds to protect.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmmSource {
    /// FQDN of the VMM server, as it registers with the vault.
    #[schemars(regex(pattern = HOSTNAME_PATTERN))]
    pub server: String,
    /// VMM version, when known; ASR needs 2012 R2 or later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VmmVersion>,
    /// VMM clouds whose VMs are migrated; each becomes a protection container.
    #[schemars(length(min = 1), inner(length(min = 1, max = 256)))]
    pub clouds: Vec<String>,
}

/// System Center VMM releases.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum VmmVersion {
    #[serde(rename = "2012")]
    V2012,
    #[serde(rename = "2012R2")]
    V2012R2,
    #[serde(rename = "2016")]
    V2016,
    #[serde(rename = "2019")]
    V2019,
    #[serde(rename = "2022")]
    V2022,
    #[serde(rename = "2025")]
    V2025,
}

/// A Hyper-V site (no VMM) and its hosts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HyperVSiteSource {
    /// Name of the Hyper-V site that cutover creates in the vault.
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub site_name: String,
    /// Hosts expected to register into the site.
    #[schemars(length(min = 1))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub hosts: Vec<HyperVHost>,
}

/// A Hyper-V host.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HyperVHost {
    /// Host FQDN, as it registers with the vault.
    #[schemars(regex(pattern = HOSTNAME_PATTERN))]
    pub name: String,
    /// Windows Server release of the host; ASR needs 2012 R2 or later.
    pub os_version: WindowsServerVersion,
}

/// Windows Server releases that may run Hyper-V.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum WindowsServerVersion {
    WindowsServer2012,
    WindowsServer2012R2,
    WindowsServer2016,
    WindowsServer2019,
    WindowsServer2022,
    WindowsServer2025,
}

/// VMware vCenter/ESXi behind an ASR replication appliance.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmwareSource {
    /// Name of the replication appliance as it registers with the vault.
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub appliance: String,
    /// vCenter server the appliance discovers VMs from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = HOSTNAME_PATTERN))]
    pub vcenter: Option<String>,
}

/// Physical servers behind an ASR replication appliance.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplianceSource {
    /// Name of the replication appliance as it registers with the vault.
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub appliance: String,
}

/// AWS instances, replicated as physical servers through an appliance running in AWS.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsSource {
    /// Name of the replication appliance as it registers with the vault.
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub appliance: String,
    /// AWS region of the instances (`eu-west-1`).
    #[schemars(regex(pattern = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"))]
    pub aws_region: String,
    /// AWS account ID that owns the instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{12}$"))]
    pub account_id: Option<String>,
}

/// Azure VMs in another region.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureRegionSource {
    /// Region the VMs run in now; must differ from the landing zone's region.
    #[schemars(regex(pattern = REGION_PATTERN))]
    pub region: String,
}

/// Replication policy. Values are those ASR accepts; limits per source are checked by `validate()`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplicationPolicy {
    /// Policy name in the vault.
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub name: String,
    /// How long recovery points are kept, in hours (Hyper-V: at most 24; others: at most 360).
    #[schemars(range(min = 0, max = 360))]
    pub recovery_point_retention_hours: i32,
    /// Application-consistent snapshot frequency in hours (0 = off, at most 12).
    #[schemars(range(min = 0, max = 12))]
    pub app_consistent_snapshot_frequency_hours: i32,
    /// Hyper-V copy frequency in seconds: 30, 300 or 900. Not used by other sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = [30, 300, 900]))]
    pub replication_interval_seconds: Option<i32>,
}

impl Default for ReplicationPolicy {
    fn default() -> Self {
        ReplicationPolicy {
            name: "cutover-migration".into(),
            recovery_point_retention_hours: 24,
            app_consistent_snapshot_frequency_hours: 4,
            replication_interval_seconds: None,
        }
    }
}

/// Maps a source network to a subnet of the target VNet.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkMapping {
    /// VMM VM network name, or the source VNet's resource ID for Azure to Azure.
    #[schemars(length(min = 1, max = 1024))]
    pub source_network: String,
    /// Subnet of the target VNet that machines on this network land in by default.
    #[schemars(regex(pattern = AZURE_NAME_PATTERN))]
    pub target_subnet: String,
}

/// Where the controller finds credentials for this vault's subscription.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// A Secret in the vault's namespace with keys `tenantId`, `clientId` and `clientSecret`.
    pub secret_ref: LocalObjectReference,
}

/// Observed state of a RecoveryVault.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryVaultStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the landing zone is, in one word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<VaultPhase>,
    /// Kind of the source site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    /// `Ready` summarises `VaultReady`, `StorageReady`, `NetworkReady`, `SourceRegistered`, `ReplicationReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Azure resource IDs found or created.
    #[serde(default)]
    pub resources: VaultResources,
    /// The identity the landing zone was provisioned with; those spec fields are immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned: Option<ProvisionedIdentity>,
}

/// Lifecycle of a landing zone.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum VaultPhase {
    Pending,
    Provisioning,
    WaitingForSource,
    Ready,
    Failed,
    Deleting,
}

/// Azure resource IDs of the landing zone.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    /// cutover created the resource group (so `deletionPolicy: Delete` removes it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resource_group_created: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_storage_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_storage_account_id: Option<String>,
    /// The Azure-to-Azure cache account, in the source region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_storage_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_network_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_network_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fabric_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protection_container_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_mapping_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_mapping_ids: Vec<String>,
    /// The last long-running ARM operation cutover started, followed until it ends; kept with
    /// Azure's error when it ended `Failed`, so the write is not repeated blindly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<ArmOperation>,
}

/// A long-running ARM operation: what it writes, and where ARM said to follow it
/// (`Azure-AsyncOperation`, else `Location`). Every field has a default: server-side apply on
/// kube-apiserver 1.20 leaves an empty `operation: {}` behind when the controller stops
/// applying it, and an empty one means none.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArmOperation {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// The URL is an `Azure-AsyncOperation` status document (else a `Location` result).
    #[serde(default)]
    pub async_operation: bool,
    /// Set when the operation ended `Failed` or `Canceled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<OperationFailure>,
}

/// How an ARM operation failed: Azure's code and message, when (RFC 3339), and the spec
/// generation it was started for (a spec change tries again at once).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationFailure {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failed_at: String,
    #[serde(default)]
    pub generation: i64,
}

/// Spec fields that cannot change once Azure resources exist for them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedIdentity {
    pub subscription_id: String,
    pub resource_group: String,
    pub region: String,
    pub source_kind: SourceKind,
}
