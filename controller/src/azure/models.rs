//! Typed reads of what Azure returns, by the wire names of the official SDKs' models
//! (azure-mgmt-recoveryservicessiterecovery 2.0.0 for Site Recovery 2025-08-01, azure-mgmt-compute
//! for VMs). Each struct names the model it follows; only the fields cutover reads are here.

use serde::Deserialize;
use serde_with::DefaultOnError;

/// `CurrentScenarioDetails`: `scenarioName`, `jobId`, `startTime`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CurrentScenario {
    #[serde(default)]
    pub scenario_name: Option<String>,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
}

impl CurrentScenario {
    /// The job running on the item, if any. An idle item still has a scenario: every 2025-08-01
    /// `ReplicationProtectedItems_*` example shows `{"scenarioName": "None", "jobId":
    /// ".../replicationJobs/None", "startTime": "1753-01-01T01:01:01Z"}`, so "no job" is
    /// `scenarioName == "None"` (or a job named `None`), not a missing `jobId`.
    pub fn running_job(&self) -> Option<&str> {
        let idle = |name: &str| name.is_empty() || name.eq_ignore_ascii_case("None");
        if self.scenario_name.as_deref().is_none_or(idle) {
            return None;
        }
        self.job_id
            .as_deref()
            .filter(|id| !idle(id.rsplit('/').next().unwrap_or_default()))
    }
}

/// `InMageRcmFabricSpecificDetails.processServers[]` (`ProcessServerDetails`): `id`, `name`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ProcessServer {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// The process servers an InMageRcm fabric reports, from its `properties`
/// (`customDetails.processServers`).
pub fn process_servers(fabric_properties: &serde_json::Value) -> Vec<ProcessServer> {
    serde_json::from_value(fabric_properties["customDetails"]["processServers"].clone())
        .unwrap_or_default()
}

/// The Azure Migrate discovery sites an InMageRcm fabric reports
/// (`InMageRcmFabricSpecificDetails.vmwareSiteId`, `physicalSiteId`): VMware VMs are discovered
/// into the first (`Microsoft.OffAzure/VMwareSites`), physical servers, AWS instances among them,
/// into the second (`Microsoft.OffAzure/ServerSites`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverySites {
    #[serde(default)]
    pub vmware_site_id: Option<String>,
    #[serde(default)]
    pub physical_site_id: Option<String>,
}

impl DiscoverySites {
    pub fn of(fabric_properties: &serde_json::Value) -> DiscoverySites {
        serde_json::from_value(fabric_properties["customDetails"].clone()).unwrap_or_default()
    }

    /// The site a source's machines are in.
    pub fn site(&self, vmware: bool) -> Option<&str> {
        if vmware {
            self.vmware_site_id.as_deref()
        } else {
            self.physical_site_id.as_deref()
        }
        .filter(|id| !id.is_empty())
    }
}

/// A machine an appliance discovered, as its site lists it (`{site}/machines`): VMware's
/// `VMwareMachine` (Microsoft.OffAzure 2020-01-01, `VMwareMachines_ListBySite.json`) or a
/// server's `Server` (2023-06-06, `ServersController_ListByServerSiteResource_*.json`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredMachine {
    #[serde(default)]
    pub display_name: Option<String>,
    /// VMware: the vCenter instance UUID.
    #[serde(default)]
    pub instance_uuid: Option<String>,
    /// Servers: the BIOS GUID.
    #[serde(default)]
    pub bios_guid: Option<String>,
    #[serde(default)]
    pub is_deleted: bool,
    #[serde(default)]
    pub disks: Vec<DiscoveredDisk>,
    /// Servers: the run-as account the appliance discovered it with.
    #[serde(default)]
    pub run_as_account_id: Option<String>,
}

/// A disk of a discovered machine: VMware's `VMwareDisk` (`uuid`, `label`, `name`) or a
/// server's `ServerDisk` (`diskId`, `generatedId`, `name`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredDisk {
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    pub disk_id: Option<String>,
    #[serde(default)]
    pub generated_id: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Its size (`maxSizeInBytes`, both kinds).
    #[serde(default)]
    pub max_size_in_bytes: Option<u64>,
}

