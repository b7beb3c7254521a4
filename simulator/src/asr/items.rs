//! Replication protected items: enable protection (PUT), update (PATCH), the actions
//! (`testFailover`, `testFailoverCleanup`, `plannedFailover`, `unplannedFailover`,
//! `failoverCommit`, `failoverCancel`, `remove`), and purge (DELETE). Each action is allowed only when
//! `allowedOperations` says so and no job is in flight (409 otherwise).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::infra::machines_of;
use super::model::{ItemState, ProtectedItem, Scenario, TargetVm};
use super::{
    InjectedJobFailure, JobTarget, MICROSOFT_AZURE, accepted, asr_not_found, find, require_vault,
    start_job,
};
use crate::app::Sim;
use crate::arm::{page, parse_body};
use crate::error::ArmError;
use crate::inventory::{AsrKind, Machine, SourceKind};
use crate::state::World;

type ItemPath = Path<(String, String, String, String, String, String)>;
type ActionPath = Path<(String, String, String, String, String, String, String)>;

fn item_id(vault_id: &str, fabric: &str, container: &str, item: &str) -> String {
    format!(
        "{vault_id}/replicationFabrics/{fabric}/replicationProtectionContainers/{container}/replicationProtectedItems/{item}"
    )
}

/// ARM's document of a protected item at `now`.
pub fn document(sim: &Sim, world: &World, item: &ProtectedItem) -> Value {
    let now = sim.now();
    let inventory = sim.inventory();
    let machine = inventory
        .source(&item.source)
        .and_then(|s| s.machines.iter().find(|m| m.name == item.machine))
        .cloned();
    let fabric = find(world, &item.fabric_id);
    let container = find(world, &item.container_id);
    let policy = find(world, &item.policy_id);
    let job = item
        .current_job
        .as_deref()
        .and_then(|j| world.asr.jobs.get(&j.to_ascii_lowercase()));
    let progress = item.replication_progress(now);
    let protected = matches!(
        item.state,
        ItemState::Protected
            | ItemState::TestFailingOver
            | ItemState::TestFailedOver
            | ItemState::CleaningUpTest
    );
    // A steady RPO that varies a little with the machine, as a real one does.
    let rpo = 30 + (item.name.bytes().map(u64::from).sum::<u64>() % 90);
    let test_state = match item.state {
        ItemState::TestFailingOver => "TestFailoverInProgress",
        ItemState::TestFailedOver => "TestFailoverCompleted",
        ItemState::CleaningUpTest => "TestFailoverCleanupInProgress",
        _ => "None",
    };
    let input = &item.input;
    // ASR knows the VM's NICs once the enable job has run.
    let nic_id = TargetVm::nic_id(&item.name, &item.provider);
    let address_type = if item.vm.static_ip.is_some() {
        "Static"
    } else {
        "Dynamic"
    };
    let vm_nics = (item.state != ItemState::Enabling).then(|| {
        if item.provider == "InMageRcm" {
            // InMageRcmNicDetails.
            json!([{
                "nicId": nic_id,
                "isPrimaryNic": "true",
                "isSelectedForFailover": "true",
                "targetSubnetName": item.vm.subnet,
                "targetIPAddress": item.vm.static_ip,
                "targetIPAddressType": address_type,
                "testSubnetName": input["testSubnetName"],
            }])
        } else {
            // VMNicDetails, its one IP configuration as IPConfigDetails.
            json!([{
                "nicId": nic_id,
                "recoveryVMNetworkId": item.vm.network_id,
                "selectionType": "SelectedByUser",
                "ipConfigs": [{
                    "name": "ipconfig1",
                    "isPrimary": true,
                    "isSeletedForFailover": true,
                    "recoverySubnetName": item.vm.subnet,
                    "recoveryStaticIPAddress": item.vm.static_ip,
                    "recoveryIPAddressType": address_type,
                }],
            }])
        }
    });
    let details = match item.provider.as_str() {
        "HyperVReplicaAzure" => json!({
            "instanceType": "HyperVReplicaAzure",
            "recoveryAzureVmName": item.vm.name,
            "recoveryAzureVMSize": item.vm.size,
            "recoveryAzureStorageAccount": input["targetStorageAccountId"],
            "recoveryAzureLogStorageAccountId": input["logStorageAccountId"],
            "recoveryAzureResourceGroupId": item.vm.resource_group_id,
            "selectedRecoveryAzureNetworkId": input["targetAzureNetworkId"],
            "targetAvailabilityZone": input["targetAvailabilityZone"],
            "licenseType": input["licenseType"],
            "useManagedDisks": "true",
            "vmId": machine.as_ref().map(|m| m.id.clone()),
            "vmProtectionState": item.protection_state(),
            "vmProtectionStateDescription": item.protection_state(),
            // The REST spec types this one as a string (InMage RCM's is an integer).
            "initialReplicationDetails": { "initialReplicationType": "InitialReplication", "initialReplicationProgressPercentage": progress.to_string() },
            "rpoInSeconds": if protected { json!(rpo) } else { Value::Null },
            "lastRpoCalculatedTime": if protected { json!(now.to_string()) } else { Value::Null },
            "lastReplicatedTime": if protected { json!(now.to_string()) } else { Value::Null },
            "lastRecoveryPointReceived": if protected { json!(now.to_string()) } else { Value::Null },
            "oSDetails": machine.as_ref().map(|m| json!({ "osType": m.os_type, "productType": m.os_name })),
            "targetVmTags": input["targetVmTags"],
            "vmNics": vm_nics,
        }),
        "InMageRcm" => json!({
            "instanceType": "InMageRcm",
            "internalIdentifier": item.name,
            "fabricDiscoveryMachineId": input["fabricDiscoveryMachineId"],
            "discoveryType": if item.source_kind() == Some(SourceKind::Vmware) { "VMware" } else { "Physical" },
            "osType": machine.as_ref().map(|m| m.os_type.clone()),
            "osName": machine.as_ref().and_then(|m| m.os_name.clone()),
            "targetVmName": item.vm.name,
            "targetVmSize": item.vm.size,
            "targetResourceGroupId": item.vm.resource_group_id,
            "targetLocation": item.vm.location,
            "targetAvailabilityZone": input["targetAvailabilityZone"],
            "targetNetworkId": input["targetNetworkId"],
            "testNetworkId": input["testNetworkId"],
            "licenseType": input["licenseType"],
            "initialReplicationProgressPercentage": progress,
            "initialReplicationProgressHealth": "Normal",
            "lastRpoInSeconds": if protected { json!(rpo) } else { Value::Null },
            "lastRpoCalculatedTime": if protected { json!(now.to_string()) } else { Value::Null },
            "lastRecoveryPointReceived": if protected { json!(now.to_string()) } else { Value::Null },
            "protectedDisks": machine.as_ref().map(|m| m.disks.iter().map(|d| json!({
                "diskId": d.id, "diskName": d.id, "isOSDisk": if d.os_disk { "true" } else { "false" },
                "capacityInBytes": d.size_gb * 1024 * 1024 * 1024, "diskState": "OK",
                "isInitialReplicationComplete": if progress >= 100 { "true" } else { "false" },
            })).collect::<Vec<_>>()),
            "vmNics": vm_nics,
        }),
        _ => json!({
            "instanceType": "A2A",
            "fabricObjectId": input["fabricObjectId"],
            "recoveryAzureVMName": item.vm.name,
            "recoveryAzureVMSize": item.vm.size,
            "recoveryAzureResourceGroupId": item.vm.resource_group_id,
            "selectedRecoveryAzureNetworkId": input["recoveryAzureNetworkId"],
            "recoveryAvailabilityZone": input["recoveryAvailabilityZone"],
            "monitoringPercentageCompletion": progress,
            "vmProtectionState": item.protection_state(),
            "rpoInSeconds": if protected { json!(rpo) } else { Value::Null },
            "lastRpoCalculatedTime": if protected { json!(now.to_string()) } else { Value::Null },
            // A2AProtectedManagedDiskDetails of the disks the enable named.
            "protectedManagedDisks": input["vmManagedDisks"].as_array().map(|disks| disks.iter().map(|d| json!({
                "diskId": d["diskId"],
                "recoveryResourceGroupId": d["recoveryResourceGroupId"],
                "primaryStagingAzureStorageAccountId": d["primaryStagingAzureStorageAccountId"],
                "recoveryTargetDiskAccountType": d["recoveryTargetDiskAccountType"],
                "recoveryReplicaDiskAccountType": d["recoveryReplicaDiskAccountType"],
            })).collect::<Vec<_>>()),
            "vmNics": vm_nics,
        }),
    };
    json!({
        "id": item.id,
        "name": item.name,
        "type": "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectedItems",
        "properties": {
            "friendlyName": item.machine,
            "protectedItemType": machine.as_ref().map(|_| item.source_kind().map(SourceKind::machine_type)),
            // InMageRcm and A2A enables name no protectable item (Microsoft's REST how-to shows
            // null for InMageRcm).
            "protectableItemId": (item.provider == "HyperVReplicaAzure").then_some(&item.protectable_item_id),
            "primaryFabricFriendlyName": fabric.map(|f| f.properties["friendlyName"].clone()),
            "primaryFabricProvider": fabric.map(|f| f.properties["customDetails"]["instanceType"].clone()),
            "recoveryFabricFriendlyName": MICROSOFT_AZURE,
            "recoveryFabricId": MICROSOFT_AZURE,
            "primaryProtectionContainerFriendlyName": container.map(|c| c.properties["friendlyName"].clone()),
            "recoveryProtectionContainerFriendlyName": MICROSOFT_AZURE,
            "protectionState": item.protection_state(),
            "protectionStateDescription": item.protection_state(),
            "activeLocation": item.active_location,
            "testFailoverState": test_state,
            "testFailoverStateDescription": test_state,
            "allowedOperations": item.allowed_operations(),
            "replicationHealth": if item.state == ItemState::Enabling { "None" } else { "Normal" },
            "failoverHealth": "Normal",
            "healthErrors": [],
            "policyId": item.policy_id,
            "policyFriendlyName": policy.map(|p| p.name.clone()),
            "lastSuccessfulFailoverTime": item.last_failover.map(|t| t.to_string()),
            "lastSuccessfulTestFailoverTime": item.last_test_failover.map(|t| t.to_string()),
            "currentScenario": match job {
                Some(job) => json!({ "scenarioName": job.scenario.names().0, "jobId": job.id, "startTime": job.started_at.to_string() }),
                // Idle, as every 2025-08-01 ReplicationProtectedItems_* example shows it.
                None => json!({
                    "scenarioName": "None",
                    "jobId": format!("{}/replicationJobs/None", item.vault_id),
                    "startTime": "1753-01-01T01:01:01Z",
                }),
            },
            "providerSpecificDetails": details,
            "recoveryContainerId": MICROSOFT_AZURE,
        },
    })
}

