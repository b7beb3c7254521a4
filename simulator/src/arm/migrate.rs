//! Microsoft.OffAzure: the Azure Migrate discovery sites a replication appliance reports its
//! machines to, read-only. ASR's modernized VMware/physical replication (InMageRcm) has no
//! protectable items: its fabric names the sites (`InMageRcmFabricSpecificDetails.vmwareSiteId`
//! and `physicalSiteId`), and an enable names the discovered machine by its ARM ID
//! (`fabricDiscoveryMachineId`) and, to push the Mobility agent, a run-as account of the site
//! (`runAsAccountId`). This is how Az PowerShell (`PSAsrFabricDiscoveryClient`:
//! `GET {site}/machines` and `GET {site}/runasaccounts`, api-version 2020-01-01, VMware sites)
//! and terraform-provider-azurerm (`site_recovery_vmware_replicated_vm_resource.go`) find them.
//!
//! Shapes follow the Microsoft.OffAzure examples in Azure/azure-rest-api-specs:
//! `2020-01-01/examples/VMwareMachines_ListBySite.json`, `VMwareRunAsAccount_ListBySite.json`,
//! `VMwareSite_Get.json`, and for physical servers `2023-06-06` (`ServersController_*`,
//! `ServerSitesController_Get_*`; 2020-01-01 has no ServerSites). Where a site lives (the
//! Azure Migrate project's resource group; here the vault's) and how machines are named are
//! azure-sim's choices (docs/azure-fidelity.md).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use serde_json::{Value, json};

use super::page;
use crate::app::Sim;
use crate::error::ArmError;
use crate::inventory::{Machine, Source, SourceKind};

pub const VMWARE_SITES: &str = "Microsoft.OffAzure/VMwareSites";
pub const SERVER_SITES: &str = "Microsoft.OffAzure/ServerSites";

/// The discovery sites of an appliance registered with `vault_id`: (VMware site, server site).
pub fn site_ids(source: &Source, vault_id: &str) -> (String, String) {
    let group = vault_id
        .split("/providers/")
        .next()
        .unwrap_or(vault_id)
        .to_owned();
    let name = crate::asr::object_name(&source.name);
    (
        format!("{group}/providers/{VMWARE_SITES}/{name}-vmwaresite"),
        format!("{group}/providers/{SERVER_SITES}/{name}-serversite"),
    )
}

/// The site of `id`, its kind (VMware or server), and the appliance behind it, if a registered
/// appliance has it.
fn site_of<'a>(
    sim: &Sim,
    id: &str,
    inventory: &'a crate::inventory::Inventory,
) -> Option<(&'a Source, bool)> {
    let world = sim.world();
    inventory.sources.iter().find_map(|source| {
        if !matches!(
            source.kind,
            SourceKind::Vmware | SourceKind::Physical | SourceKind::Aws
        ) {
            return None;
        }
        let vault_id = world
            .asr
            .registered
            .get(&source.name.to_ascii_lowercase())?;
        let (vmware, server) = site_ids(source, vault_id);
        if vmware.eq_ignore_ascii_case(id) {
            Some((source, true))
        } else if server.eq_ignore_ascii_case(id) {
            Some((source, false))
        } else {
            None
        }
    })
}

/// Whether the site of this kind is the one the appliance discovers its machines into.
fn holds_machines(source: &Source, vmware: bool) -> bool {
    (source.kind == SourceKind::Vmware) == vmware
}

/// A discovered machine's name in its site (`machines/{name}`).
pub fn machine_name(machine: &Machine) -> String {
    machine.id.to_ascii_lowercase()
}

/// The disk ID an InMageRcm enable names a disk of a discovered machine by: the VMware disk's
/// `uuid` (Az PowerShell's `ASRProtectableItem.UpdateDiskDetails` maps `Id = disk.Uuid`), or a
/// server's `diskId`.
pub fn disk_id(disk: &crate::inventory::Disk) -> &str {
    &disk.id
}

