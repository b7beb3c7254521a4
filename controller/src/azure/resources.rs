//! Typed ARM operations on the resources cutover manages, at the API versions of the official
//! SDKs (DESIGN.md). Each function knows its URL, API version and body shape; reconcilers call
//! these and never build URLs.

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Accepted, ArmClient};
use super::error::ArmError;

pub const RESOURCES_API: &str = "2025-04-01";
pub const RECOVERY_SERVICES_API: &str = "2026-11-01";
pub const STORAGE_API: &str = "2026-09-01";
pub const NETWORK_API: &str = "2026-03-01";
pub const SITE_RECOVERY_API: &str = "2025-08-01";
pub const COMPUTE_API: &str = "2024-07-01";

/// The recovery side of Hyper-V and physical/VMware replication.
pub const MICROSOFT_AZURE: &str = "Microsoft Azure";

/// The part of an ARM resource cutover reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub resource_type: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub sku: Option<Value>,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub properties: Value,
    /// ARM's version of the resource, for a read-modify-write's `If-Match`.
    #[serde(default)]
    pub etag: Option<String>,
}

impl Resource {
    pub fn provisioning_state(&self) -> Option<&str> {
        self.properties["provisioningState"].as_str()
    }

    pub fn friendly_name(&self) -> Option<&str> {
        self.properties["friendlyName"].as_str()
    }

    pub fn sku_name(&self) -> Option<&str> {
        self.sku.as_ref().and_then(|s| s["name"].as_str())
    }

    /// Whether cutover created this resource for `owner` (`namespace/name` of the vault).
    pub fn owned_by(&self, owner: &str) -> bool {
        self.tags.get(OWNER_TAG).is_some_and(|o| o == owner)
    }
}

/// The tag cutover puts on what it creates, naming the RecoveryVault (`namespace/name`) that
/// owns it: teardown deletes only what carries it.
pub const OWNER_TAG: &str = "cutover.dev-owner";

fn owner_tags(owner: &str) -> Value {
    json!({ "managed-by": "cutover", OWNER_TAG: owner })
}

/// A resource group and the landing zone's other resources in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    pub subscription: String,
    pub resource_group: String,
}

impl Scope {
    pub fn group_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.resource_group
        )
    }

    pub fn resource_id(&self, provider_type: &str, name: &str) -> String {
        format!("{}/providers/{provider_type}/{name}", self.group_id())
    }

    pub fn vault_id(&self, vault: &str) -> String {
        self.resource_id("Microsoft.RecoveryServices/vaults", vault)
    }
}

pub async fn get(
    arm: &ArmClient,
    id: &str,
    api_version: &str,
) -> Result<Option<Resource>, ArmError> {
    arm.get(id, api_version).await
}

/// `Usage_List`'s api-version in azure-mgmt-compute 39.0.0.
pub const USAGE_API: &str = "2026-04-01";
/// `ResourceSkus_List`'s api-version in azure-mgmt-compute 39.0.0.
pub const SKUS_API: &str = "2021-07-01";

/// The vCPU quotas of a region and their use: `Usage_List` (azure-mgmt-compute 39.0.0:
/// GET `/subscriptions/{s}/providers/Microsoft.Compute/locations/{location}/usages`).
pub async fn list_usages(
    arm: &ArmClient,
    subscription: &str,
    location: &str,
) -> Result<Vec<super::capacity::Usage>, ArmError> {
    arm.list(
        &format!(
            "/subscriptions/{subscription}/providers/Microsoft.Compute/locations/{location}/usages"
        ),
        USAGE_API,
    )
    .await
}

/// The SKUs offered in a region: `ResourceSkus_List` (azure-mgmt-compute 39.0.0: GET
/// `/subscriptions/{s}/providers/Microsoft.Compute/skus` with `$filter=location eq '{location}'`).
pub async fn list_skus(
    arm: &ArmClient,
    subscription: &str,
    location: &str,
) -> Result<Vec<super::capacity::Sku>, ArmError> {
    arm.list(
        &format!(
            "/subscriptions/{subscription}/providers/Microsoft.Compute/skus?$filter=location%20eq%20%27{location}%27"
        ),
        SKUS_API,
    )
    .await
}

