//! Whether a region can take the VMs a wave's failover creates, checked before it is asked:
//! each size offered there (and in the zone asked for), not restricted for the subscription,
//! and the vCPUs they need within both tiers of quota. Microsoft's "vCPU quotas for Azure"
//! (MicrosoftDocs/azure-docs `articles/virtual-machines/linux/quotas.md`): "Any time a new VM is
//! deployed the vCPUs for the newly deployed VM must not exceed the vCPU quota for the specific
//! VM size family or the total regional vCPU quota"; the regional usage is named `cores`, a
//! family's by the SKU's `family` (`standardDSv5Family`, as ARM's refusals name it:
//! Azure/karpenter-provider-azure issue 192). Sizes and their `vCPUs` capability:
//! `ResourceSkus_List` (ListAvailableResourceSkus.json, compute 2021-07-01).

use std::collections::BTreeMap;

use serde::Deserialize;

/// `Usage` (azure-mgmt-compute 39.0.0).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    #[serde(default)]
    pub current_value: i64,
    #[serde(default)]
    pub limit: i64,
    #[serde(default)]
    pub name: UsageName,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UsageName {
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub localized_value: String,
}

/// `ResourceSku` (azure-mgmt-compute 39.0.0), the part read.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    #[serde(default)]
    pub resource_type: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub family: String,
    #[serde(default)]
    pub locations: Vec<String>,
    #[serde(default)]
    pub location_info: Vec<SkuLocation>,
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    #[serde(default)]
    pub restrictions: Vec<Restriction>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct SkuLocation {
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub zones: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Capability {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// `ResourceSkuRestrictions`: `type` `Location` or `Zone`, `values`, `restrictionInfo`,
/// `reasonCode` (`QuotaId`, `NotAvailableForSubscription`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Restriction {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub restriction_info: RestrictionInfo,
    #[serde(default)]
    pub reason_code: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct RestrictionInfo {
    #[serde(default)]
    pub locations: Vec<String>,
    #[serde(default)]
    pub zones: Vec<String>,
}

impl Sku {
    fn vcpus(&self) -> Option<i64> {
        self.capabilities
            .iter()
            .find(|c| c.name == "vCPUs")
            .and_then(|c| c.value.parse().ok())
    }

    fn offered_in(&self, region: &str) -> bool {
        self.locations
            .iter()
            .any(|l| l.eq_ignore_ascii_case(region))
    }

    fn zones_in(&self, region: &str) -> Vec<&str> {
        self.location_info
            .iter()
            .filter(|l| l.location.eq_ignore_ascii_case(region))
            .flat_map(|l| l.zones.iter().map(String::as_str))
            .collect()
    }

    /// Why the subscription cannot have this size in the region (or that zone), if it cannot.
    fn restricted(&self, region: &str, zone: Option<&str>) -> Option<String> {
        self.restrictions.iter().find_map(|r| {
            let reason = r.reason_code.as_deref().unwrap_or("restricted");
            let here = r.values.iter().any(|v| v.eq_ignore_ascii_case(region))
                || r.restriction_info
                    .locations
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(region));
            match r.kind.as_str() {
                "Location" if here => Some(format!("restricted in {region} ({reason})")),
                "Zone" => zone
                    .filter(|z| r.restriction_info.zones.iter().any(|rz| rz == z))
                    .map(|z| format!("restricted in zone {z} of {region} ({reason})")),
                _ => None,
            }
        })
    }
}

/// One VM a wave's failover creates.
#[derive(Clone, Debug)]
pub struct Need<'a> {
    pub machine: &'a str,
    pub size: &'a str,
    pub zone: Option<&'a str>,
}

/// Why the region cannot take the VMs: the machine it is about (none for a quota, which is
/// the wave's), and what to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall {
    pub machine: Option<String>,
    /// `SizeNotAvailable` or `InsufficientQuota`.
    pub reason: &'static str,
    pub message: String,
}

