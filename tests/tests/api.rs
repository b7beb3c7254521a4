//! The v1alpha1 API on a real API server: CRDs and examples apply with kubectl, read back as
//! written (with the schema's defaults), show useful columns, and invalid manifests are
//! rejected with the offending field named.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use cutover_api::{MigrationPlan, RecoveryVault, ReplicatedMachine};
use cutover_e2e::{control_plane, repo_root, temp_namespace};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::Deserialize;
use serde_json::{Value, json};

/// Every document of every example file, by kind and name.
fn example_documents() -> Result<BTreeMap<(String, String), Value>> {
    let dir = repo_root().join("deploy/examples");
    let mut docs = BTreeMap::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc).with_context(|| path.display().to_string())?;
            let kind = value["kind"].as_str().context("kind")?.to_owned();
            let name = value["metadata"]["name"]
                .as_str()
                .context("name")?
                .to_owned();
            docs.insert((kind, name), value);
        }
    }
    Ok(docs)
}

#[tokio::test]
async fn examples_apply_with_kubectl_and_read_back_as_written() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "examples").await?;

    let examples = repo_root().join("deploy/examples");
    let applied = plane.kubectl_ok(&["apply", "-n", &ns, "-f", &examples.display().to_string()])?;
    assert_eq!(
        applied.lines().filter(|l| l.ends_with(" created")).count(),
        12,
        "{applied}"
    );

    let docs = example_documents()?;
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await?;
    assert_eq!(vaults.items.len(), 6);
    assert_eq!(plans.items.len(), 6);

    // What the server stored, with the schema's defaults, equals the file read with serde's
    // defaults: the two sets of defaults agree.
    for vault in vaults {
        let name = vault.metadata.name.clone().unwrap_or_default();
        let file: RecoveryVault =
            serde_json::from_value(docs[&("RecoveryVault".into(), name.clone())].clone())?;
        assert_eq!(vault.spec, file.spec, "RecoveryVault {name}");
    }
    for plan in plans {
        let name = plan.metadata.name.clone().unwrap_or_default();
        let file: MigrationPlan =
            serde_json::from_value(docs[&("MigrationPlan".into(), name.clone())].clone())?;
        assert_eq!(plan.spec, file.spec, "MigrationPlan {name}");
    }

    // A second apply changes nothing.
    let again = plane.kubectl_ok(&["apply", "-n", &ns, "-f", &examples.display().to_string()])?;
    assert_eq!(
        again.lines().filter(|l| l.ends_with(" unchanged")).count(),
        12,
        "{again}"
    );
    Ok(())
}

