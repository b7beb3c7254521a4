//! Microsoft.Network/virtualNetworks and their subnets: PUT answers 201 (or 200) with
//! `Azure-AsyncOperation`; a VNet PUT replaces the subnet list (leaving it out deletes every
//! subnet, as in Azure); address prefixes are checked as Azure's NetCfg checks them.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ipnet::Ipv4Net;
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    api_version, base_document, check_location, operations, page, parse_body, resource_id,
};
use crate::app::Sim;
use crate::error::ArmError;
use crate::state::{OperationKind, Resource, World};

pub const TYPE: &str = "Microsoft.Network/virtualNetworks";
/// How long a VNet or subnet change takes, in simulated time.
const UPDATE_DURATION: SignedDuration = SignedDuration::from_secs(3);

#[derive(Deserialize)]
struct Body {
    location: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    properties: VnetProperties,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VnetProperties {
    #[serde(default)]
    address_space: Option<AddressSpace>,
    #[serde(default)]
    subnets: Vec<SubnetBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddressSpace {
    #[serde(default)]
    address_prefixes: Vec<String>,
}

#[derive(Deserialize)]
struct SubnetBody {
    name: Option<String>,
    #[serde(default)]
    properties: SubnetProperties,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SubnetProperties {
    address_prefix: Option<String>,
    /// What else the client set (an NSG, a route table, delegations, service endpoints...):
    /// NRP keeps it, and a PUT that leaves it out removes it.
    #[serde(flatten)]
    others: serde_json::Map<String, Value>,
}

/// The properties of `azure-mgmt-network`'s `SubnetPropertiesFormat` that are read-only: NRP
/// fills them, a client's value is ignored.
const SUBNET_READ_ONLY: &[&str] = &[
    "ipConfigurationProfiles",
    "ipConfigurations",
    "privateEndpoints",
    "provisioningState",
    "purpose",
    "resourceNavigationLinks",
    "serviceAssociationLinks",
];

/// A subnet as stored: name, prefix, and the other writable properties it was given.
#[derive(Clone)]
struct Subnet {
    name: String,
    prefix: String,
    others: serde_json::Map<String, Value>,
}

fn writable(mut others: serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    others.retain(|key, _| !SUBNET_READ_ONLY.contains(&key.as_str()));
    others
}

fn stored_subnets(vnet: &Resource) -> Vec<Subnet> {
    vnet.properties["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some(Subnet {
                name: s["name"].as_str()?.to_owned(),
                prefix: s["addressPrefix"].as_str()?.to_owned(),
                others: s["others"].as_object().cloned().unwrap_or_default(),
            })
        })
        .collect()
}

fn stored_prefixes(vnet: &Resource) -> Vec<String> {
    vnet.properties["addressPrefixes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}

fn store(vnet: &mut Resource, prefixes: &[String], subnets: &[Subnet]) {
    vnet.properties = json!({
        "addressPrefixes": prefixes,
        "subnets": subnets.iter().map(|s| json!({ "name": s.name, "addressPrefix": s.prefix, "others": s.others })).collect::<Vec<_>>(),
        "resourceGuid": vnet.properties.get("resourceGuid").cloned().unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string())),
    });
}

/// The ID of the subnet named `name` in a VNet (its first subnet when there is no such name).
pub fn subnet_id(world: &World, network_id: &str, name: Option<&str>) -> Option<String> {
    let vnet = world.resource(network_id)?;
    let subnets = stored_subnets(vnet);
    let subnet = name
        .and_then(|n| subnets.iter().find(|s| s.name.eq_ignore_ascii_case(n)))
        .or_else(|| subnets.first())?;
    Some(format!("{}/subnets/{}", vnet.id, subnet.name))
}

/// NRP's 400 for removing a subnet that network interfaces still use (seen from real Azure in
/// terraform-provider-azurerm issues 688 and 4784: code `InUseSubnetCannotBeDeleted`, this
/// message), for a subnet DELETE, a VNet DELETE and a VNet PUT that leaves the subnet out.
fn check_not_in_use(world: &World, vnet: &Resource, subnet: &Subnet) -> Result<(), ArmError> {
    let subnet_id = format!("{}/subnets/{}", vnet.id, subnet.name);
    match super::compute::ip_configurations_in(world, &subnet_id).first() {
        Some(user) => Err(ArmError::bad_request(
            "InUseSubnetCannotBeDeleted",
            format!(
                "Subnet {} is in use by {user} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.",
                subnet.name
            ),
        )),
        None => Ok(()),
    }
}