/// `IPAddressAvailabilityResult` (azure-mgmt-network 33.1.0).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IpAvailability {
    #[serde(default)]
    pub available: bool,
    #[serde(default, rename = "availableIPAddresses")]
    pub available_ip_addresses: Vec<String>,
    #[serde(default)]
    pub is_platform_reserved: bool,
}

/// Whether a private address of a VNet is free: `VirtualNetworks_CheckIpAddressAvailability`
/// (azure-mgmt-network 33.1.0: GET `{vnet}/checkIPAddressAvailability?ipAddress=`; the 2024-05-01
/// example VirtualNetworkCheckIPAddressAvailability.json answers a taken address with
/// `available: false` and the next free ones). A read: `cutover plan` may make it.
pub async fn check_ip_address_availability(
    arm: &ArmClient,
    vnet_id: &str,
    address: &str,
) -> Result<Option<IpAvailability>, ArmError> {
    let path = format!("{vnet_id}/checkIPAddressAvailability?ipAddress={address}");
    arm.get(&path, NETWORK_API).await
}

pub async fn put_resource_group(
    arm: &ArmClient,
    scope: &Scope,
    location: &str,
    owner: &str,
) -> Result<Accepted, ArmError> {
    arm.put(
        &scope.group_id(),
        RESOURCES_API,
        &json!({ "location": location, "tags": owner_tags(owner) }),
    )
    .await
}

/// Every top-level resource in a resource group, as `Resources_ListByResourceGroup` lists it
/// (azure-mgmt-resource 26.0.0: `GET /subscriptions/{s}/resourcegroups/{g}/resources`,
/// `GenericResourceExpanded` items without `properties`).
pub async fn list_resources_in_group(
    arm: &ArmClient,
    group_id: &str,
) -> Result<Vec<Resource>, ArmError> {
    arm.list(&format!("{group_id}/resources"), RESOURCES_API)
        .await
}

/// The NIC IP configurations in a VNet's subnets: azure-mgmt-network's read-only
/// `Subnet.ip_configurations` (wire `properties.subnets[].properties.ipConfigurations[].id`).
/// NRP refuses to delete a subnet, or its VNet, while any remain (`InUseSubnetCannotBeDeleted`).
pub fn subnet_users(vnet: &Resource) -> Vec<String> {
    vnet.properties["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| {
            s["properties"]["ipConfigurations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect()
}

/// `Provider.registrationState` of a resource provider namespace in the subscription
/// (azure-mgmt-resource 26.0.0 `Providers_Get`: `GET /subscriptions/{s}/providers/{namespace}`):
/// `Registered`, `NotRegistered`, `Registering`... A write to an unregistered namespace is
/// refused with 409 `MissingSubscriptionRegistration`.
pub async fn provider_registration(
    arm: &ArmClient,
    subscription: &str,
    namespace: &str,
) -> Result<Option<String>, ArmError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Provider {
        #[serde(default)]
        registration_state: Option<String>,
    }
    let provider: Option<Provider> = arm
        .get(
            &format!("/subscriptions/{subscription}/providers/{namespace}"),
            RESOURCES_API,
        )
        .await?;
    Ok(provider.and_then(|p| p.registration_state))
}

pub async fn delete_resource_group(arm: &ArmClient, scope: &Scope) -> Result<Accepted, ArmError> {
    arm.delete(&scope.group_id(), RESOURCES_API).await
}

pub async fn put_vault(
    arm: &ArmClient,
    id: &str,
    location: &str,
    sku: &str,
    redundancy: &str,
    owner: &str,
) -> Result<Accepted, ArmError> {
    let body = vault_body(location, sku, redundancy, owner);
    arm.put(id, RECOVERY_SERVICES_API, &body).await
}

pub fn vault_body(location: &str, sku: &str, redundancy: &str, owner: &str) -> Value {
    json!({
        "location": location,
        "tags": owner_tags(owner),
        // The tier is required with `RS0` ("sku parameter is invalid" without it:
        // terraform-provider-azurerm issue 2274, which sends `tier: "Standard"` for RS0), and
        // Standard is the only one.
        "sku": { "name": sku, "tier": "Standard" },
        "properties": {
            "publicNetworkAccess": "Enabled",
            "redundancySettings": { "standardTierStorageRedundancy": redundancy },
        },
    })
}

pub async fn put_storage_account(
    arm: &ArmClient,
    id: &str,
    location: &str,
    sku: &str,
    owner: &str,
) -> Result<Accepted, ArmError> {
    let body = storage_account_body(location, sku, owner);
    arm.put(id, STORAGE_API, &body).await
}

pub fn storage_account_body(location: &str, sku: &str, owner: &str) -> Value {
    json!({
        "location": location,
        "tags": owner_tags(owner),
        "sku": { "name": sku },
        "kind": "StorageV2",
        "properties": { "minimumTlsVersion": "TLS1_2", "supportsHttpsTrafficOnly": true, "allowBlobPublicAccess": false },
    })
}

/// A VNet's address space and subnets, as ARM reports them.
pub fn vnet_layout(vnet: &Resource) -> (Vec<String>, Vec<(String, String)>) {
    let space = vnet.properties["addressSpace"]["addressPrefixes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    let subnets = vnet.properties["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                s["name"].as_str()?.to_owned(),
                s["properties"]["addressPrefix"].as_str()?.to_owned(),
            ))
        })
        .collect();
    (space, subnets)
}

