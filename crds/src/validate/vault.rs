//! RecoveryVault rules the schema cannot express.

use ipnet::Ipv4Net;

use super::{Report, check_resource_type, check_unique, parse_cidr};
use crate::common::AzureResource;
use crate::regions::is_known_region;
use crate::vault::{
    NetworkSpec, RecoveryVault, RecoveryVaultSpec, ReplicationPolicy, SourceKind, SourceSite,
    StorageSpec, VirtualNetworkProperties, VmmVersion, WindowsServerVersion,
};

/// Azure's smallest subnet: it reserves five addresses in each.
const MIN_SUBNET_PREFIX_LEN: u8 = 29;
/// Hyper-V Replica keeps recovery points for at most a day.
const HYPER_V_MAX_RETENTION_HOURS: i32 = 24;
/// InMage RCM and A2A keep recovery points for up to 15 days.
const MAX_RETENTION_HOURS: i32 = 360;

impl RecoveryVault {
    /// Every rule on the spec, and immutability against what was provisioned.
    pub fn validate(&self) -> Report {
        let mut report = self.spec.validate();
        if let Some(provisioned) = self.status.as_ref().and_then(|s| s.provisioned.as_ref()) {
            let spec = &self.spec;
            for (field, was, now) in [
                (
                    "spec.subscriptionId",
                    &provisioned.subscription_id,
                    &spec.subscription_id,
                ),
                (
                    "spec.resourceGroup",
                    &provisioned.resource_group,
                    &spec.resource_group,
                ),
                ("spec.region", &provisioned.region, &spec.region),
            ] {
                if !was.eq_ignore_ascii_case(now) {
                    report.error(
                        field,
                        format!(
                            "is immutable once provisioning has started (was {was:?}, now {now:?})"
                        ),
                    );
                }
            }
            let kind = spec.source.kind();
            if provisioned.source_kind != kind {
                report.error(
                    "spec.source",
                    format!(
                        "the source kind cannot change once provisioned (was {}, now {kind})",
                        provisioned.source_kind
                    ),
                );
            }
        }
        report
    }
}

impl RecoveryVaultSpec {
    /// Every rule on the spec alone.
    pub fn validate(&self) -> Report {
        let mut report = Report::default();
        if !is_known_region(&self.region) {
            report.error(
                "spec.region",
                format!(
                    "unknown Azure region {:?}; use the name ARM uses, such as \"westeurope\"",
                    self.region
                ),
            );
        }
        if let AzureResource::ExistingId(id) = &self.vault {
            check_resource_type(
                &mut report,
                "spec.vault.existingId",
                id,
                "Microsoft.RecoveryServices",
                "vaults",
            );
        }
        validate_storage(&mut report, &self.storage);
        let target_subnets = validate_network(&mut report, &self.network);
        validate_source(&mut report, &self.source, &self.region);
        validate_cache(&mut report, &self.storage, self.source.kind());
        validate_policy(&mut report, &self.replication_policy, self.source.kind());
        self.validate_network_mappings(&mut report, target_subnets.as_deref());
        report
    }

    fn validate_network_mappings(&self, report: &mut Report, target_subnets: Option<&[String]>) {
        if self.network_mappings.is_empty() {
            return;
        }
        let kind = self.source.kind();
        if !kind.has_network_mappings() {
            report.error(
                "spec.networkMappings",
                format!("{kind} sources have no network mappings in ASR; set the subnet on each machine's target instead"),
            );
            return;
        }
        check_unique(
            report,
            &self.network_mappings,
            |m| m.source_network.as_str(),
            |i| format!("spec.networkMappings[{i}].sourceNetwork"),
            "source network",
        );
        for (i, mapping) in self.network_mappings.iter().enumerate() {
            if kind == SourceKind::AzureRegion {
                let id = crate::common::ResourceId(mapping.source_network.clone());
                let field = format!("spec.networkMappings[{i}].sourceNetwork");
                check_resource_type(report, &field, &id, "Microsoft.Network", "virtualNetworks");
            }
            if let Some(subnets) = target_subnets
                && !subnets.contains(&mapping.target_subnet)
            {
                report.error(
                    format!("spec.networkMappings[{i}].targetSubnet"),
                    format!(
                        "no subnet {:?} in the target network (subnets: {})",
                        mapping.target_subnet,
                        subnets.join(", ")
                    ),
                );
            }
        }
    }
}