pub fn document(sim: &Sim, world: &World, vnet: &Resource) -> Value {
    let state = vnet.provisioning_state(sim.now(), "Updating");
    let mut body = base_document(vnet, state);
    body["etag"] = json!(etag(vnet));
    body["properties"] = json!({
        "provisioningState": state,
        "resourceGuid": vnet.properties["resourceGuid"],
        "addressSpace": { "addressPrefixes": stored_prefixes(vnet) },
        "subnets": stored_subnets(vnet).iter().map(|s| subnet_document(world, vnet, s, state)).collect::<Vec<_>>(),
        "virtualNetworkPeerings": [],
        "enableDdosProtection": false,
    });
    body
}

/// The VNet's `etag`: a new one with each write.
fn etag(vnet: &Resource) -> String {
    format!("W/\"{}\"", vnet.ready_at.as_millisecond())
}

/// A subnet as NRP returns it; `ipConfigurations` (read-only in azure-mgmt-network's `Subnet`)
/// lists the NIC IP configurations in it, and is absent when there are none.
fn subnet_document(world: &World, vnet: &Resource, subnet: &Subnet, state: &str) -> Value {
    let id = format!("{}/subnets/{}", vnet.id, subnet.name);
    let users = super::compute::ip_configurations_in(world, &id);
    let mut body = json!({
        "id": id,
        "name": subnet.name,
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "etag": format!("W/\"{}\"", vnet.ready_at.as_millisecond()),
        "properties": { "provisioningState": state, "addressPrefix": subnet.prefix },
    });
    for (key, value) in &subnet.others {
        body["properties"][key] = value.clone();
    }
    if !users.is_empty() {
        body["properties"]["ipConfigurations"] = users.iter().map(|u| json!({ "id": u })).collect();
    }
    body
}

/// Checks address space and subnets the way NetCfg does.
fn check_layout(
    id: &str,
    vnet_name: &str,
    prefixes: &[String],
    subnets: &[Subnet],
) -> Result<(), ArmError> {
    let parse = |prefix: &str| {
        prefix.parse::<Ipv4Net>().ok().filter(|net| net.trunc() == *net).ok_or_else(|| {
            ArmError::bad_request(
                "InvalidAddressPrefixFormat",
                format!("Address prefix {prefix} of resource {id} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24."),
            )
        })
    };
    if prefixes.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidRequestFormat",
            "Cannot parse the request: addressSpace.addressPrefixes is required.",
        )
        .with_target("properties.addressSpace"));
    }
    let space = prefixes
        .iter()
        .map(|p| parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen: Vec<(&str, Ipv4Net)> = Vec::new();
    for subnet in subnets {
        let net = parse(&subnet.prefix)?;
        if seen
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(&subnet.name))
        {
            return Err(ArmError::bad_request(
                "DuplicateResourceName",
                format!(
                    "Virtual network {vnet_name} has two subnets named {}.",
                    subnet.name
                ),
            ));
        }
        if !space.iter().any(|block| block.contains(&net)) {
            return Err(ArmError::bad_request(
                "NetcfgSubnetRangeOutsideVnet",
                format!(
                    "Subnet '{}' is not valid because its IP address range is outside the IP address range of virtual network '{vnet_name}'.",
                    subnet.name
                ),
            ));
        }
        if seen
            .iter()
            .any(|(_, other)| other.contains(&net) || net.contains(other))
        {
            return Err(ArmError::bad_request(
                "NetcfgSubnetRangesOverlap",
                format!(
                    "Subnet '{}' is not valid because its IP address range overlaps with that of an existing subnet in virtual network '{vnet_name}'.",
                    subnet.name
                ),
            ));
        }
        seen.push((&subnet.name, net));
    }
    Ok(())
}

fn async_operation_url(
    sim: &Sim,
    subscription: &str,
    location: &str,
    operation: &str,
    uri: &Uri,
) -> String {
    format!(
        "{}/subscriptions/{subscription}/providers/Microsoft.Network/locations/{location}/operations/{operation}?api-version={}",
        sim.base_url(),
        api_version(uri)
    )
}

fn find_vnet<'w>(
    world: &'w World,
    subscription: &str,
    group: &str,
    name: &str,
) -> Result<&'w Resource, ArmError> {
    world.require_resource_group(group)?;
    world
        .resource(&resource_id(subscription, group, TYPE, name))
        .filter(|r| r.deleting_until.is_none())
        .ok_or_else(|| ArmError::not_found(TYPE, name, group))
}