/// What of a VNet's properties and its subnets is read-only (azure-mgmt-network 33.1.0 `VirtualNetwork`,
/// `VirtualNetworkPropertiesFormat`, `Subnet`, `SubnetPropertiesFormat`): ARM fills it, so a
/// read-modify-write leaves it out.
const VNET_PROPERTIES_READ_ONLY: &[&str] = &[
    "defaultPublicNatGateway",
    "flowLogs",
    "provisioningState",
    "resourceGuid",
];
const SUBNET_READ_ONLY: &[&str] = &["etag", "type"];
const SUBNET_PROPERTIES_READ_ONLY: &[&str] = &[
    "ipConfigurationProfiles",
    "ipConfigurations",
    "privateEndpoints",
    "provisioningState",
    "purpose",
    "resourceNavigationLinks",
    "serviceAssociationLinks",
];

fn without(value: &Value, read_only: &[&str]) -> serde_json::Map<String, Value> {
    let mut map = value.as_object().cloned().unwrap_or_default();
    map.retain(|key, _| !read_only.contains(&key.as_str()));
    map
}

/// The body of a VNet PUT. A new VNet is the spec's address space and subnets. A repair is a
/// read-modify-write of what Azure has: everything others set on the VNet and its subnets
/// (NSGs, route tables, delegations, service endpoints, NAT gateways, peerings, DNS servers,
/// other subnets) goes back as it was, less what is read-only; only the address space, the
/// spec's subnets' prefixes and cutover's tag are set, and missing subnets added. A VNet PUT
/// replaces the whole resource, so what it leaves out is removed (Azure/azure-powershell
/// issue 2660).
pub fn virtual_network_body(
    existing: Option<&Resource>,
    location: &str,
    space: &[String],
    subnets: &[(String, String)],
    owner: &str,
) -> Value {
    let Some(existing) = existing else {
        return json!({
            "location": location,
            "tags": owner_tags(owner),
            "properties": {
                "addressSpace": { "addressPrefixes": space },
                "subnets": subnets.iter().map(|(name, prefix)| json!({ "name": name, "properties": { "addressPrefix": prefix } })).collect::<Vec<_>>(),
            },
        });
    };
    let mut properties = without(&existing.properties, VNET_PROPERTIES_READ_ONLY);
    let mut kept: Vec<Value> = existing.properties["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|subnet| {
            let mut body = without(subnet, SUBNET_READ_ONLY);
            body.insert(
                "properties".into(),
                Value::Object(without(&subnet["properties"], SUBNET_PROPERTIES_READ_ONLY)),
            );
            Value::Object(body)
        })
        .collect();
    for (name, prefix) in subnets {
        match kept.iter_mut().find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            Some(subnet) => {
                subnet["properties"]["addressPrefix"] = json!(prefix);
                if let Some(map) = subnet["properties"].as_object_mut() {
                    map.remove("addressPrefixes");
                }
            }
            None => kept.push(json!({ "name": name, "properties": { "addressPrefix": prefix } })),
        }
    }
    properties.insert("addressSpace".into(), json!({ "addressPrefixes": space }));
    properties.insert("subnets".into(), Value::Array(kept));
    let mut tags = existing.tags.clone();
    tags.extend(
        owner_tags(owner)
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))),
    );
    // The top level cutover reads is `id`, `location`, `tags` and `properties`; of the rest,
    // `etag`, `name` and `type` are read-only.
    json!({ "id": existing.id, "location": location, "tags": tags, "properties": properties })
}

