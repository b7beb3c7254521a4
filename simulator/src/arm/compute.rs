//! Microsoft.Compute/virtualMachines and the network interfaces and managed disks that go with
//! them, read-only: what Site Recovery's test failover and failover create in the target
//! resource group. A VM has a NIC in its target subnet (so the subnet is in use, as NRP counts
//! it) and a managed OS disk; removing a test VM removes those too.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::base_document;
use crate::app::Sim;
use crate::asr::model::TargetVm;
use crate::error::ArmError;
use crate::state::{Resource, World};

pub const TYPE: &str = "Microsoft.Compute/virtualMachines";
pub const NIC_TYPE: &str = "Microsoft.Network/networkInterfaces";
pub const DISK_TYPE: &str = "Microsoft.Compute/disks";

/// A VM as `VirtualMachines_Get` returns it: without `instanceView`, which Compute includes only
/// for `$expand=instanceView` (azure-mgmt-compute `InstanceViewTypes`), or served on its own by
/// `VirtualMachines_InstanceView` (`GET {vm}/instanceView`).
pub fn document(vm: &Resource) -> Value {
    base_document(vm, "Succeeded")
}

/// `VirtualMachineInstanceView`: the VMs Site Recovery creates run.
fn instance_view(vm: &Resource) -> Value {
    json!({
        "computerName": vm.name,
        "osName": vm.properties["storageProfile"]["osDisk"]["osType"],
        "statuses": [
            { "code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded" },
            { "code": "PowerState/running", "level": "Info", "displayStatus": "VM running" },
        ],
    })
}

/// A resource that exists, provisioned, as of `now` (what Site Recovery or the source region
/// has, not something a client is creating).
fn settled(
    id: String,
    resource_type: &str,
    group: &str,
    location: &str,
    properties: Value,
    now: Timestamp,
) -> Resource {
    Resource {
        name: id.rsplit('/').next().unwrap_or_default().to_owned(),
        id,
        resource_type: resource_type.into(),
        resource_group: group.to_owned(),
        location: Some(location.to_owned()),
        tags: BTreeMap::new(),
        sku: None,
        kind: None,
        properties,
        created_at: now,
        ready_at: now,
        deleting_until: None,
        failed: false,
    }
}

/// Stores the VM a finished (test) failover created, with its NIC and OS disk.
pub fn create_vm(world: &mut World, id: &str, vm: &TargetVm, now: Timestamp) {
    let name = id.rsplit('/').next().unwrap_or_default().to_owned();
    let group = vm
        .resource_group_id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let sibling = |provider_type: &str, suffix: &str| {
        format!(
            "{}/providers/{provider_type}/{name}{suffix}",
            vm.resource_group_id
        )
    };
    let resource = |id: String, resource_type: &str, properties: Value| {
        settled(id, resource_type, &group, &vm.location, properties, now)
    };
    let nic_id = sibling(NIC_TYPE, "-nic");
    let disk_id = sibling(DISK_TYPE, "-osdisk");
    let subnet_id = vm
        .network_id
        .as_deref()
        .and_then(|network| super::network::subnet_id(world, network, vm.subnet.as_deref()));
    let ip_configurations: Vec<Value> = subnet_id
        .into_iter()
        .map(|subnet| {
            // ASR gives the NIC the static address its item has; NRP gives a dynamic NIC the
            // lowest free address of its subnet.
            let (method, address) = match &vm.static_ip {
                Some(address) => ("Static", json!(address)),
                None => ("Dynamic", json!(super::network::next_free_address(world, &subnet))),
            };
            json!({
                "name": "ipconfig1",
                "id": format!("{nic_id}/ipConfigurations/ipconfig1"),
                "properties": { "privateIPAllocationMethod": method, "privateIPAddress": address, "subnet": { "id": subnet } },
            })
        })
        .collect();
    world.insert(resource(
        nic_id.clone(),
        NIC_TYPE,
        json!({
            "ipConfigurations": ip_configurations,
            "virtualMachine": { "id": id },
        }),
    ));
    world.insert(resource(
        disk_id.clone(),
        DISK_TYPE,
        json!({ "osType": vm.os_type, "diskState": "Attached" }),
    ));
    world.insert(resource(
        id.to_owned(),
        TYPE,
        json!({
            "vmId": uuid::Uuid::new_v4().to_string(),
            "hardwareProfile": { "vmSize": vm.size },
            "storageProfile": { "osDisk": { "osType": vm.os_type, "managedDisk": { "id": disk_id } } },
            "networkProfile": { "networkInterfaces": [{ "id": nic_id }] },
        }),
    ));
}

