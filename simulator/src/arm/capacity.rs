//! Compute's capacity in a region: the VM sizes it offers (`ResourceSkus_List`) and the vCPU
//! quotas VMs count against (`Usage_List`), in two tiers, as Microsoft's "vCPU quotas for Azure"
//! describes them (MicrosoftDocs/azure-docs `articles/virtual-machines/linux/quotas.md`): the
//! Total Regional vCPUs (usage name `cores`) and one quota per size family (usage name the SKU's
//! `family`, `standardDSv5Family`); a VM that would exceed either is refused with 409
//! `OperationNotAllowed` (the message real ARM sends, quoted in Azure/karpenter-provider-azure
//! issue 192 and Azure/azure_preview_modules issue 360). Limits are the defaults below until
//! set through `/_sim/quota`.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::Sim;
use crate::asr::model::ServiceError;
use crate::error::ArmError;
use crate::state::World;

/// The regional quota's usage name.
pub const REGIONAL: &str = "cores";
/// Default limits, the regional total's and each family's: an enterprise subscription's, large
/// enough for the benchmark's thousands of VMs (a new subscription's are far lower; tests set
/// tight ones through `/_sim/quota`).
const DEFAULT_REGIONAL_LIMIT: u32 = 20_000;
const DEFAULT_FAMILY_LIMIT: u32 = 10_000;

/// A VM size: name, family, vCPUs, memory (GB), data disks it takes.
pub struct Size {
    pub name: &'static str,
    pub family: &'static str,
    pub vcpus: u32,
    pub memory_gb: u32,
    pub max_data_disks: u32,
}

/// The sizes azure-sim offers in every region (the published sizes of those series: D-, E-,
/// B- and F-series pages of Microsoft's VM size documentation).
pub const SIZES: &[Size] = &[
    size("Standard_B2ms", "standardBSFamily", 2, 8, 4),
    size("Standard_B4ms", "standardBSFamily", 4, 16, 8),
    size("Standard_D2s_v3", "standardDSv3Family", 2, 8, 4),
    size("Standard_D4s_v3", "standardDSv3Family", 4, 16, 8),
    size("Standard_D2s_v5", "standardDSv5Family", 2, 8, 4),
    size("Standard_D4s_v5", "standardDSv5Family", 4, 16, 8),
    size("Standard_D8s_v5", "standardDSv5Family", 8, 32, 16),
    size("Standard_D16s_v5", "standardDSv5Family", 16, 64, 32),
    size("Standard_E2s_v5", "standardESv5Family", 2, 16, 4),
    size("Standard_E4s_v5", "standardESv5Family", 4, 32, 8),
    size("Standard_E8s_v5", "standardESv5Family", 8, 64, 16),
    size("Standard_E16s_v5", "standardESv5Family", 16, 128, 32),
    size("Standard_F4s_v2", "standardFSv2Family", 4, 8, 8),
    size("Standard_F8s_v2", "standardFSv2Family", 8, 16, 16),
];

const fn size(
    name: &'static str,
    family: &'static str,
    vcpus: u32,
    memory_gb: u32,
    max_data_disks: u32,
) -> Size {
    Size {
        name,
        family,
        vcpus,
        memory_gb,
        max_data_disks,
    }
}

pub fn size_of(name: &str) -> Option<&'static Size> {
    SIZES.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// `localizedValue` of a usage, as `az vm list-usage` prints it ("Standard DSv5 Family vCPUs").
fn localized(name: &str) -> String {
    if name == REGIONAL {
        return "Total Regional vCPUs".into();
    }
    let series = name
        .strip_prefix("standard")
        .and_then(|s| s.strip_suffix("Family"))
        .unwrap_or(name);
    format!("Standard {series} Family vCPUs")
}

fn key(location: &str, name: &str) -> String {
    format!("{}/{name}", location.to_ascii_lowercase())
}

/// The limit of quota `name` (`cores` or a family) in `location`.
pub fn limit(world: &World, location: &str, name: &str) -> u32 {
    world
        .quotas
        .get(&key(location, name))
        .copied()
        .unwrap_or(if name == REGIONAL {
            DEFAULT_REGIONAL_LIMIT
        } else {
            DEFAULT_FAMILY_LIMIT
        })
}

pub fn set_limit(world: &mut World, location: &str, name: &str, limit: u32) {
    world.quotas.insert(key(location, name), limit);
}

/// vCPUs the VMs in `location` use, against quota `name`.
pub fn usage(world: &World, location: &str, name: &str) -> u32 {
    world
        .list(super::compute::TYPE, None)
        .into_iter()
        .filter(|vm| {
            vm.location
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(location))
        })
        .filter_map(|vm| size_of(vm.properties["hardwareProfile"]["vmSize"].as_str()?))
        .filter(|size| name == REGIONAL || size.family == name)
        .map(|size| size.vcpus)
        .sum()
}

/// Compute's refusal of a new VM of `size` in `location`, if it exceeds a quota: the family's
/// first, then the regional total.
pub fn quota_refusal(world: &World, location: &str, size: &str) -> Option<ArmError> {
    let size = size_of(size)?;
    for (name, shown) in [
        (size.family, format!("{} Cores", size.family)),
        (REGIONAL, "Total Regional Cores".to_owned()),
    ] {
        let (limit, used) = (limit(world, location, name), usage(world, location, name));
        if used + size.vcpus > limit {
            return Some(ArmError::conflict(
                "OperationNotAllowed",
                format!(
                    "Operation could not be completed as it results in exceeding approved {shown} quota. Additional details - Deployment Model: Resource Manager, Location: {location}, Current Limit: {limit}, Current Usage: {used}, Additional Required: {}, (Minimum) New Limit Required: {}.",
                    size.vcpus,
                    used + size.vcpus
                ),
            ));
        }
    }
    None
}