impl DiscoveredDisk {
    /// The ID an InMageRcm enable names the disk by (`InMageRcmDiskInput.diskId`): a VMware
    /// disk's `uuid` (Az PowerShell's `ASRProtectableItem.UpdateDiskDetails`: `Id = disk.Uuid`),
    /// a server disk's `diskId` (else its `generatedId`; no client shows which, see
    /// docs/azure-fidelity.md).
    pub fn id(&self) -> Option<&str> {
        self.uuid
            .as_deref()
            .or(self.disk_id.as_deref())
            .or(self.generated_id.as_deref())
    }

    /// Whether a name from `spec.includeDisks` is this disk: its ID, label (`Hard disk 1`) or
    /// name (`scsi0:0`).
    pub fn is_named(&self, wanted: &str) -> bool {
        [self.id(), self.label.as_deref(), self.name.as_deref()]
            .into_iter()
            .flatten()
            .any(|n| n.eq_ignore_ascii_case(wanted))
    }
}

/// A run-as account of a discovery site (`{site}/runasaccounts`, `VMwareRunAsAccount`):
/// `displayName` and, though the 2020-01-01 spec lacks it, `applianceName`
/// (terraform-provider-azurerm's `azuresdkhacks/model_vmwarerunasaccount.go`, azure-rest-api-specs
/// issue 24712).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunAsAccount {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub appliance_name: Option<String>,
}

/// The run-as account of this display name, on this appliance when the site says which
/// (terraform matches display name and appliance name; Az PowerShell the display name).
pub fn run_as_account_of<'a>(
    accounts: &'a [(String, RunAsAccount)],
    display_name: &str,
    appliance: &str,
) -> Option<&'a str> {
    accounts
        .iter()
        .find(|(_, a)| {
            a.display_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(display_name))
                && a.appliance_name
                    .as_deref()
                    .is_none_or(|n| n.eq_ignore_ascii_case(appliance))
        })
        .map(|(id, _)| id.as_str())
}

/// The process server an InMageRcm machine replicates through: the one running on the
/// replication appliance the vault names, or the fabric's only one.
pub fn process_server_of<'a>(
    servers: &'a [ProcessServer],
    appliance: &str,
) -> Option<&'a ProcessServer> {
    servers
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(appliance))
        .or(match servers {
            [only] => Some(only),
            _ => None,
        })
}

/// `ReplicationProtectedItem` (`id`, `name`, `properties`): what cutover reads of a protected
/// item, and nothing else, so a vault's list of them is small in memory.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ProtectedItem {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub properties: ProtectedItemProperties,
}

/// `ReplicationProtectedItemProperties`: `friendlyName`, `protectionState`, `replicationHealth`,
/// `allowedOperations` (`list[str]`), `activeLocation`, `lastSuccessfulTestFailoverTime`,
/// `currentScenario` (`CurrentScenarioDetails`) and `providerSpecificDetails`.
#[serde_with::serde_as]
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProtectedItemProperties {
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub friendly_name: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub protection_state: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub replication_health: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub allowed_operations: Option<Vec<String>>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub active_location: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub last_successful_test_failover_time: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub current_scenario: Option<CurrentScenario>,
    #[serde(default)]
    pub provider_specific_details: ReplicationDetails,
}

/// The part of `providerSpecificDetails` cutover reads, across the providers' models:
/// `HyperVReplicaAzureReplicationDetails` (`initialReplicationDetails`, `recoveryAzureVmName`,
/// `recoveryAzureResourceGroupId`), `InMageRcmReplicationDetails`
/// (`initialReplicationProgressPercentage` as an integer, `targetVmName`,
/// `targetResourceGroupId`) and `A2AReplicationDetails` (`monitoringPercentageCompletion`,
/// `recoveryAzureVMName`, `recoveryAzureResourceGroupId`), with the replication figures.
#[serde_with::serde_as]
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationDetails {
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub initial_replication_details: Option<InitialReplicationDetails>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub initial_replication_progress_percentage: Option<i32>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub monitoring_percentage_completion: Option<i32>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_azure_vm_name: Option<String>,
    #[serde(default, rename = "recoveryAzureVMName")]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_azure_vm_name_a2a: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub target_vm_name: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_azure_resource_group_id: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub target_resource_group_id: Option<String>,
    /// `vmNics`: `VMNicDetails` for Hyper-V and A2A, `InMageRcmNicDetails` for InMage RCM.
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub vm_nics: Option<Vec<VmNic>>,
    #[serde(flatten)]
    pub figures: ReplicationFigures,
}

