//! Protection container mappings: a container paired with a policy.

use super::*;

pub async fn list_container_mappings(
    State(sim): State<Sim>,
    Path((s, g, v, f, c)): ContainerPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    list_in_vault(
        &sim,
        &uri,
        (&s, &g, &v),
        ObjectKind::ContainerMapping,
        |vault_id| Some(container_id(vault_id, &f, &c)),
    )
}

pub async fn list_all_container_mappings(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    list_in_vault(
        &sim,
        &uri,
        (&s, &g, &v),
        ObjectKind::ContainerMapping,
        |_| None,
    )
}

pub async fn get_container_mapping(
    State(sim): State<Sim>,
    Path((s, g, v, f, c, m)): ChildPath,
) -> Result<Json<Value>, ArmError> {
    get_in_vault(
        &sim,
        (&s, &g, &v),
        |vault_id| {
            format!(
                "{}/replicationProtectionContainerMappings/{m}",
                container_id(vault_id, &f, &c)
            )
        },
        Missing::NotFound("protection container mapping"),
    )
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

pub(crate) fn drop_container_mapping(world: &mut World, id: &str) -> Result<bool, ArmError> {
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