fn validate_storage(report: &mut Report, storage: &StorageSpec) {
    match &storage.replication {
        AzureResource::Create(account) => {
            if account.sku.is_premium() && storage.log.is_none() {
                report.error(
                    "spec.storage.log",
                    format!("Premium replication storage ({}) needs a Standard storage account for replication logs", account.sku.as_str()),
                );
            }
            if account.sku.is_locally_redundant() {
                report.warn(
                    "spec.storage.replication.create.sku",
                    format!("locally-redundant storage ({}) keeps replicated data in one datacenter; geo-redundant storage is recommended", account.sku.as_str()),
                );
            }
        }
        AzureResource::ExistingId(id) => {
            check_resource_type(
                report,
                "spec.storage.replication.existingId",
                id,
                "Microsoft.Storage",
                "storageAccounts",
            );
        }
    }
    match &storage.log {
        Some(AzureResource::Create(log)) => {
            if log.sku.is_premium() {
                report.error(
                    "spec.storage.log.create.sku",
                    format!(
                        "the replication log storage account must be Standard, not {}",
                        log.sku.as_str()
                    ),
                );
            }
            if storage
                .replication
                .created()
                .is_some_and(|r| r.name == log.name)
            {
                report.error("spec.storage.log.create.name", format!("the log storage account must differ from the replication storage account ({:?})", log.name));
            }
        }
        Some(AzureResource::ExistingId(id)) => {
            check_resource_type(
                report,
                "spec.storage.log.existingId",
                id,
                "Microsoft.Storage",
                "storageAccounts",
            );
        }
        None => {}
    }
}

/// Azure-to-Azure stages writes in a cache account in the source region (A2A's
/// `vmManagedDisks[].primaryStagingAzureStorageAccountId` is required); other sources have none.
fn validate_cache(report: &mut Report, storage: &StorageSpec, kind: SourceKind) {
    match (&storage.cache, kind) {
        (None, SourceKind::AzureRegion) => report.error(
            "spec.storage.cache",
            "an azureRegion source needs a cache storage account in the source region: Site Recovery stages the VMs' writes there",
        ),
        (Some(_), SourceKind::AzureRegion) | (None, _) => {}
        (Some(_), kind) => report.error(
            "spec.storage.cache",
            format!("only an azureRegion source uses a cache storage account in the source region; remove it for {kind}"),
        ),
    }
    match &storage.cache {
        Some(AzureResource::Create(cache)) if cache.sku.is_premium() => {
            report.error(
                "spec.storage.cache.create.sku",
                format!(
                    "the cache storage account must be Standard, not {}",
                    cache.sku.as_str()
                ),
            );
        }
        Some(AzureResource::ExistingId(id)) => check_resource_type(
            report,
            "spec.storage.cache.existingId",
            id,
            "Microsoft.Storage",
            "storageAccounts",
        ),
        _ => {}
    }
}

/// Checks both networks; returns the target VNet's subnet names when cutover creates it.
fn validate_network(report: &mut Report, network: &NetworkSpec) -> Option<Vec<String>> {
    let target_subnets = match &network.target {
        AzureResource::Create(vnet) => {
            validate_vnet(report, "spec.network.target.create", vnet);
            Some(vnet.subnets.iter().map(|s| s.name.clone()).collect())
        }
        AzureResource::ExistingId(id) => {
            check_resource_type(
                report,
                "spec.network.target.existingId",
                id,
                "Microsoft.Network",
                "virtualNetworks",
            );
            None
        }
    };
    match &network.test {
        Some(AzureResource::Create(vnet)) => {
            validate_vnet(report, "spec.network.test.create", vnet);
            if network
                .target
                .created()
                .is_some_and(|t| t.name == vnet.name)
            {
                report.error(
                    "spec.network.test.create.name",
                    format!(
                        "the test network must be a different VNet from the target network ({:?})",
                        vnet.name
                    ),
                );
            }
        }
        Some(AzureResource::ExistingId(id)) => {
            check_resource_type(
                report,
                "spec.network.test.existingId",
                id,
                "Microsoft.Network",
                "virtualNetworks",
            );
            if matches!(&network.target, AzureResource::ExistingId(target) if target.0.eq_ignore_ascii_case(&id.0))
            {
                report.error(
                    "spec.network.test.existingId",
                    "the test network must be a different VNet from the target network",
                );
            }
        }
        None => {}
    }
    target_subnets
}