pub async fn list(
    State(sim): State<Sim>,
    Path((_, group)): Path<(String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    super::list_in_group(&sim, &uri, &group, TYPE)
}

pub async fn get(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    super::get_in_group(&sim, &subscription, &group, TYPE, &name)
}

/// The address NRP's dynamic allocation gives the next NIC in `subnet_id`: the lowest that is
/// neither kept by Azure (the first four and the last) nor another NIC's.
pub fn next_free_address(world: &World, subnet_id: &str) -> Option<String> {
    let (vnet_id, name) = subnet_id.rsplit_once("/subnets/")?;
    let vnet = world.resource(vnet_id)?;
    let subnet = stored_subnets(vnet)
        .into_iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))?;
    let net: Ipv4Net = subnet.prefix.parse().ok()?;
    let used = addresses_in(world, subnet_id);
    net.hosts()
        .skip(3)
        .take_while(|ip| *ip != net.broadcast())
        .find(|ip| !used.contains(&ip.to_string()))
        .map(|ip| ip.to_string())
}

/// The private addresses of the NICs in a subnet.
fn addresses_in(world: &World, subnet_id: &str) -> Vec<String> {
    super::compute::ip_configuration_addresses_in(world, subnet_id)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityQuery {
    ip_address: Option<String>,
}

/// `VirtualNetworks_CheckIpAddressAvailability` (azure-mgmt-network 33.1.0: GET
/// `.../virtualNetworks/{name}/checkIPAddressAvailability?ipAddress=`, answered with an
/// `IPAddressAvailabilityResult`: `available`, `availableIPAddresses`, `isPlatformReserved`).
/// VirtualNetworkCheckIPAddressAvailability.json (network 2024-05-01): a taken address is
/// `available: false` with the next free ones listed. Azure's answer for an address in no
/// subnet, or for a request without `ipAddress`, is in no source: docs/azure-fidelity.md.
pub async fn check_ip_address_availability(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    axum::extract::Query(query): axum::extract::Query<AvailabilityQuery>,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vnet = find_vnet(&world, &subscription, &group, &name)?;
    let Some(text) = query.ip_address else {
        return Err(ArmError::bad_request(
            "MissingRequiredParameter",
            "The request is missing the required query parameter ipAddress.",
        ));
    };
    let ip: std::net::Ipv4Addr = text.parse().map_err(|_| {
        ArmError::bad_request(
            "InvalidParameter",
            format!("{text} is not a valid IPv4 address."),
        )
    })?;
    let Some((subnet, net)) = stored_subnets(vnet).into_iter().find_map(|s| {
        let net: Ipv4Net = s.prefix.parse().ok()?;
        net.contains(&ip).then_some((s, net))
    }) else {
        return Ok(Json(
            json!({ "available": false, "availableIPAddresses": [] }),
        ));
    };
    let first = u32::from(net.network());
    let reserved = [
        net.network(),
        std::net::Ipv4Addr::from(first + 1),
        std::net::Ipv4Addr::from(first + 2),
        std::net::Ipv4Addr::from(first + 3),
        net.broadcast(),
    ];
    if reserved.contains(&ip) {
        return Ok(Json(
            json!({ "available": false, "isPlatformReserved": true }),
        ));
    }
    let subnet_id = format!("{}/subnets/{}", vnet.id, subnet.name);
    let used = addresses_in(&world, &subnet_id);
    if !used.contains(&ip.to_string()) {
        return Ok(Json(
            json!({ "available": true, "isPlatformReserved": false }),
        ));
    }
    let free: Vec<String> = net
        .hosts()
        .filter(|candidate| *candidate > ip && !reserved.contains(candidate))
        .map(|candidate| candidate.to_string())
        .filter(|candidate| !used.contains(candidate))
        .take(5)
        .collect();
    Ok(Json(
        json!({ "available": false, "availableIPAddresses": free, "isPlatformReserved": false }),
    ))
}

pub async fn put(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    failure: Option<axum::Extension<crate::faults::OperationFailure>>,
    headers: axum::http::HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let failure = failure.map(|f| f.0);
    let if_match = headers
        .get(axum::http::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Body = parse_body(&body)?;
    let location = check_location(&body.location, TYPE)?;
    let prefixes = body
        .properties
        .address_space
        .map(|a| a.address_prefixes)
        .unwrap_or_default();
    let subnets = body
        .properties
        .subnets
        .into_iter()
        .map(|s| {
            let name = s.name.ok_or_else(|| {
                ArmError::bad_request(
                    "InvalidRequestFormat",
                    "Cannot parse the request: a subnet has no name.",
                )
            })?;
            let prefix = s.properties.address_prefix.ok_or_else(|| {
                ArmError::bad_request(
                    "InvalidRequestFormat",
                    format!("Subnet {name} has no addressPrefix."),
                )
            })?;
            Ok(Subnet {
                name,
                prefix,
                others: writable(s.properties.others),
            })
        })
        .collect::<Result<Vec<_>, ArmError>>()?;
    let now = sim.now();
    let mut world = sim.world();
    let group_name = world.require_resource_group(&group)?.name.clone();
    let id = resource_id(&subscription, &group_name, TYPE, &name);
    check_layout(&id, &name, &prefixes, &subnets)?;
    let status = match world
        .resource_mut(&id)
        .filter(|r| r.deleting_until.is_none())
    {
        Some(existing) => {
            existing.check_same_location(&location)?;
            // A read-modify-write names the version it read (ARM RPC: `If-Match`, 412 when the
            // resource has changed since).
            if let Some(wanted) = &if_match
                && wanted != "*"
                && *wanted != etag(existing)
            {
                return Err(ArmError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "PreconditionFailed",
                    format!("The virtual network {name} has changed since etag {wanted} was read."),
                ));
            }
            let existing = existing.clone();
            for dropped in stored_subnets(&existing).iter().filter(|old| {
                !subnets
                    .iter()
                    .any(|s| s.name.eq_ignore_ascii_case(&old.name))
            }) {
                check_not_in_use(&world, &existing, dropped)?;
            }
            let existing = world.resource_mut(&id).expect("the VNet was found above");
            existing.tags = body.tags;
            existing.ready_at = now + UPDATE_DURATION;
            store(existing, &prefixes, &subnets);
            StatusCode::OK
        }
        None => {
            let mut vnet = Resource {
                id: id.clone(),
                name,
                resource_type: TYPE.into(),
                resource_group: group_name,
                location: Some(location.clone()),
                tags: body.tags,
                sku: None,
                kind: None,
                properties: json!({}),
                created_at: now,
                ready_at: now + UPDATE_DURATION,
                deleting_until: None,
                failed: false,
            };
            store(&mut vnet, &prefixes, &subnets);
            world.insert(vnet);
            StatusCode::CREATED
        }
    };
    let operation = operations::start(&mut world, &id, OperationKind::Create, now, UPDATE_DURATION);
    super::operations::fail(&mut world, &operation.id, &id, failure.as_ref());
    let vnet = world
        .resource(&id)
        .cloned()
        .unwrap_or_else(|| vnet_placeholder(&id, now));
    let mut response = (status, Json(document(&sim, &world, &vnet))).into_response();
    let url = async_operation_url(&sim, &subscription, &location, &operation.id, &uri);
    operations::add_polling_headers(&sim, &mut response, None, Some(&url), UPDATE_DURATION);
    Ok(response)
}

/// What a create answered before its failure removed the VNet (a failed create leaves none).
fn vnet_placeholder(id: &str, now: jiff::Timestamp) -> Resource {
    Resource {
        id: id.to_owned(),
        name: id.rsplit('/').next().unwrap_or_default().to_owned(),
        resource_type: TYPE.into(),
        resource_group: String::new(),
        location: None,
        tags: Default::default(),
        sku: None,
        kind: None,
        properties: json!({}),
        created_at: now,
        ready_at: now + UPDATE_DURATION,
        deleting_until: None,
        failed: false,
    }
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
    let Some(vnet) = world
        .resource(&id)
        .filter(|r| r.deleting_until.is_none())
        .cloned()
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    for subnet in stored_subnets(&vnet) {
        check_not_in_use(&world, &vnet, &subnet)?;
    }
    let vnet = world.resource_mut(&id).expect("the VNet was found above");
    vnet.deleting_until = Some(now + UPDATE_DURATION);
    let location = vnet.location.clone().unwrap_or_default();
    let operation = operations::start(&mut world, &id, OperationKind::Delete, now, UPDATE_DURATION);
    let status_url = async_operation_url(&sim, &subscription, &location, &operation.id, &uri);
    let result_url = status_url.replace("/operations/", "/operationResults/");
    Ok(operations::accepted(
        &sim,
        &result_url,
        Some(&status_url),
        UPDATE_DURATION,
    ))
}

fn subnet_not_found(vnet: &Resource, name: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("Resource {}/subnets/{name} not found.", vnet.id),
    )
}