/// Checks `needs` in `region` against the SKUs offered there and the quotas' usage. Sizes it
/// cannot find are said; quota is summed per family and for the region, each compared with what
/// is free (`limit - currentValue`).
pub fn check(region: &str, needs: &[Need<'_>], usages: &[Usage], skus: &[Sku]) -> Vec<Shortfall> {
    let mut out = Vec::new();
    let mut by_family: BTreeMap<&str, i64> = BTreeMap::new();
    let mut total = 0;
    for need in needs {
        let sku = skus.iter().find(|s| {
            s.resource_type.eq_ignore_ascii_case("virtualMachines")
                && s.name.eq_ignore_ascii_case(need.size)
                && s.offered_in(region)
        });
        let unavailable = |message: String| Shortfall {
            machine: Some(need.machine.to_owned()),
            reason: "SizeNotAvailable",
            message,
        };
        let Some(sku) = sku else {
            out.push(unavailable(format!(
                "{}: size {} is not offered in {region}",
                need.machine, need.size
            )));
            continue;
        };
        if let Some(why) = sku.restricted(region, need.zone) {
            out.push(unavailable(format!(
                "{}: size {} is {why}",
                need.machine, need.size
            )));
            continue;
        }
        if let Some(zone) = need.zone
            && !sku.zones_in(region).contains(&zone)
        {
            out.push(unavailable(format!(
                "{}: size {} has no zone {zone} in {region}",
                need.machine, need.size
            )));
            continue;
        }
        let vcpus = sku.vcpus().unwrap_or_default();
        *by_family.entry(sku.family.as_str()).or_default() += vcpus;
        total += vcpus;
    }
    let usage = |name: &str| {
        usages
            .iter()
            .find(|u| u.name.value.eq_ignore_ascii_case(name))
    };
    let mut quota = |name: &str, needed: i64, what: String| {
        let Some(usage) = usage(name) else { return };
        let free = (usage.limit - usage.current_value).max(0);
        if needed > free {
            out.push(Shortfall {
                machine: None,
                reason: "InsufficientQuota",
                message: format!(
                    "{what} in {region}: the wave needs {needed}, {free} of {} are free ({} in use); ask for a quota increase of {name} or choose other sizes",
                    usage.limit, usage.current_value
                ),
            });
        }
    };
    for (family, needed) in &by_family {
        let label = usage(family)
            .map(|u| u.name.localized_value.clone())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| format!("{family} vCPUs"));
        quota(family, *needed, format!("{label} ({family})"));
    }
    if total > 0 {
        quota("cores", total, "Total Regional vCPUs (cores)".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// As ListAvailableResourceSkus.json (compute 2021-07-01) lists them.
    fn skus() -> Vec<Sku> {
        serde_json::from_value(json!([
            {"resourceType": "virtualMachines", "name": "Standard_D4s_v5", "family": "standardDSv5Family",
             "locations": ["westeurope"], "locationInfo": [{"location": "westeurope", "zones": ["1", "2", "3"]}],
             "capabilities": [{"name": "vCPUs", "value": "4"}]},
            {"resourceType": "virtualMachines", "name": "Standard_E8s_v5", "family": "standardESv5Family",
             "locations": ["westeurope"], "locationInfo": [{"location": "westeurope", "zones": ["1", "2"]}],
             "capabilities": [{"name": "vCPUs", "value": "8"}],
             "restrictions": [{"type": "Zone", "values": ["westeurope"], "reasonCode": "NotAvailableForSubscription",
                               "restrictionInfo": {"locations": ["westeurope"], "zones": ["2"]}}]},
            {"resourceType": "virtualMachines", "name": "Standard_M64s", "family": "standardMSFamily",
             "locations": ["westeurope"], "capabilities": [{"name": "vCPUs", "value": "64"}],
             "restrictions": [{"type": "Location", "values": ["westeurope"], "reasonCode": "NotAvailableForSubscription"}]},
            {"resourceType": "disks", "name": "Premium_LRS", "locations": ["westeurope"]},
        ]))
        .unwrap()
    }

    /// As `az vm list-usage` shows them (quotas.md).
    fn usages(family_used: i64, cores_used: i64) -> Vec<Usage> {
        serde_json::from_value(json!([
            {"currentValue": cores_used, "limit": 40, "unit": "Count",
             "name": {"value": "cores", "localizedValue": "Total Regional vCPUs"}},
            {"currentValue": family_used, "limit": 20, "unit": "Count",
             "name": {"value": "standardDSv5Family", "localizedValue": "Standard DSv5 Family vCPUs"}},
            {"currentValue": 0, "limit": 100, "unit": "Count",
             "name": {"value": "standardESv5Family", "localizedValue": "Standard ESv5 Family vCPUs"}},
        ]))
        .unwrap()
    }

    fn need<'a>(machine: &'a str, size: &'a str, zone: Option<&'a str>) -> Need<'a> {
        Need {
            machine,
            size,
            zone,
        }
    }

    #[test]
    fn a_wave_within_quota_and_offered_sizes_passes() {
        let needs = [
            need("web01", "Standard_D4s_v5", Some("1")),
            need("db01", "Standard_E8s_v5", Some("1")),
        ];
        assert_eq!(check("westeurope", &needs, &usages(8, 8), &skus()), []);
    }

    #[test]
    fn each_shortfall_names_the_family_the_need_and_what_is_free() {
        /// A case, the wave's needs, (family, regional) vCPUs in use, the shortfalls expected.
        type Case<'a> = (&'a str, Vec<Need<'a>>, (i64, i64), &'a [(&'a str, &'a str)]);
        let cases: &[Case<'_>] = &[
            (
                "the family's quota",
                vec![
                    need("a", "Standard_D4s_v5", None),
                    need("b", "Standard_D4s_v5", None),
                    need("c", "Standard_D4s_v5", None),
                ],
                (12, 12),
                &[(
                    "InsufficientQuota",
                    "Standard DSv5 Family vCPUs (standardDSv5Family) in westeurope: the wave needs 12, 8 of 20 are free (12 in use); ask for a quota increase of standardDSv5Family or choose other sizes",
                )],
            ),
            (
                "the regional total",
                vec![
                    need("a", "Standard_E8s_v5", None),
                    need("b", "Standard_E8s_v5", None),
                ],
                (0, 30),
                &[(
                    "InsufficientQuota",
                    "Total Regional vCPUs (cores) in westeurope: the wave needs 16, 10 of 40 are free (30 in use); ask for a quota increase of cores or choose other sizes",
                )],
            ),
            (
                "a size the region lacks",
                vec![need("a", "Standard_X1", None)],
                (0, 0),
                &[(
                    "SizeNotAvailable",
                    "a: size Standard_X1 is not offered in westeurope",
                )],
            ),
            (
                "restricted in the region",
                vec![need("a", "Standard_M64s", None)],
                (0, 0),
                &[(
                    "SizeNotAvailable",
                    "a: size Standard_M64s is restricted in westeurope (NotAvailableForSubscription)",
                )],
            ),
            (
                "restricted in the zone",
                vec![need("a", "Standard_E8s_v5", Some("2"))],
                (0, 0),
                &[(
                    "SizeNotAvailable",
                    "a: size Standard_E8s_v5 is restricted in zone 2 of westeurope (NotAvailableForSubscription)",
                )],
            ),
            (
                "a zone the size lacks",
                vec![need("a", "Standard_E8s_v5", Some("3"))],
                (0, 0),
                &[(
                    "SizeNotAvailable",
                    "a: size Standard_E8s_v5 has no zone 3 in westeurope",
                )],
            ),
        ];
        for (case, needs, (family, cores), expected) in cases {
            let got = check("westeurope", needs, &usages(*family, *cores), &skus());
            let got: Vec<(&str, &str)> =
                got.iter().map(|s| (s.reason, s.message.as_str())).collect();
            assert_eq!(got, *expected, "{case}");
        }
        let elsewhere = check(
            "northeurope",
            &[need("a", "Standard_D4s_v5", None)],
            &usages(0, 0),
            &skus(),
        );
        assert_eq!(
            elsewhere[0].message,
            "a: size Standard_D4s_v5 is not offered in northeurope"
        );
    }
}