impl ProtectedItem {
    fn source_kind(&self) -> Option<SourceKind> {
        match self.provider.as_str() {
            "HyperVReplicaAzure" => Some(SourceKind::HyperVVmm),
            "A2A" => Some(SourceKind::AzureRegion),
            _ if self.input["fabricDiscoveryMachineId"]
                .as_str()
                .is_some_and(|id| id.starts_with("i-")) =>
            {
                Some(SourceKind::Aws)
            }
            _ => Some(SourceKind::Vmware),
        }
    }
}

pub async fn get(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, i)): ItemPath,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let item = world
        .asr
        .items
        .get(&item_id(&vault_id, &f, &c, &i).to_ascii_lowercase())
        .ok_or_else(|| asr_not_found("replication protected item", &i))?;
    Ok(Json(document(&sim, &world, item)))
}

pub async fn list_in_container(
    State(sim): State<Sim>,
    Path((s, g, v, f, c)): Path<(String, String, String, String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let container =
        format!("{vault_id}/replicationFabrics/{f}/replicationProtectionContainers/{c}");
    let items = world
        .asr
        .items
        .values()
        .filter(|i| i.container_id.eq_ignore_ascii_case(&container))
        .filter(|i| crate::state::visible(i.visible_at))
        .map(|i| document(&sim, &world, i))
        .collect();
    Ok(Json(page(&sim, &uri, items)))
}

/// Every protected item of the vault: one paged list serves all of a vault's machines.
pub async fn list_in_vault(
    State(sim): State<Sim>,
    Path((s, g, v)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let items = world
        .asr
        .items
        .values()
        .filter(|i| i.vault_id.eq_ignore_ascii_case(&vault_id))
        .filter(|i| crate::state::visible(i.visible_at))
        .map(|i| document(&sim, &world, i))
        .collect();
    Ok(Json(page(&sim, &uri, items)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnableInput {
    properties: EnableInputProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnableInputProperties {
    #[serde(default)]
    policy_id: Option<String>,
    #[serde(default)]
    protectable_item_id: Option<String>,
    #[serde(default)]
    provider_specific_details: Value,
}

fn bad(field: &str, message: String) -> ArmError {
    ArmError::bad_request("InvalidParameter", message).with_target(&format!("properties.{field}"))
}

/// The input's Azure resource at `key` must exist (and be in `region` when given).
fn check_target(
    world: &World,
    input: &Value,
    key: &str,
    what: &str,
    region: Option<&str>,
) -> Result<Option<String>, ArmError> {
    let Some(id) = input[key].as_str() else {
        return Ok(None);
    };
    let field = format!("providerSpecificDetails.{key}");
    let is_group = !id.to_ascii_lowercase().contains("/providers/");
    if is_group {
        let name = id.rsplit('/').next().unwrap_or_default();
        world
            .resource_group(name)
            .ok_or_else(|| bad(&field, format!("The {what} {id} does not exist.")))?;
        return Ok(Some(id.to_owned()));
    }
    let resource = world
        .resource(id)
        .filter(|r| r.deleting_until.is_none())
        .ok_or_else(|| bad(&field, format!("The {what} {id} does not exist.")))?;
    if let (Some(region), Some(location)) = (region, resource.location.as_deref())
        && !region.eq_ignore_ascii_case(location)
    {
        return Err(bad(
            &field,
            format!("The {what} {id} is in {location}, not in the vault's region {region}."),
        ));
    }
    Ok(Some(resource.id.clone()))
}

/// The source VM of an A2A enable: the Compute VM `fabricObjectId` names, in the source region
/// (A2A has no protectable item: Az PowerShell sends none, "A2A there is no ProtectableItem").
/// `vmManagedDisks[]` names its managed disks, each with the cache account Site Recovery
/// stages writes in, which must be in the VM's region (Microsoft's A2A PowerShell article: "a
/// standard storage account in the same Azure region as the virtual machine being
/// replicated"), and the target resource group. An enable without `vmManagedDisks` is
/// refused: Az PowerShell and terraform-provider-azurerm always send them for managed disks.
fn a2a_source(
    world: &crate::state::World,
    inventory: &crate::inventory::Inventory,
    container: &crate::asr::model::AsrObject,
    details: &Value,
    protectable_item_id: Option<&str>,
) -> Result<(String, SourceKind, Machine), ArmError> {
    let field = "providerSpecificDetails.fabricObjectId";
    let vm_id = details["fabricObjectId"].as_str().unwrap_or_default();
    if let Some(named) = protectable_item_id {
        return Err(bad(
            "protectableItemId",
            format!("A2A has no protectable items: name the VM by fabricObjectId, not {named}."),
        ));
    }
    let source = container
        .source
        .as_deref()
        .and_then(|s| inventory.source(s))
        .ok_or_else(|| {
            bad(
                field,
                format!("The container {} protects no Azure region.", container.name),
            )
        })?;
    let machine = source
        .machines
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(vm_id))
        .ok_or_else(|| {
            bad(
                field,
                format!("The virtual machine {vm_id} is not in {}.", source.name),
            )
        })?;
    let vm = world.resource(vm_id).ok_or_else(|| {
        bad(
            field,
            format!("The virtual machine {vm_id} does not exist."),
        )
    })?;
    let vm_disks = crate::arm::compute::managed_disks(vm);
    let disks = details["vmManagedDisks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if disks.is_empty() {
        return Err(bad(
            "providerSpecificDetails.vmManagedDisks",
            format!(
                "vmManagedDisks must name the managed disks of {} to replicate.",
                machine.name
            ),
        ));
    }
    for (index, disk) in disks.iter().enumerate() {
        let at = |key: &str| format!("providerSpecificDetails.vmManagedDisks[{index}].{key}");
        let disk_id = disk["diskId"].as_str().unwrap_or_default();
        if !vm_disks.iter().any(|d| d.eq_ignore_ascii_case(disk_id)) {
            return Err(bad(
                &at("diskId"),
                format!("{disk_id} is not a managed disk of {}.", machine.name),
            ));
        }
        let cache = disk["primaryStagingAzureStorageAccountId"]
            .as_str()
            .unwrap_or_default();
        match world.resource(cache).filter(|r| r.deleting_until.is_none()) {
            None => {
                return Err(bad(
                    &at("primaryStagingAzureStorageAccountId"),
                    format!("The storage account {cache} does not exist."),
                ));
            }
            Some(account)
                if !account
                    .location
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(&source.name)) =>
            {
                return Err(bad(
                    &at("primaryStagingAzureStorageAccountId"),
                    format!(
                        "The cache storage account {cache} is in {}, not in the source region {}.",
                        account.location.as_deref().unwrap_or("no region"),
                        source.name
                    ),
                ));
            }
            Some(_) => {}
        }
        let group = disk["recoveryResourceGroupId"].as_str().unwrap_or_default();
        if world
            .resource_group(group.rsplit('/').next().unwrap_or_default())
            .is_none()
        {
            return Err(bad(
                &at("recoveryResourceGroupId"),
                format!("The resource group {group} does not exist."),
            ));
        }
    }
    Ok((vm_id.to_owned(), source.kind, machine.clone()))
}

/// Enables protection of a machine of the container.
pub async fn enable(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, i)): ItemPath,
    failure: Option<Extension<InjectedJobFailure>>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let input: EnableInput = parse_body(&body)?;
    let details = input.properties.provider_specific_details;
    let provider = details["instanceType"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let now = sim.now();
    let mbps = sim.replication_mbps;
    let inventory = sim.inventory();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let vault_region = world
        .resource(&vault_id)
        .and_then(|r| r.location.clone())
        .unwrap_or_default();
    let id = item_id(&vault_id, &f, &c, &i);
    if let Some(existing) = world.asr.items.get(&id.to_ascii_lowercase()) {
        return Ok((StatusCode::OK, Json(document(&sim, &world, existing))).into_response());
    }
    let container = find(
        &world,
        &format!("{vault_id}/replicationFabrics/{f}/replicationProtectionContainers/{c}"),
    )
    .cloned()
    .ok_or_else(|| asr_not_found("protection container", &c))?;
    let policy_id = input
        .properties
        .policy_id
        .ok_or_else(|| bad("policyId", "The policyId property is required.".into()))?;
    let policy = find(&world, &policy_id).cloned().ok_or_else(|| {
        bad(
            "policyId",
            format!("The replication policy {policy_id} does not exist."),
        )
    })?;
    let paired = super::children(
        &world,
        super::model::ObjectKind::ContainerMapping,
        &vault_id,
        Some(&container.id),
    )
    .iter()
    .any(|m| {
        m.properties["policyId"]
            .as_str()
            .is_some_and(|p| p.eq_ignore_ascii_case(&policy.id))
            && m.properties["state"] == "Paired"
    });
    if !paired {
        return Err(bad(
            "policyId",
            format!(
                "The protection container {} is not paired with the policy {}; create a container mapping first.",
                container.name, policy.name
            ),
        ));
    }
    let policy_provider = policy.properties["providerSpecificDetails"]["instanceType"]
        .as_str()
        .unwrap_or_default();
    if provider != policy_provider {
        return Err(bad(
            "providerSpecificDetails.instanceType",
            format!("The input is for {provider:?} but the policy is for {policy_provider:?}."),
        ));
    }

    // InMageRcmEnableProtectionInput.processServerId is required: a process server of the fabric.
    if provider == "InMageRcm" {
        let fabric = find(&world, &format!("{vault_id}/replicationFabrics/{f}"));
        let known = fabric
            .and_then(|fabric| fabric.properties["customDetails"]["processServers"].as_array())
            .cloned()
            .unwrap_or_default();
        match details["processServerId"].as_str() {
            None => {
                return Err(bad(
                    "providerSpecificDetails.processServerId",
                    "The processServerId property is required.".into(),
                ));
            }
            Some(id)
                if !known
                    .iter()
                    .any(|p| p["id"].as_str().is_some_and(|k| k.eq_ignore_ascii_case(id))) =>
            {
                return Err(bad(
                    "providerSpecificDetails.processServerId",
                    format!("The process server {id} is not registered with the fabric {f}."),
                ));
            }
            Some(_) => {}
        }
    }

    // Which machine: the discovered machine of the fabric's Azure Migrate site (InMageRcm has
    // no protectable items), or the protectable item, or the VM ID (A2A).
    let machines = machines_of(&inventory, &container);
    let (protectable_item_id, kind, machine): (String, SourceKind, Machine) = if provider
        == "InMageRcm"
    {
        let source = container
            .source
            .as_deref()
            .and_then(|s| inventory.source(s))
            .ok_or_else(|| asr_not_found("protection container", &c))?;
        let machine_id = details["fabricDiscoveryMachineId"]
            .as_str()
            .unwrap_or_default();
        let machine = crate::arm::migrate::discovered_machine(source, &vault_id, machine_id)
            .map_err(|m| bad("providerSpecificDetails.fabricDiscoveryMachineId", m))?;
        // Az PowerShell sends no protectableItemId for InMageRcm (it sets it to null), and
        // Microsoft's REST how-to sends the discovered machine's ID; nothing else names it.
        if let Some(named) = &input.properties.protectable_item_id
            && !named.eq_ignore_ascii_case(machine_id)
        {
            return Err(bad(
                "protectableItemId",
                format!(
                    "InMageRcm has no protectable items: {named} is not the discovered machine {machine_id}."
                ),
            ));
        }
        if let Some(account) = details["runAsAccountId"].as_str()
            && !crate::arm::migrate::is_run_as_account(source, &vault_id, account)
        {
            return Err(bad(
                "providerSpecificDetails.runAsAccountId",
                format!(
                    "The run-as account {account} is not one of the appliance {}'s site.",
                    source.name
                ),
            ));
        }
        // InMageRcmDiskInput.diskId: the discovered machine's disk (a VMware disk's uuid).
        for disk in details["disksToInclude"].as_array().into_iter().flatten() {
            let id = disk["diskId"].as_str().unwrap_or_default();
            if !machine
                .disks
                .iter()
                .any(|d| crate::arm::migrate::disk_id(d).eq_ignore_ascii_case(id))
            {
                return Err(bad(
                    "providerSpecificDetails.disksToInclude",
                    format!(
                        "{id} is not a disk of the discovered machine {}.",
                        machine.name
                    ),
                ));
            }
        }
        (machine_id.to_owned(), source.kind, machine.clone())
    } else if provider == "A2A" {
        a2a_source(
            &world,
            &inventory,
            &container,
            &details,
            input.properties.protectable_item_id.as_deref(),
        )?
    } else {
        let wanted = input
            .properties
            .protectable_item_id
            .as_deref()
            .and_then(|p| p.rsplit('/').next())
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| {
                bad(
                    "protectableItemId",
                    "The protectableItemId property is required.".into(),
                )
            })?;
        let (protectable_name, kind, machine) = machines
            .into_iter()
            .find(|(name, _, m)| *name == wanted || m.id.eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| {
                bad(
                    "protectableItemId",
                    format!(
                        "The protectable item '{wanted}' was not found in the protection container {}.",
                        container.name
                    ),
                )
            })?;
        (
            format!(
                "{}/replicationProtectableItems/{protectable_name}",
                container.id
            ),
            kind,
            machine,
        )
    };
    // HyperVReplicaAzureEnableProtectionInput: `disksToInclude` lists VHD IDs, and
    // `disksToIncludeForManagedDisks[].diskId` is a VHD ID too (the protectable item's
    // `diskDetails[].vhdId`; terraform-provider-azurerm maps disk names to them).
    if provider.as_str() == "HyperVReplicaAzure" {
        let vhd_ids: Vec<&str> = machine.disks.iter().map(|d| d.id.as_str()).collect();
        let named = details["disksToInclude"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| ("disksToInclude", d.as_str()))
            .chain(
                details["disksToIncludeForManagedDisks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| ("disksToIncludeForManagedDisks", d["diskId"].as_str())),
            );
        for (field, disk) in named {
            if !disk.is_some_and(|d| vhd_ids.iter().any(|v| v.eq_ignore_ascii_case(d))) {
                return Err(bad(
                    &format!("providerSpecificDetails.{field}"),
                    format!(
                        "{} is not the VHD ID of a disk of the machine.",
                        disk.unwrap_or("(missing)")
                    ),
                ));
            }
        }
    }

    if world.asr.items.values().any(|other| {
        other
            .protectable_item_id
            .eq_ignore_ascii_case(&protectable_item_id)
    }) {
        return Err(ArmError::conflict(
            "ProtectableItemAlreadyProtected",
            format!("The machine {} is already protected.", machine.name),
        ));
    }

    let (group_key, name_key, size_key, network_key, subnet_key) = match provider.as_str() {
        "HyperVReplicaAzure" => (
            "targetAzureV2ResourceGroupId",
            "targetAzureVmName",
            "targetVmSize",
            "targetAzureNetworkId",
            "targetAzureSubnetId",
        ),
        "InMageRcm" => (
            "targetResourceGroupId",
            "targetVmName",
            "targetVmSize",
            "targetNetworkId",
            "targetSubnetName",
        ),
        _ => (
            "recoveryResourceGroupId",
            "recoveryAzureVMName",
            "recoveryAzureVMSize",
            "recoveryAzureNetworkId",
            "recoverySubnetName",
        ),
    };
    let resource_group_id =
        check_target(&world, &details, group_key, "target resource group", None)?.ok_or_else(
            || {
                bad(
                    &format!("providerSpecificDetails.{group_key}"),
                    format!("{group_key} is required."),
                )
            },
        )?;
    check_target(
        &world,
        &details,
        network_key,
        "target network",
        Some(&vault_region),
    )?;
    check_target(
        &world,
        &details,
        "targetStorageAccountId",
        "storage account",
        Some(&vault_region),
    )?;
    check_target(
        &world,
        &details,
        "logStorageAccountId",
        "log storage account",
        Some(&vault_region),
    )?;

    let vm = TargetVm {
        resource_group_id,
        name: details[name_key]
            .as_str()
            .unwrap_or(&machine.name)
            .to_owned(),
        size: details[size_key]
            .as_str()
            .unwrap_or("Standard_D2s_v5")
            .to_owned(),
        location: vault_region,
        os_type: machine.os_type.clone(),
        network_id: details[network_key].as_str().map(str::to_owned),
        // A subnet given by ID or by name: the VM's NIC goes in the subnet of that name.
        subnet: details[subnet_key]
            .as_str()
            .and_then(|s| s.rsplit('/').next())
            .map(str::to_owned),
        static_ip: None,
    };
    // Initial replication copies every disk over the simulated link.
    let seconds = (machine.size_gb() as f64 * 8.0 * 1024.0 / mbps.max(1.0)).ceil() as i64;
    let item = ProtectedItem {
        id: id.clone(),
        name: i.clone(),
        vault_id: vault_id.clone(),
        fabric_id: format!("{vault_id}/replicationFabrics/{f}"),
        container_id: container.id.clone(),
        protectable_item_id,
        source: container.source.clone().unwrap_or_default(),
        machine: machine.name.clone(),
        provider: kind.provider().to_owned(),
        policy_id: policy.id.clone(),
        input: details,
        state: ItemState::Enabling,
        state_before: None,
        active_location: "Primary".into(),
        vm,
        replication_started: None,
        replication_duration: Some(SignedDuration::from_secs(seconds.max(1))),
        current_job: None,
        test_vm_id: None,
        visible_at: world.visible_at(),
        test_network_id: None,
        target_vm_id: None,
        last_test_failover: None,
        last_failover: None,
    };
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::EnableDr,
        JobTarget {
            id: &id,
            name: &machine.name,
            instance_type: "ProtectionEntity",
        },
        now,
        failure.map(|e| e.0),
    );
    world.asr.items.insert(
        id.to_ascii_lowercase(),
        ProtectedItem {
            current_job: Some(job.id.clone()),
            ..item
        },
    );
    Ok(accepted(&sim, &job, &uri))
}

/// `ReplicationProtectedItems_Update`: the recovery VM's name, size and primary NIC.
///
/// The NICs come in `properties.vmNics[]` (`VMNicInputDetails`, the address on an IP
/// configuration) for HyperVReplicaAzure and A2A, and in `providerSpecificDetails.vmNics[]`
/// (`InMageRcmNicInput`, `targetStaticIPAddress`) for InMage RCM; a NIC must be one the item
/// reports. An A2A update that names no managed disks is refused as ASR refused one
/// (Azure/terraform-provider-azapi issue 228: 400 `BadRequest`, details `VMDisksMissing`, "One or
/// more disks to be replicated need to be specified for the virtual machine."), and one naming
/// a disk the item does not replicate as terraform-provider-azurerm issue 16241 reports ("Could
/// not update the properties of the virtual machine … because of following invalid disk Ids").
/// How ASR refuses an unknown `nicId` is not documented: see docs/azure-fidelity.md.
pub async fn update(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, i)): ItemPath,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let input: Value = parse_body(&body)?;
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = item_id(&vault_id, &f, &c, &i);
    let item = world
        .asr
        .items
        .get(&id.to_ascii_lowercase())
        .ok_or_else(|| asr_not_found("replication protected item", &i))?;
    let properties = &input["properties"];
    let details = &properties["providerSpecificDetails"];
    let mut vm = item.vm.clone();
    if item.provider == "A2A" {
        a2a_disks_of_update(item, details)?;
    }
    let (nics, at) = if item.provider == "InMageRcm" {
        (&details["vmNics"], "providerSpecificDetails.vmNics")
    } else {
        (&properties["vmNics"], "vmNics")
    };
    let known_nic = TargetVm::nic_id(&item.name, &item.provider);
    for (index, nic) in nics.as_array().into_iter().flatten().enumerate() {
        let nic_id = nic["nicId"].as_str().unwrap_or_default();
        if item.state == ItemState::Enabling || !nic_id.eq_ignore_ascii_case(&known_nic) {
            return Err(bad(
                &format!("{at}[{index}].nicId"),
                format!(
                    "The network interface {nic_id} is not a network interface of {}.",
                    item.machine
                ),
            ));
        }
        let text = |value: &Value| value.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        if item.provider == "InMageRcm" {
            if let Some(subnet) = text(&nic["targetSubnetName"]) {
                vm.subnet = Some(subnet);
            }
            vm.static_ip = text(&nic["targetStaticIPAddress"]);
        } else {
            let configs = nic["ipConfigs"].as_array().cloned().unwrap_or_default();
            let primary = configs
                .iter()
                .find(|c| c["isPrimary"] == json!(true))
                .or(match configs.as_slice() {
                    [only] => Some(only),
                    _ => None,
                });
            if let Some(config) = primary {
                if let Some(subnet) = text(&config["recoverySubnetName"]) {
                    vm.subnet = Some(subnet);
                }
                vm.static_ip = text(&config["recoveryStaticIPAddress"]);
            }
        }
    }
    // InMage RCM's own field first (`targetVmName`, `targetVmSize`), then the common one.
    let setting = |rcm: &str, common: &str| {
        (item.provider == "InMageRcm")
            .then(|| details.get(rcm))
            .flatten()
            .or(properties.get(common))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(name) = setting("targetVmName", "recoveryAzureVMName") {
        vm.name = name;
    }
    if let Some(size) = setting("targetVmSize", "recoveryAzureVMSize") {
        vm.size = size;
    }
    let name = item.machine.clone();
    if let Some(item) = world.asr.items.get_mut(&id.to_ascii_lowercase()) {
        item.vm = vm;
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &name,
            instance_type: "ProtectionEntity",
        },
        now,
        None,
    );
    Ok(accepted(&sim, &job, &uri))
}