/// One NIC of a protected item's `vmNics`, across the two models the providers use:
/// `VMNicDetails` (`nicId`, `selectionType`, `ipConfigs`) for HyperVReplicaAzure and A2A, and
/// `InMageRcmNicDetails` (`nicId`, the source MAC; `isPrimaryNic` and `isSelectedForFailover` as
/// the strings `"true"`/`"false"`; `targetSubnetName`, `targetIPAddress`, `targetIPAddressType`,
/// `testSubnetName`, `testIPAddress`) for InMage RCM.
#[serde_with::serde_as]
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VmNic {
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub nic_id: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub selection_type: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub ip_configs: Option<Vec<IpConfig>>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub is_primary_nic: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub is_selected_for_failover: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub target_subnet_name: Option<String>,
    #[serde(default, rename = "targetIPAddress")]
    #[serde_as(as = "DefaultOnError")]
    pub target_ip_address: Option<String>,
    #[serde(default, rename = "targetIPAddressType")]
    #[serde_as(as = "DefaultOnError")]
    pub target_ip_address_type: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub test_subnet_name: Option<String>,
    #[serde(default, rename = "testIPAddress")]
    #[serde_as(as = "DefaultOnError")]
    pub test_ip_address: Option<String>,
}

/// `IPConfigDetails`: `name` (written back as `ipConfigName`), `isPrimary`,
/// `isSeletedForFailover` (the spec's spelling), `recoverySubnetName`, `recoveryStaticIPAddress`.
#[serde_with::serde_as]
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IpConfig {
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub name: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub is_primary: Option<bool>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub is_seleted_for_failover: Option<bool>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_subnet_name: Option<String>,
    #[serde(default, rename = "recoveryStaticIPAddress")]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_static_ip_address: Option<String>,
}

/// Where the failed-over VM's primary NIC goes, as ASR has it configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NicTarget {
    pub subnet: Option<String>,
    /// The static address; none for a dynamic one.
    pub static_ip: Option<String>,
}

impl VmNic {
    fn is_primary(&self) -> bool {
        self.is_primary_nic
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("true"))
            || self
                .ip_configs
                .iter()
                .flatten()
                .any(|c| c.is_primary == Some(true))
    }

    /// The IP configuration that carries the NIC's address: the primary one, or the only one.
    pub fn primary_ip_config(&self) -> Option<&IpConfig> {
        let configs = self.ip_configs.as_deref()?;
        configs
            .iter()
            .find(|c| c.is_primary == Some(true))
            .or(match configs {
                [only] => Some(only),
                _ => None,
            })
    }

    fn target(&self) -> NicTarget {
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        match self.primary_ip_config() {
            Some(config) => NicTarget {
                subnet: non_empty(&config.recovery_subnet_name),
                static_ip: non_empty(&config.recovery_static_ip_address),
            },
            None => NicTarget {
                subnet: non_empty(&self.target_subnet_name),
                // A dynamic address is reported too (what the VM got): only a static one is
                // a setting.
                static_ip: non_empty(&self.target_ip_address).filter(|_| {
                    self.target_ip_address_type
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case("Static"))
                }),
            },
        }
    }
}

impl ReplicationDetails {
    /// The primary NIC (the one marked so, or the only one) as ASR will fail it over; none
    /// while ASR reports no NICs.
    pub fn primary_nic(&self) -> Option<(&VmNic, NicTarget)> {
        let nics = self.vm_nics.as_deref()?;
        let nic = nics.iter().find(|n| n.is_primary()).or(match nics {
            [only] => Some(only),
            _ => None,
        })?;
        Some((nic, nic.target()))
    }
}

