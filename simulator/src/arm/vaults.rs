//! Microsoft.RecoveryServices/vaults: synchronous create (201, then 200 on update), PATCH,
//! and an asynchronous delete (202 + `Location`).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{api_version, base_document, check_location, operations, parse_body, resource_id};
use crate::app::Sim;
use crate::error::ArmError;
use crate::state::{OperationKind, Resource};

pub const TYPE: &str = "Microsoft.RecoveryServices/vaults";
const DELETE_DURATION: SignedDuration = SignedDuration::from_secs(5);
const REDUNDANCY: &[&str] = &[
    "GeoRedundant",
    "LocallyRedundant",
    "ZoneRedundant",
    "Invalid",
];

#[derive(Deserialize)]
struct Sku {
    name: String,
    #[serde(default)]
    tier: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    location: String,
    sku: Option<Sku>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    properties: Value,
}

#[derive(Deserialize)]
struct PatchBody {
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    properties: Option<Value>,
}

pub fn document(sim: &Sim, vault: &Resource) -> Value {
    let mut body = base_document(vault, vault.provisioning_state(sim.now(), "Updating"));
    let properties = &mut body["properties"];
    for (key, default) in [
        ("privateEndpointStateForBackup", json!("None")),
        ("privateEndpointStateForSiteRecovery", json!("None")),
        ("publicNetworkAccess", json!("Enabled")),
        ("secureScore", json!("None")),
        (
            "redundancySettings",
            json!({ "standardTierStorageRedundancy": "GeoRedundant", "crossRegionRestore": "Disabled" }),
        ),
    ] {
        if properties.get(key).is_none() {
            properties[key] = default;
        }
    }
    body
}

fn check_name(name: &str) -> Result<(), ArmError> {
    let bytes = name.as_bytes();
    let valid = (2..=50).contains(&bytes.len())
        && bytes[0].is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "InvalidResourceName",
            format!(
                "Resource name {name} is invalid. The name can be up to 50 characters long, can contain only letters, numbers and hyphens, and must start with a letter."
            ),
        ))
    }
}

fn check_properties(properties: &Value) -> Result<(), ArmError> {
    if let Some(redundancy) = properties
        .pointer("/redundancySettings/standardTierStorageRedundancy")
        .and_then(Value::as_str)
        && !REDUNDANCY.contains(&redundancy)
    {
        return Err(ArmError::bad_request(
            "InvalidParameter",
            format!("'{redundancy}' is not a valid value for standardTierStorageRedundancy."),
        )
        .with_target("properties.redundancySettings.standardTierStorageRedundancy"));
    }
    Ok(())
}

pub async fn list(
    State(sim): State<Sim>,
    Path((_, group)): Path<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    super::list_in_group(&sim, &uri, &group, TYPE)
}

pub async fn list_subscription(State(sim): State<Sim>, uri: Uri) -> Json<Value> {
    super::list_in_subscription(&sim, &uri, TYPE)
}

pub async fn get(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    super::get_in_group(&sim, &subscription, &group, TYPE, &name)
}

pub async fn put(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ArmError> {
    let body: Body = parse_body(&body)?;
    check_name(&name)?;
    let sku = body.sku.ok_or_else(|| {
        ArmError::bad_request("InvalidParameter", "The 'sku' property is required.")
            .with_target("sku")
    })?;
    if sku.name != "Standard" && sku.name != "RS0" {
        return Err(ArmError::bad_request(
            "InvalidParameter",
            format!(
                "'{}' is not a valid vault SKU; use Standard or RS0.",
                sku.name
            ),
        )
        .with_target("sku.name"));
    }
    // `RS0` needs its tier: "tier is required parameter in sku and supported tier is Standard"
    // (Azure/azure-resource-manager-schemas PR 242); without it ARM answers as quoted in
    // terraform-provider-azurerm issue 2274 and azure-rest-api-specs issue 4901.
    if sku.name == "RS0" && sku.tier.as_deref() != Some("Standard") {
        return Err(ArmError::bad_request(
            "InvalidRestApiParameter",
            "sku parameter is invalid.\r\nPlease provide a valid sku",
        ));
    }
    check_properties(&body.properties)?;
    let location = check_location(&body.location, TYPE)?;
    let now = sim.now();
    let mut world = sim.world();
    let group_name = world.require_resource_group(&group)?.name.clone();
    let id = resource_id(&subscription, &group_name, TYPE, &name);
    // A `Standard` vault is answered as `RS0` of the Standard tier (PUTVault.json, 2025-02-01).
    let sku = json!({ "name": "RS0", "tier": "Standard" });
    if let Some(existing) = world
        .resource_mut(&id)
        .filter(|r| r.deleting_until.is_none())
    {
        existing.check_same_location(&location)?;
        existing.sku = Some(sku);
        existing.tags = body.tags;
        if body.properties.is_object() {
            existing.properties = body.properties;
        }
        let existing = existing.clone();
        return Ok((StatusCode::OK, Json(document(&sim, &existing))).into_response());
    }
    let vault = Resource {
        id,
        name,
        resource_type: TYPE.into(),
        resource_group: group_name,
        location: Some(location),
        tags: body.tags,
        sku: Some(sku),
        kind: None,
        properties: if body.properties.is_object() {
            body.properties
        } else {
            json!({})
        },
        created_at: now,
        ready_at: now,
        deleting_until: None,
        failed: false,
    };
    world.insert(vault.clone());
    Ok((StatusCode::CREATED, Json(document(&sim, &vault))).into_response())
}

pub async fn patch(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ArmError> {
    let body: PatchBody = parse_body(&body)?;
    if let Some(properties) = &body.properties {
        check_properties(properties)?;
    }
    let mut world = sim.world();
    world.require_resource_group(&group)?;
    let id = resource_id(&subscription, &group, TYPE, &name);
    let vault = world
        .resource_mut(&id)
        .filter(|r| r.deleting_until.is_none())
        .ok_or_else(|| ArmError::not_found(TYPE, &name, &group))?;
    if let Some(tags) = body.tags {
        vault.tags = tags;
    }
    if let (Some(Value::Object(changes)), Value::Object(properties)) =
        (body.properties, &mut vault.properties)
    {
        properties.extend(changes);
    }
    let vault = vault.clone();
    Ok(Json(document(&sim, &vault)))
}

pub async fn delete(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let mut world = sim.world();
    world.require_resource_group(&group)?;
    let id = resource_id(&subscription, &group, TYPE, &name);
    let holds_replication = world
        .asr
        .objects
        .values()
        .any(|o| o.vault_id.eq_ignore_ascii_case(&id))
        || world
            .asr
            .items
            .values()
            .any(|i| i.vault_id.eq_ignore_ascii_case(&id));
    let Some(vault) = world
        .resource_mut(&id)
        .filter(|r| r.deleting_until.is_none())
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if holds_replication {
        return Err(ArmError::bad_request(
            "ServiceResourceNotEmpty",
            format!(
                "Vault {name} cannot be deleted as there are existing resources within the vault. Remove replicated items, container mappings, policies and registered servers first."
            ),
        ));
    }
    vault.deleting_until = Some(now + DELETE_DURATION);
    let location = vault.location.clone().unwrap_or_default();
    let operation = operations::start(&mut world, &id, OperationKind::Delete, now, DELETE_DURATION);
    let url = format!(
        "{}/subscriptions/{subscription}/providers/Microsoft.RecoveryServices/locations/{location}/operationResults/{}?api-version={}",
        sim.base_url(),
        operation.id,
        api_version(&uri)
    );
    Ok(operations::accepted(&sim, &url, None, DELETE_DURATION))
}
