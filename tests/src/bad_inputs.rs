//! The bad-input suite: invalid manifests, each a merge patch over a valid vault, machine or
//! plan, with what must happen to it. The reliability suite applies them with the controller
//! running and no webhook; the webhook suite applies them through the webhook.

use anyhow::Result;
use serde_json::{Value, json};

use crate::examples::approved_example;

/// What should happen to an invalid manifest.
pub enum Expect {
    /// `kubectl apply` fails, naming this.
    Refused(&'static str),
    /// Accepted, then `Ready=False` with this reason and a message containing this.
    NotReady(&'static str, &'static str),
}

pub struct BadInput {
    pub what: &'static str,
    pub kind: &'static str,
    pub patch: Value,
    pub expect: Expect,
}

fn bad(what: &'static str, kind: &'static str, patch: Value, expect: Expect) -> BadInput {
    BadInput {
        what,
        kind,
        patch,
        expect,
    }
}

/// The invalid manifests, each a merge patch over a valid vault, machine or plan.
pub fn bad_inputs() -> Vec<BadInput> {
    use Expect::{NotReady, Refused};
    let subnet = |name: &str, prefix: &str| json!({"name": name, "addressPrefix": prefix});
    vec![
        // Wrong types and shapes: the API server's schema.
        bad(
            "subscription that is not a GUID",
            "RecoveryVault",
            json!({"spec": {"subscriptionId": "prod"}}),
            Refused("spec.subscriptionId"),
        ),
        bad(
            "resource group as a number",
            "RecoveryVault",
            json!({"spec": {"resourceGroup": 42}}),
            Refused("spec.resourceGroup"),
        ),
        bad(
            "region as the portal writes it",
            "RecoveryVault",
            json!({"spec": {"region": "West Europe"}}),
            Refused("spec.region"),
        ),
        bad(
            "unknown source kind",
            "RecoveryVault",
            json!({"spec": {"source": {"aws": null, "nutanix": {"cluster": "c1"}}}}),
            Refused("spec.source"),
        ),
        bad(
            "storage SKU Azure does not have",
            "RecoveryVault",
            json!({"spec": {"storage": {"replication": {"create": {"sku": "Ultra_ZRS"}}}}}),
            Refused("spec.storage.replication.create.sku"),
        ),
        bad(
            "retention as a string",
            "RecoveryVault",
            json!({"spec": {"replicationPolicy": {"recoveryPointRetentionHours": "a day"}}}),
            Refused("spec.replicationPolicy.recoveryPointRetentionHours"),
        ),
        bad(
            "absurd retention",
            "RecoveryVault",
            json!({"spec": {"replicationPolicy": {"recoveryPointRetentionHours": 100000}}}),
            Refused("spec.replicationPolicy.recoveryPointRetentionHours"),
        ),
        bad(
            "deletion policy that does not exist",
            "RecoveryVault",
            json!({"spec": {"deletionPolicy": "Purge"}}),
            Refused("spec.deletionPolicy"),
        ),
        bad(
            "machine without a vault",
            "ReplicatedMachine",
            json!({"spec": {"vaultRef": null}}),
            Refused("spec.vaultRef"),
        ),
        bad(
            "OS ASR does not know",
            "ReplicatedMachine",
            json!({"spec": {"osType": "Solaris"}}),
            Refused("spec.osType"),
        ),
        bad(
            "EC2 instance ID of the wrong shape",
            "ReplicatedMachine",
            json!({"spec": {"source": {"awsInstanceId": "i-123"}}}),
            Refused("spec.source.awsInstanceId"),
        ),
        bad(
            "availability zone 4",
            "ReplicatedMachine",
            json!({"spec": {"target": {"availabilityZone": "4"}}}),
            Refused("spec.target.availabilityZone"),
        ),
        bad(
            "absurd VM size",
            "ReplicatedMachine",
            json!({"spec": {"target": {"vmSize": "enormous"}}}),
            Refused("spec.target.vmSize"),
        ),
        bad(
            "zero machines at a time",
            "MigrationPlan",
            json!({"spec": {"cutover": {"maxConcurrent": 0}}}),
            Refused("spec.cutover.maxConcurrent"),
        ),
        bad(
            "approval as a string",
            "MigrationPlan",
            json!({"spec": {"cutover": {"approved": "yes"}}}),
            Refused("spec.cutover.approved"),
        ),
        bad(
            "window start that is not a time",
            "MigrationPlan",
            json!({"spec": {"cutover": {"window": {"start": "tonight", "end": "2026-12-06T04:00:00Z"}}}}),
            Refused("spec.cutover.window.start"),
        ),
        // Rules across fields: the controller says why, and writes nothing.
        bad(
            "unknown region",
            "RecoveryVault",
            json!({"spec": {"region": "westeu"}}),
            NotReady(
                "InvalidSpec",
                "spec.region: unknown Azure region \"westeu\"",
            ),
        ),
        bad(
            "subnet outside the VNet",
            "RecoveryVault",
            json!({"spec": {"network": {"target": {"create": {"subnets": [subnet("frontend", "10.50.1.0/24"), subnet("backend", "10.60.2.0/24")]}}}}}),
            NotReady(
                "InvalidSpec",
                "subnets[1].addressPrefix: 10.60.2.0/24 lies outside the VNet's address space (10.50.0.0/16)",
            ),
        ),
        bad(
            "overlapping subnets",
            "RecoveryVault",
            json!({"spec": {"network": {"target": {"create": {"subnets": [subnet("frontend", "10.50.0.0/23"), subnet("backend", "10.50.1.0/24")]}}}}}),
            NotReady("InvalidSpec", "overlaps subnet \"frontend\""),
        ),
        bad(
            "subnet smaller than /29",
            "RecoveryVault",
            json!({"spec": {"network": {"target": {"create": {"subnets": [subnet("frontend", "10.50.1.0/30"), subnet("backend", "10.50.2.0/24")]}}}}}),
            NotReady(
                "InvalidSpec",
                "is too small: Azure subnets are /29 or larger",
            ),
        ),
        bad(
            "address space with host bits",
            "RecoveryVault",
            json!({"spec": {"network": {"target": {"create": {"addressSpace": ["10.50.1.0/16"]}}}}}),
            NotReady(
                "InvalidSpec",
                "has host bits set; did you mean 10.50.0.0/16?",
            ),
        ),
        bad(
            "Premium storage without a log account",
            "RecoveryVault",
            json!({"spec": {"storage": {"replication": {"create": {"sku": "Premium_LRS"}}}}}),
            NotReady(
                "InvalidSpec",
                "spec.storage.log: Premium replication storage (Premium_LRS) needs a Standard storage account for replication logs",
            ),
        ),
        bad(
            "adopted vault of the wrong type",
            "RecoveryVault",
            json!({"spec": {"vault": {"create": null, "existingId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x"}}}),
            NotReady(
                "InvalidSpec",
                "expected a Microsoft.RecoveryServices/vaults resource ID",
            ),
        ),
        bad(
            "test network that is the target network",
            "RecoveryVault",
            json!({"spec": {"network": {"test": {"create": {"name": "vnet-from-aws"}}}}}),
            NotReady("InvalidSpec", "the test network must be a different VNet"),
        ),
        bad(
            "VM name Azure refuses",
            "ReplicatedMachine",
            json!({"spec": {"target": {"vmName": "web_01"}}}),
            NotReady("InvalidSpec", "\"web_01\" is not a valid Azure VM name"),
        ),
        bad(
            "Windows licence on Linux",
            "ReplicatedMachine",
            json!({"spec": {"osType": "Linux", "target": {"licenseType": "WindowsServer"}}}),
            NotReady(
                "InvalidSpec",
                "WindowsServer (Azure Hybrid Benefit) applies to Windows machines only",
            ),
        ),
        bad(
            "a vault that does not exist",
            "ReplicatedMachine",
            json!({"spec": {"vaultRef": {"name": "no-such-vault"}}}),
            NotReady("VaultNotFound", "no-such-vault"),
        ),
        bad(
            "a vault in another namespace",
            "ReplicatedMachine",
            json!({"spec": {"vaultRef": {"name": "elsewhere-vault", "namespace": "elsewhere"}}}),
            NotReady("VaultNotFound", "elsewhere-vault"),
        ),
        bad(
            "duplicate machine names in a plan",
            "MigrationPlan",
            json!({"spec": {"waves": null, "machines": {"templates": [{"name": "web", "source": {"name": "store-web"}, "osType": "Linux"}, {"name": "web", "source": {"name": "store-api"}, "osType": "Linux"}]}}}),
            Refused("spec.machines.templates[1]: Duplicate value"),
        ),
        bad(
            "one source machine twice in a plan",
            "MigrationPlan",
            json!({"spec": {"waves": null, "machines": {"templates": [{"name": "web-a", "source": {"name": "store-web"}, "osType": "Linux"}, {"name": "web-b", "source": {"name": "store-web"}, "osType": "Linux"}]}}}),
            NotReady(
                "InvalidSpec",
                "source machine \"store-web\" is already in template \"web-a\"",
            ),
        ),
        bad(
            "a machine in two waves",
            "MigrationPlan",
            json!({"spec": {"waves": [{"name": "one", "machines": ["aws-store-api", "aws-store-win"]}, {"name": "two", "machines": ["aws-store-web", "aws-store-api"]}]}}),
            NotReady(
                "InvalidSpec",
                "machine \"aws-store-api\" is already in wave \"one\"",
            ),
        ),
        bad(
            "a wave naming a machine the plan does not have",
            "MigrationPlan",
            json!({"spec": {"waves": [{"name": "one", "machines": ["aws-store-api", "aws-store-win"]}, {"name": "two", "machines": ["aws-store-web", "aws-store-db"]}]}}),
            NotReady("InvalidSpec", "no machine template named \"aws-store-db\""),
        ),
        bad(
            "a window that ends before it starts",
            "MigrationPlan",
            json!({"spec": {"cutover": {"window": {"start": "2026-12-06T04:00:00Z", "end": "2026-12-06T01:00:00Z"}}}}),
            NotReady(
                "InvalidSpec",
                "spec.cutover.window.end: must be after the window's start",
            ),
        ),
        bad(
            "a plan on a vault that does not exist",
            "MigrationPlan",
            json!({"spec": {"vaultRef": {"name": "no-such-vault"}}}),
            NotReady("VaultNotFound", "no-such-vault"),
        ),
    ]
}

/// Each case as the manifest to apply, named `bad-NN`. Plans name a vault that exists but is
/// itself invalid (the first such vault of the table), so none can start.
pub fn manifests() -> Result<Vec<(BadInput, String, Value)>> {
    let (vault, plan) = approved_example("aws.yaml")?;
    let machine = json!({
        "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine", "metadata": {"name": "m"},
        "spec": {"vaultRef": {"name": "no-vault-yet"}, "source": {"name": "store-web", "awsInstanceId": "i-0a1b2c3d4e5f60718"},
                 "osType": "Windows", "target": {"vmSize": "Standard_D2s_v5", "subnet": "frontend"}}
    });
    let cases = bad_inputs();
    let invalid_vault = cases
        .iter()
        .position(|c| c.kind == "RecoveryVault" && matches!(c.expect, Expect::NotReady(..)))
        .map(|i| format!("bad-{i:02}"))
        .unwrap_or_default();
    Ok(cases
        .into_iter()
        .enumerate()
        .map(|(i, case)| {
            let mut doc = match case.kind {
                "RecoveryVault" => vault.clone(),
                "MigrationPlan" => plan.clone(),
                _ => machine.clone(),
            };
            json_patch::merge(&mut doc, &case.patch);
            let name = format!("bad-{i:02}");
            doc["metadata"] = json!({"name": name});
            if case.kind == "MigrationPlan" && doc["spec"]["vaultRef"]["name"] == "aws-euwest1" {
                doc["spec"]["vaultRef"]["name"] = json!(invalid_vault);
            }
            (case, name, doc)
        })
        .collect())
}
