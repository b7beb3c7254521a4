//! Changing a protected item's target settings in place: `ReplicationProtectedItems_Update`, a
//! PATCH of the item with `UpdateReplicationProtectedItemInput`, answered 200 or 202 and polled
//! like any long-running operation (the SDK's `begin_update`; the 2025-08-01 example
//! `ReplicationProtectedItems_Update.json`).
//!
//! The PATCH is not a merge: an A2A update that carried only `providerSpecificDetails` was
//! refused with `400 VMDisksMissing` (Azure/terraform-provider-azapi issue 228, against real
//! Azure), and both clients known to work re-send the item's whole configuration as they read
//! it: terraform-provider-azurerm (`site_recovery_replicated_vm_resource.go` for A2A,
//! `site_recovery_vmware_replicated_vm_resource.go` for InMage RCM) and Az PowerShell's
//! `Set-AzRecoveryServicesAsrReplicationProtectedItem` (every NIC of the GET, each IP
//! configuration with its name from the GET). So does this: the body is the GET's settings with
//! only the primary NIC's address changed.
//!
//! Where the settings sit, by the SDK's models (azure-mgmt-recoveryservicessiterecovery 2.0.0):
//! - HyperVReplicaAzure and A2A: `properties.recoveryAzureVMName`, `recoveryAzureVMSize`,
//!   `selectedRecoveryAzureNetworkId` and `vmNics[]` (`VMNicInputDetails`: `nicId`,
//!   `selectionType`, `ipConfigs[]` of `IPConfigInputDetails`: `ipConfigName`, `isPrimary`,
//!   `isSeletedForFailover`, `recoverySubnetName`, `recoveryStaticIPAddress`);
//!   `providerSpecificDetails` carries the resource group (and for A2A the managed disks,
//!   `managedDiskUpdateDetails`).
//! - InMageRcm: `providerSpecificDetails` (`InMageRcmUpdateReplicationProtectedItemInput`)
//!   carries `targetVmName`, `targetVmSize`, `targetNetworkId`, `targetResourceGroupId` and
//!   `vmNics[]` (`InMageRcmNicInput`: `nicId` and `isPrimaryNic` required, `targetStaticIPAddress`
//!   where the GET says `targetIPAddress`). terraform-provider-azurerm also sends the size, name
//!   and network at the top level, and so does this.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use serde_with::DefaultOnError;

use super::Provider;
use super::models::{IpConfig, VmNic};

/// The settings of a protected item an update re-sends: its `providerSpecificDetails` as a GET
/// returns them (`HyperVReplicaAzureReplicationDetails`, `A2AReplicationDetails`,
/// `InMageRcmReplicationDetails`).
#[serde_with::serde_as]
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TargetSettings {
    /// HyperVReplicaAzure's spelling.
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_azure_vm_name: Option<String>,
    /// A2A's spelling.
    #[serde(default, rename = "recoveryAzureVMName")]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_azure_vm_name_a2a: Option<String>,
    #[serde(default, rename = "recoveryAzureVMSize")]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_azure_vm_size: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub selected_recovery_azure_network_id: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_azure_resource_group_id: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub use_managed_disks: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub license_type: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub target_availability_zone: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub protected_managed_disks: Option<Vec<ManagedDisk>>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub target_vm_name: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub target_vm_size: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub target_resource_group_id: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub target_network_id: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub test_network_id: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub vm_nics: Option<Vec<VmNic>>,
}

/// `A2AProtectedManagedDiskDetails`: what `A2AVmManagedDiskUpdateDetails` re-sends of a disk.
#[serde_with::serde_as]
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDisk {
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub disk_id: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_target_disk_account_type: Option<String>,
    #[serde(default)]
    #[serde_as(as = "DefaultOnError")]
    pub recovery_replica_disk_account_type: Option<String>,
}

