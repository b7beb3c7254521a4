//! Networks and network mappings.

use super::*;

pub async fn list_networks(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    list_in_vault(&sim, &uri, (&s, &g, &v), ObjectKind::Network, |_| None)
}

pub async fn list_fabric_networks(
    State(sim): State<Sim>,
    Path((s, g, v, f)): FabricPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    list_in_vault(&sim, &uri, (&s, &g, &v), ObjectKind::Network, |vault_id| {
        Some(fabric_id(vault_id, &f))
    })
}

pub(crate) fn network_id(vault_id: &str, fabric: &str, network: &str) -> String {
    format!(
        "{}/replicationNetworks/{network}",
        fabric_id(vault_id, fabric)
    )
}

pub async fn get_network(
    State(sim): State<Sim>,
    Path((s, g, v, f, n)): ContainerPath,
) -> Result<Json<Value>, ArmError> {
    get_in_vault(
        &sim,
        (&s, &g, &v),
        |vault_id| network_id(vault_id, &f, &n),
        Missing::NotFound("network"),
    )
}

pub async fn list_network_mappings(
    State(sim): State<Sim>,
    Path((s, g, v)): VaultPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    list_in_vault(&sim, &uri, (&s, &g, &v), ObjectKind::NetworkMapping, |_| {
        None
    })
}

pub async fn list_network_mappings_of_network(
    State(sim): State<Sim>,
    Path((s, g, v, f, n)): ContainerPath,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    list_in_vault(
        &sim,
        &uri,
        (&s, &g, &v),
        ObjectKind::NetworkMapping,
        |vault_id| Some(network_id(vault_id, &f, &n)),
    )
}

pub async fn get_network_mapping(
    State(sim): State<Sim>,
    Path((s, g, v, f, n, m)): ChildPath,
) -> Result<Json<Value>, ArmError> {
    get_in_vault(
        &sim,
        (&s, &g, &v),
        |vault_id| {
            format!(
                "{}/replicationNetworkMappings/{m}",
                network_id(vault_id, &f, &n)
            )
        },
        Missing::NoneOfKind(ObjectKind::NetworkMapping, "network mapping"),
    )
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
