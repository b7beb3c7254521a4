//! Whether a source machine can become the Azure VM its spec asks for, decided before
//! replication is enabled, from what ASR reports of it and what Compute says of the target size.
//! An ineligible machine is never enabled: the rule and the value are said instead.
//!
//! What is checked, and from where:
//! - Hyper-V hardware Azure cannot take: `HyperVVirtualMachineDetails.hasPhysicalDisk`,
//!   `hasFibreChannelAdapter`, `hasSharedVhd` (`PresenceStatus` `Present`) on the protectable
//!   item (azure-mgmt-recoveryservicessiterecovery); Azure Migrate's Hyper-V support matrix lists
//!   pass-through disks, Fibre Channel and shared VHDs as not supported.
//! - Each disk's size against the provider's support matrix ("Azure VM requirements"), and the
//!   number of data disks against it: [`Limits::of`] quotes each row. Disk sizes come from the
//!   protectable item (`DiskDetails.maxSizeMB`, Hyper-V), the appliance's discovered machine
//!   (`disks[].maxSizeInBytes`, Microsoft.OffAzure, InMageRcm) or the source VM
//!   (`storageProfile.*.diskSizeGB`, azure-mgmt-compute, A2A).
//! - The data disks to replicate against the size's `MaxDataDiskCount` capability, and the VM's
//!   generation (`HyperVVirtualMachineDetails.generation`, "1" or "2") against its
//!   `HyperVGenerations` capability (`V1`, `V2`), both of `ResourceSku.capabilities`
//!   (azure-mgmt-compute `ResourceSkuCapabilities`; `Microsoft.Compute/skus`).
//!
//! Not checked, for want of what the source reports (docs/azure-fidelity.md): the guest OS and
//! its architecture against the matrices' OS tables (the sources report an OS name, not a
//! version and architecture ASR's tables can be matched against), and an InMageRcm machine's
//! generation (the OS disk is held to the larger, generation 2, limit).

use crate::azure::capacity::Sku;
use crate::azure::provider::Provider;

const MIB_PER_GIB: u64 = 1024;

/// A disk that would be replicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskFact {
    pub name: String,
    pub size_mib: u64,
    /// `Some(true)` for the OS disk, `None` where the source does not say (InMageRcm).
    pub os: Option<bool>,
}

/// What ASR reports of a source machine that eligibility reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFacts {
    /// `"1"` or `"2"`, where the provider reports it.
    pub generation: Option<String>,
    /// The disks that would be replicated.
    pub disks: Vec<DiskFact>,
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
            let os = disk["vhdType"].as_str() == Some("OperatingSystem");
            os || include.is_empty()
                || ["vhdId", "vhdName"].iter().any(|k| {
                    disk[*k]
                        .as_str()
                        .is_some_and(|v| include.iter().any(|i| i.eq_ignore_ascii_case(v)))
                })
        };
        let disks = details["diskDetails"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| included(d))
            .map(|d| DiskFact {
                name: d["vhdName"]
                    .as_str()
                    .or(d["vhdId"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
                size_mib: d["maxSizeMB"].as_u64().unwrap_or_default(),
                os: Some(d["vhdType"].as_str() == Some("OperatingSystem")),
            })
            .collect();
        SourceFacts {
            generation: details["generation"].as_str().map(str::to_owned),
            disks,
            unsupported_hardware,
        }
    }

    /// The facts of a machine an appliance discovered (Microsoft.OffAzure `VMwareMachine` or
    /// `Machine` properties): its disks, the spec's `include` ones when it names any. Which is
    /// the OS disk is not reported.
    pub fn of_discovered(properties: &serde_json::Value, include: &[String]) -> SourceFacts {
        let details: crate::azure::models::DiscoveredMachine =
            serde_json::from_value(properties.clone()).unwrap_or_default();
        let disks = details
            .disks
            .iter()
            .filter(|d| include.is_empty() || include.iter().any(|i| d.is_named(i)))
            .map(|d| DiskFact {
                name: d
                    .label
                    .as_deref()
                    .or(d.name.as_deref())
                    .or(d.id())
                    .unwrap_or_default()
                    .to_owned(),
                size_mib: d.max_size_in_bytes.unwrap_or_default() / (1024 * 1024),
                os: None,
            })
            .collect();
        SourceFacts {
            disks,
            ..SourceFacts::default()
        }
    }

    /// The facts of an Azure VM (`properties.storageProfile`, azure-mgmt-compute): its OS disk
    /// and data disks, with `diskSizeGB` (absent from a VM read without its disks' sizes).
    pub fn of_azure_vm(properties: &serde_json::Value) -> SourceFacts {
        let profile = &properties["storageProfile"];
        let disk = |d: &serde_json::Value, os: bool| DiskFact {
            name: d["name"].as_str().unwrap_or_default().to_owned(),
            size_mib: d["diskSizeGB"].as_u64().unwrap_or_default() * MIB_PER_GIB,
            os: Some(os),
        };
        let disks = std::iter::once(&profile["osDisk"])
            .filter(|d| d.is_object())
            .map(|d| disk(d, true))
            .chain(
                profile["dataDisks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|d| disk(d, false)),
            )
            .collect();
        SourceFacts {
            disks,
            ..SourceFacts::default()
        }
    }

    /// Data disks to replicate: all but the OS disk (one per machine, where the source does
    /// not say which: "OS disk count: 1", the VMware and physical support matrix).
    pub fn data_disks(&self) -> usize {
        if self.disks.iter().any(|d| d.os.is_some()) {
            self.disks.iter().filter(|d| d.os != Some(true)).count()
        } else {
            self.disks.len().saturating_sub(1)
        }
    }
}

/// A provider's limits on the machines it replicates, from its support matrix's "Azure VM
/// requirements" (learn.microsoft.com/azure/site-recovery).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest OS disk of a generation 1 machine, and of any other, in GiB.
    pub os_disk_gib_generation_1: u64,
    pub os_disk_gib: u64,
    pub data_disk_gib: u64,
    /// The smallest disk, in MiB, where the matrix sets one.
    pub min_disk_mib: Option<u64>,
    pub data_disks: usize,
    /// The matrix, for messages.
    pub matrix: &'static str,
}

