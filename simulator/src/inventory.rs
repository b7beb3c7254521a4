//! The source side the simulator pretends to see: VMM servers with clouds, Hyper-V sites,
//! replication appliances with VMware, physical or AWS machines, and Azure VMs in a source
//! region. Loaded from YAML (`--inventory`), with a built-in default that covers every example
//! under deploy/examples.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Inventory {
    #[serde(default)]
    pub sources: Vec<Source>,
}

/// A source site and the vault it registers with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// `hyperVVmm`, `hyperVSite`, `vmware`, `physical`, `aws` or `azureRegion`.
    pub kind: SourceKind,
    /// VMM server FQDN, Hyper-V site name, appliance name, or source region.
    pub name: String,
    /// The vault the source registers with once it exists (the way a provider or appliance
    /// registers with a vault credentials file); without it, `POST /_sim/register` does it.
    #[serde(default)]
    pub vault: Option<VaultRef>,
    /// VMM version (`2012`, `2012R2`, `2016`, `2019`, `2022`, `2025`).
    #[serde(default)]
    pub version: Option<String>,
    /// VMM clouds, or the Hyper-V site's hosts, or nothing for appliances and regions.
    #[serde(default)]
    pub containers: Vec<String>,
    /// VMM VM networks (network mappings map them to Azure).
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub machines: Vec<Machine>,
    /// An appliance's run-as accounts (the credentials it pushes the Mobility agent with), as its
    /// Azure Migrate site lists them.
    #[serde(default)]
    pub run_as_accounts: Vec<RunAsAccount>,
}

/// A run-as account of an appliance: its display name and `credentialType` (`LinuxServer`,
/// `WindowsServer`, as the Microsoft.OffAzure run-as account examples show).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunAsAccount {
    pub name: String,
    pub credential_type: String,
}

/// The kinds of source an inventory describes (its `kind`): what sits behind a Site Recovery
/// fabric. azure-sim's own, so that it knows Azure and not cutover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SourceKind {
    /// Hyper-V hosts managed by VMM.
    #[serde(rename = "hyperVVmm")]
    HyperVVmm,
    /// Hyper-V hosts in a Hyper-V site.
    #[serde(rename = "hyperVSite")]
    HyperVSite,
    /// VMware VMs behind a replication appliance.
    Vmware,
    /// Physical servers behind a replication appliance.
    Physical,
    /// AWS instances, replicated as physical servers.
    Aws,
    /// Azure VMs in another region.
    AzureRegion,
}

impl SourceKind {
    /// The replication provider that serves this kind (its `instanceType`).
    pub fn provider(self) -> &'static str {
        match self {
            SourceKind::HyperVVmm | SourceKind::HyperVSite => "HyperVReplicaAzure",
            SourceKind::Vmware | SourceKind::Physical | SourceKind::Aws => "InMageRcm",
            SourceKind::AzureRegion => "A2A",
        }
    }
}

/// What ASR reports for each kind of source.
pub trait AsrKind {
    /// The fabric type.
    fn fabric_type(self) -> &'static str;
    /// The protectable item's `customDetails.instanceType`: appliances report VMware and
    /// physical machines alike as `VMwareVirtualMachine` (with a `discoveryType`).
    fn machine_type(self) -> &'static str;
}

impl AsrKind for SourceKind {
    fn fabric_type(self) -> &'static str {
        match self {
            SourceKind::HyperVVmm => "VMM",
            SourceKind::HyperVSite => "HyperVSite",
            SourceKind::Vmware | SourceKind::Physical | SourceKind::Aws => "InMageRcm",
            SourceKind::AzureRegion => "Azure",
        }
    }

    fn machine_type(self) -> &'static str {
        match self {
            SourceKind::HyperVVmm | SourceKind::HyperVSite => "HyperVVirtualMachine",
            SourceKind::Vmware | SourceKind::Physical | SourceKind::Aws => "VMwareVirtualMachine",
            SourceKind::AzureRegion => "AzureVirtualMachine",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VaultRef {
    pub resource_group: String,
    pub name: String,
}

/// A source machine.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    pub name: String,
    /// Hyper-V VM ID, appliance discovery ID, EC2 instance ID or Azure VM resource ID.
    pub id: String,
    /// The VMM cloud or Hyper-V host it runs in (sources with containers).
    #[serde(default)]
    pub container: Option<String>,
    /// `Windows` or `Linux`.
    pub os_type: String,
    #[serde(default)]
    pub os_name: Option<String>,
    pub disks: Vec<Disk>,
    /// Source networks of its NICs.
    #[serde(default)]
    pub networks: Vec<String>,
    /// A Hyper-V VM's generation, 1 or 2 (`HyperVVirtualMachineDetails.generation`); 2 when
    /// absent.
    #[serde(default)]
    pub generation: Option<u8>,
    /// What a Hyper-V host reports attached to the VM, each `Present` in its
    /// `HyperVVirtualMachineDetails` field (the others `NotPresent`).
    #[serde(default)]
    pub hardware: Vec<Hardware>,
}