/// `InitialReplicationDetails`: Hyper-V's `initialReplicationProgressPercentage`, a string.
#[serde_with::serde_as]
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InitialReplicationDetails {
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub initial_replication_progress_percentage: Option<String>,
}

impl ReplicationDetails {
    /// Initial replication's progress: Hyper-V reports it as a string, InMage RCM and A2A as
    /// numbers.
    pub fn progress_percent(&self) -> Option<i32> {
        self.initial_replication_details
            .as_ref()
            .and_then(|d| d.initial_replication_progress_percentage.as_deref())
            .and_then(|p| p.parse().ok())
            .or(self.initial_replication_progress_percentage)
            .or(self.monitoring_percentage_completion)
    }

    /// The name and resource group of the VM a failover creates.
    pub fn recovery_vm(&self) -> Option<(&str, &str)> {
        let name = self
            .recovery_azure_vm_name
            .as_deref()
            .or(self.target_vm_name.as_deref())
            .or(self.recovery_azure_vm_name_a2a.as_deref())?;
        let group = self
            .recovery_azure_resource_group_id
            .as_deref()
            .or(self.target_resource_group_id.as_deref())?;
        Some((name, group))
    }
}

/// The replication figures of a protected item's `providerSpecificDetails`, as the providers
/// name them: `HyperVReplicaAzureReplicationDetails` and `A2AReplicationDetails` have
/// `rpoInSeconds`, `InMageRcmReplicationDetails` `lastRpoInSeconds`; Hyper-V and InMageRcm report
/// `lastRecoveryPointReceived`, A2A only `lastRpoCalculatedTime`.
#[serde_with::serde_as]
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationFigures {
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub rpo_in_seconds: Option<i64>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub last_rpo_in_seconds: Option<i64>,
    /// Times as text: one the service writes in a shape jiff does not read must not cost the RPO.
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub last_recovery_point_received: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub last_rpo_calculated_time: Option<String>,
}

impl ReplicationFigures {
    pub fn rpo_seconds(&self) -> Option<i64> {
        self.rpo_in_seconds.or(self.last_rpo_in_seconds)
    }

    /// When the newest recovery point was taken: as reported, or, for A2A, the RPO's age at the
    /// time it was calculated (the RPO is the age of the newest recovery point).
    pub fn last_recovery_point(&self) -> Option<jiff::Timestamp> {
        let time =
            |t: &Option<String>| t.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        time(&self.last_recovery_point_received).or_else(|| {
            let calculated = time(&self.last_rpo_calculated_time)?;
            calculated
                .checked_sub(jiff::SignedDuration::from_secs(self.rpo_seconds()?))
                .ok()
        })
    }
}

/// `VirtualMachineInstanceView` (`VirtualMachines_InstanceView`, `GET {vm}/instanceView`): the
/// `statuses`, among them the power state as `PowerState/running` and the like.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct InstanceView {
    #[serde(default)]
    pub statuses: Vec<InstanceViewStatus>,
}

/// `InstanceViewStatus`: `code`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct InstanceViewStatus {
    #[serde(default)]
    pub code: Option<String>,
}

impl InstanceView {
    pub fn running(&self) -> bool {
        self.statuses
            .iter()
            .any(|s| s.code.as_deref() == Some("PowerState/running"))
    }
}

/// A VM's network interfaces (`VirtualMachine.properties.networkProfile.networkInterfaces[]`,
/// `NetworkInterfaceReference`: `id`, `properties.primary`; azure-mgmt-compute).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct VirtualMachine {
    #[serde(default)]
    pub properties: VirtualMachineProperties,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineProperties {
    #[serde(default)]
    pub network_profile: NetworkProfile,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkProfile {
    #[serde(default)]
    pub network_interfaces: Vec<SubResourceWithPrimary>,
}

/// A reference or an IP configuration that may be marked primary (`properties.primary`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubResourceWithPrimary {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub properties: PrimaryProperties,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryProperties {
    #[serde(default)]
    pub primary: Option<bool>,
    /// On an IP configuration: `privateIPAddress` (azure-mgmt-network
    /// `NetworkInterfaceIPConfiguration`).
    #[serde(default, rename = "privateIPAddress")]
    pub private_ip_address: Option<String>,
}