#[tokio::test]
async fn kubectl_get_answers_where_is_it() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "columns").await?;
    let vmm = repo_root().join("deploy/examples/hyperv-vmm.yaml");
    plane.kubectl_ok(&["apply", "-n", &ns, "-f", &vmm.display().to_string()])?;

    let machine: ReplicatedMachine = serde_json::from_value(json!({
        "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
        "metadata": {"name": "vmm-web01"},
        "spec": {"vaultRef": {"name": "vmm-dc1"}, "source": {"name": "WEB01"}, "osType": "Windows"}
    }))?;
    Api::<ReplicatedMachine>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &machine)
        .await?;

    let ready = |status: &str, reason: &str| {
        json!([{
            "type": "Ready", "status": status, "reason": reason, "message": "test",
            "lastTransitionTime": "2026-11-23T01:00:00Z"
        }])
    };
    let status = |body: Value| Patch::Merge(json!({ "status": body }));
    let params = PatchParams::default();
    Api::<RecoveryVault>::namespaced(client.clone(), &ns)
        .patch_status(
            "vmm-dc1",
            &params,
            &status(json!({
                "phase": "WaitingForSource", "sourceKind": "hyperVVmm",
                "conditions": ready("False", "WaitingForRegistration")
            })),
        )
        .await?;
    Api::<MigrationPlan>::namespaced(client.clone(), &ns)
        .patch_status(
            "vmm-shop",
            &params,
            &status(json!({
                "phase": "Replicating", "currentWave": "data", "progressPercent": 20,
                "machines": {"total": 3, "protected": 1, "tested": 0, "completed": 0, "failed": 0},
                "conditions": ready("False", "Replicating")
            })),
        )
        .await?;
    Api::<ReplicatedMachine>::namespaced(client.clone(), &ns)
        .patch_status(
            "vmm-web01",
            &params,
            &status(json!({
                "phase": "InitialReplication", "plan": "vmm-shop",
                "replication": {"progressPercent": 42, "health": "Normal"},
                "conditions": ready("False", "Replicating")
            })),
        )
        .await?;

    let table = |resource: &str| plane.kubectl_ok(&["get", "-n", &ns, resource]);
    let vaults = table("rvault")?;
    assert_columns(
        &vaults,
        &["NAME", "REGION", "SOURCE", "PHASE", "READY", "AGE"],
        &[
            "vmm-dc1",
            "westeurope",
            "hyperVVmm",
            "WaitingForSource",
            "False",
        ],
    );
    let plans = table("mplan")?;
    assert_columns(
        &plans,
        &[
            "NAME",
            "PHASE",
            "WAVE",
            "MACHINES",
            "PROTECTED",
            "COMPLETED",
            "FAILED",
            "PROGRESS",
            "READY",
            "AGE",
        ],
        &[
            "vmm-shop",
            "Replicating",
            "data",
            "3",
            "1",
            "0",
            "0",
            "20",
            "False",
        ],
    );
    let machines = table("rmachine")?;
    assert_columns(
        &machines,
        &[
            "NAME", "SOURCE", "PLAN", "PHASE", "PROGRESS", "HEALTH", "READY", "AGE",
        ],
        &[
            "vmm-web01",
            "WEB01",
            "vmm-shop",
            "InitialReplication",
            "42",
            "Normal",
            "False",
        ],
    );

    // The category lists all three kinds at once.
    let everything = table("cutover")?;
    for name in [
        "recoveryvault.cutover.dev/vmm-dc1",
        "migrationplan.cutover.dev/vmm-shop",
        "replicatedmachine.cutover.dev/vmm-web01",
    ] {
        assert!(
            everything.contains(name),
            "kubectl get cutover lists {name}:\n{everything}"
        );
    }
    Ok(())
}

/// Checks a `kubectl get` table: the header's columns, and the first row's leading cells.
fn assert_columns(table: &str, header: &[&str], row: &[&str]) {
    let mut lines = table.lines();
    let columns: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(columns, header, "{table}");
    let cells: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(&cells[..row.len()], row, "{table}");
}

fn api_for(client: &kube::Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("cutover.dev", "v1alpha1", kind);
    let plural = format!("{}s", kind.to_lowercase());
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(&gvk, &plural),
    )
}

