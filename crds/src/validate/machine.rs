//! ReplicatedMachine rules the schema cannot express.

use super::{Report, check_resource_type, check_tags, parse_ipv4};
use crate::machine::{
    LicenseType, MachineTarget, OsType, ReplicatedMachine, ReplicatedMachineSpec, SourceMachine,
};

/// ASR's rule for the failed-over VM's name: 1-63 letters, digits and hyphens, starting and
/// ending with a letter or digit ("VM name: Between 1 and 63 characters. Restricted to letters,
/// numbers, and hyphens. The VM name must start and end with a letter or number.", the Hyper-V
/// and the VMware/physical support matrices' "Azure VM requirements").
fn is_valid_vm_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

impl ReplicatedMachine {
    /// Every rule on the spec, and immutability once protection is enabled.
    pub fn validate(&self) -> Report {
        let mut report = self.spec.validate();
        if let Some(bound) = self.status.as_ref().and_then(|s| s.bound.as_ref()) {
            if bound.vault != self.spec.vault_ref.name {
                report.error(
                    "spec.vaultRef.name",
                    format!(
                        "is immutable once protection is enabled (was {:?})",
                        bound.vault
                    ),
                );
            }
            if bound.source_name != self.spec.source.name {
                report.error(
                    "spec.source.name",
                    format!(
                        "is immutable once protection is enabled (was {:?})",
                        bound.source_name
                    ),
                );
            }
        }
        report
    }
}

impl ReplicatedMachineSpec {
    /// Every rule on the spec alone.
    pub fn validate(&self) -> Report {
        let mut report = Report::default();
        validate_machine(
            &mut report,
            "spec",
            &self.source,
            self.os_type,
            &self.include_disks,
            &self.target,
        );
        report
    }
}

/// The rules shared by a ReplicatedMachine's spec and a plan's machine template, reported
/// under `at` (`spec`, or `spec.machines.templates[3]`).
pub(crate) fn validate_machine(
    report: &mut Report,
    at: &str,
    source: &SourceMachine,
    os_type: OsType,
    include_disks: &[String],
    target: &MachineTarget,
) {
    let identities = source.identity_fields();
    if identities.len() > 1 {
        report.error(
            format!("{at}.source"),
            format!(
                "set at most one of hyperVVmId, discoveryId, awsInstanceId, azureVmId; found {}",
                identities.join(" and ")
            ),
        );
    }
    if let Some(id) = &source.azure_vm_id {
        check_resource_type(
            report,
            &format!("{at}.source.azureVmId"),
            id,
            "Microsoft.Compute",
            "virtualMachines",
        );
    }
    super::check_unique(
        report,
        include_disks,
        |d| d.as_str(),
        |i| format!("{at}.includeDisks[{i}]"),
        "disk",
    );

    match &target.vm_name {
        Some(name) if !is_valid_vm_name(name) => report.error(
            format!("{at}.target.vmName"),
            format!("{name:?} is not a valid Azure VM name: 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit"),
        ),
        None if !is_valid_vm_name(&source.name) => report.error(
            format!("{at}.target.vmName"),
            format!("the source name {:?} is not a valid Azure VM name, so the VM needs one: set target.vmName", source.name),
        ),
        _ => {}
    }
    if target.license_type == Some(LicenseType::WindowsServer) && os_type != OsType::Windows {
        report.error(
            format!("{at}.target.licenseType"),
            "WindowsServer (Azure Hybrid Benefit) applies to Windows machines only",
        );
    }
    if let Some(ip) = &target.static_ip {
        parse_ipv4(report, &format!("{at}.target.staticIp"), ip);
    }
    check_tags(report, &format!("{at}.target.tags"), &target.tags);
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{MACHINE, check_table, with};
    use crate::machine::{MachineBinding, ReplicatedMachine, ReplicatedMachineStatus};

    #[test]
    fn the_base_fixture_is_valid() {
        assert_eq!(
            with::<ReplicatedMachine>(MACHINE, "{}").validate().errors,
            vec![]
        );
    }

    #[test]
    fn each_rule_names_the_field_and_says_why() {
        check_table::<ReplicatedMachine>(
            MACHINE,
            ReplicatedMachine::validate,
            &[
                (
                    "two source identities",
                    "spec: {source: {awsInstanceId: i-0abc1234def567890}}",
                    &[
                        "spec.source: set at most one of hyperVVmId, discoveryId, awsInstanceId, azureVmId; found hyperVVmId and awsInstanceId",
                    ],
                ),
                (
                    "Azure VM ID of the wrong type",
                    "spec: {source: {hyperVVmId: null, azureVmId: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1}}",
                    &[
                        "spec.source.azureVmId: expected a Microsoft.Compute/virtualMachines resource ID, got /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1",
                    ],
                ),
                (
                    "duplicate disk",
                    "spec: {includeDisks: [disk0, disk0]}",
                    &[r#"spec.includeDisks[1]: duplicate disk "disk0" (also at index 0)"#],
                ),
                (
                    "VM name ASR refuses",
                    "spec: {target: {vmName: web_01}}",
                    &[
                        r#"spec.target.vmName: "web_01" is not a valid Azure VM name: 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit"#,
                    ],
                ),
                (
                    "source name unusable as VM name",
                    "spec: {source: {name: WEB 01 (old)}, target: {vmName: null}}",
                    &[
                        r#"spec.target.vmName: the source name "WEB 01 (old)" is not a valid Azure VM name, so the VM needs one: set target.vmName"#,
                    ],
                ),
                (
                    "Windows licence on Linux",
                    "spec: {osType: Linux}",
                    &[
                        "spec.target.licenseType: WindowsServer (Azure Hybrid Benefit) applies to Windows machines only",
                    ],
                ),
                (
                    "static IP out of range",
                    "spec: {target: {staticIp: 10.10.1.256}}",
                    &[r#"spec.target.staticIp: "10.10.1.256" is not a valid IPv4 address"#],
                ),
                (
                    "tag name with a slash",
                    "spec: {target: {tags: {a/b: x}}}",
                    &[r#"spec.target.tags["a/b"]: tag names cannot contain < > % & \ ? /"#],
                ),
                (
                    "tag value too long",
                    &format!("spec: {{target: {{tags: {{app: {}}}}}}}", "v".repeat(257)),
                    &[r#"spec.target.tags["app"]: tag values are at most 256 characters"#],
                ),
                (
                    "too many tags (50 plus the fixture's own)",
                    &format!(
                        "spec: {{target: {{tags: {{{}}}}}}}",
                        (0..50)
                            .map(|i| format!("t{i}: x"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    &["spec.target.tags: Azure allows at most 50 tags, got 51"],
                ),
            ],
        );
    }

    #[test]
    fn vault_and_source_are_immutable_once_protected() {
        let mut machine = with::<ReplicatedMachine>(
            MACHINE,
            "spec: {vaultRef: {name: dc2}, source: {name: WEB02}}",
        );
        machine.status = Some(ReplicatedMachineStatus {
            bound: Some(MachineBinding {
                vault: "dc1".into(),
                source_name: "WEB01".into(),
            }),
            ..Default::default()
        });
        assert_eq!(
            machine.validate().error_message(),
            [
                r#"spec.vaultRef.name: is immutable once protection is enabled (was "dc1")"#,
                r#"spec.source.name: is immutable once protection is enabled (was "WEB01")"#,
            ]
            .join("; ")
        );
    }
}