/// A network interface's IP configurations (`NetworkInterface.properties.ipConfigurations[]`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NetworkInterface {
    #[serde(default)]
    pub properties: NetworkInterfaceProperties,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceProperties {
    #[serde(default)]
    pub ip_configurations: Vec<SubResourceWithPrimary>,
}

/// The one marked primary, else the first (a single NIC or configuration need not be marked).
fn primary(of: &[SubResourceWithPrimary]) -> Option<&SubResourceWithPrimary> {
    of.iter()
        .find(|r| r.properties.primary == Some(true))
        .or_else(|| of.first())
}

impl VirtualMachine {
    pub fn primary_nic(&self) -> Option<&str> {
        primary(&self.properties.network_profile.network_interfaces)?
            .id
            .as_deref()
    }
}

impl NetworkInterface {
    pub fn primary_address(&self) -> Option<&str> {
        primary(&self.properties.ip_configurations)?
            .properties
            .private_ip_address
            .as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_vms_address_is_its_primary_nics_primary_configurations() {
        let vm: VirtualMachine = serde_json::from_value(json!({"properties": {"networkProfile": {
            "networkInterfaces": [
                {"id": "/nics/b", "properties": {"primary": false}},
                {"id": "/nics/a", "properties": {"primary": true}}]}}}))
        .unwrap();
        assert_eq!(vm.primary_nic(), Some("/nics/a"));
        let single: VirtualMachine = serde_json::from_value(
            json!({"properties": {"networkProfile": {"networkInterfaces": [{"id": "/nics/only"}]}}}),
        )
        .unwrap();
        assert_eq!(single.primary_nic(), Some("/nics/only"));
        let nic: NetworkInterface = serde_json::from_value(json!({"properties": {"ipConfigurations": [
            {"name": "second", "properties": {"privateIPAddress": "10.0.0.9", "primary": false}},
            {"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.0.4", "primary": true}}]}}))
        .unwrap();
        assert_eq!(nic.primary_address(), Some("10.0.0.4"));
        assert_eq!(NetworkInterface::default().primary_address(), None);
    }

    #[test]
    fn an_odd_field_reads_as_absent_and_keeps_the_rest_of_the_item() {
        // A field of another type than the spec's (a number for `protectionState`, a string for
        // `allowedOperations`' list) must not cost the item, or the list it came in.
        let item: ProtectedItem = serde_json::from_value(json!({
            "id": "/x/replicationProtectedItems/web01",
            "name": "web01",
            "properties": {
                "friendlyName": "web01",
                "protectionState": 42,
                "allowedOperations": "PlannedFailover",
                "replicationHealth": "Normal",
                "providerSpecificDetails": {"instanceType": "InMageRcm",
                    "initialReplicationProgressPercentage": "half", "targetVmName": "web01-az"},
            },
        }))
        .unwrap();
        let p = &item.properties;
        assert_eq!(p.protection_state, None);
        assert_eq!(p.allowed_operations, None);
        assert_eq!(p.friendly_name.as_deref(), Some("web01"));
        assert_eq!(p.replication_health.as_deref(), Some("Normal"));
        let details = &p.provider_specific_details;
        assert_eq!(details.initial_replication_progress_percentage, None);
        assert_eq!(details.target_vm_name.as_deref(), Some("web01-az"));
    }

    #[test]
    fn an_idle_item_runs_no_job() {
        // ReplicationProtectedItems_UnplannedFailover.json (2025-08-01), response 200.
        let idle: CurrentScenario = serde_json::from_value(json!({
            "scenarioName": "None",
            "jobId": "/Subscriptions/c183865e-6077-46f2-a3b1-deb0f4f4650a/resourceGroups/resourceGroupPS1/providers/Microsoft.RecoveryServices/vaults/vault1/replicationJobs/None",
            "startTime": "1753-01-01T01:01:01Z"
        }))
        .unwrap();
        assert_eq!(idle.running_job(), None);
        assert_eq!(CurrentScenario::default().running_job(), None);
        let running: CurrentScenario = serde_json::from_value(json!({
            "scenarioName": "TestFailover",
            "jobId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs/3f1c",
            "startTime": "2026-12-01T10:00:00Z"
        }))
        .unwrap();
        assert_eq!(
            running.running_job(),
            Some(
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs/3f1c"
            )
        );
    }