/// PUTs a VNet: created from the spec, or repaired by a read-modify-write of `existing` with
/// `If-Match` of the etag read ([`virtual_network_body`]).
pub async fn put_virtual_network(
    arm: &ArmClient,
    id: &str,
    existing: Option<&Resource>,
    location: &str,
    space: &[String],
    subnets: &[(String, String)],
    owner: &str,
) -> Result<Accepted, ArmError> {
    let body = virtual_network_body(existing, location, space, subnets, owner);
    let etag = existing.and_then(|e| e.etag.as_deref());
    arm.put_if_match(id, NETWORK_API, &body, etag).await
}

pub async fn delete_resource(
    arm: &ArmClient,
    id: &str,
    api_version: &str,
) -> Result<Accepted, ArmError> {
    arm.delete(id, api_version).await
}

// ---- Site Recovery ----

pub async fn list_fabrics(arm: &ArmClient, vault_id: &str) -> Result<Vec<Resource>, ArmError> {
    arm.list(&format!("{vault_id}/replicationFabrics"), SITE_RECOVERY_API)
        .await
}

/// The ID of what holds `id`, cut before its last `/{collection}/`; ARM IDs are
/// case-insensitive, and Site Recovery answers `/Subscriptions/...` where ARM says `/subscriptions/`
/// (ReplicationPolicies_List.json, 2025-08-01), so the collection is found in any casing.
pub fn parent_id(id: &str, collection: &str) -> String {
    let segments: Vec<&str> = id.split('/').collect();
    match segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case(collection))
    {
        Some(at) => segments[..at].join("/"),
        None => String::new(),
    }
}

pub fn fabric_id(vault_id: &str, name: &str) -> String {
    format!("{vault_id}/replicationFabrics/{name}")
}

pub fn container_id(fabric_id: &str, name: &str) -> String {
    format!("{fabric_id}/replicationProtectionContainers/{name}")
}

pub fn container_mapping_id(container_id: &str, name: &str) -> String {
    format!("{container_id}/replicationProtectionContainerMappings/{name}")
}

pub fn network_mapping_id(network_id: &str, name: &str) -> String {
    format!("{network_id}/replicationNetworkMappings/{name}")
}

/// Creates a fabric ARM can create: a Hyper-V site, or an Azure region (A2A).
pub async fn put_fabric(
    arm: &ArmClient,
    vault_id: &str,
    name: &str,
    custom_details: Value,
) -> Result<Accepted, ArmError> {
    arm.put(
        &fabric_id(vault_id, name),
        SITE_RECOVERY_API,
        &json!({ "properties": { "customDetails": custom_details } }),
    )
    .await
}

/// Unregisters a fabric (its servers, containers and networks go with it).
pub async fn remove_fabric(arm: &ArmClient, fabric_id: &str) -> Result<Accepted, ArmError> {
    arm.post(&format!("{fabric_id}/remove"), SITE_RECOVERY_API, None)
        .await
}

