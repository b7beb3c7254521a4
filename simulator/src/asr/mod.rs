//! Microsoft.RecoveryServices Site Recovery (`replication*` under a vault), api-version
//! 2025-08-01: fabrics, containers, protectable items, networks and network mappings,
//! policies, container mappings, protected items and their actions, and jobs. Every change is
//! a job; PUT and POST answer 202 with `Location` (the job's operation result) and
//! `Azure-AsyncOperation` (its status); the job's ID is the operation's.

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::app::Sim;
use crate::arm::{api_version, operations};
use crate::error::ArmError;
use crate::inventory::{AsrKind, Inventory, Source, SourceKind};
use crate::state::World;

mod infra;
mod items;
mod jobs;
pub mod model;

use model::{AsrObject, Job, ObjectKind, Scenario, ServiceError};

/// API version of azure-mgmt-recoveryservicessiterecovery 2.0.0.
pub const API_VERSION: &str = "2025-08-01";
/// The recovery side of Hyper-V and physical protection: Azure itself.
pub const MICROSOFT_AZURE: &str = "Microsoft Azure";

/// A job failure injected through `/_sim/faults` for the request that starts the job.
#[derive(Clone, Debug)]
pub struct InjectedJobFailure(pub ServiceError);

pub fn routes() -> Router<Sim> {
    let vault = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.RecoveryServices/vaults/{vault}";
    let fabric = format!("{vault}/replicationFabrics/{{fabric}}");
    let container = format!("{fabric}/replicationProtectionContainers/{{container}}");
    let item = format!("{container}/replicationProtectedItems/{{item}}");
    Router::new()
        .route(
            &format!("{vault}/replicationFabrics"),
            get(infra::list_fabrics),
        )
        .route(
            &fabric,
            get(infra::get_fabric)
                .put(infra::put_fabric)
                .delete(infra::purge_fabric),
        )
        .route(&format!("{fabric}/remove"), post(infra::remove_fabric))
        .route(
            &format!("{fabric}/replicationProtectionContainers"),
            get(infra::list_containers),
        )
        .route(
            &container,
            get(infra::get_container).put(infra::put_container),
        )
        .route(
            &format!("{container}/replicationProtectableItems"),
            get(infra::list_protectable_items),
        )
        .route(
            &format!("{container}/replicationProtectableItems/{{protectable}}"),
            get(infra::get_protectable_item),
        )
        .route(
            &format!("{container}/replicationProtectionContainerMappings"),
            get(infra::list_container_mappings),
        )
        .route(
            &format!("{container}/replicationProtectionContainerMappings/{{mapping}}"),
            get(infra::get_container_mapping)
                .put(infra::put_container_mapping)
                .delete(infra::purge_container_mapping),
        )
        .route(
            &format!("{container}/replicationProtectionContainerMappings/{{mapping}}/remove"),
            post(infra::remove_container_mapping),
        )
        .route(
            &format!("{fabric}/replicationNetworks"),
            get(infra::list_fabric_networks),
        )
        .route(
            &format!("{fabric}/replicationNetworks/{{network}}"),
            get(infra::get_network),
        )
        .route(
            &format!("{fabric}/replicationNetworks/{{network}}/replicationNetworkMappings"),
            get(infra::list_network_mappings_of_network),
        )
        .route(
            &format!(
                "{fabric}/replicationNetworks/{{network}}/replicationNetworkMappings/{{mapping}}"
            ),
            get(infra::get_network_mapping)
                .put(infra::put_network_mapping)
                .delete(infra::delete_network_mapping),
        )
        .route(
            &format!("{vault}/replicationNetworks"),
            get(infra::list_networks),
        )
        .route(
            &format!("{vault}/replicationNetworkMappings"),
            get(infra::list_network_mappings),
        )
        .route(
            &format!("{vault}/replicationProtectionContainers"),
            get(infra::list_all_containers),
        )
        .route(
            &format!("{vault}/replicationProtectionContainerMappings"),
            get(infra::list_all_container_mappings),
        )
        .route(
            &format!("{vault}/replicationPolicies"),
            get(infra::list_policies),
        )
        .route(
            &format!("{vault}/replicationPolicies/{{policy}}"),
            get(infra::get_policy)
                .put(infra::put_policy)
                .delete(infra::delete_policy),
        )
        .route(
            &format!("{container}/replicationProtectedItems"),
            get(items::list_in_container),
        )
        .route(
            &format!("{vault}/replicationProtectedItems"),
            get(items::list_in_vault),
        )
        .route(
            &item,
            get(items::get)
                .put(items::enable)
                .patch(items::update)
                .delete(items::purge),
        )
        .route(&format!("{item}/{{action}}"), post(items::action))
        .route(&format!("{vault}/replicationJobs"), get(jobs::list))
        .route(&format!("{vault}/replicationJobs/{{job}}"), get(jobs::get))
        .route(
            &format!("{vault}/replicationOperationResults/{{job}}"),
            get(jobs::operation_result),
        )
        .route(
            &format!("{vault}/replicationOperationStatus/{{job}}"),
            get(jobs::operation_status),
        )
}

