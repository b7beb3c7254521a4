//! Fabrics, protection containers, protectable items, networks and network mappings,
//! replication policies and container mappings.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{AsrObject, ObjectKind, Scenario};
use super::{
    InjectedJobFailure, JobTarget, MICROSOFT_AZURE, accepted, asr_not_found, children,
    fabric_properties, find, insert, insert_container, object_document, require_object,
    require_vault, start_job,
};
use crate::app::Sim;
use crate::arm::{page, parse_body};
use crate::error::ArmError;
use crate::inventory::{AsrKind, Inventory, Machine, SourceKind};
use crate::state::World;

type VaultPath = Path<(String, String, String)>;
type FabricPath = Path<(String, String, String, String)>;
type ContainerPath = Path<(String, String, String, String, String)>;
type ChildPath = Path<(String, String, String, String, String, String)>;

fn list_of(sim: &Sim, uri: &Uri, objects: Vec<&AsrObject>) -> Json<Value> {
    Json(page(
        sim,
        uri,
        objects.into_iter().map(object_document).collect(),
    ))
}

/// The file name a Hyper-V VM's disk has (`DiskDetails.vhdName`), distinct from its `vhdId`.
pub fn hyper_v_vhd_name(disk_id: &str) -> String {
    format!("{disk_id}.vhdx")
}

fn fabric_id(vault_id: &str, fabric: &str) -> String {
    format!("{vault_id}/replicationFabrics/{fabric}")
}

fn require<'w>(
    world: &'w World,
    id: &str,
    kind: &str,
    name: &str,
) -> Result<&'w AsrObject, ArmError> {
    find(world, id).ok_or_else(|| asr_not_found(kind, name))
}

// ---- fabrics ----

pub async fn list_fabrics(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(list_of(
        &sim,
        &uri,
        children(&world, ObjectKind::Fabric, &vault_id, None),
    ))
}