pub async fn list_containers(arm: &ArmClient, fabric_id: &str) -> Result<Vec<Resource>, ArmError> {
    arm.list(
        &format!("{fabric_id}/replicationProtectionContainers"),
        SITE_RECOVERY_API,
    )
    .await
}

/// Creates an A2A protection container in an Azure fabric.
pub async fn put_a2a_container(
    arm: &ArmClient,
    fabric_id: &str,
    name: &str,
) -> Result<Accepted, ArmError> {
    let body = json!({ "properties": { "providerSpecificInput": [{ "instanceType": "A2A" }] } });
    arm.put(&container_id(fabric_id, name), SITE_RECOVERY_API, &body)
        .await
}

pub async fn list_networks(arm: &ArmClient, fabric_id: &str) -> Result<Vec<Resource>, ArmError> {
    arm.list(
        &format!("{fabric_id}/replicationNetworks"),
        SITE_RECOVERY_API,
    )
    .await
}

pub async fn list_network_mappings(
    arm: &ArmClient,
    vault_id: &str,
) -> Result<Vec<Resource>, ArmError> {
    arm.list(
        &format!("{vault_id}/replicationNetworkMappings"),
        SITE_RECOVERY_API,
    )
    .await
}

/// Where a network mapping maps to, by source: `CreateNetworkMappingInputProperties` and its
/// `FabricSpecificCreateNetworkMappingInput` (azure-mgmt-recoveryservicessiterecovery 2.0.0).
pub enum NetworkMappingTarget<'a> {
    /// A VMM VM network to an Azure VNet: recovery fabric "Microsoft Azure", `VmmToAzure`
    /// (ReplicationNetworkMappings_Create.json, 2025-08-01).
    VmmToAzure,
    /// A source-region VNet to a target-region VNet: the recovery fabric is the target region's
    /// Azure fabric, and `AzureToAzure` requires the source VNet as `primaryNetworkId`
    /// (`AzureToAzureCreateNetworkMappingInput`; terraform-provider-azurerm's
    /// `azurerm_site_recovery_network_mapping` sends the same).
    AzureToAzure {
        recovery_fabric: &'a str,
        primary_network_id: &'a str,
    },
}

pub async fn put_network_mapping(
    arm: &ArmClient,
    network_id: &str,
    name: &str,
    recovery_network_id: &str,
    target: NetworkMappingTarget<'_>,
) -> Result<Accepted, ArmError> {
    let (recovery_fabric, details) = match target {
        NetworkMappingTarget::VmmToAzure => {
            (MICROSOFT_AZURE, json!({ "instanceType": "VmmToAzure" }))
        }
        NetworkMappingTarget::AzureToAzure {
            recovery_fabric,
            primary_network_id,
        } => (
            recovery_fabric,
            json!({ "instanceType": "AzureToAzure", "primaryNetworkId": primary_network_id }),
        ),
    };
    let body = json!({ "properties": {
        "recoveryFabricName": recovery_fabric,
        "recoveryNetworkId": recovery_network_id,
        "fabricSpecificDetails": details,
    }});
    arm.put(
        &network_mapping_id(network_id, name),
        SITE_RECOVERY_API,
        &body,
    )
    .await
}

pub async fn put_policy(
    arm: &ArmClient,
    vault_id: &str,
    name: &str,
    provider_input: Value,
) -> Result<Accepted, ArmError> {
    arm.put(
        &policy_id(vault_id, name),
        SITE_RECOVERY_API,
        &json!({ "properties": { "providerSpecificInput": provider_input } }),
    )
    .await
}

pub fn policy_id(vault_id: &str, name: &str) -> String {
    format!("{vault_id}/replicationPolicies/{name}")
}

pub async fn list_container_mappings(
    arm: &ArmClient,
    vault_id: &str,
) -> Result<Vec<Resource>, ArmError> {
    arm.list(
        &format!("{vault_id}/replicationProtectionContainerMappings"),
        SITE_RECOVERY_API,
    )
    .await
}