fn validate_vnet(report: &mut Report, at: &str, vnet: &VirtualNetworkProperties) {
    let mut space: Vec<Ipv4Net> = Vec::new();
    for (i, block) in vnet.address_space.iter().enumerate() {
        let field = format!("{at}.addressSpace[{i}]");
        let Some(net) = parse_cidr(report, &field, block) else {
            continue;
        };
        if let Some((j, other)) = space.iter().enumerate().find(|(_, o)| overlaps(o, &net)) {
            report.error(
                &field,
                format!("{net} overlaps {other} in addressSpace[{j}]"),
            );
        }
        space.push(net);
    }
    check_unique(
        report,
        &vnet.subnets,
        |s| s.name.as_str(),
        |i| format!("{at}.subnets[{i}].name"),
        "subnet name",
    );
    let mut prefixes: Vec<(&str, Ipv4Net)> = Vec::new();
    for (i, subnet) in vnet.subnets.iter().enumerate() {
        let field = format!("{at}.subnets[{i}].addressPrefix");
        let Some(net) = parse_cidr(report, &field, &subnet.address_prefix) else {
            continue;
        };
        if net.prefix_len() > MIN_SUBNET_PREFIX_LEN {
            report.error(
                &field,
                format!("{net} is too small: Azure subnets are /{MIN_SUBNET_PREFIX_LEN} or larger"),
            );
        }
        if !space.is_empty() && !space.iter().any(|block| block.contains(&net)) {
            let blocks = space
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            report.error(
                &field,
                format!("{net} lies outside the VNet's address space ({blocks})"),
            );
        }
        if let Some((name, other)) = prefixes.iter().find(|(_, o)| overlaps(o, &net)) {
            report.error(&field, format!("{net} overlaps subnet {name:?} ({other})"));
        }
        prefixes.push((&subnet.name, net));
    }
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(b) || b.contains(a)
}

fn validate_source(report: &mut Report, source: &SourceSite, vault_region: &str) {
    match source {
        SourceSite::HyperVVmm(vmm) => {
            if vmm.version.is_some_and(|v| v < VmmVersion::V2012R2) {
                report.error(
                    "spec.source.hyperVVmm.version",
                    "ASR needs System Center VMM 2012 R2 or later, got 2012",
                );
            }
            if vmm.clouds.is_empty() {
                report.error(
                    "spec.source.hyperVVmm.clouds",
                    "at least one VMM cloud is needed: ASR protects VMM clouds",
                );
            }
            check_unique(
                report,
                &vmm.clouds,
                |c| c.as_str(),
                |i| format!("spec.source.hyperVVmm.clouds[{i}]"),
                "cloud",
            );
        }
        SourceSite::HyperVSite(site) => {
            if site.hosts.is_empty() {
                report.error(
                    "spec.source.hyperVSite.hosts",
                    "at least one Hyper-V host is needed",
                );
            }
            check_unique(
                report,
                &site.hosts,
                |h| h.name.as_str(),
                |i| format!("spec.source.hyperVSite.hosts[{i}].name"),
                "host",
            );
            for (i, host) in site.hosts.iter().enumerate() {
                if host.os_version < WindowsServerVersion::WindowsServer2012R2 {
                    report.error(
                        format!("spec.source.hyperVSite.hosts[{i}].osVersion"),
                        format!("ASR needs Hyper-V hosts on Windows Server 2012 R2 or later, got {:?} on {}", host.os_version, host.name),
                    );
                }
            }
        }
        SourceSite::AzureRegion(a2a) => {
            if !is_known_region(&a2a.region) {
                report.error(
                    "spec.source.azureRegion.region",
                    format!(
                        "unknown Azure region {:?}; use the name ARM uses, such as \"northeurope\"",
                        a2a.region
                    ),
                );
            } else if a2a.region == vault_region {
                report.error(
                    "spec.source.azureRegion.region",
                    format!(
                        "the source region must differ from the vault's region {vault_region:?}"
                    ),
                );
            }
        }
        SourceSite::Vmware(_) | SourceSite::Physical(_) | SourceSite::Aws(_) => {}
    }
}

