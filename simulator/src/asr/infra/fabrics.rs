//! Fabrics: a Hyper-V site, an Azure region (A2A), an InMage RCM site.

use super::*;

pub async fn list_fabrics(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    list_in_vault(&sim, &uri, (&s, &g, &v), ObjectKind::Fabric, |_| None)
}

pub async fn get_fabric(
    State(sim): State<Sim>,
    Path((s, g, v, f)): FabricPath,
) -> Result<Json<Value>, ArmError> {
    get_in_vault(
        &sim,
        (&s, &g, &v),
        |vault_id| fabric_id(vault_id, &f),
        Missing::NoneOfKind(ObjectKind::Fabric, "fabric"),
    )
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
            custom["processServers"] = crate::asr::process_servers(&f);
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

pub(crate) fn remove_fabric_objects(world: &mut World, id: &str) -> Result<(), ArmError> {
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
