//! Whether a source machine can become the Azure VM its spec asks for, decided before
//! replication is enabled, from what ASR reports of it and what Compute says of the target size.
//! An ineligible machine is never enabled: the rule and the value are said instead.
//!
//! What is checked, and from where:
//! - Hyper-V hardware Azure cannot take: `HyperVVirtualMachineDetails.hasPhysicalDisk`,
//!   `hasFibreChannelAdapter`, `hasSharedVhd` (`PresenceStatus` `Present`) on the protectable
//!   item (azure-mgmt-recoveryservicessiterecovery); Azure Migrate's Hyper-V support matrix lists
//!   pass-through disks, Fibre Channel and shared VHDs as not supported.
//! - The data disks to replicate against the size's `MaxDataDiskCount` capability, and the VM's
//!   generation (`HyperVVirtualMachineDetails.generation`, "1" or "2") against its
//!   `HyperVGenerations` capability (`V1`, `V2`), both of `ResourceSku.capabilities`
//!   (azure-mgmt-compute `ResourceSkuCapabilities`; `Microsoft.Compute/skus`).

use crate::azure::capacity::Sku;

/// What ASR reports of a source machine that eligibility reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFacts {
    /// `"1"` or `"2"`, where the provider reports it.
    pub generation: Option<String>,
    /// Data disks that would be replicated.
    pub data_disks: usize,
    /// Hardware reported `Present` that Azure cannot take, by its field name.
    pub unsupported_hardware: Vec<&'static str>,
}

impl SourceFacts {
    /// The facts of a Hyper-V protectable item's `customDetails` (`HyperVVirtualMachineDetails`):
    /// `include` names the disks the spec replicates (by VHD ID or name; all when empty).
    pub fn of_hyper_v(details: &serde_json::Value, include: &[String]) -> SourceFacts {
        let present = |field: &str| details[field].as_str() == Some("Present");
        let unsupported_hardware = ["hasPhysicalDisk", "hasFibreChannelAdapter", "hasSharedVhd"]
            .into_iter()
            .filter(|f| present(f))
            .collect();
        let included = |disk: &serde_json::Value| {
            include.is_empty()
                || ["vhdId", "vhdName"].iter().any(|k| {
                    disk[*k]
                        .as_str()
                        .is_some_and(|v| include.iter().any(|i| i.eq_ignore_ascii_case(v)))
                })
        };
        let data_disks = details["diskDetails"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["vhdType"].as_str() != Some("OperatingSystem") && included(d))
            .count();
        SourceFacts {
            generation: details["generation"].as_str().map(str::to_owned),
            data_disks,
            unsupported_hardware,
        }
    }
}

/// Every reason [`check`] gives.
pub const REASONS: [&str; 3] = [
    "UnsupportedHardware",
    "TooManyDataDisks",
    "GenerationNotSupported",
];

/// Why a machine cannot be replicated as asked: a reason for `Ready` and a message naming the
/// rule and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ineligible {
    pub reason: &'static str,
    pub message: String,
}

fn capability<'a>(sku: &'a Sku, name: &str) -> Option<&'a str> {
    sku.capabilities
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
        .map(|c| c.value.as_str())
}