fn validate_policy(report: &mut Report, policy: &ReplicationPolicy, kind: SourceKind) {
    let retention = policy.recovery_point_retention_hours;
    let max_retention = if kind.is_hyper_v() {
        HYPER_V_MAX_RETENTION_HOURS
    } else {
        MAX_RETENTION_HOURS
    };
    if !(0..=max_retention).contains(&retention) {
        report.error(
            "spec.replicationPolicy.recoveryPointRetentionHours",
            format!("{kind} replication keeps recovery points for 0 to {max_retention} hours, got {retention}"),
        );
    }
    let frequency = policy.app_consistent_snapshot_frequency_hours;
    if !(0..=12).contains(&frequency) {
        report.error(
            "spec.replicationPolicy.appConsistentSnapshotFrequencyHours",
            format!("must be 0 (off) to 12 hours, got {frequency}"),
        );
    } else if frequency > 0 && frequency > retention {
        report.error(
            "spec.replicationPolicy.appConsistentSnapshotFrequencyHours",
            format!("{frequency} exceeds recoveryPointRetentionHours ({retention}): no app-consistent point would be kept"),
        );
    }
    match policy.replication_interval_seconds {
        Some(_) if !kind.is_hyper_v() => report.error(
            "spec.replicationPolicy.replicationIntervalSeconds",
            format!("only Hyper-V sources have a replication interval; remove it for {kind}"),
        ),
        Some(seconds) if ![30, 300, 900].contains(&seconds) => report.error(
            "spec.replicationPolicy.replicationIntervalSeconds",
            format!("must be 30, 300 or 900 seconds, got {seconds}"),
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{VAULT, check_table, with};
    use crate::vault::{ProvisionedIdentity, RecoveryVault, RecoveryVaultStatus, SourceKind};

    #[test]
    fn the_base_fixture_is_valid() {
        let report = with::<RecoveryVault>(VAULT, "{}").validate();
        assert_eq!(report.errors, vec![]);
        assert_eq!(report.warnings, vec![]);
    }

    #[test]
    fn each_rule_names_the_field_and_says_why() {
        check_table::<RecoveryVault>(
            VAULT,
            RecoveryVault::validate,
            &[
                (
                    "unknown region",
                    "spec: {region: westeu}",
                    &[
                        r#"spec.region: unknown Azure region "westeu"; use the name ARM uses, such as "westeurope""#,
                    ],
                ),
                (
                    "adopted vault of the wrong type",
                    "spec: {vault: {create: null, existingId: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x}}",
                    &[
                        "spec.vault.existingId: expected a Microsoft.RecoveryServices/vaults resource ID, got /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x",
                    ],
                ),
                (
                    "premium storage without a log account",
                    "spec: {storage: {replication: {create: {sku: Premium_LRS}}}}",
                    &[
                        "spec.storage.log: Premium replication storage (Premium_LRS) needs a Standard storage account for replication logs",
                    ],
                ),
                (
                    "premium log account",
                    "spec: {storage: {replication: {create: {sku: Premium_LRS}}, log: {create: {name: dc1logs, sku: Premium_LRS}}}}",
                    &[
                        "spec.storage.log.create.sku: the replication log storage account must be Standard, not Premium_LRS",
                    ],
                ),
                (
                    "log account same as replication account",
                    "spec: {storage: {replication: {create: {sku: Premium_LRS}}, log: {create: {name: dc1replica, sku: Standard_LRS}}}}",
                    &[
                        r#"spec.storage.log.create.name: the log storage account must differ from the replication storage account ("dc1replica")"#,
                    ],
                ),
                (
                    "adopted storage of the wrong type",
                    "spec: {storage: {replication: {create: null, existingId: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/x}}}",
                    &[
                        "spec.storage.replication.existingId: expected a Microsoft.Storage/storageAccounts resource ID, got /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/x",
                    ],
                ),
                (
                    "address space that is not a CIDR block",
                    "spec: {network: {target: {create: {addressSpace: [10.10.0.300/16]}}}}",
                    &[
                        r#"spec.network.target.create.addressSpace[0]: "10.10.0.300/16" is not a valid IPv4 CIDR block"#,
                    ],
                ),
                (
                    "address space with host bits",
                    "spec: {network: {target: {create: {addressSpace: [10.10.1.0/16]}}}}",
                    &[
                        "spec.network.target.create.addressSpace[0]: 10.10.1.0/16 has host bits set; did you mean 10.10.0.0/16?",
                    ],
                ),
                (
                    "overlapping address space",
                    "spec: {network: {target: {create: {addressSpace: [10.10.0.0/16, 10.10.128.0/17]}}}}",
                    &[
                        "spec.network.target.create.addressSpace[1]: 10.10.128.0/17 overlaps 10.10.0.0/16 in addressSpace[0]",
                    ],
                ),
                (
                    "subnet outside the VNet",
                    "spec: {network: {target: {create: {subnets: [{name: app, addressPrefix: 10.10.1.0/24}, {name: db, addressPrefix: 10.20.2.0/24}]}}}}",
                    &[
                        "spec.network.target.create.subnets[1].addressPrefix: 10.20.2.0/24 lies outside the VNet's address space (10.10.0.0/16)",
                    ],
                ),
                (
                    "overlapping subnets",
                    "spec: {network: {target: {create: {subnets: [{name: app, addressPrefix: 10.10.0.0/23}, {name: db, addressPrefix: 10.10.1.0/24}]}}}}",
                    &[
                        r#"spec.network.target.create.subnets[1].addressPrefix: 10.10.1.0/24 overlaps subnet "app" (10.10.0.0/23)"#,
                    ],
                ),
                (
                    "duplicate subnet names",
                    "spec: {network: {target: {create: {subnets: [{name: app, addressPrefix: 10.10.1.0/24}, {name: app, addressPrefix: 10.10.2.0/24}]}}}}",
                    &[
                        r#"spec.network.target.create.subnets[1].name: duplicate subnet name "app" (also at index 0)"#,
                    ],
                ),
                (
                    "subnet smaller than /29",
                    "spec: {network: {target: {create: {subnets: [{name: app, addressPrefix: 10.10.1.0/30}]}}}, networkMappings: null}",
                    &[
                        "spec.network.target.create.subnets[0].addressPrefix: 10.10.1.0/30 is too small: Azure subnets are /29 or larger",
                    ],
                ),
                (
                    "test network is the target network",
                    "spec: {network: {test: {create: {name: vnet-prod}}}}",
                    &[
                        r#"spec.network.test.create.name: the test network must be a different VNet from the target network ("vnet-prod")"#,
                    ],
                ),
                (
                    "VMM older than 2012 R2",
                    "spec: {source: {hyperVVmm: {version: \"2012\"}}}",
                    &[
                        "spec.source.hyperVVmm.version: ASR needs System Center VMM 2012 R2 or later, got 2012",
                    ],
                ),
                (
                    "VMM without clouds",
                    "spec: {source: {hyperVVmm: {clouds: []}}}",
                    &[
                        "spec.source.hyperVVmm.clouds: at least one VMM cloud is needed: ASR protects VMM clouds",
                    ],
                ),
                (
                    "duplicate VMM cloud",
                    "spec: {source: {hyperVVmm: {clouds: [Gold, Gold]}}}",
                    &[
                        r#"spec.source.hyperVVmm.clouds[1]: duplicate cloud "Gold" (also at index 0)"#,
                    ],
                ),
                (
                    "Hyper-V host older than 2012 R2",
                    "spec: {networkMappings: null, source: {hyperVVmm: null, hyperVSite: {siteName: branch, hosts: [{name: hv01.corp.example.com, osVersion: WindowsServer2012}]}}}",
                    &[
                        "spec.source.hyperVSite.hosts[0].osVersion: ASR needs Hyper-V hosts on Windows Server 2012 R2 or later, got WindowsServer2012 on hv01.corp.example.com",
                    ],
                ),
                (
                    "duplicate Hyper-V host",
                    "spec: {networkMappings: null, source: {hyperVVmm: null, hyperVSite: {siteName: branch, hosts: [{name: hv01, osVersion: WindowsServer2019}, {name: hv01, osVersion: WindowsServer2022}]}}}",
                    &[
                        r#"spec.source.hyperVSite.hosts[1].name: duplicate host "hv01" (also at index 0)"#,
                    ],
                ),
                (
                    "Azure source in the vault's region",
                    "spec: {networkMappings: null, replicationPolicy: {replicationIntervalSeconds: null}, storage: {cache: {create: {name: neucache, sku: Standard_LRS}}}, source: {hyperVVmm: null, azureRegion: {region: westeurope}}}",
                    &[
                        r#"spec.source.azureRegion.region: the source region must differ from the vault's region "westeurope""#,
                    ],
                ),
                (
                    "Azure source without a cache account",
                    "spec: {networkMappings: null, replicationPolicy: {replicationIntervalSeconds: null}, source: {hyperVVmm: null, azureRegion: {region: northeurope}}}",
                    &[
                        "spec.storage.cache: an azureRegion source needs a cache storage account in the source region: Site Recovery stages the VMs' writes there",
                    ],
                ),
                (
                    "a cache account for a source that has none",
                    "spec: {storage: {cache: {create: {name: dc1cache, sku: Standard_LRS}}}}",
                    &[
                        "spec.storage.cache: only an azureRegion source uses a cache storage account in the source region; remove it for hyperVVmm",
                    ],
                ),
                (
                    "a Premium cache account",
                    "spec: {networkMappings: null, replicationPolicy: {replicationIntervalSeconds: null}, storage: {cache: {create: {name: neucache, sku: Premium_LRS}}}, source: {hyperVVmm: null, azureRegion: {region: northeurope}}}",
                    &[
                        "spec.storage.cache.create.sku: the cache storage account must be Standard, not Premium_LRS",
                    ],
                ),
                (
                    "Azure source in an unknown region",
                    "spec: {networkMappings: null, replicationPolicy: {replicationIntervalSeconds: null}, storage: {cache: {create: {name: neucache, sku: Standard_LRS}}}, source: {hyperVVmm: null, azureRegion: {region: mars}}}",
                    &[
                        r#"spec.source.azureRegion.region: unknown Azure region "mars"; use the name ARM uses, such as "northeurope""#,
                    ],
                ),
                (
                    "Hyper-V retention over a day",
                    "spec: {replicationPolicy: {recoveryPointRetentionHours: 48}}",
                    &[
                        "spec.replicationPolicy.recoveryPointRetentionHours: hyperVVmm replication keeps recovery points for 0 to 24 hours, got 48",
                    ],
                ),
                (
                    "retention over 15 days",
                    "spec: {networkMappings: null, replicationPolicy: {recoveryPointRetentionHours: 400, replicationIntervalSeconds: null}, source: {hyperVVmm: null, vmware: {appliance: appliance01}}}",
                    &[
                        "spec.replicationPolicy.recoveryPointRetentionHours: vmware replication keeps recovery points for 0 to 360 hours, got 400",
                    ],
                ),
                (
                    "app-consistent snapshots rarer than retention",
                    "spec: {replicationPolicy: {recoveryPointRetentionHours: 2, appConsistentSnapshotFrequencyHours: 4}}",
                    &[
                        "spec.replicationPolicy.appConsistentSnapshotFrequencyHours: 4 exceeds recoveryPointRetentionHours (2): no app-consistent point would be kept",
                    ],
                ),
                (
                    "app-consistent frequency over 12 hours",
                    "spec: {replicationPolicy: {appConsistentSnapshotFrequencyHours: 13}}",
                    &[
                        "spec.replicationPolicy.appConsistentSnapshotFrequencyHours: must be 0 (off) to 12 hours, got 13",
                    ],
                ),
                (
                    "replication interval ASR does not offer",
                    "spec: {replicationPolicy: {replicationIntervalSeconds: 60}}",
                    &[
                        "spec.replicationPolicy.replicationIntervalSeconds: must be 30, 300 or 900 seconds, got 60",
                    ],
                ),
                (
                    "replication interval on a non-Hyper-V source",
                    "spec: {networkMappings: null, source: {hyperVVmm: null, aws: {appliance: appliance01, awsRegion: eu-west-1}}}",
                    &[
                        "spec.replicationPolicy.replicationIntervalSeconds: only Hyper-V sources have a replication interval; remove it for aws",
                    ],
                ),
                (
                    "network mappings on a source without them",
                    "spec: {replicationPolicy: {replicationIntervalSeconds: null}, source: {hyperVVmm: null, physical: {appliance: appliance01}}}",
                    &[
                        "spec.networkMappings: physical sources have no network mappings in ASR; set the subnet on each machine's target instead",
                    ],
                ),
                (
                    "network mapping to a missing subnet",
                    "spec: {networkMappings: [{sourceNetwork: corp-lan, targetSubnet: web}]}",
                    &[
                        r#"spec.networkMappings[0].targetSubnet: no subnet "web" in the target network (subnets: app, db)"#,
                    ],
                ),
                (
                    "duplicate network mapping",
                    "spec: {networkMappings: [{sourceNetwork: corp-lan, targetSubnet: app}, {sourceNetwork: corp-lan, targetSubnet: db}]}",
                    &[
                        r#"spec.networkMappings[1].sourceNetwork: duplicate source network "corp-lan" (also at index 0)"#,
                    ],
                ),
                (
                    "A2A network mapping from a non-VNet",
                    "spec: {replicationPolicy: {replicationIntervalSeconds: null}, storage: {cache: {create: {name: neucache, sku: Standard_LRS}}}, source: {hyperVVmm: null, azureRegion: {region: northeurope}}, networkMappings: [{sourceNetwork: corp-lan, targetSubnet: app}]}",
                    &[
                        "spec.networkMappings[0].sourceNetwork: expected a Microsoft.Network/virtualNetworks resource ID, got corp-lan",
                    ],
                ),
            ],
        );
    }

    #[test]
    fn locally_redundant_storage_is_a_warning_not_an_error() {
        let vault = with::<RecoveryVault>(
            VAULT,
            "spec: {storage: {replication: {create: {sku: Standard_LRS}}}}",
        );
        let report = vault.validate();
        assert!(report.is_valid());
        assert_eq!(
            report.warning_message(),
            "spec.storage.replication.create.sku: locally-redundant storage (Standard_LRS) keeps replicated data in one datacenter; geo-redundant storage is recommended"
        );
    }

    #[test]
    fn provisioned_identity_is_immutable() {
        let mut vault = with::<RecoveryVault>(
            VAULT,
            "spec: {subscriptionId: 00000000-0000-0000-0000-000000000002, region: northeurope, networkMappings: null, replicationPolicy: {replicationIntervalSeconds: null}, source: {hyperVVmm: null, vmware: {appliance: appliance01}}}",
        );
        vault.status = Some(RecoveryVaultStatus {
            provisioned: Some(ProvisionedIdentity {
                subscription_id: "00000000-0000-0000-0000-000000000001".into(),
                resource_group: "RG-Migration".into(),
                region: "westeurope".into(),
                source_kind: SourceKind::HyperVVmm,
            }),
            ..Default::default()
        });
        assert_eq!(vault.validate().error_message(), [
            r#"spec.subscriptionId: is immutable once provisioning has started (was "00000000-0000-0000-0000-000000000001", now "00000000-0000-0000-0000-000000000002")"#,
            r#"spec.region: is immutable once provisioning has started (was "westeurope", now "northeurope")"#,
            "spec.source: the source kind cannot change once provisioned (was hyperVVmm, now vmware)",
        ].join("; "));
    }
}