/// `providerSpecificInput` of a container mapping: a `ReplicationProviderSpecificContainerMappingInput`,
/// whose subtypes are only `A2A` and `VMwareCbt` (azure-mgmt-recoveryservicessiterecovery 2.0.0).
/// Every other provider sends the base type by its own name, as
/// ReplicationProtectionContainerMappings_Create.json (2025-08-01, a VMM cloud to "Microsoft Azure")
/// and Az PowerShell's `New-AzRecoveryServicesReplicationProtectionContainerMapping` example do.
pub fn container_mapping_input(provider: &str) -> Value {
    match provider {
        "A2A" | "VMwareCbt" => json!({ "instanceType": provider }),
        _ => json!({ "instanceType": "ReplicationProviderSpecificContainerMappingInput" }),
    }
}

pub async fn put_container_mapping(
    arm: &ArmClient,
    container_id: &str,
    name: &str,
    target: &str,
    policy_id: &str,
    provider: &str,
) -> Result<Accepted, ArmError> {
    let body = json!({ "properties": {
        "targetProtectionContainerId": target,
        "policyId": policy_id,
        "providerSpecificInput": container_mapping_input(provider),
    }});
    arm.put(
        &container_mapping_id(container_id, name),
        SITE_RECOVERY_API,
        &body,
    )
    .await
}

pub async fn remove_container_mapping(
    arm: &ArmClient,
    mapping_id: &str,
) -> Result<Accepted, ArmError> {
    arm.post(
        &format!("{mapping_id}/remove"),
        SITE_RECOVERY_API,
        Some(&json!({ "properties": {} })),
    )
    .await
}

pub async fn list_protected_items(
    arm: &ArmClient,
    vault_id: &str,
) -> Result<Vec<crate::azure::models::ProtectedItem>, ArmError> {
    arm.list(
        &format!("{vault_id}/replicationProtectedItems"),
        SITE_RECOVERY_API,
    )
    .await
}

pub async fn list_protectable_items(
    arm: &ArmClient,
    container_id: &str,
) -> Result<Vec<Resource>, ArmError> {
    arm.list(
        &format!("{container_id}/replicationProtectableItems"),
        SITE_RECOVERY_API,
    )
    .await
}

/// The api-version of an Azure Migrate discovery site's lists: 2020-01-01 for VMware sites
/// (Az PowerShell's `PSAsrFabricDiscoveryClient`, terraform-provider-azurerm), 2023-06-06 for
/// server sites (the first Microsoft.OffAzure version that has them; Microsoft's REST how-to
/// for InMageRcm uses it).
pub fn discovery_api(site_id: &str) -> &'static str {
    if site_id
        .to_ascii_lowercase()
        .contains("/providers/microsoft.offazure/serversites/")
    {
        "2023-06-06"
    } else {
        "2020-01-01"
    }
}

/// The machines an appliance discovered into its Azure Migrate site.
pub async fn list_discovered_machines(
    arm: &ArmClient,
    site_id: &str,
) -> Result<Vec<Resource>, ArmError> {
    arm.list(&format!("{site_id}/machines"), discovery_api(site_id))
        .await
}

/// The run-as accounts of an Azure Migrate site.
pub async fn list_run_as_accounts(
    arm: &ArmClient,
    site_id: &str,
) -> Result<Vec<Resource>, ArmError> {
    arm.list(&format!("{site_id}/runasaccounts"), discovery_api(site_id))
        .await
}

/// Enables protection: PUT of the protected item with the provider's input. The job that
/// runs it is in the answer's polling headers.
pub async fn enable_protection(
    arm: &ArmClient,
    container_id: &str,
    name: &str,
    policy_id: &str,
    protectable_item_id: Option<&str>,
    provider_input: Value,
) -> Result<Accepted, ArmError> {
    let mut properties =
        json!({ "policyId": policy_id, "providerSpecificDetails": provider_input });
    if let Some(id) = protectable_item_id {
        properties["protectableItemId"] = json!(id);
    }
    arm.put(
        &format!("{container_id}/replicationProtectedItems/{name}"),
        SITE_RECOVERY_API,
        &json!({ "properties": properties }),
    )
    .await
}