pub async fn get_fabric(
    State(sim): State<Sim>,
    Path((s, g, v, f)): FabricPath,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(Json(object_document(require_object(
        &world,
        &vault_id,
        ObjectKind::Fabric,
        &fabric_id(&vault_id, &f),
        "fabric",
    )?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FabricInput {
    properties: FabricInputProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FabricInputProperties {
    custom_details: Value,
}

/// Creates a fabric: a Hyper-V site, an Azure region (A2A), or an InMage RCM site.
pub async fn put_fabric(
    State(sim): State<Sim>,
    Path((s, g, v, f)): FabricPath,
    failure: Option<Extension<InjectedJobFailure>>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let input: FabricInput = parse_body(&body)?;
    let instance_type = input.properties.custom_details["instanceType"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = fabric_id(&vault_id, &f);
    let mut custom = json!({ "instanceType": instance_type });
    let location = match instance_type.as_str() {
        "HyperVSite" => {
            custom["hyperVHosts"] = json!([]);
            None
        }
        "Azure" => {
            let location = input.properties.custom_details["location"]
                .as_str()
                .unwrap_or_default();
            let location = crate::arm::check_location(
                location,
                "Microsoft.RecoveryServices/vaults/replicationFabrics",
            )?;
            custom["location"] = json!(location);
            custom["containerIds"] = json!([]);
            Some(location)
        }
        "InMageRcm" => {
            custom["processServers"] = super::process_servers(&f);
            None
        }
        other => {
            return Err(ArmError::bad_request("InvalidParameter", format!("Fabric type '{other}' cannot be created through ARM; use HyperVSite, Azure or InMageRcm.")).with_target("properties.customDetails.instanceType"));
        }
    };
    if find(&world, &id).is_none() && failure.is_none() {
        insert(
            &mut world,
            AsrObject {
                id: id.clone(),
                name: f.clone(),
                kind: ObjectKind::Fabric,
                vault_id: vault_id.clone(),
                parent_id: None,
                source: None,
                location: location.clone(),
                properties: fabric_properties(&f, custom),
            },
        );
        if instance_type == "InMageRcm" {
            insert_container(&mut world, &id, &f, "InMageRcm", &format!("{f}-container"));
        }
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &f,
            instance_type: "Fabric",
        },
        now,
        failure.map(|e| e.0),
    );
    Ok(accepted(&sim, &job, &uri))
}

fn remove_fabric_objects(world: &mut World, id: &str) -> Result<(), ArmError> {
    let key = id.to_ascii_lowercase();
    if world
        .asr
        .items
        .values()
        .any(|i| i.fabric_id.eq_ignore_ascii_case(id))
    {
        return Err(ArmError::bad_request(
            "FabricHasProtectedItems",
            format!("The fabric {id} still protects machines; disable their replication first."),
        ));
    }
    world
        .asr
        .objects
        .retain(|k, _| !(k == &key || k.starts_with(&format!("{key}/"))));
    Ok(())
}

pub async fn remove_fabric(
    State(sim): State<Sim>,
    Path((s, g, v, f)): FabricPath,
    uri: Uri,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = fabric_id(&vault_id, &f);
    require(&world, &id, "fabric", &f)?;
    remove_fabric_objects(&mut world, &id)?;
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &f,
            instance_type: "Fabric",
        },
        now,
        None,
    );
    Ok(accepted(&sim, &job, &uri))
}

pub async fn purge_fabric(
    State(sim): State<Sim>,
    Path((s, g, v, f)): FabricPath,
) -> Result<StatusCode, ArmError> {
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = fabric_id(&vault_id, &f);
    if find(&world, &id).is_none() {
        return Ok(StatusCode::NO_CONTENT);
    }
    remove_fabric_objects(&mut world, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- containers ----

pub async fn list_containers(
    State(sim): State<Sim>,
    Path((s, g, v, f)): FabricPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let fabric = fabric_id(&vault_id, &f);
    require(&world, &fabric, "fabric", &f)?;
    Ok(list_of(
        &sim,
        &uri,
        children(&world, ObjectKind::Container, &vault_id, Some(&fabric)),
    ))
}

pub async fn list_all_containers(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(list_of(
        &sim,
        &uri,
        children(&world, ObjectKind::Container, &vault_id, None),
    ))
}

fn container_id(vault_id: &str, fabric: &str, container: &str) -> String {
    format!(
        "{}/replicationProtectionContainers/{container}",
        fabric_id(vault_id, fabric)
    )
}

pub async fn get_container(
    State(sim): State<Sim>,
    Path((s, g, v, f, c)): ContainerPath,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(Json(object_document(require(
        &world,
        &container_id(&vault_id, &f, &c),
        "protection container",
        &c,
    )?)))
}

/// Creates a container in an Azure (A2A) fabric; other sources' containers come from registration.
pub async fn put_container(
    State(sim): State<Sim>,
    Path((s, g, v, f, c)): ContainerPath,
    failure: Option<Extension<InjectedJobFailure>>,
    uri: Uri,
    _body: Bytes,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let inventory = sim.inventory();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let fabric = require(&world, &fabric_id(&vault_id, &f), "fabric", &f)?.clone();
    if fabric.properties["customDetails"]["instanceType"] != "Azure" {
        return Err(ArmError::bad_request(
            "InvalidParameter",
            format!(
                "Containers of fabric '{f}' appear when its source registers; only Azure fabrics take new containers."
            ),
        ));
    }
    let id = container_id(&vault_id, &f, &c);
    if find(&world, &id).is_none() && failure.is_none() {
        let region = fabric.location.clone().unwrap_or_default();
        let source = inventory
            .sources
            .iter()
            .find(|src| {
                src.kind == SourceKind::AzureRegion && src.name.eq_ignore_ascii_case(&region)
            })
            .map(|src| src.name.clone());
        insert_container(
            &mut world,
            &fabric.id,
            source.as_deref().unwrap_or(&region),
            "Azure",
            &c,
        );
        if let Some(container) = world.asr.objects.get_mut(&id.to_ascii_lowercase()) {
            container.source = source;
        }
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &c,
            instance_type: "ProtectionContainer",
        },
        now,
        failure.map(|e| e.0),
    );
    Ok(accepted(&sim, &job, &uri))
}

// ---- protectable items: the container's machines in the inventory ----

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
fn has_protectable_items(kind: SourceKind) -> bool {
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

fn protectable_document(
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
        _ => json!({
            "instanceType": kind.machine_type(),
            "sourceItemId": machine.id,
            "generation": "2",
            "osDetails": { "osType": machine.os_type, "productType": machine.os_name },
            "diskDetails": disks,
        }),
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

// ---- networks and network mappings ----

pub async fn list_networks(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(list_of(
        &sim,
        &uri,
        children(&world, ObjectKind::Network, &vault_id, None),
    ))
}

pub async fn list_fabric_networks(
    State(sim): State<Sim>,
    Path((s, g, v, f)): FabricPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(list_of(
        &sim,
        &uri,
        children(
            &world,
            ObjectKind::Network,
            &vault_id,
            Some(&fabric_id(&vault_id, &f)),
        ),
    ))
}

fn network_id(vault_id: &str, fabric: &str, network: &str) -> String {
    format!(
        "{}/replicationNetworks/{network}",
        fabric_id(vault_id, fabric)
    )
}

pub async fn get_network(
    State(sim): State<Sim>,
    Path((s, g, v, f, n)): ContainerPath,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(Json(object_document(require(
        &world,
        &network_id(&vault_id, &f, &n),
        "network",
        &n,
    )?)))
}

pub async fn list_network_mappings(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(list_of(
        &sim,
        &uri,
        children(&world, ObjectKind::NetworkMapping, &vault_id, None),
    ))
}

pub async fn list_network_mappings_of_network(
    State(sim): State<Sim>,
    Path((s, g, v, f, n)): ContainerPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(list_of(
        &sim,
        &uri,
        children(
            &world,
            ObjectKind::NetworkMapping,
            &vault_id,
            Some(&network_id(&vault_id, &f, &n)),
        ),
    ))
}

pub async fn get_network_mapping(
    State(sim): State<Sim>,
    Path((s, g, v, f, n, m)): ChildPath,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = format!(
        "{}/replicationNetworkMappings/{m}",
        network_id(&vault_id, &f, &n)
    );
    Ok(Json(object_document(require_object(
        &world,
        &vault_id,
        ObjectKind::NetworkMapping,
        &id,
        "network mapping",
    )?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkMappingInput {
    properties: NetworkMappingInputProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkMappingInputProperties {
    #[serde(default)]
    recovery_fabric_name: Option<String>,
    recovery_network_id: String,
    #[serde(default)]
    fabric_specific_details: Value,
}

/// Maps a source network (a VMM VM network, or an A2A source VNet's network object) to a VNet.
pub async fn put_network_mapping(
    State(sim): State<Sim>,
    Path((s, g, v, f, n, m)): ChildPath,
    failure: Option<Extension<InjectedJobFailure>>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let input: NetworkMappingInput = parse_body(&body)?;
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let fabric = require(&world, &fabric_id(&vault_id, &f), "fabric", &f)?.clone();
    let network = network_id(&vault_id, &f, &n);
    let primary = find(&world, &network).cloned();
    let azure = fabric.properties["customDetails"]["instanceType"] == "Azure";
    if primary.is_none() && !azure {
        return Err(asr_not_found("network", &n));
    }
    // FabricSpecificCreateNetworkMappingInput: VmmToAzure, or AzureToAzure whose
    // primaryNetworkId (the source VNet) is required; an A2A mapping's recoveryFabricName is
    // the target region's fabric (AzureToAzureCreateNetworkMappingInput; terraform-provider-azurerm).
    let details = &input.properties.fabric_specific_details;
    let bad = |field: &str, message: String| {
        ArmError::bad_request("InvalidParameter", message)
            .with_target(&format!("properties.{field}"))
    };
    let recovery_fabric_id = match (details["instanceType"].as_str(), azure) {
        (Some("VmmToAzure"), false) => None,
        (Some("AzureToAzure"), true) => {
            if details["primaryNetworkId"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                return Err(bad(
                    "fabricSpecificDetails.primaryNetworkId",
                    "The primaryNetworkId property is required.".into(),
                ));
            }
            let name = input
                .properties
                .recovery_fabric_name
                .as_deref()
                .unwrap_or_default();
            let recovery = find(&world, &fabric_id(&vault_id, name))
                .filter(|r| r.properties["customDetails"]["instanceType"] == "Azure")
                .ok_or_else(|| {
                    bad(
                        "recoveryFabricName",
                        format!(
                            "The recovery fabric '{name}' is not an Azure fabric of this vault."
                        ),
                    )
                })?;
            Some(recovery.id.clone())
        }
        (other, _) => {
            return Err(bad(
                "fabricSpecificDetails.instanceType",
                format!(
                    "The instanceType {} does not map a network of a {} fabric.",
                    other.map_or("(missing)".to_owned(), |t| format!("'{t}'")),
                    fabric.properties["customDetails"]["instanceType"]
                        .as_str()
                        .unwrap_or_default()
                ),
            ));
        }
    };
    let recovery = input.properties.recovery_network_id.clone();
    let vnet = world
        .resource(&recovery)
        .filter(|r| r.deleting_until.is_none())
        .cloned()
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidRecoveryNetwork",
                format!("The recovery network {recovery} does not exist."),
            )
            .with_target("properties.recoveryNetworkId")
        })?;
    let id = format!("{network}/replicationNetworkMappings/{m}");
    let primary_friendly = primary
        .as_ref()
        .and_then(|p| p.properties["friendlyName"].as_str().map(str::to_owned))
        .unwrap_or_else(|| n.clone());
    // A job that fails changes nothing (docs/azure-fidelity.md).
    if failure.is_none() {
        insert(
            &mut world,
            AsrObject {
                id: id.clone(),
                name: m.clone(),
                kind: ObjectKind::NetworkMapping,
                vault_id: vault_id.clone(),
                parent_id: Some(network.clone()),
                source: None,
                location: None,
                properties: json!({
                    "state": "Paired",
                    "primaryNetworkFriendlyName": primary_friendly,
                    "primaryNetworkId": network,
                    "primaryFabricFriendlyName": fabric.properties["friendlyName"],
                    "recoveryNetworkFriendlyName": vnet.name,
                    "recoveryNetworkId": vnet.id,
                    "recoveryFabricArmId": recovery_fabric_id.unwrap_or_else(|| fabric.id.clone()),
                    "recoveryFabricFriendlyName": input.properties.recovery_fabric_name.unwrap_or_else(|| MICROSOFT_AZURE.into()),
                    "fabricSpecificSettings": { "instanceType": input.properties.fabric_specific_details["instanceType"].as_str().unwrap_or("VmmToAzure") },
                }),
            },
        );
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &m,
            instance_type: "NetworkMapping",
        },
        now,
        failure.map(|e| e.0),
    );
    Ok(accepted(&sim, &job, &uri))
}

pub async fn delete_network_mapping(
    State(sim): State<Sim>,
    Path((s, g, v, f, n, m)): ChildPath,
    uri: Uri,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = format!(
        "{}/replicationNetworkMappings/{m}",
        network_id(&vault_id, &f, &n)
    );
    if world.asr.objects.remove(&id.to_ascii_lowercase()).is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &m,
            instance_type: "NetworkMapping",
        },
        now,
        None,
    );
    Ok(accepted(&sim, &job, &uri))
}

// ---- policies ----

pub async fn list_policies(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(list_of(
        &sim,
        &uri,
        children(&world, ObjectKind::Policy, &vault_id, None),
    ))
}

pub async fn get_policy(
    State(sim): State<Sim>,
    Path((s, g, v, p)): FabricPath,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(Json(object_document(require_object(
        &world,
        &vault_id,
        ObjectKind::Policy,
        &format!("{vault_id}/replicationPolicies/{p}"),
        "policy",
    )?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyInput {
    properties: PolicyInputProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyInputProperties {
    provider_specific_input: Value,
}

/// The policy's `providerSpecificDetails` for its input, or ASR's 400 for values it refuses.
fn policy_details(input: &Value) -> Result<Value, ArmError> {
    let int = |key: &str| input[key].as_i64();
    let invalid = |field: &str, why: String| {
        Err(ArmError::bad_request("InvalidParameter", why)
            .with_target(&format!("properties.providerSpecificInput.{field}")))
    };
    match input["instanceType"].as_str().unwrap_or_default() {
        "HyperVReplicaAzure" => {
            let retention = int("recoveryPointHistoryDuration").unwrap_or(2);
            let app = int("applicationConsistentSnapshotFrequencyInHours").unwrap_or(1);
            let interval = int("replicationInterval").unwrap_or(300);
            if !(0..=24).contains(&retention) {
                return invalid(
                    "recoveryPointHistoryDuration",
                    format!(
                        "Recovery point retention of {retention} hours is not supported; use 0 to 24."
                    ),
                );
            }
            if !(0..=12).contains(&app) {
                return invalid(
                    "applicationConsistentSnapshotFrequencyInHours",
                    format!(
                        "App-consistent snapshot frequency of {app} hours is not supported; use 0 to 12."
                    ),
                );
            }
            if ![30, 300, 900].contains(&interval) {
                return invalid(
                    "replicationInterval",
                    format!(
                        "Replication interval of {interval} seconds is not supported; use 30, 300 or 900."
                    ),
                );
            }
            Ok(json!({
                "instanceType": "HyperVReplicaAzure",
                "recoveryPointHistoryDurationInHours": retention,
                "applicationConsistentSnapshotFrequencyInHours": app,
                "replicationInterval": interval,
                "onlineReplicationStartTime": input["onlineReplicationStartTime"],
                "encryption": "Disabled",
                "activeStorageAccountId": input["storageAccounts"].get(0),
            }))
        }
        "InMageRcm" => {
            let retention = int("recoveryPointHistoryInMinutes").unwrap_or(1440);
            if !(0..=21600).contains(&retention) {
                return invalid(
                    "recoveryPointHistoryInMinutes",
                    format!(
                        "Recovery point retention of {retention} minutes is not supported; use up to 21600 (15 days)."
                    ),
                );
            }
            Ok(json!({
                "instanceType": "InMageRcm",
                "recoveryPointHistoryInMinutes": retention,
                "appConsistentFrequencyInMinutes": int("appConsistentFrequencyInMinutes").unwrap_or(240),
                "crashConsistentFrequencyInMinutes": int("crashConsistentFrequencyInMinutes").unwrap_or(5),
                "enableMultiVmSync": input["enableMultiVmSync"].as_str().unwrap_or("True"),
            }))
        }
        "A2A" => {
            let retention = int("recoveryPointHistory").unwrap_or(1440);
            if !(0..=21600).contains(&retention) {
                return invalid(
                    "recoveryPointHistory",
                    format!(
                        "Recovery point retention of {retention} minutes is not supported; use up to 21600 (15 days)."
                    ),
                );
            }
            Ok(json!({
                "instanceType": "A2A",
                "recoveryPointHistory": retention,
                "appConsistentFrequencyInMinutes": int("appConsistentFrequencyInMinutes").unwrap_or(240),
                "crashConsistentFrequencyInMinutes": 5,
                "multiVmSyncStatus": input["multiVmSyncStatus"].as_str().unwrap_or("Enable"),
            }))
        }
        other => invalid(
            "instanceType",
            format!(
                "Replication provider '{other}' is not supported; use HyperVReplicaAzure, InMageRcm or A2A."
            ),
        ),
    }
}

pub async fn put_policy(
    State(sim): State<Sim>,
    Path((s, g, v, p)): FabricPath,
    failure: Option<Extension<InjectedJobFailure>>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let input: PolicyInput = parse_body(&body)?;
    let details = policy_details(&input.properties.provider_specific_input)?;
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = format!("{vault_id}/replicationPolicies/{p}");
    // A job that fails changes nothing (docs/azure-fidelity.md).
    if failure.is_none() {
        insert(
            &mut world,
            AsrObject {
                id: id.clone(),
                name: p.clone(),
                kind: ObjectKind::Policy,
                vault_id: vault_id.clone(),
                parent_id: None,
                source: None,
                location: None,
                properties: json!({ "friendlyName": p, "providerSpecificDetails": details }),
            },
        );
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &p,
            instance_type: "Policy",
        },
        now,
        failure.map(|e| e.0),
    );
    Ok(accepted(&sim, &job, &uri))
}

pub async fn delete_policy(
    State(sim): State<Sim>,
    Path((s, g, v, p)): FabricPath,
    uri: Uri,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = format!("{vault_id}/replicationPolicies/{p}");
    if find(&world, &id).is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if children(&world, ObjectKind::ContainerMapping, &vault_id, None)
        .iter()
        .any(|m| {
            m.properties["policyId"]
                .as_str()
                .is_some_and(|pid| pid.eq_ignore_ascii_case(&id))
        })
    {
        return Err(ArmError::bad_request(
            "PolicyInUse",
            format!(
                "The policy {p} is associated with protection containers; remove the container mappings first."
            ),
        ));
    }
    world.asr.objects.remove(&id.to_ascii_lowercase());
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &p,
            instance_type: "Policy",
        },
        now,
        None,
    );
    Ok(accepted(&sim, &job, &uri))
}

// ---- container mappings ----

pub async fn list_container_mappings(
    State(sim): State<Sim>,
    Path((s, g, v, f, c)): ContainerPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(list_of(
        &sim,
        &uri,
        children(
            &world,
            ObjectKind::ContainerMapping,
            &vault_id,
            Some(&container_id(&vault_id, &f, &c)),
        ),
    ))
}

pub async fn list_all_container_mappings(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    Ok(list_of(
        &sim,
        &uri,
        children(&world, ObjectKind::ContainerMapping, &vault_id, None),
    ))
}

pub async fn get_container_mapping(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, m)): ChildPath,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = format!(
        "{}/replicationProtectionContainerMappings/{m}",
        container_id(&vault_id, &f, &c)
    );
    Ok(Json(object_document(require(
        &world,
        &id,
        "protection container mapping",
        &m,
    )?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerMappingInput {
    properties: ContainerMappingInputProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerMappingInputProperties {
    #[serde(default)]
    target_protection_container_id: Option<String>,
    policy_id: String,
    #[serde(default)]
    provider_specific_input: Value,
}

/// Pairs a container with a policy: with `"Microsoft Azure"` for Hyper-V, with a recovery
/// container for A2A. Ready at `state: Paired`.
pub async fn put_container_mapping(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, m)): ChildPath,
    failure: Option<Extension<InjectedJobFailure>>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let input: ContainerMappingInput = parse_body(&body)?;
    // ReplicationProviderSpecificContainerMappingInput: its own name, or a subtype (A2A, VMwareCbt).
    let instance_type = input.properties.provider_specific_input["instanceType"].as_str();
    if !matches!(
        instance_type,
        Some("ReplicationProviderSpecificContainerMappingInput" | "A2A" | "VMwareCbt")
    ) {
        return Err(ArmError::bad_request(
            "InvalidParameter",
            format!(
                "The instanceType {} is not a known ReplicationProviderSpecificContainerMappingInput; expected ReplicationProviderSpecificContainerMappingInput, A2A or VMwareCbt.",
                instance_type.map_or("(missing)".to_owned(), |t| format!("'{t}'"))
            ),
        )
        .with_target("properties.providerSpecificInput.instanceType"));
    }
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let container = require(
        &world,
        &container_id(&vault_id, &f, &c),
        "protection container",
        &c,
    )?
    .clone();
    let fabric = require(&world, &fabric_id(&vault_id, &f), "fabric", &f)?.clone();
    let policy = find(&world, &input.properties.policy_id)
        .cloned()
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidPolicy",
                format!(
                    "The replication policy {} does not exist in this vault.",
                    input.properties.policy_id
                ),
            )
            .with_target("properties.policyId")
        })?;
    let target = input
        .properties
        .target_protection_container_id
        .unwrap_or_else(|| MICROSOFT_AZURE.into());
    let target_friendly = if target == MICROSOFT_AZURE {
        MICROSOFT_AZURE.to_owned()
    } else {
        let target_container = find(&world, &target).ok_or_else(|| {
            ArmError::bad_request(
                "InvalidParameter",
                format!("The target protection container {target} does not exist."),
            )
            .with_target("properties.targetProtectionContainerId")
        })?;
        target_container.properties["friendlyName"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let id = format!(
        "{}/replicationProtectionContainerMappings/{m}",
        container.id
    );
    // The mapping's provider is its policy's; the input names it only for A2A and VMwareCbt.
    let provider = policy.properties["providerSpecificDetails"]["instanceType"]
        .as_str()
        .or(instance_type)
        .unwrap_or_default()
        .to_owned();
    // A job that fails changes nothing (docs/azure-fidelity.md).
    if failure.is_none() {
        insert(
            &mut world,
            AsrObject {
                id: id.clone(),
                name: m.clone(),
                kind: ObjectKind::ContainerMapping,
                vault_id: vault_id.clone(),
                parent_id: Some(container.id.clone()),
                source: None,
                location: None,
                properties: json!({
                    "targetProtectionContainerId": target,
                    "targetProtectionContainerFriendlyName": target_friendly,
                    "providerSpecificDetails": { "instanceType": provider },
                    "health": "Normal",
                    "healthErrorDetails": [],
                    "policyId": policy.id,
                    "state": "Paired",
                    "sourceProtectionContainerFriendlyName": container.properties["friendlyName"],
                    "sourceFabricFriendlyName": fabric.properties["friendlyName"],
                    "targetFabricFriendlyName": if target == MICROSOFT_AZURE { json!(MICROSOFT_AZURE) } else { json!(target_friendly) },
                    "policyFriendlyName": policy.name,
                }),
            },
        );
    }
    if let Some(stored) = world
        .asr
        .objects
        .get_mut(&container.id.to_ascii_lowercase())
    {
        stored.properties["pairingStatus"] = json!("Paired");
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &m,
            instance_type: "ProtectionContainerMapping",
        },
        now,
        failure.map(|e| e.0),
    );
    Ok(accepted(&sim, &job, &uri))
}

fn drop_container_mapping(world: &mut World, id: &str) -> Result<bool, ArmError> {
    let Some(mapping) = find(world, id).cloned() else {
        return Ok(false);
    };
    let policy = mapping.properties["policyId"].as_str().unwrap_or_default();
    let container = mapping.parent_id.clone().unwrap_or_default();
    if world.asr.items.values().any(|i| {
        i.container_id.eq_ignore_ascii_case(&container) && i.policy_id.eq_ignore_ascii_case(policy)
    }) {
        return Err(ArmError::bad_request(
            "ContainerMappingInUse",
            format!(
                "Machines are protected through the mapping {}; disable their replication first.",
                mapping.name
            ),
        ));
    }
    world.asr.objects.remove(&id.to_ascii_lowercase());
    Ok(true)
}

pub async fn remove_container_mapping(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, m)): ChildPath,
    uri: Uri,
    _body: Bytes,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = format!(
        "{}/replicationProtectionContainerMappings/{m}",
        container_id(&vault_id, &f, &c)
    );
    if !drop_container_mapping(&mut world, &id)? {
        return Err(asr_not_found("protection container mapping", &m));
    }
    let job = start_job(
        &mut world,
        &vault_id,
        Scenario::Configure,
        JobTarget {
            id: &id,
            name: &m,
            instance_type: "ProtectionContainerMapping",
        },
        now,
        None,
    );
    Ok(accepted(&sim, &job, &uri))
}

pub async fn purge_container_mapping(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, m)): ChildPath,
) -> Result<StatusCode, ArmError> {
    let mut world = sim.world();
    let vault_id = require_vault(&world, &s, &g, &v)?;
    let id = format!(
        "{}/replicationProtectionContainerMappings/{m}",
        container_id(&vault_id, &f, &c)
    );
    drop_container_mapping(&mut world, &id)?;
    Ok(StatusCode::NO_CONTENT)
}