/// An A2A update re-sends the managed disks the item replicates (`managedDiskUpdateDetails`).
fn a2a_disks_of_update(item: &ProtectedItem, details: &Value) -> Result<(), ArmError> {
    let sent = details["managedDiskUpdateDetails"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let message =
        "One or more disks to be replicated need to be specified for the virtual machine.";
    if sent.is_empty() {
        let mut error = ArmError::bad_request("BadRequest", message);
        error
            .details
            .push(json!({ "code": "VMDisksMissing", "message": message }));
        return Err(error);
    }
    let replicated: Vec<&str> = item.input["vmManagedDisks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["diskId"].as_str())
        .collect();
    let invalid: Vec<&str> = sent
        .iter()
        .filter_map(|d| d["diskId"].as_str())
        .filter(|id| !replicated.iter().any(|r| r.eq_ignore_ascii_case(id)))
        .collect();
    if !invalid.is_empty() {
        return Err(bad(
            "providerSpecificDetails.managedDiskUpdateDetails",
            format!(
                "Could not update the properties of the virtual machine '{}' because of following invalid disk Ids: '{}'.",
                item.machine,
                invalid.join("', '")
            ),
        ));
    }
    Ok(())
}

/// Removes the item at once, whatever its state (ASR's force purge).
pub async fn purge(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, i)): ItemPath,
    uri: Uri,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = item_id(&vault_id, &f, &c, &i);
    let Some(item) = world.asr.items.remove(&id.to_ascii_lowercase()) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &item.machine,
            instance_type: "ProtectionEntity",
        },
        now,
        None,
    );
    Ok(accepted(&sim, &job, &uri))
}

