//! Protectable items: the container's machines in the inventory.

use super::*;
use crate::inventory::Hardware;

/// The machines a container holds, with the name each has as a protectable item.
pub fn machines_of(
    inventory: &Inventory,
    container: &AsrObject,
) -> Vec<(String, SourceKind, Machine)> {
    let Some(source) = container
        .source
        .as_deref()
        .and_then(|s| inventory.source(s))
    else {
        return vec![];
    };
    let friendly = container.properties["friendlyName"]
        .as_str()
        .unwrap_or_default();
    source
        .machines
        .iter()
        .filter(|m| {
            source.kind != SourceKind::HyperVVmm
                || m.container
                    .as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case(friendly))
        })
        .map(|m| (protectable_name(source.kind, m), source.kind, m.clone()))
        .collect()
}

/// Whether ASR lists a source's machines as protectable items: Hyper-V's. Modernized VMware and
/// physical replication (InMageRcm) names the discovered machines of the fabric's Azure Migrate
/// site (`arm::migrate`), which is where Az PowerShell reads them from, and A2A names the
/// Compute VM. What real ASR answers for their containers' `replicationProtectableItems` is not
/// in the spec's examples; azure-sim lists none (docs/azure-fidelity.md).
pub(crate) fn has_protectable_items(kind: SourceKind) -> bool {
    matches!(kind, SourceKind::HyperVVmm | SourceKind::HyperVSite)
}

/// A protectable item's name: the VM GUID, discovery or instance ID, or the Azure VM's name.
pub fn protectable_name(kind: SourceKind, machine: &Machine) -> String {
    match kind {
        SourceKind::AzureRegion => machine
            .id
            .rsplit('/')
            .next()
            .unwrap_or(&machine.name)
            .to_ascii_lowercase(),
        _ => machine.id.to_ascii_lowercase(),
    }
}

pub(crate) fn protectable_document(
    world: &World,
    container: &AsrObject,
    name: &str,
    kind: SourceKind,
    machine: &Machine,
) -> Value {
    let id = format!("{}/replicationProtectableItems/{name}", container.id);
    let protected = world
        .asr
        .items
        .values()
        .find(|i| i.protectable_item_id.eq_ignore_ascii_case(&id));
    let disks: Vec<Value> = machine
        .disks
        .iter()
        .map(|d| json!({ "vhdId": d.id, "vhdName": hyper_v_vhd_name(&d.id), "maxSizeMB": d.size_gb * 1024, "vhdType": if d.os_disk { "OperatingSystem" } else { "DataDisk" } }))
        .collect();
    let custom = match kind {
        SourceKind::Vmware | SourceKind::Physical | SourceKind::Aws => json!({
            "instanceType": kind.machine_type(),
            "agentGeneratedId": machine.id,
            "agentInstalled": "true",
            "osType": machine.os_type,
            "agentVersion": "9.62",
            "poweredOn": "true",
            "discoveryType": if kind == SourceKind::Vmware { "VMware" } else { "Physical" },
            "diskDetails": machine.disks.iter().map(|d| json!({ "diskId": d.id, "diskName": d.id, "diskSizeInMB": (d.size_gb * 1024).to_string(), "diskType": if d.os_disk { "OperatingSystem" } else { "DataDisk" } })).collect::<Vec<_>>(),
        }),
        _ => {
            let mut details = json!({
                "instanceType": kind.machine_type(),
                "sourceItemId": machine.id,
                "generation": machine.generation.unwrap_or(2).to_string(),
                "osDetails": { "osType": machine.os_type, "productType": machine.os_name },
                "diskDetails": disks,
            });
            for hardware in Hardware::ALL {
                details[hardware.field()] = json!(if machine.hardware.contains(&hardware) {
                    "Present"
                } else {
                    "NotPresent"
                });
            }
            details
        }
    };
    json!({
        "id": id,
        "name": name,
        "type": "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectableItems",
        "properties": {
            "friendlyName": machine.name,
            "protectionStatus": if protected.is_some() { "Protected" } else { "Unprotected" },
            "replicationProtectedItemId": protected.map(|i| i.id.clone()),
            "protectionReadinessErrors": [],
            "supportedReplicationProviders": [kind.provider()],
                        "customDetails": custom,
        },
    })
}

pub async fn list_protectable_items(
    State(sim): State<Sim>,
    Path((s, g, v, f, c)): ContainerPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let inventory = sim.inventory();
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let container = require(
        &world,
        &container_id(&vault_id, &f, &c),
        "protection container",
        &c,
    )?;
    let items = machines_of(&inventory, container)
        .iter()
        .filter(|(_, kind, _)| has_protectable_items(*kind))
        .map(|(name, kind, m)| protectable_document(&world, container, name, *kind, m))
        .collect();
    Ok(Json(page(&sim, &uri, items)))
}

pub async fn get_protectable_item(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, p)): ChildPath,
) -> Result<Json<Value>, ArmError> {
    let inventory = sim.inventory();
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let container = require(
        &world,
        &container_id(&vault_id, &f, &c),
        "protection container",
        &c,
    )?;
    let (name, kind, machine) = machines_of(&inventory, container)
        .into_iter()
        .filter(|(_, kind, _)| has_protectable_items(*kind))
        .find(|(n, _, _)| n.eq_ignore_ascii_case(&p))
        .ok_or_else(|| asr_not_found("protectable item", &p))?;
    Ok(Json(protectable_document(
        &world, container, &name, kind, &machine,
    )))
}