/// The item's `properties.providerSpecificDetails`, from a GET of it.
pub fn settings_of(item: &Value) -> TargetSettings {
    serde_json::from_value(item["properties"]["providerSpecificDetails"].clone())
        .unwrap_or_default()
}

/// Why an update cannot be built from what ASR reports.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("ASR reports no network interface for the item")]
    NoNic,
    #[error("ASR reports {0} network interfaces and none as the primary one")]
    NoPrimaryNic(usize),
    #[error(
        "ASR reports no subnet for the primary network interface, and a static address needs one"
    )]
    NoSubnet,
}

/// The body of `ReplicationProtectedItems_Update` that gives the primary NIC the static
/// address `static_ip` (in `subnet` when ASR has none for it), keeping every other setting
/// the item has.
pub fn static_ip_update(
    provider: Provider,
    current: &TargetSettings,
    static_ip: &str,
    subnet: Option<&str>,
) -> Result<Value, TargetError> {
    let nics = current.vm_nics.as_deref().unwrap_or_default();
    if nics.is_empty() {
        return Err(TargetError::NoNic);
    }
    let primary = primary_index(nics).ok_or(TargetError::NoPrimaryNic(nics.len()))?;
    let mut properties = Map::new();
    let put = |map: &mut Map<String, Value>, key: &str, value: &Option<String>| {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            map.insert(key.into(), json!(value));
        }
    };
    match provider {
        Provider::HyperVReplicaAzure | Provider::A2A => {
            let name = current
                .recovery_azure_vm_name
                .clone()
                .or(current.recovery_azure_vm_name_a2a.clone());
            put(&mut properties, "recoveryAzureVMName", &name);
            put(
                &mut properties,
                "recoveryAzureVMSize",
                &current.recovery_azure_vm_size,
            );
            put(
                &mut properties,
                "selectedRecoveryAzureNetworkId",
                &current.selected_recovery_azure_network_id,
            );
            let vm_nics = nic_inputs(nics, primary, (static_ip, subnet), vm_nic_input)?;
            properties.insert("vmNics".into(), Value::Array(vm_nics));
            let mut details = Map::new();
            details.insert("instanceType".into(), json!(provider.instance_type()));
            if provider == Provider::HyperVReplicaAzure {
                put(
                    &mut properties,
                    "licenseType",
                    &current.license_type.clone().filter(|l| {
                        // `LicenseType` of the update input: NotSpecified, NoLicenseType,
                        // WindowsServer.
                        ["NotSpecified", "NoLicenseType", "WindowsServer"].contains(&l.as_str())
                    }),
                );
                put(
                    &mut details,
                    "recoveryAzureV2ResourceGroupId",
                    &current.recovery_azure_resource_group_id,
                );
                put(&mut details, "useManagedDisks", &current.use_managed_disks);
                put(
                    &mut details,
                    "targetAvailabilityZone",
                    &current.target_availability_zone,
                );
            } else {
                put(
                    &mut details,
                    "recoveryResourceGroupId",
                    &current.recovery_azure_resource_group_id,
                );
                let disks: Vec<Value> = current
                    .protected_managed_disks
                    .iter()
                    .flatten()
                    .map(|disk| {
                        let mut out = Map::new();
                        put(&mut out, "diskId", &disk.disk_id);
                        put(
                            &mut out,
                            "recoveryTargetDiskAccountType",
                            &disk.recovery_target_disk_account_type,
                        );
                        put(
                            &mut out,
                            "recoveryReplicaDiskAccountType",
                            &disk.recovery_replica_disk_account_type,
                        );
                        Value::Object(out)
                    })
                    .collect();
                details.insert("managedDiskUpdateDetails".into(), Value::Array(disks));
            }
            properties.insert("providerSpecificDetails".into(), Value::Object(details));
        }
        Provider::InMageRcm => {
            put(
                &mut properties,
                "recoveryAzureVMName",
                &current.target_vm_name,
            );
            put(
                &mut properties,
                "recoveryAzureVMSize",
                &current.target_vm_size,
            );
            put(
                &mut properties,
                "selectedRecoveryAzureNetworkId",
                &current.target_network_id,
            );
            let mut details = Map::new();
            details.insert("instanceType".into(), json!("InMageRcm"));
            put(&mut details, "targetVmName", &current.target_vm_name);
            put(&mut details, "targetVmSize", &current.target_vm_size);
            put(
                &mut details,
                "targetResourceGroupId",
                &current.target_resource_group_id,
            );
            put(&mut details, "targetNetworkId", &current.target_network_id);
            put(&mut details, "testNetworkId", &current.test_network_id);
            put(
                &mut details,
                "targetAvailabilityZone",
                &current.target_availability_zone,
            );
            let vm_nics = nic_inputs(nics, primary, (static_ip, subnet), rcm_nic_input)?;
            details.insert("vmNics".into(), Value::Array(vm_nics));
            properties.insert("providerSpecificDetails".into(), Value::Object(details));
        }
    }
    Ok(json!({ "properties": properties }))
}