/// POST `.../replicationProtectedItems/{item}/{action}`.
pub async fn action(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, i, action)): ActionPath,
    failure: Option<Extension<InjectedJobFailure>>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let (scenario, operation, running) = match action.as_str() {
        "testFailover" => (
            Scenario::TestFailover,
            "TestFailover",
            ItemState::TestFailingOver,
        ),
        "testFailoverCleanup" => (
            Scenario::TestFailoverCleanup,
            "TestFailoverCleanup",
            ItemState::CleaningUpTest,
        ),
        "plannedFailover" => (
            Scenario::PlannedFailover,
            "PlannedFailover",
            ItemState::FailingOver,
        ),
        "unplannedFailover" => (
            Scenario::UnplannedFailover,
            "UnplannedFailover",
            ItemState::FailingOver,
        ),
        "failoverCommit" => (Scenario::Commit, "Commit", ItemState::Committing),
        "failoverCancel" => (
            Scenario::CancelFailover,
            "CancelFailover",
            ItemState::FailingOver,
        ),
        "remove" => (
            Scenario::DisableDr,
            "DisableProtection",
            ItemState::Removing,
        ),
        other => {
            return Err(ArmError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("No action '{other}' on replication protected items."),
            ));
        }
    };
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        parse_body(&body)?
    };
    if scenario == Scenario::DisableDr {
        check_disable_input(&input)?;
    }
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = item_id(&vault_id, &f, &c, &i);
    let item = world
        .asr
        .items
        .get(&id.to_ascii_lowercase())
        .cloned()
        .ok_or_else(|| asr_not_found("replication protected item", &i))?;
    if let Some(job) = &item.current_job {
        let scenario_name = world
            .asr
            .jobs
            .get(&job.to_ascii_lowercase())
            .map_or("an operation", |j| j.scenario.names().0);
        return Err(ArmError::conflict(
            "ProtectionEntityOperationInProgress",
            format!(
                "Another operation ({scenario_name}, job {job}) is in progress on '{}'. Retry after it completes.",
                item.machine
            ),
        ));
    }
    let allowed = item.allowed_operations();
    let permitted = allowed.contains(&operation)
        || (operation == "DisableProtection" && allowed.contains(&"CompleteMigration"));
    if !permitted {
        return Err(ArmError::bad_request(
            "OperationNotAllowed",
            format!(
                "The operation {operation} is not allowed on '{}' in the state {} (allowed: {}).",
                item.machine,
                item.protection_state(),
                allowed.join(", ")
            ),
        ));
    }
    if scenario == Scenario::TestFailover {
        let network = input
            .pointer("/properties/networkId")
            .or_else(|| input.pointer("/properties/providerSpecificDetails/networkId"))
            .and_then(Value::as_str);
        match network {
            Some(network) if world.resource(network).is_some() => {
                let network = network.to_owned();
                if let Some(stored) = world.asr.items.get_mut(&id.to_ascii_lowercase()) {
                    stored.test_network_id = Some(network);
                }
            }
            Some(network) => {
                return Err(bad(
                    "networkId",
                    format!("The test failover network {network} does not exist."),
                ));
            }
            None => {
                return Err(bad(
                    "networkId",
                    "A test failover needs the networkId of an isolated network.".into(),
                ));
            }
        }
    }
    // A (test) failover creates a VM: Compute refuses it when it exceeds a vCPU quota.
    let creates_vm = matches!(
        scenario,
        Scenario::TestFailover | Scenario::PlannedFailover | Scenario::UnplannedFailover
    );
    let quota = creates_vm
        .then(|| crate::arm::capacity::quota_job_failure(&world, &item.vm.location, &item.vm.size))
        .flatten()
        .map(crate::asr::InjectedJobFailure);
    let job = start_job(
        &mut world,
        &vault_id,
        scenario,
        JobTarget {
            id: &id,
            name: &item.machine,
            instance_type: "ProtectionEntity",
        },
        now,
        failure.map(|e| e.0).or(quota),
    );
    let stored = world
        .asr
        .items
        .get_mut(&id.to_ascii_lowercase())
        .expect("the item was found above");
    stored.state_before = Some(stored.state);
    stored.state = running;
    stored.current_job = Some(job.id.clone());
    if scenario == Scenario::PlannedFailover {
        stored.input["plannedFailover"] = json!(true);
    }
    Ok(accepted(&sim, &job, &uri))
}