/// The vault's canonical ID, or ARM's 404 for its resource group or for it.
pub fn require_vault(
    world: &World,
    subscription: &str,
    group: &str,
    vault: &str,
) -> Result<String, ArmError> {
    world.require_resource_group(group)?;
    let id = crate::arm::resource_id(
        subscription,
        group,
        "Microsoft.RecoveryServices/vaults",
        vault,
    );
    world
        .resource(&id)
        .filter(|v| v.deleting_until.is_none())
        .map(|v| site_recovery_id(&v.id))
        .ok_or_else(|| ArmError::not_found("Microsoft.RecoveryServices/vaults", vault, group))
}

/// An ID in Site Recovery's casing: ASR answers `/Subscriptions/...` where ARM answers
/// `/subscriptions/...` (every ID in the 2025-08-01 Site Recovery examples, e.g.
/// ReplicationPolicies_List.json, and the `Azure-AsyncOperation` URLs they return). Everything
/// under a vault's Site Recovery paths is built from this.
pub fn site_recovery_id(arm_id: &str) -> String {
    match arm_id.get(..15) {
        Some(prefix) if prefix.eq_ignore_ascii_case("/subscriptions/") => {
            format!("/Subscriptions/{}", &arm_id[15..])
        }
        _ => arm_id.to_owned(),
    }
}

/// ASR's 404 for one of its objects.
pub fn asr_not_found(kind: &str, name: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("The {kind} '{name}' was not found in the vault."),
    )
}

/// What ASR answers for an object that does not exist in a vault that holds nothing of its kind:
/// not a 404 but a 400 whose `details[0].code` is `SubscriptionIdNotRegisteredWithSrs`
/// (azure-rest-api-specs issue 12759, with this body; terraform-provider-azurerm's
/// `wasBadRequestWithNotExist` treats it as absent for fabrics, policies and network mappings).
pub fn not_registered_with_srs() -> ArmError {
    let id = uuid::Uuid::new_v4().as_u64_pair().0 >> 2;
    let message = format!("The resource with ID {id} isn't registered with the service.");
    ArmError {
        details: vec![serde_json::json!({
            "code": "SubscriptionIdNotRegisteredWithSrs",
            "message": message,
            "possibleCauses": "The operation failed due to an internal error.",
            "recommendedAction": "Retry the last action. If the issue persists, contact Support.",
        })],
        ..ArmError::bad_request("BadRequest", message)
    }
}

/// The object `id` of `kind`, or what ASR answers when it is absent: the 400 above when the
/// vault holds nothing of that kind, a 404 otherwise.
pub fn require_object<'w>(
    world: &'w World,
    vault_id: &str,
    kind: ObjectKind,
    id: &str,
    what: &str,
) -> Result<&'w AsrObject, ArmError> {
    match find(world, id) {
        Some(object) => Ok(object),
        None if children(world, kind, vault_id, None).is_empty() => Err(not_registered_with_srs()),
        None => Err(asr_not_found(
            what,
            id.rsplit('/').next().unwrap_or_default(),
        )),
    }
}

/// An ARM-style name for an object made from a friendly name.
pub fn object_name(friendly: &str) -> String {
    friendly
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// What a job works on: its ARM ID, display name and ASR instance type.
pub struct JobTarget<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub instance_type: &'a str,
}

/// Starts a job on `target`, failing it at its end if a fault asked for that.
pub fn start_job(
    world: &mut World,
    vault_id: &str,
    scenario: Scenario,
    target: JobTarget<'_>,
    now: Timestamp,
    failure: Option<InjectedJobFailure>,
) -> Job {
    let name = uuid::Uuid::new_v4().to_string();
    let job = Job {
        id: format!("{vault_id}/replicationJobs/{name}"),
        name,
        vault_id: vault_id.to_owned(),
        scenario,
        target_object_id: target.id.to_owned(),
        target_object_name: target.name.to_owned(),
        target_instance_type: target.instance_type.to_owned(),
        started_at: now,
        done_at: now + scenario.duration(),
        failure: failure.map(|f| f.0),
        settled: false,
        visible_at: world.visible_at(),
    };
    world
        .asr
        .jobs
        .insert(job.id.to_ascii_lowercase(), job.clone());
    job
}