/// Hardware of a Hyper-V VM that ASR reports as a `PresenceStatus`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Hardware {
    /// `hasPhysicalDisk`: a pass-through disk.
    PhysicalDisk,
    /// `hasFibreChannelAdapter`.
    FibreChannelAdapter,
    /// `hasSharedVhd`.
    SharedVhd,
}

impl Hardware {
    pub const ALL: [Hardware; 3] = [
        Hardware::PhysicalDisk,
        Hardware::FibreChannelAdapter,
        Hardware::SharedVhd,
    ];

    /// Its field in `HyperVVirtualMachineDetails` (azure-mgmt-recoveryservicessiterecovery).
    pub fn field(self) -> &'static str {
        match self {
            Hardware::PhysicalDisk => "hasPhysicalDisk",
            Hardware::FibreChannelAdapter => "hasFibreChannelAdapter",
            Hardware::SharedVhd => "hasSharedVhd",
        }
    }
}

impl Machine {
    pub fn size_gb(&self) -> u64 {
        self.disks.iter().map(|d| d.size_gb).sum()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    pub id: String,
    pub size_gb: u64,
    #[serde(default)]
    pub os_disk: bool,
}

impl Inventory {
    pub fn from_yaml(text: &str) -> anyhow::Result<Inventory> {
        Ok(serde_yaml_ng::from_str(text)?)
    }

    /// The inventory behind the examples in deploy/examples (and the quick start).
    pub fn builtin() -> Inventory {
        Inventory::from_yaml(BUILTIN).expect("the built-in inventory is valid YAML")
    }

