//! Microsoft.Resources/resourceGroups: synchronous create, LRO delete that takes the group's
//! resources with it.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{api_version, operations, page, parse_body};
use crate::app::Sim;
use crate::error::ArmError;
use crate::state::{OperationKind, ResourceGroup};

/// How long deleting a resource group takes, in simulated time.
const DELETE_DURATION: SignedDuration = SignedDuration::from_secs(10);

#[derive(Deserialize)]
struct Body {
    location: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

fn document(subscription: &str, group: &ResourceGroup) -> Value {
    json!({
        "id": format!("/subscriptions/{subscription}/resourceGroups/{}", group.name),
        "name": group.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": group.location,
        "tags": group.tags,
        "properties": { "provisioningState": if group.deleting_until.is_some() { "Deleting" } else { "Succeeded" } },
    })
}

pub async fn list(State(sim): State<Sim>, uri: Uri) -> Json<Value> {
    let world = sim.world();
    let groups = world
        .resource_groups
        .values()
        .map(|g| document(&sim.settings.subscription, g))
        .collect();
    Json(page(&sim, &uri, groups))
}

pub async fn get(
    State(sim): State<Sim>,
    Path((subscription, name)): Path<(String, String)>,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let group = world
        .resource_groups
        .get(&name.to_ascii_lowercase())
        .ok_or_else(|| ArmError::resource_group_not_found(&name))?;
    Ok(Json(document(&subscription, group)))
}

pub async fn head(State(sim): State<Sim>, Path((_, name)): Path<(String, String)>) -> StatusCode {
    if sim.world().resource_group(&name).is_some() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

pub async fn put(
    State(sim): State<Sim>,
    Path((subscription, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ArmError> {
    let body: Body = parse_body(&body)?;
    if name.is_empty() || name.len() > 90 || name.ends_with('.') {
        return Err(ArmError::bad_request(
            "InvalidResourceGroup",
            format!(
                "The provided resource group name '{name}' has these invalid characters or length."
            ),
        ));
    }
    let location = super::check_location(&body.location, "Microsoft.Resources/resourceGroups")
        .map_err(|e| ArmError {
            code: "LocationNotAvailableForResourceGroup".into(),
            ..e
        })?;
    let mut world = sim.world();
    let key = name.to_ascii_lowercase();
    let status = match world.resource_groups.get_mut(&key) {
        Some(group) if group.deleting_until.is_some() => {
            return Err(ArmError::conflict(
                "ResourceGroupBeingDeleted",
                format!(
                    "The resource group '{name}' is in deprovisioning state and cannot perform this operation."
                ),
            ));
        }
        Some(group) if group.location != location => {
            return Err(ArmError::conflict(
                "InvalidResourceGroupLocation",
                format!(
                    "Invalid resource group location '{location}'. The Resource group already exists in location '{}'.",
                    group.location
                ),
            ));
        }
        Some(group) => {
            group.tags = body.tags;
            StatusCode::OK
        }
        None => {
            world.resource_groups.insert(
                key.clone(),
                ResourceGroup {
                    name,
                    location,
                    tags: body.tags,
                    deleting_until: None,
                },
            );
            StatusCode::CREATED
        }
    };
    Ok((
        status,
        Json(document(&subscription, &world.resource_groups[&key])),
    )
        .into_response())
}

#[derive(Deserialize)]
struct PatchBody {
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

pub async fn patch(
    State(sim): State<Sim>,
    Path((subscription, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ArmError> {
    let body: PatchBody = parse_body(&body)?;
    let mut world = sim.world();
    let group = world
        .resource_groups
        .get_mut(&name.to_ascii_lowercase())
        .ok_or_else(|| ArmError::resource_group_not_found(&name))?;
    if let Some(tags) = body.tags {
        group.tags = tags;
    }
    Ok(Json(document(&subscription, group)))
}

pub async fn delete(
    State(sim): State<Sim>,
    Path((subscription, name)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let mut world = sim.world();
    let key = name.to_ascii_lowercase();
    let group = world
        .resource_groups
        .get_mut(&key)
        .ok_or_else(|| ArmError::resource_group_not_found(&name))?;
    let done = now + DELETE_DURATION;
    group.deleting_until = Some(*group.deleting_until.get_or_insert(done));
    let id = format!(
        "/subscriptions/{subscription}/resourceGroups/{}",
        group.name
    );
    let operation = operations::start(&mut world, &id, OperationKind::Delete, now, DELETE_DURATION);
    let location = format!(
        "{}/subscriptions/{subscription}/operationResults/{}?api-version={}",
        sim.base_url(),
        operation.id,
        api_version(&uri)
    );
    Ok(operations::accepted(&sim, &location, None, DELETE_DURATION))
}

/// `GET .../resourcegroups/{group}/resources` (azure-mgmt-resource `Resources_ListByResourceGroup`):
/// every top-level resource in the group as a `GenericResourceExpanded` (no `properties`), paged.
/// Child resources (subnets, Site Recovery objects under a vault) are not listed.
pub async fn list_resources(
    State(sim): State<Sim>,
    Path((_, group)): Path<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    world.require_resource_group(&group)?;
    let items = generic_resources(&world, Some(&group));
    drop(world);
    Ok(Json(page(&sim, &uri, items)))
}

/// `Resources_List`: every resource of the subscription, or, with
/// `$filter=resourceGroup eq '{name}'` (what `az resource list --resource-group` sends), of one
/// group. Other filters are not modelled: they are refused rather than ignored.
pub async fn list_subscription_resources(
    State(sim): State<Sim>,
    Query(query): Query<ResourcesQuery>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let group = match query.filter.as_deref() {
        None => None,
        Some(filter) => {
            let named = filter
                .trim()
                .strip_prefix("resourceGroup eq '")
                .and_then(|rest| rest.strip_suffix('\''));
            match named {
                Some(group) => Some(group.to_owned()),
                None => {
                    return Err(ArmError::bad_request(
                        "InvalidFilterInQueryString",
                        format!(
                            "azure-sim models only $filter=resourceGroup eq '{{name}}', not {filter:?}."
                        ),
                    ));
                }
            }
        }
    };
    let world = sim.world();
    let items = generic_resources(&world, group.as_deref());
    drop(world);
    Ok(Json(page(&sim, &uri, items)))
}

#[derive(serde::Deserialize)]
pub struct ResourcesQuery {
    #[serde(rename = "$filter")]
    filter: Option<String>,
}

/// `GenericResourceExpanded`: `id`, `name`, `type`, `location`, `tags`, `sku`, `kind`.
fn generic_resources(world: &crate::state::World, group: Option<&str>) -> Vec<Value> {
    world
        .resources
        .values()
        .filter(|r| group.is_none_or(|g| r.resource_group.eq_ignore_ascii_case(g)))
        .filter(|r| r.deleting_until.is_none())
        .map(|r| {
            let mut item = json!({
                "id": r.id,
                "name": r.name,
                "type": r.resource_type,
                "location": r.location,
                "tags": r.tags,
            });
            if let Some(sku) = &r.sku {
                item["sku"] = sku.clone();
            }
            if let Some(kind) = &r.kind {
                item["kind"] = json!(kind);
            }
            item
        })
        .collect()
}