/// 202 Accepted for a job: `Location` is its operation result, `Azure-AsyncOperation` its status.
pub fn accepted(sim: &Sim, job: &Job, uri: &Uri) -> Response {
    let version = api_version(uri);
    let location = format!(
        "{}{}/replicationOperationResults/{}?api-version={version}",
        sim.base_url(),
        job.vault_id,
        job.name
    );
    let status = format!(
        "{}{}/replicationOperationStatus/{}?api-version={version}",
        sim.base_url(),
        job.vault_id,
        job.name
    );
    operations::accepted(
        sim,
        &location,
        Some(&status),
        job.done_at.duration_since(sim.now()),
    )
}

/// `{id, name, type, properties}` of an ASR object.
pub fn object_document(object: &AsrObject) -> Value {
    let mut body = json!({ "id": object.id, "name": object.name, "type": object.kind.arm_type(), "properties": object.properties });
    if let Some(location) = &object.location {
        body["location"] = json!(location);
    }
    body
}

/// Registers every source whose vault (or, for a Hyper-V site, whose fabric) exists now, the
/// way the ASR provider or replication appliance registers with a vault credentials file.
pub fn register_ready_sources(
    world: &mut World,
    inventory: &Inventory,
    subscription: &str,
    now: jiff::Timestamp,
) {
    for source in &inventory.sources {
        if world
            .asr
            .registered
            .contains_key(&source.name.to_ascii_lowercase())
        {
            continue;
        }
        match source.kind {
            SourceKind::HyperVSite => {
                let fabric = world
                    .asr
                    .objects
                    .values()
                    .find(|o| o.kind == ObjectKind::Fabric && o.name.eq_ignore_ascii_case(&source.name))
                    .filter(|f| source.vault.as_ref().is_none_or(|v| f.vault_id.to_ascii_lowercase().ends_with(&format!("/resourcegroups/{}/providers/microsoft.recoveryservices/vaults/{}", v.resource_group, v.name).to_ascii_lowercase())))
                    .cloned();
                if let Some(fabric) = fabric {
                    register_site_hosts(world, source, &fabric);
                }
            }
            SourceKind::AzureRegion => {
                crate::arm::compute::seed_source_vms(world, source, now);
            }
            _ => {
                let Some(vault) = &source.vault else { continue };
                let id = crate::arm::resource_id(
                    subscription,
                    &vault.resource_group,
                    "Microsoft.RecoveryServices/vaults",
                    &vault.name,
                );
                if let Some(vault_id) = world
                    .resource(&id)
                    .filter(|v| v.deleting_until.is_none())
                    .map(|v| v.id.clone())
                {
                    register(world, source, &vault_id);
                }
            }
        }
    }
}

/// Registers `source` with the vault `vault_id`: its fabric, containers and networks appear.
pub fn register(world: &mut World, source: &Source, arm_vault_id: &str) {
    let vault_id = &site_recovery_id(arm_vault_id);
    let fabric_name = object_name(&source.name);
    let fabric_id = format!("{vault_id}/replicationFabrics/{fabric_name}");
    let fabric_type = source.kind.fabric_type();
    // VmmDetails, HyperVSiteDetails, InMageRcmFabricSpecificDetails...: no version field.
    let mut custom = json!({ "instanceType": fabric_type });
    if fabric_type == "InMageRcm" {
        custom["processServers"] = process_servers(&source.name);
        let (vmware, server) = crate::arm::migrate::site_ids(source, arm_vault_id);
        custom["vmwareSiteId"] = json!(vmware);
        custom["physicalSiteId"] = json!(server);
    }
    insert(
        world,
        AsrObject {
            id: fabric_id.clone(),
            name: fabric_name,
            kind: ObjectKind::Fabric,
            vault_id: vault_id.to_owned(),
            parent_id: None,
            source: Some(source.name.clone()),
            location: None,
            properties: fabric_properties(&source.name, custom),
        },
    );
    let containers: Vec<String> = match source.kind {
        SourceKind::HyperVVmm => source.containers.clone(),
        _ => vec![format!("{}-container", source.name)],
    };
    for container in containers {
        insert_container(world, &fabric_id, &source.name, fabric_type, &container);
    }
    for network in &source.networks {
        let id = format!("{fabric_id}/replicationNetworks/{}", object_name(network));
        insert(
            world,
            AsrObject {
                id,
                name: object_name(network),
                kind: ObjectKind::Network,
                vault_id: vault_id.to_owned(),
                parent_id: Some(fabric_id.clone()),
                source: Some(source.name.clone()),
                location: None,
                properties: json!({ "fabricType": fabric_type, "friendlyName": network, "networkType": "VmNetwork", "subnets": [] }),
            },
        );
    }
    world
        .asr
        .registered
        .insert(source.name.to_ascii_lowercase(), vault_id.to_owned());
}