/// The first rule `facts` break for the target size `size` (its SKU when Compute lists it; an
/// unlisted size is the capacity preflight's to say).
pub fn check(facts: &SourceFacts, size: Option<(&str, Option<&Sku>)>) -> Option<Ineligible> {
    if let Some(hardware) = facts.unsupported_hardware.first() {
        return Some(Ineligible {
            reason: "UnsupportedHardware",
            message: format!(
                "the source VM reports {hardware}: Present, which Azure cannot replicate \
                 (pass-through disks, Fibre Channel adapters and shared VHDs are not supported); \
                 remove it from the VM before replicating"
            ),
        });
    }
    let (size, Some(sku)) = size? else {
        return None;
    };
    if let Some(max) = capability(sku, "MaxDataDiskCount").and_then(|v| v.parse::<usize>().ok())
        && facts.data_disks > max
    {
        return Some(Ineligible {
            reason: "TooManyDataDisks",
            message: format!(
                "{} data disks to replicate, but {size} takes at most {max} \
                 (MaxDataDiskCount): choose a larger target.vmSize or fewer includeDisks",
                facts.data_disks
            ),
        });
    }
    if let (Some(generation), Some(supported)) =
        (&facts.generation, capability(sku, "HyperVGenerations"))
    {
        let wanted = format!("V{generation}");
        if !supported
            .split(',')
            .any(|g| g.trim().eq_ignore_ascii_case(&wanted))
        {
            return Some(Ineligible {
                reason: "GenerationNotSupported",
                message: format!(
                    "the source VM is generation {generation}, but {size} runs only {supported} \
                     (HyperVGenerations): choose a size that runs {wanted}"
                ),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sku(max_disks: &str, generations: &str) -> Sku {
        serde_json::from_value(json!({
            "resourceType": "virtualMachines", "name": "Standard_D2s_v5",
            "capabilities": [
                {"name": "MaxDataDiskCount", "value": max_disks},
                {"name": "HyperVGenerations", "value": generations}]
        }))
        .unwrap()
    }

    #[test]
    fn hyper_v_facts_come_from_the_protectable_items_details() {
        let details = json!({
            "instanceType": "HyperVVirtualMachine", "generation": "2",
            "hasPhysicalDisk": "NotPresent", "hasFibreChannelAdapter": "Present",
            "diskDetails": [
                {"vhdId": "os", "vhdName": "os.vhdx", "vhdType": "OperatingSystem"},
                {"vhdId": "d1", "vhdName": "data1.vhdx", "vhdType": "DataDisk"},
                {"vhdId": "d2", "vhdName": "data2.vhdx", "vhdType": "DataDisk"}]
        });
        let all = SourceFacts::of_hyper_v(&details, &[]);
        assert_eq!(
            all,
            SourceFacts {
                generation: Some("2".into()),
                data_disks: 2,
                unsupported_hardware: vec!["hasFibreChannelAdapter"],
            }
        );
        let some = SourceFacts::of_hyper_v(&details, &["os.vhdx".into(), "D1".into()]);
        assert_eq!(some.data_disks, 1, "only the included, by ID or name");
    }

    #[test]
    fn each_rule_names_its_value() {
        let facts = |disks, generation: &str| SourceFacts {
            generation: Some(generation.into()),
            data_disks: disks,
            unsupported_hardware: vec![],
        };
        let cases: &[(&str, SourceFacts, Sku, Option<&str>)] = &[
            ("fits", facts(4, "2"), sku("4", "V1,V2"), None),
            (
                "one disk too many",
                facts(5, "2"),
                sku("4", "V1,V2"),
                Some("TooManyDataDisks"),
            ),
            (
                "generation 2 on a V1-only size",
                facts(1, "2"),
                sku("4", "V1"),
                Some("GenerationNotSupported"),
            ),
            ("generation 1", facts(1, "1"), sku("4", "V1"), None),
        ];
        for (case, facts, sku, expected) in cases {
            let got = check(facts, Some(("Standard_D2s_v5", Some(sku))));
            assert_eq!(got.as_ref().map(|i| i.reason), *expected, "{case}");
        }
        let too_many = check(
            &facts(5, "2"),
            Some(("Standard_D2s_v5", Some(&sku("4", "V2")))),
        )
        .unwrap();
        assert_eq!(
            too_many.message,
            "5 data disks to replicate, but Standard_D2s_v5 takes at most 4 (MaxDataDiskCount): \
             choose a larger target.vmSize or fewer includeDisks"
        );
        let hardware = SourceFacts {
            unsupported_hardware: vec!["hasSharedVhd"],
            ..facts(0, "2")
        };
        assert_eq!(
            check(&hardware, None).map(|i| i.reason),
            Some("UnsupportedHardware"),
            "whatever the size"
        );
        assert_eq!(
            check(&facts(9, "2"), None),
            None,
            "no size asked: Azure's default"
        );
        assert_eq!(
            check(&facts(9, "2"), Some(("Standard_X", None))),
            None,
            "an unlisted size is the capacity preflight's"
        );
    }
}