    #[test]
    fn an_inmage_rcm_fabric_names_the_discovery_site_of_each_kind_of_machine() {
        // InMageRcmFabricSpecificDetails, as Microsoft's InMageRcm REST how-to shows a fabric.
        let fabric = json!({"customDetails": {"instanceType": "InMageRcm",
            "vmwareSiteId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.OffAzure/VMwareSites/v",
            "physicalSiteId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.OffAzure/ServerSites/p"}});
        let sites = DiscoverySites::of(&fabric);
        assert!(sites.site(true).unwrap().ends_with("/VMwareSites/v"));
        assert!(sites.site(false).unwrap().ends_with("/ServerSites/p"));
        assert_eq!(
            DiscoverySites::of(&json!({"customDetails": {"vmwareSiteId": ""}})).site(true),
            None
        );
    }

    #[test]
    fn a_run_as_account_is_found_by_display_name_on_the_appliance() {
        let account = |name: &str, appliance: Option<&str>| RunAsAccount {
            display_name: Some(name.into()),
            appliance_name: appliance.map(str::to_owned),
        };
        let accounts = vec![
            (
                "/a".to_owned(),
                account("linux-admin", Some("other-appliance")),
            ),
            (
                "/b".to_owned(),
                account("linux-admin", Some("dc2-appliance")),
            ),
            ("/c".to_owned(), account("windows-admin", None)),
        ];
        assert_eq!(
            run_as_account_of(&accounts, "LINUX-admin", "dc2-appliance"),
            Some("/b")
        );
        assert_eq!(
            run_as_account_of(&accounts, "windows-admin", "dc2-appliance"),
            Some("/c"),
            "a site that does not say the appliance"
        );
        assert_eq!(run_as_account_of(&accounts, "root", "dc2-appliance"), None);
    }

    #[test]
    fn an_inmage_rcm_machine_replicates_through_its_appliances_process_server() {
        let fabric = json!({"customDetails": {"instanceType": "InMageRcm", "processServers": [
            {"id": "1d6f2b6a-0000-4000-8000-000000000001", "name": "dc2-appliance", "health": "Normal"},
            {"id": "1d6f2b6a-0000-4000-8000-000000000002", "name": "scale-out-ps", "health": "Normal"}
        ]}});
        let servers = process_servers(&fabric);
        assert_eq!(
            process_server_of(&servers, "DC2-appliance").map(|s| s.id.as_str()),
            Some("1d6f2b6a-0000-4000-8000-000000000001")
        );
        assert_eq!(
            process_server_of(&servers, "other"),
            None,
            "two servers, neither the appliance"
        );
        assert_eq!(
            process_server_of(&servers[1..], "other").map(|s| s.name.as_str()),
            Some("scale-out-ps"),
            "the only one"
        );
        assert!(process_servers(&json!({})).is_empty());
    }

    #[test]
    fn a2a_reports_its_recovery_point_through_the_rpo() {
        let a2a: ReplicationFigures = serde_json::from_value(json!({"instanceType": "A2A",
            "rpoInSeconds": 30, "lastRpoCalculatedTime": "2026-12-01T10:00:30Z"}))
        .unwrap();
        assert_eq!(a2a.rpo_seconds(), Some(30));
        assert_eq!(
            a2a.last_recovery_point(),
            Some("2026-12-01T10:00:00Z".parse().unwrap())
        );
        let rcm: ReplicationFigures = serde_json::from_value(json!({"instanceType": "InMageRcm",
            "lastRpoInSeconds": 60, "lastRecoveryPointReceived": "2026-12-01T09:59:00Z",
            "lastRpoCalculatedTime": "2026-12-01T10:00:00Z"}))
        .unwrap();
        assert_eq!(rcm.rpo_seconds(), Some(60));
        assert_eq!(
            rcm.last_recovery_point(),
            Some("2026-12-01T09:59:00Z".parse().unwrap())
        );
        assert_eq!(ReplicationFigures::default().last_recovery_point(), None);
    }

