//! The ARM APIs the simulator serves, at the API versions of the current official SDKs.

use axum::Router;
use axum::body::Bytes;
use axum::http::Uri;
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::app::Sim;
use crate::error::ArmError;

pub mod capacity;
pub mod compute;
pub mod migrate;
pub mod network;
pub mod operations;
pub mod providers;
pub mod regions;
mod resource_groups;
mod storage;
pub mod subscriptions;
mod vaults;

/// API versions of the official Azure SDKs for Python that the simulator is checked against.
pub mod api_versions {
    /// azure-mgmt-resource (resource groups).
    pub const RESOURCES: &str = "2025-04-01";
    /// azure-mgmt-recoveryservices (vaults).
    pub const RECOVERY_SERVICES: &str = "2026-11-01";
    /// azure-mgmt-storage.
    pub const STORAGE: &str = "2026-09-01";
    /// azure-mgmt-network.
    pub const NETWORK: &str = "2026-03-01";
}

/// ARM's path keywords, in the casing the routes use. ARM matches them case-insensitively.
const KEYWORDS: &[&str] = &[
    "subscriptions",
    "resourceGroups",
    "providers",
    "locations",
    "operations",
    "operationResults",
    "asyncoperations",
    "Microsoft.RecoveryServices",
    "Microsoft.Storage",
    "Microsoft.Network",
    "vaults",
    "storageAccounts",
    "virtualNetworks",
    "subnets",
    "Microsoft.Compute",
    "virtualMachines",
    "networkInterfaces",
    "disks",
    "resources",
    "instanceView",
    "replicationFabrics",
    "replicationProtectionContainers",
    "replicationProtectableItems",
    "replicationProtectedItems",
    "replicationProtectionContainerMappings",
    "replicationNetworks",
    "replicationNetworkMappings",
    "replicationPolicies",
    "replicationJobs",
    "replicationOperationResults",
    "replicationOperationStatus",
    "testFailover",
    "testFailoverCleanup",
    "plannedFailover",
    "unplannedFailover",
    "failoverCommit",
    "failoverCancel",
    "remove",
    "register",
    "unregister",
    "tenants",
    "Microsoft.OffAzure",
    "VMwareSites",
    "ServerSites",
    "machines",
    "runasaccounts",
];

/// The canonical casing of an ARM keyword, if `segment` is one.
pub fn canonical_segment(segment: &str) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(segment))
}