/// The address and subnet a NIC's primary IP configuration is to have.
type Change<'a> = (&'a str, Option<&'a str>);

/// Every NIC as an input, the primary one changed.
fn nic_inputs(
    nics: &[VmNic],
    primary: usize,
    change: Change<'_>,
    input: fn(&VmNic, Option<Change<'_>>) -> Result<Value, TargetError>,
) -> Result<Vec<Value>, TargetError> {
    nics.iter()
        .enumerate()
        .map(|(index, nic)| input(nic, (index == primary).then_some(change)))
        .collect()
}

/// The subnet and address a NIC (or IP configuration) is sent with: as ASR has them, or with
/// the change, in ASR's subnet (the spec's where ASR has none).
fn subnet_and_address(
    subnet: &Option<String>,
    address: Option<String>,
    change: Option<Change<'_>>,
) -> Result<(Option<String>, Option<String>), TargetError> {
    let subnet = subnet.clone().filter(|s| !s.is_empty());
    match change {
        Some((address, wanted_subnet)) => Ok((
            Some(
                subnet
                    .or(wanted_subnet.map(str::to_owned))
                    .ok_or(TargetError::NoSubnet)?,
            ),
            Some(address.to_owned()),
        )),
        None => Ok((subnet, address.filter(|a| !a.is_empty()))),
    }
}

fn primary_index(nics: &[VmNic]) -> Option<usize> {
    let marked = nics.iter().position(|nic| {
        nic.is_primary_nic
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("true"))
            || nic
                .ip_configs
                .iter()
                .flatten()
                .any(|c| c.is_primary == Some(true))
    });
    marked.or((nics.len() == 1).then_some(0))
}

/// A `VMNicInputDetails` from the GET's `VMNicDetails`; `change` gives the primary IP
/// configuration its static address (and a subnet where it has none).
fn vm_nic_input(nic: &VmNic, change: Option<Change<'_>>) -> Result<Value, TargetError> {
    let configs = nic.ip_configs.as_deref().unwrap_or_default();
    let primary = nic
        .primary_ip_config()
        .and_then(|p| configs.iter().position(|c| std::ptr::eq(c, p)));
    let mut ip_configs = Vec::new();
    for (index, config) in configs.iter().enumerate() {
        let change = change.filter(|_| Some(index) == primary);
        ip_configs.push(ip_config_input(config, change)?);
    }
    let mut out = Map::new();
    if let Some(id) = &nic.nic_id {
        out.insert("nicId".into(), json!(id));
    }
    // Az PowerShell sends `SelectedByUser` for the NIC it changes; the others keep theirs.
    let selection = match (&nic.selection_type, change) {
        (_, Some(_)) | (None, None) => "SelectedByUser".to_owned(),
        (Some(kept), None) => kept.clone(),
    };
    out.insert("selectionType".into(), json!(selection));
    out.insert("ipConfigs".into(), Value::Array(ip_configs));
    Ok(Value::Object(out))
}