/// Hosts of a Hyper-V site register into the fabric ARM created: the site's container appears.
fn register_site_hosts(world: &mut World, source: &Source, fabric: &AsrObject) {
    insert_container(
        world,
        &fabric.id,
        &source.name,
        "HyperVSite",
        &format!("{}-container", source.name),
    );
    if let Some(stored) = world.asr.objects.get_mut(&fabric.id.to_ascii_lowercase()) {
        stored.source = Some(source.name.clone());
        stored.properties["customDetails"]["hyperVHosts"] = json!(
            source
                .containers
                .iter()
                .map(|h| json!({ "name": h }))
                .collect::<Vec<_>>()
        );
    }
    world
        .asr
        .registered
        .insert(source.name.to_ascii_lowercase(), fabric.vault_id.clone());
}

/// `InMageRcmFabricSpecificDetails.processServers`: the process server that runs on the
/// replication appliance (`ProcessServerDetails`, read-only; its `id` is what an InMageRcm enable
/// names as `processServerId`).
pub fn process_servers(appliance: &str) -> Value {
    json!([{
        "id": uuid::Uuid::new_v4().to_string(),
        "name": appliance,
        "fqdn": appliance,
        "version": "9.60.0.0",
        "health": "Normal",
        "healthErrors": [],
        "protectedItemCount": 0,
    }])
}

pub fn fabric_properties(friendly: &str, custom: Value) -> Value {
    json!({
        "friendlyName": friendly,
        "encryptionDetails": { "kekState": "None" },
        "rolloverEncryptionDetails": { "kekState": "None" },
        "internalIdentifier": uuid::Uuid::new_v4().to_string(),
        "bcdrState": "Valid",
        "customDetails": custom,
        "healthErrorDetails": [],
        "health": "Normal",
    })
}

pub fn insert_container(
    world: &mut World,
    fabric_id: &str,
    source: &str,
    fabric_type: &str,
    friendly: &str,
) {
    let vault_id = fabric_id
        .split("/replicationFabrics/")
        .next()
        .unwrap_or_default()
        .to_owned();
    let fabric_friendly = world
        .asr
        .objects
        .get(&fabric_id.to_ascii_lowercase())
        .and_then(|f| f.properties["friendlyName"].as_str().map(str::to_owned))
        .unwrap_or_default();
    // A VMM cloud's container is named `cloud_<guid>`, the cloud's name in `friendlyName`
    // (ReplicationProtectedItems_*.json, 2025-08-01: `cloud_6d224fc6-f326-5d35-96de-fbf51efb3179`).
    let name = if fabric_type == "VMM" {
        format!("cloud_{}", uuid::Uuid::new_v4())
    } else {
        object_name(friendly)
    };
    insert(
        world,
        AsrObject {
            id: format!("{fabric_id}/replicationProtectionContainers/{name}"),
            name,
            kind: ObjectKind::Container,
            vault_id,
            parent_id: Some(fabric_id.to_owned()),
            source: Some(source.to_owned()),
            location: None,
            properties: json!({
                "fabricFriendlyName": fabric_friendly,
                "friendlyName": friendly,
                "fabricType": fabric_type,
                "protectedItemCount": 0,
                "pairingStatus": "NotPaired",
                "role": "Primary",
                "fabricSpecificDetails": { "instanceType": fabric_type },
            }),
        },
    );
}

pub fn insert(world: &mut World, object: AsrObject) {
    world
        .asr
        .objects
        .insert(object.id.to_ascii_lowercase(), object);
}

pub fn find<'w>(world: &'w World, id: &str) -> Option<&'w AsrObject> {
    world.asr.objects.get(&id.to_ascii_lowercase())
}

/// The objects of `kind` under `parent` (or anywhere in `vault_id`), sorted by ID.
pub fn children<'w>(
    world: &'w World,
    kind: ObjectKind,
    vault_id: &str,
    parent: Option<&str>,
) -> Vec<&'w AsrObject> {
    world
        .asr
        .objects
        .values()
        .filter(|o| o.kind == kind && o.vault_id.eq_ignore_ascii_case(vault_id))
        .filter(|o| {
            parent.is_none_or(|p| {
                o.parent_id
                    .as_deref()
                    .is_some_and(|op| op.eq_ignore_ascii_case(p))
            })
        })
        .collect()
}