pub fn routes() -> Router<Sim> {
    let rg = "/subscriptions/{subscription}/resourceGroups/{group}";
    Router::new()
        .route("/subscriptions", get(subscriptions::list))
        .route("/subscriptions/{subscription}", get(subscriptions::get))
        .route("/tenants", get(subscriptions::tenants))
        .route("/subscriptions/{subscription}/resourceGroups", get(resource_groups::list))
        .route(
            rg,
            get(resource_groups::get)
                .head(resource_groups::head)
                .put(resource_groups::put)
                .patch(resource_groups::patch)
                .delete(resource_groups::delete),
        )
        .route("/subscriptions/{subscription}/providers/{namespace}", get(providers::get))
        .route("/subscriptions/{subscription}/providers/{namespace}/register", axum::routing::post(providers::register))
        .route("/subscriptions/{subscription}/providers/{namespace}/unregister", axum::routing::post(providers::unregister))
        .route("/subscriptions/{subscription}/providers/Microsoft.RecoveryServices/vaults", get(vaults::list_subscription))
        .route(&format!("{rg}/providers/Microsoft.RecoveryServices/vaults"), get(vaults::list))
        .route(
            &format!("{rg}/providers/Microsoft.RecoveryServices/vaults/{{name}}"),
            get(vaults::get).put(vaults::put).patch(vaults::patch).delete(vaults::delete),
        )
        .route("/subscriptions/{subscription}/providers/Microsoft.Storage/storageAccounts", get(storage::list_subscription))
        .route(&format!("{rg}/providers/Microsoft.Storage/storageAccounts"), get(storage::list))
        .route(
            &format!("{rg}/providers/Microsoft.Storage/storageAccounts/{{name}}"),
            get(storage::get).put(storage::put).delete(storage::delete),
        )
        .route(&format!("{rg}/providers/Microsoft.Network/virtualNetworks"), get(network::list))
        .route(
            &format!("{rg}/providers/Microsoft.Network/virtualNetworks/{{name}}"),
            get(network::get).put(network::put).delete(network::delete),
        )
        .route(&format!("{rg}/providers/Microsoft.Network/virtualNetworks/{{name}}/checkIPAddressAvailability"), get(network::check_ip_address_availability))
        .route(&format!("{rg}/providers/Microsoft.Network/virtualNetworks/{{name}}/subnets"), get(network::list_subnets))
        .route(
            &format!("{rg}/providers/Microsoft.Network/virtualNetworks/{{name}}/subnets/{{subnet}}"),
            get(network::get_subnet).put(network::put_subnet).delete(network::delete_subnet),
        )
        .route("/subscriptions/{subscription}/providers/Microsoft.Compute/locations/{location}/usages", get(capacity::list_usages))
        .route("/subscriptions/{subscription}/providers/Microsoft.Compute/skus", get(capacity::list_skus))
        .route(&format!("{rg}/providers/Microsoft.Compute/virtualMachines"), get(compute::list))
        .route(&format!("{rg}/providers/Microsoft.Compute/virtualMachines/{{name}}"), get(compute::get))
        .route(&format!("{rg}/providers/Microsoft.Compute/virtualMachines/{{name}}/instanceView"), get(compute::get_instance_view))
        .route(&format!("{rg}/providers/Microsoft.Network/networkInterfaces/{{name}}"), get(compute::get_nic))
        .route(&format!("{rg}/providers/Microsoft.Compute/disks/{{name}}"), get(compute::get_disk))
        .route(&format!("{rg}/resources"), get(resource_groups::list_resources))
        .route("/subscriptions/{subscription}/resources", get(resource_groups::list_subscription_resources))
        .route(&format!("{rg}/providers/Microsoft.OffAzure/{{kind}}/{{site}}"), get(migrate::get_site))
        .route(&format!("{rg}/providers/Microsoft.OffAzure/{{kind}}/{{site}}/machines"), get(migrate::list_machines))
        .route(&format!("{rg}/providers/Microsoft.OffAzure/{{kind}}/{{site}}/runasaccounts"), get(migrate::list_run_as_accounts))
        .merge(crate::asr::routes())
        .route(
            "/subscriptions/{subscription}/providers/{namespace}/locations/{location}/{kind}/{operation}", get(operations::get))
        .route("/subscriptions/{subscription}/operationResults/{operation}", get(operations::get_group_operation))
}

/// Parses a request body as ARM does, with its 400 for a body it cannot read.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ArmError> {
    if body.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'The request body is empty.'.",
        ));
    }
    serde_json::from_slice(body).map_err(ArmError::invalid_body)
}

/// The `api-version` of a request (the gate has checked there is one).
pub fn api_version(uri: &Uri) -> String {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("api-version="))
        .unwrap_or_default()
        .to_owned()
}

/// One page of `items` with ARM's `nextLink`. The `$skiptoken` names the first item of the next
/// page (by ID, in ID order), not its position: as in ARM, an item deleted between two pages
/// does not make a client skip one that still exists.
pub fn page(sim: &Sim, uri: &Uri, items: Vec<Value>) -> Value {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = |item: &Value| {
        item["id"]
            .as_str()
            .or_else(|| item["name"].as_str())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let mut items = items;
    items.sort_by_cached_key(key);
    let start = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("$skiptoken="))
        .and_then(|token| engine.decode(token).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map_or(0, |first| items.partition_point(|item| key(item) < first));
    let size = sim.settings.page_size.max(1);
    let end = (start + size).min(items.len());
    let value: Vec<Value> = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut body = json!({ "value": value });
    if let Some(next) = items.get(end) {
        // The next page is the same query ($filter and all) from another item on.
        let kept: Vec<&str> = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.starts_with("$skiptoken="))
            .collect();
        body["nextLink"] = json!(format!(
            "{}{}?{}&$skiptoken={}",
            sim.base_url(),
            uri.path(),
            kept.join("&"),
            engine.encode(key(next))
        ));
    }
    body
}