impl Limits {
    pub fn of(provider: Provider) -> Limits {
        match provider {
            // hyper-v-azure-support-matrix: "OS disk size: Up to 2 TB for generation 1 VMs. Up
            // to 4 TB for generation 2 VMs" (a managed OS disk holds at most 4,095 GiB,
            // managed-disks-overview), "Data disk count: 16 or less", "Data disk VHD size: Up
            // to 32 TB" (32,767 GiB, the managed data disk's largest).
            Provider::HyperVReplicaAzure => Limits {
                os_disk_gib_generation_1: 2048,
                os_disk_gib: 4095,
                data_disk_gib: 32767,
                min_disk_mib: None,
                data_disks: 16,
                matrix: "the Hyper-V to Azure support matrix",
            },
            // vmware-physical-azure-support-matrix: "OS disk size: Up to 2,048 GB for
            // Generation 1 machines. Up to 4,095 GB for Generation 2 machines", "Data disk
            // count: 64 or less", "Data disk size: Up to 32 TB when replicating to managed
            // disk", "disk must be larger than 1,024 MB".
            Provider::InMageRcm => Limits {
                os_disk_gib_generation_1: 2048,
                os_disk_gib: 4095,
                data_disk_gib: 32767,
                min_disk_mib: Some(1025),
                data_disks: 64,
                matrix: "the VMware and physical server to Azure support matrix",
            },
            // azure-to-azure-support-matrix: "OS disk maximum size: 4,095 GiB", "Data disk
            // maximum size: 32 TiB for managed disks", "Data disk minimum size: 1 GiB for
            // managed disks", "Data disk maximum number: Up to 64".
            Provider::A2A => Limits {
                os_disk_gib_generation_1: 4095,
                os_disk_gib: 4095,
                data_disk_gib: 32767,
                min_disk_mib: Some(MIB_PER_GIB),
                data_disks: 64,
                matrix: "the Azure-to-Azure support matrix",
            },
        }
    }
}