pub async fn get_protected_item(
    arm: &ArmClient,
    id: &str,
) -> Result<Option<crate::azure::models::ProtectedItem>, ArmError> {
    arm.get(id, SITE_RECOVERY_API).await
}

/// The settings of a protected item an update re-sends, as a GET of it has them.
pub async fn get_protected_item_settings(
    arm: &ArmClient,
    id: &str,
) -> Result<Option<crate::azure::target::TargetSettings>, ArmError> {
    let item: Option<Value> = arm.get(id, SITE_RECOVERY_API).await?;
    Ok(item.map(|item| crate::azure::target::settings_of(&item)))
}

/// `ReplicationProtectedItems_Update`: a PATCH of the item; its job is in the answer's polling
/// headers.
pub async fn update_protected_item(
    arm: &ArmClient,
    id: &str,
    body: &Value,
) -> Result<Accepted, ArmError> {
    arm.patch(id, SITE_RECOVERY_API, body).await
}

/// The non-idempotent actions on a protected item, by their URL segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemAction {
    TestFailover,
    TestFailoverCleanup,
    PlannedFailover,
    UnplannedFailover,
    FailoverCommit,
    FailoverCancel,
    /// Disable protection (`remove`); with `MigrationComplete` it keeps the migrated VM.
    Remove,
}

impl ItemAction {
    fn segment(self) -> &'static str {
        match self {
            ItemAction::TestFailover => "testFailover",
            ItemAction::TestFailoverCleanup => "testFailoverCleanup",
            ItemAction::PlannedFailover => "plannedFailover",
            ItemAction::UnplannedFailover => "unplannedFailover",
            ItemAction::FailoverCommit => "failoverCommit",
            ItemAction::FailoverCancel => "failoverCancel",
            ItemAction::Remove => "remove",
        }
    }
}

/// POSTs an action; the job that runs it is in the answer's polling headers.
pub async fn protected_item_action(
    arm: &ArmClient,
    item_id: &str,
    action: ItemAction,
    body: Option<&Value>,
) -> Result<Accepted, ArmError> {
    arm.post(
        &format!("{item_id}/{}", action.segment()),
        SITE_RECOVERY_API,
        body,
    )
    .await
}

pub fn job_id(vault_id: &str, job_name: &str) -> String {
    format!("{vault_id}/replicationJobs/{job_name}")
}

pub async fn get_job(arm: &ArmClient, id: &str) -> Result<Option<Resource>, ArmError> {
    arm.get(id, SITE_RECOVERY_API).await
}

pub async fn list_jobs(arm: &ArmClient, vault_id: &str) -> Result<Vec<Resource>, ArmError> {
    arm.list(&format!("{vault_id}/replicationJobs"), SITE_RECOVERY_API)
        .await
}

/// A VM's ID, when it exists and its instance view says it runs. The power state is only in
/// the instance view (`VirtualMachines_InstanceView`, `GET {vm}/instanceView`; a plain GET of
/// the VM leaves it out unless `$expand=instanceView`).
pub async fn running_vm(arm: &ArmClient, id: &str) -> Result<Option<String>, ArmError> {
    let view: Option<super::models::InstanceView> =
        arm.get(&format!("{id}/instanceView"), COMPUTE_API).await?;
    Ok(view.filter(|v| v.running()).map(|_| id.to_owned()))
}