#[tokio::test]
async fn the_api_server_rejects_invalid_manifests_naming_the_field() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "invalid").await?;
    let docs = example_documents()?;
    let vault = docs[&("RecoveryVault".into(), "vmm-dc1".into())].clone();
    let plan = docs[&("MigrationPlan".into(), "vmm-shop".into())].clone();
    let machine = json!({
        "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
        "metadata": {"name": "m"},
        "spec": {"vaultRef": {"name": "vmm-dc1"}, "source": {"name": "WEB01"}, "osType": "Windows"}
    });

    let cases: &[(&str, &Value, Value, &str)] = &[
        (
            "subscription that is not a GUID",
            &vault,
            json!({"spec": {"subscriptionId": "my-subscription"}}),
            "spec.subscriptionId",
        ),
        (
            "region as the portal writes it",
            &vault,
            json!({"spec": {"region": "West Europe"}}),
            "spec.region",
        ),
        (
            "vault both created and adopted",
            &vault,
            json!({"spec": {"vault": {"existingId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"}}}),
            "\"spec.vault\" must validate one and only one schema",
        ),
        (
            "no source kind",
            &vault,
            json!({"spec": {"source": {"hyperVVmm": null}}}),
            "\"spec.source\" must validate one and only one schema",
        ),
        (
            "unknown source kind",
            &vault,
            json!({"spec": {"source": {"hyperVVmm": null, "nutanix": {"appliance": "a"}}}}),
            "\"spec.source\" must validate one and only one schema",
        ),
        (
            "storage SKU Azure does not have",
            &vault,
            json!({"spec": {"storage": {"replication": {"create": {"sku": "Standard_XYZ"}}}}}),
            "spec.storage.replication.create.sku",
        ),
        (
            "storage account name with capitals",
            &vault,
            json!({"spec": {"storage": {"replication": {"create": {"name": "DC1Replication"}}}}}),
            "spec.storage.replication.create.name",
        ),
        (
            "replication interval ASR does not offer",
            &vault,
            json!({"spec": {"replicationPolicy": {"replicationIntervalSeconds": 60}}}),
            "spec.replicationPolicy.replicationIntervalSeconds",
        ),
        (
            "retention of 1000 hours",
            &vault,
            json!({"spec": {"replicationPolicy": {"recoveryPointRetentionHours": 1000}}}),
            "spec.replicationPolicy.recoveryPointRetentionHours",
        ),
        (
            "retention as a string",
            &vault,
            json!({"spec": {"replicationPolicy": {"recoveryPointRetentionHours": "24h"}}}),
            "spec.replicationPolicy.recoveryPointRetentionHours",
        ),
        (
            "deletion policy that does not exist",
            &vault,
            json!({"spec": {"deletionPolicy": "Destroy"}}),
            "spec.deletionPolicy",
        ),
        (
            "VNet without subnets",
            &vault,
            json!({"spec": {"network": {"target": {"create": {"subnets": []}}}}}),
            "spec.network.target.create.subnets",
        ),
        (
            "address space that is not CIDR",
            &vault,
            json!({"spec": {"network": {"target": {"create": {"addressSpace": ["10.10.0.0"]}}}}}),
            "spec.network.target.create.addressSpace",
        ),
        (
            "VMM without clouds",
            &vault,
            json!({"spec": {"source": {"hyperVVmm": {"clouds": []}}}}),
            "spec.source.hyperVVmm.clouds",
        ),
        (
            "machine without a vault",
            &machine,
            json!({"spec": {"vaultRef": null}}),
            "spec.vaultRef",
        ),
        (
            "machine OS ASR does not know",
            &machine,
            json!({"spec": {"osType": "Solaris"}}),
            "spec.osType",
        ),
        (
            "AWS instance ID of the wrong shape",
            &machine,
            json!({"spec": {"source": {"awsInstanceId": "i-123"}}}),
            "spec.source.awsInstanceId",
        ),
        (
            "Hyper-V VM ID that is not a GUID",
            &machine,
            json!({"spec": {"source": {"hyperVVmId": "vm-1"}}}),
            "spec.source.hyperVVmId",
        ),
        (
            "static IP that is not an address",
            &machine,
            json!({"spec": {"target": {"staticIp": "ten.0.0.1"}}}),
            "spec.target.staticIp",
        ),
        (
            "availability zone 4",
            &machine,
            json!({"spec": {"target": {"availabilityZone": "4"}}}),
            "spec.target.availabilityZone",
        ),
        (
            "VM size that is not a size",
            &machine,
            json!({"spec": {"target": {"vmSize": "huge"}}}),
            "spec.target.vmSize",
        ),
        (
            "plan cutting over zero machines at a time",
            &plan,
            json!({"spec": {"cutover": {"maxConcurrent": 0}}}),
            "spec.cutover.maxConcurrent",
        ),
        (
            "plan machine name Kubernetes refuses",
            &plan,
            json!({"spec": {"machines": {"templates": [{"name": "Web_01", "source": {"name": "WEB01"}, "osType": "Windows"}]}, "waves": null}}),
            "spec.machines.templates.name",
        ),
        (
            "window start that is not a time",
            &plan,
            json!({"spec": {"cutover": {"window": {"start": "tonight", "end": "2026-12-06T04:00:00Z"}}}}),
            "spec.cutover.window.start",
        ),
        (
            "wave without machines",
            &plan,
            json!({"spec": {"waves": [{"name": "empty", "machines": []}]}}),
            "spec.waves.machines",
        ),
        (
            "approval as a string",
            &plan,
            json!({"spec": {"cutover": {"approved": "yes"}}}),
            "spec.cutover.approved",
        ),
    ];

    let mut failures = Vec::new();
    for (case, base, patch, field) in cases {
        let mut doc = (*base).clone();
        json_patch::merge(&mut doc, patch);
        doc["metadata"] = json!({"name": "invalid"});
        let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
        let object: DynamicObject = serde_json::from_value(doc)?;
        match api_for(&client, &ns, &kind)
            .create(&PostParams::default(), &object)
            .await
        {
            Err(kube::Error::Api(status))
                if status.code == 422 && status.message.contains(field) => {}
            Err(other) => failures.push(format!(
                "{case}: expected a 422 naming {field}, got {other}"
            )),
            Ok(_) => failures.push(format!("{case}: the API server accepted it")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // ARM's IDs are case-insensitive, and Site Recovery writes `/Subscriptions/...` (every
    // 2025-08-01 example): an ID in another casing is admitted.
    let mut adopted = vault.clone();
    json_patch::merge(
        &mut adopted,
        &json!({"metadata": {"name": "adopted-casing"}, "spec": {"vault": {"create": null, "existingId": "/Subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/Microsoft.RecoveryServices/vaults/v"}}}),
    );
    let object: DynamicObject = serde_json::from_value(adopted)?;
    api_for(&client, &ns, "RecoveryVault")
        .create(&PostParams::default(), &object)
        .await?;
    Ok(())
}

#[tokio::test]
async fn kubectl_apply_of_an_invalid_manifest_fails_naming_the_field() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "kubectl-invalid").await?;
    let file = plane.dir().join(format!("{ns}-bad-vault.yaml"));
    let text = std::fs::read_to_string(repo_root().join("deploy/examples/hyperv-vmm.yaml"))?
        .replace("region: westeurope", "region: West Europe");
    std::fs::write(&file, text)?;
    let output = plane.kubectl_output(&["apply", "-n", &ns, "-f", &file.display().to_string()])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("spec.region"), "{stderr}");
    Ok(())
}