/// The failure of a Site Recovery job whose VM Compute refuses for quota: the job fails with
/// Compute's code and message (docs/azure-fidelity.md: how ASR words it is not recorded).
pub fn quota_job_failure(world: &World, location: &str, size: &str) -> Option<ServiceError> {
    let refusal = quota_refusal(world, location, size)?;
    Some(ServiceError {
        code: refusal.code.clone(),
        message: refusal.message.clone(),
        possible_causes:
            "The subscription's vCPU quota in the target region is too low for the VM size.".into(),
        recommended_action:
            "Ask for a quota increase for the VM family, or choose another size, then retry.".into(),
    })
}

/// `Usage_List`: GET `/subscriptions/{s}/providers/Microsoft.Compute/locations/{location}/usages`
/// (azure-mgmt-compute 39.0.0: `Usage` with `unit` "Count", `currentValue`, `limit`, `name`
/// {`value`, `localizedValue`}).
pub async fn list_usages(
    State(sim): State<Sim>,
    Path((_, location)): Path<(String, String)>,
) -> Result<Json<Value>, ArmError> {
    let world = sim.world();
    let mut names = vec![REGIONAL];
    for size in SIZES {
        if !names.contains(&size.family) {
            names.push(size.family);
        }
    }
    let value: Vec<Value> = names
        .into_iter()
        .map(|name| {
            json!({
                "unit": "Count",
                "currentValue": usage(&world, &location, name),
                "limit": limit(&world, &location, name),
                "name": { "value": name, "localizedValue": localized(name) },
            })
        })
        .collect();
    Ok(Json(json!({ "value": value })))
}

#[derive(Deserialize)]
pub struct SkuQuery {
    #[serde(rename = "$filter")]
    filter: Option<String>,
}

/// `ResourceSkus_List`: GET `/subscriptions/{s}/providers/Microsoft.Compute/skus`, optionally
/// `$filter=location eq '{location}'` (azure-mgmt-compute 39.0.0 `ResourceSku`; shaped like
/// ListAvailableResourceSkus.json, 2021-07-01: `resourceType`, `name`, `tier`, `size`,
/// `family`, `locations`, `locationInfo` with `zones`, `capabilities` as name/value strings,
/// `restrictions`). Every size is offered in every region the simulator knows, zones 1 to 3.
pub async fn list_skus(
    State(_sim): State<Sim>,
    Query(query): Query<SkuQuery>,
) -> Result<Json<Value>, ArmError> {
    let locations: Vec<String> = match query.filter.as_deref().and_then(location_of_filter) {
        Some(location) if super::regions::is_known(&location) => vec![location],
        Some(_) => Vec::new(),
        None => super::regions::names().map(str::to_owned).collect(),
    };
    let value: Vec<Value> = locations
        .iter()
        .flat_map(|location| {
            SIZES.iter().map(move |size| {
                json!({
                    "resourceType": "virtualMachines",
                    "name": size.name,
                    "tier": "Standard",
                    "size": size.name.trim_start_matches("Standard_"),
                    "family": size.family,
                    "locations": [location],
                    "locationInfo": [{ "location": location, "zones": ["1", "2", "3"] }],
                    "capabilities": [
                        { "name": "vCPUs", "value": size.vcpus.to_string() },
                        { "name": "MemoryGB", "value": size.memory_gb.to_string() },
                        { "name": "MaxDataDiskCount", "value": size.max_data_disks.to_string() },
                        { "name": "HyperVGenerations", "value": "V1,V2" },
                    ],
                    "restrictions": [],
                })
            })
        })
        .collect();
    Ok(Json(json!({ "value": value })))
}

/// The location of `location eq 'westeurope'`, the one filter Compute documents for SKUs.
fn location_of_filter(filter: &str) -> Option<String> {
    let rest = filter.trim().strip_prefix("location eq ")?;
    Some(rest.trim().trim_matches('\'').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vm_beyond_its_family_or_the_regional_quota_is_refused_as_arm_refuses_it() {
        let mut world = World::default();
        assert!(quota_refusal(&world, "westeurope", "Standard_E4s_v5").is_none());
        set_limit(&mut world, "westeurope", "standardESv5Family", 2);
        let refusal = quota_refusal(&world, "westeurope", "Standard_E4s_v5").unwrap();
        assert_eq!(
            (refusal.status.as_u16(), refusal.code.as_str()),
            (409, "OperationNotAllowed")
        );
        assert_eq!(
            refusal.message,
            "Operation could not be completed as it results in exceeding approved standardESv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 2, Current Usage: 0, Additional Required: 4, (Minimum) New Limit Required: 4."
        );
        assert!(quota_refusal(&world, "northeurope", "Standard_E4s_v5").is_none());
        set_limit(&mut world, "westeurope", REGIONAL, 3);
        let refusal = quota_refusal(&world, "westeurope", "Standard_D4s_v5").unwrap();
        assert!(
            refusal
                .message
                .contains("exceeding approved Total Regional Cores quota")
        );
        let job = quota_job_failure(&world, "westeurope", "Standard_D4s_v5").unwrap();
        assert_eq!(job.code, "OperationNotAllowed");
    }
}