/// `DisableProtectionInput` (azure-mgmt-recoveryservicessiterecovery 2.0.0): `properties` is
/// required, and `replicationProviderInput` is a `DisableProtectionProviderSpecificInput`, whose
/// only discriminators are its own name (ReplicationProtectedItems_Delete.json sends
/// `{"instanceType": "DisableProtectionProviderSpecificInput"}`) and `InMage`
/// (`InMageDisableProtectionProviderSpecificInput`). A provider name such as `InMageRcm` is not one.
fn check_disable_input(input: &Value) -> Result<(), ArmError> {
    let Some(properties) = input.get("properties").filter(|p| p.is_object()) else {
        return Err(ArmError::bad_request(
            "InvalidParameter",
            "The properties property is required.",
        )
        .with_target("properties"));
    };
    let Some(provider_input) = properties.get("replicationProviderInput") else {
        return Ok(());
    };
    match provider_input["instanceType"].as_str() {
        Some("DisableProtectionProviderSpecificInput" | "InMage") => Ok(()),
        other => Err(bad(
            "replicationProviderInput.instanceType",
            format!(
                "The instanceType {} is not a known DisableProtectionProviderSpecificInput; expected DisableProtectionProviderSpecificInput or InMage.",
                other.map_or("(missing)".to_owned(), |t| format!("'{t}'"))
            ),
        )),
    }
}