/// Every reason [`check`] gives.
pub const REASONS: [&str; 5] = [
    "UnsupportedHardware",
    "DiskTooLarge",
    "DiskTooSmall",
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

/// The first rule of the provider's `limits` that `facts` break.
fn check_disks(facts: &SourceFacts, limits: &Limits) -> Option<Ineligible> {
    let matrix = limits.matrix;
    for disk in &facts.disks {
        let gib = disk.size_mib.div_ceil(MIB_PER_GIB);
        let (kind, max) = match disk.os {
            Some(true) if facts.generation.as_deref() == Some("1") => (
                "OS disk of a generation 1 VM",
                limits.os_disk_gib_generation_1,
            ),
            Some(true) => ("OS disk", limits.os_disk_gib),
            Some(false) => ("data disk", limits.data_disk_gib),
            // Which disk boots is not reported: each is held to what any disk may be.
            None => ("disk", limits.data_disk_gib),
        };
        if gib > max {
            return Some(Ineligible {
                reason: "DiskTooLarge",
                message: format!(
                    "the {kind} {} is {gib} GiB, larger than the {max} GiB {matrix} allows",
                    disk.name
                ),
            });
        }
        if let Some(min) = limits.min_disk_mib
            && disk.size_mib > 0
            && disk.size_mib < min
        {
            return Some(Ineligible {
                reason: "DiskTooSmall",
                message: format!(
                    "the {kind} {} is {} MiB, smaller than the {min} MiB {matrix} requires; \
                     leave it out with includeDisks",
                    disk.name, disk.size_mib
                ),
            });
        }
    }
    let data_disks = facts.data_disks();
    if data_disks > limits.data_disks {
        return Some(Ineligible {
            reason: "TooManyDataDisks",
            message: format!(
                "{data_disks} data disks to replicate, but {matrix} allows at most {}: \
                 replicate fewer with includeDisks",
                limits.data_disks
            ),
        });
    }
    None
}

/// The first rule `facts` break for the provider's `limits` and the target size `size` (its
/// SKU when Compute lists it; an unlisted size is the capacity preflight's to say).
pub fn check(
    facts: &SourceFacts,
    limits: &Limits,
    size: Option<(&str, Option<&Sku>)>,
) -> Option<Ineligible> {
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
    if let Some(ineligible) = check_disks(facts, limits) {
        return Some(ineligible);
    }
    let (size, Some(sku)) = size? else {
        return None;
    };
    let data_disks = facts.data_disks();
    if let Some(max) = capability(sku, "MaxDataDiskCount").and_then(|v| v.parse::<usize>().ok())
        && data_disks > max
    {
        return Some(Ineligible {
            reason: "TooManyDataDisks",
            message: format!(
                "{data_disks} data disks to replicate, but {size} takes at most {max} \
                 (MaxDataDiskCount): choose a larger target.vmSize or fewer includeDisks"
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

    fn hyper_v() -> Limits {
        Limits::of(Provider::HyperVReplicaAzure)
    }

    fn disk(name: &str, gib: u64, os: Option<bool>) -> DiskFact {
        DiskFact {
            name: name.into(),
            size_mib: gib * 1024,
            os,
        }
    }

    /// An OS disk of 128 GiB and `data` data disks of 256 GiB.
    fn facts(data: usize, generation: &str) -> SourceFacts {
        SourceFacts {
            generation: Some(generation.into()),
            disks: std::iter::once(disk("os", 128, Some(true)))
                .chain((0..data).map(|i| disk(&format!("data{i}"), 256, Some(false))))
                .collect(),
            unsupported_hardware: vec![],
        }
    }

    #[test]
    fn hyper_v_facts_come_from_the_protectable_items_details() {
        let details = json!({
            "instanceType": "HyperVVirtualMachine", "generation": "2",
            "hasPhysicalDisk": "NotPresent", "hasFibreChannelAdapter": "Present",
            "diskDetails": [
                {"vhdId": "os", "vhdName": "os.vhdx", "vhdType": "OperatingSystem", "maxSizeMB": 131072},
                {"vhdId": "d1", "vhdName": "data1.vhdx", "vhdType": "DataDisk", "maxSizeMB": 262144},
                {"vhdId": "d2", "vhdName": "data2.vhdx", "vhdType": "DataDisk", "maxSizeMB": 262144}]
        });
        let all = SourceFacts::of_hyper_v(&details, &[]);
        assert_eq!(
            all,
            SourceFacts {
                generation: Some("2".into()),
                disks: vec![
                    disk("os.vhdx", 128, Some(true)),
                    disk("data1.vhdx", 256, Some(false)),
                    disk("data2.vhdx", 256, Some(false)),
                ],
                unsupported_hardware: vec!["hasFibreChannelAdapter"],
            }
        );
        assert_eq!(all.data_disks(), 2);
        let some = SourceFacts::of_hyper_v(&details, &["D1".into()]);
        assert_eq!(
            (some.disks.len(), some.data_disks()),
            (2, 1),
            "the OS disk, and the included by ID or name"
        );
    }

    #[test]
    fn discovered_and_azure_vm_facts_come_from_their_disks() {
        // Microsoft.OffAzure VMwareMachine disks (VMwareDisk: uuid, label, maxSizeInBytes).
        let vmware = json!({"disks": [
            {"uuid": "6000C291", "label": "Hard disk 1", "maxSizeInBytes": 68719476736u64},
            {"uuid": "6000C292", "label": "Hard disk 2", "maxSizeInBytes": 536870912}]});
        let facts = SourceFacts::of_discovered(&vmware, &[]);
        assert_eq!(
            facts.disks,
            vec![disk("Hard disk 1", 64, None), {
                let mut small = disk("Hard disk 2", 0, None);
                small.size_mib = 512;
                small
            }]
        );
        assert_eq!(facts.data_disks(), 1, "one of them boots");
        assert_eq!(
            SourceFacts::of_discovered(&vmware, &["Hard disk 1".into()])
                .disks
                .len(),
            1
        );
        // azure-mgmt-compute StorageProfile.
        let vm = json!({"storageProfile": {
            "osDisk": {"name": "app-os", "diskSizeGB": 127},
            "dataDisks": [{"name": "app-data", "diskSizeGB": 1024, "lun": 0}]}});
        let facts = SourceFacts::of_azure_vm(&vm);
        assert_eq!(
            facts.disks,
            vec![
                disk("app-os", 127, Some(true)),
                disk("app-data", 1024, Some(false))
            ]
        );
    }

    #[test]
    fn each_provider_holds_disks_to_its_support_matrix() {
        let with = |disks: Vec<DiskFact>, generation: Option<&str>| SourceFacts {
            generation: generation.map(str::to_owned),
            disks,
            unsupported_hardware: vec![],
        };
        let a2a = Limits::of(Provider::A2A);
        let inmage = Limits::of(Provider::InMageRcm);
        let cases: &[(&str, SourceFacts, Limits, Option<&str>)] = &[
            ("fits", facts(4, "2"), hyper_v(), None),
            (
                "a 3 TiB OS disk of generation 2",
                with(vec![disk("os", 3072, Some(true))], Some("2")),
                hyper_v(),
                None,
            ),
            (
                "a 3 TiB OS disk of generation 1",
                with(vec![disk("os", 3072, Some(true))], Some("1")),
                hyper_v(),
                Some("DiskTooLarge"),
            ),
            (
                "a 4,096 GiB OS disk",
                with(vec![disk("os", 4096, Some(true))], None),
                a2a,
                Some("DiskTooLarge"),
            ),
            (
                "a 32 TiB data disk",
                with(
                    vec![disk("os", 64, Some(true)), disk("d", 32767, Some(false))],
                    None,
                ),
                a2a,
                None,
            ),
            (
                "a data disk past 32,767 GiB",
                with(
                    vec![disk("os", 64, Some(true)), disk("d", 32768, Some(false))],
                    None,
                ),
                a2a,
                Some("DiskTooLarge"),
            ),
            (
                "a disk of 1,024 MiB, where it must be larger",
                with(vec![disk("os", 64, None), disk("small", 1, None)], None),
                inmage,
                Some("DiskTooSmall"),
            ),
            (
                "a disk of 1,024 MiB in Azure, where 1 GiB is the least",
                with(
                    vec![disk("os", 64, Some(true)), disk("small", 1, Some(false))],
                    None,
                ),
                a2a,
                None,
            ),
            (
                "17 data disks on Hyper-V",
                facts(17, "2"),
                hyper_v(),
                Some("TooManyDataDisks"),
            ),
            (
                "17 data disks from an appliance",
                facts(17, "2"),
                inmage,
                None,
            ),
        ];
        for (case, facts, limits, expected) in cases {
            let got = check(facts, limits, None);
            assert_eq!(got.as_ref().map(|i| i.reason), *expected, "{case}: {got:?}");
        }
        let too_large = check(
            &with(vec![disk("SQL01_os.vhdx", 3072, Some(true))], Some("1")),
            &hyper_v(),
            None,
        )
        .unwrap();
        assert_eq!(
            too_large.message,
            "the OS disk of a generation 1 VM SQL01_os.vhdx is 3072 GiB, larger than the 2048 GiB \
             the Hyper-V to Azure support matrix allows"
        );
    }

    #[test]
    fn each_rule_names_its_value() {
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
            let got = check(facts, &hyper_v(), Some(("Standard_D2s_v5", Some(sku))));
            assert_eq!(got.as_ref().map(|i| i.reason), *expected, "{case}");
        }
        let too_many = check(
            &facts(5, "2"),
            &hyper_v(),
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
            check(&hardware, &hyper_v(), None).map(|i| i.reason),
            Some("UnsupportedHardware"),
            "whatever the size"
        );
        assert_eq!(
            check(&facts(9, "2"), &hyper_v(), None),
            None,
            "no size asked: Azure's default"
        );
        assert_eq!(
            check(&facts(9, "2"), &hyper_v(), Some(("Standard_X", None))),
            None,
            "an unlisted size is the capacity preflight's"
        );
    }
}