    #[test]
    fn a_vm_runs_when_its_instance_view_says_so() {
        let view: InstanceView = serde_json::from_value(json!({"statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info"},
            {"code": "PowerState/running", "level": "Info"}
        ]}))
        .unwrap();
        assert!(view.running());
        let stopped: InstanceView =
            serde_json::from_value(json!({"statuses": [{"code": "PowerState/deallocated"}]}))
                .unwrap();
        assert!(!stopped.running());
    }

    #[test]
    fn a_protected_item_reads_as_each_provider_writes_it() {
        // ReplicationProtectedItems_Get.json (2025-08-01), trimmed: an idle Hyper-V item.
        let idle: ProtectedItem = serde_json::from_value(json!({
            "id": "/Subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/vault1/replicationFabrics/cloud1/replicationProtectionContainers/c/replicationProtectedItems/f849",
            "name": "f849",
            "properties": {
                "friendlyName": "vm1", "protectedItemType": "HyperVVirtualMachine",
                "protectionState": "Protected", "activeLocation": "Primary",
                "allowedOperations": ["PlannedFailover", "UnplannedFailover", "DisableProtection", "TestFailover"],
                "replicationHealth": "Normal",
                "currentScenario": {"scenarioName": "None", "jobId": "/Subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/vault1/replicationJobs/None", "startTime": "1753-01-01T01:01:01Z"},
                "providerSpecificDetails": {"instanceType": "HyperVReplicaAzure"}
            }
        }))
        .unwrap();
        let p = &idle.properties;
        assert_eq!(p.friendly_name.as_deref(), Some("vm1"));
        assert_eq!(p.protection_state.as_deref(), Some("Protected"));
        assert_eq!(p.allowed_operations.as_ref().map(Vec::len), Some(4));
        assert_eq!(
            p.current_scenario.as_ref().and_then(|c| c.running_job()),
            None
        );
        assert_eq!(p.provider_specific_details.progress_percent(), None);

        // The providers' details, as their models in azure-mgmt-recoveryservicessiterecovery
        // type them: Hyper-V's progress a string, InMageRcm's and A2A's integers.
        for (details, progress, vm) in [
            (
                json!({"instanceType": "HyperVReplicaAzure", "initialReplicationDetails": {"initialReplicationProgressPercentage": "42"},
                       "recoveryAzureVmName": "web", "recoveryAzureResourceGroupId": "/subscriptions/s/resourceGroups/target", "rpoInSeconds": 30}),
                Some(42),
                Some(("web", "/subscriptions/s/resourceGroups/target")),
            ),
            (
                json!({"instanceType": "InMageRcm", "initialReplicationProgressPercentage": 7,
                       "targetVmName": "db", "targetResourceGroupId": "/subscriptions/s/resourceGroups/t2", "lastRpoInSeconds": 60}),
                Some(7),
                Some(("db", "/subscriptions/s/resourceGroups/t2")),
            ),
            (
                json!({"instanceType": "A2A", "monitoringPercentageCompletion": 100,
                       "recoveryAzureVMName": "app", "recoveryAzureResourceGroupId": "/subscriptions/s/resourceGroups/t3", "rpoInSeconds": 5}),
                Some(100),
                Some(("app", "/subscriptions/s/resourceGroups/t3")),
            ),
            // A field of an unexpected type reads as absent; the rest of the item still reads.
            (
                json!({"instanceType": "InMageRcm", "initialReplicationProgressPercentage": "seven",
                       "targetVmName": "db", "lastRpoInSeconds": 60}),
                None,
                None,
            ),
        ] {
            let item: ProtectedItem = serde_json::from_value(json!({
                "id": "i", "properties": {"protectionState": "Protected", "providerSpecificDetails": details.clone()}
            }))
            .unwrap_or_else(|e| panic!("{details}: {e}"));
            let d = &item.properties.provider_specific_details;
            assert_eq!(d.progress_percent(), progress, "{details}");
            assert_eq!(d.recovery_vm(), vm, "{details}");
            assert!(d.figures.rpo_seconds().is_some(), "{details}");
            assert_eq!(
                item.properties.protection_state.as_deref(),
                Some("Protected")
            );
        }
    }
}