pub async fn list_subnets(
    State(sim): State<Sim>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    uri: Uri,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vnet = find_vnet(&world, &subscription, &group, &name)?;
    let state = vnet.provisioning_state(sim.now(), "Updating");
    let items = stored_subnets(vnet)
        .iter()
        .map(|s| subnet_document(&world, vnet, s, state))
        .collect();
    Ok(Json(page(&sim, &uri, items)))
}

pub async fn get_subnet(
    State(sim): State<Sim>,
    Path((subscription, group, name, subnet)): Path<(String, String, String, String)>,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let vnet = find_vnet(&world, &subscription, &group, &name)?;
    let found = stored_subnets(vnet)
        .into_iter()
        .find(|s| s.name.eq_ignore_ascii_case(&subnet))
        .ok_or_else(|| subnet_not_found(vnet, &subnet))?;
    Ok(Json(subnet_document(
        &world,
        vnet,
        &found,
        vnet.provisioning_state(sim.now(), "Updating"),
    )))
}

pub async fn put_subnet(
    State(sim): State<Sim>,
    Path((subscription, group, name, subnet)): Path<(String, String, String, String)>,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ArmError> {
    let body: SubnetBody = parse_body(&body)?;
    let others = writable(body.properties.others);
    let prefix = body.properties.address_prefix.ok_or_else(|| {
        ArmError::bad_request(
            "InvalidRequestFormat",
            format!("Subnet {subnet} has no addressPrefix."),
        )
    })?;
    let now = sim.now();
    let mut world = sim.world();
    let vnet = find_vnet(&world, &subscription, &group, &name)?.clone();
    let prefixes = stored_prefixes(&vnet);
    let mut subnets = stored_subnets(&vnet);
    let status = match subnets
        .iter_mut()
        .find(|s| s.name.eq_ignore_ascii_case(&subnet))
    {
        Some(existing) => {
            existing.prefix = prefix;
            existing.others = others;
            StatusCode::OK
        }
        None => {
            subnets.push(Subnet {
                name: subnet.clone(),
                prefix,
                others,
            });
            StatusCode::CREATED
        }
    };
    check_layout(&vnet.id, &name, &prefixes, &subnets)?;
    let stored = world
        .resource_mut(&vnet.id)
        .expect("the VNet was found above");
    stored.ready_at = now + UPDATE_DURATION;
    store(stored, &prefixes, &subnets);
    let stored = stored.clone();
    let operation = operations::start(
        &mut world,
        &stored.id,
        OperationKind::Create,
        now,
        UPDATE_DURATION,
    );
    let written = stored_subnets(&stored)
        .into_iter()
        .find(|s| s.name.eq_ignore_ascii_case(&subnet))
        .expect("the subnet was just stored");
    let mut response = (
        status,
        Json(subnet_document(&world, &stored, &written, "Updating")),
    )
        .into_response();
    let url = async_operation_url(
        &sim,
        &subscription,
        stored.location.as_deref().unwrap_or_default(),
        &operation.id,
        &uri,
    );
    operations::add_polling_headers(&sim, &mut response, None, Some(&url), UPDATE_DURATION);
    Ok(response)
}

pub async fn delete_subnet(
    State(sim): State<Sim>,
    Path((subscription, group, name, subnet)): Path<(String, String, String, String)>,
    uri: Uri,
) -> Result<Response, ArmError> {
    let now = sim.now();
    let mut world = sim.world();
    let vnet = find_vnet(&world, &subscription, &group, &name)?.clone();
    let mut subnets = stored_subnets(&vnet);
    let Some(removed) = subnets
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(&subnet))
        .cloned()
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    check_not_in_use(&world, &vnet, &removed)?;
    subnets.retain(|s| !s.name.eq_ignore_ascii_case(&subnet));
    let stored = world
        .resource_mut(&vnet.id)
        .expect("the VNet was found above");
    stored.ready_at = now + UPDATE_DURATION;
    store(stored, &stored_prefixes(&vnet), &subnets);
    let operation = operations::start(
        &mut world,
        &vnet.id,
        OperationKind::Create,
        now,
        UPDATE_DURATION,
    );
    let status_url = async_operation_url(
        &sim,
        &subscription,
        vnet.location.as_deref().unwrap_or_default(),
        &operation.id,
        &uri,
    );
    let result_url = status_url.replace("/operations/", "/operationResults/");
    Ok(operations::accepted(
        &sim,
        &result_url,
        Some(&status_url),
        UPDATE_DURATION,
    ))
}