fn site_id(s: &str, g: &str, provider_type: &str, site: &str) -> String {
    format!("/subscriptions/{s}/resourceGroups/{g}/providers/{provider_type}/{site}")
}

fn not_found(provider_type: &str, site: &str, group: &str) -> ArmError {
    ArmError::not_found(provider_type, site, group)
}

fn site_document(id: &str, source: &Source, vmware: bool) -> Value {
    json!({
        "id": id,
        "name": id.rsplit('/').next().unwrap_or_default(),
        "type": if vmware { "Microsoft.OffAzure/VMwareSites" } else { "Microsoft.OffAzure/ServerSites" },
        "location": "",
        "properties": {
            "agentDetails": { "id": format!("{}-agent", source.name), "version": "2.0.0", "lastHeartBeatUtc": null },
            "applianceName": source.name,
            "discoverySolutionId": null,
            "serviceEndpoint": "https://localhost",
            "provisioningState": "Succeeded",
        },
    })
}

fn run_as_account_document(
    site: &str,
    source: &Source,
    account: &crate::inventory::RunAsAccount,
    vmware: bool,
) -> Value {
    let name = account.name.to_ascii_lowercase();
    json!({
        "id": format!("{site}/runasaccounts/{name}"),
        "name": name,
        "type": if vmware { "Microsoft.OffAzure/vmwaresites/runasaccounts" } else { "Microsoft.OffAzure/serversites/runasaccounts" },
        "properties": {
            "displayName": account.name,
            "credentialType": account.credential_type,
            "applianceName": source.name,
            "createdTimestamp": "2026-01-01T00:00:00Z",
            "updatedTimestamp": "2026-01-01T00:00:00Z",
        },
    })
}

fn machine_document(site: &str, source: &Source, machine: &Machine, vmware: bool) -> Value {
    let id = format!("{site}/machines/{}", machine_name(machine));
    let windows = machine.os_type.eq_ignore_ascii_case("Windows");
    if vmware {
        let disks: Vec<Value> = machine
            .disks
            .iter()
            .enumerate()
            .map(|(n, d)| json!({ "uuid": disk_id(d), "label": format!("Hard disk {}", n + 1), "name": format!("scsi0:{n}"), "maxSizeInBytes": d.size_gb * 1024 * 1024 * 1024, "diskType": "Static", "lun": n }))
            .collect();
        return json!({
            "id": id,
            "name": machine_name(machine),
            "type": "Microsoft.OffAzure/VMwareSites/machines",
            "properties": {
                "displayName": machine.name,
                "instanceUuid": machine.id,
                "vmFqdn": "",
                "powerStatus": "ON",
                "disks": disks,
                "operatingSystemDetails": { "osType": if windows { "windowsguest" } else { "linuxguest" }, "osName": machine.os_name, "osVersion": null },
                "applianceNames": [source.name],
                "isDeleted": false,
                "errors": [],
            },
        });
    }
    let disks: Vec<Value> = machine
        .disks
        .iter()
        .enumerate()
        .map(|(n, d)| json!({ "diskId": disk_id(d), "generatedId": disk_id(d), "id": format!("\\\\.\\PHYSICALDRIVE{n}"), "name": disk_id(d), "maxSizeInBytes": d.size_gb * 1024 * 1024 * 1024, "diskType": "Basic", "lun": n }))
        .collect();
    let run_as = source
        .run_as_accounts
        .first()
        .map(|a| format!("{site}/runasaccounts/{}", a.name.to_ascii_lowercase()));
    let bios_guid = uuid::Uuid::parse_str(&machine.id)
        .ok()
        .map(|u| u.to_string());
    json!({
        "id": id,
        "name": machine_name(machine),
        "type": "Microsoft.OffAzure/serversites/machines",
        "properties": {
            "displayName": machine.name,
            "fqdn": machine.name,
            "biosGuid": bios_guid,
            "disks": disks,
            "operatingSystemDetails": { "osType": if windows { "WindowsGuest" } else { "LinuxGuest" }, "osName": machine.os_name, "osVersion": null },
            "runAsAccountId": run_as,
            "applianceNames": [source.name],
            "isDeleted": false,
            "provisioningState": "Succeeded",
        },
    })
}

