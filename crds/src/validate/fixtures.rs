//! Valid base manifests for the validation tests; each case merges a patch into one.

use serde::de::DeserializeOwned;

use super::Report;

pub const VAULT: &str = r#"
apiVersion: cutover.dev/v1alpha1
kind: RecoveryVault
metadata: {name: dc1, namespace: migration}
spec:
  subscriptionId: 00000000-0000-0000-0000-000000000001
  resourceGroup: rg-migration
  region: westeurope
  vault:
    create: {name: dc1-vault, sku: Standard, storageRedundancy: GeoRedundant}
  storage:
    replication:
      create: {name: dc1replica, sku: Standard_GRS}
  network:
    target:
      create:
        name: vnet-prod
        addressSpace: [10.10.0.0/16]
        subnets:
        - {name: app, addressPrefix: 10.10.1.0/24}
        - {name: db, addressPrefix: 10.10.2.0/24}
    test:
      create:
        name: vnet-test
        addressSpace: [10.10.0.0/16]
        subnets:
        - {name: app, addressPrefix: 10.10.1.0/24}
  source:
    hyperVVmm:
      server: vmm01.corp.example.com
      version: "2019"
      clouds: [Gold, Silver]
  replicationPolicy:
    name: migration-24h
    recoveryPointRetentionHours: 24
    appConsistentSnapshotFrequencyHours: 4
    replicationIntervalSeconds: 300
  networkMappings:
  - {sourceNetwork: corp-lan, targetSubnet: app}
"#;

pub const MACHINE: &str = r#"
apiVersion: cutover.dev/v1alpha1
kind: ReplicatedMachine
metadata: {name: web-01, namespace: migration}
spec:
  vaultRef: {name: dc1}
  source: {name: WEB01, hyperVVmId: 6f1c2a3b-1111-4d2e-9f00-123456789abc}
  osType: Windows
  includeDisks: [disk0, disk1]
  target:
    vmName: web-01
    vmSize: Standard_D2s_v5
    subnet: app
    staticIp: 10.10.1.10
    diskType: StandardSSD_LRS
    licenseType: WindowsServer
    tags: {app: shop}
"#;

pub const PLAN: &str = r#"
apiVersion: cutover.dev/v1alpha1
kind: MigrationPlan
metadata: {name: shop, namespace: migration}
spec:
  vaultRef: {name: dc1}
  machines:
    templates:
    - name: web-01
      source: {name: WEB01}
      osType: Windows
    - name: web-02
      source: {name: WEB02}
      osType: Windows
    - name: db-01
      source: {name: DB01}
      osType: Linux
      target: {vmSize: Standard_E4s_v5}
  waves:
  - {name: wave-1, machines: [db-01]}
  - {name: wave-2, machines: [web-01, web-02]}
  defaults: {vmSize: Standard_D2s_v5, subnet: app, tags: {project: shop}}
  cutover:
    approved: false
    window: {start: "2026-12-05T22:00:00Z", end: "2026-12-06T04:00:00Z"}
"#;

/// `base` with the YAML merge patch `patch` applied (RFC 7386: `null` removes a key, lists
/// are replaced whole).
pub fn with<T: DeserializeOwned>(base: &str, patch: &str) -> T {
    let mut doc: serde_json::Value = serde_yaml_ng::from_str(base).expect("base fixture is YAML");
    let patch: serde_json::Value = serde_yaml_ng::from_str(patch).expect("patch is YAML");
    json_patch::merge(&mut doc, &patch);
    serde_json::from_value(doc).expect("patched fixture deserialises")
}

/// Runs a table of `(case, patch, expected errors)` against `validate`, and reports every
/// case that does not produce exactly the expected errors.
pub fn check_table<T: DeserializeOwned>(
    base: &str,
    validate: impl Fn(&T) -> Report,
    cases: &[(&str, &str, &[&str])],
) {
    let mut failures = Vec::new();
    for (case, patch, expected) in cases {
        let report = validate(&with::<T>(base, patch));
        let got: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        if got != *expected {
            failures.push(format!(
                "{case}:\n  expected {expected:#?}\n  got      {got:#?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