/// The VMs of an Azure-region source, as Compute reports them in their own region, with their
/// managed disks (`storageProfile.osDisk.managedDisk`, `dataDisks[].managedDisk`: Az PowerShell
/// reads the disks an A2A enable names from there). Added once, with their resource group,
/// where the world does not have them.
pub fn seed_source_vms(world: &mut World, source: &crate::inventory::Source, now: Timestamp) {
    for machine in &source.machines {
        if world.resource(&machine.id).is_some() {
            continue;
        }
        let Some(group) = machine
            .id
            .split('/')
            .skip_while(|s| !s.eq_ignore_ascii_case("resourceGroups"))
            .nth(1)
            .map(str::to_owned)
        else {
            continue;
        };
        let prefix = machine.id.split("/providers/").next().unwrap_or_default();
        if world.resource_group(&group).is_none() {
            world.resource_groups.insert(
                group.to_ascii_lowercase(),
                crate::state::ResourceGroup {
                    name: group.clone(),
                    location: source.name.clone(),
                    tags: BTreeMap::new(),
                    deleting_until: None,
                },
            );
        }
        let resource = |id: String, resource_type: &str, properties: Value| {
            settled(id, resource_type, &group, &source.name, properties, now)
        };
        let disk_id = |name: &str| format!("{prefix}/providers/{DISK_TYPE}/{name}");
        let managed =
            |name: &str| json!({ "id": disk_id(name), "storageAccountType": "Premium_LRS" });
        let os_disk = machine.disks.iter().find(|d| d.os_disk);
        let data_disks: Vec<Value> = machine
            .disks
            .iter()
            .filter(|d| !d.os_disk)
            .enumerate()
            .map(|(lun, d)| json!({ "lun": lun, "name": d.id, "diskSizeGB": d.size_gb, "managedDisk": managed(&d.id) }))
            .collect();
        for disk in &machine.disks {
            world.insert(resource(
                disk_id(&disk.id),
                DISK_TYPE,
                json!({ "diskSizeGB": disk.size_gb, "diskState": "Attached", "osType": disk.os_disk.then_some(&machine.os_type) }),
            ));
        }
        world.insert(resource(
            machine.id.clone(),
            TYPE,
            json!({
                "vmId": uuid::Uuid::new_v4().to_string(),
                "hardwareProfile": { "vmSize": "Standard_D2s_v5" },
                "storageProfile": {
                    "osDisk": os_disk.map(|d| json!({ "name": d.id, "osType": machine.os_type, "diskSizeGB": d.size_gb, "managedDisk": managed(&d.id) })),
                    "dataDisks": data_disks,
                },
            }),
        ));
    }
}

/// The managed disks of a VM (`storageProfile.osDisk` and `dataDisks`), by ID.
pub fn managed_disks(vm: &Resource) -> Vec<String> {
    let profile = &vm.properties["storageProfile"];
    std::iter::once(&profile["osDisk"])
        .chain(profile["dataDisks"].as_array().into_iter().flatten())
        .filter_map(|d| d["managedDisk"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// Removes a VM Site Recovery created (a cleaned-up test VM) with its NICs and OS disk.
pub fn delete_vm(world: &mut World, id: &str) {
    let Some(vm) = world.resources.remove(&id.to_ascii_lowercase()) else {
        return;
    };
    let properties = &vm.properties;
    let nics = properties["networkProfile"]["networkInterfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["id"].as_str());
    let disk = properties["storageProfile"]["osDisk"]["managedDisk"]["id"].as_str();
    for owned in nics.chain(disk) {
        world.resources.remove(&owned.to_ascii_lowercase());
    }
}

/// The NIC IP configurations that sit in a subnet, as NRP stores them.
fn ip_configurations_of(world: &World, subnet_id: &str) -> Vec<Value> {
    world
        .list(NIC_TYPE, None)
        .into_iter()
        .flat_map(|nic| {
            nic.properties["ipConfigurations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|c| {
            c["properties"]["subnet"]["id"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(subnet_id))
        })
        .collect()
}

/// The private addresses of the NIC IP configurations in a subnet.
pub fn ip_configuration_addresses_in(world: &World, subnet_id: &str) -> Vec<String> {
    ip_configurations_of(world, subnet_id)
        .iter()
        .filter_map(|c| {
            c["properties"]["privateIPAddress"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// The IDs of the NIC IP configurations that sit in a subnet (NRP's `Subnet.ipConfigurations`).
pub fn ip_configurations_in(world: &World, subnet_id: &str) -> Vec<String> {
    ip_configurations_of(world, subnet_id)
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect()
}

pub async fn get(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let Json(mut body) = super::get_in_group(&sim, &subscription, &group, TYPE, &name)?;
    let expand = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| {
            pair.strip_prefix("$expand=")
                .or_else(|| pair.strip_prefix("%24expand="))
        })
        .any(|value| value.eq_ignore_ascii_case("instanceView"));
    if expand {
        let world = sim.world();
        if let Some(vm) = world.resource(body["id"].as_str().unwrap_or_default()) {
            body["properties"]["instanceView"] = instance_view(vm);
        }
    }
    Ok(Json(body))
}

pub async fn get_instance_view(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    world.require_resource_group(&group)?;
    let vm = world
        .resource(&super::resource_id(&subscription, &group, TYPE, &name))
        .filter(|r| r.deleting_until.is_none())
        .ok_or_else(|| ArmError::not_found(TYPE, &name, &group))?;
    Ok(Json(instance_view(vm)))
}

pub async fn list(
    State(sim): State<Sim>,
    Path((_, group)): Path<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    super::list_in_group(&sim, &uri, &group, TYPE)
}

pub async fn get_nic(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    super::get_in_group(&sim, &subscription, &group, NIC_TYPE, &name)
}

pub async fn get_disk(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    super::get_in_group(&sim, &subscription, &group, DISK_TYPE, &name)
}