fn ip_config_input(config: &IpConfig, change: Option<Change<'_>>) -> Result<Value, TargetError> {
    let mut out = Map::new();
    if let Some(name) = &config.name {
        out.insert("ipConfigName".into(), json!(name));
    }
    if let Some(primary) = config.is_primary {
        out.insert("isPrimary".into(), json!(primary));
    }
    if let Some(selected) = config.is_seleted_for_failover {
        out.insert("isSeletedForFailover".into(), json!(selected));
    }
    let (subnet, address) = subnet_and_address(
        &config.recovery_subnet_name,
        config.recovery_static_ip_address.clone(),
        change,
    )?;
    if let Some(subnet) = subnet {
        out.insert("recoverySubnetName".into(), json!(subnet));
    }
    if let Some(address) = address {
        out.insert("recoveryStaticIPAddress".into(), json!(address));
    }
    Ok(Value::Object(out))
}

/// An `InMageRcmNicInput` from the GET's `InMageRcmNicDetails` (the way
/// terraform-provider-azurerm re-sends them: `targetIPAddress` as `targetStaticIPAddress`, only
/// where it is static here, so a dynamic NIC stays dynamic).
fn rcm_nic_input(nic: &VmNic, change: Option<Change<'_>>) -> Result<Value, TargetError> {
    let mut out = Map::new();
    out.insert(
        "nicId".into(),
        json!(nic.nic_id.clone().unwrap_or_default()),
    );
    out.insert(
        "isPrimaryNic".into(),
        json!(if change.is_some() {
            "true".to_owned()
        } else {
            nic.is_primary_nic.clone().unwrap_or_else(|| "false".into())
        }),
    );
    if let Some(selected) = &nic.is_selected_for_failover {
        out.insert("isSelectedForFailover".into(), json!(selected));
    }
    let static_now = nic.target_ip_address.clone().filter(|_| {
        nic.target_ip_address_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("Static"))
    });
    let (subnet, address) = subnet_and_address(&nic.target_subnet_name, static_now, change)?;
    if let Some(subnet) = subnet {
        out.insert("targetSubnetName".into(), json!(subnet));
    }
    if let Some(address) = address {
        out.insert("targetStaticIPAddress".into(), json!(address));
    }
    if let Some(test_subnet) = nic.test_subnet_name.clone().filter(|s| !s.is_empty()) {
        out.insert("testSubnetName".into(), json!(test_subnet));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `providerSpecificDetails` of the 2025-08-01 example's HyperVReplicaAzure item, with
    /// the NIC of the example's update request as a GET reports it.
    fn hyperv() -> TargetSettings {
        serde_json::from_value(json!({
            "instanceType": "HyperVReplicaAzure",
            "recoveryAzureVmName": "vm1",
            "recoveryAzureVMSize": "Basic_A0",
            "selectedRecoveryAzureNetworkId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/vnetavrai",
            "recoveryAzureResourceGroupId": "/subscriptions/s/resourceGroups/target",
            "useManagedDisks": "true",
            "licenseType": "WindowsServer",
            "vmNics": [{
                "nicId": "TWljcm9zb2Z0OkY4NDkxRTRG",
                "selectionType": "SelectedByUser",
                "ipConfigs": [{ "name": "ipconfig1", "isPrimary": true, "recoverySubnetName": "subnet1" }],
            }],
        }))
        .unwrap()
    }

    #[test]
    fn hyperv_sends_the_examples_shape_with_the_address_on_the_primary_ip_config() {
        let body = static_ip_update(
            Provider::HyperVReplicaAzure,
            &hyperv(),
            "10.0.2.46",
            Some("ignored"),
        )
        .unwrap();
        // ReplicationProtectedItems_Update.json's request, but for the IDs.
        assert_eq!(
            body,
            json!({ "properties": {
                "recoveryAzureVMName": "vm1",
                "recoveryAzureVMSize": "Basic_A0",
                "selectedRecoveryAzureNetworkId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/vnetavrai",
                "licenseType": "WindowsServer",
                "vmNics": [{
                    "nicId": "TWljcm9zb2Z0OkY4NDkxRTRG",
                    "selectionType": "SelectedByUser",
                    "ipConfigs": [{ "ipConfigName": "ipconfig1", "isPrimary": true,
                                    "recoverySubnetName": "subnet1", "recoveryStaticIPAddress": "10.0.2.46" }],
                }],
                "providerSpecificDetails": {
                    "instanceType": "HyperVReplicaAzure",
                    "recoveryAzureV2ResourceGroupId": "/subscriptions/s/resourceGroups/target",
                    "useManagedDisks": "true",
                },
            } })
        );
    }

    #[test]
    fn the_other_nics_and_ip_configs_are_sent_as_asr_has_them() {
        let mut settings = hyperv();
        let nics = settings.vm_nics.as_mut().unwrap();
        nics[0].ip_configs.as_mut().unwrap().push(IpConfig {
            name: Some("ipconfig2".into()),
            is_primary: Some(false),
            recovery_subnet_name: Some("subnet1".into()),
            recovery_static_ip_address: Some("10.0.2.50".into()),
            ..Default::default()
        });
        nics.push(VmNic {
            nic_id: Some("second".into()),
            selection_type: Some("NotSelected".into()),
            ip_configs: Some(vec![IpConfig {
                name: Some("ipconfig1".into()),
                is_primary: Some(true),
                recovery_subnet_name: Some("backend".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        // Both NICs have a primary IP configuration: the first NIC is the one marked.
        let body =
            static_ip_update(Provider::HyperVReplicaAzure, &settings, "10.0.2.46", None).unwrap();
        let vm_nics = &body["properties"]["vmNics"];
        assert_eq!(
            vm_nics[0]["ipConfigs"][0]["recoveryStaticIPAddress"],
            "10.0.2.46"
        );
        assert_eq!(
            vm_nics[0]["ipConfigs"][1]["recoveryStaticIPAddress"],
            "10.0.2.50"
        );
        assert_eq!(
            vm_nics[1],
            json!({ "nicId": "second", "selectionType": "NotSelected",
                    "ipConfigs": [{ "ipConfigName": "ipconfig1", "isPrimary": true, "recoverySubnetName": "backend" }] })
        );
    }

    #[test]
    fn a2a_re_sends_its_managed_disks_or_asr_refuses_with_vm_disks_missing() {
        let settings: TargetSettings = serde_json::from_value(json!({
            "instanceType": "A2A",
            "recoveryAzureVMName": "web01",
            "recoveryAzureVMSize": "Standard_D2s_v5",
            "recoveryAzureResourceGroupId": "/subscriptions/s/resourceGroups/dr",
            "selectedRecoveryAzureNetworkId": "/subscriptions/s/resourceGroups/dr/providers/Microsoft.Network/virtualNetworks/dr",
            "protectedManagedDisks": [{ "diskId": "/disks/os", "recoveryTargetDiskAccountType": "Premium_LRS",
                                        "recoveryReplicaDiskAccountType": "Standard_LRS", "diskState": "OK" }],
            "vmNics": [{ "nicId": "/nics/web01", "ipConfigs": [{ "name": "ipconfig1", "isPrimary": true,
                                                                 "recoverySubnetName": "app" }] }],
        }))
        .unwrap();
        let body = static_ip_update(Provider::A2A, &settings, "10.1.0.9", None).unwrap();
        let properties = &body["properties"];
        assert_eq!(properties["recoveryAzureVMName"], "web01");
        assert_eq!(
            properties["providerSpecificDetails"],
            json!({ "instanceType": "A2A", "recoveryResourceGroupId": "/subscriptions/s/resourceGroups/dr",
                    "managedDiskUpdateDetails": [{ "diskId": "/disks/os", "recoveryTargetDiskAccountType": "Premium_LRS",
                                                   "recoveryReplicaDiskAccountType": "Standard_LRS" }] })
        );
        assert_eq!(
            properties["vmNics"][0]["ipConfigs"][0]["recoveryStaticIPAddress"],
            "10.1.0.9"
        );
    }

    #[test]
    fn inmage_rcm_sends_its_nics_in_the_provider_input_and_keeps_a_dynamic_one_dynamic() {
        let settings: TargetSettings = serde_json::from_value(json!({
            "instanceType": "InMageRcm",
            "targetVmName": "db01",
            "targetVmSize": "Standard_E4s_v5",
            "targetResourceGroupId": "/subscriptions/s/resourceGroups/target",
            "targetNetworkId": "/vnets/landing",
            "testNetworkId": "/vnets/test",
            "vmNics": [
                { "nicId": "00:15:5d:00:00:01", "isPrimaryNic": "true", "isSelectedForFailover": "true",
                  "targetSubnetName": "data", "targetIPAddress": "10.10.2.4", "targetIPAddressType": "Dynamic" },
                { "nicId": "00:15:5d:00:00:02", "isPrimaryNic": "false", "isSelectedForFailover": "false",
                  "targetSubnetName": "backup", "targetIPAddress": "10.10.3.4", "targetIPAddressType": "Dynamic" },
            ],
        }))
        .unwrap();
        let body = static_ip_update(Provider::InMageRcm, &settings, "10.10.2.10", None).unwrap();
        let properties = &body["properties"];
        assert_eq!(properties["recoveryAzureVMSize"], "Standard_E4s_v5");
        let details = &properties["providerSpecificDetails"];
        assert_eq!(details["instanceType"], "InMageRcm");
        assert_eq!(details["targetVmSize"], "Standard_E4s_v5");
        assert_eq!(details["targetNetworkId"], "/vnets/landing");
        assert_eq!(
            details["vmNics"],
            json!([
                { "nicId": "00:15:5d:00:00:01", "isPrimaryNic": "true", "isSelectedForFailover": "true",
                  "targetSubnetName": "data", "targetStaticIPAddress": "10.10.2.10" },
                { "nicId": "00:15:5d:00:00:02", "isPrimaryNic": "false", "isSelectedForFailover": "false",
                  "targetSubnetName": "backup" },
            ])
        );
        assert!(
            properties.get("vmNics").is_none(),
            "InMageRcm's NICs are the provider's"
        );
    }

    #[test]
    fn an_item_without_nics_a_primary_or_a_subnet_is_not_updated() {
        let mut settings = hyperv();
        settings.vm_nics = Some(vec![]);
        assert_eq!(
            static_ip_update(Provider::HyperVReplicaAzure, &settings, "10.0.0.4", None),
            Err(TargetError::NoNic)
        );
        let unmarked = VmNic {
            nic_id: Some("a".into()),
            ip_configs: Some(vec![IpConfig::default()]),
            ..Default::default()
        };
        settings.vm_nics = Some(vec![unmarked.clone(), unmarked.clone()]);
        assert_eq!(
            static_ip_update(Provider::HyperVReplicaAzure, &settings, "10.0.0.4", None),
            Err(TargetError::NoPrimaryNic(2))
        );
        settings.vm_nics = Some(vec![unmarked.clone()]);
        assert_eq!(
            static_ip_update(Provider::HyperVReplicaAzure, &settings, "10.0.0.4", None),
            Err(TargetError::NoSubnet)
        );
        let body = static_ip_update(
            Provider::HyperVReplicaAzure,
            &settings,
            "10.0.0.4",
            Some("app"),
        )
        .unwrap();
        assert_eq!(
            body["properties"]["vmNics"][0]["ipConfigs"][0],
            json!({ "recoverySubnetName": "app", "recoveryStaticIPAddress": "10.0.0.4" })
        );
    }
}