/// `{subscription}/{group}/{VMwareSites|ServerSites}/{site}`.
type SitePath = Path<(String, String, String, String)>;

/// The site a request names: its ID, the appliance behind it, and whether it is a VMware site.
fn requested_site(
    sim: &Sim,
    inventory: &crate::inventory::Inventory,
    (s, g, kind, site): &(String, String, String, String),
) -> Result<(String, Source, bool), ArmError> {
    let provider_type = [VMWARE_SITES, SERVER_SITES]
        .into_iter()
        .find(|t| {
            t.rsplit('/')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(kind))
        })
        .ok_or_else(|| not_found(&format!("Microsoft.OffAzure/{kind}"), site, g))?;
    let id = site_id(s, g, provider_type, site);
    let (source, vmware) =
        site_of(sim, &id, inventory).ok_or_else(|| not_found(provider_type, site, g))?;
    Ok((id, source.clone(), vmware))
}

/// `GET {site}`.
pub async fn get_site(
    State(sim): State<Sim>,
    Path(path): SitePath,
) -> Result<Json<Value>, ArmError> {
    let inventory = sim.inventory();
    let (id, source, vmware) = requested_site(&sim, &inventory, &path)?;
    Ok(Json(site_document(&id, &source, vmware)))
}

/// `GET {site}/machines`: what the appliance discovered (only the site of its kind holds any).
pub async fn list_machines(
    State(sim): State<Sim>,
    Path(path): SitePath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let inventory = sim.inventory();
    let (id, source, vmware) = requested_site(&sim, &inventory, &path)?;
    let machines = source
        .machines
        .iter()
        .filter(|_| holds_machines(&source, vmware))
        .map(|m| machine_document(&id, &source, m, vmware))
        .collect();
    Ok(Json(page(&sim, &uri, machines)))
}

/// `GET {site}/runasaccounts`.
pub async fn list_run_as_accounts(
    State(sim): State<Sim>,
    Path(path): SitePath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let inventory = sim.inventory();
    let (id, source, vmware) = requested_site(&sim, &inventory, &path)?;
    let accounts = source
        .run_as_accounts
        .iter()
        .filter(|_| holds_machines(&source, vmware))
        .map(|a| run_as_account_document(&id, &source, a, vmware))
        .collect();
    Ok(Json(page(&sim, &uri, accounts)))
}

/// The site an appliance's machines are discovered into.
fn machine_site(source: &Source, vault_id: &str) -> String {
    let (vmware, server) = site_ids(source, vault_id);
    if source.kind == SourceKind::Vmware {
        vmware
    } else {
        server
    }
}

/// The discovered machine an InMageRcm enable names (`fabricDiscoveryMachineId`), among the
/// machines of the fabric's sites; `Err` says why it is not one.
pub fn discovered_machine<'a>(
    source: &'a Source,
    vault_id: &str,
    machine_id: &str,
) -> Result<&'a Machine, String> {
    let site = machine_site(source, vault_id);
    let Some((in_site, name)) = machine_id.rsplit_once("/machines/") else {
        return Err(format!(
            "{machine_id} is not the ARM ID of a discovered machine ({site}/machines/...)."
        ));
    };
    if !in_site.eq_ignore_ascii_case(&site) {
        return Err(format!(
            "The machine {machine_id} is not in the fabric's discovery site {site}."
        ));
    }
    source
        .machines
        .iter()
        .find(|m| machine_name(m).eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("The machine {machine_id} was not discovered in the site {site}."))
}

/// Whether `account_id` is a run-as account of the appliance's site.
pub fn is_run_as_account(source: &Source, vault_id: &str, account_id: &str) -> bool {
    let site = machine_site(source, vault_id);
    source.run_as_accounts.iter().any(|a| {
        format!("{site}/runasaccounts/{}", a.name.to_ascii_lowercase())
            .eq_ignore_ascii_case(account_id)
    })
}