/// A VM's private address: its primary NIC's primary IP configuration's `privateIPAddress`
/// (`VirtualMachines_Get`, then `NetworkInterfaces_Get`). `None` while either is missing.
pub async fn private_address(arm: &ArmClient, vm_id: &str) -> Result<Option<String>, ArmError> {
    let vm: Option<super::models::VirtualMachine> = arm.get(vm_id, COMPUTE_API).await?;
    let Some(nic_id) = vm.as_ref().and_then(|vm| vm.primary_nic()) else {
        return Ok(None);
    };
    let nic: Option<super::models::NetworkInterface> = arm.get(nic_id, NETWORK_API).await?;
    Ok(nic.and_then(|nic| nic.primary_address().map(str::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_of_an_id_is_found_in_any_casing() {
        let item = "/Subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectableItems/vm1";
        assert_eq!(
            parent_id(item, "replicationProtectableItems"),
            "/Subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/replicationProtectionContainers/c"
        );
        assert_eq!(
            parent_id(
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.offazure/vmwaresites/site/MACHINES/m",
                "machines"
            ),
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.offazure/vmwaresites/site"
        );
        assert_eq!(parent_id("/subscriptions/s", "machines"), "");
    }

    #[test]
    fn a_vnet_repair_keeps_what_others_set_and_leaves_out_what_is_read_only() {
        // A VNet as NRP answers a GET (azure-mgmt-network VirtualNetwork): someone attached an
        // NSG and a delegation to `app`, added their own subnet, and changed app's prefix.
        let existing: Resource = serde_json::from_value(json!({
            "id": "/s/vnets/v", "name": "v", "type": "Microsoft.Network/virtualNetworks",
            "etag": "W/\"7\"", "location": "westeurope", "tags": {"costCenter": "42"},
            "properties": {
                "provisioningState": "Succeeded", "resourceGuid": "g",
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "dhcpOptions": {"dnsServers": ["10.0.0.4"]},
                "subnets": [
                    {"id": "/s/vnets/v/subnets/app", "name": "app", "etag": "W/\"7\"", "type": "Microsoft.Network/virtualNetworks/subnets",
                     "properties": {"provisioningState": "Succeeded", "addressPrefix": "10.0.9.0/24",
                        "networkSecurityGroup": {"id": "/s/nsgs/app"},
                        "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}],
                        "ipConfigurations": [{"id": "/s/nics/n/ipConfigurations/c"}]}},
                    {"name": "theirs", "properties": {"addressPrefix": "10.0.8.0/24"}},
                ],
            },
        }))
        .unwrap();
        let body = virtual_network_body(
            Some(&existing),
            "westeurope",
            &["10.0.0.0/16".into()],
            &[
                ("app".into(), "10.0.1.0/24".into()),
                ("db".into(), "10.0.2.0/24".into()),
            ],
            "ns/v",
        );
        let properties = &body["properties"];
        assert_eq!(properties["dhcpOptions"]["dnsServers"][0], "10.0.0.4");
        assert!(
            properties.get("provisioningState").is_none()
                && properties.get("resourceGuid").is_none()
        );
        let app = &properties["subnets"][0];
        assert_eq!(
            app["properties"]["addressPrefix"], "10.0.1.0/24",
            "the spec's prefix"
        );
        assert_eq!(
            app["properties"]["networkSecurityGroup"]["id"],
            "/s/nsgs/app"
        );
        assert_eq!(app["properties"]["delegations"][0]["name"], "d");
        assert!(app.get("etag").is_none() && app["properties"].get("ipConfigurations").is_none());
        assert_eq!(
            properties["subnets"][1]["name"], "theirs",
            "a subnet others added stays"
        );
        assert_eq!(
            properties["subnets"][2],
            json!({"name": "db", "properties": {"addressPrefix": "10.0.2.0/24"}})
        );
        assert_eq!(body["tags"]["costCenter"], "42");
        assert_eq!(body["tags"][OWNER_TAG], "ns/v");
        assert!(body.get("etag").is_none() && body.get("name").is_none());
        // A new VNet is the spec alone.
        let created = virtual_network_body(
            None,
            "westeurope",
            &["10.0.0.0/16".into()],
            &[("app".into(), "10.0.1.0/24".into())],
            "ns/v",
        );
        assert_eq!(
            created["properties"]["subnets"],
            json!([{"name": "app", "properties": {"addressPrefix": "10.0.1.0/24"}}])
        );
    }
}