    /// Adds `added`'s sources, or its machines to a source of the same name (a machine of the
    /// same name is replaced).
    pub fn merge(&mut self, added: &Inventory) {
        for source in &added.sources {
            match self
                .sources
                .iter_mut()
                .find(|s| s.name.eq_ignore_ascii_case(&source.name))
            {
                Some(existing) => {
                    for machine in &source.machines {
                        existing
                            .machines
                            .retain(|m| !m.name.eq_ignore_ascii_case(&machine.name));
                        existing.machines.push(machine.clone());
                    }
                }
                None => self.sources.push(source.clone()),
            }
        }
    }

    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

const BUILTIN: &str = r#"
sources:
- kind: hyperVVmm
  name: vmm01.contoso.local
  version: "2019"
  vault: {resourceGroup: rg-migration-dc1, name: dc1-vault}
  containers: [Gold, Silver]
  networks: [corp-web, corp-data]
  machines:
  - {name: SQL01, id: 3f2c1a10-0000-4000-8000-000000000001, container: Gold, osType: Windows, osName: Windows Server 2019, networks: [corp-data], disks: [{id: sql01-os, sizeGb: 128, osDisk: true}, {id: sql01-data, sizeGb: 512}]}
  - {name: WEB01, id: 3f2c1a10-0000-4000-8000-000000000002, container: Gold, osType: Windows, osName: Windows Server 2019, networks: [corp-web], disks: [{id: web01-os, sizeGb: 128, osDisk: true}]}
  - {name: WEB02, id: 3f2c1a10-0000-4000-8000-000000000003, container: Gold, osType: Windows, osName: Windows Server 2019, networks: [corp-web], disks: [{id: web02-os, sizeGb: 128, osDisk: true}]}
  - {name: WEB03, id: 3f2c1a10-0000-4000-8000-000000000004, container: Gold, osType: Windows, osName: Windows Server 2022, networks: [corp-web], disks: [{id: web03-os, sizeGb: 128, osDisk: true}]}
  - {name: REPORTS01, id: 3f2c1a10-0000-4000-8000-000000000005, container: Silver, osType: Linux, osName: Ubuntu 22.04, networks: [corp-data], disks: [{id: reports01-os, sizeGb: 64, osDisk: true}]}
- kind: hyperVSite
  name: branch-office
  vault: {resourceGroup: rg-migration-branch, name: branch-vault}
  containers: [hv01.branch.contoso.local, hv02.branch.contoso.local]
  machines:
  - {name: FS01, id: 5b7d2e20-0000-4000-8000-000000000001, container: hv01.branch.contoso.local, osType: Windows, osName: Windows Server 2016, disks: [{id: fs01-os, sizeGb: 127, osDisk: true}, {id: fs01-shares, sizeGb: 1024}]}
  - {name: PRINT01, id: 5b7d2e20-0000-4000-8000-000000000002, container: hv01.branch.contoso.local, osType: Windows, osName: Windows Server 2019, disks: [{id: print01-os, sizeGb: 127, osDisk: true}]}
  - {name: APP01, id: 5b7d2e20-0000-4000-8000-000000000003, container: hv02.branch.contoso.local, osType: Linux, osName: RHEL 8.8, disks: [{id: app01-os, sizeGb: 64, osDisk: true}]}
- kind: vmware
  name: dc2-appliance
  runAsAccounts: [{name: linux-admin, credentialType: LinuxServer}, {name: windows-admin, credentialType: WindowsServer}]
  vault: {resourceGroup: rg-migration-dc2, name: dc2-vault}
  machines:
  - {name: erp-db, id: 502c8f1e-0000-4000-8000-00000000e001, osType: Linux, osName: SLES 15 SP5, disks: [{id: "6000C291-os", sizeGb: 100, osDisk: true}, {id: "6000C291-data", sizeGb: 2048}]}
  - {name: erp-app1, id: 502c8f1e-0000-4000-8000-00000000e002, osType: Linux, osName: SLES 15 SP5, disks: [{id: "6000C292-os", sizeGb: 100, osDisk: true}]}
  - {name: erp-app2, id: 502c8f1e-0000-4000-8000-00000000e003, osType: Linux, osName: SLES 15 SP5, disks: [{id: "6000C293-os", sizeGb: 100, osDisk: true}]}
- kind: physical
  name: dc3-appliance
  runAsAccounts: [{name: linux-admin, credentialType: LinuxServer}, {name: windows-admin, credentialType: WindowsServer}]
  vault: {resourceGroup: rg-migration-dc3, name: dc3-vault}
  machines:
  - {name: ldap01, id: 7e11a0c4-0000-4000-8000-00000000f001, osType: Linux, osName: Debian 11, disks: [{id: ldap01-sda, sizeGb: 40, osDisk: true}]}
  - {name: mail01, id: 7e11a0c4-0000-4000-8000-00000000f002, osType: Windows, osName: Windows Server 2016, disks: [{id: mail01-disk0, sizeGb: 200, osDisk: true}, {id: mail01-disk1, sizeGb: 500}]}
  - {name: intranet01, id: 7e11a0c4-0000-4000-8000-00000000f003, osType: Linux, osName: Debian 12, disks: [{id: intranet01-sda, sizeGb: 60, osDisk: true}]}
- kind: aws
  name: aws-appliance
  runAsAccounts: [{name: linux-admin, credentialType: LinuxServer}, {name: windows-admin, credentialType: WindowsServer}]
  vault: {resourceGroup: rg-migration-aws, name: aws-vault}
  machines:
  - {name: store-web, id: i-0a1b2c3d4e5f60718, osType: Linux, osName: Amazon Linux 2, disks: [{id: vol-0web, sizeGb: 30, osDisk: true}]}
  - {name: store-api, id: i-0a1b2c3d4e5f60719, osType: Linux, osName: Ubuntu 22.04, disks: [{id: vol-0api, sizeGb: 50, osDisk: true}]}
  - {name: store-win, id: i-0a1b2c3d4e5f6071a, osType: Windows, osName: Windows Server 2022, disks: [{id: vol-0win, sizeGb: 80, osDisk: true}]}
- kind: azureRegion
  name: northeurope
  machines:
  - {name: app-vm1, id: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app-neu/providers/Microsoft.Compute/virtualMachines/app-vm1, osType: Linux, osName: Ubuntu 22.04, disks: [{id: app-vm1-os, sizeGb: 30, osDisk: true}]}
  - {name: app-vm2, id: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app-neu/providers/Microsoft.Compute/virtualMachines/app-vm2, osType: Linux, osName: Ubuntu 22.04, disks: [{id: app-vm2-os, sizeGb: 30, osDisk: true}]}
  - {name: app-vm3, id: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app-neu/providers/Microsoft.Compute/virtualMachines/app-vm3, osType: Linux, osName: Ubuntu 22.04, disks: [{id: app-vm3-os, sizeGb: 30, osDisk: true}]}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_inventory_has_every_scenario() {
        let inventory = Inventory::builtin();
        let kinds: Vec<SourceKind> = inventory.sources.iter().map(|s| s.kind).collect();
        for kind in [
            SourceKind::HyperVVmm,
            SourceKind::HyperVSite,
            SourceKind::Vmware,
            SourceKind::Physical,
            SourceKind::Aws,
            SourceKind::AzureRegion,
        ] {
            assert!(kinds.contains(&kind), "{kind:?}");
        }
        assert!(inventory.sources.iter().all(|s| s.machines.len() >= 2));
    }
}