/// The resource ID of a resource in a resource group.
pub fn resource_id(subscription: &str, group: &str, provider_type: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{group}/providers/{provider_type}/{name}")
}

/// Checks a location against the regions ARM knows.
pub fn check_location(location: &str, resource_type: &str) -> Result<String, ArmError> {
    let normalized = location.to_ascii_lowercase().replace(' ', "");
    if regions::is_known(&normalized) {
        Ok(normalized)
    } else {
        Err(ArmError::location_not_available(location, resource_type))
    }
}

/// The JSON ARM returns for a stored resource, by its type.
pub fn document(
    sim: &Sim,
    world: &crate::state::World,
    resource: &crate::state::Resource,
) -> Value {
    let is = |t: &str| resource.resource_type.eq_ignore_ascii_case(t);
    if is(storage::TYPE) {
        storage::document(sim, resource)
    } else if is(network::TYPE) {
        network::document(sim, world, resource)
    } else if is(vaults::TYPE) {
        vaults::document(sim, resource)
    } else if is(compute::TYPE) {
        compute::document(resource)
    } else {
        base_document(resource, resource.provisioning_state(sim.now(), "Updating"))
    }
}

/// `GET .../resourceGroups/{group}/providers/{type}`: the group's resources of a type, paged.
pub fn list_in_group(
    sim: &Sim,
    uri: &Uri,
    group: &str,
    resource_type: &str,
) -> Result<axum::Json<Value>, ArmError> {
    let world = sim.world();
    world.require_resource_group(group)?;
    let items = world
        .list(resource_type, Some(group))
        .into_iter()
        .map(|r| document(sim, &world, r))
        .collect();
    Ok(axum::Json(page(sim, uri, items)))
}

/// `GET /subscriptions/{s}/providers/{type}`: the subscription's resources of a type, paged.
pub fn list_in_subscription(sim: &Sim, uri: &Uri, resource_type: &str) -> axum::Json<Value> {
    let world = sim.world();
    let items = world
        .list(resource_type, None)
        .into_iter()
        .map(|r| document(sim, &world, r))
        .collect();
    axum::Json(page(sim, uri, items))
}

/// `GET` of one resource in a group, or ARM's 404 for the group or the resource.
pub fn get_in_group(
    sim: &Sim,
    subscription: &str,
    group: &str,
    resource_type: &str,
    name: &str,
) -> Result<axum::Json<Value>, ArmError> {
    let world = sim.world();
    world.require_resource_group(group)?;
    let resource = world
        .resource(&resource_id(subscription, group, resource_type, name))
        .filter(|r| r.deleting_until.is_none())
        .ok_or_else(|| ArmError::not_found(resource_type, name, group))?;
    Ok(axum::Json(document(sim, &world, resource)))
}

/// `id`, `name`, `type`, `location`, `tags`, `sku`, `kind` and `properties` with
/// `provisioningState`, as every ARM resource has them.
pub fn base_document(resource: &crate::state::Resource, provisioning_state: &str) -> Value {
    let mut properties = match &resource.properties {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    properties["provisioningState"] = json!(provisioning_state);
    let mut body = json!({
        "id": resource.id,
        "name": resource.name,
        "type": resource.resource_type,
        "location": resource.location,
        "tags": resource.tags,
        "properties": properties,
    });
    if let Some(sku) = &resource.sku {
        body["sku"] = sku.clone();
    }
    if let Some(kind) = &resource.kind {
        body["kind"] = json!(kind);
    }
    body
}