/// The plan applies its machines' spec and the controller applies their status, both
/// server-side. On the API server before 1.22 (the 1.20 these tests run) `managedFields` do
/// not separate a subresource's apply from the object's, so under one field manager the spec
/// apply gave up the status fields: a job then outlived the status write that dropped it
/// (with a `startedAt` from an earlier job), and where only part of it was left the API
/// server refused the next status as half a `currentJob` (422, `currentJob.id: Required`),
/// as CI once saw after a restart.
#[tokio::test]
async fn a_plans_spec_apply_and_the_status_writes_own_their_own_fields() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "managers").await?;
    let api = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let machine = json!({
        "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
        "metadata": {"name": "web01", "labels": {"cutover.dev/plan": "shop"}},
        "spec": {"vaultRef": {"name": "dc1"}, "source": {"name": "WEB01"}, "osType": "Windows"}
    });
    let plan_params = cutover::status::plan_apply_params();
    let status_params = cutover::status::apply_params();
    let spec = Patch::Apply(machine);
    let spec_apply = || api.patch("web01", &plan_params, &spec);
    let status_apply = |status: Value| {
        let api = api.clone();
        let params = status_params.clone();
        async move {
            let patch = Patch::Apply(json!({
                "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
                "status": status,
            }));
            api.patch_status("web01", &params, &patch).await
        }
    };
    let job = |id: &str, started: Option<&str>| {
        let mut job = json!({"id": id, "name": "TestFailover", "state": "InProgress"});
        if let Some(at) = started {
            job["startedAt"] = json!(at);
        }
        job
    };
    spec_apply().await?;
    status_apply(json!({"phase": "TestFailover",
        "currentJob": job("j1", Some("2026-12-02T10:00:00Z"))}))
    .await?;
    spec_apply().await?;
    status_apply(json!({"phase": "TestFailover", "currentJob": job("j2", None)})).await?;
    spec_apply().await?;
    let done = status_apply(json!({"phase": "ReadyForCutover"}))
        .await
        .context("a status without a job is accepted")?;
    let status = serde_json::to_value(done.status)?;
    assert!(
        status.get("currentJob").is_none(),
        "the job is gone with nothing of it left: {status}"
    );
    assert_eq!(status["phase"], "ReadyForCutover");
    Ok(())
}
